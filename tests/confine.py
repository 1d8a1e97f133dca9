"""Run a command confined as packaging/zitui.service confines zitui, without systemd.

Usage: /usr/bin/python3 tests/confine.py SYSCALL,SYSCALL,... COMMAND [ARG...]

Before exec: no new privileges, memory that is writable never becomes executable (the
kernel's PR_SET_MDWE, what MemoryDenyWriteExecute= asks for), and a seccomp filter that lets
only the named system calls through and answers the others with EPERM (SystemCallFilter= with
SystemCallErrorNumber=EPERM). Both restrictions hold for every program the command starts.
Runs under Debian's python3, which has libseccomp's bindings (python3-seccomp).
"""

import contextlib
import ctypes
import errno
import os
import sys

import seccomp

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def main() -> None:
    allowed, command = sys.argv[1].split(","), sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE)")
    # libseccomp sets no_new_privs before it loads the filter.
    rules = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    for name in allowed:
        # A system call this architecture does not have is left out.
        with contextlib.suppress(RuntimeError, ValueError):
            rules.add_rule(seccomp.ALLOW, name)
    rules.load()
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
