from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from langchain_selfinstruct.dedup import DuplicateCheck, NearDuplicateIndex
from tests.unit_tests.dedup.helpers import NearDuplicateGenerator, oracle_score, oracle_tokens


def _brute_scores(query: str, pool: Sequence[str]) -> list[float]:
    q = oracle_tokens(query)
    return [oracle_score(q, oracle_tokens(text)) for text in pool]


def _brute_top_k(query: str, pool: Sequence[str], k: int) -> list[tuple[str, float]]:
    scores = _brute_scores(query, pool)
    order = sorted(range(len(pool)), key=lambda i: (-scores[i], i))[:k]
    return [(pool[i], scores[i]) for i in order]


def test_incremental_dedup_decisions_equal_brute_force() -> None:
    gen = NearDuplicateGenerator(seed=11)
    index = NearDuplicateIndex()
    accepted: list[str] = []
    pool_tokens: list[list[str]] = []
    rejected = 0
    for _ in range(500):
        text = gen.next(dup_share=0.5)
        tokens = oracle_tokens(text)
        expected = any(oracle_score(tokens, other) > 0.7 for other in pool_tokens)
        assert index.is_near_duplicate(text) == expected, text
        if not expected:
            index.add([text])
            accepted.append(text)
            pool_tokens.append(tokens)
        rejected += expected
    assert list(index.texts) == accepted
    assert 50 < rejected < 450  # the corpus really exercises both outcomes


def test_thousands_of_near_duplicates_against_a_fixed_pool() -> None:
    gen = NearDuplicateGenerator(seed=5)
    pool = [gen.next(dup_share=0.3) for _ in range(120)]
    index = NearDuplicateIndex()
    index.add(pool)
    pool_tokens = [oracle_tokens(t) for t in pool]
    queries = [gen.next(dup_share=0.9) for _ in range(1500)]
    got = index.is_near_duplicate_batch(queries)
    positives = 0
    for query, decision in zip(queries, got, strict=True):
        q = oracle_tokens(query)
        expected = any(oracle_score(q, other) > 0.7 for other in pool_tokens)
        assert decision == expected, query
        positives += expected
    assert 100 < positives < 1400


def test_tie_computed_as_exactly_0_7_is_kept() -> None:
    # LCS 7 between two 10-token texts: rouge_score computes 0.7 exactly, the paper keeps it.
    pool_text = "a b c d e f g h i j"
    query = "a b c d e f g x y z"
    assert oracle_score(oracle_tokens(query), oracle_tokens(pool_text)) == 0.7
    index = NearDuplicateIndex()
    index.add([pool_text])
    assert not index.is_near_duplicate(query)
    check = index.check(query)
    assert check.max_score == 0.7 and not check.is_duplicate
    assert index.add_if_new([query]) == [True]


def test_tie_rounded_up_by_rouge_score_is_rejected_like_the_paper() -> None:
    # LCS 7, lengths 7 and 13: 2*7/20 is 0.7 on paper but rouge_score's floats give
    # 0.7000000000000001, so its loop rejects; identical decisions mean rejecting too.
    pool_text = "a b c d e f g"
    query = "a b c d e f g h i j k l m"
    assert oracle_score(oracle_tokens(query), oracle_tokens(pool_text)) > 0.7
    index = NearDuplicateIndex()
    index.add([pool_text])
    assert index.is_near_duplicate(query)
    assert index.check(query).reason == "near_duplicate"


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_most_similar_is_the_brute_force_top_k(k: int) -> None:
    gen = NearDuplicateGenerator(seed=2)
    pool = [gen.next(dup_share=0.4) for _ in range(60)]
    index = NearDuplicateIndex()
    index.add(pool)
    for query in [gen.next(dup_share=0.6) for _ in range(40)] + ["", "zzz unrelated"]:
        assert index.most_similar(query, k=k) == _brute_top_k(query, pool, k)


def test_check_reports_scores_and_top_k() -> None:
    gen = NearDuplicateGenerator(seed=8)
    pool = [gen.next(dup_share=0.5) for _ in range(40)]
    index = NearDuplicateIndex()
    index.add(pool)
    for query in [gen.next(dup_share=0.7) for _ in range(30)]:
        check = index.check(query, k=5)
        best = max(_brute_scores(query, pool))
        assert check == DuplicateCheck(
            is_duplicate=best > 0.7,
            reason="near_duplicate" if best > 0.7 else None,
            max_score=best,
            most_similar=_brute_top_k(query, pool, 5),
        )
    assert index.check("anything", k=0).most_similar == []


def test_average_similarity_is_the_exact_mean() -> None:
    gen = NearDuplicateGenerator(seed=4)
    pool = [gen.next() for _ in range(80)]
    index = NearDuplicateIndex()
    assert index.average_similarity("empty pool") == 0.0
    index.add(pool)
    for query in [gen.next() for _ in range(20)] + ["", "unrelated words only"]:
        scores = _brute_scores(query, pool)
        assert index.average_similarity(query) == pytest.approx(
            sum(scores) / len(scores), abs=1e-12
        )


def test_pool_may_hold_the_same_text_twice() -> None:
    index = NearDuplicateIndex()
    index.add(["write a poem", "write a poem", "list three colors"])
    assert len(index) == 3
    assert index.most_similar("write a poem", k=2) == [("write a poem", 1.0)] * 2
    assert index.is_near_duplicate("Write a poem!")


def test_texts_without_tokens_are_never_duplicates() -> None:
    index = NearDuplicateIndex()
    index.add(["", "???", "写一首诗"])
    assert not index.is_near_duplicate("")
    assert not index.is_near_duplicate("写一首诗")  # rouge_score deletes CJK: scores are 0
    assert index.check("写一首诗").max_score == 0.0


def test_empty_pool() -> None:
    index = NearDuplicateIndex()
    assert not index.is_near_duplicate("hello")
    assert index.most_similar("hello") == []
    assert index.check("hello") == DuplicateCheck(False, None, 0.0, [])


def test_add_if_new_checks_against_earlier_texts_of_the_same_call() -> None:
    index = NearDuplicateIndex()
    added = index.add_if_new(["write a poem about the sea", "Write a poem about the sea!", "x y"])
    assert added == [True, False, True]
    assert list(index.texts) == ["write a poem about the sea", "x y"]


def test_texts_view_is_read_only_and_ordered() -> None:
    index = NearDuplicateIndex()
    index.add(["b", "a"])
    view = index.texts
    assert list(view) == ["b", "a"] and view[0] == "b" and view[-1:] == ["a"] and len(view) == 2
    assert not hasattr(view, "append")
    index.add(["c"])
    assert list(view) == ["b", "a", "c"]


def test_concurrent_adds_from_threads_keep_every_text() -> None:
    index = NearDuplicateIndex()
    per_thread = 300

    def work(worker: int) -> None:
        for i in range(per_thread):
            index.add([f"worker {worker} item {i} text"])
            index.is_near_duplicate(f"worker {worker} item {i}")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(index) == 4 * per_thread
    assert sorted(index.texts) == sorted(
        f"worker {w} item {i} text" for w in range(4) for i in range(per_thread)
    )
    assert index.most_similar("worker 2 item 17 text", k=1) == [("worker 2 item 17 text", 1.0)]


def test_concurrent_add_if_new_accepts_one_copy_only() -> None:
    index = NearDuplicateIndex()
    results: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        got = index.add_if_new(["describe the water cycle in simple words"])
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(index) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"mode": "fuzzy"}, "mode"),
        ({"tokenizer": "spacy"}, "tokenizer"),
        ({"semantic_threshold": 2.0}, "semantic_threshold"),
        ({"candidates": 0}, "candidates"),
        ({"embed_batch_size": 0}, "embed_batch_size"),
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NearDuplicateIndex(**kwargs)  # type: ignore[arg-type]


def test_a_single_string_is_not_mistaken_for_a_list() -> None:
    index = NearDuplicateIndex()
    with pytest.raises(TypeError, match="single string"):
        index.add("write a poem")
    with pytest.raises(TypeError, match="strings"):
        index.add([3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="k must be"):
        index.check_batch(["x"], k=-1)
