"""Recognising a full disk in the errors SQLite, the OS and tantivy raise."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from indexing.errors import StorageFull

# tantivy's Python binding raises ValueError carrying the Rust io::Error text and no errno, so
# the OS's own wording of ENOSPC is the only mark a full disk leaves on it.
_NO_SPACE = os.strerror(errno.ENOSPC)


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` reports that a write found no space left on its disk."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, ValueError) and _NO_SPACE in str(exc)


# Below this, SQLite cannot create its 32 KiB shared-memory file for a WAL database.
LOW_SPACE_BYTES = 1 << 20


def out_of_space(exc: BaseException, folder: Path) -> bool:
    """Whether `exc` is a full disk, or an I/O error on a disk with almost no space left.

    SQLite reports a shared-memory file it cannot size as an I/O error, not as a full disk.
    """
    if is_disk_full(exc):
        return True
    io_error = isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_IOERR
    return io_error and shutil.disk_usage(folder).free < LOW_SPACE_BYTES


def storage_full(path: Path) -> StorageFull:
    """The one error a full disk becomes, naming the place that could not be written."""
    folder = Path(path).resolve().parent
    return StorageFull(f"no space left on {folder}: nothing was written; free some space and retry",
                       {"path": str(folder)})
