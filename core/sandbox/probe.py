"""The program a mode's probe runs in the sandbox as ``main.py`` (``modes``): it prints ``ok``, the uid
the code runs as and the process's seccomp mode (2: a filter is in place; ``-`` where there is no
/proc to say)."""

import os


def main() -> None:
    status = ""
    if os.path.exists("/proc/self/status"):
        with open("/proc/self/status") as fh:
            status = fh.read()
    mode = [line.split()[1] for line in status.splitlines() if line.startswith("Seccomp:")]
    print("ok", os.getuid(), mode[0] if mode else "-")


if __name__ == "__main__":
    main()
