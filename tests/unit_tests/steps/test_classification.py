"""Tests for ClassificationIdentifier (paper §2.2) on completion, chat and structured models."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.prompts import PromptTemplate

from langchain_selfinstruct.parsers import ClassificationAnswer
from langchain_selfinstruct.presets import get_preset
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps import ClassificationIdentifier
from tests.unit_tests.fakes import (
    FakeStructuredChatModel,
    RecordingChatModel,
    RecordingLLM,
    Reply,
    RunNames,
    Script,
)

INSTRUCTION = "Decide whether the review is positive or negative."


def completion(*replies: str | Reply) -> RecordingLLM:
    return RecordingLLM(script=Script(replies))


def chat(*replies: str | Reply) -> RecordingChatModel:
    return RecordingChatModel(script=Script(replies))


@pytest.mark.parametrize(("reply", "expected"), [(" Yes", True), (" No", False), ("Yes", True)])
def test_completion_answers(reply: str, expected: bool) -> None:
    assert ClassificationIdentifier(completion(reply)).invoke(INSTRUCTION) is expected


def test_completion_prompt_and_papers_settings() -> None:
    llm = completion(" Yes")
    ClassificationIdentifier(llm).invoke(INSTRUCTION)
    call = llm.log.calls[0]
    assert call.prompt.endswith(f"\nTask: {INSTRUCTION}\nIs it classification?")
    assert call.stop == ["\n", "Task"]
    assert call.settings["max_tokens"] == 3
    assert (call.settings["temperature"], call.settings["top_p"]) == (0.0, 0.0)


def test_completion_running_on_into_the_next_task_is_cut() -> None:
    # The "\n" stop ends the answer even when the backend ignores stop sequences.
    llm = completion(" No\nTask: Is the sky blue? Yes or no.\nIs it classification? Yes")
    assert ClassificationIdentifier(llm).invoke(INSTRUCTION) is False


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("**No**", False),
        ("Answer: Yes, because the labels are positive and negative.", True),
        ("Yes.", True),
        ("No\n\nThe output is open-ended text.", False),
    ],
)
def test_chat_answers(reply: str, expected: bool) -> None:
    model = chat(reply)
    step = ClassificationIdentifier(model)
    assert step.prompt_kind == "chat"
    assert step.invoke(INSTRUCTION) is expected


def test_chat_gets_the_chat_prompt_and_more_tokens() -> None:
    model = chat("Yes")
    ClassificationIdentifier(model).invoke(INSTRUCTION)
    call = model.log.calls[0]
    assert call.stop is None
    assert call.settings["max_tokens"] == 16
    assert call.prompt.endswith("Reply with only Yes or No.")
    assert f"Task: {INSTRUCTION}\n" in call.prompt


def test_accepts_a_task() -> None:
    llm = completion(" No")
    task = Task(id="t", instruction=f"  {INSTRUCTION}\n")
    assert ClassificationIdentifier(llm).invoke(task) is False
    assert llm.log.prompts[0].endswith(f"Task: {INSTRUCTION}\nIs it classification?")


def test_empty_instruction_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ClassificationIdentifier(completion(" Yes")).invoke("   ")


def test_garbage_then_answer_is_resampled() -> None:
    llm = completion(" Maybe", "", " Yes")
    assert ClassificationIdentifier(llm).invoke(INSTRUCTION) is True
    assert len(llm.log.calls) == 3


@pytest.mark.parametrize("reply", ["", " It depends", Reply(" Perhaps", "length")])
def test_unanswerable_output_fails_after_max_retries(reply: str | Reply) -> None:
    llm = completion(reply)
    with pytest.raises(OutputParserException):
        ClassificationIdentifier(llm, max_retries=4).invoke(INSTRUCTION)
    assert len(llm.log.calls) == 5


def test_empty_chat_answer_fails() -> None:
    with pytest.raises(OutputParserException):
        ClassificationIdentifier(GenericFakeChatModel(messages=iter(["", "", ""]))).invoke("x y")


def test_works_with_langchain_fake_list_llm() -> None:
    assert ClassificationIdentifier(FakeListLLM(responses=[" No"])).invoke(INSTRUCTION) is False


@pytest.mark.parametrize(
    "answer", [ClassificationAnswer(is_classification=True), {"is_classification": True}]
)
def test_structured_output(answer: ClassificationAnswer | dict[str, bool]) -> None:
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=Script([answer]))
    step = ClassificationIdentifier(model)
    assert step.uses_structured_output
    assert step.invoke(INSTRUCTION) is True
    assert set(model.schemas) == {ClassificationAnswer}
    # max_tokens=16 would cut the tool call's JSON; it is not applied in structured mode.
    assert "max_tokens" not in step.applied_settings


def test_structured_failures_are_retried_then_reported() -> None:
    answers = Script([{"is_classification": "perhaps"}, None])
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=answers)
    with pytest.raises(OutputParserException):
        ClassificationIdentifier(model, max_retries=2).invoke(INSTRUCTION)
    assert answers.served == 3


def test_custom_prompt() -> None:
    llm = completion(" yes")
    template = PromptTemplate.from_template("Q: Is '{instruction}' a classification task?\nA:")
    assert ClassificationIdentifier(llm, prompt=template).invoke(INSTRUCTION) is True
    assert llm.log.prompts[0] == f"Q: Is '{INSTRUCTION}' a classification task?\nA:"


def test_run_name_and_types() -> None:
    names = RunNames()
    step = ClassificationIdentifier(completion(" Yes"))
    step.invoke(INSTRUCTION, {"callbacks": [names]})
    assert names.chains[0] == "self_instruct.identify_classification"
    assert "YesNoParser" in names.chains
    assert step.OutputType is bool


def test_batch_keeps_order() -> None:
    llm = completion(" Yes", " No", " Yes")
    step = ClassificationIdentifier(llm)
    assert step.batch(["a b c", "d e f", "g h i"], {"max_concurrency": 1}) == [True, False, True]


async def test_ainvoke_and_abatch() -> None:
    step = ClassificationIdentifier(completion(" Maybe", " No"))
    assert await step.ainvoke(INSTRUCTION) is False
    assert await step.abatch([INSTRUCTION, INSTRUCTION]) == [False, False]


async def test_async_failure_is_reported() -> None:
    llm = completion("???")
    with pytest.raises(OutputParserException):
        await ClassificationIdentifier(llm, max_retries=1).ainvoke(INSTRUCTION)
    assert len(llm.log.calls) == 2


def test_default_sampling_is_the_faithful_preset() -> None:
    step = ClassificationIdentifier(completion(" Yes"))
    assert step.sampling == get_preset("faithful").classification
    assert step.preset == get_preset("faithful")


def test_greedy_retries_resample_instead_of_repeating() -> None:
    from langchain_selfinstruct.steps.model_setup import RESAMPLE_SETTINGS

    class Recording(FakeListLLM):
        temperature: float = 0.0
        seen: list[float]

        def _call(
            self,
            prompt: str,
            stop: list[str] | None = None,
            run_manager: CallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> str:
            self.seen.append(self.temperature)
            return self.responses[len(self.seen) - 1]

    model = Recording(responses=["maybe", "perhaps", " Yes"], seen=[])
    assert ClassificationIdentifier(model, max_retries=2).invoke(INSTRUCTION) is True
    assert model.seen == [0.0, RESAMPLE_SETTINGS["temperature"], RESAMPLE_SETTINGS["temperature"]]
