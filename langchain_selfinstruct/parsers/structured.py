"""Structured-output schemas for the three generative steps, and their converters.

A chat model that supports ``with_structured_output`` answers in these schemas; the converters
clean the result exactly as the text parsers clean text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from langchain_selfinstruct.parsers._text import (
    ITEM_MARKER,
    clean_item,
    dedupe_items,
    fail,
    is_preamble,
)
from langchain_selfinstruct.parsers.instances import make_instance
from langchain_selfinstruct.schema import Instance

__all__ = [
    "ClassificationAnswer",
    "GeneratedInstance",
    "InstanceList",
    "InstructionList",
    "instances_from_structured",
    "instructions_from_structured",
    "is_classification_from_structured",
]

_M = TypeVar("_M", bound=BaseModel)


class InstructionList(BaseModel):
    """New task instructions generated from the in-context examples (paper §2.1)."""

    instructions: list[str] = Field(
        description="New, diverse task instructions, one per element. Each is a complete, "
        "self-contained instruction a person could follow, without numbering or quotes."
    )


class ClassificationAnswer(BaseModel):
    """Whether a task is a classification task (paper §2.2)."""

    is_classification: bool = Field(
        description="True if every output of the task is one of a small, finite set of labels "
        "(a classification task, e.g. positive/negative); false for open-ended outputs."
    )


class GeneratedInstance(BaseModel):
    """One input/output example of a task (paper §2.3)."""

    input: str = Field(
        default="",
        description="The task input; an empty string when the instruction needs no input.",
    )
    output: str = Field(description="The correct output (or class label) for this input.")


class InstanceList(BaseModel):
    """Input/output examples for one task (paper §2.3)."""

    instances: list[GeneratedInstance] = Field(
        description="Distinct, correct input/output examples of the task."
    )


def _coerce(schema: type[_M], obj: object) -> _M:
    if isinstance(obj, schema):
        return obj
    data = obj.model_dump() if isinstance(obj, BaseModel) else obj
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        message = f"Structured output is not a valid {schema.__name__}: {error}"
        raise fail(message, str(obj)) from error


def instructions_from_structured(
    obj: InstructionList | Mapping[str, Any], *, max_items: int | None = None
) -> list[str]:
    """Clean an :class:`InstructionList` (or dict) as :class:`NumberedListParser` cleans text.

    Strips list markers, bold and quotes, drops empty, duplicate and preamble items ("Sure! Here
    are more tasks:"), keeps ``max_items``.

    Raises:
        OutputParserException: ``obj`` does not match the schema or holds no instruction.
    """
    parsed = _coerce(InstructionList, obj)
    cleaned = []
    for item in parsed.instructions:
        marker = ITEM_MARKER.match(item)
        cleaned.append(clean_item(item[marker.end() :] if marker else item))
    items = dedupe_items((item for item in cleaned if not is_preamble(item)), max_items)
    if not items:
        raise fail("The structured output holds no instruction.", str(obj))
    return items


def is_classification_from_structured(obj: ClassificationAnswer | Mapping[str, Any]) -> bool:
    """Read a :class:`ClassificationAnswer` (or dict) as :class:`YesNoParser` output.

    Raises:
        OutputParserException: ``obj`` does not match the schema.
    """
    return _coerce(ClassificationAnswer, obj).is_classification


def instances_from_structured(
    obj: InstanceList | Mapping[str, Any], *, max_instances: int | None = None
) -> list[Instance]:
    """Convert an :class:`InstanceList` (or dict) to instances as :class:`InstanceParser` does.

    Text is stripped, "None"/"N/A" inputs become ``""``, empty outputs are dropped.

    Raises:
        OutputParserException: ``obj`` does not match the schema or holds no usable instance.
    """
    parsed = _coerce(InstanceList, obj)
    made = (make_instance(item.input, item.output) for item in parsed.instances)
    instances = [inst for inst in made if inst is not None]
    if not instances:
        raise fail("The structured output holds no instance with an output.", str(obj))
    return instances[:max_instances] if max_instances is not None else instances
