"""JavaScript-compatible JSON: ``JSON.parse`` and ``JSON.stringify`` semantics, byte for byte.

Every Harmony signature covers ``UTF-8(JSON.stringify(obj))`` (crypto-facts 0.3), so a verifier
must reproduce JavaScript's output exactly, including its property order. This module models a
JavaScript value with plain Python values:

  ==================  =====================================================================
  JavaScript           Python
  ==================  =====================================================================
  object               ``dict`` with ``str`` keys (insertion order = JS creation order)
  array                ``list`` (or ``tuple`` on input)
  string               ``str`` (code points; surrogate code points stand for UTF-16 units)
  number               ``int`` or ``float`` (ints beyond 2**53 are treated as doubles)
  true/false/null      ``True``/``False``/``None``
  undefined            :data:`UNDEFINED`
  Uint8Array           ``bytes``/``bytearray`` (stringified as ``{"0":b0,...}`` by default)
  ==================  =====================================================================

Property order follows ECMAScript OrdinaryOwnPropertyKeys: array-index keys (canonical decimal
strings of 0 .. 2**32-2) first in ascending numeric order, then the other keys in insertion
order. :func:`stringify` applies that order to any ``dict``; :func:`parse` also returns dicts
already in that order, with JSON.parse's duplicate-key rule (the first position is kept, the
last value wins).
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any, Callable, Iterable

__all__ = [
    "UNDEFINED",
    "JSONError",
    "parse",
    "stringify",
    "stringify_bytes",
    "number_to_string",
    "quote",
    "is_array_index",
    "js_ordered",
    "js_keys",
    "spread",
    "text_encode",
]

MAX_SAFE = 2 ** 53
_ARRAY_INDEX_MAX = 2 ** 32 - 2


class _Undefined:
    """The JavaScript ``undefined`` value (a singleton)."""

    _inst = None

    def __new__(cls):
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


class JSONError(ValueError):
    """Raised where JavaScript's JSON.parse would throw a SyntaxError."""


# --------------------------------------------------------------------------------------------
# property order


def is_array_index(key: str) -> bool:
    """True if ``key`` is an ECMAScript array index: the canonical decimal form of 0..2**32-2."""
    if not key or len(key) > 10 or not key.isascii() or not key.isdigit():
        return False
    if len(key) > 1 and key[0] == "0":
        return False
    return int(key) <= _ARRAY_INDEX_MAX


def js_keys(obj: dict) -> list:
    """The keys of ``obj`` in JavaScript own-property order."""
    keys = [_key_str(k) for k in obj.keys()]
    idx = sorted((k for k in keys if is_array_index(k)), key=int)
    if not idx:
        return keys
    return idx + [k for k in keys if not is_array_index(k)]


def js_ordered(obj: dict) -> dict:
    """A copy of ``obj`` whose iteration order is the JavaScript property order."""
    return {k: obj[k] if k in obj else obj[int(k)] for k in js_keys(obj)}


def _key_str(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, int) and not isinstance(k, bool):
        return str(k)
    raise TypeError(f"object key must be str, not {type(k).__name__}")


# --------------------------------------------------------------------------------------------
# parse

_PY_ONLY_CONSTANTS = ("NaN", "Infinity", "-Infinity")


def _reject_constant(name: str):
    raise JSONError(f"JSON.parse: unexpected token {name}")


def _parse_int(text: str):
    # JSON.parse makes every number a double. Small integers are exact either way; larger
    # ones become the nearest double (Python's float() of a decimal string rounds correctly,
    # like ECMAScript's StringToNumber). "-0" is the double -0.
    if text == "-0":
        return -0.0
    n = int(text)
    if -MAX_SAFE <= n <= MAX_SAFE:
        return n
    return float(text)


class DuplicateKeyError(JSONError):
    """Raised by ``parse(..., reject_duplicates=True)`` (JavaScript itself accepts them)."""


def _object_hook(pairs: list) -> dict:
    d: dict = {}
    for k, v in pairs:
        d[k] = v  # a repeated key keeps its first position and takes the last value
    if any(is_array_index(k) for k in d):
        d = js_ordered(d)
    return d


def _strict_object_hook(pairs: list) -> dict:
    if len({k for k, _ in pairs}) != len(pairs):
        raise DuplicateKeyError("duplicate key")
    return _object_hook(pairs)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_hook,
    parse_int=_parse_int,
    parse_constant=_reject_constant,
    strict=True,
)
_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_strict_object_hook,
    parse_int=_parse_int,
    parse_constant=_reject_constant,
    strict=True,
)


def has_duplicate_keys(text) -> bool:
    """True if ``text`` (valid JSON) repeats a key in any object."""
    try:
        parse(text, reject_duplicates=True)
        return False
    except DuplicateKeyError:
        return True


def parse(text, reviver: Callable[[str, Any, Any], Any] | None = None, reject_duplicates: bool = False) -> Any:
    """``JSON.parse(text[, reviver])``.

    ``text`` may be ``str`` or UTF-8 ``bytes``. Raises :class:`JSONError` where JavaScript
    throws. A ``reviver`` is called as ``reviver(holder, key, value)`` bottom-up, like
    JavaScript's; returning :data:`UNDEFINED` deletes the property. ``reject_duplicates``
    raises :class:`DuplicateKeyError` on a repeated key (a hardened-profile rule, not JS).
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JSONError(f"invalid UTF-8: {e}") from None
    if not isinstance(text, str):
        raise TypeError("parse() needs str or bytes")
    try:
        value = (_STRICT_DECODER if reject_duplicates else _DECODER).decode(text)
    except JSONError:
        raise
    except json.JSONDecodeError as e:
        raise JSONError(str(e)) from None
    except RecursionError:
        raise JSONError("nesting too deep") from None
    if reviver is not None:
        holder = {"": value}
        value = _revive(reviver, holder, "")
    return value


def _revive(reviver, holder, key):
    val = holder[key]
    if isinstance(val, list):
        for i in range(len(val)):
            nv = _revive(reviver, val, i)
            val[i] = None if nv is UNDEFINED else nv  # arrays keep the slot (a hole reads null)
    elif isinstance(val, dict):
        for k in list(val.keys()):
            nv = _revive(reviver, val, k)
            if nv is UNDEFINED:
                del val[k]
            else:
                val[k] = nv
    return reviver(holder, key if isinstance(key, str) else str(key), val)


# --------------------------------------------------------------------------------------------
# numbers


def number_to_string(x) -> str:
    """ECMAScript ``Number::toString(x)`` (radix 10), plus JSON.stringify's null for non-finite.

    Python's ``repr(float)`` yields the shortest digit string that round-trips (the same digit
    choice as V8); this lays those digits out by the ECMAScript rules.
    """
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        if -MAX_SAFE <= x <= MAX_SAFE:
            return str(x)
        try:
            x = float(x)  # nearest double, ties to even, as JS numeric literals
        except OverflowError:
            return "null"
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return "null"
    if x == 0:
        return "0"  # covers -0
    sign = "-" if x < 0 else ""
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    digits = ip + fp
    n = len(ip) + e  # the decimal point sits after n digits
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        ee = n - 1
        es = ("+" if ee >= 0 else "-") + str(abs(ee))
        out = digits + "e" + es if k == 1 else digits[0] + "." + digits[1:] + "e" + es
    return sign + out


# --------------------------------------------------------------------------------------------
# strings

_SHORT = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
_ESC_TABLE = {c: "\\u%04x" % c for c in range(0x20)}
_ESC_TABLE.update(_SHORT)
_NEEDS_WORK = re.compile('[\x00-\x1f"\\\\\ud800-\udfff]')


def quote(s: str) -> str:
    """JSON.stringify of a string (QuoteJSONString), as a Python str.

    Surrogate code points are read as UTF-16 code units: a high surrogate followed by a low one
    forms a pair and is emitted as the (raw) supplementary character; any other surrogate is a
    lone unit and is emitted as a lowercase ``\\udxxx`` escape.
    """
    if not _NEEDS_WORK.search(s):
        return '"' + s + '"'
    out = ['"']
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        o = ord(c)
        if o < 0x20 or o == 0x22 or o == 0x5C:
            out.append(_ESC_TABLE[o])
        elif 0xD800 <= o <= 0xDBFF:
            if i + 1 < n and 0xDC00 <= ord(s[i + 1]) <= 0xDFFF:
                lo = ord(s[i + 1])
                out.append(chr(0x10000 + ((o - 0xD800) << 10) + (lo - 0xDC00)))
                i += 1
            else:
                out.append("\\u%04x" % o)
        elif 0xDC00 <= o <= 0xDFFF:
            out.append("\\u%04x" % o)
        else:
            out.append(c)
        i += 1
    out.append('"')
    return "".join(out)


# --------------------------------------------------------------------------------------------
# stringify


def _b64_std(b: bytes) -> str:
    return base64.b64encode(bytes(b)).decode("ascii")


def stringify(value: Any, bytes_mode: str = "object", replacer: Callable | None = None):
    """``JSON.stringify(value)`` with no indentation. Returns ``str``, or ``None`` where
    JavaScript returns ``undefined`` (top-level undefined or function).

    ``bytes_mode`` says how ``bytes``/``bytearray`` (a ``Uint8Array``) are written:
      * ``"object"``: plain JSON.stringify, ``{"0":b0,"1":b1,...}``;
      * ``"envelope"``: upstream's ``serialise`` replacer,
        ``{"__type":"Uint8Array","data":"<base64 with padding>"}``;
      * ``"array"``: ``[b0,b1,...]`` (what ``Array.from`` gives).
    ``replacer(holder, key, value)`` works like JavaScript's function replacer.
    """
    if bytes_mode not in ("object", "envelope", "array"):
        raise ValueError("bytes_mode must be object, envelope or array")
    out: list = []
    ok = _ser({"": value}, "", value, out, bytes_mode, replacer, set())
    return "".join(out) if ok else None


def stringify_bytes(value: Any, bytes_mode: str = "object") -> bytes:
    """UTF-8 of :func:`stringify` (the bytes Harmony signs)."""
    s = stringify(value, bytes_mode)
    if s is None:
        raise TypeError("value stringifies to undefined")
    return s.encode("utf-8")


def _is_omitted(v) -> bool:
    return v is UNDEFINED or callable(v)


def _ser(holder, key, v, out, mode, replacer, stack) -> bool:
    if replacer is not None:
        v = replacer(holder, key if isinstance(key, str) else str(key), v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        if mode == "envelope":
            v = {"__type": "Uint8Array", "data": _b64_std(b)}
        elif mode == "array":
            v = list(b)
        else:
            v = {str(i): x for i, x in enumerate(b)}
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(quote(v))
    elif isinstance(v, (int, float)):
        out.append(number_to_string(v))
    elif _is_omitted(v):
        return False
    elif isinstance(v, (list, tuple)):
        if id(v) in stack:
            raise TypeError("Converting circular structure to JSON")
        stack.add(id(v))
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            if not _ser(v, i, item, out, mode, replacer, stack):
                out.append("null")
        out.append("]")
        stack.discard(id(v))
    elif isinstance(v, dict):
        if id(v) in stack:
            raise TypeError("Converting circular structure to JSON")
        stack.add(id(v))
        out.append("{")
        first = True
        for k in js_keys(v):
            item = v[k] if k in v else v[int(k)]
            if _is_omitted(item) and replacer is None:
                continue
            mark = len(out)
            out.append(("" if first else ",") + quote(k) + ":")
            if _ser(v, k, item, out, mode, replacer, stack):
                first = False
            else:
                del out[mark:]
        out.append("}")
        stack.discard(id(v))
    else:
        raise TypeError(f"cannot stringify {type(v).__name__}")
    return True


def spread(*parts: Iterable) -> dict:
    """JavaScript object spread ``{...a, ...b}``: keys keep their first position, values the last."""
    d: dict = {}
    for p in parts:
        for k, v in (p.items() if isinstance(p, dict) else p):
            d[k] = v
    return d


def text_encode(s: str) -> bytes:
    """``new TextEncoder().encode(s)``: UTF-8, with surrogate pairs joined and lone surrogates
    replaced by U+FFFD (JavaScript strings are UTF-16)."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        pass
    out = []
    i, n = 0, len(s)
    while i < n:
        o = ord(s[i])
        if 0xD800 <= o <= 0xDBFF and i + 1 < n and 0xDC00 <= ord(s[i + 1]) <= 0xDFFF:
            out.append(chr(0x10000 + ((o - 0xD800) << 10) + (ord(s[i + 1]) - 0xDC00)))
            i += 2
            continue
        out.append("\ufffd" if 0xD800 <= o <= 0xDFFF else s[i])
        i += 1
    return "".join(out).encode("utf-8")
