"""A deterministic fake model that answers every Self-Instruct prompt plausibly.

Useful for dry runs of a pipeline configuration, for tests and for benchmarks of the loop itself:
it recognises the four prompt shapes of the bundled prompts (instruction list, Yes/No,
input-first and output-first instances) and the judges' prompts (:mod:`._fake_judge`), and
answers from a seeded RNG keyed on the prompt, so the same prompts give the same answers whatever
the concurrency. Rates of garbage answers,
near-duplicate and blacklisted instructions are configurable to exercise the filters and retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import threading
import time
from collections import Counter
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.language_models.base import LangSmithParams
from langchain_core.outputs import Generation, LLMResult
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_selfinstruct._fake_judge import answer_judge_prompt
from langchain_selfinstruct.stats import completion_generation

__all__ = ["FakeSelfInstructLLM"]

_VERBS = (
    "Describe",
    "Summarize",
    "Explain",
    "List",
    "Compare",
    "Rewrite",
    "Classify",
    "Suggest",
    "Outline",
    "Estimate",
    "Translate",
    "Critique",
    "Rank",
    "Plan",
    "Define",
    "Predict",
    "Recommend",
    "Evaluate",
    "Convert",
    "Name",
    "Identify",
    "Sketch out",
    "Propose",
    "Justify",
)
_ADJECTIVES = (
    "healthy",
    "quick",
    "formal",
    "cheap",
    "historic",
    "remote",
    "seasonal",
    "urban",
    "quiet",
    "ancient",
    "modern",
    "tiny",
    "popular",
    "risky",
    "gentle",
    "annual",
    "digital",
    "local",
    "coastal",
    "rural",
    "vintage",
    "noisy",
    "simple",
    "complex",
    "weekly",
    "shared",
    "frozen",
)
_NOUNS = (
    "breakfast",
    "budget",
    "garden",
    "bicycle",
    "contract",
    "festival",
    "library",
    "volcano",
    "interview",
    "podcast",
    "recipe",
    "river",
    "startup",
    "museum",
    "vaccine",
    "password",
    "telescope",
    "marathon",
    "glacier",
    "newsletter",
    "wedding",
    "harbor",
    "keyboard",
    "orchard",
    "satellite",
    "lecture",
    "pharmacy",
    "stadium",
    "bakery",
    "tournament",
    "theater",
    "ferry",
)
_TAILS = (
    "for a new employee",
    "in three sentences",
    "for a ten-year-old",
    "using a short list",
    "with one concrete example",
    "for a busy parent",
    "in plain language",
    "from two viewpoints",
    "for a travel blog",
    "in under fifty words",
    "for a school report",
    "as a short dialogue",
)
_LABELS = (("Positive", "Negative"), ("Yes", "No"), ("Fact", "Opinion"), ("Urgent", "Routine"))
_GARBAGE = ("", "???", "lorem ipsum dolor", "I cannot help with that.", "%%%%", "\n\n")


class FakeSelfInstructLLM(BaseLLM):
    """Scripted completion model for the Self-Instruct prompts; no network, no weights.

    Example:
        .. code-block:: python

            from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline

            tasks = SelfInstructPipeline(FakeSelfInstructLLM(seed=1)).invoke(
                {"num_instructions": 20}
            )
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    """Seed mixed into every answer."""
    latency_s: float = Field(default=0.0, ge=0)
    """Simulated time per call (``asyncio.sleep`` on the async path)."""
    garbage_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of answers that are unparseable (a retry of the same prompt draws again)."""
    duplicate_rate: float = Field(default=0.05, ge=0, le=1)
    """Share of generated instructions that copy a prompt instruction (near-duplicates)."""
    blacklisted_rate: float = Field(default=0.05, ge=0, le=1)
    """Share of generated instructions that ask to draw a picture (blacklisted)."""
    classification_rate: float = Field(default=0.3, ge=0, le=1)
    """Share of instructions the fake calls classification tasks."""
    new_per_prompt: int = Field(default=7, ge=1)
    """Instructions continued per instruction-generation prompt (paper: up to 7)."""

    _calls: Counter[str] = PrivateAttr(default_factory=Counter)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "fake-self-instruct"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"seed": self.seed, "garbage_rate": self.garbage_rate}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # Provenance and price lookups read the name as "provider:model".
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"], params["ls_model_name"] = "fake", "self-instruct"
        return params

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.latency_s:
            time.sleep(self.latency_s)
        return _result([self.respond(p) for p in prompts], prompts)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return _result([self.respond(p) for p in prompts], prompts)

    def respond(self, prompt: str) -> str:
        """Answer one prompt (deterministic in the prompt and how often it was seen)."""
        with self._lock:
            self._calls[prompt] += 1
            attempt = self._calls[prompt]
        rng = random.Random(hashlib.sha256(f"{self.seed}|{attempt}|{prompt}".encode()).digest())
        if rng.random() < self.garbage_rate:
            return rng.choice(_GARBAGE)
        if (verdicts := answer_judge_prompt(prompt, rng)) is not None:
            return verdicts
        instruction = _last_task(prompt)
        if prompt.rstrip().endswith("Is it classification?"):
            return " Yes" if _is_classification(instruction, self) else " No"
        if instruction is not None and "class label" in prompt[:400].lower():
            return _labelled_instances(instruction, rng)
        if instruction is not None:
            return _instances(instruction, rng)
        return self._instructions(prompt, rng)

    def _instructions(self, prompt: str, rng: random.Random) -> str:
        examples = re.findall(r"^\d+\.\s*(.+)$", prompt, flags=re.MULTILINE)
        lines = []
        for _ in range(self.new_per_prompt):
            roll = rng.random()
            if examples and roll < self.duplicate_rate:
                lines.append(rng.choice(examples))
            elif roll < self.duplicate_rate + self.blacklisted_rate:
                lines.append(f"Draw a picture of a {rng.choice(_NOUNS)} at night.")
            else:
                lines.append(_fresh_instruction(rng))
        first = len(examples) + 1
        return "\n".join(text if i == 0 else f"{first + i}. {text}" for i, text in enumerate(lines))


def _fresh_instruction(rng: random.Random) -> str:
    article = rng.choice(("a", "the", "one"))
    return (
        f"{rng.choice(_VERBS)} {article} {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} "
        f"{rng.choice(_TAILS)}."
    )


def _last_task(prompt: str) -> str | None:
    tasks = re.findall(r"^Task:\s*(.+)$", prompt, flags=re.MULTILINE)
    return tasks[-1].strip() if tasks else None


def _is_classification(instruction: str | None, llm: FakeSelfInstructLLM) -> bool:
    digest = hashlib.sha256(f"{llm.seed}|cls|{instruction}".encode()).digest()
    return digest[0] / 255 < llm.classification_rate


def _instances(instruction: str, rng: random.Random) -> str:
    blocks = []
    for number in range(1, rng.randint(1, 3) + 1):
        noun = rng.choice(_NOUNS)
        blocks.append(
            f"Example {number}\nInput: A note about the {noun}.\n"
            f"Output: For '{instruction[:40]}', the {noun} answer is {rng.randint(1, 999)}."
        )
    return "\n".join(blocks)


def _labelled_instances(instruction: str, rng: random.Random) -> str:
    labels = rng.choice(_LABELS)
    return "\n".join(
        f"Class label: {label}\nInput: A {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} story."
        for label in labels
    )


def _result(texts: list[str], prompts: list[str]) -> LLMResult:
    prompt_tokens = sum(len(p.split()) for p in prompts)
    completion_tokens = sum(len(t.split()) for t in texts)
    # Usage metadata as well as token_usage, so get_usage_metadata_callback() sees the calls.
    generations: list[list[Generation]] = [
        [
            completion_generation(
                text,
                model_name="fake-self-instruct",
                prompt_tokens=len(prompt.split()),
                completion_tokens=len(text.split()),
                generation_info={"finish_reason": "stop"},
            )
        ]
        for text, prompt in zip(texts, prompts, strict=True)
    ]
    return LLMResult(
        generations=generations,
        llm_output={
            "token_usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "model_name": "fake-self-instruct",
        },
    )
