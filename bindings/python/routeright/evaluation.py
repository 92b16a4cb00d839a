"""Offline evaluation (rr_eval_*): replay recorded traffic through a policy and report
quality, cost, latency, escalation and the research metrics, mergeable across shards."""
from __future__ import annotations

import ctypes
import json
import os
from ctypes import c_size_t, c_void_p
from typing import TYPE_CHECKING, Any, Dict, Iterable, Mapping, Optional, Union

from . import _lib
from ._lib import EvalOptions, RRError, lib as _L
from .errors import StateError, error_from

if TYPE_CHECKING:
    from .router import Router

__all__ = ["Evaluation"]

RR_EVAL_SKIP_MALFORMED, RR_EVAL_NO_REVALIDATE, RR_EVAL_REPORT_SVG = 1, 2, 1
Line = Union[str, bytes, Mapping[str, Any]]


class Evaluation:
    """An evaluation of `router` (None: one that only merges partials). The router stays
    alive while the evaluation is open: Router.close() frees it only after the evaluation
    is closed. One evaluation belongs to one thread at a time; run one per thread (or per
    shard) and merge their partials."""

    def __init__(self, router: Optional["Router"], *, skip_malformed: bool = False,
                 no_revalidate: bool = False, acceptable_quality: float = 0.5,
                 human_quality: float = 1.0, human_cost_usd: float = 0.0,
                 human_latency_ms: float = 0.0, bootstrap: int = 0, seed: int = 1) -> None:
        _lib.require("rr_eval_new")
        self._ptr: Optional[int] = None
        self._router = router
        o = EvalOptions()
        _L.rr_eval_options_init(ctypes.byref(o), _lib.RR_EVAL_OPTIONS_VERSION)
        o.flags = ((RR_EVAL_SKIP_MALFORMED if skip_malformed else 0)
                   | (RR_EVAL_NO_REVALIDATE if no_revalidate else 0))
        o.acceptable_quality, o.human_quality = acceptable_quality, human_quality
        o.human_cost_usd, o.human_latency_ms = human_cost_usd, human_latency_ms
        o.bootstrap, o.seed = bootstrap, seed
        self._err = RRError()
        _L.rr_error_init(ctypes.byref(self._err), _lib.RR_ERROR_VERSION)
        self._len = c_size_t()
        rptr = router._pin() if router is not None else None
        out = c_void_p()
        rc = _L.rr_eval_new(ctypes.byref(out), rptr, ctypes.byref(o), ctypes.byref(self._err))
        if rc:
            if router is not None:
                router._unpin()
            raise self._fail(rc)
        self._ptr = out.value

    def _fail(self, rc: int) -> Exception:
        e = error_from(rc, self._err, "eval")
        self._err.code = 0
        return e

    def _p(self) -> int:
        if not self._ptr:
            raise StateError(-20, "evaluation is closed")
        return self._ptr

    def add_line(self, line: Line) -> None:
        """Replay one record: JSONL text (without its newline) or a dict."""
        if isinstance(line, Mapping):
            line = json.dumps(line)
        b = line.encode("utf-8") if isinstance(line, str) else line
        rc = _L.rr_eval_add_line(self._p(), b, len(b), ctypes.byref(self._err))
        if rc:
            raise self._fail(rc)

    def add_lines(self, lines: Iterable[Line]) -> None:
        for line in lines:
            if isinstance(line, (str, bytes)):
                line = line.rstrip("\r\n") if isinstance(line, str) else line.rstrip(b"\r\n")
            self.add_line(line)

    def add_file(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Replay every line of a JSONL file, streaming."""
        rc = _L.rr_eval_add_file(self._p(), os.fsencode(path), ctypes.byref(self._err))
        if rc:
            raise self._fail(rc)

    @property
    def record_count(self) -> int:
        return int(_L.rr_eval_record_count(self._p()))

    @property
    def malformed_count(self) -> int:
        return int(_L.rr_eval_malformed_count(self._p()))

    @property
    def missing_count(self) -> int:
        return int(_L.rr_eval_missing_count(self._p()))

    def _text(self, p: Optional[int]) -> str:
        if not p:
            raise error_from(-2)
        return ctypes.string_at(p, self._len.value).decode("utf-8")

    def result_json(self) -> str:
        return self._text(_L.rr_eval_result_json(self._p(), ctypes.byref(self._len)))

    def result(self) -> Dict[str, Any]:
        """The metrics (see rr_eval_result_json in routeright.h)."""
        return json.loads(self.result_json())

    def partial_json(self) -> str:
        """The mergeable aggregate, for Evaluation.merge in a reduce step."""
        return self._text(_L.rr_eval_partial_json(self._p(), ctypes.byref(self._len)))

    def merge(self, partial: Union[str, bytes, Mapping[str, Any]]) -> None:
        if isinstance(partial, Mapping):
            partial = json.dumps(partial)
        b = partial.encode("utf-8") if isinstance(partial, str) else partial
        rc = _L.rr_eval_merge_json(self._p(), b, len(b), ctypes.byref(self._err))
        if rc:
            raise self._fail(rc)

    def report(self, svg: bool = False) -> str:
        """A self-contained HTML page (or one SVG image) a person can read."""
        _lib.require("rr_eval_report")
        p = _L.rr_eval_report(self._p(), RR_EVAL_REPORT_SVG if svg else 0,
                              ctypes.byref(self._len))
        if not p:
            raise StateError(-20, "no record was replayed")
        return ctypes.string_at(p, self._len.value).decode("utf-8")

    def close(self) -> None:
        if self._ptr:
            _L.rr_eval_free(self._ptr)
            self._ptr = None
            if self._router is not None:
                self._router._unpin()

    def __enter__(self) -> "Evaluation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
