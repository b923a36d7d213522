"""MLS relay: key packages, Welcome, Commit, group setup (spec/messages/mls.md).
Key packages are built and signed by the harness' own crypto (crypto/mls.py)."""
from __future__ import annotations

import asyncio
import os

from ..core import case
from ..crypto import mls as _mls
from ..wsclient import from_u8, u8
from ._util import create_community, expect_silence, key_package, restart, world


async def fresh(ctx, name):
    """A connection as a DID never used before (key packages accumulate on a long-running server)."""
    return await ctx.connect(name, identity=ctx.identity(f"{name}-{os.urandom(4).hex()}"))


async def fresh_member(ctx, w, name):
    """A DID never used before joins the world's community (its key packages start empty)."""
    from ._util import join
    c = await fresh(ctx, name)
    await join(ctx, c, w.cid)
    await asyncio.sleep(0.1)
    for x in w.conns.values():
        x.drain()
    w.conns[name] = c
    return c


def kp_with_init(ident, init_key: bytes) -> dict:
    """A valid key package of `ident` whose initKey (= encryptionKey) is `init_key`."""
    kp = _mls.create_key_package(ident.did, ident.seed32, ident.public_key, init_key)
    return {"protocolVersion": 1, "cipherSuite": 1, "initKey": u8(kp["initKey"]),
            "leafNode": {"encryptionKey": u8(kp["leafNode"]["encryptionKey"]),
                         "signatureKey": u8(kp["leafNode"]["signatureKey"]), "did": ident.did},
            "signature": u8(kp["signature"])}


def same_kp(a, b) -> bool:
    try:
        return (a["protocolVersion"] == b["protocolVersion"] and a["cipherSuite"] == b["cipherSuite"]
                and from_u8(a["initKey"]) == from_u8(b["initKey"])
                and from_u8(a["signature"]) == from_u8(b["signature"])
                and a["leafNode"]["did"] == b["leafNode"]["did"]
                and from_u8(a["leafNode"]["encryptionKey"]) == from_u8(b["leafNode"]["encryptionKey"])
                and from_u8(a["leafNode"]["signatureKey"]) == from_u8(b["leafNode"]["signatureKey"]))
    except (KeyError, TypeError, ValueError):
        return False


async def fetch(ctx, conn, dids) -> dict:
    await conn.send("mls.keypackage.fetch", {"dids": list(dids)})
    f = await conn.expect_type("mls.keypackage.response", what="mls.keypackage.response")
    return f["payload"].get("keyPackages")


async def fetch_settled(ctx, conn, dids, want_did, pred, tries=5) -> dict:
    """fetch until pred(keyPackages[want_did]) holds (an upload on another connection is not ordered
    with this connection's frames); returns the last keyPackages."""
    got = {}
    for _ in range(tries):
        got = await fetch(ctx, conn, dids) or {}
        if pred(got.get(want_did)):
            return got
        await asyncio.sleep(0.3)
    return got


async def upload(ctx, conn, kp):
    await conn.send("mls.keypackage.upload", {"keyPackage": kp})


def err_text(f):
    return (f.get("payload") or {}).get("message")


def gid(w):
    return f"{w.cid}:{w.chid}"


async def group_setup(ctx, conn, w):
    env = await conn.send("mls.group.setup", {"communityId": w.cid, "channelId": w.chid, "groupId": gid(w)})
    return env


@case("MLS-001", area="mls", reqs=["R-MLS-1"],
      types=["mls.keypackage.upload/c2s", "mls.keypackage.fetch/c2s", "mls.keypackage.response/s2c"],
      title="An own, signed key package is accepted silently and fetched back unchanged",
      sends="mls.keypackage.upload {keyPackage} (built by the harness), then mls.keypackage.fetch {dids: [own]} "
            "from another DID",
      expects="no reply to the upload; keyPackages[did] = [the package], every field equal")
async def mls_upload(ctx):
    a = await fresh(ctx, "alice")
    b = await ctx.connect("bob")
    kp = key_package(a.identity)
    await upload(ctx, a, kp)
    await a.expect_none(lambda f: True, what="a reply to mls.keypackage.upload")
    got = await fetch_settled(ctx, b, [a.did], a.did, lambda x: bool(x))
    lst = (got or {}).get(a.did)
    ctx.check(isinstance(lst, list) and len(lst) == 1 and same_kp(lst[0], kp), f"fetched {lst}")


@case("MLS-002", area="mls", reqs=["R-MLS-2", "R-AUTHZ-5"],
      types=["mls.keypackage.upload/c2s", "error/s2c"],
      title="Key packages naming another DID, with another signing key, or with a bad signature are refused",
      sends="a package naming bob's DID (signed by alice); one for alice signed with bob's key; one with a "
            "flipped signature bit",
      expects="FORBIDDEN 'Key package DID does not match the authenticated identity'; FORBIDDEN 'Key package "
              "signing key does not match the DID'; INVALID_PAYLOAD 'Invalid key package signature'; a fetch "
              "of alice and bob returns no package (upstream stores them: G16)")
async def mls_upload_forged(ctx):
    a = await fresh(ctx, "alice")
    alice, bob = a.identity, ctx.identity(f"bob-{os.urandom(4).hex()}")
    foreign = key_package(alice, did=bob.did)
    bob_signed = _mls.create_key_package(alice.did, bob.seed32, bob.public_key, alice.x25519_public)
    bob_signed = {"protocolVersion": 1, "cipherSuite": 1, "initKey": u8(bob_signed["initKey"]),
                  "leafNode": {"encryptionKey": u8(bob_signed["leafNode"]["encryptionKey"]),
                               "signatureKey": u8(bob_signed["leafNode"]["signatureKey"]), "did": alice.did},
                  "signature": u8(bob_signed["signature"])}

    def flip(kp):
        kp["signature"] = bytes([kp["signature"][0] ^ 1]) + kp["signature"][1:]
    bad_sig = key_package(alice, mutate=flip)
    for kp, code, text in ((foreign, "FORBIDDEN", "Key package DID does not match the authenticated identity"),
                           (bob_signed, "FORBIDDEN", "Key package signing key does not match the DID"),
                           (bad_sig, "INVALID_PAYLOAD", "Invalid key package signature")):
        await upload(ctx, a, kp)
        e = await a.expect_error(code)
        ctx.check(err_text(e) == text, f"message {err_text(e)!r}, expected {text!r}")
    got = await fetch(ctx, a, [alice.did, bob.did])
    ctx.check((got or {}).get(alice.did) == [] and (got or {}).get(bob.did) == [], f"stored: {got}")


@case("MLS-003", area="mls", reqs=["R-MLS-3"], types=["mls.keypackage.upload/c2s", "error/s2c"],
      title="Structurally invalid key packages are refused with INVALID_PAYLOAD",
      sends="packages with a 31-byte initKey; an encryptionKey different from initKey; no signature; "
            "keyPackage = 'x'",
      expects="four error INVALID_PAYLOAD 'Missing or invalid field: keyPackage'; nothing stored")
async def mls_upload_malformed(ctx):
    a = await fresh(ctx, "alice")
    alice = a.identity

    def short(kp):
        kp["initKey"] = kp["initKey"][:31]

    def other_enc(kp):
        kp["leafNode"]["encryptionKey"] = os.urandom(32)

    def nosig(kp):
        del kp["signature"]
    for kp in (key_package(alice, mutate=short), key_package(alice, mutate=other_enc),
               key_package(alice, mutate=nosig), "x"):
        await upload(ctx, a, kp)
        e = await a.expect_error("INVALID_PAYLOAD")
        ctx.check(err_text(e) == "Missing or invalid field: keyPackage", f"message {err_text(e)!r}")
    got = await fetch(ctx, a, [alice.did])
    ctx.check((got or {}).get(alice.did) == [], f"stored: {got}")


@case("MLS-004", area="mls", reqs=["R-MLS-4"], types=["mls.keypackage.upload/c2s", "mls.keypackage.fetch/c2s"],
      title="Re-uploads store nothing new; at most 10 packages per DID, oldest dropped",
      sends="the same package twice, then 11 distinct packages in total",
      expects="after the re-upload one package; after 11 distinct ones the 10 newest, oldest first "
              "(upstream keeps everything: G19)")
async def mls_kp_bound(ctx):
    a = await fresh(ctx, "alice")
    alice = a.identity
    kps = [kp_with_init(alice, os.urandom(32)) for _ in range(11)]
    await upload(ctx, a, kps[0])
    await upload(ctx, a, kps[0])
    got = (await fetch(ctx, a, [alice.did]) or {}).get(alice.did) or []
    ctx.check(len(got) == 1, f"{len(got)} packages after uploading the same one twice")
    for kp in kps[1:]:
        await upload(ctx, a, kp)
    got = (await fetch(ctx, a, [alice.did]) or {}).get(alice.did) or []
    ctx.check(len(got) == 10, f"{len(got)} packages stored after 11 distinct uploads")
    ctx.check(all(same_kp(x, y) for x, y in zip(got, kps[1:])), "stored packages are not the 10 newest, oldest first")


@case("MLS-005", area="mls", reqs=["R-MLS-5"],
      types=["mls.keypackage.upload/c2s", "community.join/c2s", "mls.member.joined/s2c"],
      title="The group creator hears about members with key packages (after upload and after join)",
      sends="the owner sets up the channel's group; bob (member) uploads a key package; carol uploads one and "
            "then joins",
      expects="the owner receives mls.member.joined {communityId, channelId, groupId, memberDID} for bob, then "
              "for carol")
async def mls_member_joined(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    bob = await fresh_member(ctx, w, "bob")
    await group_setup(ctx, owner, w)
    await asyncio.sleep(0.2)
    owner.drain()
    await upload(ctx, bob, key_package(bob.identity))
    f = await owner.expect_type("mls.member.joined", lambda p: p.get("memberDID") == w.did("bob"),
                                what="mls.member.joined for bob")
    p = f["payload"]
    ctx.check(p.get("communityId") == w.cid and p.get("channelId") == w.chid and p.get("groupId") == gid(w),
              f"payload {p}")
    carol = await fresh(ctx, "carol")
    await upload(ctx, carol, key_package(carol.identity))
    await carol.send("community.join", {"communityId": w.cid, "membershipVC": {}})
    await owner.expect_type("mls.member.joined", lambda p: p.get("memberDID") == carol.did,
                            what="mls.member.joined for carol after her join")


@case("MLS-006", area="mls", reqs=["R-MLS-7"], types=["mls.keypackage.fetch/c2s", "mls.keypackage.response/s2c"],
      title="mls.keypackage.fetch answers one key per requested DID ([] when none)",
      sends="bob uploads a package; alice fetches {dids: [bob, a DID without packages]}",
      expects="keyPackages {bob: [package], other: []}")
async def mls_fetch(ctx):
    a = await ctx.connect("alice")
    b = await fresh(ctx, "bob")
    kp = key_package(b.identity)
    await upload(ctx, b, kp)
    none = ctx.identity(f"nobody-{os.urandom(4).hex()}").did
    got = await fetch_settled(ctx, a, [b.did, none], b.did, lambda x: bool(x))
    ctx.check(set(got) == {b.did, none}, f"keys {sorted(got)}")
    ctx.check(len(got[b.did]) == 1 and same_kp(got[b.did][0], kp) and got[none] == [], f"keyPackages {got}")


@case("MLS-007", area="mls", reqs=["R-MLS-8"], types=["mls.keypackage.fetch/c2s", "error/s2c"],
      title="dids that is a string, empty or over 100 entries is refused",
      sends="mls.keypackage.fetch {dids: 'not-an-array'}; {dids: []}; {dids: 101 DIDs}",
      expects="three error INVALID_PAYLOAD 'Missing or invalid field: dids'; no mls.keypackage.response "
              "(upstream iterates the string: G23)")
async def mls_fetch_invalid(ctx):
    a = await ctx.connect("alice")
    for d in ("not-an-array", [], [ctx.identity(f"x{i}").did for i in range(101)]):
        await a.send("mls.keypackage.fetch", {"dids": d})
        e = await a.expect_error("INVALID_PAYLOAD")
        ctx.check(err_text(e) == "Missing or invalid field: dids", f"message {err_text(e)!r}")
    await a.expect_none("mls.keypackage.response")


@case("MLS-008", area="mls", reqs=["R-MLS-9"], types=["mls.welcome/c2s", "mls.welcome/s2c"],
      title="mls.welcome reaches every connection of the recipient, unchanged, and nobody else",
      sends="the owner sends mls.welcome {recipientDID: bob, communityId, channelId, groupId, welcome}; bob has "
            "two connections; carol is a member",
      expects="both bob connections get mls.welcome with the request id, timestamp and payload, sender = owner; "
              "nothing at carol or the owner")
async def mls_welcome(ctx):
    w = await world(ctx, names=("bob", "carol"))
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await asyncio.sleep(0.1)
    bob2.drain()
    welcome = {"groupId": gid(w), "epoch": 1, "encryptedGroupState": u8(os.urandom(48))}
    env = await w["owner"].send("mls.welcome", {"recipientDID": w.did("bob"), "communityId": w.cid,
                                                "channelId": w.chid, "groupId": gid(w), "welcome": welcome})
    for c in (w["bob"], bob2):
        f = await c.expect_type("mls.welcome", what=f"mls.welcome at {c.label}")
        ctx.check(f.get("id") == env["id"] and f.get("timestamp") == env["timestamp"], f"envelope {f}")
        ctx.check(f.get("sender") == w.did("owner") and f.get("payload") == env["payload"], f"frame {f}")
    await expect_silence([w["owner"], w["carol"]], ["mls.welcome", "error"])


@case("MLS-009", area="mls", reqs=["R-MLS-10"], types=["mls.welcome/c2s", "error/s2c"],
      title="A Welcome from a non-member, or to a non-member, is refused and delivered to nobody",
      sends="an outsider sends mls.welcome to bob for the community; the owner sends one to the outsider",
      expects="NOT_MEMBER 'Not a member of this community'; NOT_FOUND 'Recipient not found'; no mls.welcome "
              "anywhere (upstream relays anything: G13)")
async def mls_welcome_refused(ctx):
    w = await world(ctx, names=("bob",))
    eve = await ctx.connect("eve")
    wel = {"groupId": gid(w), "epoch": 1, "encryptedGroupState": u8(b"x" * 16)}
    await eve.send("mls.welcome", {"recipientDID": w.did("bob"), "communityId": w.cid, "welcome": wel})
    e = await eve.expect_error("NOT_MEMBER")
    ctx.check(err_text(e) == "Not a member of this community", f"message {err_text(e)!r}")
    await w["owner"].send("mls.welcome", {"recipientDID": eve.did, "communityId": w.cid, "welcome": wel})
    e = await w["owner"].expect_error("NOT_FOUND")
    ctx.check(err_text(e) == "Recipient not found", f"message {err_text(e)!r}")
    await expect_silence([eve, w["bob"], w["owner"]], ["mls.welcome"])


@case("MLS-010", area="mls", reqs=["R-MLS-11"], types=["mls.commit/c2s", "mls.commit/s2c"],
      title="mls.commit reaches every member connection except the sending one, unchanged",
      sends="the owner commits from connection 1 (it has a second); bob is a member; an outsider is connected",
      expects="mls.commit with the request id, timestamp, payload and sender = owner at bob and the owner's "
              "second connection; nothing at the sending connection or the outsider")
async def mls_commit(ctx):
    w = await world(ctx, names=("bob",))
    owner2 = await ctx.connect("owner-2", identity=ctx.identity("owner"))
    eve = await ctx.connect("eve")
    await asyncio.sleep(0.1)
    owner2.drain()
    commit = {"groupId": gid(w), "epoch": 2, "proposals": [], "commitSecret": u8(os.urandom(32)),
              "signature": u8(os.urandom(64))}
    env = await w["owner"].send("mls.commit", {"communityId": w.cid, "channelId": w.chid, "groupId": gid(w),
                                               "commit": commit})
    for c in (w["bob"], owner2):
        f = await c.expect_type("mls.commit", what=f"mls.commit at {c.label}")
        ctx.check(f.get("id") == env["id"] and f.get("timestamp") == env["timestamp"]
                  and f.get("sender") == w.did("owner") and f.get("payload") == env["payload"], f"frame {f}")
    await expect_silence([w["owner"], eve], ["mls.commit"])


@case("MLS-011", area="mls", reqs=["R-MLS-13"],
      types=["mls.group.setup/c2s", "mls.group.setup/s2c", "mls.member.joined/s2c"],
      title="mls.group.setup is relayed to the other members; the sender learns of members with key packages",
      sends="bob uploads a key package (carol does not); the owner sends mls.group.setup for the channel",
      expects="mls.group.setup (id, timestamp, payload, sender = owner) at bob and carol; the owner receives "
              "one mls.member.joined for bob and none for carol")
async def mls_group_setup(ctx):
    w = await world(ctx, names=("bob", "carol"))
    await upload(ctx, w["bob"], key_package(ctx.identity("bob")))
    await asyncio.sleep(0.2)
    env = await group_setup(ctx, w["owner"], w)
    for n in ("bob", "carol"):
        f = await w[n].expect_type("mls.group.setup", what=f"mls.group.setup at {n}")
        ctx.check(f.get("id") == env["id"] and f.get("sender") == w.did("owner")
                  and f.get("payload") == env["payload"], f"frame at {n}: {f}")
    f = await w["owner"].expect_type("mls.member.joined", what="mls.member.joined for bob")
    ctx.check(f["payload"].get("memberDID") == w.did("bob") and f["payload"].get("groupId") == gid(w),
              f"payload {f['payload']}")
    await w["owner"].expect_none("mls.member.joined", what="a second mls.member.joined (carol has no package)")


@case("MLS-012", area="mls", reqs=["R-MLS-14"], types=["mls.group.setup/c2s", "error/s2c"],
      title="Another member cannot take over a group that a member already set up",
      sends="the owner sets up the group; bob sends mls.group.setup for the same group; carol then uploads a "
            "key package",
      expects="bob gets FORBIDDEN 'Group already set up by another member'; nothing relayed; carol's "
              "mls.member.joined goes to the owner only (upstream: last setup wins, G13)")
async def mls_group_takeover(ctx):
    w = await world(ctx, names=("bob",))
    await fresh_member(ctx, w, "carol")
    await group_setup(ctx, w["owner"], w)
    await w["bob"].expect_type("mls.group.setup", what="the owner's mls.group.setup at bob (setup)")
    await asyncio.sleep(0.1)
    for c in w.conns.values():
        c.drain()
    await group_setup(ctx, w["bob"], w)
    e = await w["bob"].expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Group already set up by another member", f"message {err_text(e)!r}")
    await expect_silence([w["owner"], w["carol"]], ["mls.group.setup"])
    await upload(ctx, w["carol"], key_package(w["carol"].identity))
    await w["owner"].expect_type("mls.member.joined", lambda p: p.get("memberDID") == w.did("carol"))
    await w["bob"].expect_none("mls.member.joined", what="a member notice at the would-be usurper")


@case("MLS-013", area="mls", reqs=["R-MLS-16"],
      types=["mls.group.setup/c2s", "mls.commit/c2s", "mls.welcome/c2s", "error/s2c"],
      title="MLS frames cannot address a group of another community",
      sends="mls.group.setup with groupId of another community; with the channel of another community; "
            "mls.commit and mls.welcome whose groupId names the other community",
      expects="INVALID_PAYLOAD 'Missing or invalid field: groupId', NOT_FOUND 'Channel not found', then "
              "INVALID_PAYLOAD twice; nothing relayed")
async def mls_group_cross(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    cid_b, chid_b, _ = await create_community(ctx, owner)
    await owner.send("mls.group.setup", {"communityId": w.cid, "channelId": w.chid, "groupId": f"{cid_b}:{chid_b}"})
    e = await owner.expect_error("INVALID_PAYLOAD")
    ctx.check(err_text(e) == "Missing or invalid field: groupId", f"message {err_text(e)!r}")
    await owner.send("mls.group.setup", {"communityId": w.cid, "channelId": chid_b, "groupId": f"{w.cid}:{chid_b}"})
    e = await owner.expect_error("NOT_FOUND")
    ctx.check(err_text(e) == "Channel not found", f"message {err_text(e)!r}")
    await owner.send("mls.commit", {"communityId": w.cid, "groupId": f"{cid_b}:{chid_b}", "commit": {"epoch": 1}})
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.send("mls.welcome", {"recipientDID": w.did("bob"), "communityId": w.cid,
                                     "groupId": f"{cid_b}:{chid_b}", "welcome": {"epoch": 1}})
    await owner.expect_error("INVALID_PAYLOAD")
    await expect_silence([w["bob"]], ["mls.group.setup", "mls.commit", "mls.welcome"])


@case("MLS-014", area="mls", reqs=["R-MLS-17", "R-MISC-6"], types=["mls.member.joined/c2s"],
      title="A client's mls.member.joined is accepted and ignored",
      sends="mls.member.joined with a plausible payload, with payload null, with payload 5",
      expects="no reply, no error, nothing at the other member, the connection stays open")
async def mls_member_joined_noop(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    for p in ({"communityId": w.cid, "channelId": w.chid, "groupId": gid(w), "memberDID": w.did("bob")}, None, 5):
        await owner.send_frame(owner.envelope("mls.member.joined", p))
    await expect_silence([owner, w["bob"]], ["mls.member.joined", "error"])
    await owner.expect_none(lambda f: True, what="any answer to a no-op type")
    await owner.expect_open(within=0.05)


@case("MLS-015", area="mls", reqs=["R-MLS-18"],
      types=["channel.create/c2s", "mls.group.setup.needed/s2c"],
      title="channel.create tells the creating connection to set up the group when some member has a key package",
      sends="bob uploads a key package; the owner creates a channel; in a second community without packages the "
            "owner creates a channel too",
      expects="the owner receives mls.group.setup.needed {communityId, channelId, groupId: '<cid>:<chid>'} for the "
              "first; bob receives none; nothing for the second community")
async def mls_setup_needed(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    await upload(ctx, w["bob"], key_package(ctx.identity("bob")))
    await asyncio.sleep(0.2)
    await owner.send("channel.create", {"communityId": w.cid, "name": "enc", "type": "text"})
    f = await owner.expect_type("channel.created", what="channel.created")
    new = f["payload"].get("id") or f["payload"].get("channelId")
    f = await owner.expect_type("mls.group.setup.needed", what="mls.group.setup.needed")
    p = f["payload"]
    ctx.check(p.get("communityId") == w.cid and p.get("channelId") == new and p.get("groupId") == f"{w.cid}:{new}",
              f"payload {p}")
    await w["bob"].expect_none("mls.group.setup.needed")
    cid_b, _, _ = await create_community(ctx, owner)
    await owner.send("channel.create", {"communityId": cid_b, "name": "plain", "type": "text"})
    await owner.expect_type("channel.created", lambda p: p.get("communityId") in (cid_b, None))
    await owner.expect_none("mls.group.setup.needed", what="a setup notice where nobody has a key package")


@case("MLS-016", area="mls", reqs=["R-MLS-6"], types=["mls.keypackage.upload/c2s", "mls.member.joined/s2c"],
      title="A connection hears about the same (group, member) pair at most once",
      sends="the owner sets up the group; bob uploads the same key package twice",
      expects="exactly one mls.member.joined for bob at the owner")
async def mls_member_joined_once(ctx):
    w = await world(ctx, names=())
    await fresh_member(ctx, w, "bob")
    await group_setup(ctx, w["owner"], w)
    await asyncio.sleep(0.2)
    w["owner"].drain()
    kp = key_package(w["bob"].identity)
    await upload(ctx, w["bob"], kp)
    await w["owner"].expect_type("mls.member.joined")
    await upload(ctx, w["bob"], kp)
    await w["owner"].expect_none("mls.member.joined", what="a repeated mls.member.joined")


@case("MLS-017", area="mls", reqs=["R-MLS-15"], needs=["restart"], timeout=40,
      types=["mls.group.setup/c2s", "mls.member.joined/s2c"],
      title="Group records survive a restart",
      sends="the owner sets up the group; restart; the owner reconnects; bob uploads a key package",
      expects="the owner receives mls.member.joined for bob")
async def mls_persist(ctx):
    w = await world(ctx, names=("bob",))
    await group_setup(ctx, w["owner"], w)
    await asyncio.sleep(0.2)
    await restart(ctx)
    owner = await ctx.connect("owner-again", identity=ctx.identity("owner"))
    bob = await ctx.connect("bob-again", identity=ctx.identity("bob"))
    await asyncio.sleep(0.2)
    owner.drain()
    await upload(ctx, bob, key_package(ctx.identity("bob")))
    await owner.expect_type("mls.member.joined", lambda p: p.get("memberDID") == bob.did)
