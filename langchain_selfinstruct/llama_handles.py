"""The loaded copies of a GGUF, and how calls share them.

Every wrapper in :mod:`langchain_selfinstruct.embedded` with the same settings shares one
:class:`LlamaHandle`: the model is loaded once per process, the build is checked in a child
process first (:mod:`langchain_selfinstruct.llama_build`), and calls borrow whichever copy is
free. ``llama_cpp`` is imported lazily.
"""

from __future__ import annotations

import atexit
import contextlib
import heapq
import itertools
import math
import os
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.llama_build import LOCAL_INSTALL_HINT, ensure_llama_works

__all__ = ["LlamaHandle", "llama_handle", "replica_layout"]


class LlamaHandle:
    """``replicas`` loaded copies of one GGUF; each call borrows whichever copy is free.

    A ``llama_cpp.Llama`` context serves one call at a time, and a 135M model gains little from a
    second thread per call (its matrices are too small to split well), so both cores are used by
    running two single-thread copies side by side (benchmarks/README.md). Results do not depend
    on which copy serves a call: the copies are identical and every call carries its own seed.
    """

    def __init__(self, clients: list[Any]) -> None:
        self.clients = clients
        self._copies = _Copies(clients)
        self._prefixes = _SharedPrefixes()

    def run(self, method: str, *args: Any, **params: Any) -> dict[str, Any]:
        """Call ``Llama.<method>`` on a free copy, waiting for one if all are busy."""
        # llama.cpp keeps the KV cache of the previous call and re-evaluates only the part of
        # the new prompt after their common prefix, which saves seconds on prompts sharing long
        # few-shot headers. Outputs matched a cold cache in our checks, so seeding holds.
        prompt = args[0] if args and isinstance(args[0], str) else None
        with (
            self._prefixes.evaluating(prompt),
            self._copies.borrow(params.get("max_tokens")) as copy,
        ):
            result: dict[str, Any] = getattr(copy, method)(*args, **params)
            return result


class _Copies:
    """The free copies, handed to waiting calls shortest first (by ``max_tokens``).

    First come, first served would let the loop's opening instruction generations (320 tokens
    each, every slot's first unit) hold both copies while the first classification (3 tokens),
    which every later step waits on, queues behind them; its cold read of the few-shot header
    then ran while the other copy had nothing to do. Shortest first starts it as soon as a copy
    frees, so the read overlaps the other copy's work (benchmarks/README.md). Among equals the
    earlier call goes first, and a copy freed last is lent first (its context still holds the
    previous prompt, which the next call in a sequence of calls most likely shares).
    """

    def __init__(self, clients: list[Any]) -> None:
        self._changed = threading.Condition()
        self._free = list(clients)
        self._waiting: list[tuple[float, int]] = []
        self._arrivals = itertools.count()

    @contextlib.contextmanager
    def borrow(self, max_tokens: object) -> Iterator[Any]:
        size = float(max_tokens) if isinstance(max_tokens, int) else math.inf
        ticket = (size, next(self._arrivals))
        with self._changed:
            heapq.heappush(self._waiting, ticket)
            while not self._free or self._waiting[0] != ticket:
                self._changed.wait()
            heapq.heappop(self._waiting)
            copy = self._free.pop()
            self._changed.notify_all()  # the next in line may take another free copy
        try:
            yield copy
        finally:
            with self._changed:
                self._free.append(copy)
                self._changed.notify_all()


_SHARED_PREFIX_CHARS = 1500
"""A shared prompt start worth waiting for: about 350 tokens, 2 s of one core's prompt reading."""


class _SharedPrefixes:
    """Lets a call wait while another copy reads the long prompt start both share.

    Two copies starting on prompts with the same few-shot header would each read it cold (about
    5 CPU-seconds for the instance prompts), because a copy's state reaches the shared prefix
    cache only when its call ends. So a call whose prompt shares a long start with one being
    evaluated, longer by ``_SHARED_PREFIX_CHARS`` than what finished calls shared with it, waits
    for that call (holding no copy, so other calls go on) and then resumes from the cached state.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: list[str] = []
        # The last prompts evaluated: their states are what the prefix cache most likely holds.
        self._done: deque[str] = deque(maxlen=32)

    @contextlib.contextmanager
    def evaluating(self, prompt: str | None) -> Iterator[None]:
        if prompt is None:
            yield
            return
        with self._changed:
            while self._should_wait(prompt):
                self._changed.wait()
            self._running.append(prompt)
        try:
            yield
        finally:
            with self._changed:
                self._running.remove(prompt)
                self._done.append(prompt)
                self._changed.notify_all()

    def _should_wait(self, prompt: str) -> bool:
        # Worth waiting for: a long start that a running call is reading and no finished one
        # has read, so that the cache would hand it over in a moment.
        running = max((_shared(prompt, other) for other in self._running), default=0)
        cached = max((_shared(prompt, other) for other in self._done), default=0)
        return running - cached >= _SHARED_PREFIX_CHARS


def _shared(a: str, b: str) -> int:
    """Length of the common start of two prompts."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low], a[:high] != b[:high]
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if a[:mid] == b[:mid] else (low, mid)
    return low


_PREFIX_CACHE_BYTES = 1 << 30
# Each copy holds its own prefix cache (up to 1 GiB), so the automatic layout stops at two.
_MAX_AUTO_REPLICAS = 2
_HANDLES: dict[tuple[str, int, int, int, bool], LlamaHandle] = {}
_HANDLES_LOCK = threading.Lock()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def replica_layout(n_threads: int | None, n_replicas: int | None) -> tuple[int, int]:
    """``(threads per copy, copies)``: by default two copies sharing the usable cores.

    On the 2-core machines we measure on that is two single-thread copies; on a larger machine
    each of the two copies gets more threads (pass ``n_replicas`` for more copies).
    """
    cpus = _usable_cpus()
    if n_replicas is None:
        n_replicas = max(1, min(_MAX_AUTO_REPLICAS, cpus // (n_threads or 1)))
    if n_threads is None:
        n_threads = max(1, cpus // n_replicas)
    return n_threads, n_replicas


def llama_handle(
    path: str, n_ctx: int, n_threads: int | None, n_replicas: int | None, verbose: bool
) -> LlamaHandle:
    """Load a GGUF once per process; every wrapper with the same settings shares it."""
    threads, replicas = replica_layout(n_threads, n_replicas)
    key = (path, n_ctx, threads, replicas, verbose)
    with _HANDLES_LOCK:
        handle = _HANDLES.get(key)
        if handle is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ModelConfigError(f"llama.cpp is not installed: {LOCAL_INSTALL_HINT}") from exc
            # A build that crashes would take the whole process down with it, so a child
            # process tries it first (once per build; llama_build.py).
            ensure_llama_works(path)
            # The steps interleave a few long few-shot prompts; keeping the evaluated state of
            # each lets a call resume from its shared prefix instead of re-reading it (2.7x less
            # CPU for classify + instances). One cache serves every copy, so a header one copy
            # evaluated is not evaluated again by the other.
            cache = _prefix_state_cache(_PREFIX_CACHE_BYTES)
            clients = []
            for _ in range(replicas):
                client = Llama(
                    model_path=path,
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=verbose,
                )
                _drop_unread_logits(client)
                client.set_cache(cache)
                _skip_redundant_saves(client, cache)
                clients.append(client)
            if not _HANDLES:
                atexit.register(_close_handles)
            handle = _HANDLES[key] = LlamaHandle(clients)
    return handle


def _drop_unread_logits(client: Any) -> None:
    """Shrink the logits buffer llama-cpp-python keeps but never reads without ``logits_all``.

    ``Llama`` allocates ``n_batch x n_vocab`` floats (100 MB for SmolLM2) for logits that, since
    sampling moved into llama.cpp's sampler, only ``logprobs`` and stopping criteria read (both
    need ``logits_all=True``, which we never set). Yet every saved prefix state copies them:
    0.1 s per save and 0.5 s per load, and four times the memory of the KV state itself
    (benchmarks/README.md). One row keeps their shapes valid (llama-cpp-python 0.3.36).
    """
    import numpy as np

    if not client._logits_all:
        client.scores = np.zeros((1, client.n_vocab()), dtype=np.single)


_NEW_TAIL_TOKENS = 256
"""A state is not saved when a cached one covers all but at most this many of its tokens, and
more than it adds."""
_NOT_SAVED = object()
"""What a skipped save hands the cache, which then stores nothing."""


def _skip_redundant_saves(client: Any, cache: Any) -> None:
    """Save a call's state only when the cache holds none that covers nearly all of it.

    llama-cpp-python saves the whole context after every call (three copies of the KV state,
    about 50 ms and 20 MB each on the instance prompts). What later prompts resume from is their
    shared few-shot header; the first call with a header saves it, and after that a call's own
    tail (one task's text and output) is worth nothing to the next prompt. Skipping those saves
    took the instance calls' overhead from 167 to 129 ms each (benchmarks/README.md). Patched on
    the instance, like :func:`_drop_unread_logits`, because ``Llama`` has no hook for it
    (llama-cpp-python 0.3.36).
    """
    save = client.save_state

    def save_state() -> Any:
        if cache.covers(client.input_ids.tolist(), _NEW_TAIL_TOKENS):
            return _NOT_SAVED
        return save()

    client.save_state = save_state


def _prefix_state_cache(capacity_bytes: int) -> Any:
    """A thread-safe ``LlamaRAMCache`` whose budget counts everything a saved state holds.

    llama.cpp's own cache counts only the KV state, though a saved state also holds the token ids
    and logits; and its lookups and insertions are not safe from the two threads of two copies.
    """
    from llama_cpp import Llama
    from llama_cpp.llama_cache import LlamaRAMCache

    class PrefixStateCache(LlamaRAMCache):
        def __init__(self, capacity_bytes: int) -> None:
            super().__init__(capacity_bytes=capacity_bytes)
            self._lock = threading.Lock()

        @property
        def cache_size(self) -> int:
            return sum(
                state.llama_state_size + state.scores.nbytes + state.input_ids.nbytes
                for state in self.cache_state.values()
            )

        def __getitem__(self, key: Any) -> Any:
            with self._lock:
                return super().__getitem__(key)

        def __contains__(self, key: Any) -> bool:
            with self._lock:
                return super().__contains__(key)

        def __setitem__(self, key: Any, value: Any) -> None:
            if value is _NOT_SAVED:
                return
            with self._lock:
                super().__setitem__(key, value)

        def covers(self, ids: list[int], tail: int) -> bool:
            """Whether a cached state leaves ``ids`` a new part of ``tail`` tokens at most.

            The new part must also be shorter than the shared one.
            """
            with self._lock:
                best = self._find_longest_prefix_key(tuple(ids))
            shared = Llama.longest_token_prefix(best, ids) if best is not None else 0
            new = len(ids) - shared
            return new <= tail and new < shared

    return PrefixStateCache(capacity_bytes=capacity_bytes)


def _close_handles() -> None:
    # Freeing the model explicitly at exit avoids llama.cpp's noisy __del__ during interpreter
    # teardown, when the C library's bindings may already be gone.
    with _HANDLES_LOCK:
        for handle in _HANDLES.values():
            for client in handle.clients:
                client.close()
        _HANDLES.clear()
