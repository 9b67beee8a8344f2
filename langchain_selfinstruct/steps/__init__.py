"""The four Self-Instruct steps (Wang et al., 2022, §2) as LangChain Runnables."""

from langchain_selfinstruct.steps.classification import ClassificationIdentifier
from langchain_selfinstruct.steps.filtering import (
    ALPACA_EXTRA_BLACKLIST,
    PAPER_BLACKLIST,
    InstanceFilter,
    InstanceFilterResult,
    InstanceRejection,
    InstructionFilter,
    InstructionFilterResult,
    Rejection,
)
from langchain_selfinstruct.steps.instance_generation import InstanceGenerator
from langchain_selfinstruct.steps.instruction_generation import InstructionGenerator

__all__ = [
    "ALPACA_EXTRA_BLACKLIST",
    "PAPER_BLACKLIST",
    "ClassificationIdentifier",
    "InstanceFilter",
    "InstanceFilterResult",
    "InstanceGenerator",
    "InstanceRejection",
    "InstructionFilter",
    "InstructionFilterResult",
    "InstructionGenerator",
    "Rejection",
]
