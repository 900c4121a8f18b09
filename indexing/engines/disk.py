"""Recognising a full disk in the errors SQLite, the OS and tantivy raise."""

from __future__ import annotations

import errno
import os
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


def storage_full(path: Path) -> StorageFull:
    """The one error a full disk becomes, naming the place that could not be written."""
    folder = Path(path).resolve().parent
    return StorageFull(f"no space left on {folder}: nothing was written; free some space and retry",
                       {"path": str(folder)})
