"""A model's chatty preamble ("Sure! Here are more tasks:") is never an instruction (issue 13).

Checked where the preamble can slip in: the completion continuation (whose first line is item 9,
unnumbered), the chat list, the structured path, the instruction filter (the last line of
defence, for instructions from anywhere) and the output-first instance parser.
"""

from __future__ import annotations

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import FakeListLLM

from langchain_selfinstruct.parsers import (
    InstanceParser,
    NumberedListParser,
    StopCutParser,
    instructions_from_structured,
)
from langchain_selfinstruct.parsers._text import is_preamble
from langchain_selfinstruct.steps import InstructionFilter, InstructionGenerator

EXAMPLES = ["Name a river in Europe.", "Sort the numbers 3, 1, 2.", "Write a haiku about rain."]
PREAMBLE = " Sure! Here are more tasks:\n\n10. Write a limerick about a patient snail."


def test_the_papers_stop_leaves_only_the_preamble_and_that_is_no_item() -> None:
    parser: StopCutParser[list[str]] = StopCutParser(
        parser=NumberedListParser(first_item_unnumbered=True), stop=("\n\n", "\n16")
    )
    with pytest.raises(OutputParserException):
        parser.parse(PREAMBLE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Okay, here you go.\n10. Name a bird that cannot fly.", ["Name a bird that cannot fly."]),
        (" Here are 6 new tasks:\nName a bird that cannot fly.", []),
        (
            " Below is a list of more instructions\n10. Name a bird that cannot fly.",
            ["Name a bird that cannot fly."],
        ),
        (
            " Classify the sentence below as true or false:",
            ["Classify the sentence below as true or false:"],
        ),
        (" Here is a riddle; solve it.", ["Here is a riddle; solve it."]),
    ],
    ids=["assent", "header-then-prose", "below-is", "instruction-ending-in-colon", "here-is-task"],
)
def test_completion_continuation_drops_a_preamble_and_keeps_real_items(
    text: str, expected: list[str]
) -> None:
    parser = NumberedListParser(first_item_unnumbered=True)
    if not expected:
        with pytest.raises(OutputParserException):
            parser.parse(text)
    else:
        assert parser.parse(text) == expected


def test_generator_resamples_instead_of_returning_the_preamble() -> None:
    # Ends like a sentence, so the no-finish-reason rule (a maybe-cut last item) keeps it.
    llm = FakeListLLM(responses=[" Sure, here are more tasks.", " Name a bird that cannot fly."])
    assert InstructionGenerator(llm).invoke(EXAMPLES) == ["Name a bird that cannot fly."]


def test_chat_list_ignores_unnumbered_lines() -> None:
    text = "Sure! Here are more tasks:\nSome extra thoughts\n1. Name a bird that cannot fly."
    assert NumberedListParser().parse(text) == ["Name a bird that cannot fly."]


def test_structured_path_drops_a_preamble_item() -> None:
    obj = {"instructions": ["Sure! Here are more tasks:", "Name a bird that cannot fly."]}
    assert instructions_from_structured(obj) == ["Name a bird that cannot fly."]
    with pytest.raises(OutputParserException):
        instructions_from_structured({"instructions": ["Here are 3 new instructions:"]})


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here are more tasks:",
        "Certainly, here are some more examples:",
        "A few more new tasks:",
    ],
)
def test_filter_drops_a_preamble_with_its_own_reason(text: str) -> None:
    result = InstructionFilter().invoke([text, "Name a bird that cannot fly today."])
    assert result.kept == ["Name a bird that cannot fly today."]
    assert [(r.text, r.reason) for r in result.rejected] == [(text, "preamble")]
    assert result.stats["dropped_preamble"] == 1


def test_filter_preamble_rule_can_be_turned_off() -> None:
    text = "Sure! Here are more tasks:"
    assert InstructionFilter(reject_preamble=False).invoke([text]).kept == [text]


def test_output_first_parser_ignores_a_preamble_before_the_first_label() -> None:
    text = "Sure! Here are some examples:\nClass label: Positive\nInput: I loved it."
    parsed = InstanceParser(mode="output_first").parse(text)
    assert [(i.input, i.output) for i in parsed] == [("I loved it.", "Positive")]


@pytest.mark.parametrize(
    ("text", "preamble"),
    [
        ("Sure! Here are more tasks:", True),
        ("**Absolutely!** Here are 5 new tasks", True),
        ("More instructions:", True),
        ("Write a poem about the sea.", False),
        ("Answer the question below:", False),
        ("Okay Google is a product name; describe it.", False),
    ],
)
def test_is_preamble(text: str, preamble: bool) -> None:
    assert is_preamble(text) is preamble
