"""Tests for langchain_selfinstruct.parsers: messy real-world outputs, truncation, properties."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from langchain_selfinstruct.parsers import (
    ClassificationAnswer,
    GeneratedInstance,
    InstanceList,
    InstanceParser,
    InstructionList,
    NumberedListParser,
    YesNoParser,
    instances_from_structured,
    instructions_from_structured,
    is_classification_from_structured,
    is_truncated,
)
from langchain_selfinstruct.schema import Instance

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


def _gen(text: str, finish_reason: str | None = None) -> Generation:
    info = {"finish_reason": finish_reason} if finish_reason else None
    return Generation(text=text, generation_info=info)


def _chat(text: str, **metadata: Any) -> ChatGeneration:
    return ChatGeneration(message=AIMessage(content=text, response_metadata=metadata))


def _pairs(instances: list[Instance]) -> list[tuple[str, str]]:
    return [(inst.input, inst.output) for inst in instances]


# --------------------------------------------------------------------------- NumberedListParser

LIST_CASES = [
    pytest.param(
        "1. Write a haiku about autumn.\n2. Convert 5 km to miles.\n3. Name the capital of Peru.",
        {},
        ["Write a haiku about autumn.", "Convert 5 km to miles.", "Name the capital of Peru."],
        id="well-formed",
    ),
    pytest.param(
        " Describe your ideal weekend.\n10. List three uses of vinegar.\n11. Rewrite the sentence"
        " in passive voice.",
        {"first_item_unnumbered": True},
        [
            "Describe your ideal weekend.",
            "List three uses of vinegar.",
            "Rewrite the sentence in passive voice.",
        ],
        id="completion-continuation",
    ),
    pytest.param(
        "Sure! Here are 8 new tasks:\n\n1. Explain gravity to a child.\n2. Draft a thank-you note."
        "\n\nLet me know if you would like more tasks!",
        {},
        ["Explain gravity to a child.", "Draft a thank-you note."],
        id="preamble-and-closing-remark",
    ),
    pytest.param(
        "1. Plan a trip.\n2. Sort a list.\nLet me know if you need anything else.",
        {},
        ["Plan a trip.", "Sort a list."],
        id="closing-remark-without-blank-line",
    ),
    pytest.param(
        "1. **Write a limerick about a cat.**\n2. **Budgeting**: Create a monthly budget.\n"
        "3. **Trivia:** Name a planet with rings.",
        {},
        ["Write a limerick about a cat.", "Create a monthly budget.", "Name a planet with rings."],
        id="markdown-bold",
    ),
    pytest.param(
        "1. \"Give me a synonym for 'happy'.\"\n2. “Summarize the plot of a fairy tale.”\n"
        "3. 'cat' and 'dog' are animals; name another.",
        {},
        [
            "Give me a synonym for 'happy'.",
            "Summarize the plot of a fairy tale.",
            "'cat' and 'dog' are animals; name another.",
        ],
        id="quoted",
    ),
    pytest.param(
        "Here are some ideas:\n- Compose a tweet about recycling.\n* Find the odd number out.\n"
        "• Suggest a name for a bakery.",
        {},
        [
            "Compose a tweet about recycling.",
            "Find the odd number out.",
            "Suggest a name for a bakery.",
        ],
        id="bullets",
    ),
    pytest.param(
        "Task 9: Translate a proverb into Spanish.\nTask 10: Estimate the height of a tree.\n"
        "**Task 11:** Invent a board game.",
        {},
        [
            "Translate a proverb into Spanish.",
            "Estimate the height of a tree.",
            "Invent a board game.",
        ],
        id="task-n-colon",
    ),
    pytest.param(
        "Instruction 1: Spell a word backwards.\n9) Count the vowels.\n9 . Find a rhyme for moon.",
        {},
        ["Spell a word backwards.", "Count the vowels.", "Find a rhyme for moon."],
        id="instruction-n-paren-spaced-dot",
    ),
    pytest.param(
        "1. Explain photosynthesis.\n4. Name a mammal.\n1. Write a slogan.",
        {},
        ["Explain photosynthesis.", "Name a mammal.", "Write a slogan."],
        id="numbering-skips-and-restarts",
    ),
    pytest.param(
        "1. Given a list of numbers,\n   return the largest one.\n2. Write a poem.\n\n"
        "These tasks are diverse and cover many skills.",
        {},
        ["Given a list of numbers,\nreturn the largest one.", "Write a poem."],
        id="multi-line-item-and-trailing-prose",
    ),
    pytest.param(
        "1. Name a fruit.\n2. Name a fruit.\n3. name  a FRUIT.\n4. Name a vegetable.",
        {},
        ["Name a fruit.", "Name a vegetable."],
        id="duplicates-keep-first",
    ),
    pytest.param(
        "### Writing\n1. Write a story.\n### Math\n2. Add 2 and 3.",
        {},
        ["Write a story.", "Add 2 and 3."],
        id="markdown-headings",
    ),
    pytest.param(
        "9.\n\nWrite a short bio for a chef.\n10. Pick a color.",
        {},
        ["Write a short bio for a chef.", "Pick a color."],
        id="marker-alone-on-its-line",
    ),
    pytest.param(
        # SmolLM2-135M style: repeats, empty items and a run-on into unnumbered prose.
        " Write a poem.\n10.\n11. Write a poem.\n12. Tell me about dogs\n\nDogs are loyal animals"
        " that love their owners.",
        {"first_item_unnumbered": True},
        ["Write a poem.", "Tell me about dogs"],
        id="small-model-noise",
    ),
    pytest.param(
        "\n".join(f"{n}. Solve problem number {n}." for n in range(1, 41)),
        {"max_items": 8},
        [f"Solve problem number {n}." for n in range(1, 9)],
        id="over-long-capped",
    ),
    pytest.param(
        # Completion models without a "\n\n" stop sequence repeat the prompt's header.
        " Write a joke about owls.\nCome up with a series of tasks:\n1. Name a river.\n"
        "Given the passage below, answer the question:\nThe sky is blue. Why?",
        {"first_item_unnumbered": True},
        [
            "Write a joke about owls.",
            "Name a river.\nGiven the passage below, answer the question:\nThe sky is blue. Why?",
        ],
        id="repeated-prompt-header",
    ),
    pytest.param(
        "1. Measure 3.5 cups of flour.\n2. Meet at 10:30 tomorrow.",
        {},
        ["Measure 3.5 cups of flour.", "Meet at 10:30 tomorrow."],
        id="numbers-inside-items",
    ),
]


@pytest.mark.parametrize(("text", "options", "expected"), LIST_CASES)
def test_numbered_list_parses_messy_outputs(
    text: str, options: dict[str, Any], expected: list[str]
) -> None:
    assert NumberedListParser(**options).parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n ",
        "I'm sorry, but I can't help with that.",
        "Sure! Here are 8 new tasks:",
        '1.\n2.\n3. **\n4. ""',
    ],
    ids=["empty", "blank", "refusal", "preamble-only", "only-empty-items"],
)
def test_numbered_list_rejects_outputs_without_items(text: str) -> None:
    with pytest.raises(OutputParserException) as caught:
        NumberedListParser().parse(text)
    assert caught.value.llm_output == text


def test_unnumbered_prose_is_an_item_only_when_asked() -> None:
    text = "Write a recipe for pancakes."
    assert NumberedListParser(first_item_unnumbered=True).parse(text) == [text]
    with pytest.raises(OutputParserException):
        NumberedListParser().parse(text)


TRUNCATED_LIST = "1. Write a poem.\n2. Sort the numbers.\n3. Describe the process of"


@pytest.mark.parametrize(
    "generation",
    [
        _gen(TRUNCATED_LIST, "length"),
        _chat(TRUNCATED_LIST, finish_reason="length"),
        _chat(TRUNCATED_LIST, stop_reason="max_tokens"),
        _chat(TRUNCATED_LIST, finish_reason="MAX_TOKENS"),
        _chat(TRUNCATED_LIST, done_reason="length"),
    ],
    ids=["llm-length", "chat-length", "anthropic-max-tokens", "gemini-max-tokens", "ollama"],
)
def test_truncated_list_drops_last_item(generation: Generation) -> None:
    assert is_truncated(generation)
    assert NumberedListParser().parse_result([generation]) == ["Write a poem.", "Sort the numbers."]


@pytest.mark.parametrize(
    "generation",
    [
        _gen(TRUNCATED_LIST, "stop"),
        _chat(TRUNCATED_LIST, finish_reason="stop"),
    ],
    ids=["llm-stop", "chat-stop"],
)
def test_complete_list_keeps_last_item(generation: Generation) -> None:
    assert not is_truncated(generation)
    assert NumberedListParser().parse_result([generation])[-1] == "Describe the process of"


@pytest.mark.parametrize(
    ("last", "kept"),
    [
        ("Describe the process of", False),
        ("Describe the water cycle", False),
        ("Describe the water cycle.", True),
        ("Is this review positive?", True),
        ('Translate "good night!"', True),
        ("List three prime numbers (in order).", True),
        ("Write a haiku…", True),
    ],
)
@pytest.mark.parametrize("kind", ["llm", "chat"])
def test_without_a_finish_reason_the_last_item_is_kept_only_if_it_ends_a_sentence(
    last: str, kept: bool, kind: str
) -> None:
    text = f"1. Write a poem.\n2. Sort the numbers.\n3. {last}"
    generation = _gen(text) if kind == "llm" else _chat(text)
    expected = ["Write a poem.", "Sort the numbers.", *([last] if kept else [])]
    assert NumberedListParser().parse_result([generation]) == expected
    # A complete text given to parse() is never cut.
    assert NumberedListParser().parse(text)[-1] == last


def test_without_a_finish_reason_a_single_cut_item_is_a_parser_error() -> None:
    with pytest.raises(OutputParserException, match="No list items"):
        NumberedListParser().parse_result([_gen("1. Describe the process of")])


def test_without_a_finish_reason_the_last_instance_is_kept() -> None:
    text = "Example 1\nInput: 5 km\nOutput: 3.1 miles\nExample 2\nInput: 10 km\nOutput: 6.2"
    instances = InstanceParser().parse_result([_gen(text)])
    assert _pairs(instances) == [("5 km", "3.1 miles"), ("10 km", "6.2")]


def test_truncation_drops_the_cut_item_before_deduplication() -> None:
    generation = _gen("1. Add numbers.\n2. Name a bird.\n3. Add numbers.", "length")
    assert NumberedListParser().parse_result([generation]) == ["Add numbers.", "Name a bird."]


def test_truncation_of_a_single_item_raises() -> None:
    with pytest.raises(OutputParserException):
        NumberedListParser(first_item_unnumbered=True).parse_result([_gen(" Write a", "length")])


def test_empty_result_raises() -> None:
    with pytest.raises(OutputParserException):
        NumberedListParser().parse_result([])


def test_invoke_with_chat_message_honours_truncation() -> None:
    message = AIMessage(content=TRUNCATED_LIST, response_metadata={"finish_reason": "length"})
    assert NumberedListParser().invoke(message) == ["Write a poem.", "Sort the numbers."]


# --------------------------------------------------------------------------------- YesNoParser


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("yes.", True),
        ("Yes, because the output is one of a fixed set of labels.", True),
        ("**No**", False),
        ("Answer: No", False),
        ("**Answer:** Yes", True),
        (" No\n\nTask: Write a poem about the moon.\nIs it classification? Yes", False),
        ("Is it classification? Yes", True),
        ("Is it a classification task?\nNo.", False),
        ("NO", False),
        ("The answer is yes: the task picks a sentiment label.", True),
        ("No, it is open-ended. Yes/no questions are different.", False),
    ],
)
def test_yes_no_parses_answers(text: str, expected: bool) -> None:
    assert YesNoParser().parse(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Maybe",
        "I am not sure what you mean.",
        "None",
        "Task: Write a poem.\nIs it classification? Yes",
        "This task asks the model to produce a free-form answer, so overall I would say yes.",
        "Nope",
    ],
)
def test_yes_no_rejects_other_answers(text: str) -> None:
    with pytest.raises(OutputParserException) as caught:
        YesNoParser().parse(text)
    assert caught.value.llm_output == text


# ------------------------------------------------------------------------------ InstanceParser

INPUT_FIRST_CASES = [
    pytest.param(
        "Example 1\nInput: 3, 8, 1\nOutput: 8\nExample 2\nInput: -2, -7\nOutput: -2",
        [("3, 8, 1", "8"), ("-2, -7", "-2")],
        id="canonical",
    ),
    pytest.param(
        "Example 1\nOutput: Roses bloom in June.\nExample 2\nInput: None\nOutput: Snow falls.\n"
        "Example 3\nInput: N/A\nOutput: Rain.\nExample 4\nInput: (none)\nOutput: Fog.\n"
        "Example 5\nInput:\nOutput: Hail.",
        [
            ("", "Roses bloom in June."),
            ("", "Snow falls."),
            ("", "Rain."),
            ("", "Fog."),
            ("", "Hail."),
        ],
        id="no-input-variants",
    ),
    pytest.param(
        "Sure! Here are some examples:\n\n**Example 1**\n**Input:** Bonjour\n**Output:** Hello\n\n"
        "Example #2:\nInput: Merci\nOutput:\nThank you\n\nI hope these examples help!",
        [("Bonjour", "Hello"), ("Merci", "Thank you")],
        id="chatty-bold-next-line-output",
    ),
    pytest.param(
        "Example 1:\nInput: Line one\nline two\nOutput: def f():\n    return 1\nExample 2: \n"
        "Sentence: The dog barked.\nQuestion: Who barked?\nOutput: The dog.",
        [
            ("Line one\nline two", "def f():\n    return 1"),
            ("Sentence: The dog barked.\nQuestion: Who barked?", "The dog."),
        ],
        id="multi-line-and-custom-field",
    ),
    pytest.param(
        "Input: What is 2 + 2?\nOutput: 4\n\nInput: What is 3 * 3?\nOutput: 9",
        [("What is 2 + 2?", "4"), ("What is 3 * 3?", "9")],
        id="pairs-without-example-markers",
    ),
    pytest.param(
        "Output: A bright yellow sun rises over the hills.",
        [("", "A bright yellow sun rises over the hills.")],
        id="lone-output",
    ),
    pytest.param(
        "Example 1\nInput: apple\nOutput: fruit\nExample 2\nInput: carrot\nOutput: vegetable\n\n"
        "Task: Name the color of the sky.\nExample 1\nOutput: Blue",
        [("apple", "fruit"), ("carrot", "vegetable")],
        id="runs-on-into-new-task",
    ),
    pytest.param(
        "Example 1\nInput: hi\nOutput:\nExample 2\nInput: bye\nOutput: goodbye\nExample 3\n"
        "Input: the model forgot the output label",
        [("bye", "goodbye")],
        id="empty-output-and-input-without-output-dropped",
    ),
    pytest.param(
        "Example 1\nSubject: Sorry for the wait\n\nExample 2\n1. Snow\n2. Hush\n\n",
        [("", "Subject: Sorry for the wait"), ("", "1. Snow\n2. Hush")],
        id="unlabelled-blocks-are-outputs-as-in-the-paper",
    ),
    pytest.param(
        # GPT-4 style markdown: bold headers and bulleted labels.
        "**Example 1:**\n- **Input:** The movie was great.\n- **Output:** Positive\n\n"
        "### Example 2\n* **Input:** N/A\n* **Output:** Hello there",
        [("The movie was great.", "Positive"), ("", "Hello there")],
        id="markdown-bulleted-labels",
    ),
    pytest.param(
        "Example 1\nInput: x = 1\nOutput: int\nInput: x = 'a'\nOutput: str",
        [("x = 1", "int"), ("x = 'a'", "str")],
        id="second-pair-inside-one-example",
    ),
]


@pytest.mark.parametrize(("text", "expected"), INPUT_FIRST_CASES)
def test_input_first_instances(text: str, expected: list[tuple[str, str]]) -> None:
    assert _pairs(InstanceParser(mode="input_first").parse(text)) == expected


OUTPUT_FIRST_CASES = [
    pytest.param(
        "Class label: Positive\nInput: I loved every minute.\nClass label: Negative\n"
        "Input: Waste of money.",
        [("I loved every minute.", "Positive"), ("Waste of money.", "Negative")],
        id="canonical",
    ),
    pytest.param(
        "Here you go:\n\n**Class label:** Spam\n**Input:** Win a free cruise now!\n\n"
        "Label: Not spam\nSentence: Lunch at noon?\n\nClass Label: Unknown",
        [
            ("Win a free cruise now!", "Spam"),
            ("Sentence: Lunch at noon?", "Not spam"),
            ("", "Unknown"),
        ],
        id="bold-custom-field-and-no-input",
    ),
    pytest.param(
        "Class label:\nTrue\nInput: The earth orbits the sun.\nClass label: \nInput: orphan\n"
        "Class label: False\nInput: Fish can fly.\nTask: Classify colors.\nClass label: Red",
        [("The earth orbits the sun.", "True"), ("Fish can fly.", "False")],
        id="label-on-next-line-and-run-on",
    ),
    pytest.param(
        "1.\n- **Class label:** Sports\n- **Input:** The team won the cup.",
        [("The team won the cup.", "Sports")],
        id="bulleted-bold-labels",
    ),
]


@pytest.mark.parametrize(("text", "expected"), OUTPUT_FIRST_CASES)
def test_output_first_instances(text: str, expected: list[tuple[str, str]]) -> None:
    assert _pairs(InstanceParser(mode="output_first").parse(text)) == expected


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("input_first", ""),
        ("input_first", "I cannot think of any examples."),
        ("input_first", "Example 1\nInput: something\nOutput:   "),
        ("output_first", "Input: a sentence without a label"),
        ("output_first", "Class label:\n\n"),
    ],
)
def test_instances_reject_outputs_without_instances(mode: str, text: str) -> None:
    parser = InstanceParser(mode="input_first" if mode == "input_first" else "output_first")
    with pytest.raises(OutputParserException) as caught:
        parser.parse(text)
    assert caught.value.llm_output == text


@pytest.mark.parametrize(
    ("mode", "text", "kept"),
    [
        ("input_first", "Example 1\nInput: a\nOutput: b\nExample 2\nInput: c\nOutput: d", 1),
        ("input_first", "Example 1\nInput: a\nOutput: b\nExample 2\nInput: c", 1),
        ("output_first", "Class label: A\nInput: a\nClass label: B\nInput: b", 1),
    ],
)
def test_truncated_instances_drop_the_last_block(mode: str, text: str, kept: int) -> None:
    parser = InstanceParser(mode="input_first" if mode == "input_first" else "output_first")
    assert len(parser.parse_result([_gen(text, "length")])) == kept
    assert len(parser.parse_result([_chat(text, finish_reason="length")])) == kept
    assert len(parser.parse_result([_gen(text, "stop")])) == len(parser.parse(text))


def test_truncated_single_instance_raises() -> None:
    with pytest.raises(OutputParserException):
        InstanceParser().parse_result([_chat("Output: half a sent", stop_reason="max_tokens")])


def test_max_instances_caps_the_result() -> None:
    text = "\n".join(f"Example {n}\nInput: {n}\nOutput: {n * n}" for n in range(1, 21))
    assert _pairs(InstanceParser(max_instances=3).parse(text)) == [
        ("1", "1"),
        ("2", "4"),
        ("3", "9"),
    ]


@pytest.mark.parametrize(
    "parser", [NumberedListParser(), YesNoParser(), InstanceParser(mode="output_first")]
)
def test_parsers_describe_their_format(parser: Any) -> None:
    assert parser.get_format_instructions().strip()
    assert parser._type.startswith("self_instruct_")


# -------------------------------------------------------------- reference data round trip


# Texts the formats themselves cannot carry: in a list, a blank line ends an item (the rest reads
# as a remark) and a line starting with a marker starts a new item; in instances, a line that looks
# like "Example N", a label or "Task:" starts a new block.
LIST_AMBIGUOUS = re.compile(r"\n\s*\n|^\s*(?:[-*•]\s|\(?\d+\s*[.):])", re.MULTILINE)
INSTANCE_AMBIGUOUS = re.compile(
    r"^\W*(?:example\s*#?\s*\d|(?:input|output|task|(?:class\s*)?label)\s*:)",
    re.IGNORECASE | re.MULTILINE,
)


def _reference_tasks() -> list[dict[str, Any]]:
    names = ["seed_tasks.jsonl", "user_oriented_instructions.jsonl"]
    if not all((REFERENCE / name).exists() for name in names):
        pytest.skip("reference task files not available")
    lines = [
        line
        for name in names
        for line in (REFERENCE / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [json.loads(line) for line in lines]


def _unambiguous(pattern: re.Pattern[str], texts: list[str]) -> bool:
    return not any(pattern.search(text.strip()) for text in texts)


def test_reference_instructions_round_trip() -> None:
    instructions = [task["instruction"].strip() for task in _reference_tasks()]
    usable = [text for text in instructions if _unambiguous(LIST_AMBIGUOUS, [text])]
    assert len(usable) > 0.9 * len(instructions)
    prompt = "\n".join(f"{n}. {text}" for n, text in enumerate(usable, 1))
    # Continuation lines are stripped, like the indentation of a wrapped list item.
    expected = ["\n".join(line.strip() for line in text.splitlines()) for text in usable]
    assert NumberedListParser().parse(prompt) == list(dict.fromkeys(expected))


def test_reference_instances_round_trip() -> None:
    tasks = _reference_tasks()
    usable = [
        task
        for task in tasks
        if _unambiguous(
            INSTANCE_AMBIGUOUS, [f"{i['input']}\n{i['output']}" for i in task["instances"]]
        )
    ]
    assert len(usable) > 0.9 * len(tasks)
    for task in usable:
        expected = [(i["input"].strip(), i["output"].strip()) for i in task["instances"]]
        blocks = [
            f"Example {n}\nInput: {inp}\nOutput: {out}" for n, (inp, out) in enumerate(expected, 1)
        ]
        assert _pairs(InstanceParser().parse("\n".join(blocks))) == expected, task["id"]
        if task.get("is_classification"):
            labels = [f"Class label: {out}\nInput: {inp}" for inp, out in expected]
            parsed = InstanceParser(mode="output_first").parse("\n".join(labels))
            assert _pairs(parsed) == expected, task["id"]


# ------------------------------------------------------------------------ property-based

FRAGMENTS = [
    "1.",
    "9)",
    "Task 9:",
    "Instruction 2:",
    "- ",
    "* ",
    "• ",
    "**",
    "Example 2",
    "Example",
    "Input:",
    "Output:",
    "Class label:",
    "Label:",
    "Task:",
    "Yes",
    "No",
    "Answer:",
    "Is it classification?",
    "None",
    "Sure! Here are",
    "Let me know",
    '"',
    "“",
    "\n",
    "\n\n",
    " ",
    "\t",
    "write a poem",
]
MESSY_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=30).map("".join),
)
FINISH = st.sampled_from([None, "stop", "length"])


@settings(max_examples=300, deadline=None)
@given(text=MESSY_TEXT, unnumbered=st.booleans(), finish=FINISH)
def test_numbered_list_property(text: str, unnumbered: bool, finish: str | None) -> None:
    parser = NumberedListParser(first_item_unnumbered=unnumbered)
    try:
        items = parser.parse_result([_gen(text, finish)])
    except OutputParserException:
        return
    assert items
    assert all(item and item == item.strip() for item in items)
    assert len({" ".join(item.split()).casefold() for item in items}) == len(items)


@settings(max_examples=300, deadline=None)
@given(text=MESSY_TEXT)
def test_yes_no_property(text: str) -> None:
    try:
        answer = YesNoParser().parse(text)
    except OutputParserException:
        return
    assert isinstance(answer, bool)


@settings(max_examples=300, deadline=None)
@given(text=MESSY_TEXT, output_first=st.booleans(), finish=FINISH)
def test_instance_property(text: str, output_first: bool, finish: str | None) -> None:
    parser = InstanceParser(mode="output_first" if output_first else "input_first")
    try:
        instances = parser.parse_result([_gen(text, finish)])
    except OutputParserException:
        return
    assert instances
    for instance in instances:
        assert isinstance(instance, Instance)
        assert instance.output
        assert instance.output == instance.output.strip()
        assert instance.input == instance.input.strip()


# ---------------------------------------------------------------------- structured output


@pytest.mark.parametrize(
    "obj",
    [
        InstructionList(
            instructions=[" 1. Write a poem. ", "", "**Sort a list**", "write a poem."]
        ),
        {"instructions": ["1. Write a poem.", "  ", "Sort a list", "Write a poem."]},
    ],
    ids=["object", "dict"],
)
def test_instructions_from_structured(obj: Any) -> None:
    assert instructions_from_structured(obj) == ["Write a poem.", "Sort a list"]
    assert instructions_from_structured(obj, max_items=1) == ["Write a poem."]


@pytest.mark.parametrize(
    "obj",
    [InstructionList(instructions=[]), {"instructions": ["", "  "]}, {"wrong": 1}, {}],
)
def test_instructions_from_structured_rejects_empty_or_invalid(obj: Any) -> None:
    with pytest.raises(OutputParserException):
        instructions_from_structured(obj)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (ClassificationAnswer(is_classification=True), True),
        ({"is_classification": False}, False),
        ({"is_classification": "yes"}, True),
    ],
)
def test_is_classification_from_structured(obj: Any, expected: bool) -> None:
    assert is_classification_from_structured(obj) is expected


def test_is_classification_from_structured_rejects_invalid() -> None:
    with pytest.raises(OutputParserException):
        is_classification_from_structured({"is_classification": "perhaps"})


@pytest.mark.parametrize(
    "obj",
    [
        InstanceList(
            instances=[
                GeneratedInstance(input=" N/A ", output=" 4 "),
                GeneratedInstance(input="x", output="   "),
                GeneratedInstance(output="yes"),
            ]
        ),
        {
            "instances": [
                {"input": "None", "output": "4"},
                {"input": "x", "output": ""},
                {"output": "yes"},
            ]
        },
    ],
    ids=["object", "dict"],
)
def test_instances_from_structured(obj: Any) -> None:
    assert _pairs(instances_from_structured(obj)) == [("", "4"), ("", "yes")]
    assert _pairs(instances_from_structured(obj, max_instances=1)) == [("", "4")]


@pytest.mark.parametrize(
    "obj",
    [
        InstanceList(instances=[]),
        {"instances": [{"input": "a", "output": " "}]},
        {"instances": [{"input": "a"}]},
        {"instances": "nope"},
    ],
)
def test_instances_from_structured_rejects_empty_or_invalid(obj: Any) -> None:
    with pytest.raises(OutputParserException):
        instances_from_structured(obj)


def test_structured_schemas_describe_every_field() -> None:
    for schema in (InstructionList, ClassificationAnswer, GeneratedInstance, InstanceList):
        properties = schema.model_json_schema()["properties"]
        assert all(prop.get("description") for prop in properties.values()), schema.__name__
