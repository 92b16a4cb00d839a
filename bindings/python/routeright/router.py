"""Router and Decision over the C API.

A Router owns one immutable rr_router. Each thread that routes through it gets its own
rr_request (kept in a threading.local and reused). Decisions come from a small per-router
pool rather than one per thread, because a Decision must stay valid after the next call
(a loop still holds the previous one while it routes): a dropped Decision returns its
rr_decision to the pool, so a routing loop cycles through two of them and, after warm-up,
allocates nothing in C. Everything is freed deterministically by close() / the context
manager (a request also when its thread ends), with __del__ only as a backstop.
"""
from __future__ import annotations

import ctypes
import json
import os
import threading
import weakref
from ctypes import c_char_p, c_size_t, c_void_p
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union)

from . import _lib
from ._lib import RRError, RouterOptions, lib as _L
from .errors import RouteRightError, RequestError, StateError, error_from
from . import run as _run

__all__ = ["Router", "Decision", "Evidence", "AttrValue", "PolicySource", "KINDS"]

AttrValue = Union[str, bool, int, float]
Evidence = Union[Tuple[str, str, float], Mapping[str, Any]]
PolicySource = Union[str, bytes, "os.PathLike[str]", Mapping[str, Any]]

KINDS = ("model", "human", "clarify", "defer", "refuse")
RR_FEATURES_SPANS = 1


def _utf8(s: Union[str, bytes], what: str) -> bytes:
    if isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise TypeError(f"{what} must be str or bytes, not {type(s).__name__}")
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise RequestError(-10, f"{what}: not encodable as UTF-8 ({e.reason} at {e.start})")\
            from None


def _cstr(s: Union[str, bytes], what: str) -> bytes:
    """A string C reads up to its NUL: one inside it would silently cut it short."""
    b = _utf8(s, what)
    if b"\0" in b:
        raise RequestError(-1, f"{what} contains a NUL byte")
    return b


def _s(b: Optional[bytes]) -> str:
    return b.decode("utf-8") if b else ""


_FIELDS = ("route", "route_version", "kind", "model", "prompt", "output_mode", "tools",
           "context_tokens", "validators", "escalation", "task", "rule", "message", "reason",
           "route_ns", "tier")


def _escalation(d: int, s: "_Cells") -> Dict[str, str]:
    esc: Dict[str, str] = {}
    for i in range(_L.rr_decision_escalation_count(d)):
        if _L.rr_decision_escalation(d, i, s.esc_fp, s.esc_tp) == 0:
            esc[_s(s.esc_f.value)] = _s(s.esc_t.value)
    return esc


def _kind(d: int, s: "_Cells") -> str:
    k = _L.rr_decision_kind(d)
    return KINDS[k] if 0 <= k < len(KINDS) else str(k)


def _str_getter(fn: Any) -> Any:
    return lambda d, s: _s(fn(d))


# One reader per field: a field is read from C the first time it is used, so code that
# looks at two fields pays for two calls, not twenty.
_READERS: Dict[str, Any] = {
    "route": _str_getter(_L.rr_decision_route),
    "route_version": _str_getter(_L.rr_decision_route_version),
    "kind": _kind,
    "model": _str_getter(_L.rr_decision_model),
    "prompt": _str_getter(_L.rr_decision_prompt),
    "output_mode": _str_getter(_L.rr_decision_output_mode),
    "tools": lambda d, s: [_s(_L.rr_decision_tool(d, i))
                           for i in range(_L.rr_decision_tool_count(d))],
    "context_tokens": lambda d, s: _L.rr_decision_context_tokens(d),
    "validators": lambda d, s: [_s(_L.rr_decision_validator(d, i))
                                for i in range(_L.rr_decision_validator_count(d))],
    "escalation": _escalation,
    "task": _str_getter(_L.rr_decision_task),
    "rule": _str_getter(_L.rr_decision_rule),
    "message": _str_getter(_L.rr_decision_message),
    "reason": _str_getter(_L.rr_decision_reason),
    "route_ns": lambda d, s: _L.rr_decision_route_ns(d),
    "tier": (lambda d, s: _L.rr_decision_tier(d)) if _lib.has("rr_decision_tier")
    else (lambda d, s: 0),
}


def _read_record(d: int, s: "_Cells") -> str:
    p = _L.rr_decision_json(d, s.lenp)
    if not p:
        raise error_from(-2)
    return ctypes.string_at(p, s.len.value).decode("utf-8")


class Decision:
    """One routing decision. Its fields are read from C on first use and cached; the
    decision stays valid after the router routes again and after it is closed (close()
    copies out what live decisions have not read yet). `record` is the JSON decision record
    as a dict, `record_json` its text; building it is the costliest part of a decision
    (C builds it on demand), so code that does not read it does not pay for it."""

    __slots__ = ("_router", "_d", "_f", "_rec_json", "_rec", "__weakref__")

    _router: "Router"
    _d: Optional[int]
    _f: Dict[str, Any]
    _rec_json: Optional[str]
    _rec: Optional[Dict[str, Any]]

    @classmethod
    def _new(cls, router: "Router", d: int) -> "Decision":
        o = cls.__new__(cls)
        o._router, o._d, o._f, o._rec_json, o._rec = router, d, {}, None, None
        router._live.add(o)
        return o

    def _get(self, name: str) -> Any:
        f = self._f
        try:
            return f[name]
        except KeyError:
            pass
        v = f[name] = self._router._decision_read(self, _READERS[name],
                                                  fallback=lambda: f[name])
        return v

    route = property(lambda self: self._get("route"), doc="Route id.")
    route_version = property(lambda self: self._get("route_version"))
    kind = property(lambda self: self._get("kind"),
                    doc='"model", "human", "clarify", "defer" or "refuse".')
    model = property(lambda self: self._get("model"))
    prompt = property(lambda self: self._get("prompt"))
    output_mode = property(lambda self: self._get("output_mode"))
    tools = property(lambda self: list(self._get("tools")))
    context_tokens = property(lambda self: self._get("context_tokens"))
    validators = property(lambda self: list(self._get("validators")))
    escalation = property(lambda self: dict(self._get("escalation")),
                          doc="failure type -> target route id")
    task = property(lambda self: self._get("task"))
    rule = property(lambda self: self._get("rule"))
    message = property(lambda self: self._get("message"))
    reason = property(lambda self: self._get("reason"))
    route_ns = property(lambda self: self._get("route_ns"))
    tier = property(lambda self: self._get("tier"),
                    doc="Tier of the route's model (0 for terminal routes); pass it back as "
                        "last_tier on the conversation's next request.")

    @property
    def record_json(self) -> str:
        r = self._rec_json
        if r is None:
            r = self._rec_json = self._router._decision_read(
                self, _read_record, fallback=lambda: self._rec_json)
        return r

    @property
    def record(self) -> Dict[str, Any]:
        r = self._rec
        if r is None:
            r = self._rec = json.loads(self.record_json)
        return r

    # Escalation ladder state: read live from C (add_usage changes the totals).

    @property
    def attempt(self) -> int:
        """Attempt number on the escalation ladder (1 for a fresh route)."""
        return self._router._decision_read(self, lambda d, s: _L.rr_decision_attempt(d), True)

    @property
    def total_cost_usd(self) -> float:
        return self._router._decision_read(
            self, lambda d, s: _L.rr_decision_total_cost_usd(d), True)

    @property
    def total_latency_ms(self) -> float:
        return self._router._decision_read(
            self, lambda d, s: _L.rr_decision_total_latency_ms(d), True)

    def add_usage(self, input_tokens: int, output_tokens: int, latency_ms: float) -> None:
        """Record what an attempt on this route cost; Router.escalate checks the policy's
        limits against the totals."""
        def f(d: int, s: Any) -> int:
            return _L.rr_decision_add_usage(d, input_tokens, output_tokens, latency_ms)
        rc = self._router._decision_read(self, f, True)
        if rc:
            raise error_from(rc, None, "request")

    def as_dict(self) -> Dict[str, Any]:
        """Every field (not the record) as a plain dict."""
        return {k: getattr(self, k) for k in _FIELDS}

    def __repr__(self) -> str:
        return (f"Decision(route={self.route!r}, kind={self.kind!r}, model={self.model!r}, "
                f"task={self.task!r}, rule={self.rule!r})")

    def _materialize(self, s: "_Cells") -> None:
        """Copy out whatever is not read yet and free the C decision (router lock held)."""
        d = self._d
        if d is None:
            return
        f = self._f
        for name, reader in _READERS.items():
            if name not in f:
                f[name] = reader(d, s)
        if self._rec_json is None:
            self._rec_json = _read_record(d, s)
        self._d = None
        _L.rr_decision_free(d)

    def __del__(self) -> None:
        try:
            d = self._d
            if d is not None:
                self._router._decision_release(self, d)
        except Exception:  # interpreter shutdown
            pass


def _free_request(req: c_void_p, out: c_void_p) -> None:
    if out.value:
        _L.rr_outcome_free(out)
        out.value = None
    _L.rr_request_free(req)
    req.value = None


class _Cells:
    """ctypes cells that decision getters write through (length, escalation pair)."""

    __slots__ = ("len", "lenp", "esc_f", "esc_t", "esc_fp", "esc_tp")

    def __init__(self) -> None:
        self.len = c_size_t()
        self.lenp = ctypes.pointer(self.len)
        self.esc_f, self.esc_t = c_char_p(), c_char_p()
        self.esc_fp, self.esc_tp = ctypes.pointer(self.esc_f), ctypes.pointer(self.esc_t)


class _Scratch(_Cells):
    """One thread's reusable C request and the ctypes cells the calls write to."""

    __slots__ = ("req", "dec", "decp", "err", "errp", "out", "outp", "fin", "__weakref__")

    def __init__(self) -> None:
        super().__init__()
        self.req = c_void_p()
        rc = _L.rr_request_new(ctypes.byref(self.req), None)
        if rc:
            raise error_from(rc)
        self.dec = c_void_p()
        self.decp = ctypes.pointer(self.dec)
        self.err = RRError()
        _L.rr_error_init(ctypes.byref(self.err), _lib.RR_ERROR_VERSION)
        self.errp = ctypes.pointer(self.err)
        self.out = c_void_p()  # the rr_outcome rr_run reuses
        self.outp = ctypes.pointer(self.out)
        # Runs once: at close(), when the owning thread's local storage dies, or at exit.
        self.fin = weakref.finalize(self, _free_request, self.req, self.out)

    def fail(self, rc: int, context: str) -> RouteRightError:
        e = error_from(rc, self.err, context)
        self.err.code = 0  # so a later failure that fills nothing is not misreported
        return e


# Decisions whose Python object died wait here for reuse; more than this are freed.
_POOL_MAX = 64


def _options(max_text_bytes: int, regex_match_limit: int, regex_depth_limit: int,
             base_dir: Optional[str]) -> Optional[RouterOptions]:
    if not (max_text_bytes or regex_match_limit or regex_depth_limit or base_dir):
        return None
    o = RouterOptions()
    _L.rr_router_options_init(ctypes.byref(o), _lib.RR_ROUTER_OPTIONS_VERSION)
    o.max_text_bytes = max_text_bytes
    o.regex_match_limit = regex_match_limit
    o.regex_depth_limit = regex_depth_limit
    if base_dir:
        o.base_dir = os.fsencode(base_dir)
    return o


class Router:
    """A compiled policy. Thread-safe: any number of threads may route at once.

    `policy` is a dict, a JSON string (text starting with "{"), JSON bytes, or a path to a
    policy file. Keyword options mirror rr_router_options (0 / None = the default)."""

    def __init__(self, policy: PolicySource, *, max_text_bytes: int = 0,
                 regex_match_limit: int = 0, regex_depth_limit: int = 0,
                 base_dir: Optional[str] = None, _default: bool = False) -> None:
        self._ptr: Optional[int] = None
        # Reentrant: a Decision's __del__ may run (via the GC) while this thread holds it.
        self._lock = threading.RLock()
        self._active = 0
        self._closing = False
        self._destroyed = False
        self._tls = threading.local()
        self._scratches: "weakref.WeakSet[_Scratch]" = weakref.WeakSet()
        self._live: "weakref.WeakSet[Decision]" = weakref.WeakSet()
        self._pool: List[int] = []
        self._keys: Dict[Any, bytes] = {}
        opts = _options(max_text_bytes, regex_match_limit, regex_depth_limit, base_dir)
        optp = ctypes.byref(opts) if opts is not None else None
        err = RRError()
        _L.rr_error_init(ctypes.byref(err), _lib.RR_ERROR_VERSION)
        out = c_void_p()
        if _default:
            rc = _L.rr_router_new_default(ctypes.byref(out), optp, ctypes.byref(err))
        elif isinstance(policy, Mapping):
            text = json.dumps(policy).encode("utf-8")
            rc = _L.rr_router_new(ctypes.byref(out), text, len(text), optp, ctypes.byref(err))
        elif isinstance(policy, bytes) or (isinstance(policy, str) and policy.lstrip()[:1] == "{"):
            text = _utf8(policy, "policy")
            rc = _L.rr_router_new(ctypes.byref(out), text, len(text), optp, ctypes.byref(err))
        elif isinstance(policy, (str, os.PathLike)):
            path = os.fsencode(policy)
            rc = _L.rr_router_new_from_file(ctypes.byref(out), path, optp, ctypes.byref(err))
        else:
            raise TypeError("policy must be a dict, JSON text or a path, not "
                            + type(policy).__name__)
        if rc:
            raise error_from(rc, err, "policy")
        self._ptr = out.value

    @classmethod
    def default(cls, **options: Any) -> "Router":
        """The built-in default policy (the support copilot)."""
        return cls(None, _default=True, **options)  # type: ignore[arg-type]

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Free the router, its pooled decisions and every thread's request. Calls in
        flight on other threads finish first; later calls raise StateError. Decisions
        still referenced keep working: their fields and record are copied out first.
        Idempotent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            if self._active:
                return  # the last call in flight frees
        self._destroy()

    def _destroy(self) -> None:
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
            cells = _Cells()
            try:
                for d in list(self._live):
                    d._materialize(cells)
            finally:
                for p in self._pool:
                    _L.rr_decision_free(p)
                self._pool.clear()
                for sc in list(self._scratches):
                    sc.fin()
                if self._ptr:
                    _L.rr_router_free(self._ptr)
                    self._ptr = None

    @property
    def closed(self) -> bool:
        return self._closing

    def __enter__(self) -> "Router":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_ptr", None):
                self.close()
        except Exception:  # interpreter shutdown: modules may be half torn down
            pass

    def _scratch(self) -> _Scratch:
        try:
            return self._tls.s
        except AttributeError:
            s = self._tls.s = _Scratch()
            self._scratches.add(s)
            return s

    def _enter(self) -> Tuple[int, _Scratch]:
        with self._lock:
            if self._closing:
                raise StateError(-20, "router is closed")
            self._active += 1
        try:
            return self._ptr, self._scratch()  # type: ignore[return-value]
        except BaseException:
            self._leave()
            raise

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            last = self._closing and self._active == 0
        if last:
            self._destroy()

    def _pin(self) -> int:
        """Keep the C router alive for a borrower (an Evaluation) until _unpin()."""
        with self._lock:
            if self._closing:
                raise StateError(-20, "router is closed")
            self._active += 1
            return self._ptr  # type: ignore[return-value]

    def _unpin(self) -> None:
        self._leave()

    def _decision_read(self, dec: Decision, fn: Any, live: bool = False,
                       fallback: Any = None) -> Any:
        """Run fn(c_decision, scratch) while the C decision is certain to exist; a decision
        already copied out by close() is read from its copy through `fallback` (or, when
        `live` is set because only the C object will do, StateError)."""
        with self._lock:
            d = dec._d
            if d is None:  # materialized by _destroy: everything is cached
                if live or fallback is None:
                    raise StateError(-20, "the router of this decision is closed")
                return fallback()
            self._active += 1  # even while closing: the C router lives until we leave
        try:
            return fn(d, self._scratch())
        finally:
            self._leave()

    def _decision_release(self, dec: Decision, d: int) -> None:
        """A Decision object died: keep its C decision for the next route, or free it."""
        with self._lock:
            if dec._d is None:
                return
            dec._d = None
            if self._closing or len(self._pool) >= _POOL_MAX:
                _L.rr_decision_free(d)
            else:
                self._pool.append(d)

    # -- policy information -------------------------------------------------------------

    def _info(self, fn: Any) -> str:
        ptr, _ = self._enter()
        try:
            return _s(fn(ptr))
        finally:
            self._leave()

    @property
    def policy_name(self) -> str:
        return self._info(_L.rr_router_policy_name)

    @property
    def policy_version(self) -> str:
        return self._info(_L.rr_router_policy_version)

    @property
    def fingerprint(self) -> str:
        return self._info(_L.rr_router_fingerprint)

    def report(self) -> Dict[str, Any]:
        """The compiler's report (warnings and escalation ladders), as `rrctl lint` prints."""
        ptr, s = self._enter()
        try:
            p = _L.rr_router_report_json(ptr, s.lenp)
            return json.loads(_lib.string_at(p, s.len.value))
        finally:
            self._leave()

    @staticmethod
    def default_policy() -> Dict[str, Any]:
        """The built-in default policy document."""
        return json.loads(_L.rr_default_policy().decode("utf-8"))

    # -- routing ------------------------------------------------------------------------

    def _key(self, k: Any) -> bytes:
        """Attribute names repeat: encode and check each once per router."""
        kb = self._keys.get(k)
        if kb is None:
            kb = _cstr(k, "attribute name")
            if len(self._keys) < 4096:
                self._keys[k] = kb
        return kb

    def _fill(self, s: _Scratch, text: Union[str, bytes], attrs: Optional[Mapping[str, AttrValue]],
              evidence: Optional[Iterable[Evidence]], conversation_id: Optional[str],
              last_tier: int = 0) -> None:
        # The hot path: exact-type checks first (isinstance against ABCs is slow), and
        # error messages are built only when there is an error.
        L, q = _L, s.req
        L.rr_request_reset(q)
        b = _utf8(text, "text")
        rc = L.rr_request_set_text(q, b, len(b))
        if rc:
            raise error_from(rc, None, "request")
        if attrs:
            for k, v in attrs.items():
                kb = self._key(k)
                t = type(v)
                if t is str:
                    vb = _cstr(v, "attribute value")
                    rc = L.rr_request_set_attr(q, kb, vb)
                elif t is bool:
                    rc = L.rr_request_set_bool(q, kb, 1 if v else 0)
                elif t is float:
                    rc = L.rr_request_set_num(q, kb, v)
                elif t is int:
                    rc = L.rr_request_set_num(q, kb, float(v))
                else:
                    rc = self._set_other(q, k, kb, v)
                if rc:
                    raise RequestError(rc, f"attribute {k!r}: " + L.rr_strerror(rc).decode())
        if evidence:
            for i, e in enumerate(evidence):
                t = type(e)
                if t is tuple:
                    eid, et, sc = e
                elif t is dict or isinstance(e, Mapping):
                    eid, et, sc = e.get("id", ""), e.get("text", ""), e.get("score", 0.0)
                else:
                    eid, et, sc = e
                tb = _utf8(et, "evidence text")
                idb = _utf8(eid, "evidence id")
                if b"\0" in idb:
                    raise RequestError(-1, f"evidence[{i}].id contains a NUL byte")
                rc = L.rr_request_add_evidence(q, idb, tb, len(tb), float(sc))
                if rc:
                    raise RequestError(rc, f"evidence[{i}] ({eid!r}): "
                                       + L.rr_strerror(rc).decode())
        if conversation_id is not None:
            rc = L.rr_request_set_conversation(q, _cstr(conversation_id, "conversation_id"))
            if rc:
                raise error_from(rc, None, "request")
        if last_tier:
            _lib.require("rr_request_set_last_tier")
            rc = L.rr_request_set_last_tier(q, int(last_tier))
            if rc:
                raise RequestError(rc, f"last_tier {last_tier}: " + L.rr_strerror(rc).decode())

    @staticmethod
    def _set_other(q: int, k: Any, kb: bytes, v: Any) -> int:
        """Attribute values of other types: bytes, and subclasses of bool / int / float."""
        if isinstance(v, bool):
            return _L.rr_request_set_bool(q, kb, 1 if v else 0)
        if isinstance(v, (int, float)):
            return _L.rr_request_set_num(q, kb, float(v))
        if isinstance(v, (str, bytes)):
            return _L.rr_request_set_attr(q, kb, _cstr(v, f"attribute {k!r}"))
        raise TypeError(f"attribute {k!r}: must be str, bool, int or float, "
                        f"not {type(v).__name__}")

    def route(self, text: Union[str, bytes], attrs: Optional[Mapping[str, AttrValue]] = None,
              evidence: Optional[Iterable[Evidence]] = None,
              conversation_id: Optional[str] = None, last_tier: int = 0) -> Decision:
        """Route one request. `attrs` maps attribute names to str / bool / number;
        `evidence` is a sequence of (id, text, score) tuples or {"id","text","score"} dicts;
        `last_tier` is the tier the conversation last used (Decision.tier), for policies
        with "sticky_tier". Raises RequestError, LimitError, ... (RouteRightError)."""
        ptr, s = self._enter()
        try:
            self._fill(s, text, attrs, evidence, conversation_id, last_tier)
            return self._route(ptr, s)
        finally:
            self._leave()

    def route_to(self, route_id: str, text: Union[str, bytes],
                 attrs: Optional[Mapping[str, AttrValue]] = None,
                 evidence: Optional[Iterable[Evidence]] = None,
                 conversation_id: Optional[str] = None) -> Decision:
        """Route as usual, then take `route_id` instead of the chosen route (to validate or
        replay a recorded output of a known route). NotFoundError for an unknown route."""
        _lib.require("rr_route_to")
        rid = _cstr(route_id, "route_id")
        ptr, s = self._enter()
        try:
            self._fill(s, text, attrs, evidence, conversation_id)
            return self._route(ptr, s, rid)
        finally:
            self._leave()

    def _route(self, ptr: int, s: _Scratch, route_to: Optional[bytes] = None) -> Decision:
        try:
            s.dec.value = self._pool.pop()  # atomic under the GIL
        except IndexError:
            s.dec.value = None  # rr_route allocates one
        if route_to is None:
            rc = _L.rr_route(ptr, s.req, s.decp, s.errp)
        else:
            rc = _L.rr_route_to(ptr, s.req, route_to, s.decp, s.errp)
        d = s.dec.value
        if rc:
            if d:
                self._pool.append(d)
            raise s.fail(rc, "request")
        return Decision._new(self, d)  # type: ignore[arg-type]

    def route_json(self, request: Union[str, bytes, Mapping[str, Any]]) -> Decision:
        """Route a request given as the JSON object rr_request_from_json reads:
        {"text", "attrs", "evidence", "conversation_id"} (a dict is serialised first)."""
        if isinstance(request, Mapping):
            request = json.dumps(request)
        b = _utf8(request, "request")
        ptr, s = self._enter()
        try:
            rc = _L.rr_request_from_json(s.req, b, len(b), s.errp)
            if rc:
                raise s.fail(rc, "request")
            return self._route(ptr, s)
        finally:
            self._leave()

    def features(self, text: Union[str, bytes], attrs: Optional[Mapping[str, AttrValue]] = None,
                 evidence: Optional[Iterable[Evidence]] = None,
                 conversation_id: Optional[str] = None, spans: bool = False) -> Dict[str, Any]:
        """The features the router extracts from a request (numbers and flags; with
        `spans`, each PII detection's type and byte span, never its value)."""
        ptr, s = self._enter()
        try:
            self._fill(s, text, attrs, evidence, conversation_id)
            p = _L.rr_request_features_json(ptr, s.req, RR_FEATURES_SPANS if spans else 0,
                                            s.lenp, s.errp)
            if not p:
                raise s.fail(s.err.code or -2, "request")
            return json.loads(ctypes.string_at(p, s.len.value).decode("utf-8"))
        finally:
            self._leave()

    # -- validation, escalation, the run loop (when the library has them) ------------------

    def _request_arg(self, s: _Scratch, request: Union[str, bytes, Mapping[str, Any]],
                     attrs: Optional[Mapping[str, AttrValue]],
                     evidence: Optional[Iterable[Evidence]],
                     conversation_id: Optional[str]) -> None:
        if isinstance(request, Mapping):
            unknown = set(request) - {"text", "attrs", "evidence", "conversation_id"}
            if unknown:
                raise RequestError(-4, f"unknown request keys: {sorted(unknown)}")
            self._fill(s, request.get("text", ""), request.get("attrs"),
                       request.get("evidence"), request.get("conversation_id"))
        else:
            self._fill(s, request, attrs, evidence, conversation_id)

    def validate(self, decision: Decision, output: Union[str, bytes], *,
                 request: Union[None, str, bytes, Mapping[str, Any]] = None,
                 attrs: Optional[Mapping[str, AttrValue]] = None,
                 evidence: Optional[Iterable[Evidence]] = None) -> "_run.Verdict":
        """Run the validators of `decision`'s route on a model `output`. `request` (text or
        {"text", "attrs", "evidence"}) supplies the evidence for grounding, attributes for
        semantic checks and PII for leak detection; omit it when the route needs none."""
        _lib.require("rr_validate", "rr_verdict_new")
        if decision._router is not self:
            raise ValueError("the decision was made by another router")
        out = _utf8(output, "output")

        def f(d: int, s: _Scratch) -> "_run.Verdict":
            req = None
            if request is not None:
                self._request_arg(s, request, attrs, evidence, None)
                req = s.req
            v = _run.thread_verdict()
            rc = _L.rr_validate(self._ptr, d, out, len(out), req, v, s.errp)
            if rc:
                raise s.fail(rc, "request")
            return _run.read_verdict(v)
        return self._decision_read(decision, f, True)

    def escalate(self, decision: Decision, failure: str, retriable: bool = False) -> Decision:
        """The next decision after the attempt on `decision` failed with `failure` (one of
        "schema", "semantic", "grounding", "safety", "empty", "refusal", "truncated",
        "low_confidence", "model_error", "tool_error", "timeout"). A terminal decision
        (kind != "model") ends the ladder."""
        _lib.require("rr_escalate")
        if decision._router is not self:
            raise ValueError("the decision was made by another router")
        fb = _cstr(failure, "failure")

        def f(d: int, s: _Scratch) -> Decision:
            try:
                s.dec.value = self._pool.pop()
            except IndexError:
                s.dec.value = None
            rc = _L.rr_escalate(self._ptr, d, fb, 1 if retriable else 0, s.decp, s.errp)
            nxt = s.dec.value
            if rc:
                if nxt:
                    self._pool.append(nxt)
                raise s.fail(rc, "")
            return Decision._new(self, nxt)  # type: ignore[arg-type]
        return self._decision_read(decision, f, True)

    def run(self, request: Union[str, bytes, Mapping[str, Any]],
            call_model: Callable[["_run.ModelCall"], Any],
            call_tool: Optional[Callable[["_run.ToolCall"], Any]] = None,
            on_event: Optional[Callable[[Dict[str, Any]], Any]] = None,
            now_ns: Optional[Callable[[], int]] = None, *,
            attrs: Optional[Mapping[str, AttrValue]] = None,
            evidence: Optional[Iterable[Evidence]] = None,
            conversation_id: Optional[str] = None) -> "_run.Outcome":
        """Route, call the model, validate and escalate until an outcome. `call_model(call)`
        returns the output (str / bytes) or a ModelResult; `call_tool(call)` a str / bytes
        / ToolResult; `on_event(record)` receives each decision, verdict, escalation and
        the outcome as a dict. Exceptions in callbacks never escape into C: see
        routeright.run for how each is reported. Thread-safe: callbacks may run
        concurrently when several threads run on one router."""
        _lib.require("rr_run")
        ptr, s = self._enter()
        try:
            self._request_arg(s, request, attrs, evidence, conversation_id)
            with _run.RunScope(call_model, call_tool, on_event, now_ns) as scope:
                rc = _L.rr_run(ptr, s.req, ctypes.byref(scope.callbacks), s.outp, s.errp)
            scope.raise_for(rc, s.err)
            if rc:
                raise s.fail(rc, "request")
            o = _run.read_outcome(s.out.value)  # type: ignore[arg-type]
            o.callback_errors = scope.run.errors
            return o
        finally:
            self._leave()
