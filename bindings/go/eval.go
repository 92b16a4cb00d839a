package routeright

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "rrgo.h"
*/
import "C"

import (
	"encoding/json"
	"sync"
	"unsafe"
)

// EvalOptions mirror rr_eval_options. Start from DefaultEvalOptions: unlike the router's,
// these defaults are not all zero.
type EvalOptions struct {
	SkipMalformed     bool    // count malformed lines instead of failing AddLine
	NoRevalidate      bool    // use recorded verdicts even when an output is recorded
	AcceptableQuality float64 // an outcome of at least this quality is acceptable (0.5)
	HumanQuality      float64 // credited to human review without a recorded outcome (1)
	HumanCostUSD      float64 // (0)
	HumanLatencyMS    float64 // (0)
	Bootstrap         uint32  // Poisson-bootstrap resamples for confidence intervals (0)
	Seed              uint64  // (1)
}

// DefaultEvalOptions are the library's defaults.
func DefaultEvalOptions() EvalOptions {
	return EvalOptions{AcceptableQuality: 0.5, HumanQuality: 1, Seed: 1}
}

// Evaluation replays recorded traffic through a policy (see rr_eval_* in routeright.h):
// quality, cost, latency, escalation precision/recall, baselines and research metrics,
// with a partial aggregate that merges across shards. Its methods are safe for concurrent
// use (they serialise). While it is open, its Router's Close fails with ESTATE.
type Evaluation struct {
	mu sync.Mutex
	c  *C.rrgo_eval
	r  *Router
}

func enosym(what string) *Error {
	return errorf(ENOTFOUND, "the linked librouteright has no %s (it predates offline evaluation)", what)
}

func (e *Evaluation) check(rc C.int, what string) error {
	switch rc {
	case 0:
		return nil
	case C.RRGO_ENOSYM:
		return enosym(what)
	}
	return newError(rc, &e.c.err)
}

// NewEvaluation creates an evaluation of r (nil: one that only merges partials). opts nil
// means DefaultEvalOptions.
func NewEvaluation(r *Router, opts *EvalOptions) (*Evaluation, error) {
	o := (*C.rr_eval_options)(C.calloc(1, C.sizeof_rr_eval_options))
	defer C.free(unsafe.Pointer(o))
	if rc := C.rrgo_eval_options_init(o); rc == C.RRGO_ENOSYM {
		return nil, enosym("rr_eval_options_init")
	}
	if opts != nil {
		o.flags = 0
		if opts.SkipMalformed {
			o.flags |= C.RR_EVAL_SKIP_MALFORMED
		}
		if opts.NoRevalidate {
			o.flags |= C.RR_EVAL_NO_REVALIDATE
		}
		o.acceptable_quality, o.human_quality = C.double(opts.AcceptableQuality), C.double(opts.HumanQuality)
		o.human_cost_usd, o.human_latency_ms = C.double(opts.HumanCostUSD), C.double(opts.HumanLatencyMS)
		o.bootstrap, o.seed = C.uint32_t(opts.Bootstrap), C.uint64_t(opts.Seed)
	}
	e := &Evaluation{c: (*C.rrgo_eval)(C.calloc(1, C.sizeof_rrgo_eval)), r: r}
	var rp *C.rr_router
	if r != nil {
		r.mu.Lock() // pin under the write lock so Close cannot run between check and pin
		if r.ptr == nil {
			r.mu.Unlock()
			C.free(unsafe.Pointer(e.c))
			return nil, errorf(ESTATE, "router is closed")
		}
		r.pins++
		rp = r.ptr
		r.mu.Unlock()
	}
	if err := e.check(C.rrgo_eval_new(e.c, rp, o), "rr_eval_new"); err != nil {
		e.unpin()
		C.free(unsafe.Pointer(e.c))
		return nil, err
	}
	return e, nil
}

func (e *Evaluation) unpin() {
	if e.r != nil {
		e.r.mu.Lock()
		e.r.pins--
		e.r.mu.Unlock()
		e.r = nil
	}
}

func (e *Evaluation) open() error {
	if e.c == nil {
		return errorf(ESTATE, "evaluation is closed")
	}
	return nil
}

// AddLine replays one JSONL record (without its newline).
func (e *Evaluation) AddLine(line []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return err
	}
	p, n := bytesPtr(line)
	return e.check(C.rrgo_eval_add_line(e.c, p, n), "rr_eval_add_line")
}

// AddFile replays every line of a JSONL file, streaming.
func (e *Evaluation) AddFile(path string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return err
	}
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	return e.check(C.rrgo_eval_add_file(e.c, p), "rr_eval_add_file")
}

// Counts: records replayed into the metrics, malformed lines, records missing an outcome.
func (e *Evaluation) Counts() (records, malformed, missing uint64, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return 0, 0, 0, err
	}
	var r, m, x C.uint64_t
	err = e.check(C.rrgo_eval_counts(e.c, &r, &m, &x), "rr_eval_record_count")
	return uint64(r), uint64(m), uint64(x), err
}

func (e *Evaluation) text(which C.int, name string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return nil, err
	}
	if C.rrgo_eval_has(which) == 0 {
		return nil, enosym(name)
	}
	p := C.rrgo_eval_text(e.c, which)
	if p == nil {
		return nil, errorf(ESTATE, "%s returned nothing (out of memory, or no record replayed)", name)
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(e.c.len)), nil
}

// Result is the metrics as JSON (see rr_eval_result_json).
func (e *Evaluation) Result() (json.RawMessage, error) { return e.text(0, "rr_eval_result_json") }

// Partial is the mergeable aggregate, for Merge in a reduce step.
func (e *Evaluation) Partial() (json.RawMessage, error) { return e.text(1, "rr_eval_partial_json") }

// Report is a self-contained HTML page, or with svg one SVG image, a person can read.
func (e *Evaluation) Report(svg bool) ([]byte, error) {
	if svg {
		return e.text(3, "rr_eval_report")
	}
	return e.text(2, "rr_eval_report")
}

// Merge adds a partial (from Partial of another evaluation of the same policy).
func (e *Evaluation) Merge(partial []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return err
	}
	p, n := bytesPtr(partial)
	return e.check(C.rrgo_eval_merge(e.c, p, n), "rr_eval_merge_json")
}

// Close frees the evaluation and releases its router. Safe to call more than once.
func (e *Evaluation) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c == nil {
		return nil
	}
	C.rrgo_eval_free(e.c)
	C.free(unsafe.Pointer(e.c))
	e.c = nil
	e.unpin()
	return nil
}
