"""The task pool of one run: seed and machine tasks, their near-duplicate index, prompt sampling.

The pool is the only writer of the index: the seeds (and tasks resumed from disk) go in when it is
built, and each instruction that passes the instruction filter goes in at once (as in the paper's
code, before its instances exist), after its mean similarity to the pool is recorded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from langchain_selfinstruct.dedup import PoolIndex
from langchain_selfinstruct.loop.work import Candidate
from langchain_selfinstruct.presets import PAPER_NUM_MOST_SIMILAR, Preset
from langchain_selfinstruct.schema import Task

__all__ = ["Pool"]


class Pool:
    """Seed tasks, accepted machine tasks and the index over all their instructions.

    Args:
        seeds: The human-written tasks.
        machine: Machine tasks accepted so far (a resumed run's tasks).
        index: The near-duplicate index; filled from ``seeds`` and ``machine`` when empty.
        rng: The prompt sampler's random generator.
        preset: Supplies the prompt composition (paper §2.1: 8 tasks, 6 of them human-written).
    """

    def __init__(
        self,
        seeds: Sequence[Task],
        machine: Sequence[Task],
        index: PoolIndex,
        rng: random.Random,
        preset: Preset,
    ) -> None:
        self.seeds = list(seeds)
        self.machine = list(machine)
        self.index = index
        self.rng = rng
        self._preset = preset
        # Not `if not index`: an empty index is falsy (it has __len__); a caller's non-empty index
        # already holds the pool.
        if len(index) == 0:
            index.add([task.instruction for task in [*self.seeds, *self.machine]])

    @property
    def next_id(self) -> str:
        """Id of the next accepted task."""
        return f"machine_task_{len(self.machine)}"

    def sample(self, visible: int) -> list[Task]:
        """Draw one step-1 prompt from the seeds and the first ``visible`` machine tasks.

        Paper §2.1: 8 in-context instructions, 6 human-written and 2 machine-generated (fewer
        machine ones while the pool has fewer), in random order.
        """
        preset = self._preset
        machine = self.machine[:visible]
        num_machine = min(preset.num_prompt_instructions - preset.num_human_in_prompt, len(machine))
        num_human = min(preset.num_prompt_instructions - num_machine, len(self.seeds))
        prompt = self.rng.sample(self.seeds, num_human) + self.rng.sample(machine, num_machine)
        self.rng.shuffle(prompt)
        return prompt

    def admit(self, kept: Sequence[str]) -> dict[str, float]:
        """Add instructions that passed the filter to the index; return each one's mean ROUGE-L.

        The mean is taken against the pool before the texts join it (the paper's
        ``avg_similarity_score``).
        """
        averages = {text: self.index.average_similarity(text) for text in kept}
        self.index.add(kept)
        return averages

    def stamp(self, task: Task, candidate: Candidate, provenance: dict[str, Any]) -> Task:
        """Number a finished task and record its provenance, without accepting it yet.

        The stamped task is exactly what ``tasks.jsonl`` would hold, so its size can be checked
        before it joins the pool; a task refused then leaves its number to the next one.

        Args:
            task: The task with its filtered instances.
            candidate: Where its instruction came from.
            provenance: ``model`` and ``model_params`` of the run.
        """
        return task.model_copy(
            update={
                "id": self.next_id,
                "source": "machine",
                **provenance,
                "prompt_task_ids": list(candidate.prompt_ids),
                "most_similar": dict(candidate.similar[:PAPER_NUM_MOST_SIMILAR]),
                "avg_similarity_score": candidate.average,
                "created_at": datetime.now(timezone.utc),
            }
        )

    def accept(self, stamped: Task) -> Task:
        """Add a :meth:`stamp`-ed task to the machine tasks; returns it."""
        self.machine.append(stamped)
        return stamped
