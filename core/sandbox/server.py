"""The solution's process in a sandboxed test run: loads the solution and answers the judge's calls.

Runs inside the sandbox as ``python -I -S sandbox_server.py FD SOLUTION`` (started by the judge, which
keeps the verdict; see ``judge``). Everything here is as untrusted as the solution itself:
the solution may replace any of it, and that gains it nothing, since the judge trusts no more than
the plain data it decodes. The server tells the judge the solution's top-level names, then answers
calls, attribute reads and writes on the objects it holds, until the judge hangs up.
"""

from __future__ import annotations

import builtins
import os
import socket
import sys
import traceback
import types

TYPE_CHECKING = False  # typing itself is not imported: it would sit in the solution's sys.modules
if TYPE_CHECKING:
    from typing import Any

if __package__:  # imported on the host (tests)
    from . import wire
else:  # run in the sandbox beside a copy of wire.py, named sandbox_wire.py there (no patchloop in there)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    # The sandbox's own name for wire.py, on the path only in there.
    import sandbox_wire as wire  # pyright: ignore[reportMissingImports]

_MAX_TEXT = 4000


class Objects:
    """The objects the judge holds references to, by reference id (one id per object)."""

    def __init__(self) -> None:
        self.by_ref: dict[int, Any] = {}  # the solution's objects, whatever they are
        self._ids: dict[int, int] = {}

    def ref(self, obj: object) -> dict:
        key = id(obj)
        if key not in self._ids:
            self._ids[key] = len(self.by_ref) + 1
            self.by_ref[self._ids[key]] = obj
        return {"$": "ref", "v": self._ids[key], "t": type(obj).__name__}

    def get(self, ref_id: int, type_name: str = "") -> Any:
        try:
            return self.by_ref[ref_id]
        except KeyError:
            raise wire.WireError(f"unknown reference {ref_id!r}") from None


def _error(exc: BaseException) -> dict:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "error": {"type": type(exc).__name__, "message": str(exc)[:_MAX_TEXT], "traceback": text[-_MAX_TEXT:]}
    }


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def manifest(namespace: dict, objects: Objects) -> list:
    """The solution's top-level names: plain values as data, modules by name, the rest as references."""
    names = []
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            names.append([name, {"$": "module", "v": value.__name__}])
            continue
        try:
            names.append([name, wire.encode(value, objects.ref)])
        except (ValueError, RecursionError):  # too deep to send: the judge may still call into it
            names.append([name, objects.ref(value)])
    return names


def handle(request: Any, objects: Objects) -> dict:
    """The reply to one of the judge's requests (JSON data: a malformed one fails here, reported as
    the error it raises)."""
    op = request.get("op")
    target = objects.get(request.get("ref"))
    if op == "call":
        args = [wire.decode(a, objects.get) for a in request["args"]]
        kwargs = {k: wire.decode(v, objects.get) for k, v in request["kwargs"]}
        result = target(*args, **kwargs)
        # Arguments the call may have changed in place travel back, so a test that checks a list it
        # passed sees the change, as it would in one process.
        after = [
            wire.encode(a, objects.ref) if type(a) in (list, dict, set, bytearray) else None for a in args
        ]
        return {"ok": wire.encode(result, objects.ref), "args": after}
    if op == "getattr":
        return {"ok": wire.encode(getattr(target, request["name"]), objects.ref)}
    if op == "setattr":
        setattr(target, request["name"], wire.decode(request["value"], objects.get))
        return {"ok": None}
    raise wire.WireError(f"unknown operation {op!r}")


class _LateSitePackages:
    """Started with -S (site-packages cost 40 ms per run, and most solutions need only the stdlib):
    the first import the stdlib cannot satisfy turns site-packages on, as ``python -I`` has them."""

    done = False

    @classmethod
    def find_spec(cls, name: str, path=None, target=None):
        if cls.done:
            return None
        cls.done = True
        import importlib.machinery
        import site

        site.main()
        return importlib.machinery.PathFinder.find_spec(name, path, target)


def _as_without_dash_s() -> None:
    import site

    site.setquit()  # exit() and quit() exist, as they do under site
    site.setcopyright()
    site.sethelper()
    sys.meta_path.append(_LateSitePackages)


def main() -> None:
    if sys.flags.no_site:
        _as_without_dash_s()
    sock = socket.socket(fileno=int(sys.argv[1]))
    with open(sys.argv[2], encoding="utf-8") as fh:
        source = fh.read()
    namespace = {"__name__": "solution", "__builtins__": builtins}
    objects = Objects()
    try:
        exec(compile(source, "solution.py", "exec"), namespace)  # noqa: S102 - this is the sandbox
        reply = {"names": manifest(namespace, objects)}
    except BaseException as exc:  # noqa: BLE001 - SystemExit included: the judge reports it
        reply = _error(exc)
    _flush()
    wire.send(sock, reply)
    if "error" in reply:
        return
    while True:
        try:
            request = wire.receive(sock)
        except EOFError:
            break
        try:
            reply = handle(request, objects)
        except BaseException as exc:  # noqa: BLE001 - every failure of the solution goes to the judge
            reply = _error(exc)
        _flush()
        try:
            wire.send(sock, reply)
        except (ValueError, TypeError, RecursionError) as exc:  # a result json cannot write
            wire.send(sock, _error(exc))


if __name__ == "__main__":
    main()
    _flush()
    os._exit(0)  # no atexit handlers of the solution's: it has had its say
