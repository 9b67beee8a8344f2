from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_selfinstruct.dedup.tokenize import (
    Vocabulary,
    encode_ids,
    get_tokenizer,
    rouge_tokenize,
    unicode_tokenize,
)
from tests.unit_tests.dedup.helpers import oracle_tokens

_TRICKY = st.sampled_from(
    ["İstanbul", "\u212a", "ß", "Σ", "ǅ", "don't", "3.14", "a_b", "\n\t", "é", "写诗", "x\u0301"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.text(), _TRICKY), max_size=6).map("".join))
def test_rouge_tokenize_matches_rouge_score(text: str) -> None:
    assert rouge_tokenize(text) == oracle_tokens(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write a poem!", ["write", "a", "poem"]),
        ("İstanbul", ["i", "stanbul"]),  # str.lower adds a combining dot, which splits the word
        ("写一首诗", []),
        ("नमस्ते दुनिया", []),
        ("", []),
    ],
)
def test_rouge_tokenize_examples(text: str, expected: list[str]) -> None:
    assert rouge_tokenize(text) == expected


def test_unicode_tokenize_splits_cjk_into_characters() -> None:
    assert unicode_tokenize("写一首关于大海的诗。") == [
        "写",
        "一",
        "首",
        "关",
        "于",
        "大",
        "海",
        "的",
        "诗",
    ]


def test_unicode_tokenize_keeps_combining_marks_inside_words() -> None:
    # Devanagari vowel signs and viramas are combining marks: Python's \w alone would cut here.
    assert unicode_tokenize("समुद्र के बारे में लिखें") == ["समुद्र", "के", "बारे", "में", "लिखें"]


def test_unicode_tokenize_normalises_and_lowercases() -> None:
    assert unicode_tokenize("Ｗrite ÉTÉ, café!") == ["write", "été", "café"]
    assert unicode_tokenize("e\u0301te\u0301") == ["été"]


def test_unicode_tokenize_agrees_with_rouge_on_plain_ascii() -> None:
    text = "Give me 3 tips, please: sleep well & drink water."
    assert unicode_tokenize(text) == rouge_tokenize(text)


def test_get_tokenizer_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown tokenizer"):
        get_tokenizer("whitespace")  # type: ignore[arg-type]


def test_vocabulary_lookup_never_grows_and_keeps_unseen_tokens_apart() -> None:
    vocab = Vocabulary()
    assert vocab.add(["a", "b", "a"]) == [0, 1, 0]
    ids = vocab.lookup(["b", "new", "other", "new"])
    assert ids[0] == 1
    assert ids[1] == ids[3] and ids[1] != ids[2]
    assert min(ids[1], ids[2]) >= 2
    assert len(vocab) == 2


def test_encode_ids_falls_back_to_int_lists_beyond_unicode() -> None:
    assert encode_ids([0, 65, 0x10FFFF]) == "\x00A\U0010ffff"
    assert encode_ids([1, 0x110000]) == [1, 0x110000]
