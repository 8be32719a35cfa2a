"""The sandbox's launcher: runs inside the sandbox, before the code (``python -I -S -c SOURCE CONFIG``).

It applies the resource limits, drops root (or, where the code would still be root in its user
namespace, every capability), sets ``PR_SET_NO_NEW_PRIVS``, installs the seccomp filter (bwrap
installs it itself), copies the run's files into the work directory and starts the command as its
child, so that the code's parent is this launcher, not patchloop. When the command ends it checks
the run's capped mounts (bwrap) and reports a full one with its own exit status. stdlib only:
nothing of patchloop is importable in there.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys

TYPE_CHECKING = False  # typing itself is not imported: it would add to every run's start
if TYPE_CHECKING:
    from typing import NoReturn

try:
    import ctypes

    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except (ImportError, OSError):  # not Linux, or no C library to call: limits and uid only
    _LIBC = None

_PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 24, 38, 22, 2


# The functions below run only where the import above found a C library; each imports ctypes again
# (a lookup in sys.modules), which tells the type checker it is there.


def _libc() -> ctypes.CDLL:
    assert _LIBC is not None, "called only where main found a C library"
    return _LIBC


def prctl(*args) -> int:
    import ctypes

    # Every argument as unsigned long: prctl is variadic and several options demand zeroed extras.
    return _libc().prctl(*[a if not isinstance(a, int) else ctypes.c_ulong(a) for a in args])


def fail(message: str) -> NoReturn:
    os.write(2, ("patchloop-sandbox: " + message + "\n").encode())
    os._exit(70)


def apply_limits(limits: list) -> None:
    for name, (soft, hard) in limits:
        key = getattr(resource, name)
        _, cur_hard = resource.getrlimit(key)
        if cur_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur_hard), min(hard, cur_hard)
        resource.setrlimit(key, (soft, hard))


def drop_capabilities() -> None:
    """Root in a user namespace (or root with no uid to drop to): keep the uid, lose every capability,
    so that, among others, the test judge's memory (non-dumpable) is out of reach."""
    import ctypes

    for cap in range(64):
        prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    if _libc().capset(header, data) != 0:
        fail(f"cannot drop capabilities: errno {ctypes.get_errno()}")


def install_seccomp(program: bytes) -> None:
    import ctypes

    class SockFprog(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        fail(f"cannot install the seccomp filter: errno {ctypes.get_errno()}")


def main() -> None:
    cfg = json.loads(sys.argv[1])
    apply_limits(cfg["limits"])
    uid = cfg["uid"]
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if _LIBC is not None:
        prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binaries from here on
        if os.geteuid() == 0:
            drop_capabilities()
    os.umask(0o077)
    if cfg["make_cwd"]:
        os.makedirs(cfg["cwd"], 0o700, exist_ok=True)
    for source, name in cfg["copy"]:
        with open(source, "rb") as fh, open(os.path.join(cfg["cwd"], name), "wb") as out:
            out.write(fh.read())
    os.chdir(cfg["cwd"])
    if cfg["seccomp"]:
        if _LIBC is None:
            fail("no C library to install the seccomp filter with")
        install_seccomp(bytes.fromhex(cfg["seccomp"]))
    try:
        pid = os.fork()
    except BlockingIOError:
        uid_busy(cfg)
    if pid:
        wait_and_relay(pid, cfg)
    argv = cfg["argv"]
    try:
        os.execve(argv[0], argv, cfg["env"])
    except BlockingIOError:  # execve after setuid fails with EAGAIN when the uid is over RLIMIT_NPROC
        uid_busy(cfg)


def uid_busy(cfg: dict) -> NoReturn:
    """The uid is full of someone else's processes: not the code's fault, so say so apart."""
    os.write(2, (cfg["busy_mark"] + "\n").encode())
    os._exit(cfg["busy_status"])


def disk_full(cfg: dict) -> bool:
    """The run's capped mounts are full, or hold more files than the cap allows (bwrap). Checked
    here, inside, once the code has ended: the host's monitor polls, and a run that fills its quota
    and exits at once would slip between two polls."""
    files = 0
    for path, size in cfg["disk_check"]:
        st = os.statvfs(path)
        if st.f_blocks * st.f_frsize != size:  # not the mount the cap was set on: say nothing
            return False
        files += st.f_files - st.f_ffree
        if st.f_bavail * st.f_frsize < min(cfg["full_slack"], size // 4):
            return True
    return bool(cfg["disk_check"]) and files > cfg["max_files"]


def wait_and_relay(pid: int, cfg: dict) -> NoReturn:
    # Nothing of the parent's stays open for the code to find through /proc/PID/fd (stderr stays,
    # for the messages below).
    os.closerange(3, 65536)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    if disk_full(cfg):
        os.write(2, (cfg["disk_mark"] + "\n").encode())
        os._exit(cfg["disk_status"])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
