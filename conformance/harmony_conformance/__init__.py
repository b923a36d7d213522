"""Harmony conformance suite: an independent Python implementation of the protocol.

The suite never imports or links the C reference implementation. Everything it sends
(identities, presentations, capabilities, encrypted payloads) is built by the modules in
this package, so it can judge the C server and any other server on equal terms.

Subpackages:
  crypto  byte-exact JSON, codecs, keys, did:key, proofs (VC/VP/ZCAP), DM, simplified MLS,
          session tokens, HTTP signatures and media keys.
"""
