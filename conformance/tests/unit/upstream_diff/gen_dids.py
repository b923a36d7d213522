"""DIDs for the upstream differential (see run.py): honest, small-order, mixed-order,
non-canonical keys, overlong varints, wrong codecs and lengths. Writes <workdir>/dids.json."""
import sys, json, os, random
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
from harmony_conformance.crypto import base58, ed25519_zip215 as z, primitives as pr  # noqa: E402
random.seed(9)
dids = []
def mk(prefix_bytes, key): return "did:key:z" + base58.encode(prefix_bytes + key)
tors = set()
def rp():
    while True:
        try: return z.decode_point(os.urandom(32), False)
        except z.PointError: pass
for _ in range(30): tors.add(z.encode_point(z._mul(z.L, rp())))
honest = [pr.ed25519_public(os.urandom(32)) for _ in range(5)]
keys = list(tors) + honest
for y in (0, 1, 2, 18):
    for sb in (0, 1):
        for off in (0, z.P):
            b = bytearray((y + off).to_bytes(32, 'little')); b[31] |= sb << 7; keys.append(bytes(b))
for h in honest[:2]:
    for t in list(tors)[:3]:
        keys.append(z.encode_point(z._add(z.decode_point(h, False), z.decode_point(t, False))))
for k in keys:
    dids.append(mk(b"\xed\x01", k))
    dids.append(mk(b"\xed\x81\x00", k))     # overlong varint
    dids.append(mk(b"\xec\x01", k))
    dids.append("did:key:z1" + base58.encode(b"\xed\x01" + k))  # leading zero byte
dids += [mk(b"\xed\x01", honest[0][:31]), mk(b"\xed\x01", honest[0] + b"\x00"), "did:key:z", "did:key:z1", "did:key:zz",
         "did:key:" , "did:key:z6Mk0", "did:key:did:key:" + mk(b"\xed\x01", honest[0])[8:], mk(b"\xed\x01", honest[0]) + "did:key:",
         "did:key:z" + base58.encode(b"\xed\x01" + honest[1]) + "#frag", mk(b"\xed", b""), mk(b"\xed\x01", b"")]
json.dump(dids, open(os.path.join(sys.argv[1], 'dids.json'), 'w')); print(len(dids))
