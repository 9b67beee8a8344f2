"""The installed llama.cpp build runs a multi-token prompt, tried in a child process.

A native build can segfault (llama-cpp-python 0.3.36 built natively on an AVX-512 CPU does on any
prompt longer than one token). In-process, that would end the whole test run without a word; in a
child, it fails this test with the signal and the fix.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner

from langchain_selfinstruct.cli import main
from langchain_selfinstruct.embedded import embedded_model_path, load_embedded_model
from langchain_selfinstruct.llama_build import probe_llama
from tests.markers import NEEDS_LOCAL

pytestmark = [
    pytest.mark.local_model,
    NEEDS_LOCAL,
]


def test_a_multi_token_prompt_runs_in_a_child_process() -> None:
    probe = probe_llama(embedded_model_path())
    if not probe.ok:
        pytest.fail(
            f"the installed llama.cpp build cannot run the embedded model: {probe.detail}\n"
            f"built for: {probe.system_info or 'unknown'}\nfix: {probe.fix}",
            pytrace=False,
        )
    assert probe.detail.startswith("generated ")
    assert "AVX512 = 1" not in probe.system_info, "the shipped build must be the portable one"


def test_doctor_reports_this_installation_healthy() -> None:
    result = CliRunner().invoke(main, ["doctor", "--json"], catch_exceptions=False)
    report = json.loads(result.output)
    failed = [check for check in report["checks"] if not check["ok"]]
    assert failed == []
    assert result.exit_code == 0
    assert report["healthy"] is True


def test_two_replicas_serve_calls_side_by_side_and_agree_with_one() -> None:
    prompts = [f"A list of {thing}:\n1." for thing in ("fruits", "rivers", "tools", "songs")]
    one = load_embedded_model(n_replicas=1, n_threads=1, max_tokens=12, temperature=0.9)
    two = load_embedded_model(n_replicas=2, n_threads=1, max_tokens=12, temperature=0.9)
    assert len(two._handle.clients) == 2
    served: list[int] = []
    for number, client in enumerate(two._handle.clients):
        original = client.create_completion

        def recording(*args: Any, _n: int = number, _call: Any = original, **kw: Any) -> Any:
            served.append(_n)
            return _call(*args, **kw)

        client.create_completion = recording
    sequential = [one.invoke(prompt) for prompt in prompts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        side_by_side = list(pool.map(two.invoke, prompts))
    assert side_by_side == sequential
    assert sorted(set(served)) == [0, 1]
