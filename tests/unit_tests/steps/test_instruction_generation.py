"""Tests for InstructionGenerator (paper §2.1) on completion, chat and structured-output models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda
from pydantic import ValidationError

from langchain_selfinstruct.parsers import InstructionList
from langchain_selfinstruct.presets import SamplingParams, get_preset
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps import InstructionGenerator
from tests.unit_tests.fakes import (
    FakeStructuredChatModel,
    RecordingChatModel,
    RecordingLLM,
    Reply,
    RunNames,
    Script,
)

EXAMPLES = [
    "Describe the water cycle in three sentences.",
    "Give a synonym for the word below.",
    "Write a short toast for a friend's wedding.",
]
CONTINUATION = (
    " Name three instruments used in a jazz band.\n"
    "5. Rewrite the paragraph in plain English.\n"
    "6. Plan a weekend trip to the mountains on a small budget."
)
NEW = [
    "Name three instruments used in a jazz band.",
    "Rewrite the paragraph in plain English.",
    "Plan a weekend trip to the mountains on a small budget.",
]
CHATTY = (
    "Sure! Here are 3 new tasks:\n\n"
    "1. **Name three instruments used in a jazz band.**\n"
    '2. "Rewrite the paragraph in plain English."\n'
    "3. Plan a weekend trip to the mountains on a small budget.\n\n"
    "Let me know if you need more!"
)
GARBAGE = "\n\n"


def completion(*replies: str | Reply) -> RecordingLLM:
    return RecordingLLM(script=Script(replies))


def chat(*replies: str | Reply) -> RecordingChatModel:
    return RecordingChatModel(script=Script(replies))


def test_completion_model_continues_the_numbered_list() -> None:
    llm = completion(CONTINUATION)
    step = InstructionGenerator(llm)
    assert step.prompt_kind == "completion"
    assert step.invoke(EXAMPLES) == NEW
    prompt = llm.log.prompts[0]
    assert prompt.endswith(
        "\n1. " + EXAMPLES[0] + "\n2. " + EXAMPLES[1] + "\n3. " + EXAMPLES[2] + "\n4."
    )


def test_completion_model_gets_the_papers_sampling_and_stops() -> None:
    llm = completion(CONTINUATION)
    InstructionGenerator(llm).invoke(EXAMPLES)
    call = llm.log.calls[0]
    assert call.stop == ["\n\n", "\n16", "16.", "16 ."]
    assert call.settings == {
        "temperature": 0.7,
        "top_p": 0.5,
        "max_tokens": 1024,
        "presence_penalty": 2.0,
        "frequency_penalty": 0.0,
    }


def test_chat_model_gets_the_chat_prompt_without_the_blank_line_stop() -> None:
    model = chat(CHATTY)
    step = InstructionGenerator(model, num_instructions=3)
    assert step.prompt_kind == "chat"
    assert step.invoke(EXAMPLES) == NEW
    call = model.log.calls[0]
    assert call.stop is None
    assert "Write 3 new tasks" in call.prompt
    assert call.messages is not None
    assert call.messages[0].type == "human"
    assert call.settings == {"temperature": 0.7, "top_p": 0.5, "max_tokens": 1024}


def test_accepts_tasks_and_normalizes_whitespace() -> None:
    llm = completion(CONTINUATION)
    task = Task(id="t1", instruction="Sort the   numbers\nbelow:")
    InstructionGenerator(llm).invoke([task, "Say hi."])
    assert "\n1. Sort the numbers below\n2. Say hi.\n3." in llm.log.prompts[0]


@pytest.mark.parametrize("bad", [[], "Write a poem about rain."])
def test_rejects_empty_or_string_input(bad: list[str] | str) -> None:
    step = InstructionGenerator(completion(CONTINUATION))
    # A string would iterate as characters: refused as a TypeError naming the expected list.
    with pytest.raises((TypeError, ValueError), match="list"):
        step.invoke(bad)


@pytest.mark.parametrize("make", [completion, chat])
def test_truncated_output_drops_the_last_item(make: Callable[..., Any]) -> None:
    text = CONTINUATION if make is completion else CHATTY.replace("\n\nLet me know", " Let")
    step = InstructionGenerator(make(Reply(text, finish_reason="length")))
    assert step.invoke(EXAMPLES) == NEW[:2]


def test_over_long_completion_is_cut_at_item_16() -> None:
    # A backend that ignores stop sequences keeps numbering; item 16 on is not part of the answer.
    items = "\n".join(f"{n}. Write instruction number {n} for the list." for n in range(10, 21))
    llm = completion(" Write instruction number 9 for the list.\n" + items)
    result = InstructionGenerator(llm).invoke(EXAMPLES * 3)
    assert result == [f"Write instruction number {n} for the list." for n in range(9, 16)]


def test_garbage_then_good_output_is_resampled() -> None:
    llm = completion(GARBAGE, CONTINUATION)
    assert InstructionGenerator(llm).invoke(EXAMPLES) == NEW
    assert len(llm.log.calls) == 2


@pytest.mark.parametrize("max_retries", [0, 3])
def test_garbage_always_fails_after_max_retries(max_retries: int) -> None:
    llm = completion(GARBAGE)
    step = InstructionGenerator(llm, max_retries=max_retries)
    with pytest.raises(OutputParserException):
        step.invoke(EXAMPLES)
    assert len(llm.log.calls) == max_retries + 1


def test_empty_chat_answer_fails() -> None:
    step = InstructionGenerator(GenericFakeChatModel(messages=iter(["", "", ""])))
    with pytest.raises(OutputParserException):
        step.invoke(EXAMPLES)


def test_works_with_langchain_fake_list_llm() -> None:
    step = InstructionGenerator(FakeListLLM(responses=[CONTINUATION]))
    assert step.invoke(EXAMPLES) == NEW


def test_structured_output_is_used_when_supported() -> None:
    model = FakeStructuredChatModel(
        script=Script(["unused"]), structured=Script([InstructionList(instructions=NEW)])
    )
    step = InstructionGenerator(model)
    assert step.uses_structured_output
    assert step.invoke(EXAMPLES) == NEW
    assert set(model.schemas) == {InstructionList}  # the first attempt and the retries
    # The token cap is left to the model: a short one would cut the JSON.
    assert model.log.calls[0].settings["max_tokens"] is None
    assert step.applied_settings == {"temperature": 0.7, "top_p": 0.5}


def test_structured_dict_and_failures_are_retried() -> None:
    answers = Script([None, ValueError("bad json"), {"instructions": ["  1. " + NEW[0]]}])
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=answers)
    assert InstructionGenerator(model).invoke(EXAMPLES) == NEW[:1]
    assert answers.served == 3


def test_structured_failures_are_reported_after_max_retries() -> None:
    answers = Script([{"instructions": []}])
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=answers)
    with pytest.raises(OutputParserException):
        InstructionGenerator(model, max_retries=1).invoke(EXAMPLES)
    assert answers.served == 2


def test_structured_false_uses_prompt_and_parser() -> None:
    model = FakeStructuredChatModel(script=Script([CHATTY]), structured=Script([None]))
    step = InstructionGenerator(model, structured=False)
    assert not step.uses_structured_output
    assert step.invoke(EXAMPLES) == NEW


def test_custom_prompt_template_and_path(tmp_path: Path) -> None:
    llm = completion(CONTINUATION)
    template = PromptTemplate.from_template("My tasks:\n{instructions}\n{next_number}.")
    InstructionGenerator(llm, prompt=template).invoke(EXAMPLES)
    assert llm.log.prompts[-1].startswith("My tasks:\n1. ")
    path = tmp_path / "prompt.txt"
    path.write_text("Tasks ({num_instructions} wanted):\n{instructions}\n{next_number}.")
    InstructionGenerator(llm, prompt=path).invoke(EXAMPLES)
    assert llm.log.prompts[-1].startswith("Tasks (8 wanted):\n1. ")


def test_custom_prompt_missing_variable_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="instructions"):
        InstructionGenerator(
            completion(CONTINUATION), prompt=PromptTemplate.from_template("{examples}")
        )


def test_unknown_constructor_argument_is_rejected() -> None:
    with pytest.raises(ValidationError):
        InstructionGenerator(completion(CONTINUATION), temprature=0.1)


def test_sampling_override_is_applied() -> None:
    llm = completion(CONTINUATION)
    fast = get_preset("fast").instruction_generation
    InstructionGenerator(llm, sampling=fast).invoke(EXAMPLES)
    assert llm.log.calls[0].settings["max_tokens"] == fast.max_tokens
    InstructionGenerator(llm, sampling=SamplingParams()).invoke(EXAMPLES)
    assert llm.log.calls[1].stop is None
    assert all(value is None for value in llm.log.calls[1].settings.values())


def test_run_name_is_visible_to_callbacks() -> None:
    names = RunNames()
    InstructionGenerator(completion(CONTINUATION)).invoke(EXAMPLES, {"callbacks": [names]})
    assert names.chains[0] == "self_instruct.generate_instructions"
    assert "NumberedListParser" in names.chains
    assert names.model_runs == 1


def test_types() -> None:
    step = InstructionGenerator(completion(CONTINUATION))
    assert step.get_name() == "self_instruct.generate_instructions"
    assert step.OutputType == list[str]
    assert "Task" in str(step.InputType)


def test_batch() -> None:
    llm = completion(CONTINUATION)
    results = InstructionGenerator(llm).batch([EXAMPLES, EXAMPLES[:1]])
    assert results == [NEW, NEW]
    assert len(llm.log.calls) == 2


def test_composes_in_lcel() -> None:
    def instructions(tasks: list[Task]) -> list[str]:
        return [task.instruction for task in tasks]

    pick = RunnableLambda(instructions)
    chain = pick | InstructionGenerator(completion(CONTINUATION))
    assert (
        chain.invoke([Task(id=str(i), instruction=text) for i, text in enumerate(EXAMPLES)]) == NEW
    )


async def test_ainvoke_and_abatch() -> None:
    llm = completion(GARBAGE, CONTINUATION)
    step = InstructionGenerator(llm)
    assert await step.ainvoke(EXAMPLES) == NEW
    assert len(llm.log.calls) == 2
    assert await step.abatch([EXAMPLES, EXAMPLES]) == [NEW, NEW]


async def test_async_failure_is_reported() -> None:
    llm = completion(GARBAGE)
    with pytest.raises(OutputParserException):
        await InstructionGenerator(llm, max_retries=2).ainvoke(EXAMPLES)
    assert len(llm.log.calls) == 3


async def test_async_structured_and_run_name() -> None:
    model = FakeStructuredChatModel(
        script=Script(["unused"]), structured=Script([{"instructions": NEW}])
    )
    names = RunNames()
    assert await InstructionGenerator(model).ainvoke(EXAMPLES, {"callbacks": [names]}) == NEW
    assert names.chains[0] == "self_instruct.generate_instructions"


def test_plain_string_prompt_is_refused() -> None:
    with pytest.raises(TypeError, match=r"PromptTemplate\.from_template"):
        InstructionGenerator(completion(CONTINUATION), prompt="{instructions}")


def test_preset_supplies_sampling_unless_given() -> None:
    llm = completion(CONTINUATION)
    InstructionGenerator(llm, preset="fast").invoke(EXAMPLES)
    assert (
        llm.log.calls[-1].settings["max_tokens"]
        == get_preset("fast").instruction_generation.max_tokens
    )
    explicit = SamplingParams(temperature=1.0)
    step = InstructionGenerator(llm, preset=get_preset("fast"), sampling=explicit)
    assert step.sampling == explicit
    assert step.preset == get_preset("fast")


def test_unknown_preset_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="faithful, fast"):
        InstructionGenerator(completion(CONTINUATION), preset="fastest")
