"""Safe on-disk format of a NearDuplicateIndex: JSON plus FAISS's own index format, no pickle.

A saved index is a directory::

    config.json     settings, text count and the SHA-256 of every other file (written last)
    texts.json      the pool's texts, a JSON array of strings in insertion order
    vectors.faiss   the FAISS index (faiss.write_index), only when the index keeps vectors

Loading checks every checksum before parsing a file, then the FAISS header (type, vector size
and count) before FAISS reads it, so a truncated, edited or hostile file raises ``ValueError``
naming the file instead of being parsed blindly. Nothing is ever unpickled or executed.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss

from langchain_selfinstruct._io import atomic_write_json, atomic_write_text
from langchain_selfinstruct.dedup._vectors import VectorIndex, sha256

FORMAT = "langchain_selfinstruct.dedup.NearDuplicateIndex"
VERSION = 1
CONFIG, TEXTS, VECTORS = "config.json", "texts.json", "vectors.faiss"

# FAISS index header after the 4-byte type code: int32 d, int64 ntotal (little-endian).
_HEADER = struct.Struct("<iq")
_ACCEPTED_TYPES = (b"IxFI", b"IHNf", b"IwSq", b"IwFl")  # flat, HNSW, IVF-SQ, IVF-flat (IP)


@dataclass(frozen=True)
class SavedIndex:
    """What :func:`read_index_dir` returns: the settings, texts and FAISS index of a save."""

    settings: dict[str, Any]
    texts: list[str]
    vectors: Any
    source: str


def write_index_dir(
    directory: str | os.PathLike[str],
    settings: dict[str, Any],
    texts: list[str],
    vectors: VectorIndex | None,
) -> None:
    """Write an index directory (see the module docstring); config.json goes last."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    # ASCII escapes keep any string (even a lone surrogate) writable and readable as UTF-8.
    texts_json = json.dumps(texts, ensure_ascii=True)
    atomic_write_text(root / TEXTS, texts_json)
    files = {TEXTS: sha256(texts_json.encode("utf-8"))}
    if vectors is not None:
        fd, tmp = tempfile.mkstemp(prefix=f".{VECTORS}.", suffix=".tmp", dir=root)
        os.close(fd)
        try:
            faiss.write_index(vectors.raw, tmp)
            files[VECTORS] = sha256(Path(tmp).read_bytes())
            os.replace(tmp, root / VECTORS)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    else:
        (root / VECTORS).unlink(missing_ok=True)
    config = {
        "format": FORMAT,
        "version": VERSION,
        "count": len(texts),
        "settings": settings,
        "files": files,
    }
    atomic_write_json(root / CONFIG, config)


def read_index_dir(directory: str | os.PathLike[str]) -> SavedIndex:
    """Read and validate an index directory written by :func:`write_index_dir`.

    Raises:
        ValueError: A file is missing, corrupted, of the wrong shape, or from another format.
    """
    root = Path(directory)
    config = _read_json(root / CONFIG, None)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{root / CONFIG}: not a saved NearDuplicateIndex")
    if config.get("version") != VERSION:
        raise ValueError(f"{root / CONFIG}: unsupported version {config.get('version')!r}")
    count, settings, files = config.get("count"), config.get("settings"), config.get("files")
    if not _is_count(count) or not isinstance(settings, dict) or not isinstance(files, dict):
        raise ValueError(f"{root / CONFIG}: malformed (count, settings or files)")
    texts = _read_json(root / TEXTS, files.get(TEXTS))
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{root / TEXTS}: expected a JSON array of strings")
    if len(texts) != count:
        raise ValueError(f"{root / TEXTS}: holds {len(texts)} texts, config says {count}")
    vectors = None
    if VECTORS in files:
        vectors = _read_vectors(root / VECTORS, files[VECTORS], count)
    return SavedIndex(settings=settings, texts=texts, vectors=vectors, source=str(root / CONFIG))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_verified(path: Path, checksum: object) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read saved index file ({exc})") from exc
    if checksum is not None and sha256(data) != checksum:
        raise ValueError(f"{path}: does not match its checksum in {CONFIG} (corrupted or edited)")
    return data


def _read_json(path: Path, checksum: object) -> Any:
    data = _read_verified(path, checksum)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from exc


def _read_vectors(path: Path, checksum: object, count: int) -> Any:
    if not isinstance(checksum, str):
        raise ValueError(f"{path.parent / CONFIG}: missing checksum for {VECTORS}")
    data = _read_verified(path, checksum)
    if len(data) < 4 + _HEADER.size or data[:4] not in _ACCEPTED_TYPES:
        raise ValueError(f"{path}: not a FAISS flat, IVF or HNSW index")
    dim, ntotal = _HEADER.unpack_from(data, 4)
    # Checked before FAISS allocates anything from these numbers (every stored vector takes at
    # least one byte per component, even with 8-bit codes).
    if ntotal != count or dim < 1 or dim * ntotal > len(data):
        raise ValueError(
            f"{path}: FAISS header says {ntotal} vectors of size {dim}, "
            f"inconsistent with {count} texts and a {len(data)}-byte file"
        )
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise ValueError(f"{path}: unreadable FAISS index ({exc})") from exc
