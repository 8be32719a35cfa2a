"""A seccomp filter for sandboxed code: the system calls tests never need are refused.

Built by hand as a classic BPF program (no libseccomp needed): check the architecture, load the
system-call number, compare it against a deny list, answer ``EPERM`` (``ENOSYS`` for ``clone3``)
or allow. ``bwrap --seccomp FD`` takes the program's bytes as they are; the other sandbox modes
install it from the launcher with ``prctl(PR_SET_SECCOMP)``.

What is refused and why: new namespaces (``unshare``, ``setns``, ``clone`` with a namespace flag)
would let the code build itself a user namespace with full capabilities inside it, the first step of
most container escapes; ``clone3`` carries its flags in memory a filter cannot read, so it answers
``ENOSYS`` and glibc falls back to ``clone``. Mounts, ``ptrace`` and reading or writing another
process's memory (the test judge's verdict lives in another process of the same uid), keyrings,
``bpf``, ``perf_event_open``, ``userfaultfd`` and ``io_uring`` (the usual kernel-exploit surface),
kernel modules, reboot, swap, clocks and the like. A call made through another ABI (i386
``int 0x80`` on x86-64, x32) is refused outright, since its numbers are not the ones checked.
"""

from __future__ import annotations

import platform
import struct
import sys

# classic BPF opcodes (linux/filter.h, linux/bpf_common.h)
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
EPERM, ENOSYS = 1, 38

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_NR, _ARCH, _ARG0 = 0, 4, 16
_ARG0_LOW = _ARG0 if sys.byteorder == "little" else _ARG0 + 4  # namespace flags are in the low word

# Every CLONE_NEW* flag (linux/sched.h): NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NAMESPACE_FLAGS = (
    0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)
_X32_SYSCALL_BIT = 0x40000000

# The calls refused, by group (names as in the kernel's tables).
DENIED = (
    "unshare",
    "setns",  # namespaces (clone and clone3 are handled apart)
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",  # other processes
    "keyctl",
    "add_key",
    "request_key",  # keyrings
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    "name_to_handle_at",
    "open_by_handle_at",
    "lookup_dcookie",
    "syslog",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "vhangup",
    "nfsservctl",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    # x86-64 only
    "iopl",
    "ioperm",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "uselib",
    "sysfs",
    "_sysctl",
    "ustat",
)

# System-call numbers per architecture (arch/x86/entry/syscalls/syscall_64.tbl and
# include/uapi/asm-generic/unistd.h, which arm64 uses); names missing from a table do not exist there.
# Numbers from 403 on are the same on every architecture (the kernel's common table, since Linux 5.1).
_COMMON = {
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "pidfd_getfd": 438,
    "mount_setattr": 442,
}
_X86_64 = {
    **_COMMON,
    "clone": 56,
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "lookup_dcookie": 212,
    "syslog": 103,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "acct": 163,
    "quotactl": 179,
    "vhangup": 153,
    "nfsservctl": 180,
    "settimeofday": 164,
    "clock_settime": 227,
    "clock_adjtime": 305,
    "adjtimex": 159,
    "iopl": 172,
    "ioperm": 173,
    "create_module": 174,
    "get_kernel_syms": 177,
    "query_module": 178,
    "uselib": 134,
    "sysfs": 139,
    "_sysctl": 156,
    "ustat": 136,
}
_AARCH64 = {
    **_COMMON,
    "clone": 220,
    "unshare": 97,
    "setns": 268,
    "mount": 40,
    "umount2": 39,
    "pivot_root": 41,
    "chroot": 51,
    "ptrace": 117,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "keyctl": 219,
    "add_key": 217,
    "request_key": 218,
    "bpf": 280,
    "perf_event_open": 241,
    "userfaultfd": 282,
    "fanotify_init": 262,
    "name_to_handle_at": 264,
    "open_by_handle_at": 265,
    "lookup_dcookie": 18,
    "syslog": 116,
    "kexec_load": 104,
    "kexec_file_load": 294,
    "init_module": 105,
    "finit_module": 273,
    "delete_module": 106,
    "reboot": 142,
    "swapon": 224,
    "swapoff": 225,
    "acct": 89,
    "quotactl": 60,
    "vhangup": 58,
    "nfsservctl": 42,
    "settimeofday": 170,
    "clock_settime": 112,
    "clock_adjtime": 266,
    "adjtimex": 171,
}
# machine name -> (AUDIT_ARCH_* constant, table, whether the x32 bit must be refused)
ARCHES = {
    "x86_64": (0xC000003E, _X86_64, True),
    "aarch64": (0xC00000B7, _AARCH64, False),
}


def machine() -> str:
    name = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)


def supported(arch: str | None = None) -> bool:
    """A filter can be built for this machine (Linux on x86-64 or arm64)."""
    return sys.platform.startswith("linux") and (arch or machine()) in ARCHES


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(arch: str | None = None) -> bytes:
    """The filter as ``struct sock_filter[]`` bytes (what ``bwrap --seccomp`` reads)."""
    arch = arch or machine()
    if arch not in ARCHES:
        raise ValueError(f"no seccomp filter for the {arch} architecture")
    audit_arch, table, x32 = ARCHES[arch]
    denied = sorted({table[name] for name in DENIED if name in table})
    # Jump targets are labels resolved once the layout is known (jt/jf count the instructions skipped).
    program: list[tuple[int, object, object, int]] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 0, "foreign", audit_arch),
        (_LD_W_ABS, 0, 0, _NR),
    ]
    if x32:
        program.append((_JGE_K, "eperm", 0, _X32_SYSCALL_BIT))
    program.append((_JEQ_K, "clone", 0, table["clone"]))
    program.append((_JEQ_K, "enosys", 0, table["clone3"]))
    program += [(_JEQ_K, "eperm", 0, nr) for nr in denied]
    labels = {}
    tail = [  # BPF jumps only forward: every check above falls through to "allow" or jumps past it
        ("allow", (_RET_K, 0, 0, RET_ALLOW)),
        ("clone", (_LD_W_ABS, 0, 0, _ARG0_LOW)),
        (None, (_JSET_K, "eperm", 0, CLONE_NAMESPACE_FLAGS)),
        (None, (_RET_K, 0, 0, RET_ALLOW)),
        ("eperm", (_RET_K, 0, 0, RET_ERRNO | EPERM)),
        ("enosys", (_RET_K, 0, 0, RET_ERRNO | ENOSYS)),
        ("foreign", (_RET_K, 0, 0, RET_ERRNO | ENOSYS)),
    ]
    for label, insn in tail:
        if label:
            labels[label] = len(program)
        program.append(insn)

    def offset(index: int, target: object) -> int:
        if isinstance(target, int):
            return target
        distance = labels[str(target)] - index - 1
        if not 0 <= distance <= 255:
            raise ValueError(f"seccomp jump to {target} out of range")
        return distance

    return b"".join(
        _insn(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(program)
    )
