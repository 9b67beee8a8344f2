from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from langchain_selfinstruct.dedup import NearDuplicateIndex, VectorConfig
from langchain_selfinstruct.dedup._vectors import sha256
from tests.unit_tests.dedup.helpers import NearDuplicateGenerator
from tests.unit_tests.dedup.test_dedup_faiss import ConceptEmbeddings

TEXTS = [
    "Write a poem about the sea.",
    "List three colors",
    "写一首诗",
    "",
    "Write a poem about the sea.",
]


def _queries() -> list[str]:
    gen = NearDuplicateGenerator(seed=6)
    return [*TEXTS, "write poem sea", "colors three list", *(gen.next() for _ in range(20))]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"tokenizer": "unicode", "threshold": 0.5},
        {"mode": "faiss"},
        {"mode": "faiss", "vector_config": VectorConfig(index_type="hnsw", hnsw_m=8)},
        {"mode": "faiss", "vector_config": VectorConfig(index_type="ivf", ivf_storage="sq8")},
    ],
)
def test_round_trip_gives_identical_answers(tmp_path: Path, kwargs: dict[str, object]) -> None:
    index = NearDuplicateIndex(**kwargs)  # type: ignore[arg-type]
    index.add(TEXTS)
    index.save(tmp_path / "saved")
    loaded = NearDuplicateIndex.load(tmp_path / "saved")
    assert list(loaded.texts) == TEXTS
    assert (loaded.mode, loaded.threshold, loaded.tokenizer) == (
        index.mode,
        index.threshold,
        index.tokenizer,
    )
    assert loaded.vector_config == index.vector_config
    for query in _queries():
        assert loaded.check(query, k=3) == index.check(query, k=3)
    loaded.add(["another text"])  # still usable after loading
    assert len(loaded) == len(TEXTS) + 1


def test_saved_files_are_json_and_faiss(tmp_path: Path) -> None:
    index = NearDuplicateIndex(mode="faiss")
    index.add(TEXTS)
    index.save(tmp_path)
    assert json.loads((tmp_path / "texts.json").read_text(encoding="utf-8")) == TEXTS
    config = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert config["count"] == len(TEXTS) and config["settings"]["mode"] == "faiss"
    assert faiss.read_index(str(tmp_path / "vectors.faiss")).ntotal == len(TEXTS)
    exact = NearDuplicateIndex()
    exact.add(TEXTS)
    exact.save(tmp_path)  # overwriting a FAISS save with an exact one drops the vector file
    assert not (tmp_path / "vectors.faiss").exists()
    assert NearDuplicateIndex.load(tmp_path).mode == "exact"


def test_custom_embeddings_must_be_passed_again(tmp_path: Path) -> None:
    index = NearDuplicateIndex(mode="faiss", embeddings=ConceptEmbeddings(), semantic_threshold=0.9)
    index.add(["write a poem about the sea"])
    index.save(tmp_path)
    with pytest.raises(ValueError, match=r"ConceptEmbeddings.*pass embeddings="):
        NearDuplicateIndex.load(tmp_path)
    loaded = NearDuplicateIndex.load(tmp_path, embeddings=ConceptEmbeddings())
    assert loaded.check("compose verse on ocean").reason == "semantic_duplicate"


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    index = NearDuplicateIndex(mode="faiss")
    index.add(TEXTS)
    index.save(tmp_path)
    return tmp_path


def _rewrite(path: Path, data: bytes, saved: Path, *, fix_checksum: bool) -> None:
    path.write_bytes(data)
    if fix_checksum:  # a deliberate forgery, not just corruption
        config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
        config["files"][path.name] = sha256(data)
        (saved / "config.json").write_text(json.dumps(config), encoding="utf-8")


@pytest.mark.parametrize("name", ["texts.json", "vectors.faiss"])
def test_corruption_is_detected_by_checksum(saved: Path, name: str) -> None:
    path = saved / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{name}.*checksum"):
        NearDuplicateIndex.load(saved)


@pytest.mark.parametrize("name", ["config.json", "texts.json", "vectors.faiss"])
def test_missing_file_is_named(saved: Path, name: str) -> None:
    (saved / name).unlink()
    with pytest.raises(ValueError, match=name):
        NearDuplicateIndex.load(saved)


@pytest.mark.parametrize(
    ("config_edit", "message"),
    [
        (lambda c: c.update(format="pickle"), "not a saved NearDuplicateIndex"),
        (lambda c: c.update(version=99), "unsupported version"),
        (lambda c: c.update(count="many"), "malformed"),
        (lambda c: c["settings"].update(threshold="high"), "invalid settings"),
        (lambda c: c["settings"].update(mode="eval"), "invalid settings"),
        (lambda c: c["settings"]["vector_config"].update(hnsw_m=-1), "invalid settings"),
        (lambda c: c["settings"]["vector_config"].update(__class__="x"), "invalid settings"),
        (lambda c: c["settings"].update(embedding={"kind": "lexical", "dim": "big"}), "lexical"),
        (lambda c: c.update(count=3), f"holds {len(TEXTS)} texts, config says 3"),
    ],
)
def test_hostile_config_values_give_clear_errors(
    saved: Path, config_edit: object, message: str
) -> None:
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    config_edit(config)  # type: ignore[operator]
    (saved / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        NearDuplicateIndex.load(saved)
    assert "config.json" in str(info.value) or "texts.json" in str(info.value)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b'{"a": 1}', "array of strings"),
        (b'["ok", 3]', "array of strings"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON|array of strings"),
    ],
)
def test_hostile_texts_file_gives_clear_errors(saved: Path, payload: bytes, message: str) -> None:
    _rewrite(saved / "texts.json", payload, saved, fix_checksum=True)
    with pytest.raises(ValueError, match=message):
        NearDuplicateIndex.load(saved)


def test_hostile_faiss_files_are_rejected_before_faiss_parses_them(saved: Path) -> None:
    path = saved / "vectors.faiss"
    good = path.read_bytes()
    pickle_like = b"\x80\x04\x95cos\nsystem\n(S'echo pwned'\ntR."
    _rewrite(path, pickle_like, saved, fix_checksum=True)
    with pytest.raises(ValueError, match=r"vectors\.faiss.*not a FAISS"):
        NearDuplicateIndex.load(saved)
    huge = good[:4] + np.array([256], "<i4").tobytes() + np.array([5], "<i8").tobytes()
    _rewrite(path, huge, saved, fix_checksum=True)  # claims 5 vectors but holds none
    with pytest.raises(ValueError, match=r"vectors\.faiss.*inconsistent"):
        NearDuplicateIndex.load(saved)
    _rewrite(path, good[: len(good) - 100], saved, fix_checksum=True)  # truncated
    with pytest.raises(ValueError, match=r"vectors\.faiss"):
        NearDuplicateIndex.load(saved)


def test_faiss_index_of_the_wrong_kind_is_rejected(saved: Path) -> None:
    other = faiss.IndexFlatL2(256)
    other.add(np.zeros((len(TEXTS), 256), dtype=np.float32))
    faiss.write_index(other, str(saved / "vectors.faiss"))
    _rewrite(
        saved / "vectors.faiss", (saved / "vectors.faiss").read_bytes(), saved, fix_checksum=True
    )
    with pytest.raises(ValueError, match=r"vectors\.faiss"):
        NearDuplicateIndex.load(saved)


def test_faiss_vectors_of_the_wrong_size_are_rejected(saved: Path) -> None:
    other = faiss.IndexFlatIP(64)
    other.add(np.zeros((len(TEXTS), 64), dtype=np.float32))
    faiss.write_index(other, str(saved / "vectors.faiss"))
    _rewrite(
        saved / "vectors.faiss", (saved / "vectors.faiss").read_bytes(), saved, fix_checksum=True
    )
    with pytest.raises(ValueError, match="size 64"):
        NearDuplicateIndex.load(saved)
