"""The public surface is pinned, so changing it is deliberate."""

from __future__ import annotations

import subprocess
import sys

import langchain_selfinstruct

EXPECTED_ALL = [
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


def test_all_is_pinned_and_importable() -> None:
    assert langchain_selfinstruct.__all__ == EXPECTED_ALL
    for name in EXPECTED_ALL:
        assert getattr(langchain_selfinstruct, name) is not None


def test_version_comes_from_the_installed_metadata() -> None:
    from importlib.metadata import version

    assert langchain_selfinstruct.__version__ == version("langchain-selfinstruct")


def test_import_stays_light() -> None:
    code = (
        "import sys, langchain_selfinstruct, langchain_selfinstruct.cli;"
        "heavy = [m for m in ('langchain_community', 'llama_cpp', 'spacy', 'matplotlib',"
        " 'datasets', 'torch') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""
