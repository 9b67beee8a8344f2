"""Errors shared across modules."""

__all__ = ["ModelConfigError"]


class ModelConfigError(ValueError):
    """The model cannot be used as configured; the one-line message names the fix."""
