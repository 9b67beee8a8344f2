"""Crash-safe file writes: temp file plus rename, and append plus fsync.

A failed or interrupted run must never truncate an existing output, so every writer in the package
goes through these two helpers.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` atomically.

    The text goes to a temporary file in the same directory, is fsynced, then renamed over the
    target, so readers see either the old file or the new one, never a partial write.

    Args:
        path: Destination file.
        text: Full new content (written as UTF-8).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON through :func:`atomic_write_text`."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def append_line_fsync(handle: IO[str], line: str) -> None:
    """Append one line to an open text file and force it to disk.

    Args:
        handle: A file opened in append mode.
        line: The line, without its trailing newline.
    """
    handle.write(line + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    # The rename itself only survives a power cut once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
