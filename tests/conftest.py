"""Shared pytest fixtures: where the paper's reference files live (tests only)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


def reference_file(name: str) -> Path:
    """Return a reference file of the paper's release, skipping the test when it is absent."""
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(f"reference file {path} not present")
    return path


@pytest.fixture
def paper_seed_path() -> Path:
    """The paper's 175 seed tasks (Apache-2.0), for compatibility and originality tests only."""
    return reference_file("seed_tasks.jsonl")


@pytest.fixture
def user_oriented_path() -> Path:
    """The paper's 252 user-oriented evaluation tasks, for loader tests only."""
    return reference_file("user_oriented_instructions.jsonl")
