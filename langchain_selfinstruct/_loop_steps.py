"""The two Runnables the loop's executors run, built one way for every executor.

The pipeline builds them in process; each Ray replica builds its own over its own model
(``ray_replicas.py``), so both must wire the steps identically or the datasets would differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.runnables import Runnable

from langchain_selfinstruct.presets import Preset
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps import CompleteTask, InstanceFilter, InstructionGenerator
from langchain_selfinstruct.steps.judged_rule import JudgedInstanceRule
from langchain_selfinstruct.steps.model_setup import with_cache

__all__ = ["build_loop_steps"]


def build_loop_steps(
    llm: Runnable[Any, Any],
    preset: Preset,
    *,
    instance_filter: InstanceFilter | None = None,
    classification_cache: BaseCache | None = None,
    judged_rule: JudgedInstanceRule | None = None,
) -> tuple[Runnable[Sequence[str | Task], list[str]], CompleteTask]:
    """Step 1 (instruction generation) and steps 2-4 for one candidate, over ``llm``."""
    # One uncached model for every step (the steps never use a global LLM cache): steps whose
    # sampling fields differ get their own copies of it, the others share this one.
    llm = with_cache(llm, False)
    generator = InstructionGenerator(llm, preset=preset)
    complete = CompleteTask(
        llm,
        preset=preset,
        instance_filter=instance_filter,
        classification_cache=classification_cache,
        judged_rule=judged_rule,
    )
    return generator, complete
