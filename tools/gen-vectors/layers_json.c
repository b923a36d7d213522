/* tools/gen-vectors/layers_json.c - json-stringify vectors: JSON.stringify(JSON.parse(input)). */
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/json.h"
#include "layers.h"
#include "vfile.h"

static int js_compute(json_t *c) {
  size_t n;
  const char *in = vget_str(c, "input", &n);
  hm_json *v = NULL;
  hm_json_parse_info info;
  memset(&info, 0, sizeof info);
  info.max_depth = 100000; /* JS itself has no nesting limit worth the name */
  int rc = hm_json_parse(&v, in, n, 0, &info);
  if (rc) {
    json_object_del(c, "output");
    vset_result(c, "invalid", rc);
    return 0;
  }
  char *out;
  size_t outn;
  if (hm_json_stringify(&out, &outn, v)) vdie("stringify");
  hm_json_free(v);
  vset_strn(c, "output", out, outn);
  hm_free(out);
  /* what our strict parse (duplicate keys refused, default depth) says */
  rc = hm_json_parse(&v, in, n, HM_JSON_REJECT_DUPKEYS, NULL);
  hm_json_free(v);
  if (rc) vset_result(c, "acceptable", rc);
  else vset_result(c, "valid", 0);
  return 0;
}

static void js(vfile *f, const char *label, const char *input, const char *comment, const char *flags) {
  json_t *c = vcase(f, NULL, label, comment, flags);
  vset_str(c, "input", input);
  vrun(f, c);
}

static void js_generate(vfile *f) {
  js(f, "key-order", "{\"b\":1,\"a\":2,\"c\":{\"z\":1,\"y\":2}}", "insertion order is kept, never sorted",
     "KeyOrder");
  js(f, "integer-keys",
     "{\"b\":1,\"10\":2,\"2\":3,\"a\":4,\"01\":5,\"-1\":6,\"4294967294\":7,\"4294967295\":8,\"1.5\":9,\"0\":10}",
     "integer-like keys (canonical, <= 2^32-2) come first in ascending order; \"01\", \"-1\", "
     "\"4294967295\", \"1.5\" are ordinary keys",
     "KeyOrder IntegerKeys");
  js(f, "whitespace", " {\n  \"a\" : [ 1 , 2 ] ,\t\"b\" : { }\r\n} ", "insignificant whitespace is dropped",
     "Whitespace");
  js(f, "vc-like",
     "{\"@context\":[\"https://www.w3.org/2018/credentials/v1\"],\"id\":\"urn:uuid:00\",\"type\":"
     "[\"VerifiableCredential\",\"IdentityAssertion\"],\"credentialSubject\":{\"id\":\"did:key:z6Mk\","
     "\"type\":\"IdentityAssertion\"},\"proofPurpose\":\"assertionMethod\"}",
     "a signing-input-shaped object round-trips byte for byte", "KeyOrder");
  js(f, "numbers-exponent", "[1e21,1e20,123456789012345680000,1.5e-7,0.000001,1e-7,-5.5e-10,2e0,1E2]",
     "JS Number#toString: exponent form from 1e21 up and below 1e-6", "Numbers");
  js(f, "numbers-shortest",
     "[0.1,0.30000000000000004,100,1.0,1.50,-0,-0.0,5e-324,1.7976931348623157e308,9007199254740993]",
     "shortest round-trip digits, no trailing .0, -0 is 0, 2^53+1 rounds", "Numbers");
  js(f, "numbers-overflow", "[1e400,-1e400,1e-400]",
     "out of double range: +-Infinity stringify as null, underflow is 0", "Numbers");
  js(f, "numbers-big-int", "[12345678901234567890,-12345678901234567890,4294967296]",
     "integers beyond 2^53 keep only double precision", "Numbers");
  js(f, "string-escapes", "[\"\\\"\\\\\\b\\f\\n\\r\\t\",\"\\/\",\"a/b\"]",
     "short escapes are kept; \\/ becomes a raw /", "Strings");
  js(f, "string-controls", "[\"\\u0000\\u0001\\u001f\",\"\\u007f\",\"\\u000b\"]",
     "other C0 controls as \\u00xx lowercase; DEL raw", "Strings");
  js(f, "string-unicode", "[\"\\u00e9\",\"\xc3\xa9\",\"\\u2028\\u2029\",\"\\ud83d\\ude00\",\"\xe2\x82\xac\"]",
     "non-ASCII is emitted raw UTF-8, including U+2028/2029 and astral pairs", "Strings");
  js(f, "string-lone-surrogates", "[\"\\ud800\",\"\\udfff\",\"a\\ud83dz\",\"\\ude00\\ud83d\",\"\\uDBFF\"]",
     "lone surrogates round-trip and print as lowercase \\udxxx", "Strings LoneSurrogate");
  js(f, "keys-escaped", "{\"\\u0061\":1,\"\":2,\"\\ud800\":3,\"a\\nb\":4}",
     "keys follow the string rules; an escaped key equals its raw form", "Strings");
  js(f, "proto-key", "{\"__proto__\":1,\"constructor\":2,\"toString\":3}",
     "JSON.parse makes own properties even for __proto__", "KeyOrder");
  js(f, "empty-containers", "{\"a\":[],\"b\":{},\"c\":[{}],\"d\":[[]]}", "empty arrays and objects", "");
  js(f, "scalars-top-string", "\"top\"", "a top-level string", "TopLevel");
  js(f, "scalars-top-number", "-12.50", "a top-level number", "TopLevel");
  js(f, "scalars-top-literals", "[true,false,null]", "literals", "TopLevel");
  js(f, "dup-keys", "{\"a\":1,\"b\":2,\"a\":3}",
     "JSON.parse: first position, last value. Our strict parser refuses duplicates.", "DuplicateKey");
  js(f, "dup-keys-nested", "{\"p\":{\"x\":1,\"x\":{\"y\":2}},\"q\":0}", "duplicate inside a nested object",
     "DuplicateKey");
  {
    char deep[2 * 200 + 1];
    for (int i = 0; i < 200; i++) {
      deep[i] = '[';
      deep[200 + i] = ']';
    }
    deep[400] = 0;
    js(f, "depth-200", deep, "200 nested arrays: JS accepts; our parser stops at depth 128", "DepthLimit");
  }
  static const char *const bad[][3] = {
    {"bad-trailing-comma", "[1,2,]", "trailing comma"},
    {"bad-single-quote", "{'a':1}", "single quotes"},
    {"bad-leading-zero", "[01]", "leading zero"},
    {"bad-nan", "[NaN]", "NaN is not JSON"},
    {"bad-infinity", "[Infinity]", "Infinity is not JSON"},
    {"bad-comment", "[1/*c*/]", "comments"},
    {"bad-unterminated", "{\"a\":\"x", "unterminated string"},
    {"bad-raw-control", "[\"a\tb\"]", "raw TAB inside a string"},
    {"bad-empty", "", "empty text"},
    {"bad-two-values", "[1] [2]", "two top-level values"},
    {"bad-plus", "[+1]", "leading plus"},
    {"bad-dot", "[.5]", "no integer part"},
    {"bad-dot-end", "[1.]", "no fraction digits"},
    {"bad-hex", "[0x10]", "hex literal"},
    {"bad-escape", "[\"\\x41\"]", "unknown escape"},
    {"bad-short-unicode", "[\"\\u12\"]", "short \\u escape"},
    {"bad-missing-colon", "{\"a\" 1}", "missing colon"},
    {"bad-unquoted-key", "{a:1}", "unquoted key"},
    {"bad-bom", "\xef\xbb\xbf{}", "byte-order mark (JSON.parse of a string starting with U+FEFF fails)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) js(f, bad[i][0], bad[i][1], bad[i][2], "Syntax");
}

static const char *const JS_NOTES[] = {
  "KeyOrder", "object keys keep insertion order (signatures depend on it)",
  "IntegerKeys", "JS puts integer-like keys (\"0\"..\"4294967294\", canonical) first, ascending",
  "Whitespace", "no whitespace in the output",
  "Numbers", "Number.prototype.toString formatting",
  "Strings", "JSON.stringify string escaping",
  "LoneSurrogate", "unpaired UTF-16 surrogates survive and print as \\udxxx",
  "TopLevel", "any JSON value may be the top level",
  "DuplicateKey", "acceptable: JS merges duplicates; the strict parser refuses (JSON_DUPLICATE_KEY)",
  "DepthLimit", "acceptable: JS accepts; our parser limits nesting to 128 (JSON_TOO_DEEP)",
  "Syntax", "not JSON: JSON.parse throws (JSON_SYNTAX)",
  NULL};
static const vkind JS_KINDS[] = {{NULL, "input", js_compute}, {0}};
const vlayer LAYER_JSON = {"json-stringify", "JSON.stringify(JSON.parse(text))",
                           "JavaScript JSON serialisation every Harmony signature covers: crypto-facts 0.3",
                           JS_NOTES, JS_KINDS, js_generate};
