"""``selfinstruct doctor``: a healthy build, a build that crashes, keys never shown, ``--json``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from langchain_selfinstruct import doctor, llama_build
from langchain_selfinstruct.cli import main
from langchain_selfinstruct.llama_build import LLAMA_CPP_VERSION, REINSTALL_COMMAND
from tests.unit_tests.test_llama_build import CRASH_AFTER_INFO, HEALTHY

SECRET = "sk-test-do-not-print-0123456789"


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    path.write_bytes(b"GGUF")
    return path


@pytest.fixture(autouse=True)
def _installed(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Doctor's view of an installation with the local extra, without needing the real package.
    monkeypatch.setattr(doctor, "embedded_model_path", lambda: gguf)
    real_version = doctor._version
    monkeypatch.setattr(
        doctor,
        "_version",
        lambda name: LLAMA_CPP_VERSION if name == "llama-cpp-python" else real_version(name),
    )
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def _doctor(*args: str) -> Result:
    return CliRunner().invoke(main, ["doctor", *args], catch_exceptions=False)


def test_a_healthy_build_passes_every_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", HEALTHY)
    result = _doctor()
    assert result.exit_code == 0, result.output
    assert "healthy: yes" in result.output
    assert "FAIL" not in result.output
    assert "embedded model generates" in result.output
    assert "generated 8 tokens" in result.output
    assert "AVX AVX2" in result.output  # what the build uses (AVX512 = 0 is not listed)
    assert "langchain-core" in result.output


def test_a_build_that_segfaults_fails_with_the_reinstall_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", CRASH_AFTER_INFO)
    result = _doctor()
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "crashed (SIGSEGV)" in result.output
    assert f"fix: reinstall llama-cpp-python with portable flags: {REINSTALL_COMMAND}" in (
        result.output
    )
    assert "healthy: no" in result.output


def test_json_report_has_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", CRASH_AFTER_INFO)
    result = _doctor("--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["healthy"] is False
    assert report["versions"]["llama-cpp-python"] == LLAMA_CPP_VERSION
    assert {"langchain-core", "langchain", "langchain-openai", "faiss-cpu"} <= set(
        report["versions"]
    )
    assert "AVX512" in report["cpu"]["llama_cpp_uses"]
    failed = [check for check in report["checks"] if not check["ok"]]
    assert [check["name"] for check in failed] == ["embedded model generates"]
    assert failed[0]["fix"].endswith(REINSTALL_COMMAND)
    openai = next(row for row in report["providers"] if row["provider"] == "openai")
    assert openai["key_set"] is True
    anthropic = next(row for row in report["providers"] if row["provider"] == "anthropic")
    assert anthropic["key_set"] is False


def test_keys_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", HEALTHY)
    for args in ((), ("--json",)):
        output = _doctor(*args).output
        assert SECRET not in output
        assert "OPENAI_API_KEY" in output


def test_a_missing_llama_cpp_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "_version", lambda name: None)
    result = _doctor()
    assert result.exit_code == 1
    assert 'fix: pip install "langchain-selfinstruct[local]"' in result.output


def test_a_build_for_features_the_cpu_lacks_is_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", HEALTHY)
    monkeypatch.setattr(doctor, "_cpu_flags", lambda: {"pni", "ssse3", "avx"})  # no AVX2
    report = doctor.run_doctor()
    failed = {check.name: check for check in report.checks if not check.ok}
    assert "AVX2" in failed["build fits this CPU"].detail
    assert failed["build fits this CPU"].fix == REINSTALL_COMMAND


def test_generate_on_a_crashing_build_fails_in_one_line_naming_doctor(
    tmp_path: Path, gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_selfinstruct import embedded, llama_handles

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs llama_cpp importable (the local extra)")
    monkeypatch.setattr(embedded, "embedded_model_path", lambda: gguf)
    monkeypatch.setattr(llama_handles, "_HANDLES", {})
    monkeypatch.setattr(llama_build, "_VERDICTS", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(llama_build, "_CHILD", CRASH_AFTER_INFO)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["generate", "-n", "2", "--out", str(out), "-q"])
    assert result.exit_code == 1
    message = result.output.strip()
    assert message.startswith("Error: the embedded model cannot run: llama.cpp crashed (SIGSEGV)")
    assert "\n" not in message
    assert "selfinstruct doctor" in message
    assert REINSTALL_COMMAND in message
    assert not (out / "tasks.jsonl").exists()
