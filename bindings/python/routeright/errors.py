"""Exceptions: one class per error family, all carrying what the C rr_error reported."""
from __future__ import annotations

from typing import Dict, Optional, Type

from ._lib import RRError, lib

__all__ = [
    "RouteRightError", "InvalidArgumentError", "OutOfMemoryError", "RouteRightIOError",
    "PolicyError", "RequestError", "LimitError", "SchemaError", "NotFoundError",
    "RangeError", "VersionError", "CallbackError", "ModelError", "DataError", "StateError",
    "error_from",
]


class RouteRightError(Exception):
    """A failed routeright call. `code` is the negative RR_E* value, `name` its symbol
    without prefix ("EPOLICY"); `pointer`, `line`, `column`, `expr_column` locate the
    offending value in a policy or schema document (""/0 when not applicable)."""

    code: int
    name: str
    message: str
    pointer: str
    line: int
    column: int
    expr_column: int

    def __init__(self, code: int, message: str, pointer: str = "", line: int = 0,
                 column: int = 0, expr_column: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.name = lib.rr_error_name(code).decode()
        self.message = message
        self.pointer = pointer
        self.line = line
        self.column = column
        self.expr_column = expr_column

    def __str__(self) -> str:
        where = ""
        if self.line:
            where = f" (line {self.line}, column {self.column})" if self.column else \
                f" (line {self.line})"
        return f"{self.name}: {self.message}{where}"


class InvalidArgumentError(RouteRightError, ValueError):
    """RR_EINVAL."""


class OutOfMemoryError(RouteRightError, MemoryError):
    """RR_ENOMEM."""


class RouteRightIOError(RouteRightError, OSError):
    """RR_EIO: a file could not be read."""


class PolicyError(RouteRightError, ValueError):
    """The policy does not compile: RR_EPOLICY, RR_EEXPR, RR_EREGEX, or RR_EJSON on a policy."""


class RequestError(RouteRightError, ValueError):
    """The request is malformed: RR_EUTF8, or RR_EJSON / RR_EINVAL on a request."""


class LimitError(RouteRightError):
    """A configured limit was hit: RR_ELIMIT, RR_ETOOBIG, RR_EDEPTH."""


class SchemaError(RouteRightError, ValueError):
    """RR_ESCHEMA, or RR_EJSON on a schema document."""


class NotFoundError(RouteRightError, LookupError):
    """RR_ENOTFOUND."""


class RangeError(RouteRightError, IndexError):
    """RR_ERANGE."""


class VersionError(RouteRightError):
    """RR_EVERSION."""


class CallbackError(RouteRightError):
    """RR_EABORT or RR_ECALLBACK: a host callback aborted or misbehaved."""


class ModelError(RouteRightError):
    """RR_EMODEL: invalid or corrupt classifier model."""


class DataError(RouteRightError, ValueError):
    """RR_EDATA: invalid evaluation data."""


class StateError(RouteRightError):
    """RR_ESTATE, and any use of a closed object."""


RR_EINVAL, RR_ENOMEM, RR_EIO, RR_EJSON, RR_EPOLICY = -1, -2, -3, -4, -5
RR_EEXPR, RR_EREGEX, RR_ELIMIT, RR_ETOOBIG, RR_EUTF8 = -6, -7, -8, -9, -10
RR_ENOTFOUND, RR_ERANGE, RR_EVERSION, RR_ESCHEMA, RR_EDEPTH = -11, -12, -13, -14, -15
RR_EABORT, RR_ECALLBACK, RR_EMODEL, RR_EDATA, RR_ESTATE = -16, -17, -18, -19, -20

_BY_CODE: Dict[int, Type[RouteRightError]] = {
    RR_EINVAL: InvalidArgumentError, RR_ENOMEM: OutOfMemoryError, RR_EIO: RouteRightIOError,
    RR_EJSON: RequestError, RR_EPOLICY: PolicyError, RR_EEXPR: PolicyError,
    RR_EREGEX: PolicyError, RR_ELIMIT: LimitError, RR_ETOOBIG: LimitError,
    RR_EUTF8: RequestError, RR_ENOTFOUND: NotFoundError, RR_ERANGE: RangeError,
    RR_EVERSION: VersionError, RR_ESCHEMA: SchemaError, RR_EDEPTH: LimitError,
    RR_EABORT: CallbackError, RR_ECALLBACK: CallbackError, RR_EMODEL: ModelError,
    RR_EDATA: DataError, RR_ESTATE: StateError,
}

# The same code means a different thing depending on which document was being read.
_BY_CONTEXT: Dict[str, Dict[int, Type[RouteRightError]]] = {
    "policy": {RR_EJSON: PolicyError},
    "request": {RR_EINVAL: RequestError},
    "schema": {RR_EJSON: SchemaError},
    "eval": {RR_EJSON: DataError},
}


def error_from(code: int, err: Optional[RRError] = None, context: str = "") -> RouteRightError:
    """The exception for a failed call: the class from `code` (and the document being read),
    the details from `err` when the C call filled it."""
    cls = _BY_CONTEXT.get(context, {}).get(code) or _BY_CODE.get(code, RouteRightError)
    if err is not None and err.code == code and err.message:
        return cls(code, err.message.decode("utf-8", "replace"),
                   err.pointer.decode("utf-8", "replace"), err.line, err.column,
                   err.expr_column)
    return cls(code, lib.rr_strerror(code).decode())
