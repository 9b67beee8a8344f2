"""The bootstrap loop: pool, budget, scheduler, executors (in process, Ray), events, driver."""

from langchain_selfinstruct.loop.budget import Budget
from langchain_selfinstruct.loop.driver import SelfInstructDriver
from langchain_selfinstruct.loop.events import (
    Accepted,
    LoopEvent,
    Rejected,
    RejectRecord,
    RoundFinished,
    failure_record,
)
from langchain_selfinstruct.loop.executor import Executor, InProcessExecutor
from langchain_selfinstruct.loop.pool import Pool
from langchain_selfinstruct.loop.ray_executor import RayExecutor
from langchain_selfinstruct.loop.scheduler import Committed, Filtered, LoopDriver, Scheduler
from langchain_selfinstruct.loop.work import (
    Candidate,
    CompleteCandidate,
    GenerateInstructions,
    WorkDone,
    WorkUnit,
)

__all__ = [
    "Accepted",
    "Budget",
    "Candidate",
    "Committed",
    "CompleteCandidate",
    "Executor",
    "Filtered",
    "GenerateInstructions",
    "InProcessExecutor",
    "LoopDriver",
    "LoopEvent",
    "Pool",
    "RayExecutor",
    "RejectRecord",
    "Rejected",
    "RoundFinished",
    "Scheduler",
    "SelfInstructDriver",
    "WorkDone",
    "WorkUnit",
    "failure_record",
]
