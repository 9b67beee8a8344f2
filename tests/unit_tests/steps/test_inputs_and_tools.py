"""Every step takes the shapes its siblings take, refuses the rest by name, and is a tool."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.runnables import Runnable

from langchain_selfinstruct import Instance, Task
from langchain_selfinstruct.steps import (
    ClassificationIdentifier,
    InstanceFilter,
    InstanceGenerator,
    InstructionFilter,
    InstructionGenerator,
)

_TASK = Task(
    id="t",
    instruction="Convert miles to kilometres.",
    is_classification=False,
    instances=[Instance(input="5 miles", output="8 km")],
)


def _steps() -> dict[str, Runnable[Any, Any]]:
    return {
        "classify": ClassificationIdentifier(FakeListLLM(responses=["Yes"] * 20)),
        "generate": InstructionGenerator(
            FakeListLLM(responses=["Name three rivers in Africa.\n2. Sort the list."] * 20)
        ),
        "instances": InstanceGenerator(FakeListLLM(responses=["Input: 3\nOutput: 4.8"] * 20)),
        "filter_instructions": InstructionFilter(),
        "filter_instances": InstanceFilter(),
    }


def test_classification_takes_a_mapping_like_its_siblings() -> None:
    step = _steps()["classify"]
    assert step.invoke({"instruction": "Is it sarcastic?"}) is True
    assert step.invoke(_TASK) is True


def test_instruction_filter_takes_one_string_as_one_candidate() -> None:
    result = InstructionFilter().invoke("Write a poem about the sea today.")
    assert result.kept == ["Write a poem about the sea today."]
    assert result.stats["total"] == 1
    assert InstructionFilter().invoke({"instructions": ["Name three rivers."]}).stats["total"] == 1


def test_instance_filter_takes_a_mapping() -> None:
    task = InstanceFilter().invoke(_TASK.model_dump())
    assert task is not None and task.instances == _TASK.instances


@pytest.mark.parametrize("name", sorted(_steps()))
@pytest.mark.parametrize("bad", [None, 3, {"text": "no instruction key"}])
def test_anything_else_is_a_type_error_naming_the_input(name: str, bad: object) -> None:
    with pytest.raises(TypeError, match="expects"):
        _steps()[name].invoke(bad)


@pytest.mark.parametrize("name", sorted(_steps()))
def test_every_step_is_a_tool_in_one_line(name: str) -> None:
    tool = _steps()[name].as_tool()
    assert tool.name.replace("_", "").isalnum()
    assert tool.description
    assert tool.args, "named arguments"
    calls: dict[str, dict[str, Any]] = {
        "classify": {"instruction": "Is it sarcastic?"},
        "generate": {"instructions": ["Write a poem.", "Sort the list."]},
        "instances": {"instruction": "Add one to a number."},
        "filter_instructions": {"instructions": ["Name three rivers in Africa."]},
        "filter_instances": _TASK.model_dump(include={"instruction", "instances"}),
    }
    assert tool.invoke(calls[name]) is not None


def test_classification_as_tool_with_arg_types() -> None:
    tool = _steps()["classify"].as_tool(arg_types={"instruction": str})
    assert tool.invoke({"instruction": "Is it sarcastic?"}) is True
