/* tools/gen-vectors/vfile.h - the vector file being generated (generator side only). */
#ifndef HARMONY_VFILE_H
#define HARMONY_VFILE_H
#include "vgen.h"
struct vfile {
  const vlayer *layer;
  json_t *tests; /* the "tests" array */
};
#endif
