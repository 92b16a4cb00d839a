"""Validation, escalation and the run loop: the value types and the C callback trampolines.

The trampolines are created once, at import; a run passes its Python callables through
`user_data` as a key into _RUNS. Every trampoline catches everything: an exception raised
by a host callback never unwinds into C. How it is reported:

- call_model / call_tool raising `Retriable` -> RR_CALL_RETRIABLE (the route may retry),
  `TimeoutError` -> RR_CALL_TIMEOUT, `Abort` -> the run stops (run() raises CallbackError),
  any other Exception -> RR_CALL_ERROR, i.e. a `model_error` (or `tool_error`) attempt in
  the trace; the exception is kept in Outcome.callback_errors.
- BaseException that is not an Exception (KeyboardInterrupt, SystemExit) stops the run and
  is re-raised by run() once C has returned.
"""
from __future__ import annotations

import ctypes
import itertools
import json
import threading
import time
import weakref
from ctypes import c_char_p, c_size_t, c_void_p
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

from . import _lib
from ._lib import (CALL_MODEL_FN, CALL_TOOL_FN, NOW_NS_FN, ON_EVENT_FN, CallbacksC,
                   ModelCallC, lib as _L)
from .errors import CallbackError, error_from

__all__ = ["ModelCall", "ModelResult", "ToolCall", "ToolResult", "Retriable", "Abort",
           "Attempt", "Outcome", "CallbackFailure", "Finding", "Verdict"]

RR_CALL_OK, RR_CALL_RETRIABLE, RR_CALL_ERROR, RR_CALL_TIMEOUT, RR_CALL_ABORT = 0, 1, 2, 3, -16


class Retriable(Exception):
    """Raise from call_model / call_tool for a transient failure (429, 5xx): the route may
    be retried while its "retries" allow."""


class Abort(Exception):
    """Raise from any callback to stop the run; run() then raises CallbackError (EABORT)."""


@dataclass(frozen=True)
class ModelCall:
    """What call_model receives: the route to call and everything needed to call it."""

    attempt: int
    route: str
    route_version: str
    model: str
    prompt: str
    output_mode: str
    schema: Optional[str]           # the JSON Schema to enforce for json/constrained
    tools: List[str]
    context_tokens: int
    max_output_tokens: int
    text: str                       # the request text
    previous_failure: str           # "" on the first attempt
    previous_findings: List[Dict[str, Any]]
    tool_results: Dict[str, Any]    # {tool: output} from call_tool


@dataclass
class ModelResult:
    """What call_model may return (a plain str or bytes means output with all else unknown).
    Token counts -1 = unknown (estimated at 4 bytes per token); latency_ms < 0 = measured;
    confidence < 0 = none."""

    output: Union[str, bytes]
    input_tokens: int = -1
    output_tokens: int = -1
    latency_ms: float = -1.0
    confidence: float = -1.0


@dataclass(frozen=True)
class ToolCall:
    attempt: int
    tool: str
    route: str
    text: str


@dataclass
class ToolResult:
    """What call_tool may return (a plain str / bytes / None means output only)."""

    output: Union[str, bytes, None]
    latency_ms: float = -1.0


class Attempt(NamedTuple):
    route: str
    model: str
    status: str        # "ok", "retriable", "error", "timeout"
    failure: str       # "" when it passed
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float


class CallbackFailure(NamedTuple):
    """An exception a host callback raised, and where."""

    callback: str      # "call_model", "call_tool", "on_event", "now_ns"
    attempt: int
    route: str
    error: BaseException


@dataclass
class Outcome:
    """The result of Router.run: the final kind and text, the attempts and the trace."""

    kind: str          # "answer", "clarify", "defer", "human_review", "safe_failure"
    text: str
    route: str
    model: str
    reason: str
    valid: bool
    cost_usd: float
    latency_ms: float
    input_tokens: int
    output_tokens: int
    attempts: List[Attempt]
    trace_json: str
    callback_errors: List[CallbackFailure] = field(default_factory=list)

    @property
    def trace(self) -> Dict[str, Any]:
        return json.loads(self.trace_json)


class Finding(NamedTuple):
    code: str
    validator: str
    keyword: str
    instance_location: str
    keyword_location: str
    message: str
    span: Optional[List[int]]


@dataclass
class Verdict:
    """What the validators found in one output (copied out of C)."""

    passed: bool
    failure: str
    findings: List[Finding]
    findings_dropped: int
    scores: Dict[str, float]
    validators: List[Dict[str, Any]]
    ns: int
    record_json: str

    @property
    def record(self) -> Dict[str, Any]:
        return json.loads(self.record_json)


# -- per-thread verdict (reused, so validation allocates nothing in C after warm-up) ------

_tls = threading.local()


def _free_verdict(cell: c_void_p) -> None:
    _L.rr_verdict_free(cell)
    cell.value = None


class _VerdictHolder:
    __slots__ = ("cell", "fin", "__weakref__")

    def __init__(self) -> None:
        self.cell = c_void_p()
        rc = _L.rr_verdict_new(ctypes.byref(self.cell), None)
        if rc:
            raise error_from(rc)
        self.fin = weakref.finalize(self, _free_verdict, self.cell)


def thread_verdict() -> int:
    h = getattr(_tls, "verdict", None)
    if h is None:
        h = _tls.verdict = _VerdictHolder()
    return h.cell.value  # type: ignore[return-value]


def read_verdict(v: int) -> Verdict:
    n = c_size_t()
    p = _L.rr_verdict_json(v, ctypes.byref(n))
    if not p:
        raise error_from(-2)
    text = ctypes.string_at(p, n.value).decode("utf-8")
    j = json.loads(text)
    findings = [Finding(f.get("code", ""), f.get("validator", ""), f.get("keyword", ""),
                        f.get("instanceLocation", ""), f.get("keywordLocation", ""),
                        f.get("message", ""), f.get("span")) for f in j.get("findings", [])]
    return Verdict(bool(_L.rr_verdict_passed(v)), (_L.rr_verdict_failure(v) or b"").decode(),
                   findings, int(j.get("findings_dropped", 0)), dict(j.get("scores", {})),
                   list(j.get("validators", [])), int(_L.rr_verdict_ns(v)), text)


# -- the run loop -----------------------------------------------------------------------


def _s(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _json_or(b: Optional[bytes], default: Any) -> Any:
    if not b:
        return default
    try:
        return json.loads(b)
    except ValueError:
        return default


class _Run:
    __slots__ = ("call_model", "call_tool", "on_event", "now_ns", "keep_model", "keep_tool",
                 "errors", "abort", "attempt", "route")

    def __init__(self, call_model: Callable[..., Any], call_tool: Optional[Callable[..., Any]],
                 on_event: Optional[Callable[..., Any]],
                 now_ns: Optional[Callable[[], int]]) -> None:
        self.call_model, self.call_tool = call_model, call_tool
        self.on_event, self.now_ns = on_event, now_ns
        self.keep_model: Optional[bytes] = None  # C reads the output until the next call
        self.keep_tool: Optional[bytes] = None
        self.errors: List[CallbackFailure] = []
        self.abort: Optional[BaseException] = None
        self.attempt, self.route = 0, ""

    def failed(self, cb: str, e: BaseException, code: int) -> int:
        if code == RR_CALL_ABORT:
            self.abort = e
        self.errors.append(CallbackFailure(cb, self.attempt, self.route, e))
        return code


_RUNS: Dict[int, _Run] = {}
_ids = itertools.count(1)


def _as_bytes(x: Union[str, bytes, None]) -> bytes:
    if x is None:
        return b""
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("utf-8")
    raise TypeError(f"callback output must be str or bytes, not {type(x).__name__}")


def _classify(run: _Run, cb: str, e: BaseException) -> int:
    if isinstance(e, Abort) or not isinstance(e, Exception):
        return run.failed(cb, e, RR_CALL_ABORT)
    if isinstance(e, Retriable):
        return run.failed(cb, e, RR_CALL_RETRIABLE)
    if isinstance(e, TimeoutError):
        return run.failed(cb, e, RR_CALL_TIMEOUT)
    return run.failed(cb, e, RR_CALL_ERROR)


def _model_call(c: ModelCallC) -> ModelCall:
    tools = [_s(c.tools[i]) for i in range(c.ntools)] if c.ntools else []
    text = ctypes.string_at(c.text, c.text_len).decode("utf-8", "replace") if c.text else ""
    return ModelCall(c.attempt, _s(c.route), _s(c.route_version), _s(c.model), _s(c.prompt),
                     _s(c.output_mode), c.schema_json.decode() if c.schema_json else None,
                     tools, c.context_tokens, c.max_output_tokens, text,
                     _s(c.previous_failure), _json_or(c.previous_findings, []),
                     _json_or(c.tool_results, {}))


def _tramp_model(ud: Optional[int], callp: Any, resp: Any) -> int:
    run = _RUNS.get(ud or 0)
    if run is None:
        return RR_CALL_ABORT
    try:
        c = callp.contents
        run.attempt, run.route = c.attempt, _s(c.route)
        r = run.call_model(_model_call(c))
        if not isinstance(r, ModelResult):
            r = ModelResult(r)
        out = _as_bytes(r.output)
        run.keep_model = out
        res = resp.contents
        res.output = ctypes.cast(c_char_p(out), c_void_p).value
        res.output_len = len(out)
        res.input_tokens = int(r.input_tokens)
        res.output_tokens = int(r.output_tokens)
        res.latency_ms = float(r.latency_ms)
        res.confidence = float(r.confidence)
        return RR_CALL_OK
    except BaseException as e:  # never let anything unwind into C
        return _classify(run, "call_model", e)


def _tramp_tool(ud: Optional[int], callp: Any, resp: Any) -> int:
    run = _RUNS.get(ud or 0)
    if run is None or run.call_tool is None:
        return RR_CALL_ABORT
    try:
        c = callp.contents
        run.attempt, run.route = c.attempt, _s(c.route)
        text = ctypes.string_at(c.text, c.text_len).decode("utf-8", "replace") if c.text else ""
        r = run.call_tool(ToolCall(c.attempt, _s(c.tool), _s(c.route), text))
        if not isinstance(r, ToolResult):
            r = ToolResult(r)
        res = resp.contents
        if r.output is None:
            res.output, res.output_len = None, 0
        else:
            out = run.keep_tool = _as_bytes(r.output)
            res.output = ctypes.cast(c_char_p(out), c_void_p).value
            res.output_len = len(out)
        res.latency_ms = float(r.latency_ms)
        return RR_CALL_OK
    except BaseException as e:
        return _classify(run, "call_tool", e)


def _tramp_event(ud: Optional[int], p: Optional[int], n: int) -> int:
    run = _RUNS.get(ud or 0)
    if run is None or run.on_event is None:
        return 0
    try:
        run.on_event(json.loads(ctypes.string_at(p, n)) if p else {})
        return 0
    except BaseException as e:
        # A failing event handler is reported, not fatal; Abort / KeyboardInterrupt stop.
        code = _classify(run, "on_event", e)
        return 1 if code == RR_CALL_ABORT else 0


def _tramp_now(ud: Optional[int]) -> int:
    run = _RUNS.get(ud or 0)
    try:
        return int(run.now_ns()) if run is not None and run.now_ns else time.monotonic_ns()
    except BaseException as e:
        if run is not None:
            run.errors.append(CallbackFailure("now_ns", run.attempt, run.route, e))
        return time.monotonic_ns()


# Created once and kept for the life of the process: C may call them from any thread.
_C_MODEL = CALL_MODEL_FN(_tramp_model)
_C_TOOL = CALL_TOOL_FN(_tramp_tool)
_C_EVENT = ON_EVENT_FN(_tramp_event)
_C_NOW = NOW_NS_FN(_tramp_now)


class RunScope:
    """Registers one run's callables for the trampolines and builds its rr_callbacks."""

    def __init__(self, call_model: Callable[..., Any], call_tool: Optional[Callable[..., Any]],
                 on_event: Optional[Callable[..., Any]],
                 now_ns: Optional[Callable[[], int]]) -> None:
        if not callable(call_model):
            raise TypeError("call_model must be callable")
        self.run = _Run(call_model, call_tool, on_event, now_ns)
        self.key = next(_ids)
        cb = self.callbacks = CallbacksC()
        cb.version = _lib.RR_CALLBACKS_VERSION
        cb.user_data = self.key
        cb.call_model = _C_MODEL
        if call_tool is not None:
            cb.call_tool = _C_TOOL
        if on_event is not None:
            cb.on_event = _C_EVENT
        if now_ns is not None:
            cb.now_ns = _C_NOW

    def __enter__(self) -> "RunScope":
        _RUNS[self.key] = self.run
        return self

    def __exit__(self, *exc: object) -> None:
        _RUNS.pop(self.key, None)

    def raise_for(self, rc: int, err: Any) -> None:
        """After rr_run: re-raise an interrupt, or turn an abort into CallbackError."""
        a = self.run.abort
        if a is not None and not isinstance(a, Exception):
            raise a
        if rc == RR_CALL_ABORT:
            e = error_from(rc, err, "run")
            err.code = 0
            if not isinstance(e, CallbackError):
                e = CallbackError(rc, str(e))
            raise e from a


def read_outcome(o: int) -> Outcome:
    L = _L
    n = c_size_t()
    p = L.rr_outcome_text(o, ctypes.byref(n))
    text = ctypes.string_at(p, n.value).decode("utf-8", "replace") if p else ""
    attempts = [Attempt(_s(L.rr_outcome_attempt_route(o, i)), _s(L.rr_outcome_attempt_model(o, i)),
                        _s(L.rr_outcome_attempt_status(o, i)),
                        _s(L.rr_outcome_attempt_failure(o, i)),
                        L.rr_outcome_attempt_input_tokens(o, i),
                        L.rr_outcome_attempt_output_tokens(o, i),
                        L.rr_outcome_attempt_cost_usd(o, i),
                        L.rr_outcome_attempt_latency_ms(o, i))
                for i in range(L.rr_outcome_attempt_count(o))]
    p = L.rr_outcome_json(o, ctypes.byref(n))
    if not p:
        raise error_from(-2)
    trace = ctypes.string_at(p, n.value).decode("utf-8")
    return Outcome(_s(L.rr_outcome_kind(o)), text, _s(L.rr_outcome_route(o)),
                   _s(L.rr_outcome_model(o)), _s(L.rr_outcome_reason(o)),
                   bool(L.rr_outcome_valid(o)), L.rr_outcome_cost_usd(o),
                   L.rr_outcome_latency_ms(o), L.rr_outcome_input_tokens(o),
                   L.rr_outcome_output_tokens(o), attempts, trace)
