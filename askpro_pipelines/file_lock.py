"""An exclusive file lock with a bounded wait, for the few local resources commands share.

Used where two `askpro` processes may set up the same thing at once: the local Dagster instance
(instance.py) and a SQLite warehouse's schema (warehouse/migrate.py). Every wait ends: past the
timeout the caller's error is raised instead of blocking forever.
"""

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path | str, timeout_s: float, on_timeout: Callable[[], Exception]) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing), polling so the wait is bounded."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise on_timeout() from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
