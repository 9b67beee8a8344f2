from __future__ import annotations

from langchain_selfinstruct.dedup import NearDuplicateIndex

POOL_ZH = ["写一首关于大海的诗。", "列出三种健康的早餐。", "解释为什么天空是蓝色的。"]
NEAR_ZH = "写一首关于大海的短诗。"  # one character added
POOL_HI = ["समुद्र के बारे में एक कविता लिखें।", "तीन स्वस्थ नाश्ते के नाम बताइए।"]
NEAR_HI = "समुद्र के बारे में एक छोटी कविता लिखें।"


def test_rouge_tokenizer_cannot_reject_chinese_or_hindi() -> None:
    # The paper's tokenizer deletes these scripts: every pair scores 0 (huggingface/evaluate#256).
    index = NearDuplicateIndex()
    index.add(POOL_ZH + POOL_HI)
    assert not index.is_near_duplicate(NEAR_ZH)
    assert not index.is_near_duplicate(NEAR_HI)
    assert not index.is_near_duplicate(POOL_ZH[0])  # not even an identical copy
    assert index.check(NEAR_ZH).max_score == 0.0


def test_unicode_tokenizer_rejects_chinese_and_hindi_near_duplicates() -> None:
    index = NearDuplicateIndex(tokenizer="unicode")
    index.add(POOL_ZH + POOL_HI)
    assert index.is_near_duplicate(NEAR_ZH)
    assert index.is_near_duplicate(NEAR_HI)
    check = index.check(NEAR_ZH, k=1)
    assert check.most_similar[0][0] == POOL_ZH[0]
    # 9 of 10 characters in order: F = 2 * 9 / (9 + 10)
    assert check.max_score == 2 * (9 / 10) * (9 / 9) / (9 / 10 + 9 / 9)
    assert not index.is_near_duplicate("用三句话总结这篇文章。")
    assert not index.is_near_duplicate("एक कहानी लिखें जो बच्चों को पसंद आए।")


def test_unicode_tokenizer_in_faiss_mode() -> None:
    index = NearDuplicateIndex(tokenizer="unicode", mode="faiss")
    index.add(POOL_ZH + POOL_HI)
    assert index.is_near_duplicate_batch([NEAR_ZH, NEAR_HI, "用三句话总结这篇文章。"]) == [
        True,
        True,
        False,
    ]


def test_unicode_tokenizer_on_english_matches_rouge_tokenizer_decisions() -> None:
    pool = ["Write a poem about the sea.", "List three healthy breakfasts."]
    queries = [
        "Write a short poem about the sea!",
        "Name three healthy breakfast foods",
        "Explain tides.",
    ]
    rouge_index, unicode_index = NearDuplicateIndex(), NearDuplicateIndex(tokenizer="unicode")
    rouge_index.add(pool)
    unicode_index.add(pool)
    for query in queries:
        assert rouge_index.check(query) == unicode_index.check(query)
