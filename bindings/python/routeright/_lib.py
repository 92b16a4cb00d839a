"""Loading librouteright and declaring the C prototypes (internal).

Functions the header documents as optional for this binding (validators, the run loop,
evaluation) are declared only when the loaded library exports them, so one package works
against an older or newer library and `has()` tells which parts are there.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import List, Optional

__all__ = ["lib", "has", "RRError", "RouterOptions", "load_library", "library_path"]

RR_ERROR_VERSION = 1
RR_ROUTER_OPTIONS_VERSION = 1
RR_SCHEMA_OPTIONS_VERSION = 1
RR_CALLBACKS_VERSION = 1
RR_EVAL_OPTIONS_VERSION = 1
RR_MODEL_RESULT_VERSION = 1


class RRError(Structure):
    """Mirror of `rr_error` in routeright.h, field for field (it only ever grows at the end)."""

    _fields_ = [
        ("version", c_uint32),
        ("code", c_int32),
        ("line", c_uint32),
        ("column", c_uint32),
        ("expr_column", c_uint32),
        ("reserved_", c_uint32),
        ("pointer", c_char * 256),
        ("message", c_char * 512),
        ("reserved", c_uint8 * 64),
    ]


class RouterOptions(Structure):
    """Mirror of `rr_router_options`."""

    _fields_ = [
        ("version", c_uint32),
        ("flags", c_uint32),
        ("allocator", c_void_p),
        ("max_text_bytes", c_uint64),
        ("regex_match_limit", c_uint32),
        ("regex_depth_limit", c_uint32),
        ("base_dir", c_char_p),
        ("max_output_bytes", c_uint64),
    ]


class SchemaOptions(Structure):
    """Mirror of `rr_schema_options`."""

    _fields_ = [
        ("version", c_uint32),
        ("flags", c_uint32),
        ("allocator", c_void_p),
        ("default_draft", c_uint32),
        ("max_depth", c_uint32),
        ("max_instance_bytes", c_uint64),
        ("registry", c_void_p),
    ]


class EvalOptions(Structure):
    """Mirror of `rr_eval_options`."""

    _fields_ = [
        ("version", c_uint32),
        ("flags", c_uint32),
        ("allocator", c_void_p),
        ("acceptable_quality", c_double),
        ("human_quality", c_double),
        ("human_cost_usd", c_double),
        ("human_latency_ms", c_double),
        ("bootstrap", c_uint32),
        ("reserved_", c_uint32),
        ("seed", c_uint64),
    ]


class ModelCallC(Structure):
    """Mirror of `rr_model_call`."""

    _fields_ = [
        ("version", c_uint32),
        ("attempt", c_uint32),
        ("route", c_char_p),
        ("route_version", c_char_p),
        ("model", c_char_p),
        ("prompt", c_char_p),
        ("output_mode", c_char_p),
        ("schema_json", c_char_p),
        ("tools", POINTER(c_char_p)),
        ("ntools", c_size_t),
        ("context_tokens", c_int64),
        ("max_output_tokens", c_int64),
        ("text", c_void_p),
        ("text_len", c_size_t),
        ("previous_failure", c_char_p),
        ("previous_findings", c_char_p),
        ("tool_results", c_char_p),
        ("request", c_void_p),
    ]


class ModelResultC(Structure):
    """Mirror of `rr_model_result`."""

    _fields_ = [
        ("version", c_uint32),
        ("output", c_void_p),
        ("output_len", c_size_t),
        ("input_tokens", c_int64),
        ("output_tokens", c_int64),
        ("latency_ms", c_double),
        ("confidence", c_double),
    ]


class ToolCallC(Structure):
    """Mirror of `rr_tool_call`."""

    _fields_ = [
        ("version", c_uint32),
        ("attempt", c_uint32),
        ("tool", c_char_p),
        ("route", c_char_p),
        ("text", c_void_p),
        ("text_len", c_size_t),
        ("request", c_void_p),
    ]


class ToolResultC(Structure):
    """Mirror of `rr_tool_result`."""

    _fields_ = [
        ("version", c_uint32),
        ("output", c_void_p),
        ("output_len", c_size_t),
        ("latency_ms", c_double),
    ]


CALL_MODEL_FN = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(ModelCallC), POINTER(ModelResultC))
CALL_TOOL_FN = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(ToolCallC), POINTER(ToolResultC))
ON_EVENT_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
NOW_NS_FN = ctypes.CFUNCTYPE(c_uint64, c_void_p)


class CallbacksC(Structure):
    """Mirror of `rr_callbacks`."""

    _fields_ = [
        ("version", c_uint32),
        ("user_data", c_void_p),
        ("call_model", CALL_MODEL_FN),
        ("call_tool", CALL_TOOL_FN),
        ("on_event", ON_EVENT_FN),
        ("now_ns", NOW_NS_FN),
    ]


P = c_void_p
PP = POINTER(c_void_p)
ERR = POINTER(RRError)
SZP = POINTER(c_size_t)
STR = c_char_p

# name: (restype, argtypes). Opaque handles are void pointers.
_CORE = {
    "rr_version_number": (c_uint, []),
    "rr_version": (STR, []),
    "rr_strerror": (STR, [c_int]),
    "rr_error_name": (STR, [c_int]),
    "rr_error_init": (c_int, [ERR, c_uint]),
    "rr_router_options_init": (c_int, [POINTER(RouterOptions), c_uint]),
    "rr_router_new": (c_int, [PP, c_char_p, c_size_t, POINTER(RouterOptions), ERR]),
    "rr_router_new_from_file": (c_int, [PP, c_char_p, POINTER(RouterOptions), ERR]),
    "rr_router_new_default": (c_int, [PP, POINTER(RouterOptions), ERR]),
    "rr_default_policy": (STR, []),
    "rr_router_free": (None, [P]),
    "rr_router_policy_name": (STR, [P]),
    "rr_router_policy_version": (STR, [P]),
    "rr_router_fingerprint": (STR, [P]),
    "rr_router_report_json": (P, [P, SZP]),
    "rr_request_new": (c_int, [PP, P]),
    "rr_request_free": (None, [P]),
    "rr_request_reset": (None, [P]),
    "rr_request_set_text": (c_int, [P, c_char_p, c_size_t]),
    "rr_request_set_attr": (c_int, [P, c_char_p, c_char_p]),
    "rr_request_set_num": (c_int, [P, c_char_p, c_double]),
    "rr_request_set_bool": (c_int, [P, c_char_p, c_int]),
    "rr_request_add_evidence": (c_int, [P, c_char_p, c_char_p, c_size_t, c_double]),
    "rr_request_set_conversation": (c_int, [P, c_char_p]),
    "rr_request_from_json": (c_int, [P, c_char_p, c_size_t, ERR]),
    "rr_route": (c_int, [P, P, PP, ERR]),
    "rr_decision_free": (None, [P]),
    "rr_decision_route": (STR, [P]),
    "rr_decision_route_version": (STR, [P]),
    "rr_decision_kind": (c_int, [P]),
    "rr_decision_model": (STR, [P]),
    "rr_decision_prompt": (STR, [P]),
    "rr_decision_output_mode": (STR, [P]),
    "rr_decision_tool_count": (c_size_t, [P]),
    "rr_decision_tool": (STR, [P, c_size_t]),
    "rr_decision_context_tokens": (c_int64, [P]),
    "rr_decision_validator_count": (c_size_t, [P]),
    "rr_decision_validator": (STR, [P, c_size_t]),
    "rr_decision_escalation_count": (c_size_t, [P]),
    "rr_decision_escalation": (c_int, [P, c_size_t, POINTER(c_char_p), POINTER(c_char_p)]),
    "rr_decision_task": (STR, [P]),
    "rr_decision_rule": (STR, [P]),
    "rr_decision_message": (STR, [P]),
    "rr_decision_reason": (STR, [P]),
    "rr_decision_route_ns": (c_uint64, [P]),
    "rr_decision_json": (P, [P, SZP]),
    "rr_request_features_json": (P, [P, P, c_uint32, SZP, ERR]),
}

# Parts of the API that may or may not be in the loaded library.
_OPTIONAL = {
    "rr_verdict_new": (c_int, [PP, P]),
    "rr_verdict_free": (None, [P]),
    "rr_verdict_reset": (None, [P]),
    "rr_verdict_passed": (c_int, [P]),
    "rr_verdict_failure": (STR, [P]),
    "rr_verdict_finding_count": (c_size_t, [P]),
    "rr_verdict_dropped_findings": (c_size_t, [P]),
    "rr_verdict_finding_code": (STR, [P, c_size_t]),
    "rr_verdict_finding_validator": (STR, [P, c_size_t]),
    "rr_verdict_finding_keyword": (STR, [P, c_size_t]),
    "rr_verdict_finding_instance_location": (STR, [P, c_size_t]),
    "rr_verdict_finding_keyword_location": (STR, [P, c_size_t]),
    "rr_verdict_finding_message": (STR, [P, c_size_t]),
    "rr_verdict_finding_span_start": (c_int64, [P, c_size_t]),
    "rr_verdict_finding_span_end": (c_int64, [P, c_size_t]),
    "rr_verdict_score": (c_double, [P, c_char_p]),
    "rr_verdict_ns": (c_uint64, [P]),
    "rr_verdict_json": (P, [P, SZP]),
    "rr_schema_options_init": (c_int, [POINTER(SchemaOptions), c_uint]),
    "rr_schema_registry_new": (c_int, [PP, P]),
    "rr_schema_registry_add": (c_int, [P, c_char_p, c_char_p, c_size_t, ERR]),
    "rr_schema_registry_free": (None, [P]),
    "rr_schema_new": (c_int, [PP, c_char_p, c_size_t, POINTER(SchemaOptions), ERR]),
    "rr_schema_free": (None, [P]),
    "rr_schema_validate": (c_int, [P, c_char_p, c_size_t, P, ERR]),
    "rr_validate": (c_int, [P, P, c_char_p, c_size_t, P, P, ERR]),
    "rr_decision_add_usage": (c_int, [P, c_int64, c_int64, c_double]),
    "rr_decision_attempt": (c_uint32, [P]),
    "rr_decision_total_cost_usd": (c_double, [P]),
    "rr_decision_total_latency_ms": (c_double, [P]),
    "rr_escalate": (c_int, [P, P, c_char_p, c_int, PP, ERR]),
    "rr_escalate_verdict": (c_int, [P, P, P, PP, ERR]),
    "rr_run": (c_int, [P, P, POINTER(CallbacksC), PP, ERR]),
    "rr_outcome_free": (None, [P]),
    "rr_outcome_kind": (STR, [P]),
    "rr_outcome_text": (P, [P, SZP]),
    "rr_outcome_route": (STR, [P]),
    "rr_outcome_model": (STR, [P]),
    "rr_outcome_reason": (STR, [P]),
    "rr_outcome_attempt_count": (c_size_t, [P]),
    "rr_outcome_attempt_route": (STR, [P, c_size_t]),
    "rr_outcome_attempt_model": (STR, [P, c_size_t]),
    "rr_outcome_attempt_status": (STR, [P, c_size_t]),
    "rr_outcome_attempt_failure": (STR, [P, c_size_t]),
    "rr_outcome_attempt_input_tokens": (c_int64, [P, c_size_t]),
    "rr_outcome_attempt_output_tokens": (c_int64, [P, c_size_t]),
    "rr_outcome_attempt_cost_usd": (c_double, [P, c_size_t]),
    "rr_outcome_attempt_latency_ms": (c_double, [P, c_size_t]),
    "rr_outcome_cost_usd": (c_double, [P]),
    "rr_outcome_latency_ms": (c_double, [P]),
    "rr_outcome_input_tokens": (c_int64, [P]),
    "rr_outcome_output_tokens": (c_int64, [P]),
    "rr_outcome_valid": (c_int, [P]),
    "rr_outcome_json": (P, [P, SZP]),
    "rr_route_to": (c_int, [P, P, c_char_p, PP, ERR]),
    "rr_decision_tier": (c_int, [P]),
    "rr_request_set_last_tier": (c_int, [P, c_int]),
    "rr_eval_options_init": (c_int, [POINTER(EvalOptions), c_uint]),
    "rr_eval_new": (c_int, [PP, P, POINTER(EvalOptions), ERR]),
    "rr_eval_free": (None, [P]),
    "rr_eval_add_line": (c_int, [P, c_char_p, c_size_t, ERR]),
    "rr_eval_add_file": (c_int, [P, c_char_p, ERR]),
    "rr_eval_record_count": (c_uint64, [P]),
    "rr_eval_malformed_count": (c_uint64, [P]),
    "rr_eval_missing_count": (c_uint64, [P]),
    "rr_eval_result_json": (P, [P, SZP]),
    "rr_eval_partial_json": (P, [P, SZP]),
    "rr_eval_merge_json": (c_int, [P, c_char_p, c_size_t, ERR]),
    "rr_eval_report": (P, [P, c_uint32, SZP]),
}

_SONAMES = ["librouteright.so.1", "librouteright.so", "librouteright.dylib"]


def _pkg_config_dirs(tried: List[str]) -> List[str]:
    """Where pkg-config says librouteright is: its -L directories (what a linker would
    use; an uninstalled .pc points there), then its libdir."""
    exe = shutil.which("pkg-config")
    if exe is None:
        tried.append("pkg-config: not installed")
        return []
    dirs: List[str] = []
    for args in (["--libs-only-L"], ["--variable=libdir"]):
        try:
            out = subprocess.run([exe, *args, "routeright"], capture_output=True, text=True,
                                 timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as e:
            tried.append(f"pkg-config: {e}")
            return dirs
        if out.returncode != 0:
            msg = out.stderr.strip().splitlines()[0] if out.stderr.strip() else "failed"
            tried.append(f"pkg-config {args[0]} routeright: {msg}")
            return dirs
        for word in out.stdout.split():
            d = word[2:] if word.startswith("-L") else word
            if d and d not in dirs:
                dirs.append(d)
    if not dirs:
        tried.append("pkg-config: routeright.pc names no library directory")
    return dirs


def _try(path: str, tried: List[str], what: str) -> Optional[ctypes.CDLL]:
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        tried.append(f"{what} {path!r}: {e}")
        return None


def load_library() -> ctypes.CDLL:
    """Find librouteright: $ROUTERIGHT_LIBRARY, then pkg-config's libdir, then the loader."""
    tried: List[str] = []
    env = os.environ.get("ROUTERIGHT_LIBRARY")
    if env:
        found = _try(env, tried, "ROUTERIGHT_LIBRARY=")
        if found is not None:
            return found
        # An explicit setting that does not load is an error, not a hint to look elsewhere.
        raise OSError("routeright: cannot load the library named by ROUTERIGHT_LIBRARY: " + tried[0])
    tried.append("ROUTERIGHT_LIBRARY: not set")
    for libdir in _pkg_config_dirs(tried):
        present = [os.path.join(libdir, n) for n in _SONAMES
                   if os.path.exists(os.path.join(libdir, n))]
        for p in present:
            found = _try(p, tried, "pkg-config")
            if found is not None:
                return found
        if not present:
            tried.append(f"pkg-config directory {libdir!r}: no librouteright.so* there")
    name = ctypes.util.find_library("routeright")
    if name:
        found = _try(name, tried, "ctypes.util.find_library")
        if found is not None:
            return found
    else:
        tried.append("ctypes.util.find_library('routeright'): not found")
    for soname in _SONAMES[:2]:
        found = _try(soname, tried, "system loader")
        if found is not None:
            return found
    raise OSError(
        "routeright: cannot find librouteright. Set ROUTERIGHT_LIBRARY to the path of "
        "librouteright.so, or install the library so pkg-config or the loader finds it. "
        "Tried:\n  " + "\n  ".join(tried)
    )


def _declare(cdll: ctypes.CDLL) -> None:
    for name, (res, args) in _CORE.items():
        fn = getattr(cdll, name)  # a missing core symbol is a broken library: let it raise
        fn.restype = res
        fn.argtypes = args
    for name, (res, args) in _OPTIONAL.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            continue
        fn.restype = res
        fn.argtypes = args


lib = load_library()
_declare(lib)
library_path: str = getattr(lib, "_name", "")


def has(*names: str) -> bool:
    """True when the loaded library exports every one of `names`."""
    for n in names:
        try:
            getattr(lib, n)
        except AttributeError:
            return False
    return True


def require(*names: str) -> None:
    """NotImplementedError naming the first of `names` the loaded library lacks."""
    for n in names:
        if not has(n):
            raise NotImplementedError(
                f"routeright: the loaded library ({library_path}) has no {n}(); "
                "it predates this part of the API")


def string_at(ptr: Optional[int], n: int) -> str:
    return ctypes.string_at(ptr, n).decode("utf-8") if ptr else ""
