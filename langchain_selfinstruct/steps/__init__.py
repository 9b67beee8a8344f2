"""The four Self-Instruct steps (Wang et al., 2022, §2) as LangChain Runnables."""

from langchain_selfinstruct.steps._rules import ALPACA_EXTRA_BLACKLIST, PAPER_BLACKLIST
from langchain_selfinstruct.steps.classification import ClassificationIdentifier
from langchain_selfinstruct.steps.complete_task import CompleteTask, StepFailedError
from langchain_selfinstruct.steps.filter_results import (
    InstanceFilterResult,
    InstanceRejection,
    InstructionFilterResult,
    Rejection,
    RuleHit,
)
from langchain_selfinstruct.steps.instance_filter import InstanceFilter
from langchain_selfinstruct.steps.instance_generation import InstanceGenerator
from langchain_selfinstruct.steps.instruction_filter import InstructionFilter
from langchain_selfinstruct.steps.instruction_generation import InstructionGenerator

__all__ = [
    "ALPACA_EXTRA_BLACKLIST",
    "PAPER_BLACKLIST",
    "ClassificationIdentifier",
    "CompleteTask",
    "InstanceFilter",
    "InstanceFilterResult",
    "InstanceGenerator",
    "InstanceRejection",
    "InstructionFilter",
    "InstructionFilterResult",
    "InstructionGenerator",
    "Rejection",
    "RuleHit",
    "StepFailedError",
]
