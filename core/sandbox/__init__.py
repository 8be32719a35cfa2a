"""Run generated (untrusted) Python code in a sandbox; nothing else in patchloop ever executes it.

Every run gets a separate process tree, a fresh working directory, a cleared environment (no secret
of the parent's environment reaches the code), per-process resource limits, caps on the whole run
(wall-clock seconds, the memory of all its processes, the disk it writes: ``limits``), a
seccomp filter against the system calls tests never need (``seccomp``) and, where the platform
allows, an unprivileged user, no network and a read-only view of the rest of the system.

The mode is picked once per process by probing in this order (``PATCHLOOP_SANDBOX=bwrap|unshare|rlimits``
or ``mode=`` forces one); docs/EVAL.md ("The sandbox") has the table of what each guarantees.
``bwrap`` (bubblewrap): new network, PID, IPC and UTS namespaces; the host's file system read-only,
the home and temp folders hidden, only two size-limited tmpfs mounts writable (``/tmp``, which holds
the work directory, and ``/dev/shm``); an unprivileged uid; it dies with patchloop. ``unshare``:
network and PID namespaces, the host's file system as far as the user's rights go, the disk cap on
the work directory only. ``rlimits``: limits, a fresh directory and (as root) an unprivileged uid
only, with a warning. Under ``unshare`` and ``rlimits`` a guard (``procguard``) kills the run when
patchloop dies. As root the launcher (``launcher``) drops to an unused high uid before the
code starts; where no interpreter is reachable by such a uid outside bwrap, the code runs as root
without capabilities, and a warning says so.

``check_tests`` runs the tests in a judge process apart from the solution's (``judge``), which
calls the solution over a socket that carries plain data only (``wire``): nothing the
solution does in its own process (patching ``compile``, reading frames, exiting early, a rigged
``__eq__``) can make a failing answer pass.

A run that breaks a limit is reported in ``SandboxResult`` (``ok`` false, ``killed_reason`` set);
it never raises. ``SandboxError`` is raised only when no sandbox can run at all.

The memory cap is held by the kernel where it can be: a cgroup v2 per run where one is usable, else
per-process address-space and process-count limits derived from the cap (``limits``:
``plan_memory``); ``SandboxInfo.memory_mechanism`` says which, and the monitor polls in every mode.
Known limits: where the code keeps root's uid (without capabilities) the memory cap is only polled
(it can overshoot by what the code allocates in one poll); under ``unshare`` and ``rlimits`` the disk
cap is polled too and sees only the work directory.

The package, by seam: ``modes`` (probing and choosing a mode, ``sandbox_info``), ``run`` (one
run), ``commands`` (each mode's command line, the limits and environment), ``uids``, ``limits`` (the
whole run's disk and memory caps and the monitor), ``memory`` (which mechanism holds the memory
cap), ``cgroup``, ``seccomp``, ``outcome`` (what a run's end says), ``results`` (what is reported);
and the programs that run inside the sandbox, checked like the rest and read as text at run time:
``launcher``, ``probe``, ``judge``, ``server`` and ``wire``.
"""

from __future__ import annotations

import json
import secrets

from .limits import DEFAULT_DISK_MB, DEFAULT_MEMORY_MB
from .modes import ALWAYS, MODES, sandbox_info
from .outcome import MAX_OUTPUT, TAIL
from .results import SandboxError, SandboxInfo, SandboxResult
from .run import RunSpec, execute, script

__all__ = [
    "ALWAYS",
    "MODES",
    "SandboxError",
    "SandboxInfo",
    "SandboxResult",
    "check_tests",
    "run_python",
    "sandbox_info",
]

# check_tests' programs: their names in the sandbox's input folder -> their files in this package
HARNESS = {"sandbox_judge.py": "judge.py", "sandbox_server.py": "server.py", "sandbox_wire.py": "wire.py"}


def run_python(
    code: str,
    *,
    stdin: str = "",
    timeout: float = 10.0,
    memory_mb: int = 512,
    file_size_mb: int = 16,
    max_processes: int = 32,
    max_output: int = MAX_OUTPUT,
    files: dict[str, str] | None = None,
    disk_mb: int = DEFAULT_DISK_MB,
    total_memory_mb: int = DEFAULT_MEMORY_MB,
    mode: str | None = None,
) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox and report what happened (never raises for
    anything the code does). ``files`` are extra files written next to it. ``memory_mb`` limits
    each process's address space, ``total_memory_mb`` the memory of all the run's processes together,
    ``disk_mb`` everything the run writes (stdout and stderr included)."""
    info = sandbox_info(mode)
    return execute(
        info,
        RunSpec(
            {**(files or {}), "main.py": code},
            ("-I", "main.py"),
            stdin=stdin,
            timeout=timeout,
            memory_mb=memory_mb,
            file_size_mb=file_size_mb,
            max_processes=max_processes,
            max_output=max_output,
            disk_mb=disk_mb,
            total_memory_mb=total_memory_mb,
        ),
    )


def check_tests(
    code: str,
    test_code: str,
    entry_point: str | None = None,
    *,
    setup_code: str = "",
    prelude: str = "",
    timeout: float = 10.0,
    memory_mb: int = 512,
    disk_mb: int = DEFAULT_DISK_MB,
    total_memory_mb: int = DEFAULT_MEMORY_MB,
    mode: str | None = None,
) -> SandboxResult:
    """Run ``test_code`` against ``code`` in the sandbox, then ``check(entry_point)`` when an entry
    point is given (HumanEval); ``ok`` means every test ran to the end without an exception, within
    every limit. The tests run in a judge process and call the solution, which runs in a process of
    its own, through references; only plain data crosses (``sandbox_judge``). The tests' globals are
    the solution's top-level names (built-in names excepted), then ``prelude`` (the benchmark's own
    helpers, e.g. HumanEval's prompt, which then judge the answer in place of the solution's copies;
    the entry point stays the solution's), then ``setup_code`` (MBPP's, which builds its fixtures
    from the solution's classes)."""
    marker = f"patchloop-tests-passed-{secrets.token_hex(16)}"
    spec = {
        "marker": marker,
        "tests": test_code,
        "setup": setup_code,
        "prelude": prelude,
        "entry_point": entry_point or "",
    }
    info = sandbox_info(mode)
    run = RunSpec(
        {"solution.py": code},
        ("-I", "-S", "{in}/sandbox_judge.py"),
        stdin=json.dumps(spec) + "\n",
        harness={name: script(file) for name, file in HARNESS.items()},
        timeout=timeout,
        memory_mb=memory_mb,
        disk_mb=disk_mb,
        total_memory_mb=total_memory_mb,
    )
    result = execute(info, run)
    finished = marker in result.stdout[-(TAIL + len(marker) + 2) :]
    result.ok = result.ok and finished
    result.stdout = result.stdout.replace(marker, "").rstrip("\n")
    return result
