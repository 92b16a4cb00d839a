"""JSON Schema validation on its own (rr_schema_*): compile once, validate many outputs."""
from __future__ import annotations

import ctypes
import json
import threading
from ctypes import c_void_p
from typing import Any, Mapping, Optional, Union

from . import _lib
from ._lib import RRError, SchemaOptions, lib as _L
from .errors import StateError, error_from
from .run import Verdict, read_verdict, thread_verdict

__all__ = ["Schema", "DRAFT_2020_12", "DRAFT_2019_09", "DRAFT_07"]

DRAFT_2020_12, DRAFT_2019_09, DRAFT_07 = 202012, 201909, 7
RR_SCHEMA_FORMAT_ASSERT = 1


class Schema:
    """A compiled JSON Schema, immutable and shareable between threads. `schema` is a dict
    or JSON text; `format_assert` makes "format" an assertion; `default_draft` applies when
    the schema has no "$schema"; `registry` maps absolute URIs to the documents remote
    "$ref"s may name (there is no network access)."""

    def __init__(self, schema: Union[str, bytes, Mapping[str, Any], bool], *,
                 format_assert: bool = False, default_draft: int = 0, max_depth: int = 0,
                 max_instance_bytes: int = 0,
                 registry: Optional[Mapping[str, Union[str, bytes, Mapping[str, Any]]]] = None
                 ) -> None:
        _lib.require("rr_schema_new", "rr_verdict_new")
        self._ptr: Optional[int] = None
        self._lock = threading.RLock()
        self._active = 0
        self._closing = False
        if isinstance(schema, (bytes, str)):
            text = schema.encode("utf-8") if isinstance(schema, str) else schema
        else:
            text = json.dumps(schema).encode("utf-8")
        o = SchemaOptions()
        _L.rr_schema_options_init(ctypes.byref(o), _lib.RR_SCHEMA_OPTIONS_VERSION)
        o.flags = RR_SCHEMA_FORMAT_ASSERT if format_assert else 0
        o.default_draft, o.max_depth, o.max_instance_bytes = default_draft, max_depth, max_instance_bytes
        err = RRError()
        _L.rr_error_init(ctypes.byref(err), _lib.RR_ERROR_VERSION)
        reg = c_void_p()
        try:
            if registry:
                rc = _L.rr_schema_registry_new(ctypes.byref(reg), None)
                if rc:
                    raise error_from(rc)
                for uri in sorted(registry):
                    doc = registry[uri]
                    d = (doc.encode("utf-8") if isinstance(doc, str) else doc
                         if isinstance(doc, bytes) else json.dumps(doc).encode("utf-8"))
                    rc = _L.rr_schema_registry_add(reg, uri.encode("utf-8"), d, len(d),
                                                   ctypes.byref(err))
                    if rc:
                        raise error_from(rc, err, "schema")
                o.registry = reg.value
            out = c_void_p()
            rc = _L.rr_schema_new(ctypes.byref(out), text, len(text), ctypes.byref(o),
                                  ctypes.byref(err))
            if rc:
                raise error_from(rc, err, "schema")
        finally:
            _L.rr_schema_registry_free(reg)  # the compiled schema no longer needs it
        self._ptr = out.value

    def validate(self, instance: Union[str, bytes, Any]) -> Verdict:
        """Validate JSON text (str / bytes), or any other value serialised with json.dumps."""
        if isinstance(instance, str):
            b = instance.encode("utf-8")
        elif isinstance(instance, bytes):
            b = instance
        else:
            b = json.dumps(instance).encode("utf-8")
        with self._lock:
            if self._closing:
                raise StateError(-20, "schema is closed")
            self._active += 1
        try:
            err = RRError()
            _L.rr_error_init(ctypes.byref(err), _lib.RR_ERROR_VERSION)
            v = thread_verdict()
            rc = _L.rr_schema_validate(self._ptr, b, len(b), v, ctypes.byref(err))
            if rc:
                raise error_from(rc, err, "request")
            return read_verdict(v)
        finally:
            with self._lock:
                self._active -= 1
                last = self._closing and self._active == 0
            if last:
                self._free()

    def close(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            if self._active:
                return
        self._free()

    def _free(self) -> None:
        with self._lock:
            if self._ptr:
                _L.rr_schema_free(self._ptr)
                self._ptr = None

    def __enter__(self) -> "Schema":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_ptr", None):
                self.close()
        except Exception:
            pass
