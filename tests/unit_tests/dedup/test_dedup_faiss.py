from __future__ import annotations

import threading

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from langchain_selfinstruct.dedup import (
    LexicalHashEmbeddings,
    NearDuplicateIndex,
    VectorConfig,
    rouge_l,
)
from tests.unit_tests.dedup.helpers import NearDuplicateGenerator

_CONCEPTS = {
    "sea": 0, "ocean": 0, "waves": 0,
    "poem": 1, "verse": 1, "poetry": 1,
    "write": 2, "compose": 2, "pen": 2,
    "recipe": 3, "dish": 3, "cook": 3,
}  # fmt: skip


class ConceptEmbeddings(Embeddings):
    """Maps synonyms to one axis, so paraphrases get cosine 1 while sharing few tokens."""

    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        rows = []
        for text in texts:
            row = [0.0] * 5
            for word in text.lower().replace(".", " ").split():
                if word in _CONCEPTS:
                    row[_CONCEPTS[word]] += 1.0
            rows.append(row)
        return rows

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def _corpus(seed: int, n: int) -> list[str]:
    gen = NearDuplicateGenerator(seed)
    return [gen.next(dup_share=0.5) for _ in range(n)]


def test_faiss_mode_agrees_with_exact_mode_on_decisions() -> None:
    gen = NearDuplicateGenerator(21)
    pool = [gen.next(dup_share=0.3) for _ in range(600)]
    queries = [gen.next(dup_share=0.6) for _ in range(400)]
    exact = NearDuplicateIndex()
    approx = NearDuplicateIndex(mode="faiss", candidates=50)
    exact.add(pool)
    approx.add(pool)
    expected = exact.is_near_duplicate_batch(queries)
    got = approx.is_near_duplicate_batch(queries)
    assert sum(expected) > 50
    # Retrieval can only miss (scores are exact), never invent a duplicate.
    assert not any(g and not e for g, e in zip(got, expected, strict=True))
    assert sum(got) / sum(expected) >= 0.99


def test_faiss_mode_scores_are_exact_rouge_l() -> None:
    pool = _corpus(3, 100)
    index = NearDuplicateIndex(mode="faiss")
    index.add(pool)
    for query in _corpus(4, 20):
        for text, score in index.most_similar(query, k=5):
            assert score == rouge_l(query, text)
        check = index.check(query, k=3)
        assert check.max_cosine is not None and check.max_cosine <= 1.0 + 1e-6
        assert check.is_duplicate == (check.max_score > 0.7)


def test_ivf_takes_over_past_the_flat_limit_without_losing_vectors() -> None:
    pool = _corpus(30, 1100)
    config = VectorConfig(flat_limit=200, nprobe=64)
    index = NearDuplicateIndex(mode="faiss", vector_config=config)
    index.add(pool[:150])
    assert index._vectors is not None and index._vectors.kind == "flat"
    index.add(pool[150:250])
    assert index._vectors.kind == "ivf" and len(index._vectors) == 250
    trained_lists = index._vectors.raw.nlist
    index.add(pool[250:])  # grew past 4x the training size: rebuilt with more cells
    assert len(index._vectors) == 1100 and index._vectors.raw.nlist > trained_lists
    for i in range(0, 1100, 37):
        assert index.most_similar(pool[i], k=1)[0][1] == 1.0


@pytest.mark.parametrize(
    "config",
    [VectorConfig(index_type="hnsw", hnsw_m=16), VectorConfig(index_type="ivf", nlist=4, nprobe=4)],
)
def test_explicit_index_types_find_exact_copies(config: VectorConfig) -> None:
    pool = _corpus(31, 400)
    index = NearDuplicateIndex(mode="faiss", vector_config=config)
    index.add(pool)
    assert index._vectors is not None and index._vectors.kind == config.index_type
    assert all(index.is_near_duplicate_batch(pool[::13]))


def test_vector_config_validation() -> None:
    with pytest.raises(ValueError, match="index_type"):
        VectorConfig(index_type="lsh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nprobe"):
        VectorConfig(nprobe=0)
    with pytest.raises(ValueError, match="ivf_storage"):
        VectorConfig(ivf_storage="pq")  # type: ignore[arg-type]
    assert VectorConfig().lists_for(1_000_000) == 4096
    assert VectorConfig().lists_for(10) == 1


def test_semantic_threshold_rejects_paraphrases_and_reports_the_rule() -> None:
    embeddings = ConceptEmbeddings()
    index = NearDuplicateIndex(mode="faiss", embeddings=embeddings, semantic_threshold=0.95)
    index.add(["write a poem about the sea", "give me a recipe for soup"])
    paraphrase = "compose verse on ocean"
    assert rouge_l(paraphrase, "write a poem about the sea") < 0.7
    check = index.check(paraphrase)
    assert check.reason == "semantic_duplicate" and check.is_duplicate
    assert check.max_cosine == pytest.approx(1.0)
    assert not index.is_near_duplicate(paraphrase)  # the paper's rule alone keeps it
    near = index.check("write a poem about the sea!")
    assert near.reason == "near_duplicate"
    fresh = index.check("explain tax law")
    assert fresh.reason is None and not fresh.is_duplicate
    assert index.add_if_new([paraphrase, "explain tax law"]) == [False, True]


def test_semantic_rule_in_exact_mode_keeps_exact_rouge_decisions() -> None:
    index = NearDuplicateIndex(embeddings=ConceptEmbeddings(), semantic_threshold=0.95)
    index.add(["write a poem about the sea"])
    assert index.check("pen poetry on waves").reason == "semantic_duplicate"
    assert index.check("write a poem about the sea.").reason == "near_duplicate"
    assert index.add_if_new(["pen poetry on waves", "cook dish"]) == [False, True]


def test_custom_embeddings_are_called_in_batches() -> None:
    embeddings = ConceptEmbeddings()
    index = NearDuplicateIndex(mode="faiss", embeddings=embeddings, embed_batch_size=10)
    index.add([f"text number {i}" for i in range(35)])
    assert embeddings.calls == 4
    assert len(index) == 35


def test_embeddings_without_a_use_are_rejected() -> None:
    with pytest.raises(ValueError, match="exact mode would ignore them"):
        NearDuplicateIndex(embeddings=ConceptEmbeddings())


def test_lexical_embeddings_are_deterministic_unit_vectors() -> None:
    emb = LexicalHashEmbeddings(dim=64)
    vectors = emb.embed_array(["Write a poem", "write a POEM!", "", "list colors"])
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[[0, 1, 3]], axis=1), 1.0)
    assert not vectors[2].any()
    assert np.array_equal(vectors[0], vectors[1])  # same tokens, same vector
    assert emb.embed_query("Write a poem") == pytest.approx(vectors[0].tolist())
    assert np.array_equal(emb.embed_array(["list colors"])[0], vectors[3])


def test_lexical_cosine_is_high_for_near_duplicates() -> None:
    emb = LexicalHashEmbeddings(dim=256)
    gen = NearDuplicateGenerator(seed=9)
    texts = [gen.next(dup_share=0.8) for _ in range(300)]
    vectors = emb.embed_array(texts)
    high: list[float] = []
    low: list[float] = []
    for i in range(len(texts)):
        for j in range(i):
            score = rouge_l(texts[i], texts[j])
            if score > 0.7 or score < 0.3:
                (high if score > 0.7 else low).append(float(vectors[i] @ vectors[j]))
    assert len(high) > 50 and len(low) > 50
    assert np.median(high) > 0.75 and np.median(low) < 0.3


def test_concurrent_adds_in_faiss_mode_keep_vectors_and_texts_aligned() -> None:
    index = NearDuplicateIndex(mode="faiss")

    def work(worker: int) -> None:
        for i in range(100):
            index.add([f"alpha beta worker {worker} item {i} gamma"])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(index) == 400 and index._vectors is not None and len(index._vectors) == 400
    for text in list(index.texts)[::50]:
        assert index.most_similar(text, k=1) == [(text, 1.0)]


def test_unhashed_unigram_cosine_bounds_rouge_l_from_above() -> None:
    # With bigrams off and (almost) no hash collisions, cosine = overlap / sqrt(m n) >= F.
    emb = LexicalHashEmbeddings(dim=1 << 16, bigram_weight=0.0)
    gen = NearDuplicateGenerator(seed=12)
    texts = [gen.next(dup_share=0.7) for _ in range(150)]
    vectors = emb.embed_array(texts)
    gaps = [
        float(vectors[i] @ vectors[j]) - rouge_l(texts[i], texts[j])
        for i in range(len(texts))
        for j in range(i)
    ]
    assert sum(gap >= -1e-6 for gap in gaps) >= 0.99 * len(gaps)
    assert min(gaps) > -0.2
