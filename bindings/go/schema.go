package routeright

/*
#include <stdlib.h>
#include "rrgo.h"
*/
import "C"

import (
	"sort"
	"sync"
	"unsafe"
)

// JSON Schema drafts for SchemaOptions.DefaultDraft.
const (
	Draft202012 = 202012
	Draft201909 = 201909
	Draft07     = 7
)

// SchemaOptions mirror rr_schema_options; zero fields mean the library's default.
type SchemaOptions struct {
	FormatAssert     bool   // "format" is an assertion, not an annotation
	DefaultDraft     uint32 // dialect when the schema has no "$schema" (2020-12)
	MaxDepth         uint32 // deeper instances fail with EDEPTH (512)
	MaxInstanceBytes uint64 // longer instances fail with ETOOBIG (16 MiB)
	// Registry maps absolute URIs to schema documents that remote "$ref"s may name
	// (there is no network access).
	Registry map[string][]byte
}

// Schema is a compiled JSON Schema, immutable and safe for concurrent use.
type Schema struct {
	mu       sync.RWMutex
	ptr      *C.rr_schema
	poolMu   sync.Mutex
	verdicts []*C.rr_verdict
}

// NewSchema compiles a JSON Schema document.
func NewSchema(schema []byte, opts *SchemaOptions) (*Schema, error) {
	e := (*C.rr_error)(C.calloc(1, C.sizeof_rr_error))
	defer C.free(unsafe.Pointer(e))
	C.rr_error_init(e, C.RR_ERROR_VERSION)
	o := (*C.rr_schema_options)(C.calloc(1, C.sizeof_rr_schema_options))
	defer C.free(unsafe.Pointer(o))
	C.rr_schema_options_init(o, C.RR_SCHEMA_OPTIONS_VERSION)
	if opts != nil {
		if opts.FormatAssert {
			o.flags = C.RR_SCHEMA_FORMAT_ASSERT
		}
		o.default_draft, o.max_depth = C.uint32_t(opts.DefaultDraft), C.uint32_t(opts.MaxDepth)
		o.max_instance_bytes = C.uint64_t(opts.MaxInstanceBytes)
		if len(opts.Registry) > 0 {
			reg, err := newRegistry(opts.Registry, e)
			if err != nil {
				return nil, err
			}
			defer C.rr_schema_registry_free(reg)
			o.registry = reg
		}
	}
	text := C.CBytes(schema)
	defer C.free(text)
	out := (**C.rr_schema)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(out))
	if rc := C.rr_schema_new(out, (*C.char)(text), C.size_t(len(schema)), o, e); rc != 0 {
		return nil, newError(rc, e)
	}
	return &Schema{ptr: *out}, nil
}

func newRegistry(docs map[string][]byte, e *C.rr_error) (*C.rr_schema_registry, error) {
	out := (**C.rr_schema_registry)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(out))
	if rc := C.rr_schema_registry_new(out, nil); rc != 0 {
		return nil, newError(rc, e)
	}
	reg := *out
	uris := make([]string, 0, len(docs))
	for u := range docs {
		uris = append(uris, u)
	}
	sort.Strings(uris) // deterministic error reporting
	for _, u := range uris {
		cu := C.CString(u)
		doc := C.CBytes(docs[u])
		rc := C.rr_schema_registry_add(reg, cu, (*C.char)(doc), C.size_t(len(docs[u])), e)
		C.free(unsafe.Pointer(cu))
		C.free(doc)
		if rc != 0 {
			C.rr_schema_registry_free(reg)
			return nil, newError(rc, e)
		}
	}
	return reg, nil
}

// Validate validates the JSON text instance. Safe for concurrent use.
func (s *Schema) Validate(instance []byte) (Verdict, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ptr == nil {
		return Verdict{}, errorf(ESTATE, "schema is closed")
	}
	v, err := s.takeVerdict()
	if err != nil {
		return Verdict{}, err
	}
	defer s.putVerdict(v)
	e := (*C.rr_error)(C.calloc(1, C.sizeof_rr_error))
	defer C.free(unsafe.Pointer(e))
	C.rr_error_init(e, C.RR_ERROR_VERSION)
	p, n := bytesPtr(instance)
	if rc := C.rr_schema_validate(s.ptr, p, n, v, e); rc != 0 {
		return Verdict{}, newError(rc, e)
	}
	return readVerdict(v)
}

func (s *Schema) takeVerdict() (*C.rr_verdict, error) {
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	if n := len(s.verdicts); n > 0 {
		v := s.verdicts[n-1]
		s.verdicts = s.verdicts[:n-1]
		return v, nil
	}
	out := (**C.rr_verdict)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(out))
	if rc := C.rr_verdict_new(out, nil); rc != 0 {
		return nil, errorf(Code(rc), "cannot allocate a verdict")
	}
	return *out, nil
}

func (s *Schema) putVerdict(v *C.rr_verdict) {
	s.poolMu.Lock()
	s.verdicts = append(s.verdicts, v)
	s.poolMu.Unlock()
}

// Close frees the schema; it waits for validations in flight. Safe to call twice.
func (s *Schema) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr == nil {
		return nil
	}
	for _, v := range s.verdicts {
		C.rr_verdict_free(v)
	}
	s.verdicts = nil
	C.rr_schema_free(s.ptr)
	s.ptr = nil
	return nil
}

// LibraryVersionNumber is major*10000 + minor*100 + patch of the linked C library.
func LibraryVersionNumber() int { return int(C.rr_version_number()) }
