"""A fault-injecting OpenAI-compatible server on 127.0.0.1, for tests.

It answers ``/v1/chat/completions`` and ``/v1/completions`` with canned, plausible Self-Instruct
answers (from the package's scripted fake model) and, for a configurable share of requests,
misbehaves the way hosted APIs and self-hosted servers do: 429 with ``Retry-After``, 500 or 503,
a hang past the client's timeout, a connection closed in the middle of the body, malformed JSON,
or valid JSON whose content is empty or absurd. Every request is recorded, with the retry number
the OpenAI client puts in ``x-stainless-retry-count``, so tests can count exactly what the server
saw. It is a Starlette app served by uvicorn on a background thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, get_args

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from langchain_selfinstruct.fake import FakeSelfInstructLLM

__all__ = ["FAULT_KINDS", "FaultKind", "FaultPlan", "FaultServer", "RecordedRequest"]

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "unavailable",
    "hang",
    "disconnect",
    "malformed_json",
    "empty",
    "absurd",
    "auth_echo",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
TRANSPORT_FAULTS: frozenset[FaultKind] = frozenset(
    {"rate_limit", "server_error", "unavailable", "hang", "disconnect"}
)
"""Faults the OpenAI client retries by itself (429, 5xx, timeouts, broken connections)."""

_ABSURD = "%%%% ???? " * 500  # 5 kB of punctuation: parses to nothing or is filtered out


@dataclass(frozen=True)
class FaultPlan:
    """Which share of requests gets which fault.

    The choice is a pure function of the request body and how often that body was seen before,
    so a run's faults do not depend on the order in which concurrent requests arrive.

    Attributes:
        rates: Share of requests per fault kind; the shares add up to at most 1.
        seed: Mixed into every choice.
        retry_after_s: ``Retry-After`` of a 429, in seconds.
        hang_s: How long a hanging request waits before answering (longer than the client's
            timeout); it stops early once the client has gone.
        first: Faults served, in this order, to the first requests to arrive, before ``rates``
            apply; it makes sure every kind of fault shows up in a short run.
        latency_s: How long every answer takes, like a model computing it.
        max_parallel: Requests worked on at once, like a server's slots; the rest queue.
            ``None``: no limit.
    """

    rates: Mapping[FaultKind, float] = field(default_factory=dict)
    first: tuple[FaultKind, ...] = ()
    seed: int = 0
    retry_after_s: int = 1
    hang_s: float = 5.0
    latency_s: float = 0.0
    max_parallel: int | None = None

    def __post_init__(self) -> None:
        if any(rate < 0 for rate in self.rates.values()) or sum(self.rates.values()) > 1:
            raise ValueError(f"fault rates must be >= 0 and add up to at most 1: {self.rates}")

    @property
    def total_rate(self) -> float:
        """Share of requests that get some fault."""
        return sum(self.rates.values())

    def pick(self, body: bytes, occurrence: int) -> FaultKind | None:
        """The fault for the ``occurrence``-th request with this body (``None``: answer well)."""
        digest = hashlib.sha256(b"%d|%d|" % (self.seed, occurrence) + body).digest()
        roll = random.Random(digest).random()
        for kind in FAULT_KINDS:
            rate = self.rates.get(kind, 0.0)
            if roll < rate:
                return kind
            roll -= rate
        return None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    endpoint: Literal["chat", "completions"]
    prompt: str
    parameters: frozenset[str]
    """Top-level keys of the request body (``model``, ``temperature``, ``tools``, ...)."""
    body_sha256: str
    retry_count: int
    fault: FaultKind | None
    authorization: str
    received_at: float
    """``time.monotonic()`` on arrival."""


class _CannedAnswers:
    """Plausible Self-Instruct answers for completion and chat prompts."""

    def __init__(self, seed: int) -> None:
        self._fake = FakeSelfInstructLLM(seed=seed)

    def completion(self, prompt: str) -> str:
        return self._fake.respond(prompt)

    def chat(self, prompt: str) -> str:
        tail = prompt[-300:]
        tasks = re.findall(r"^Task:\s*(.+)$", prompt, flags=re.MULTILINE)
        if tasks and "Yes or No" in tail:
            # Ask the fake in the completion shape it knows, answer like a chat model would.
            return self._fake.respond(f"Task: {tasks[-1]}\nIs it classification?").strip()
        answer = self._fake.respond(prompt)
        if tasks:
            return answer
        items = [re.sub(r"^\d+\.\s*", "", line) for line in answer.splitlines() if line.strip()]
        return "\n".join(f"{number}. {item}" for number, item in enumerate(items, start=1))


class FaultServer:
    """The server, started on a free port of 127.0.0.1 by ``with FaultServer(plan) as server``.

    Attributes:
        plan: The fault plan.
        requests: Every completion request received, in arrival order.
    """

    def __init__(self, plan: FaultPlan | None = None, *, answers_seed: int = 0) -> None:
        self.plan = plan or FaultPlan()
        self.requests: list[RecordedRequest] = []
        self._answers = _CannedAnswers(answers_seed)
        self._seen: Counter[str] = Counter()
        self._first = list(self.plan.first)
        self._slots = asyncio.Semaphore(self.plan.max_parallel or 1_000_000)
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._socket is None:
            raise RuntimeError("the server is not running")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, for ``base_url=``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FaultServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        config = uvicorn.Config(
            self.app, log_level="critical", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fault-server"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.__exit__(None, None, None)
                raise RuntimeError("the fault server did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()

    # -- endpoints ----------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "canned", "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.body()
        payload = json.loads(body)
        prompt = "\n".join(str(m.get("content") or "") for m in payload.get("messages", []))
        fault = self._record(request, "chat", prompt, payload, body)
        async with self._slots:
            await asyncio.sleep(self.plan.latency_s)
            return await self._answer(request, fault, payload, prompt, chat=True)

    async def _completions(self, request: Request) -> Response:
        body = await request.body()
        payload = json.loads(body)
        prompt = payload.get("prompt") or ""
        prompt = prompt[0] if isinstance(prompt, list) else str(prompt)
        fault = self._record(request, "completions", prompt, payload, body)
        async with self._slots:
            await asyncio.sleep(self.plan.latency_s)
            return await self._answer(request, fault, payload, prompt, chat=False)

    def _record(
        self,
        request: Request,
        endpoint: Literal["chat", "completions"],
        prompt: str,
        payload: Mapping[str, Any],
        body: bytes,
    ) -> FaultKind | None:
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            occurrence = self._seen[digest]
            self._seen[digest] += 1
            fault = self._first.pop(0) if self._first else self.plan.pick(body, occurrence)
            self.requests.append(
                RecordedRequest(
                    endpoint=endpoint,
                    prompt=prompt,
                    parameters=frozenset(payload),
                    body_sha256=digest,
                    retry_count=int(request.headers.get("x-stainless-retry-count", "0")),
                    fault=fault,
                    authorization=request.headers.get("authorization", ""),
                    received_at=time.monotonic(),
                )
            )
        return fault

    async def _answer(
        self,
        request: Request,
        fault: FaultKind | None,
        payload: Mapping[str, Any],
        prompt: str,
        *,
        chat: bool,
    ) -> Response:
        if fault == "hang":
            await _wait_or_disconnect(request, self.plan.hang_s)
        error = _error_response(fault, self.plan.retry_after_s, request)
        if error is not None:
            return error
        if fault == "malformed_json":
            return Response('{"id": "x", "choices": [{"index": 0, "mess', 200, _JSON)
        if fault in ("empty", "absurd"):
            text = "" if fault == "empty" else _ABSURD
        else:
            text = self._answers.chat(prompt) if chat else self._answers.completion(prompt)
        body = _completion_body(payload, prompt, text, chat=chat)
        if fault == "disconnect":
            return _Truncated(body)
        return Response(body, 200, _JSON)


_JSON = {"content-type": "application/json"}


def _error_response(
    fault: FaultKind | None, retry_after_s: int, request: Request
) -> Response | None:
    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        content = {"error": {"message": message, "type": "fault_injection", "code": status}}
        return JSONResponse(content, status_code=status, headers=headers)

    if fault == "rate_limit":
        return error(429, "rate limited", {"retry-after": str(retry_after_s)})
    if fault == "server_error":
        return error(500, "internal error")
    if fault == "unavailable":
        return error(503, "overloaded")
    if fault == "auth_echo":
        # Some servers and proxies quote the credentials they refuse.
        return error(401, f"invalid credentials: {request.headers.get('authorization', '')}")
    return None


async def _wait_or_disconnect(request: Request, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.05)


def _completion_body(payload: Mapping[str, Any], prompt: str, text: str, *, chat: bool) -> bytes:
    usage = {
        "prompt_tokens": len(prompt.split()),
        "completion_tokens": len(text.split()),
        "total_tokens": len(prompt.split()) + len(text.split()),
    }
    model = str(payload.get("model", "canned"))
    if chat:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        kind = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
        kind = "text_completion"
    answer = {
        "id": f"cmpl-{hashlib.sha256(text.encode()).hexdigest()[:12]}",
        "object": kind,
        "created": 0,
        "model": model,
        "choices": [choice],
        "usage": usage,
    }
    return json.dumps(answer).encode()


class _Truncated(Response):
    """Announce the whole body, send half of it, then drop the connection."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body, 200, _JSON)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        raise ConnectionAbortedError("fault injection: connection closed mid-body")
