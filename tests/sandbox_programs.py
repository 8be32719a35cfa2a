"""Programs that try to take more than a sandboxed run may hold, as source text for ``run_python``.

Shared by tests/test_sandbox_limits.py and benchmarks/probe_sandbox.py.
"""

from __future__ import annotations

import textwrap

# The start of a program that forks: fork_each(count, work) forks up to count children (fewer where
# the process limit refuses one), each of which runs work() and exits; it returns their pids.
FORK_EACH = textwrap.dedent("""
    import os, sys, time
    def fork_each(count, work):
        pids = []
        for _ in range(count):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                work()
                os._exit(0)
            pids.append(pid)
        return pids
""")


def greedy(forks: int, hold_s: float) -> str:
    """A run of up to ``forks`` + 1 processes, each taking all the memory it can get, 1 MB at a time,
    and holding it for ``hold_s`` seconds (across several of the monitor's polls): the most a run can
    hold. It prints how many processes there were and how many MB the parent held."""
    return FORK_EACH + textwrap.dedent(f"""
        def fill():
            blocks = []
            try:
                while True:
                    blocks.append(b"x" * (1 << 20))
            except MemoryError:
                pass
            time.sleep({hold_s})
            return len(blocks)
        pids = fork_each({forks}, fill)
        print("processes", len(pids) + 1, "parent held", fill(), flush=True)
        for pid in pids:
            os.waitpid(pid, 0)
    """)
