"""Tests for InstanceGenerator (paper §2.3): input-first and output-first, all model kinds."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.prompts import PromptTemplate
from pydantic import ValidationError

from langchain_selfinstruct.parsers import GeneratedInstance, InstanceList
from langchain_selfinstruct.presets import get_preset
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps import InstanceGenerator
from tests.unit_tests.fakes import (
    FakeStructuredChatModel,
    RecordingChatModel,
    RecordingLLM,
    Reply,
    RunNames,
    Script,
)

GENERATION = {
    "instruction": "Convert the distance from miles to kilometres.",
    "is_classification": False,
}
CLASSIFICATION = {"instruction": "Is the animal a mammal or a bird?", "is_classification": True}
INPUT_FIRST = (
    "Example 1\nInput: 3 miles\nOutput: 4.8 km\n"
    "Example 2\nInput: 10 miles\nOutput: 16.1 km\n"
    "Example 3\nInput: 26.2 miles\nOutput: 42.2 km"
)
CONVERSIONS = [
    Instance(input="3 miles", output="4.8 km"),
    Instance(input="10 miles", output="16.1 km"),
    Instance(input="26.2 miles", output="42.2 km"),
]
OUTPUT_FIRST = (
    "Class label: Mammal\nInput: Whale\nClass label: Bird\nInput: Ostrich\n"
    "Class label: Mammal\nInput: Bat"
)
ANIMALS = [
    Instance(input="Whale", output="Mammal"),
    Instance(input="Ostrich", output="Bird"),
    Instance(input="Bat", output="Mammal"),
]


def completion(*replies: str | Reply) -> RecordingLLM:
    return RecordingLLM(script=Script(replies))


def chat(*replies: str | Reply) -> RecordingChatModel:
    return RecordingChatModel(script=Script(replies))


def test_input_first_for_generation_tasks() -> None:
    llm = completion(INPUT_FIRST)
    assert InstanceGenerator(llm).invoke(GENERATION) == CONVERSIONS
    prompt = llm.log.prompts[0]
    assert prompt.endswith(f"\nTask: {GENERATION['instruction']}\n")
    assert "\nExample 1\nInput: " in prompt
    assert "Class label:" not in prompt


def test_output_first_for_classification_tasks() -> None:
    llm = completion(OUTPUT_FIRST)
    assert InstanceGenerator(llm).invoke(CLASSIFICATION) == ANIMALS
    prompt = llm.log.prompts[0]
    assert prompt.endswith(f"\nTask: {CLASSIFICATION['instruction']}\n")
    assert "\nClass label: " in prompt


def test_task_input_and_unknown_type_is_input_first() -> None:
    llm = completion(INPUT_FIRST)
    task = Task(id="t", instruction=str(GENERATION["instruction"]), is_classification=None)
    assert InstanceGenerator(llm).invoke(task) == CONVERSIONS
    clf = Task(id="c", instruction=str(CLASSIFICATION["instruction"]), is_classification=True)
    llm2 = completion(OUTPUT_FIRST)
    assert InstanceGenerator(llm2).invoke(clf) == ANIMALS


def test_completion_gets_the_papers_settings_and_derived_stop() -> None:
    llm = completion(INPUT_FIRST)
    InstanceGenerator(llm).invoke(GENERATION)
    call = llm.log.calls[0]
    assert call.stop == ["Task:", "Example 6"]
    assert call.settings["max_tokens"] == 300
    assert call.settings["presence_penalty"] == 1.5
    assert (call.settings["temperature"], call.settings["top_p"]) == (0.0, 0.0)


def test_max_instances_sets_the_stop_and_caps_the_result() -> None:
    llm = completion(INPUT_FIRST)
    assert InstanceGenerator(llm, max_instances=2).invoke(GENERATION) == CONVERSIONS[:2]
    assert llm.log.calls[0].stop == ["Task:", "Example 3"]


def test_over_long_answer_is_capped_and_cut_at_the_next_task() -> None:
    examples = "\n".join(
        f"Example {n}\nInput: {n} miles\nOutput: {n * 1.6:.1f} km" for n in range(1, 9)
    )
    llm = completion(examples + "\n\nTask: Name a colour.\nExample 1\nOutput: Red")
    result = InstanceGenerator(llm).invoke(GENERATION)
    assert [instance.input for instance in result] == [f"{n} miles" for n in range(1, 6)]


def test_output_first_over_long_answer_is_capped() -> None:
    labels = "\n".join(f"Class label: Mammal\nInput: Animal {n}" for n in range(9))
    assert len(InstanceGenerator(completion(labels)).invoke(CLASSIFICATION)) == 5


@pytest.mark.parametrize("make", [completion, chat])
def test_truncated_output_drops_the_last_instance(make: Any) -> None:
    step = InstanceGenerator(make(Reply(INPUT_FIRST, finish_reason="length")))
    assert step.invoke(GENERATION) == CONVERSIONS[:2]


def test_chat_prompt_preamble_and_settings() -> None:
    model = chat("Sure! Here are some examples:\n\n" + INPUT_FIRST + "\n\nI hope this helps!")
    step = InstanceGenerator(model, max_instances=4)
    assert step.prompt_kind == "chat"
    assert step.invoke(GENERATION) == CONVERSIONS
    call = model.log.calls[0]
    # No stop for chat models: some reject the parameter, and the parser caps the count.
    assert call.stop is None
    assert "Write up to 4 examples" in call.prompt
    assert f"Task: {GENERATION['instruction']}\n\nReply in the format above" in call.prompt


def test_chat_output_first_with_markdown() -> None:
    answer = (
        "**Class label:** Mammal\n**Input:** Whale\n\n**Class label:** Bird\n**Input:** Ostrich"
    )
    model = chat(answer)
    assert InstanceGenerator(model).invoke(CLASSIFICATION) == ANIMALS[:2]
    assert "covering each of its possible class labels" in model.log.prompts[0]


def test_input_free_task() -> None:
    llm = completion("Example 1\nOutput:\nRoses are red,\nviolets are blue.")
    result = InstanceGenerator(llm).invoke({"instruction": "Write a two-line poem."})
    assert result == [Instance(input="", output="Roses are red,\nviolets are blue.")]


def test_garbage_then_good_output_is_resampled() -> None:
    llm = completion("I cannot help with that.", INPUT_FIRST)
    assert InstanceGenerator(llm).invoke(GENERATION) == CONVERSIONS
    assert len(llm.log.calls) == 2


@pytest.mark.parametrize("reply", ["", "lorem ipsum dolor", "Example 1\nInput: 3 miles\nOutput:"])
def test_garbage_always_fails_after_max_retries(reply: str) -> None:
    llm = completion(reply)
    with pytest.raises(OutputParserException):
        InstanceGenerator(llm, max_retries=2).invoke(GENERATION)
    assert len(llm.log.calls) == 3


def test_empty_chat_answer_fails() -> None:
    model = GenericFakeChatModel(messages=iter(["", "", ""]))
    with pytest.raises(OutputParserException):
        InstanceGenerator(model).invoke(GENERATION)


def test_works_with_langchain_fake_list_llm() -> None:
    assert InstanceGenerator(FakeListLLM(responses=[INPUT_FIRST])).invoke(GENERATION) == CONVERSIONS


@pytest.mark.parametrize("bad", [{"is_classification": True}, {"instruction": 3}, "text"])
def test_invalid_input_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="instruction"):
        InstanceGenerator(completion(INPUT_FIRST)).invoke(bad)


def test_blank_instruction_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        InstanceGenerator(completion(INPUT_FIRST)).invoke({"instruction": "  "})


def test_structured_output() -> None:
    many = InstanceList(
        instances=[GeneratedInstance(input=f"{n} miles", output=f"{n}.6 km") for n in range(7)]
    )
    answers = Script([{"instances": []}, many])
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=answers)
    step = InstanceGenerator(model, max_instances=3)
    assert step.uses_structured_output
    result = step.invoke(CLASSIFICATION)
    assert [instance.input for instance in result] == ["0 miles", "1 miles", "2 miles"]
    assert answers.served == 2
    assert set(model.schemas) == {InstanceList}


def test_custom_prompts_per_mode() -> None:
    llm = completion(INPUT_FIRST, OUTPUT_FIRST)
    step = InstanceGenerator(
        llm,
        input_first_prompt=PromptTemplate.from_template("GEN {instruction} x{max_instances}\n"),
        output_first_prompt=PromptTemplate.from_template("CLF {instruction}\n"),
    )
    step.invoke(GENERATION)
    step.invoke(CLASSIFICATION)
    assert llm.log.prompts == [
        f"GEN {GENERATION['instruction']} x5\n",
        f"CLF {CLASSIFICATION['instruction']}\n",
    ]


def test_custom_prompt_with_unknown_variable_is_rejected() -> None:
    with pytest.raises(ValidationError, match="label_count"):
        InstanceGenerator(
            completion(INPUT_FIRST),
            output_first_prompt=PromptTemplate.from_template("{instruction} {label_count}"),
        )


def test_run_name_and_types() -> None:
    names = RunNames()
    step = InstanceGenerator(completion(INPUT_FIRST))
    step.invoke(GENERATION, {"callbacks": [names]})
    assert names.chains[0] == "self_instruct.generate_instances"
    assert "InstanceParser" in names.chains
    assert step.OutputType == list[Instance]


def test_batch_routes_each_task() -> None:
    llm = completion(INPUT_FIRST, OUTPUT_FIRST)
    results = InstanceGenerator(llm).batch([GENERATION, CLASSIFICATION], {"max_concurrency": 1})
    assert results == [CONVERSIONS, ANIMALS]


async def test_ainvoke_and_abatch() -> None:
    step = InstanceGenerator(completion("nothing useful", INPUT_FIRST))
    assert await step.ainvoke(GENERATION) == CONVERSIONS
    assert await step.abatch([GENERATION, GENERATION]) == [CONVERSIONS, CONVERSIONS]


async def test_async_structured_failure_is_reported() -> None:
    answers = Script([None])
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=answers)
    with pytest.raises(OutputParserException):
        await InstanceGenerator(model, max_retries=1).ainvoke(GENERATION)
    assert answers.served == 2


def test_preset_supplies_max_instances_and_sampling() -> None:
    llm = completion(INPUT_FIRST)
    step = InstanceGenerator(llm, preset="fast")
    assert step.max_instances == get_preset("fast").max_instances == 3
    step.invoke(GENERATION)
    assert llm.log.calls[0].stop == ["Task:", "Example 4"]
    assert (
        llm.log.calls[0].settings["max_tokens"] == get_preset("fast").instance_generation.max_tokens
    )
    assert InstanceGenerator(llm, preset="fast", max_instances=2).max_instances == 2
