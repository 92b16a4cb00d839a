package routeright

/*
#include "rrgo.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// Finding is one thing a validator found in an output.
type Finding struct {
	Code             string `json:"code"`
	Validator        string `json:"validator"`
	Keyword          string `json:"keyword"`
	InstanceLocation string `json:"instanceLocation"`
	KeywordLocation  string `json:"keywordLocation"`
	Message          string `json:"message"`
	Span             []int  `json:"span"` // [start, end) byte offsets, or nil
}

// Verdict is what the validators of a route found in one output (copied out of C).
type Verdict struct {
	Passed          bool               `json:"passed"`
	Failure         string             `json:"failure"` // "" when passed, else the failure type
	Findings        []Finding          `json:"findings"`
	FindingsDropped int                `json:"findings_dropped"`
	Scores          map[string]float64 `json:"scores"`
	NS              uint64             `json:"ns"`
	Record          json.RawMessage    `json:"-"` // the verdict's JSON record as C built it
}

// Validate routes req and runs the validators of the decided route on the model output,
// with req's evidence (grounding), attributes (semantic checks) and PII (leak checks).
// It returns the verdict and the decision it validated against. Safe for concurrent use.
func (r *Router) Validate(req Request, output string) (Verdict, Decision, error) {
	s, err := r.acquire()
	if err != nil {
		return Verdict{}, Decision{}, err
	}
	defer r.release(s)
	if err := s.fill(&req); err != nil {
		return Verdict{}, Decision{}, err
	}
	if rc := C.rr_route(r.ptr, s.c.req, &s.c.dec, &s.c.err); rc != 0 {
		return Verdict{}, Decision{}, newError(rc, &s.c.err)
	}
	v := C.rrgo_verdict(s.c)
	if v == nil {
		return Verdict{}, Decision{}, errorf(ENOMEM, "cannot allocate a verdict")
	}
	p, n := strPtr(output)
	if rc := C.rr_validate(r.ptr, s.c.dec, p, n, s.c.req, v, &s.c.err); rc != 0 {
		return Verdict{}, Decision{}, newError(rc, &s.c.err)
	}
	out, err := readVerdict(v)
	return out, s.decision(!r.noRecord), err
}

func readVerdict(v *C.rr_verdict) (Verdict, error) {
	var n C.size_t
	p := C.rr_verdict_json(v, &n)
	if p == nil {
		return Verdict{}, errorf(ENOMEM, "cannot build the verdict record")
	}
	out := Verdict{Record: C.GoBytes(unsafe.Pointer(p), C.int(n))}
	if err := json.Unmarshal(out.Record, &out); err != nil {
		return Verdict{}, errorf(EINVAL, "verdict record: %v", err)
	}
	return out, nil
}
