from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from pydantic import ValidationError
from rouge_score import rouge_scorer

from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps import (
    ALPACA_EXTRA_BLACKLIST,
    PAPER_BLACKLIST,
    InstanceFilter,
    InstructionFilter,
    InstructionFilterResult,
)

FOUR_WORDS = "Summarize the following paragraph."


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def reasons(result: InstructionFilterResult) -> dict[str, str]:
    return {r.text: r.reason for r in result.rejected}


def reference_rouge(a: str, b: str) -> float:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return float(scorer.score(a, b)["rougeL"].fmeasure)


@dataclass(frozen=True)
class FakeCheck:
    is_duplicate: bool
    reason: str | None
    max_score: float
    most_similar: list[tuple[str, float]]


@dataclass
class FakeIndex:
    """Scores by word-set Jaccard so the filter's own ROUGE-L use stays independent."""

    texts: list[str] = field(default_factory=list)
    threshold: float = 0.7
    duplicate_reason: str = "near_duplicate"
    checked: list[list[str]] = field(default_factory=list)

    def check_batch(self, texts: Sequence[str], k: int = 10) -> list[FakeCheck]:
        self.checked.append(list(texts))
        return [self._check(text, k) for text in texts]

    def _check(self, text: str, k: int) -> FakeCheck:
        scored = sorted(((o, jaccard(text, o)) for o in self.texts), key=lambda p: -p[1])[:k]
        top = scored[0][1] if scored else 0.0
        duplicate = top > self.threshold
        return FakeCheck(duplicate, self.duplicate_reason if duplicate else None, top, scored)

    def add(self, texts: Iterable[str]) -> None:
        self.texts.extend(texts)


def jaccard(a: str, b: str) -> float:
    x, y = set(a.lower().split()), set(b.lower().split())
    return len(x & y) / len(x | y) if x | y else 0.0


# --- normalisation and cheap rules -------------------------------------------------------------


def test_normalises_whitespace_and_quotes() -> None:
    result = InstructionFilter().invoke(['  "Summarize   the\n following\tparagraph."  '])
    assert result.kept == [FOUR_WORDS]


@pytest.mark.parametrize("text", ["", "   \n\t", '""', "' '", "\u201c \u201d"])
def test_empty_after_normalisation(text: str) -> None:
    result = InstructionFilter().invoke([text])
    assert result.kept == []
    assert [(r.text, r.reason) for r in result.rejected] == [(text, "empty")]


@pytest.mark.parametrize(
    ("count", "reason"),
    [(1, "too_short"), (3, "too_short"), (4, None), (150, None), (151, "too_long")],
)
def test_word_count_boundaries(count: int, reason: str | None) -> None:
    text = words(count)
    result = InstructionFilter().invoke([text])
    if reason is None:
        assert result.kept == [text]
    else:
        assert reasons(result) == {text: reason}
        assert result.rejected[0].detail["words"] == count


def test_word_limits_are_configurable() -> None:
    flt = InstructionFilter(min_words=1, max_words=2)
    result = flt.invoke(["one", "one two", "one two three"])
    assert result.kept == ["one two"]
    assert reasons(result) == {"one": "too_short", "one two three": "too_long"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Describe the image below in detail.", "blacklisted:image"),
        ("Describe the Images below in detail.", "blacklisted:image"),
        ("Explain what THESE GRAPHS show us.", "blacklisted:graph"),
        ("Compare the two pictures side by side.", "blacklisted:picture"),
        ("Open the file and count lines.", "blacklisted:file"),
        ("Read these files and merge them.", "blacklisted:file"),
        ("Look at the maps of Europe carefully.", "blacklisted:map"),
        ("Draw a cat using only letters.", "blacklisted:draw"),
        ("Plot sales against time for 2020.", "blacklisted:plot"),
        ("Go to the website and summarize it.", "blacklisted:go to"),
        ("Tell me where to go to relax.", "blacklisted:go to"),
        ("Check the map-based route for errors.", "blacklisted:map"),
    ],
)
def test_blacklist_matches_whole_words_case_insensitively(text: str, reason: str) -> None:
    result = InstructionFilter().invoke([text])
    assert result.kept == []
    assert reasons(result) == {text: reason}
    assert result.rejected[0].detail["word"] == reason.split(":", 1)[1]


@pytest.mark.parametrize(
    "text",
    [
        "List the documents that were filed yesterday.",
        "Explain what a mapping between sets is.",
        "Suggest a graphic design color scheme.",
        "Summarize the plots of these novels.",
        "Describe how the artist draws inspiration.",
        "Name places we could go together someday.",
        "Describe an imagery technique in poetry.",
    ],
)
def test_blacklist_ignores_longer_words(text: str) -> None:
    assert InstructionFilter().invoke([text]).kept == [text]


def test_alpaca_extra_blacklist_is_opt_in() -> None:
    text = "Compose music for a short birthday party."
    assert InstructionFilter().invoke([text]).kept == [text]
    result = InstructionFilter(extra_blacklist=ALPACA_EXTRA_BLACKLIST).invoke([text])
    assert reasons(result) == {text: "blacklisted:music"}


def test_blacklist_can_be_replaced_or_emptied() -> None:
    text = "Describe the image below in detail."
    assert InstructionFilter(blacklist=()).invoke([text]).kept == [text]
    result = InstructionFilter(blacklist=("detail",)).invoke([text])
    assert reasons(result) == {text: "blacklisted:detail"}
    assert "images" in PAPER_BLACKLIST
    assert "plots" not in PAPER_BLACKLIST


@pytest.mark.parametrize(
    "text", ["Write a program that sorts numbers.", "write A PROGRAM to sort numbers quickly."]
)
def test_write_a_program_prefix(text: str) -> None:
    result = InstructionFilter().invoke([text])
    assert reasons(result) == {text: "starts_with_write_a_program"}


def test_prefix_only_at_start_and_configurable() -> None:
    inside = "Explain how to write a program in C."
    assert InstructionFilter().invoke([inside]).kept == [inside]
    text = "Create a function that adds numbers."
    result = InstructionFilter(reject_prefixes=("Create a function",)).invoke([text])
    assert reasons(result) == {text: "starts_with_create_a_function"}
    assert (
        InstructionFilter(reject_prefixes=()).invoke(["Write a program that sorts numbers."]).kept
    )


@pytest.mark.parametrize(
    "text", ["- List three fruit names please.", "(Optional) explain your answer here."]
)
def test_punctuation_start(text: str) -> None:
    result = InstructionFilter().invoke([text])
    assert reasons(result) == {text: "starts_with_punctuation"}
    assert InstructionFilter(reject_punctuation_start=False).invoke([text]).kept == [text]


@pytest.mark.parametrize(
    "text", ["Énumérez trois fruits rouges, s'il vous plaît.", "¿Cómo se dice hola en inglés?"]
)
def test_non_ascii_start_and_switch(text: str) -> None:
    result = InstructionFilter().invoke([text])
    assert reasons(result) == {text: "non_ascii_start"}
    assert InstructionFilter(reject_non_ascii_start=False).invoke([text]).kept == [text]


def test_first_rule_wins() -> None:
    short_and_blacklisted = "Draw an image."
    result = InstructionFilter().invoke([short_and_blacklisted])
    assert reasons(result) == {short_and_blacklisted: "too_short"}
    text = "Write a program that draws an image."
    assert reasons(InstructionFilter().invoke([text])) == {text: "blacklisted:image"}


def test_custom_rules_run_last_and_only_on_new_texts() -> None:
    def mentions_url(text: str) -> str | None:
        return "mentions_url" if re.search(r"https?://", text) else None

    seen: list[str] = []

    def spy(text: str) -> str | None:
        seen.append(text)
        return None

    url = "Summarize the page at https://example.org please."
    short = "See https://example.org"
    flt = InstructionFilter(custom_rules=[spy, mentions_url])
    result = flt.invoke([url, short, FOUR_WORDS, FOUR_WORDS])
    assert result.kept == [FOUR_WORDS]
    assert reasons(result) == {url: "mentions_url", short: "too_short"} | {
        FOUR_WORDS: "near_duplicate"
    }
    assert result.rejected[0].detail == {"rule": "mentions_url"}
    # Neither the too-short text nor the second copy (a batch duplicate) reached the rules.
    assert seen == [url, FOUR_WORDS]


def test_stats_count_every_reason() -> None:
    batch = [
        FOUR_WORDS,
        "Too short.",
        "Describe the image below in detail.",
        "Describe these images in more detail.",
        "",
        FOUR_WORDS,
        "Give three tips for staying healthy.",
    ]
    result = InstructionFilter().invoke(batch)
    assert result.stats == {
        "total": 7,
        "kept": 2,
        "dropped_too_short": 1,
        "dropped_blacklisted:image": 2,
        "dropped_empty": 1,
        "dropped_near_duplicate": 1,
    }
    assert len(result.kept) + len(result.rejected) == len(batch)
    assert [r.text for r in result.rejected] == [batch[1], batch[2], batch[3], batch[4], batch[5]]


# --- near-duplicates ---------------------------------------------------------------------------

BASE = "Give three tips for staying healthy during the winter months."
NEAR = "Give three tips for staying healthy during the summer months."
OTHER = "Translate the following sentence into French for me."


def test_batch_internal_dedup_in_order() -> None:
    assert reference_rouge(BASE, NEAR) > 0.7
    result = InstructionFilter().invoke([BASE, OTHER, NEAR])
    assert result.kept == [BASE, OTHER]
    [rejection] = result.rejected
    assert (rejection.text, rejection.reason) == (NEAR, "near_duplicate")
    assert rejection.detail["against"] == "batch"
    assert rejection.detail["most_similar"][0][0] == BASE
    assert rejection.detail["score"] == pytest.approx(reference_rouge(NEAR, BASE))

    reverse = InstructionFilter().invoke([NEAR, BASE])
    assert reverse.kept == [NEAR]
    assert reasons(reverse) == {BASE: "near_duplicate"}


def test_batch_threshold_is_strict() -> None:
    score = reference_rouge(NEAR, BASE)
    assert InstructionFilter(threshold=score).invoke([BASE, NEAR]).kept == [BASE, NEAR]
    assert InstructionFilter(threshold=score - 1e-6).invoke([BASE, NEAR]).kept == [BASE]


def test_batch_threshold_defaults_to_the_index_threshold() -> None:
    lenient = FakeIndex(threshold=0.99)
    assert InstructionFilter(index=lenient).invoke([BASE, NEAR]).kept == [BASE, NEAR]


def test_pool_duplicates_rejected_with_index_reason() -> None:
    index = FakeIndex(texts=[BASE])
    result = InstructionFilter(index=index).invoke([BASE.upper(), OTHER])
    assert result.kept == [OTHER]
    [rejection] = result.rejected
    assert rejection.reason == "near_duplicate"
    assert rejection.detail["against"] == "pool"
    assert rejection.detail["score"] == 1.0
    assert rejection.detail["most_similar"] == [(BASE, 1.0)]

    semantic = FakeIndex(texts=[BASE], duplicate_reason="semantic_duplicate")
    assert reasons(InstructionFilter(index=semantic).invoke([BASE])) == {BASE: "semantic_duplicate"}


def test_only_rule_survivors_reach_the_index() -> None:
    index = FakeIndex()
    InstructionFilter(index=index).invoke(["Too short.", OTHER, "Draw an image of a cat."])
    assert index.checked == [[OTHER]]
    InstructionFilter(index=index).invoke(["Too short."])
    assert index.checked == [[OTHER]]


@pytest.mark.parametrize("update", [False, True])
def test_update_index_adds_only_kept_texts(update: bool) -> None:
    index = FakeIndex(texts=[BASE])
    batch = [OTHER, BASE, "Too short.", f"  {FOUR_WORDS}  ", OTHER]
    result = InstructionFilter(index=index, update_index=update).invoke(batch)
    assert result.kept == [OTHER, FOUR_WORDS]
    assert index.texts == ([BASE, OTHER, FOUR_WORDS] if update else [BASE])


def test_similar_merges_pool_and_batch_best_first() -> None:
    pool = [f"Give three tips for {topic}." for topic in ("cooking", "sleeping", "reading")]
    index = FakeIndex(texts=pool)
    flt = InstructionFilter(index=index, num_similar=2, threshold=0.99)
    first = "Give three tips for gardening in spring."
    second = "Give three tips for gardening in autumn."
    result = flt.invoke([first, second])
    assert result.kept == [first, second]
    assert len(result.similar[first]) == 2
    assert result.similar[first][0][0] in pool
    best = result.similar[second][0]
    assert best[0] == first
    assert best[1] == pytest.approx(reference_rouge(second, first))
    scores = [score for _, score in result.similar[second]]
    assert scores == sorted(scores, reverse=True)


def test_with_the_real_index_sharing_the_pool() -> None:
    index = NearDuplicateIndex()
    index.add([BASE])
    flt = InstructionFilter(index=index, update_index=True)
    first = flt.invoke([NEAR, OTHER, OTHER.lower()])
    assert first.kept == [OTHER]
    assert [(r.text, r.reason, r.detail["against"]) for r in first.rejected] == [
        (NEAR, "near_duplicate", "pool"),
        (OTHER.lower(), "near_duplicate", "batch"),
    ]
    assert first.rejected[0].detail["score"] == pytest.approx(reference_rouge(NEAR, BASE))
    [(similar_text, score)] = first.similar[OTHER]
    assert similar_text == BASE
    assert score == pytest.approx(reference_rouge(OTHER, BASE))
    assert score > 0
    assert list(index.texts) == [BASE, OTHER]
    second = flt.invoke([f"{OTHER} Thanks."])
    assert second.rejected[0].detail["most_similar"][0][0] == OTHER


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list('ab cé.\n"-')), max_size=40), max_size=8))
def test_every_candidate_is_accounted_for(batch: list[str]) -> None:
    result = InstructionFilter(min_words=0).invoke(batch)
    assert len(result.kept) + len(result.rejected) == len(batch)
    assert result.stats["total"] == len(batch)
    assert sum(v for k, v in result.stats.items() if k.startswith("dropped_")) == len(
        result.rejected
    )
    for text in result.kept:
        assert text == " ".join(text.split())
        assert text


def test_paper_seed_instructions_length_and_blacklist(paper_seed_path: Path) -> None:
    lines = paper_seed_path.read_text(encoding="utf-8").splitlines()
    instructions = [json.loads(line)["instruction"] for line in lines if line.strip()]
    expected = {"too_short": 0, "too_long": 0, "blacklisted": 0}
    for instruction in instructions:
        n = len(instruction.split())
        if n <= 3:
            expected["too_short"] += 1
        elif n > 150:
            expected["too_long"] += 1
        elif any(re.search(rf"\b{w}\b", instruction, re.IGNORECASE) for w in PAPER_BLACKLIST):
            expected["blacklisted"] += 1
    flt = InstructionFilter(
        reject_prefixes=(),
        reject_punctuation_start=False,
        reject_non_ascii_start=False,
        threshold=1.0,
    )
    stats = flt.invoke(instructions).stats
    blacklisted = sum(v for k, v in stats.items() if k.startswith("dropped_blacklisted:"))
    assert stats.get("dropped_too_short", 0) == expected["too_short"]
    assert stats.get("dropped_too_long", 0) == expected["too_long"]
    assert blacklisted == expected["blacklisted"]
    assert stats["kept"] == len(instructions) - sum(expected.values())


# --- Runnable behaviour ------------------------------------------------------------------------


class RunNames(BaseCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    def on_chain_start(
        self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.names.append(kwargs["name"])


def test_run_names_are_traced() -> None:
    handler = RunNames()
    InstructionFilter().invoke([FOUR_WORDS], {"callbacks": [handler]})
    InstanceFilter().invoke(make_task([("", "out")]), {"callbacks": [handler]})
    assert handler.names == ["self_instruct.filter_instructions", "self_instruct.filter_instances"]


async def test_async_and_batch() -> None:
    flt = InstructionFilter()
    assert (await flt.ainvoke([FOUR_WORDS])).kept == [FOUR_WORDS]
    assert [r.kept for r in flt.batch([[FOUR_WORDS], ["Too short."]])] == [[FOUR_WORDS], []]


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        InstructionFilter(min_word=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        InstanceFilter(max_instance=3)  # type: ignore[call-arg]


# --- InstanceFilter ----------------------------------------------------------------------------


def make_task(pairs: list[tuple[str, str]], **extra: Any) -> Task:
    instances = [Instance(input=i, output=o) for i, o in pairs]
    return Task(id="t1", instruction="Do the thing well.", instances=instances, **extra)


def pairs_of(task: Task | None) -> list[tuple[str, str]]:
    assert task is not None
    return [(i.input, i.output) for i in task.instances]


@pytest.mark.parametrize(
    ("pair", "reason"),
    [
        (("hello", ""), "empty_output"),
        (("hello", "  \n"), "empty_output"),
        (("hello", "hello"), "input_equals_output"),
        ((" hello ", "hello\n"), "input_equals_output"),
        (("Here is the list:", "apples"), "ends_with_colon"),
        (("apples", "The answer is: "), "ends_with_colon"),
    ],
)
def test_instance_rules(pair: tuple[str, str], reason: str) -> None:
    good = ("x", "y")
    result = InstanceFilter().apply(make_task([good, pair]))
    assert pairs_of(result.task) == [good]
    assert [(r.instance.input, r.instance.output, r.reason) for r in result.rejected] == [
        (*pair, reason)
    ]
    assert result.task_reason is None


def test_exact_duplicates_after_strip() -> None:
    result = InstanceFilter().apply(make_task([("a", "b"), (" a", "b "), ("", "c"), ("", "c")]))
    assert pairs_of(result.task) == [("a", "b"), ("", "c")]
    assert [r.reason for r in result.rejected] == ["duplicate", "duplicate"]


def test_conflicting_outputs_drop_the_task() -> None:
    task = make_task([("2+2", "4"), ("3+3", "6"), ("2+2 ", "5")])
    result = InstanceFilter().apply(task)
    assert result.task is None
    assert result.task_reason == "conflicting_outputs"
    assert InstanceFilter().invoke(task) is None


def test_empty_inputs_may_have_different_outputs() -> None:
    task = make_task([("", "A poem."), ("", "Another poem.")])
    assert pairs_of(InstanceFilter().invoke(task)) == [("", "A poem."), ("", "Another poem.")]


def test_invalid_instances_do_not_cause_conflicts() -> None:
    task = make_task([("q", "a"), ("q", "Answer:")])
    result = InstanceFilter().apply(task)
    assert pairs_of(result.task) == [("q", "a")]
    assert [r.reason for r in result.rejected] == ["ends_with_colon"]


def test_no_valid_instances_drops_the_task() -> None:
    for task in (make_task([("a", ""), ("b", "b")]), make_task([])):
        result = InstanceFilter().apply(task)
        assert (result.task, result.task_reason) == (None, "no_valid_instances")


def test_over_limit_keeps_the_first_valid_in_order() -> None:
    pairs = [(f"in{i}", f"out{i}") for i in range(8)]
    pairs.insert(1, ("bad", ""))
    result = InstanceFilter().apply(make_task(pairs))
    kept = [p for p in pairs if p[1]]
    assert pairs_of(result.task) == kept[:5]
    assert [(r.instance.input, r.reason) for r in result.rejected] == [
        ("bad", "empty_output"),
        ("in5", "over_limit"),
        ("in6", "over_limit"),
        ("in7", "over_limit"),
    ]
    assert pairs_of(InstanceFilter(max_instances=2).invoke(make_task(pairs))) == kept[:2]


def test_task_fields_are_kept_and_input_not_mutated() -> None:
    task = make_task([("a", "b"), ("a", "")], is_classification=True, motivation_app="demo")
    out = InstanceFilter().invoke(task)
    assert out is not None
    assert (out.id, out.is_classification, out.model_extra) == (
        "t1",
        True,
        {"motivation_app": "demo"},
    )
    assert len(task.instances) == 2
    assert "instances" in out.model_fields_set


def test_instance_custom_rules() -> None:
    def no_lorem(input_: str, output: str) -> str | None:
        return "placeholder" if "lorem" in output.lower() else None

    task = make_task([("a", "Lorem ipsum"), ("b", "fine")])
    result = InstanceFilter(custom_rules=[no_lorem]).apply(task)
    assert pairs_of(result.task) == [("b", "fine")]
    assert [r.reason for r in result.rejected] == ["placeholder"]
