"""The dataset a fixed fake run writes, pinned byte for byte (timestamps aside).

The golden files were written by the loop before its redesign (issue 12, commit a4a4404), so any
change to sampling, filtering, ordering, ids, provenance or reject records shows up here. After a
deliberate change, rewrite them with ``python tests/unit_tests/test_golden_dataset.py`` and
review the diff.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline

GOLDEN = Path(__file__).parent / "golden"
FILES = ("tasks.jsonl", "rejects.jsonl")
CONFIGS: dict[str, dict[str, Any]] = {
    # One unit of work at a time, default fake: the plain sequential path.
    "c1_small": {"concurrency": 1, "target": 12, "seed": 3, "fake": {}},
    # Eight in flight with many duplicates, blacklisted texts and unparseable answers, so pool and
    # batch duplicates, instance rejections, dropped tasks and failed steps all appear.
    "c3_default": {"concurrency": 3, "target": 30, "seed": 2, "fake": {"seed": 2}},
    "c8_medium": {
        "concurrency": 8,
        "target": 60,
        "seed": 11,
        "fake": {"seed": 5, "duplicate_rate": 0.3, "blacklisted_rate": 0.2, "garbage_rate": 0.25},
    },
}
_CREATED_AT = re.compile(r'"created_at": "[^"]*"')


def _normalised(path: Path) -> str:
    return _CREATED_AT.sub('"created_at": "<time>"', path.read_text(encoding="utf-8"))


def _run(name: str, out_dir: Path) -> None:
    config = CONFIGS[name]
    pipeline = SelfInstructPipeline(
        FakeSelfInstructLLM(**config["fake"]),
        max_concurrency=config["concurrency"],
        seed=config["seed"],
    )
    pipeline.run(out_dir, config["target"])


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_dataset_is_byte_for_byte_the_golden_one(name: str, tmp_path: Path) -> None:
    _run(name, tmp_path)
    for file in FILES:
        assert _normalised(tmp_path / file) == _normalised(GOLDEN / name / file), file


def test_golden_runs_cover_several_reject_reasons() -> None:
    text = "".join(_normalised(GOLDEN / name / "rejects.jsonl") for name in CONFIGS)
    for reason in ("near_duplicate", "blacklisted:draw", "too_short", "step_failed", "task:"):
        assert f'"reason": "{reason}' in text, reason


if __name__ == "__main__":
    for config_name in CONFIGS:
        target = GOLDEN / config_name
        target.mkdir(parents=True, exist_ok=True)
        for file in FILES:
            (target / file).unlink(missing_ok=True)
        _run(config_name, target)
        for extra in target.iterdir():
            if extra.name not in FILES:
                extra.unlink()
        print(f"wrote {target}", file=sys.stderr)
