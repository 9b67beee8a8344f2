"""Judges: models asked to assess data, with a shared base the evaluation judges reuse.

:class:`TaskReviewer` is the paper's Table 2 review (Wang et al., 2022, §3). The base
(:class:`JudgeBase`, :class:`VerdictParser`, the seeded :func:`shuffle_positions`, and the
agreement statistics) is what every judge shares.
"""

from langchain_selfinstruct.judges.agreement import cohen_kappa, wilson_interval
from langchain_selfinstruct.judges.base import JUDGE_SAMPLING, CallUsage, JudgeBase
from langchain_selfinstruct.judges.curate import JUDGE_REASONS, CurationRule, review_rule
from langchain_selfinstruct.judges.positions import (
    Positions,
    seeded_index,
    seeded_sample,
    shuffle_positions,
)
from langchain_selfinstruct.judges.task_review import (
    REVIEW_QUESTIONS,
    InstanceReview,
    ReviewAnswer,
    TaskReview,
    TaskReviewer,
)
from langchain_selfinstruct.judges.verdict import Verdict, VerdictParser

__all__ = [
    "JUDGE_REASONS",
    "JUDGE_SAMPLING",
    "REVIEW_QUESTIONS",
    "CallUsage",
    "CurationRule",
    "InstanceReview",
    "JudgeBase",
    "Positions",
    "ReviewAnswer",
    "TaskReview",
    "TaskReviewer",
    "Verdict",
    "VerdictParser",
    "cohen_kappa",
    "review_rule",
    "seeded_index",
    "seeded_sample",
    "shuffle_positions",
    "wilson_interval",
]
