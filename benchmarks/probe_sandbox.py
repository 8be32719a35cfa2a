"""Probe the sandbox's containment (issue 13's hostile-user findings) in every mode this machine
offers, and print held / failed / limit per case.

    python benchmarks/probe_sandbox.py [--mode bwrap] [--only NAME] [--disk-mb 64] [--memory-mb 128] [--json]

The cases re-run the findings: a run that writes 10 GB into its work directory; 16 children that
each hold a big block (7 times the memory cap together); a run whose every process takes all the
memory it can get (the peak must stay within the cap where the mode holds it hard); wrong solutions that try to pass their tests
anyway (patched ``compile``, caller frames, the judge's memory, an early ``os._exit(0)``, a rigged
``__eq__``, a killed judge, shadowed built-ins); ``unshare(CLONE_NEWUSER)`` and friends; and
``kill -9`` of patchloop while a sandbox and an analyzer run. "held" means the run was stopped or
failed for the documented reason and stayed within the cap; "limit" means the mode does not promise
it (the docs say so: docs/EVAL.md, "The sandbox") and what happened is shown. The caps default to
small values (the mechanism is the same at 256 MB and 1 GB); ``--disk-mb`` and ``--memory-mb``
change them. The exit status is the number of failed cases.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from patchloop.core import sandbox, tempdirs
from patchloop.core.sandbox import SandboxError, check_tests, run_python, sandbox_info
from patchloop.core.sandbox.limits import DISK_REASON, MEMORY_REASON, MiB, disk_layout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the hostile programs

from sandbox_programs import greedy

WRITE_10_GB = textwrap.dedent("""
    import sys, time
    started, total = time.monotonic(), 0
    try:
        for i in range(10 * 1024 // 4):  # 10 GB in 4 MB files (each under the per-file limit)
            with open(f"f{i}", "wb") as fh:
                fh.write(b"x" * (4 << 20))
                total += 4 << 20
    except OSError as exc:
        print("refused:", exc.strerror, flush=True)
    print("wrote", total, round(time.monotonic() - started, 2), flush=True)
""")

CHILDREN = textwrap.dedent("""
    import os, time
    for _ in range(16):
        if os.fork() == 0:
            block = b"x" * ({size} << 20)  # written, so resident
            time.sleep(30)
            os._exit(0)
    time.sleep(30)
""")

FILL_MEMORY = greedy(forks=16, hold_s=1.5)  # held across many of the monitor's polls

WRONG = "def add(a, b):\n    return a - b\n"
TESTS = "assert add(2, 3) == 5\nassert add(10, -4) == 6\n"
FORGERIES = {
    "builtins.compile replaced": "import builtins\n_c = builtins.compile\n"
    "builtins.compile = lambda s, f, m, *a, **k: _c('pass', f, m)\n" + WRONG,
    "marker from the caller's frames": "import os, sys\nf = sys._getframe()\nwhile f:\n"
    "    for v in f.f_locals.values():\n"
    "        if isinstance(v, str) and v.startswith('patchloop-tests-passed'):\n"
    "            print(v); os._exit(0)\n    f = f.f_back\n" + WRONG,
    "marker from the judge's memory": "import os, re\ntry:\n"
    "    m = open(f'/proc/{os.getppid()}/mem', 'rb')\nexcept OSError as e:\n"
    "    print('refused', e.errno)\n" + WRONG,
    "os._exit(0) before the tests": WRONG + "import os\nos._exit(0)\n",
    "rigged __eq__": "class Yes:\n    __eq__ = lambda self, other: True\ndef add(a, b):\n    return Yes()\n",
    "the judge killed": "import os\nos.kill(os.getppid(), 9)\n" + WRONG,
    "abs() and len() shadowed": "abs = len = lambda x: 0\n" + WRONG,
    "a forged marker printed": "print('patchloop-tests-passed-' + '0' * 32)\n" + WRONG,
}

SYSCALLS = textwrap.dedent("""
    import ctypes, os, threading
    libc = ctypes.CDLL(None, use_errno=True)
    for name, call in [("unshare(CLONE_NEWUSER)", lambda: libc.unshare(0x10000000)),
                       ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                       ("ptrace", lambda: libc.ptrace(0, 0, 0, 0))]:
        print(name, call(), ctypes.get_errno())
    t = threading.Thread(target=print, args=("thread ok",)); t.start(); t.join()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print("fork ok")
""")


class Case:
    def __init__(self, name: str, outcome: str, detail: str) -> None:
        self.name, self.outcome, self.detail = name, outcome, detail


def _disk(mode: str, args) -> Case:
    info = sandbox_info(mode)
    result = run_python(WRITE_10_GB, disk_mb=args.disk_mb, timeout=60, mode=mode)
    words = result.stdout.split("wrote")[-1].split()
    written = int(words[0]) if words and words[0].isdigit() else None
    held = not result.ok and result.killed_reason == DISK_REASON
    shown = f"{written / MiB:.0f} MB written" if written is not None else "stopped before it could say"
    detail = f"cap {args.disk_mb} MB: {shown}, reason {result.killed_reason!r}, {result.seconds:.1f} s"
    if "disk_quota" in info.guarantees:
        budget = disk_layout(args.disk_mb, 16)
        held = held and (written is None or written <= budget.tmp_bytes)
        return Case("disk: 10 GB into the work dir", "held" if held else "FAILED", detail)
    # unshare/rlimits: the work directory is polled; what it lets through between polls is shown.
    return Case(
        "disk: 10 GB into the work dir",
        "limit" if held else "FAILED",
        detail + " (work directory only, polled: documented)",
    )


def _memory(mode: str, args) -> Case:
    size = max(8, args.memory_mb * 7 // 16)  # 16 children, 7 times the cap together
    started = time.monotonic()
    result = run_python(
        CHILDREN.format(size=size),
        total_memory_mb=args.memory_mb,
        memory_mb=max(64, size * 2),
        max_processes=64,
        timeout=60,
        mode=mode,
    )
    held = not result.ok and result.killed_reason == MEMORY_REASON and time.monotonic() - started < 30
    if result.memory_mechanism != "poll":
        held = held and result.peak_memory <= args.memory_mb * MiB
    detail = (
        f"16 x {size} MB, cap {args.memory_mb} MB, by {result.memory_mechanism}: reason "
        f"{result.killed_reason!r}, peak seen {result.peak_memory / MiB:.0f} MB, stopped after {result.seconds:.1f} s"
    )
    return Case("memory: 16 children over the cap", "held" if held else "FAILED", detail)


def _memory_fill(mode: str, args) -> Case:
    """The most a run can hold: as many children as it may fork, each taking all it can get."""
    result = run_python(
        FILL_MEMORY,
        total_memory_mb=args.memory_mb,
        memory_mb=args.memory_mb * 4,
        max_processes=64,
        timeout=60,
        mode=mode,
    )
    peak = result.peak_memory
    detail = (
        f"cap {args.memory_mb} MB, by {result.memory_mechanism}: peak {peak / MiB:.0f} MB "
        f"({peak / (args.memory_mb * MiB):.0%} of the cap), reason {result.killed_reason!r}, "
        f"{result.stdout.strip() or 'no output'}"
    )
    within = peak <= args.memory_mb * MiB
    if result.memory_mechanism == "poll":  # a polled cap can be overshot within one poll: documented
        outcome = "limit" if within or result.killed_reason == MEMORY_REASON else "FAILED"
    else:
        outcome = "held" if within else "FAILED"
    return Case("memory: every process takes all it can", outcome, detail)


def _forgery(mode: str, args) -> list[Case]:
    out = []
    for name, code in FORGERIES.items():
        result = check_tests(code, TESTS, mode=mode)
        out.append(
            Case(
                f"forgery: {name}",
                "FAILED" if result.ok else "held",
                "counted as passed" if result.ok else "counted as failed",
            )
        )
    honest = check_tests("def add(a, b):\n    return a + b\n", TESTS, mode=mode)
    out.append(
        Case(
            "forgery: the honest solution still passes",
            "held" if honest.ok else "FAILED",
            f"{honest.seconds * 1000:.0f} ms",
        )
    )
    return out


def _seccomp(mode: str, args) -> Case:
    info = sandbox_info(mode)
    result = run_python(SYSCALLS, mode=mode)
    lines = result.stdout.splitlines()
    refused = all(line.endswith(" -1 1") for line in lines[:3]) and len(lines) >= 3
    normal = "thread ok" in lines and "fork ok" in lines
    detail = "; ".join(lines) or result.stderr[-200:]
    if "syscall_filter" not in info.guarantees:
        return Case(
            "seccomp: unshare(CLONE_NEWUSER) and friends", "limit", "no filter in this mode: " + detail
        )
    return Case(
        "seccomp: unshare(CLONE_NEWUSER) and friends", "held" if refused and normal else "FAILED", detail
    )


def _sleepers(token: str) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argv[:2] == [b"sleep", token.encode()] and state != "Z":
            found.append(int(proc.name))
    return found


def _wait(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.1)
    return predicate()


def _kill9(mode: str, args) -> Case:
    box, tool = (f"71.{secrets.randbelow(10**8):08d}" for _ in range(2))
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)  # as /tmp: a root patchloop's sandbox uid must pass through it
        script = (
            f"from patchloop.core.sandbox import run_python\n"
            f"from patchloop.core.analyzers.base import run_tool\nimport threading\n"
            f"threading.Thread(target=run_tool, args=(['sh', '-c', 'sleep {tool}'], 120), daemon=True).start()\n"
            f"run_python(\"import os\\nos.execv('/bin/sleep', ['sleep', '{box}'])\", timeout=120, mode={mode!r})\n"
        )
        owner = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "TMPDIR": tmp})
        try:
            if not _wait(lambda: _sleepers(box) and _sleepers(tool), 60):
                return Case("kill -9 of patchloop", "FAILED", "the sandbox or the analyzer never started")
            owner.send_signal(signal.SIGKILL)
            owner.wait()
            gone = _wait(lambda: not _sleepers(box) and not _sleepers(tool), 15)
            left_dirs = list(Path(tmp).glob("patchloop-*"))
            swept = tempdirs.sweep(tmp)
        finally:
            owner.kill()
            for pid in _sleepers(box) + _sleepers(tool):
                os.kill(pid, signal.SIGKILL)
    detail = (
        f"sandbox and analyzer processes {'gone' if gone else 'LEFT RUNNING'}; "
        f"{len(left_dirs)} temp folder(s) left, {len(swept)} removed by the next start's sweep"
    )
    return Case("kill -9 of patchloop", "held" if gone and len(swept) == len(left_dirs) else "FAILED", detail)


PROBES: dict[str, Callable] = {
    "disk": _disk,
    "memory": _memory,
    "memory-fill": _memory_fill,
    "forgery": _forgery,
    "seccomp": _seccomp,
    "kill9": _kill9,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sandbox.MODES, action="append", help="only this mode (repeatable)")
    parser.add_argument("--only", choices=sorted(PROBES), action="append", help="only this case (repeatable)")
    parser.add_argument("--disk-mb", type=int, default=64, help="disk cap of the probe runs (default 64)")
    parser.add_argument(
        "--memory-mb", type=int, default=128, help="memory cap of the probe runs (default 128)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report, failed = [], 0
    for mode in args.mode or sandbox.MODES:
        try:
            info = sandbox_info(mode)
        except SandboxError as exc:
            report.append({"mode": mode, "case": "available", "outcome": "skipped", "detail": str(exc)})
            continue
        for name in args.only or PROBES:
            cases = PROBES[name](mode, args)
            for case in cases if isinstance(cases, list) else [cases]:
                failed += case.outcome == "FAILED"
                report.append(
                    {"mode": mode, "case": case.name, "outcome": case.outcome, "detail": case.detail}
                )
                if not args.json:
                    print(f"{mode:8} {case.outcome:7} {case.name}: {case.detail}", flush=True)
        if not args.json:
            print(f"{mode:8} memory cap held by: {info.memory_mechanism}")
            print(f"{mode:8} promises: {', '.join(sorted(info.guarantees))}")
    if args.json:
        print(json.dumps(report, indent=2))
    return failed


if __name__ == "__main__":
    sys.exit(main())
