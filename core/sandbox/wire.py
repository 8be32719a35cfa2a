"""The wire between the test judge and the solution's process inside the sandbox.

Runs inside the sandbox (copied as ``sandbox_wire.py`` next to the judge and the server, imported by both;
stdlib only).
Only plain data crosses: None, bool, int, float, complex, str, bytes, bytearray, list, tuple, dict,
set, frozenset, Decimal, Fraction, the built-in types by name (``int``, ``ValueError``), and
references to objects that stay in the solution's process.
Whatever the solution's process sends, the judge decodes into built-in values of exactly those types,
so a returned object cannot bring its own ``__eq__`` (or anything else) into the judge: a comparison
in a test is always made by the judge's own, untouched interpreter.

Frames are an 8-byte big-endian length and that many bytes of JSON. Objects in the JSON are always
tagged (``{"$": tag, "v": ...}``); arrays are lists.
"""

from __future__ import annotations

import base64
import builtins
import json
import math
import socket
import struct
from decimal import Decimal
from fractions import Fraction

TYPE_CHECKING = False  # typing itself is not imported: it would sit in the solution's sys.modules
if TYPE_CHECKING:
    from typing import Any

MAX_FRAME = 64 * 1024 * 1024  # one message (a value, a call); more is refused, not read
MAX_DEPTH = 200  # nesting of a value
_INT_JSON = 1 << 63  # ints beyond this travel as hex (json refuses ints over 4300 digits)


class WireError(Exception):
    """A message that breaks the protocol: too large, truncated, not JSON, an unknown tag."""


class Ref:
    """A reference to an object that stays in the solution's process (``type`` is its type's name)."""

    __slots__ = ("id", "type")

    def __init__(self, ref_id: int, type_name: str = "object") -> None:
        self.id, self.type = ref_id, type_name


# -- values -> JSON-able ------------------------------------------------------------------------


def _float(value: float) -> object:
    if math.isfinite(value):
        return value
    return {"$": "float", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _int(value: int) -> object:
    return value if -_INT_JSON <= value < _INT_JSON else {"$": "int", "v": format(value, "x")}


def encode(value: object, to_ref=None, depth: int = 0) -> object:
    """``value`` as JSON-able data. Subclasses of the built-in types travel as their base type (a
    namedtuple as a tuple, a Counter as a dict). Anything else becomes ``to_ref(value)`` (a ``Ref``)
    when given, else raises ``TypeError``."""
    if depth > MAX_DEPTH:
        raise ValueError(f"a value nested more than {MAX_DEPTH} levels deep")
    deeper = depth + 1
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if type(value) is int:  # (type(value) again, not kind: the checker narrows value by this form)
        return _int(value)
    if type(value) is float:
        return _float(value)
    if type(value) is list:
        return [encode(item, to_ref, deeper) for item in value]
    if isinstance(value, Ref):
        return {"$": "ref", "v": value.id, "t": value.type}
    if isinstance(value, bool):  # bool cannot be subclassed; kept for symmetry
        return bool(value)
    if isinstance(value, int):
        return _int(int.__index__(value))
    if isinstance(value, float):
        return _float(float.__float__(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, complex):
        return {"$": "complex", "v": [_float(value.real), _float(value.imag)]}
    if isinstance(value, (bytes, bytearray)):
        tag = "bytearray" if isinstance(value, bytearray) else "bytes"
        return {"$": tag, "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, list):
        return [encode(item, to_ref, deeper) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [encode(item, to_ref, deeper) for item in tuple.__iter__(value)]}
    if isinstance(value, dict):
        return {
            "$": "dict",
            "v": [[encode(k, to_ref, deeper), encode(v, to_ref, deeper)] for k, v in dict.items(value)],
        }
    if isinstance(value, (set, frozenset)):
        tag = "frozenset" if isinstance(value, frozenset) else "set"
        return {"$": tag, "v": [encode(item, to_ref, deeper) for item in value]}
    if isinstance(value, Decimal):
        return {"$": "decimal", "v": str(value)}
    if isinstance(value, Fraction):
        return {"$": "fraction", "v": [_int(value.numerator), _int(value.denominator)]}
    if isinstance(value, type) and getattr(builtins, value.__name__, None) is value:
        return {"$": "type", "v": value.__name__}  # int, str, ValueError... (MBPP passes types around)
    if to_ref is not None:
        return to_ref(value)
    raise TypeError(f"a {kind.__name__} cannot be passed to the solution's process (plain data only)")


# -- JSON -> values -----------------------------------------------------------------------------


def _dec_float(data: object) -> float:
    if isinstance(data, dict) and data.get("$") == "float" and data.get("v") in ("nan", "inf", "-inf"):
        return float(data["v"])
    if type(data) is int or type(data) is float:
        return float(data)
    raise WireError(f"not a float: {data!r}")


def _dec_int(data: object) -> int:
    if type(data) is int:
        return data
    if isinstance(data, dict) and data.get("$") == "int" and isinstance(data.get("v"), str):
        return int(data["v"], 16)
    raise WireError(f"not an int: {data!r}")


def decode(data: object, from_ref=None, depth: int = 0) -> object:
    """The value ``data`` stands for, made only of built-in types (and whatever ``from_ref`` makes of
    a reference). Raises ``WireError`` for anything that is not well-formed."""
    if depth > MAX_DEPTH + 2:
        raise WireError("a value nested too deeply")
    deeper = depth + 1
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if type(data) is list:  # (type(data) again, not kind: the checker narrows data by this form)
        return [decode(item, from_ref, deeper) for item in data]
    if type(data) is not dict or not isinstance(data.get("$"), str):
        raise WireError("untagged object in a message")
    tag = data["$"]
    body: Any = data.get("v")  # any JSON value: a wrong one fails below and is a WireError
    try:
        if tag in ("int",):
            return _dec_int(data)
        if tag == "float":
            return _dec_float(data)
        if tag == "complex":
            return complex(_dec_float(body[0]), _dec_float(body[1]))
        if tag in ("bytes", "bytearray"):
            raw = base64.b64decode(body.encode("ascii"), validate=True)
            return bytearray(raw) if tag == "bytearray" else raw
        if tag in ("tuple", "set", "frozenset"):
            if type(body) is not list:
                raise WireError(f"bad {tag}")
            items = [decode(item, from_ref, deeper) for item in body]
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "dict":
            if type(body) is not list:
                raise WireError("bad dict")
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("bad dict item")
                out[decode(pair[0], from_ref, deeper)] = decode(pair[1], from_ref, deeper)
            return out
        if tag == "decimal":
            if type(body) is not str:
                raise WireError("bad decimal")
            return Decimal(body)
        if tag == "fraction":
            return Fraction(_dec_int(body[0]), _dec_int(body[1]))
        if tag == "type":
            found = getattr(builtins, body, None) if type(body) is str else None
            if not isinstance(found, type):
                raise WireError(f"not a built-in type: {body!r}")
            return found
        if tag == "ref":
            if type(body) is not int or from_ref is None:
                raise WireError("bad reference")
            type_name = data.get("t")
            return from_ref(body, type_name if type(type_name) is str else "object")
    except (TypeError, ValueError, IndexError, KeyError, ArithmeticError, AttributeError) as exc:
        raise WireError(f"bad {tag} value: {exc}") from None
    raise WireError(f"unknown tag {tag!r}")


# -- frames -------------------------------------------------------------------------------------


def send(sock: socket.socket, message: object) -> None:
    raw = json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    sock.sendall(struct.pack(">Q", len(raw)) + raw)


def _read(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> object:
    """One message (plain JSON data: dicts, lists, numbers, strings). Raises ``EOFError`` when the
    other side is gone, ``WireError`` for an oversized or malformed frame."""
    (size,) = struct.unpack(">Q", _read(sock, 8))
    if size > MAX_FRAME:
        raise WireError(f"a message of {size} bytes (the limit is {MAX_FRAME})")
    try:
        return json.loads(_read(sock, size).decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"a message that is not JSON: {exc}") from None
