"""Sampling presets for the three generative Self-Instruct steps.

The ``faithful`` preset reproduces the request parameters of the paper's reference code (Wang et
al., 2022, "Self-Instruct: Aligning Language Models with Self-Generated Instructions", §2 and
Appendix A): instruction generation samples with temperature 0.7 / top_p 0.5, classification
identification and instance generation decode greedily. The ``fast`` preset keeps those choices
but caps the output length and asks for 3 instances per task, which matters for small local models
such as the embedded SmolLM2-135M.

Example:
    .. code-block:: python

        from langchain_selfinstruct.presets import get_preset

        preset = get_preset("faithful")
        preset.instruction_generation.temperature  # 0.7
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "PAPER_MAX_INSTANCES",
    "PAPER_MAX_WORDS",
    "PAPER_MIN_WORDS",
    "PAPER_NUM_HUMAN_IN_PROMPT",
    "PAPER_NUM_MOST_SIMILAR",
    "PAPER_NUM_PROMPT_INSTRUCTIONS",
    "PAPER_ROUGE_THRESHOLD",
    "PAPER_TABLE2",
    "PRESETS",
    "Preset",
    "PresetOrName",
    "SamplingParams",
    "get_preset",
]

PromptKind = Literal["chat", "completion"]

# The paper's constants, once: every default elsewhere (presets, filters, the dedup index) refers
# to these. Sections of Wang et al. (2022): §2.1 instruction generation, §2.2 classification task
# identification, §2.3 instance generation, §2.4 filtering and postprocessing.
PAPER_NUM_PROMPT_INSTRUCTIONS = 8
"""In-context instructions per step-1 prompt (§2.1)."""
PAPER_NUM_HUMAN_IN_PROMPT = 6
"""Of which human-written seed tasks; the other 2 are machine-generated (§2.1)."""
PAPER_MAX_INSTANCES = 5
"""Instances kept per task at most (§2.3, the released ``generate_instances.py``)."""
PAPER_ROUGE_THRESHOLD = 0.7
"""An instruction joins the pool only when its ROUGE-L with every pool instruction is below this
(§2.4); the released code rejects ``> 0.7``, so exactly 0.7 is kept."""
PAPER_NUM_MOST_SIMILAR = 10
"""Most similar pool instructions recorded with each kept one (§2.4, the released code)."""
PAPER_MIN_WORDS = 3
"""Instructions with at most this many words are dropped (§2.4, the released code)."""
PAPER_MAX_WORDS = 150
"""Instructions with more than this many words are dropped (§2.4, the released code)."""
PAPER_TABLE2: dict[str, float] = {
    "valid_task": 0.92,
    "appropriate_input": 0.79,
    "acceptable_output": 0.58,
}
"""Share of "yes" in the paper's review of 200 sampled instructions, one instance each (§3,
Table 2): valid task, appropriate input, correct and acceptable output."""


class SamplingParams(BaseModel):
    r"""Decoding parameters of one generative step; ``None`` leaves the model's own setting alone.

    ``stop`` applies to completion prompts only. Chat prompts use ``chat_stop`` instead because a
    chat answer often opens with a preamble and a blank line, which the paper's ``"\n\n"`` stop
    would cut to nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = None
    """Sampling temperature; default ``None`` (model default)."""
    top_p: float | None = None
    """Nucleus sampling mass; default ``None`` (model default)."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Maximum generated tokens; default ``None`` (model default)."""
    chat_max_tokens: int | None = Field(default=None, gt=0)
    """Maximum generated tokens for chat prompts; default ``None`` (same as ``max_tokens``)."""
    stop: tuple[str, ...] | None = None
    """Stop sequences for completion prompts; default ``None`` (no stop sequence)."""
    chat_stop: tuple[str, ...] | None = None
    """Stop sequences for chat prompts; default ``None`` (no stop sequence)."""
    presence_penalty: float | None = None
    """OpenAI-style presence penalty; default ``None`` (model default)."""
    frequency_penalty: float | None = None
    """OpenAI-style frequency penalty; default ``None`` (model default)."""

    def model_settings(self, kind: PromptKind) -> dict[str, Any]:
        """Return the non-``None`` settings other than stop sequences for a prompt kind.

        Args:
            kind: ``"chat"`` or ``"completion"``; chat prompts use ``chat_max_tokens`` if set.

        Returns:
            A dict such as ``{"temperature": 0.7, "max_tokens": 1024}``.
        """
        max_tokens = self.max_tokens
        if kind == "chat" and self.chat_max_tokens is not None:
            max_tokens = self.chat_max_tokens
        values: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": max_tokens,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
        }
        return {key: value for key, value in values.items() if value is not None}

    def stop_for(self, kind: PromptKind) -> list[str]:
        """Return the stop sequences for a prompt kind (empty when there are none)."""
        stop = self.chat_stop if kind == "chat" else self.stop
        return list(stop or ())


class Preset(BaseModel):
    """A named bundle of the settings that shape one Self-Instruct run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Preset name, e.g. ``"faithful"``."""
    instruction_generation: SamplingParams = SamplingParams()
    """Step 1 (paper §2.1) decoding; default: the model's own settings."""
    classification: SamplingParams = SamplingParams()
    """Step 2 (paper §2.2) decoding; default: the model's own settings."""
    instance_generation: SamplingParams = SamplingParams()
    """Step 3 (paper §2.3) decoding; ``InstanceGenerator`` adds the stop
    ``"Example {max_instances + 1}"`` for completion prompts. Default: the model's own settings."""
    num_prompt_instructions: int = Field(default=PAPER_NUM_PROMPT_INSTRUCTIONS, gt=0)
    """In-context instructions per step-1 prompt; default 8 (paper §2.1)."""
    num_human_in_prompt: int = Field(default=PAPER_NUM_HUMAN_IN_PROMPT, ge=0)
    """How many of them are human-written seed tasks; default 6 (paper §2.1: 6 human, 2 machine)."""
    max_instances: int = Field(default=PAPER_MAX_INSTANCES, gt=0)
    """Instances generated and kept per task at most; default 5 (paper §2.3 reference code)."""
    rouge_threshold: float = Field(default=PAPER_ROUGE_THRESHOLD, ge=0.0, le=1.0)
    """An instruction is dropped when its ROUGE-L against the pool exceeds this; default 0.7
    (paper §2.4: ROUGE-L < 0.7; the reference code keeps exactly 0.7)."""
    min_words: int = Field(default=PAPER_MIN_WORDS, ge=0)
    """Instructions with at most this many words are dropped; default 3 (paper §2.4 code)."""
    max_words: int = Field(default=PAPER_MAX_WORDS, gt=0)
    """Instructions with more than this many words are dropped; default 150 (paper §2.4 code)."""


# Paper §2.2 and §2.3 decode greedily (the released code's temperature 0, top_p 0).
_GREEDY: dict[str, Any] = {"temperature": 0.0, "top_p": 0.0, "frequency_penalty": 0.0}

_FAITHFUL = Preset(
    name="faithful",
    # Paper §2.1 / bootstrap_instructions.py: the list of 8 examples ends with "9." and the model
    # continues; "16" ends the list, a blank line ends the continuation.
    instruction_generation=SamplingParams(
        temperature=0.7,
        top_p=0.5,
        max_tokens=1024,
        presence_penalty=2.0,
        frequency_penalty=0.0,
        stop=("\n\n", "\n16", "16.", "16 ."),
    ),
    # Paper §2.2 / identify_clf_or_not.py: greedy, a one-word answer. Chat models get a little more
    # room because they often write "Answer: Yes" or "**No**".
    classification=SamplingParams(
        **_GREEDY, max_tokens=3, chat_max_tokens=16, presence_penalty=0.0, stop=("\n", "Task")
    ),
    # Paper §2.3 / generate_instances.py: greedy with a presence penalty, stop at the next task.
    instance_generation=SamplingParams(
        **_GREEDY, max_tokens=300, presence_penalty=1.5, stop=("Task:",)
    ),
)

_FAST = _FAITHFUL.model_copy(
    update={
        "name": "fast",
        "instruction_generation": _FAITHFUL.instruction_generation.model_copy(
            update={"max_tokens": 320}
        ),
        # 128 tokens: on the README's command every instance output the 135M model finished on
        # its own was shorter (116 at most); longer ones were loops running to the cap.
        "instance_generation": _FAITHFUL.instance_generation.model_copy(update={"max_tokens": 128}),
        "max_instances": 3,
    }
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (_FAITHFUL, _FAST)}
"""The built-in presets: ``faithful`` (paper values) and ``fast`` (shorter outputs, 3 instances)."""


def get_preset(name: str) -> Preset:
    """Return a built-in preset by name.

    Args:
        name: ``"faithful"`` or ``"fast"``.

    Returns:
        The preset.

    Raises:
        ValueError: ``name`` is not a built-in preset; the message lists the valid names.
    """
    try:
        return PRESETS[name]
    except KeyError:
        valid = ", ".join(sorted(PRESETS))
        raise ValueError(f"unknown preset {name!r}; valid presets: {valid}") from None


def _by_name(value: Any) -> Any:
    return get_preset(value) if isinstance(value, str) else value


PresetOrName = Annotated[Preset, BeforeValidator(_by_name)]
"""A pydantic field type: a :class:`Preset`, or the name of a built-in one."""
