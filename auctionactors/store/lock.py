"""The exclusive lock of a database file: what keeps two ``serve`` daemons off one file.

An advisory ``flock`` on a descriptor of our own, held until the store closes. SQLite's own locks
are POSIX locks, independent of ``flock`` on Linux, so other opens of the file (read-only ones,
``user add``, ``backup``) are not held back by it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from auctionactors.errors import StorageUnavailable, StoreLocked


def acquire(path: str) -> int:
    """Take the exclusive ``flock`` of ``path`` on a descriptor of our own; `StoreLocked` if
    another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StorageUnavailable(f"cannot open {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise StoreLocked(f"another auctionactors serve is using {path}") from exc
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # releases the flock
