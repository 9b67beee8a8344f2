"""SIGKILL a real ``selfinstruct generate`` process again and again; the dataset must survive.

The run uses the deterministic fake model, so the only thing under test is the output directory:
appends that are fsynced one line at a time, and a resume that reads them back. Kills land at
seeded random moments: during start-up, between rounds, and right as a round's tasks are being
appended. A process killed on Linux cannot leave half a line behind (the page cache keeps every
completed write), so a torn line, which a power cut can leave, is simulated a few times by
appending half a line by hand; the resume must set it aside and never count it as accepted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")

TARGET = 40
KILLS = 20
SIMULATED_TEARS = (5, 11, 17)  # after these kills, half a line is appended by hand
WAIT_FOR_WRITE_S = 30.0
FINAL_RUN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Kill:
    """One interrupted session: how it was stopped and the complete lines it left."""

    mode: str
    lines_on_disk: bytes
    exited_by_itself: bool


def _command(out: Path) -> list[str]:
    return [
        *(sys.executable, "-c", "from langchain_selfinstruct.cli import main; main()"),
        *("generate", "--model", "fake:0.02", "-n", str(TARGET), "--out", str(out)),
        *("--concurrency", "1", "--quiet"),
    ]


def _complete_lines(path: Path) -> bytes:
    data = path.read_bytes() if path.exists() else b""
    return data[: data.rfind(b"\n") + 1]


def _wait_for_new_line(process: subprocess.Popen[bytes], tasks: Path, lines_before: int) -> None:
    deadline = time.monotonic() + WAIT_FOR_WRITE_S
    while process.poll() is None and time.monotonic() < deadline:
        if _complete_lines(tasks).count(b"\n") > lines_before:
            return
        time.sleep(0.001)


def _interrupted_session(out: Path, rng: random.Random, number: int) -> Kill:
    tasks = out / "tasks.jsonl"
    lines_before = _complete_lines(tasks).count(b"\n")
    process = subprocess.Popen(_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if number % 2:
            # Kill as soon as this session appends a task, sometimes a moment later, so the
            # kill lands while the round's tasks are being written one by one.
            mode = "during writes"
            _wait_for_new_line(process, tasks, lines_before)
            time.sleep(rng.choice((0.0, 0.0, rng.uniform(0.0, 0.01))))
        else:
            # Anywhere in the session; the short ones hit interpreter start-up and the resume.
            mode = "at a random moment"
            time.sleep(rng.uniform(0.01, 0.2) if number % 4 == 0 else rng.uniform(0.2, 3.5))
        exited = process.poll() is not None
        if not exited:
            process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if exited:
        assert process.returncode == 0, stderr.decode(errors="replace")
    else:
        assert process.returncode == -signal.SIGKILL
    return Kill(mode, _complete_lines(tasks), exited)


def _parse(lines: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines.splitlines()]


def test_a_run_killed_20_times_still_ends_with_every_task_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    rng = random.Random(20)
    kills: list[Kill] = []
    tears: list[bytes] = []
    for number in range(KILLS):
        kill = _interrupted_session(out, rng, number)
        kills.append(kill)
        ids = [task["id"] for task in _parse(kill.lines_on_disk)]  # every line is valid JSON
        assert ids == [f"machine_task_{i}" for i in range(len(ids))]
        if number in SIMULATED_TEARS and (out / "tasks.jsonl").exists():
            tear = f'{{"id": "torn_{number}", "instruction": "half a li'.encode()
            with (out / "tasks.jsonl").open("ab") as handle:
                handle.write(tear)
            tears.append(tear)

    final = subprocess.run(
        _command(out), capture_output=True, timeout=FINAL_RUN_TIMEOUT_S, check=False
    )
    assert final.returncode == 0, final.stderr.decode(errors="replace")

    data = (out / "tasks.jsonl").read_bytes()
    assert data.endswith(b"\n")
    tasks = _parse(data)
    assert [task["id"] for task in tasks] == [f"machine_task_{i}" for i in range(TARGET)]
    assert len({str(task["instruction"]).strip().lower() for task in tasks}) == TARGET
    for kill in kills:
        # Append-only: what was on disk at every kill is still there, byte for byte, in front.
        assert data.startswith(kill.lines_on_disk)
    torn = (out / "tasks.jsonl.torn").read_bytes()
    for tear in tears:
        assert tear not in data
        assert tear in torn
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["total_tasks"] == TARGET
    for line in (out / "rejects.jsonl").read_bytes().splitlines():
        json.loads(line)

    # The kills really were spread over the run, not all before or after it.
    partial = [k for k in kills if 0 < k.lines_on_disk.count(b"\n") < TARGET]
    assert len(partial) >= 5
    assert {k.mode for k in partial} == {"during writes", "at a random moment"}
    assert any(not k.lines_on_disk for k in kills)  # at least one kill before the first task
