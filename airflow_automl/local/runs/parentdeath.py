"""Processes that never outlive their parent: job workers (children of the service) and tuning
trials (children of a job's fork server)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
# Exit code of a process that found its parent gone.
ORPHANED_EXIT_CODE = 75


def kill_with_parent(signum: int = signal.SIGKILL) -> None:
    """Have the kernel send this process ``signum`` (SIGKILL unless told) when the thread that
    started it ends (Linux only; elsewhere nothing happens and the caller's own checks must do)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")


def die_with_parent(parent_pid: int, check_seconds: float = 1.0) -> None:
    """kill_with_parent, and on every platform exit as soon as the parent process changes."""
    kill_with_parent()
    # The parent may have died before prctl took effect.
    if os.getppid() != parent_pid:
        os._exit(ORPHANED_EXIT_CODE)

    def watch() -> None:
        while True:
            time.sleep(check_seconds)
            if os.getppid() != parent_pid:
                os._exit(ORPHANED_EXIT_CODE)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
