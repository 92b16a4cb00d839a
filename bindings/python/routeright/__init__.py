"""routeright: layered routing, validation and escalation for LLM services (ctypes binding).

    from routeright import Router
    with Router.default() as router:
        d = router.route("How do I reset my password?", attrs={"tenant.tier": "enterprise"})
        print(d.route, d.model, d.reason)

The library is found through $ROUTERIGHT_LIBRARY, then pkg-config, then the system loader.
"""
from ._lib import has, lib as _lib_handle, library_path
from .errors import (CallbackError, DataError, InvalidArgumentError, LimitError, ModelError,
                     NotFoundError, OutOfMemoryError, PolicyError, RangeError, RequestError,
                     RouteRightError, RouteRightIOError, SchemaError, StateError, VersionError)
from .router import KINDS, Decision, Router
from .run import (Abort, Attempt, CallbackFailure, Finding, ModelCall, ModelResult, Outcome,
                  Retriable, ToolCall, ToolResult, Verdict)
from .schema import DRAFT_07, DRAFT_2019_09, DRAFT_2020_12, Schema
from .evaluation import Evaluation

__version__ = "1.0.0"

__all__ = [
    "Router", "Decision", "KINDS", "has", "library_path", "library_version",
    "ModelCall", "ModelResult", "ToolCall", "ToolResult", "Retriable", "Abort", "Attempt",
    "Outcome", "CallbackFailure", "Finding", "Verdict", "Schema", "DRAFT_2020_12",
    "DRAFT_2019_09", "DRAFT_07", "Evaluation",
    "RouteRightError", "InvalidArgumentError", "OutOfMemoryError", "RouteRightIOError",
    "PolicyError", "RequestError", "LimitError", "SchemaError", "NotFoundError", "RangeError",
    "VersionError", "CallbackError", "ModelError", "DataError", "StateError",
]


def library_version() -> str:
    """The version string of the loaded C library, e.g. "1.0.0"."""
    return _lib_handle.rr_version().decode()
