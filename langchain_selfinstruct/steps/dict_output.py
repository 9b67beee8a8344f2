"""LCEL's ``.pick`` and ``.assign`` on a step whose result is a pydantic model.

``RunnablePick`` and ``RunnableAssign`` (langchain_core/runnables/passthrough.py) accept only a
``dict``: a ``Mapping`` interface would not do, and a result that subclassed ``dict`` would give
up pydantic's validation and schema. So the step's ``pick`` and ``assign`` turn the result into
the dict of its fields first; the values stay as they are (``kept`` a list of strings,
``rejected`` a list of ``Rejection``), as ``dict(model)`` gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel
from langchain_core.runnables.base import RunnableSerializable
from langchain_core.runnables.passthrough import RunnableAssign, RunnablePick
from pydantic import BaseModel

__all__ = ["DictOutput", "fields_of"]


def fields_of(value: Any) -> Any:
    """A pydantic model as the dict of its fields (extras included); anything else unchanged."""
    return dict(value) if isinstance(value, BaseModel) else value


_AS_DICT: Runnable[Any, Any] = RunnableLambda(fields_of, name="fields_of")


class DictOutput:
    """``pick`` and ``assign`` that see a pydantic result as the dict of its fields."""

    def pick(self, keys: str | list[str]) -> RunnableSerializable[Any, Any]:
        """``Runnable.pick`` on the result's fields: ``step.pick("kept")``."""
        runnable: Runnable[Any, Any] = self  # type: ignore[assignment]
        return runnable | _AS_DICT | RunnablePick(keys)

    def assign(
        self,
        **kwargs: Runnable[dict[str, Any], Any]
        | Callable[[dict[str, Any]], Any]
        | Mapping[str, Runnable[dict[str, Any], Any] | Callable[[dict[str, Any]], Any]],
    ) -> RunnableSerializable[Any, Any]:
        """``Runnable.assign`` on the result's fields: ``step.assign(n=lambda r: len(r["kept"]))``.

        A dropped task (``None``) is no dict, so ``assign`` after ``InstanceFilter`` raises
        langchain-core's ``ValueError`` for it, as it would after any step.
        """
        runnable: Runnable[Any, Any] = self  # type: ignore[assignment]
        return runnable | _AS_DICT | RunnableAssign(RunnableParallel[dict[str, Any]](kwargs))
