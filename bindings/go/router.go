// Package routeright is the Go binding of librouteright: layered routing, validation and
// escalation for LLM services. It links the C library through pkg-config (routeright.pc).
//
// A *Router is safe for concurrent use by any number of goroutines: each call borrows its
// own C request and decision from a per-router free list and returns them afterwards, so
// after warm-up routing allocates nothing in C. Errors are *Error values (use errors.As);
// the C library has no thread-local state, so nothing depends on which OS thread a
// goroutine runs on.
package routeright

/*
#cgo pkg-config: routeright
#include <stdlib.h>
#include "rrgo.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// Kind says what a decided route does.
type Kind int

// Route kinds (rr_route_kind).
const (
	KindModel   Kind = 0 // call a model
	KindHuman   Kind = 1 // hand to human review
	KindClarify Kind = 2 // ask the user a clarifying question
	KindDefer   Kind = 3 // answer later / out of band
	KindRefuse  Kind = 4 // refuse safely
)

var kindNames = [...]string{"model", "human", "clarify", "defer", "refuse"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText writes the kind's name, as the decision record does.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Evidence is one retrieved passage: its id, text and the retriever's score.
type Evidence struct {
	ID    string  `json:"id"`
	Text  string  `json:"text"`
	Score float64 `json:"score"`
}

// Request is what is routed. Attrs values may be string, bool or any Go number type (and
// json.Number); the JSON tags match what rr_request_from_json reads.
type Request struct {
	Text           string         `json:"text"`
	Attrs          map[string]any `json:"attrs,omitempty"`
	Evidence       []Evidence     `json:"evidence,omitempty"`
	ConversationID string         `json:"conversation_id,omitempty"`
	// LastTier is the model tier the conversation last used (Decision.Tier of its previous
	// request; 0 = unknown), for policies with "sticky_tier".
	LastTier int `json:"-"`
}

// Decision is one routing decision, copied out of C: it stays valid after the router is
// used again or closed. Record is the decision's JSON record, byte for byte as C built it.
type Decision struct {
	Route         string            `json:"route"`
	RouteVersion  string            `json:"route_version"`
	Kind          Kind              `json:"kind"`
	Model         string            `json:"model"`
	Prompt        string            `json:"prompt"`
	OutputMode    string            `json:"output_mode"`
	Tools         []string          `json:"tools"`
	ContextTokens int64             `json:"context_tokens"`
	Validators    []string          `json:"validators"`
	Escalation    map[string]string `json:"escalation"`
	Task          string            `json:"task"`
	Rule          string            `json:"rule"`
	Message       string            `json:"message"`
	Reason        string            `json:"reason"`
	RouteNS       uint64            `json:"route_ns"`
	Tier          int               `json:"tier"` // the model's tier, 0 for terminal routes
	Record        json.RawMessage   `json:"record"`
}

// Options mirror rr_router_options; zero fields mean the library's default.
type Options struct {
	MaxTextBytes    uint64 // requests with longer text fail with ETOOBIG (default 1 MiB)
	RegexMatchLimit uint32 // PCRE2 match limit for pattern sets (default 100000)
	RegexDepthLimit uint32 // PCRE2 depth limit (default 10000)
	BaseDir         string // where relative file names in the policy resolve
	MaxOutputBytes  uint64 // Validate rejects longer outputs with ETOOBIG (default 16 MiB)
	// SkipRecord leaves Decision.Record nil: building the JSON record is the costliest
	// part of a decision, so a hot path that logs no record can skip it.
	SkipRecord bool
}

// Router is a compiled, immutable policy. Close it when done (a finalizer is only a
// backstop). Close waits for calls in flight; calls after Close return an ESTATE error.
type Router struct {
	mu       sync.RWMutex // read-held by every call, write-held by Close
	ptr      *C.rr_router
	noRecord bool
	pins     int // open Evaluations borrowing ptr (guarded by mu)
	poolMu   sync.Mutex
	free     []*scratch
}

// scratch is one in-flight call's C state.
type scratch struct {
	c *C.rrgo_scratch
}

// New compiles the policy JSON document `policy`.
func New(policy []byte, opts ...Options) (*Router, error) {
	return build(func(out **C.rr_router, o *C.rr_router_options, e *C.rr_error) C.int {
		if len(policy) == 0 {
			return C.rr_router_new(out, nil, 0, o, e)
		}
		p := C.CBytes(policy)
		defer C.free(p)
		return C.rr_router_new(out, (*C.char)(p), C.size_t(len(policy)), o, e)
	}, opts)
}

// NewFromFile compiles the policy in the file at path (relative names in it resolve
// against the file's directory unless Options.BaseDir says otherwise).
func NewFromFile(path string, opts ...Options) (*Router, error) {
	return build(func(out **C.rr_router, o *C.rr_router_options, e *C.rr_error) C.int {
		p := C.CString(path)
		defer C.free(unsafe.Pointer(p))
		return C.rr_router_new_from_file(out, p, o, e)
	}, opts)
}

// NewDefault builds the built-in default policy (the support copilot).
func NewDefault(opts ...Options) (*Router, error) {
	return build(func(out **C.rr_router, o *C.rr_router_options, e *C.rr_error) C.int {
		return C.rr_router_new_default(out, o, e)
	}, opts)
}

// DefaultPolicy is the built-in default policy's JSON text.
func DefaultPolicy() []byte { return []byte(C.GoString(C.rr_default_policy())) }

// LibraryVersion is the version string of the linked C library, e.g. "1.0.0".
func LibraryVersion() string { return C.GoString(C.rr_version()) }

type buildFn func(**C.rr_router, *C.rr_router_options, *C.rr_error) C.int

func build(fn buildFn, opts []Options) (*Router, error) {
	// C memory for everything C writes, so no Go pointer is handed over.
	e := (*C.rr_error)(C.calloc(1, C.sizeof_rr_error))
	o := (*C.rr_router_options)(C.calloc(1, C.sizeof_rr_router_options))
	out := (**C.rr_router)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(e))
	defer C.free(unsafe.Pointer(o))
	defer C.free(unsafe.Pointer(out))
	C.rr_error_init(e, C.RR_ERROR_VERSION)
	var optp *C.rr_router_options
	if len(opts) > 0 {
		C.rr_router_options_init(o, C.RR_ROUTER_OPTIONS_VERSION)
		op := opts[0]
		o.max_text_bytes = C.uint64_t(op.MaxTextBytes)
		o.regex_match_limit = C.uint32_t(op.RegexMatchLimit)
		o.regex_depth_limit = C.uint32_t(op.RegexDepthLimit)
		o.max_output_bytes = C.uint64_t(op.MaxOutputBytes)
		if op.BaseDir != "" {
			o.base_dir = C.CString(op.BaseDir)
			defer C.free(unsafe.Pointer(o.base_dir))
		}
		optp = o
	}
	if rc := fn(out, optp, e); rc != 0 {
		return nil, newError(rc, e)
	}
	r := &Router{ptr: *out, noRecord: len(opts) > 0 && opts[0].SkipRecord}
	runtime.SetFinalizer(r, (*Router).Close)
	return r, nil
}

// Close frees the router and every C request and decision it keeps. It waits for calls
// in flight, and fails with ESTATE while an Evaluation of the router is open. Safe to
// call more than once.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return nil
	}
	if r.pins > 0 {
		return errorf(ESTATE, "router has %d open evaluations: close them first", r.pins)
	}
	r.poolMu.Lock()
	for _, s := range r.free {
		C.rrgo_scratch_free(s.c)
	}
	r.free = nil
	r.poolMu.Unlock()
	C.rr_router_free(r.ptr)
	r.ptr = nil
	runtime.SetFinalizer(r, nil)
	return nil
}

// acquire read-locks the router and lends a scratch; release undoes both.
func (r *Router) acquire() (*scratch, error) {
	r.mu.RLock()
	if r.ptr == nil {
		r.mu.RUnlock()
		return nil, errorf(ESTATE, "router is closed")
	}
	r.poolMu.Lock()
	if n := len(r.free); n > 0 {
		s := r.free[n-1]
		r.free = r.free[:n-1]
		r.poolMu.Unlock()
		return s, nil
	}
	r.poolMu.Unlock()
	c := C.rrgo_scratch_new()
	if c == nil {
		r.mu.RUnlock()
		return nil, errorf(ENOMEM, "cannot allocate a request")
	}
	return &scratch{c: c}, nil
}

func (r *Router) release(s *scratch) {
	r.poolMu.Lock()
	r.free = append(r.free, s)
	r.poolMu.Unlock()
	r.mu.RUnlock()
}

// PolicyName, PolicyVersion and Fingerprint describe the compiled policy.
func (r *Router) PolicyName() string {
	return r.info(func(p *C.rr_router) *C.char { return C.rr_router_policy_name(p) })
}

// PolicyVersion is the policy's "version".
func (r *Router) PolicyVersion() string {
	return r.info(func(p *C.rr_router) *C.char { return C.rr_router_policy_version(p) })
}

// Fingerprint is xxh3-64 of the policy's canonical form, as 16 hex digits.
func (r *Router) Fingerprint() string {
	return r.info(func(p *C.rr_router) *C.char { return C.rr_router_fingerprint(p) })
}

func (r *Router) info(fn func(*C.rr_router) *C.char) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return ""
	}
	return C.GoString(fn(r.ptr))
}

// Report is the compiler's report (warnings and escalation ladders) as JSON.
func (r *Router) Report() json.RawMessage {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return nil
	}
	var n C.size_t
	p := C.rr_router_report_json(r.ptr, (*C.size_t)(unsafe.Pointer(&n)))
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// Route decides the route of one request. Safe for concurrent use.
func (r *Router) Route(req Request) (Decision, error) {
	s, err := r.acquire()
	if err != nil {
		return Decision{}, err
	}
	defer r.release(s)
	if err := s.fill(&req); err != nil {
		return Decision{}, err
	}
	if rc := C.rr_route(r.ptr, s.c.req, &s.c.dec, &s.c.err); rc != 0 {
		return Decision{}, newError(rc, &s.c.err)
	}
	return s.decision(!r.noRecord), nil
}

// RouteTo routes req as usual, then takes routeID instead of the chosen route (to validate
// or replay a recorded output of a known route); the reason line records what the policy
// would have chosen. An unknown route is an ENOTFOUND error.
func (r *Router) RouteTo(req Request, routeID string) (Decision, error) {
	if err := noNUL("route id", routeID); err != nil {
		return Decision{}, err
	}
	s, err := r.acquire()
	if err != nil {
		return Decision{}, err
	}
	defer r.release(s)
	if err := s.fill(&req); err != nil {
		return Decision{}, err
	}
	id := C.CString(routeID)
	defer C.free(unsafe.Pointer(id))
	if rc := C.rr_route_to(r.ptr, s.c.req, id, &s.c.dec, &s.c.err); rc != 0 {
		return Decision{}, newError(rc, &s.c.err)
	}
	return s.decision(!r.noRecord), nil
}

// RouteJSON routes a request given as the JSON object rr_request_from_json reads
// ({"text", "attrs", "evidence", "conversation_id"}), parsed by the C library.
func (r *Router) RouteJSON(request []byte) (Decision, error) {
	s, err := r.acquire()
	if err != nil {
		return Decision{}, err
	}
	defer r.release(s)
	p, n := bytesPtr(request)
	if rc := C.rr_request_from_json(s.c.req, p, n, &s.c.err); rc != 0 {
		return Decision{}, newError(rc, &s.c.err)
	}
	if rc := C.rr_route(r.ptr, s.c.req, &s.c.dec, &s.c.err); rc != 0 {
		return Decision{}, newError(rc, &s.c.err)
	}
	return s.decision(!r.noRecord), nil
}

// Features returns the features the router extracts from req as a JSON object (numbers
// and flags only; with spans, each PII detection's type and byte span, never its value).
func (r *Router) Features(req Request, spans bool) (json.RawMessage, error) {
	s, err := r.acquire()
	if err != nil {
		return nil, err
	}
	defer r.release(s)
	if err := s.fill(&req); err != nil {
		return nil, err
	}
	var flags C.uint32_t
	if spans {
		flags = C.RR_FEATURES_SPANS
	}
	p := C.rr_request_features_json(r.ptr, s.c.req, flags, &s.c.len, &s.c.err)
	if p == nil {
		return nil, newError(s.c.err.code, &s.c.err)
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(s.c.len)), nil
}

// strPtr points C at a Go string's bytes for the duration of one call (C copies them).
// The empty string gets a pointer to a static NUL so C never sees NULL text.
func strPtr(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return (*C.char)(unsafe.Pointer(&emptyByte[0])), 0
	}
	h := (*reflect.StringHeader)(unsafe.Pointer(&s))
	return (*C.char)(unsafe.Pointer(h.Data)), C.size_t(len(s))
}

func bytesPtr(b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return (*C.char)(unsafe.Pointer(&emptyByte[0])), 0
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

var emptyByte = [1]byte{0}

func noNUL(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return errorf(EINVAL, "%s contains a NUL byte", what)
	}
	return nil
}

func (s *scratch) fill(req *Request) error {
	c := s.c
	C.rr_request_reset(c.req)
	p, n := strPtr(req.Text)
	if rc := C.rr_request_set_text(c.req, p, n); rc != 0 {
		return errorf(Code(rc), "text: %s", Code(rc).String())
	}
	if len(req.Attrs) > 0 {
		if err := s.setAttrs(req.Attrs); err != nil {
			return err
		}
	}
	for i := range req.Evidence {
		ev := &req.Evidence[i]
		if err := noNUL("evidence id", ev.ID); err != nil {
			return err
		}
		ip, il := strPtr(ev.ID)
		tp, tl := strPtr(ev.Text)
		if rc := C.rrgo_add_evidence(c, ip, il, tp, tl, C.double(ev.Score)); rc != 0 {
			return errorf(Code(rc), "evidence[%d] (%q): %s", i, ev.ID, Code(rc).String())
		}
	}
	if req.LastTier != 0 {
		if rc := C.rr_request_set_last_tier(c.req, C.int(req.LastTier)); rc != 0 {
			return errorf(Code(rc), "last tier %d: %s", req.LastTier, Code(rc).String())
		}
	}
	if req.ConversationID != "" {
		if err := noNUL("conversation id", req.ConversationID); err != nil {
			return err
		}
		cp, cl := strPtr(req.ConversationID)
		if rc := C.rrgo_set_conversation(c, cp, cl); rc != 0 {
			return errorf(Code(rc), "conversation id: %s", Code(rc).String())
		}
	}
	return nil
}

// setAttrs sets attributes in sorted key order, so the same request always builds the
// same C request whatever Go's map order.
func (s *scratch) setAttrs(attrs map[string]any) error {
	var stack [16]string
	keys := stack[:0]
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := s.setAttr(k, attrs[k]); err != nil {
			return err
		}
	}
	return nil
}

func (s *scratch) setAttr(k string, v any) error {
	if err := noNUL("attribute name", k); err != nil {
		return err
	}
	kp, kl := strPtr(k)
	var rc C.int
	switch x := v.(type) {
	case string:
		if err := noNUL("attribute "+k, x); err != nil {
			return err
		}
		vp, vl := strPtr(x)
		rc = C.rrgo_set_attr(s.c, kp, kl, vp, vl)
	case bool:
		b := C.int(0)
		if x {
			b = 1
		}
		rc = C.rrgo_set_bool(s.c, kp, kl, b)
	default:
		f, ok := toFloat(v)
		if !ok {
			return errorf(EINVAL, "attribute %q: %T is not a string, bool or number", k, v)
		}
		rc = C.rrgo_set_num(s.c, kp, kl, C.double(f))
	}
	if rc != 0 {
		return errorf(Code(rc), "attribute %q: %s", k, Code(rc).String())
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

// decision copies the C decision into Go values in one cgo call for the scalars and one
// for the lists.
func (s *scratch) decision(record bool) Decision {
	d, v := s.c.dec, &s.c.view
	C.rrgo_view_fill(d, v, b2i(record))
	out := Decision{
		Route:         C.GoString(v.route),
		RouteVersion:  C.GoString(v.route_version),
		Kind:          Kind(v.kind),
		Model:         C.GoString(v.model),
		Prompt:        C.GoString(v.prompt),
		OutputMode:    C.GoString(v.output_mode),
		ContextTokens: int64(v.context_tokens),
		Task:          C.GoString(v.task),
		Rule:          C.GoString(v.rule),
		Message:       C.GoString(v.message),
		Reason:        C.GoString(v.reason),
		RouteNS:       uint64(v.route_ns),
		Tier:          int(v.tier),
	}
	if v.json != nil {
		out.Record = C.GoBytes(unsafe.Pointer(v.json), C.int(v.json_len))
	}
	nt, nv, ne := int(v.ntools), int(v.nvalidators), int(v.nesc)
	total := nt + nv + 2*ne
	if total == 0 {
		return out
	}
	arr := C.rrgo_view_lists(s.c)
	if arr == nil {
		return out // out of memory: the lists stay empty; Record still has them
	}
	list := unsafe.Slice(arr, total)
	if nt > 0 {
		out.Tools = make([]string, nt)
		for i := 0; i < nt; i++ {
			out.Tools[i] = C.GoString(list[i])
		}
	}
	if nv > 0 {
		out.Validators = make([]string, nv)
		for i := 0; i < nv; i++ {
			out.Validators[i] = C.GoString(list[nt+i])
		}
	}
	if ne > 0 {
		out.Escalation = make(map[string]string, ne)
		for i := 0; i < ne; i++ {
			out.Escalation[C.GoString(list[nt+nv+2*i])] = C.GoString(list[nt+nv+2*i+1])
		}
	}
	return out
}
