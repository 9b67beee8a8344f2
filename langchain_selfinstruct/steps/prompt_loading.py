"""Load the shipped prompt templates and check a caller's prompt override."""

from __future__ import annotations

import os
from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from langchain_core.prompts import BasePromptTemplate, PromptTemplate
from pydantic import SkipValidation

from langchain_selfinstruct.resources import prompt_path

__all__ = ["PromptOverride", "coerce_prompt", "default_prompt"]

# Checked by coerce_prompt in each step's validator; pydantic's own validation would try to build
# the abstract, parametrized BasePromptTemplate[Any].
PromptOverride = Annotated[BasePromptTemplate[Any] | None, SkipValidation]


@cache
def default_prompt(name: str) -> PromptTemplate:
    """Load a shipped prompt template (``prompts/<name>``) verbatim, as an f-string template."""
    return PromptTemplate.from_template(prompt_path(name).read_text(encoding="utf-8"))


def coerce_prompt(value: object, *, required: Collection[str], allowed: Collection[str]) -> object:
    """Turn a user's prompt override into a checked template (for a pydantic ``before`` validator).

    Args:
        value: ``None``, a prompt template, or a path to an f-string template file. A plain string
            is refused because it is ambiguous; wrap template text in ``PromptTemplate``.
        required: Variables the template must use.
        allowed: Variables the step can fill in.

    Returns:
        ``None`` or a :class:`~langchain_core.prompts.BasePromptTemplate`.

    Raises:
        TypeError: ``value`` is a plain string or another unsupported type.
        ValueError: The template lacks a required variable or needs one the step cannot fill.
    """
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError(
            "pass a prompt as PromptTemplate.from_template(text) or as a pathlib.Path to a "
            "template file, not as a plain string"
        )
    if isinstance(value, os.PathLike):
        value = PromptTemplate.from_template(Path(value).read_text(encoding="utf-8"))
    if not isinstance(value, BasePromptTemplate):
        raise TypeError(f"expected a prompt template or a path, got {type(value).__name__}")
    provided = set(value.input_variables) | set(value.partial_variables)
    if missing := sorted(set(required) - provided):
        raise ValueError(f"prompt template must use the variable(s) {missing}")
    if unknown := sorted(set(value.input_variables) - set(allowed)):
        raise ValueError(
            f"prompt template uses unknown variable(s) {unknown}; available: {sorted(allowed)}"
        )
    return value
