"""The paper's user-oriented evaluation (Wang et al., 2022, §4.4), with any LangChain judge.

:class:`ResponseAnswerer` collects a model's replies, :class:`ResponseGrader` rates a reply A-D
against the reference (the paper's scale), and :class:`PairwiseJudge` compares two replies in
both orders. The ``*_run`` functions run them over an evaluation directory, resumably, and
:func:`write_eval_report` draws the paper's stacked bars. The project ships its own set of
user-oriented tasks (:func:`load_eval_items` with no path).
"""

from langchain_selfinstruct.evaluation._jobs import Counts
from langchain_selfinstruct.evaluation.answer_run import answer_run, latest_answers
from langchain_selfinstruct.evaluation.answerer import ANSWER_SAMPLING, Answer, ResponseAnswerer
from langchain_selfinstruct.evaluation.compare_run import compare_run
from langchain_selfinstruct.evaluation.directory import (
    EvalDirectoryError,
    load_eval_dir,
    open_eval_dir,
)
from langchain_selfinstruct.evaluation.grade_run import grade_run
from langchain_selfinstruct.evaluation.grader import (
    GRADES,
    Grade,
    GradeAnswer,
    GradeRequest,
    ResponseGrader,
)
from langchain_selfinstruct.evaluation.pairwise import (
    PairAnswer,
    PairRequest,
    PairVerdict,
    PairwiseJudge,
)
from langchain_selfinstruct.evaluation.report import EvalReport, eval_numbers, write_eval_report
from langchain_selfinstruct.evaluation.store import AnswerRecord, GradeRecord, PairRecord
from langchain_selfinstruct.evaluation.tasks import (
    EvalItem,
    default_eval_tasks_path,
    load_eval_items,
)

__all__ = [
    "ANSWER_SAMPLING",
    "GRADES",
    "Answer",
    "AnswerRecord",
    "Counts",
    "EvalDirectoryError",
    "EvalItem",
    "EvalReport",
    "Grade",
    "GradeAnswer",
    "GradeRecord",
    "GradeRequest",
    "PairAnswer",
    "PairRecord",
    "PairRequest",
    "PairVerdict",
    "PairwiseJudge",
    "ResponseAnswerer",
    "ResponseGrader",
    "answer_run",
    "compare_run",
    "default_eval_tasks_path",
    "eval_numbers",
    "grade_run",
    "latest_answers",
    "load_eval_dir",
    "load_eval_items",
    "open_eval_dir",
    "write_eval_report",
]
