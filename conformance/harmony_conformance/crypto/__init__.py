"""Harmony's cryptography, implemented independently of the C reference (see each module).

Modules: jsjson (byte-exact JSON), base58, codec (base64 and the Uint8Array envelope), primitives,
ed25519_zip215 (Harmony's verifier and the strict one), keys (BIP-39, identities), didkey,
proofs (VC/VP/ZCAP), dm, mls (simplified MLS), tokens (session tokens), httpsig
(Harmony-Ed25519 headers), mediakeys (media, voice, export, sync, user-data keys).
"""
