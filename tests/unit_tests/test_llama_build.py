"""The child-process check of the llama.cpp build: crashes become verdicts, verdicts are cached."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from langchain_selfinstruct import llama_build
from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.llama_build import (
    PORTABLE_CMAKE_ARGS,
    REINSTALL_COMMAND,
    build_fingerprint,
    ensure_llama_works,
    probe_llama,
)

SEGFAULT = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
HEALTHY = (
    "import json, sys\n"
    "print(json.dumps({'system_info': 'CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 0 |'}))\n"
    "print(json.dumps({'text': ' Read.', 'usage': {'completion_tokens': 8}}))\n"
)
# A crash after the build's features were printed, as a real AVX-512 build does.
CRASH_AFTER_INFO = (
    "import json, os, signal\n"
    "print(json.dumps({'system_info': 'CPU : AVX2 = 1 | AVX512 = 1 |'}), flush=True)\n"
    "os.kill(os.getpid(), signal.SIGSEGV)\n"
)


def _child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return path


@pytest.fixture(autouse=True)
def _isolated_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(llama_build, "_VERDICTS", {})


def test_a_child_killed_by_sigsegv_is_a_failed_probe_that_names_the_signal(gguf: Path) -> None:
    probe = probe_llama(gguf, command=_child(SEGFAULT))
    assert not probe.ok
    assert probe.signal == "SIGSEGV"
    assert "crashed (SIGSEGV)" in probe.detail
    assert REINSTALL_COMMAND in probe.fix
    assert PORTABLE_CMAKE_ARGS in probe.fix


def test_features_printed_before_a_crash_are_kept(gguf: Path) -> None:
    probe = probe_llama(gguf, command=_child(CRASH_AFTER_INFO))
    assert not probe.ok
    assert "AVX512 = 1" in probe.system_info


def test_a_healthy_child_reports_its_tokens_and_build(gguf: Path) -> None:
    probe = probe_llama(gguf, command=_child(HEALTHY))
    assert probe.ok, probe.detail
    assert probe.detail == "generated 8 tokens"
    assert "AVX2 = 1" in probe.system_info
    assert probe.fix == ""
    assert json.loads(json.dumps(probe.to_dict()))["ok"] is True


def test_an_error_exit_reports_the_last_stderr_line(gguf: Path) -> None:
    probe = probe_llama(gguf, command=_child("raise SystemExit('failed to load model')"))
    assert not probe.ok
    assert probe.signal is None
    assert probe.detail == "llama.cpp failed: failed to load model"


def test_a_hanging_child_is_killed_at_the_timeout(gguf: Path) -> None:
    probe = probe_llama(gguf, command=_child("import time; time.sleep(30)"), timeout_s=0.5)
    assert not probe.ok
    assert "did not finish within 0.5 s" in probe.detail


def test_the_real_check_runs_a_multi_token_prompt() -> None:
    # The crash needs more than one prompt token: the built-in check must send several.
    assert len(llama_build._PROBE_PROMPT.split()) > 5
    assert "create_completion" in llama_build._CHILD


def test_ensure_raises_a_one_line_error_naming_doctor_and_the_fix(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", SEGFAULT)
    with pytest.raises(ModelConfigError) as raised:
        ensure_llama_works(gguf)
    message = str(raised.value)
    assert "\n" not in message
    assert "SIGSEGV" in message
    assert "selfinstruct doctor" in message
    assert REINSTALL_COMMAND in message


def test_ensure_checks_once_per_process(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def counting_probe(path: Path, **_: object) -> llama_build.LlamaProbe:
        calls.append(path)
        return llama_build.LlamaProbe(False, "llama.cpp crashed (SIGSEGV)", signal="SIGSEGV")

    monkeypatch.setattr(llama_build, "probe_llama", counting_probe)
    for _ in range(3):
        with pytest.raises(ModelConfigError):
            ensure_llama_works(gguf)
    assert calls == [gguf]


def test_a_healthy_verdict_is_cached_on_disk_for_the_same_build(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", HEALTHY)
    first = ensure_llama_works(gguf)
    assert first.ok and not first.cached
    monkeypatch.setattr(llama_build, "_VERDICTS", {})  # a new process
    monkeypatch.setattr(llama_build, "_CHILD", SEGFAULT)  # would fail if it ran again
    second = ensure_llama_works(gguf)
    assert second.ok and second.cached


def test_verdicts_for_several_builds_are_remembered_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two venvs used in turn: each one's verdict must survive the other's check.
    models = [tmp_path / "a.gguf", tmp_path / "b.gguf"]
    for model in models:
        model.write_bytes(model.name.encode())
    monkeypatch.setattr(llama_build, "_CHILD", HEALTHY)
    for model in models:
        assert not ensure_llama_works(model).cached
    monkeypatch.setattr(llama_build, "_VERDICTS", {})
    monkeypatch.setattr(llama_build, "_CHILD", SEGFAULT)  # would fail if either ran again
    assert all(ensure_llama_works(model).cached for model in models)


def test_a_verdict_written_by_the_older_single_build_format_is_read(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "langchain-selfinstruct"
    cache.mkdir(parents=True)
    record = {"healthy": build_fingerprint(gguf)}
    (cache / "llama-build-check.json").write_text(json.dumps(record), encoding="utf-8")
    monkeypatch.setattr(llama_build, "_CHILD", SEGFAULT)
    assert ensure_llama_works(gguf).cached


def test_a_changed_build_is_checked_again(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", HEALTHY)
    ensure_llama_works(gguf)
    before = build_fingerprint(gguf)
    gguf.write_bytes(b"GGUF and more")  # another file: another fingerprint
    assert build_fingerprint(gguf) != before
    monkeypatch.setattr(llama_build, "_VERDICTS", {})
    monkeypatch.setattr(llama_build, "_CHILD", SEGFAULT)
    with pytest.raises(ModelConfigError, match="SIGSEGV"):
        ensure_llama_works(gguf)


def test_failures_are_never_cached_on_disk(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_build, "_CHILD", SEGFAULT)
    with pytest.raises(ModelConfigError):
        ensure_llama_works(gguf)
    monkeypatch.setattr(llama_build, "_VERDICTS", {})
    monkeypatch.setattr(llama_build, "_CHILD", HEALTHY)  # fixed by a reinstall
    assert ensure_llama_works(gguf).ok


def _readme_commands() -> list[str]:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```bash\n")[1:3]  # the two commands the README starts with
    return [block.split("\n```", 1)[0].strip() for block in blocks]


def test_the_readme_commands_build_llama_cpp_with_the_portable_flags() -> None:
    main_job, tests = _readme_commands()
    for command in (main_job, tests):
        assert f'CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" .venv/bin/pip install' in command
    assert "selfinstruct generate" in main_job
    assert tests.endswith(".venv/bin/pytest")


def test_ci_runs_the_readme_test_command_verbatim_with_the_cache_off() -> None:
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line for line in ci.splitlines() if line and not line.startswith("#")]
    assert "export PIP_NO_CACHE_DIR=1" in lines
    assert _readme_commands()[1] in lines
