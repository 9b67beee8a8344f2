"""Security: nothing is unpickled, and API keys never leak into outputs, logs or errors.

The key tests talk to a fault-injecting server on 127.0.0.1 that refuses every request with a 401
quoting the key it was sent, as some servers and proxies do: the worst case for a leak through
error messages. Connections anywhere but 127.0.0.1 are blocked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from langchain_selfinstruct import SelfInstructPipeline
from langchain_selfinstruct.cli import main
from langchain_selfinstruct.models import resolve_model
from tests.conftest import REPO_ROOT

CANARY = "sk-canary-7f3a9c1e5b2d4e6f8a0b"

# Loading code that can run arbitrary code from a file: pickle and everything built on it.
UNSAFE_LOADING = re.compile(
    r"""
    \bimport\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b
    | \bfrom\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b
    | \b(c?pickle|dill|cloudpickle|joblib|marshal)\.loads?\b
    | \bshelve\.open\b
    | \btorch\.load\b
    | \ballow_pickle\s*=\s*True\b
    | \bpd\.read_pickle\b | \bread_pickle\b
    | \byaml\.load\((?![^)]*SafeLoader)
    | \byaml\.unsafe_load\b
    """,
    re.VERBOSE,
)
SCANNED_DIRS = ("langchain_selfinstruct", "examples", "benchmarks")


def _python_files() -> Iterator[Path]:
    for name in SCANNED_DIRS:
        yield from sorted((REPO_ROOT / name).rglob("*.py"))


@pytest.mark.parametrize(
    "line",
    [
        "import pickle",
        "from joblib import load",
        "data = pickle.load(handle)",
        "index = torch.load(path)",
        "np.load(path, allow_pickle=True)",
        "import shelve",
        "yaml.load(text)",
        "code = marshal.loads(blob)",
    ],
)
def test_the_scanner_catches_unsafe_loading(line: str) -> None:
    assert UNSAFE_LOADING.search(line)


@pytest.mark.parametrize("line", ["np.load(path)", "json.loads(text)", "yaml.load(t, SafeLoader)"])
def test_the_scanner_lets_safe_loading_pass(line: str) -> None:
    assert not UNSAFE_LOADING.search(line)


def test_no_pickle_or_other_code_executing_loader_anywhere_in_the_project() -> None:
    files = list(_python_files())
    assert any(path.name == "index.py" for path in files)  # the package was really scanned
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if UNSAFE_LOADING.search(line)
    ]
    assert offenders == []


# --------------------------------------------------------------------------- API keys


@pytest.fixture
def refusing_server_url() -> Iterator[Callable[[], str]]:
    """A server on 127.0.0.1 answering every request with a 401 that quotes the credentials."""
    pytest.importorskip("uvicorn")
    from tests.integration_tests.servers.fault_server import FaultPlan, FaultServer

    with FaultServer(FaultPlan(rates={"auth_echo": 1.0})) as server:
        yield lambda: server.base_url
        # The key did reach the server (so it was really used), and it quoted it back.
        assert server.requests
        assert all(CANARY in request.authorization for request in server.requests)


def _everything_written(out: Path) -> str:
    return "\n".join(
        path.read_bytes().decode("utf-8", errors="replace")
        for path in sorted(out.rglob("*"))
        if path.is_file()
    )


def _assert_no_canary(result: Result, out: Path, caplog: pytest.LogCaptureFixture) -> None:
    written = _everything_written(out)
    assert {"tasks.jsonl", "rejects.jsonl", "settings.json", "stats.json"} <= {
        path.name for path in out.iterdir()
    }
    assert "[redacted]" in written  # the quoted key reached the failure records, scrubbed
    assert CANARY not in written
    assert CANARY not in result.stdout
    assert CANARY not in result.stderr
    assert CANARY not in repr(result.exception)
    assert CANARY not in caplog.text


@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.parametrize("how", ["--api-key", "SELFINSTRUCT_API_KEY", "OPENAI_API_KEY"])
def test_a_canary_key_never_reaches_outputs_logs_or_errors(
    refusing_server_url: Callable[[], str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SELFINSTRUCT_API_KEY", raising=False)
    out = tmp_path / "run"
    args = ["generate", "-n", "3", "--out", str(out), "--quiet", "-c", "2"]
    args += ["--base-url", refusing_server_url(), "--model", "served-model", "--completion"]
    if how == "--api-key":
        args += ["--api-key", CANARY]
    else:
        monkeypatch.setenv(how, CANARY)
    result = CliRunner().invoke(main, args)
    # The server refuses the key (401): the run stops at once on model_error, exit 4.
    assert result.exit_code == 4, result.output
    assert "model_error" in result.stdout
    _assert_no_canary(result, out, caplog)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_library_scrubs_a_quoted_key_from_failure_records(
    refusing_server_url: Callable[[], str], tmp_path: Path
) -> None:
    llm = resolve_model("served-model", base_url=refusing_server_url(), api_key=CANARY)
    pipeline = SelfInstructPipeline(llm, preset="fast", max_concurrency=2, max_stalled_rounds=1)
    rejected: list[str] = []
    summary = pipeline.run(tmp_path, 2, on_event=lambda event: rejected.append(repr(event)))
    assert summary.stats.stop_reason == "stalled"
    assert summary.stats.failures["generate_instructions"] == 2
    assert all(CANARY not in text for text in rejected)
    assert any("[redacted]" in text for text in rejected)
    assert CANARY not in _everything_written(tmp_path)
    assert CANARY not in repr(pipeline)
