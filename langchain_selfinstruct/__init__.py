"""Self-Instruct (Wang et al., 2022) as composable LangChain Runnables."""

from importlib import metadata

from langchain_selfinstruct.resources import load_seed_tasks
from langchain_selfinstruct.schema import Instance, Task, TaskFileError, load_tasks, save_tasks

try:
    __version__ = metadata.version(__package__ or __name__)
except metadata.PackageNotFoundError:
    __version__ = ""

__all__ = [
    "Instance",
    "Task",
    "TaskFileError",
    "__version__",
    "load_seed_tasks",
    "load_tasks",
    "save_tasks",
]
