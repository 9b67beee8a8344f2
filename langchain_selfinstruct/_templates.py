"""Prompt/completion templates for the ``prompt-completion`` export format.

The paper finetunes GPT-3 on prompts rendered with one of several templates chosen at random per
example, so the model does not overfit one wording (Wang et al., 2022, §4 "Finetuning the LM to
follow instructions"). These are our own templates, not the paper's. Each is a ``(prompt,
completion)`` pair of ``str.format`` strings; prompts that end with a label and a colon get a
completion starting with a space, prompts that end with a blank line get the bare output.
"""

from __future__ import annotations

import random
import re

__all__ = [
    "FIELD_PREFIX",
    "FIELD_STRIP_PROBABILITY",
    "TEMPLATES_NO_INPUT",
    "TEMPLATES_WITH_INPUT",
    "render_prompt_completion",
    "strip_field_prefix",
]

Template = tuple[str, str]

TEMPLATES_WITH_INPUT: tuple[Template, ...] = (
    ("{instruction}\nInput: {input}\nOutput:", " {output}"),
    ("{instruction}\n\nInput:\n{input}\n\nResponse:", " {output}"),
    ("Task: {instruction}\n{input}\nAnswer:", " {output}"),
    ("Instruction: {instruction}\nContext: {input}\nResult:", " {output}"),
    ("Here is a task and what it applies to.\nTask: {instruction}\nInput: {input}\n\n", "{output}"),
    ("Input: {input}\n\nWith the input above: {instruction}\nOutput:", " {output}"),
    ("{instruction}\n\n{input}\n\n", "{output}"),
)
"""Templates for instances that have an input."""

TEMPLATES_NO_INPUT: tuple[Template, ...] = (
    ("{instruction}\nOutput:", " {output}"),
    ("{instruction}\n\nResponse:", " {output}"),
    ("Task: {instruction}\nAnswer:", " {output}"),
    ("Instruction: {instruction}\nResult:", " {output}"),
    ("Please complete this task.\n{instruction}\n\n", "{output}"),
    ("{instruction}\n\n", "{output}"),
)
"""Templates for instances whose input is empty."""

FIELD_PREFIX = re.compile(r"[A-Za-z][\w\-]*(?: [\w\-]+){0,2}:\s+(?=\S)")
"""A leading field label such as ``Sentence:`` or ``Product review:`` (one to three words).

The label starts with a letter and its colon is followed by whitespace and then text, so
``http://...``, ``10:30`` or a bare ``Note:`` never match.
"""

FIELD_STRIP_PROBABILITY = 0.5
"""Chance of removing a leading field label from an input (paper §4: 50%)."""


def strip_field_prefix(text: str) -> str:
    """Remove one leading ``Field:`` label from an input, if it has one.

    Args:
        text: The instance input.

    Returns:
        The input without its first label; unchanged when it starts with none. Only one label is
        removed: ``"Q: A: x"`` becomes ``"A: x"``.
    """
    stripped = text.lstrip()
    match = FIELD_PREFIX.match(stripped)
    if match is None:
        return text
    return stripped[match.end() :]


def render_prompt_completion(
    instruction: str, input_text: str, output: str, rng: random.Random
) -> tuple[str, str]:
    """Render one example with a randomly chosen template.

    With probability :data:`FIELD_STRIP_PROBABILITY` a leading field label is removed from the
    input first; the coin is only drawn for inputs that have such a label.

    Args:
        instruction: The task instruction.
        input_text: The instance input (``""`` when none).
        output: The instance output.
        rng: Source of randomness; a seeded one makes the export reproducible.

    Returns:
        The ``(prompt, completion)`` pair.
    """
    has_label = bool(input_text) and FIELD_PREFIX.match(input_text.lstrip()) is not None
    if has_label and rng.random() < FIELD_STRIP_PROBABILITY:
        input_text = strip_field_prefix(input_text)
    templates = TEMPLATES_WITH_INPUT if input_text else TEMPLATES_NO_INPUT
    prompt, completion = rng.choice(templates)
    return (
        prompt.format(instruction=instruction, input=input_text),
        completion.format(output=output),
    )
