/* tools/gen-vectors/layers.c - the list of layers, in file-generation order. */
#include "layers.h"

const vlayer *const VLAYERS[] = {
  &LAYER_CODECS, &LAYER_JSON, &LAYER_ED25519, &LAYER_X25519, &LAYER_HKDF, &LAYER_AEAD,
  &LAYER_BIP39, &LAYER_DIDKEY, &LAYER_DIDDOC, &LAYER_VC, &LAYER_VP, &LAYER_ZCAP,
  &LAYER_DM, &LAYER_TOKEN, &LAYER_HTTPSIG, &LAYER_MEDIA, &LAYER_MLS,
};
const size_t VLAYERS_N = sizeof VLAYERS / sizeof VLAYERS[0];
