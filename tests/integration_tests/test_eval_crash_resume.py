"""SIGKILL ``selfinstruct eval answer`` and ``eval grade`` again and again: nothing lost, nothing
done twice.

The fake model and judge (with a little latency, so a session takes a few seconds) keep the test
about the evaluation directory alone: records appended and fsynced one by one, a resume that
skips what is there, and a torn line (which a power cut can leave, simulated by hand) set aside.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")

ITEMS = 130  # the project's own set
KILLS = 6
WAIT_FOR_WRITE_S = 30.0


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from langchain_selfinstruct.cli import main; main()", *args]


def _complete_lines(path: Path) -> bytes:
    data = path.read_bytes() if path.exists() else b""
    return data[: data.rfind(b"\n") + 1]


def _kill_mid_run(args: list[str], log: Path, rng: random.Random) -> bytes:
    before = _complete_lines(log).count(b"\n")
    process = subprocess.Popen(_command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + WAIT_FOR_WRITE_S
        while process.poll() is None and time.monotonic() < deadline:
            if _complete_lines(log).count(b"\n") > before:
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.4))
        exited = process.poll() is not None
        if not exited:
            process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode in (0, -signal.SIGKILL), stderr.decode(errors="replace")
    return _complete_lines(log)


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("command", ["answer", "grade"])
def test_an_eval_command_killed_again_and_again_ends_with_everything_once(
    tmp_path: Path, command: str
) -> None:
    out = tmp_path / "eval"
    rng = random.Random(15)
    key: tuple[str, ...]
    if command == "answer":
        args = ["eval", "answer", "--model", "fake:0.02", "--out", str(out), "-c", "2"]
        log, key, status = out / "answers.jsonl", ("model", "task_id"), "answered"
    else:
        setup = _command("eval", "answer", "--model", "fake", "--out", str(out))
        subprocess.run(setup, check=True, capture_output=True, timeout=120)
        args = ["eval", "grade", str(out), "--judge", "fake:0.02", "-c", "2"]
        log, key, status = out / "grades.jsonl", ("judge", "model", "task_id"), "graded"
    snapshots = []
    for number in range(KILLS):
        snapshots.append(_kill_mid_run(args, log, rng))
        _records(log)  # every complete line is valid JSON
        if number == 2:
            with log.open("ab") as handle:
                handle.write(b'{"task_id": "torn", "instance_')
    final = subprocess.run(_command(*args), capture_output=True, timeout=120, check=False)
    assert final.returncode == 0, final.stderr.decode(errors="replace")

    data = log.read_bytes()
    for snapshot in snapshots:
        assert data.startswith(snapshot)  # append-only: what was on disk stays, in front
    done = [r for r in _records(log) if r["status"] == status]
    keys = [tuple(r[k] for k in key) for r in done]
    assert len(keys) == len(set(keys)) == ITEMS  # nothing lost, nothing done twice
    assert b"torn" not in data and b"torn" in (log.with_name(log.name + ".torn")).read_bytes()
    assert 0 < snapshots[0].count(b"\n") < ITEMS  # the first kill landed mid-run
