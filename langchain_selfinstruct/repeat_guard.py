"""Stop a generation that has fallen into a verbatim loop, and report it as cut short.

A small model decoding greedily (the paper's instance step) often falls into a loop: the same
sentence or list line again and again until ``max_tokens``. Such an output ends cut off, so the
parsers drop its last item as truncated anyway; every token after the loop began is wasted. On
the README's main command those runaway outputs were 5 of 36 instance calls but about 40 % of
the tokens generated (benchmarks/README.md).

:class:`RepeatGuard` is a llama.cpp stopping criterion: it stops once the last ``window``
generated tokens already occurred, verbatim, earlier in the same generation. Greedy decoding
from the same tokens then continues the loop, so nothing an instance could keep is lost. The
wrapper reports such a stop as ``finish_reason="length"``, not ``"stop"``: the output *was* cut
short, and that is what makes the parsers treat its last item as possibly incomplete. llama.cpp's
own repetition samplers (``repeat_penalty``, DRY) change which tokens are sampled; this changes
only when a looping output ends. langchain-core has no equivalent: stopping criteria are a
llama-cpp-python hook.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DEFAULT_REPEAT_WINDOW", "RepeatGuard"]

DEFAULT_REPEAT_WINDOW = 24
"""Tokens that must repeat verbatim: about two list lines, longer than any phrase a task's
instances legitimately share (``"Input:"``, ``"Output:"``, a class label)."""


class RepeatGuard:
    """A ``stopping_criteria`` callable for one ``create_completion`` call.

    llama-cpp-python calls it with every token id so far (prompt and generation) after each
    sampled token, and once more after the generation ended; the first call marks where the
    prompt ends. It must be built fresh for each call.

    Args:
        window: Generated tokens that, found again verbatim, mean the output is looping.
    """

    def __init__(self, window: int = DEFAULT_REPEAT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window
        self.fired = False
        self._prompt_end: int | None = None

    def __call__(self, input_ids: Any, logits: Any = None) -> bool:
        """Whether to stop: once the generation has looped, on every later call too."""
        ids = np.asarray(input_ids, dtype=np.int32)
        if self._prompt_end is None:
            self._prompt_end = len(ids)
        if not self.fired:
            self.fired = repeats_tail(ids[self._prompt_end :], self.window)
        return self.fired


def repeats_tail(tokens: np.ndarray[Any, np.dtype[np.int32]], window: int) -> bool:
    """Whether the last ``window`` tokens occur earlier in ``tokens`` (overlap allowed).

    Overlap counts, so a loop with a period shorter than ``window`` is found after
    ``window + period`` tokens.
    """
    if len(tokens) <= window:
        return False
    tail = tokens[-window:].tobytes()
    haystack = tokens[:-1].tobytes()
    width = tokens.itemsize
    found = haystack.find(tail)
    while found != -1:
        if found % width == 0:  # a match between token boundaries is not a token match
            return True
        found = haystack.find(tail, found + 1)
    return False
