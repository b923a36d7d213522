"""base58btc (Bitcoin alphabet), in the standard form and in upstream Harmony's form.

The two differ only for inputs that are all zero bytes (crypto-facts 0.4):

  ==========  ==============  ==============
  input       standard         upstream
  ==========  ==============  ==============
  enc([])     ``""``           ``"1"``
  enc([00])   ``"1"``          ``"11"``
  enc(00*n)   ``"1"*n``        ``"1"*(n+1)``
  dec("")     ``b""``          ``00``
  dec("1")    ``00``           ``0000``
  dec("1"*n)  ``00*n``         ``00*(n+1)``
  ==========  ==============  ==============

Everything else, including leading zero bytes followed by non-zero bytes, is identical.
"""

from __future__ import annotations

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

STANDARD = "standard"
UPSTREAM = "upstream"


class Base58Error(ValueError):
    pass


def encode(data: bytes, mode: str = STANDARD) -> str:
    data = bytes(data)
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, r = divmod(n, 58)
        digits.append(ALPHABET[r])
    body = "".join(reversed(digits))
    if mode == UPSTREAM and not body:
        # upstream's digit array starts as [0] and is always emitted
        body = "1"
    elif mode not in (STANDARD, UPSTREAM):
        raise ValueError("mode must be standard or upstream")
    return "1" * zeros + body


def decode(text: str, mode: str = STANDARD) -> bytes:
    if mode not in (STANDARD, UPSTREAM):
        raise ValueError("mode must be standard or upstream")
    n = 0
    for c in text:
        v = _INDEX.get(c)
        if v is None:
            raise Base58Error(f"Invalid base58 character: {c!r}")
        n = n * 58 + v
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    if mode == UPSTREAM and not body:
        # upstream's byte array starts as [0] and is always kept
        body = b"\0"
    return b"\0" * zeros + body
