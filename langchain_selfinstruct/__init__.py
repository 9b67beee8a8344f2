"""Self-Instruct (Wang et al., 2022) as composable LangChain Runnables.

The four steps of the paper are :class:`InstructionGenerator`, :class:`ClassificationIdentifier`,
:class:`InstanceGenerator` and the filters :class:`InstructionFilter` / :class:`InstanceFilter`;
:class:`SelfInstructPipeline` runs them as the bootstrap loop, and :class:`NearDuplicateIndex`
makes the ROUGE-L dedup fast.
"""

from importlib import metadata

from langchain_selfinstruct.dedup import NearDuplicateIndex, rouge_l
from langchain_selfinstruct.embedded import embedded_model_path, load_embedded_model
from langchain_selfinstruct.endpoints import resolve_endpoints
from langchain_selfinstruct.errors import ModelConfigError, NoReplicaAvailableError, RunStoppedError
from langchain_selfinstruct.fake import FakeSelfInstructLLM
from langchain_selfinstruct.judges import CurationRule, TaskReviewer
from langchain_selfinstruct.models import model_name, resolve_model
from langchain_selfinstruct.parsers import InstanceParser, NumberedListParser, YesNoParser
from langchain_selfinstruct.pipeline import SelfInstructPipeline
from langchain_selfinstruct.presets import PRESETS, Preset, SamplingParams, get_preset
from langchain_selfinstruct.quality import Decontaminator
from langchain_selfinstruct.resources import load_seed_tasks
from langchain_selfinstruct.routing import ModelRouter
from langchain_selfinstruct.runner import RunSummary
from langchain_selfinstruct.schema import Instance, Task, TaskFileError, load_tasks, save_tasks
from langchain_selfinstruct.stats import RunStats
from langchain_selfinstruct.steps import (
    ClassificationIdentifier,
    InstanceFilter,
    InstanceGenerator,
    InstructionFilter,
    InstructionGenerator,
)

try:
    __version__ = metadata.version(__package__ or __name__)
except metadata.PackageNotFoundError:
    __version__ = ""

__all__ = [
    "PRESETS",
    "ClassificationIdentifier",
    "CurationRule",
    "Decontaminator",
    "FakeSelfInstructLLM",
    "Instance",
    "InstanceFilter",
    "InstanceGenerator",
    "InstanceParser",
    "InstructionFilter",
    "InstructionGenerator",
    "ModelConfigError",
    "ModelRouter",
    "NearDuplicateIndex",
    "NoReplicaAvailableError",
    "NumberedListParser",
    "Preset",
    "RunStats",
    "RunStoppedError",
    "RunSummary",
    "SamplingParams",
    "SelfInstructPipeline",
    "Task",
    "TaskFileError",
    "TaskReviewer",
    "YesNoParser",
    "__version__",
    "embedded_model_path",
    "get_preset",
    "load_embedded_model",
    "load_seed_tasks",
    "load_tasks",
    "model_name",
    "resolve_endpoints",
    "resolve_model",
    "rouge_l",
    "save_tasks",
]
