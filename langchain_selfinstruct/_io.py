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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically.

    The data goes to a temporary file in the same directory, is fsynced, then renamed over the
    target, so readers see either the old file or the new one, never a partial write. The new file
    keeps the old one's permissions, or gets the usual ``0o666 & ~umask`` for a new file (rather
    than the private ``0o600`` of a bare temporary file).

    Args:
        path: Destination file.
        data: Full new content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), _mode_for(target))
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text``, UTF-8 encoded, through :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


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


def append_lines_fsync(handle: IO[str], lines: list[str]) -> None:
    """Append several lines to an open text file and force them to disk with one fsync.

    A group commit: a writer with many records finished at once pays for one fsync, not one
    each. On a crash, the lines before the last one are whole; the last may be torn.

    Args:
        handle: A file opened in append mode.
        lines: The lines, without their trailing newlines.
    """
    handle.write("".join(line + "\n" for line in lines))
    handle.flush()
    os.fsync(handle.fileno())


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


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
