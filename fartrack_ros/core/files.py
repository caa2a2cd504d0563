"""Writing files that other processes may read or write at the same moment."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temporary_sibling(path: str | Path) -> Path:
    """A hidden temporary name next to ``path`` that no other writer uses.

    The name must differ per writer: two processes exporting the same graph into a shared
    cache (``fartrack eval --workers 2`` with new weights) once shared one temporary name, and
    one of them loaded the other's half-written file.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


@contextmanager
def replaced_atomically(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it replaces ``path`` in one
    step, so a reader sees the old file or the whole new one. Removed whatever happens."""
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
