"""The filtering step of Self-Instruct (Wang et al., 2022, §2.4) as Runnables.

:class:`InstructionFilter` drops generated instructions that are too short or long, mention things a
text model cannot handle (images, files, ...), look like programming boilerplate, start oddly, or
are near-duplicates of the pool or of an earlier candidate in the same batch.
:class:`InstanceFilter` cleans a task's generated instances and drops tasks whose instances
contradict each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, cast, runtime_checkable

from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import BaseModel, ConfigDict, Field

from langchain_selfinstruct.dedup import rouge_l
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps import _rules
from langchain_selfinstruct.steps._rules import (
    ALPACA_EXTRA_BLACKLIST,
    PAPER_BLACKLIST,
    InstanceRule,
    InstructionRule,
    RuleHit,
)

__all__ = [
    "ALPACA_EXTRA_BLACKLIST",
    "PAPER_BLACKLIST",
    "DuplicateIndex",
    "InstanceFilter",
    "InstanceFilterResult",
    "InstanceRejection",
    "InstructionFilter",
    "InstructionFilterResult",
    "Rejection",
]

_PAPER_THRESHOLD = 0.7
Similar = list[tuple[str, float]]


class DuplicateCheckLike(Protocol):
    """What :class:`InstructionFilter` reads from a duplicate check."""

    @property
    def is_duplicate(self) -> bool:
        """Whether the text is too close to the pool."""

    @property
    def reason(self) -> str | None:
        """``near_duplicate`` or ``semantic_duplicate`` when a duplicate."""

    @property
    def max_score(self) -> float:
        """Highest ROUGE-L F against the pool."""

    @property
    def most_similar(self) -> Sequence[tuple[str, float]]:
        """The most similar pool texts with their ROUGE-L F, best first."""


@runtime_checkable
class DuplicateIndex(Protocol):
    """The part of :class:`~langchain_selfinstruct.dedup.NearDuplicateIndex` the filter uses."""

    @property
    def threshold(self) -> float:
        """ROUGE-L F above which a text is a near-duplicate."""

    def check_batch(self, texts: Sequence[str], k: int = 10) -> Sequence[DuplicateCheckLike]:
        """Check each text against the pool, reporting its ``k`` most similar texts."""

    def add(self, texts: Iterable[str]) -> None:
        """Add texts to the pool."""


class Rejection(BaseModel):
    """A rejected candidate instruction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    """The candidate as given to the filter (before normalisation)."""
    reason: str
    """Stable machine-readable reason, e.g. ``too_short`` or ``blacklisted:image``."""
    detail: dict[str, Any] = Field(default_factory=dict)
    """Evidence, e.g. ``{"word": "image"}`` or ``{"against": "pool", "score": 0.82, ...}``."""


class InstructionFilterResult(BaseModel):
    """Outcome of :class:`InstructionFilter` on one batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kept: list[str]
    """Normalised instructions that passed, in input order."""
    rejected: list[Rejection]
    """One entry per rejected candidate, with the first rule that fired."""
    similar: dict[str, Similar]
    """For each kept text, its most similar pool or batch texts with ROUGE-L F, best first."""
    stats: dict[str, int]
    """``total``, ``kept`` and ``dropped_<reason>`` counts."""


class InstructionFilter(RunnableSerializable[list[str], InstructionFilterResult]):
    """Filter generated instructions with the heuristics of paper §2.4.

    Rules run cheapest first and the first that fires is the reason: empty text, word count,
    keyword blacklist, rejected prefixes, leading punctuation, leading non-ASCII character,
    near-duplicates, then ``custom_rules`` (so a rule that asks a model is only asked about
    texts that are new). A candidate is a near-duplicate when its ROUGE-L F
    against the pool (``index``, which may also flag semantic duplicates) or against a candidate
    kept earlier in the same call exceeds the threshold (paper §2.4: kept only when ROUGE-L < 0.7;
    exactly 0.7 is kept, as in the paper's code). The pool is not updated during a call, so the
    batch is checked with exact ROUGE-L among its own kept texts. Texts are normalised first:
    whitespace collapsed, surrounding quotes stripped.

    Example:
        .. code-block:: python

            result = InstructionFilter(index=pool_index).invoke(candidates)
            result.kept, result.stats["dropped_near_duplicate"]
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str | None = "self_instruct.filter_instructions"
    index: DuplicateIndex | None = None
    """Pool index to check against; share one across steps so the loop sees every kept text."""
    min_words: int = 3
    """Reject texts with at most this many words (paper: ``<= 3``)."""
    max_words: int = 150
    """Reject texts with more words than this (paper: ``> 150``)."""
    blacklist: tuple[str, ...] = PAPER_BLACKLIST
    """Whole-word, case-insensitive keywords (paper §2.4)."""
    extra_blacklist: tuple[str, ...] = ()
    """More keywords, e.g. :data:`ALPACA_EXTRA_BLACKLIST`."""
    reject_prefixes: tuple[str, ...] = ("Write a program",)
    """Case-insensitive start phrases to reject (the paper's "Write a program")."""
    reject_punctuation_start: bool = True
    """Reject texts starting with ASCII punctuation (paper)."""
    reject_non_ascii_start: bool = True
    """Reject texts starting with a non-ASCII character (paper; turn off for non-English runs)."""
    custom_rules: Sequence[Callable[[str], str | None]] = ()
    """Extra rules over the normalised text, run last (after dedup); return a reason or None."""
    threshold: float | None = None
    """ROUGE-L threshold inside a batch; ``None`` takes the index's, or 0.7 (paper) without one."""
    num_similar: int = Field(default=10, ge=0)
    """How many similar texts to record per kept text (the paper keeps 10)."""
    update_index: bool = False
    """Add kept texts to ``index`` (callers sharing the index should hold their own lock)."""

    def invoke(
        self, input: list[str], config: RunnableConfig | None = None, **kwargs: Any
    ) -> InstructionFilterResult:
        """Filter a batch of candidate instructions.

        Args:
            input: Candidates in generation order; earlier ones win within the batch.
            config: Runnable config (callbacks, tags, run name).
            **kwargs: Ignored.

        Returns:
            The kept texts, the rejections with reasons, similar texts and counts.
        """
        return self._call_with_config(self._filter, input, config)

    async def ainvoke(
        self, input: list[str], config: RunnableConfig | None = None, **kwargs: Any
    ) -> InstructionFilterResult:
        """Async :meth:`invoke`.

        The built-in rules and the dedup take about a millisecond per batch, less than a hop to
        the thread pool and the GIL contention it brings, so they run on the calling thread.
        With ``custom_rules`` (which may call a model) the filter runs in the thread pool.
        """
        if self.custom_rules:
            return await super().ainvoke(input, config, **kwargs)
        return await self._acall_with_config(self._afilter, input, config)

    async def _afilter(self, candidates: list[str]) -> InstructionFilterResult:
        return self._filter(candidates)

    def _rules(self) -> list[InstructionRule]:
        rules: list[InstructionRule] = [
            _rules.empty_rule,
            _rules.length_rule(self.min_words, self.max_words),
            _rules.blacklist_rule((*self.blacklist, *self.extra_blacklist)),
            _rules.prefix_rule(self.reject_prefixes),
        ]
        if self.reject_punctuation_start:
            rules.append(_rules.starts_with_punctuation)
        if self.reject_non_ascii_start:
            rules.append(_rules.non_ascii_start)
        return rules

    def _filter(self, candidates: list[str]) -> InstructionFilterResult:
        rules = self._rules()
        rejected: dict[int, Rejection] = {}
        survivors: list[tuple[int, str]] = []
        for position, raw in enumerate(candidates):
            text = _rules.normalize_instruction(raw)
            hit = next((h for rule in rules if (h := rule(text)) is not None), None)
            if hit is None:
                survivors.append((position, text))
            else:
                rejected[position] = Rejection(text=raw, reason=hit.reason, detail=hit.detail)
        kept, similar = self._dedup(candidates, survivors, rejected)
        if self.update_index and self.index is not None and kept:
            self.index.add(kept)
        ordered = [rejected[position] for position in sorted(rejected)]
        stats = {"total": len(candidates), "kept": len(kept)}
        stats.update(Counter(f"dropped_{r.reason}" for r in ordered))
        return InstructionFilterResult(kept=kept, rejected=ordered, similar=similar, stats=stats)

    def _dedup(
        self,
        candidates: list[str],
        survivors: list[tuple[int, str]],
        rejected: dict[int, Rejection],
    ) -> tuple[list[str], dict[str, Similar]]:
        texts = [text for _, text in survivors]
        checks = None
        if self.index is not None and texts:
            checks = self.index.check_batch(texts, k=self.num_similar)
        threshold = self._batch_threshold()
        custom = [_wrap_custom(rule) for rule in self.custom_rules]
        kept: list[str] = []
        similar: dict[str, Similar] = {}
        for i, (position, text) in enumerate(survivors):
            raw = candidates[position]
            pool = checks[i] if checks is not None else None
            if pool is not None and pool.is_duplicate:
                reason = pool.reason or "near_duplicate"
                rejected[position] = _duplicate(
                    raw, reason, "pool", pool.max_score, pool.most_similar
                )
                continue
            batch = sorted(((other, rouge_l(text, other)) for other in kept), key=_by_score)
            if batch and batch[0][1] > threshold:
                top, score = batch[: self.num_similar], batch[0][1]
                rejected[position] = _duplicate(raw, "near_duplicate", "batch", score, top)
                continue
            hit = next((h for rule in custom if (h := rule(text)) is not None), None)
            if hit is not None:
                rejected[position] = Rejection(text=raw, reason=hit.reason, detail=hit.detail)
                continue
            merged = [*batch, *(pool.most_similar if pool is not None else ())]
            similar[text] = sorted(merged, key=_by_score)[: self.num_similar]
            kept.append(text)
        return kept, similar

    def _batch_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return self.index.threshold if self.index is not None else _PAPER_THRESHOLD


def _duplicate(
    text: str, reason: str, against: str, score: float, most_similar: Sequence[tuple[str, float]]
) -> Rejection:
    detail = {"against": against, "score": score, "most_similar": list(most_similar)}
    return Rejection(text=text, reason=reason, detail=detail)


def _by_score(pair: tuple[str, float]) -> float:
    return -pair[1]


def _wrap_custom(rule: Callable[[str], str | None]) -> InstructionRule:
    def wrapped(text: str) -> RuleHit | None:
        reason = rule(text)
        return None if reason is None else RuleHit(reason, {"rule": getattr(rule, "__name__", "")})

    return wrapped


class InstanceRejection(BaseModel):
    """A dropped instance and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: Instance
    reason: str
    """``empty_output``, ``input_equals_output``, ``ends_with_colon``, ``duplicate``,
    ``over_limit`` or a custom rule's reason."""


class InstanceFilterResult(BaseModel):
    """Outcome of :class:`InstanceFilter` on one task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Task | None
    """The task with only its valid instances, or ``None`` when the task is dropped."""
    rejected: list[InstanceRejection]
    """Dropped instances: rule and duplicate rejections in task order, then ``over_limit`` ones."""
    task_reason: str | None = None
    """``conflicting_outputs`` or ``no_valid_instances`` when the task is dropped."""


class InstanceFilter(RunnableSerializable[Task, Task | None]):
    """Keep a task's valid instances, or drop the task (paper §2.4 and its released code).

    Instances are compared after ``strip()``. Dropped: empty output, input equal to output, input
    or output ending with ":" (usually a cut-off generation), and exact duplicates. The whole task
    is dropped when a non-empty input maps to two different outputs (``conflicting_outputs``) or
    nothing valid is left (``no_valid_instances``). The first ``max_instances`` valid instances
    are kept, in order; the rest are ``over_limit``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = "self_instruct.filter_instances"
    max_instances: int = Field(default=5, ge=1)
    """Instances kept per task (the paper keeps at most 5)."""
    custom_rules: Sequence[Callable[[str, str], str | None]] = ()
    """Extra rules over stripped ``(input, output)`` run after the built-in ones."""

    def invoke(
        self, input: Task, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Task | None:
        """Filter a task's instances.

        Args:
            input: The task.
            config: Runnable config (callbacks, tags, run name).
            **kwargs: Ignored.

        Returns:
            The task with only valid instances, or ``None`` when it must be dropped.
        """
        return self.apply(input, config).task

    def apply(self, task: Task, config: RunnableConfig | None = None) -> InstanceFilterResult:
        """Filter a task's instances and report why each dropped one was dropped.

        Args:
            task: The task.
            config: Runnable config (callbacks, tags, run name).

        Returns:
            The filtered task (or ``None``), the rejected instances and the task-level reason.
        """
        # Traced with the whole result, not just the task, so the reasons show up in the trace.
        run = cast("Callable[[Task], Any]", self._apply)
        return cast("InstanceFilterResult", self._call_with_config(run, task, config))

    def _apply(self, task: Task) -> InstanceFilterResult:
        rules: list[InstanceRule] = [
            _rules.empty_output,
            _rules.input_equals_output,
            _rules.ends_with_colon,
        ]
        rules.extend(self.custom_rules)
        valid: list[Instance] = []
        rejected: list[InstanceRejection] = []
        seen: set[tuple[str, str]] = set()
        for instance in task.instances:
            pair = (instance.input.strip(), instance.output.strip())
            reason = next((r for rule in rules if (r := rule(*pair)) is not None), None)
            if reason is None and pair in seen:
                reason = "duplicate"
            if reason is not None:
                rejected.append(InstanceRejection(instance=instance, reason=reason))
                continue
            seen.add(pair)
            valid.append(instance)
        task_reason = self._task_reason(valid)
        if task_reason is not None:
            return InstanceFilterResult(task=None, rejected=rejected, task_reason=task_reason)
        over = valid[self.max_instances :]
        rejected.extend(InstanceRejection(instance=i, reason="over_limit") for i in over)
        kept = task.model_copy(update={"instances": valid[: self.max_instances]})
        return InstanceFilterResult(task=kept, rejected=rejected)

    @staticmethod
    def _task_reason(valid: list[Instance]) -> str | None:
        if _rules.find_conflict(valid) is not None:
            return "conflicting_outputs"
        return None if valid else "no_valid_instances"
