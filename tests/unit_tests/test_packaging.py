"""The wheel ships prompts/ and seeds/, and an installed package finds them with no checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


def test_wheel_contains_every_prompt_and_the_seed_pool(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = {p.name for p in (REPO_ROOT / "prompts").glob("*.txt")}
    assert prompts
    for prompt in prompts:
        assert f"langchain_selfinstruct/_data/prompts/{prompt}" in names
    assert "langchain_selfinstruct/_data/seeds/seed_tasks.jsonl" in names
    assert "langchain_selfinstruct/_data/evaluation/user_oriented_tasks.jsonl" in names
    assert "langchain_selfinstruct/py.typed" in names


def test_unpacked_wheel_loads_its_own_data(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import langchain_selfinstruct as l, langchain_selfinstruct.resources as r;"
        "assert len(l.load_seed_tasks()) == 175;"
        "import langchain_selfinstruct.evaluation as e; assert len(e.load_eval_items()) == 130;"
        "print(r.prompt_path('classification.completion.txt'));"
        "print(l.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    prompt_file, package_file = result.stdout.split()
    assert Path(prompt_file).is_relative_to(site / "langchain_selfinstruct" / "_data")
    assert Path(package_file).is_relative_to(site)
