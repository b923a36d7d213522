/* tools/gen-vectors/layers.h - the vector layers (one per vectors/<name>.json). */
#ifndef HARMONY_LAYERS_H
#define HARMONY_LAYERS_H
#include "vgen.h"
extern const vlayer LAYER_CODECS, LAYER_ED25519, LAYER_X25519, LAYER_HKDF, LAYER_AEAD, LAYER_JSON,
    LAYER_BIP39, LAYER_DIDKEY, LAYER_DIDDOC, LAYER_TOKEN, LAYER_VC, LAYER_VP, LAYER_ZCAP,
    LAYER_DM, LAYER_HTTPSIG, LAYER_MEDIA, LAYER_MLS;
#endif
