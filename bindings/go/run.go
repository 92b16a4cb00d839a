package routeright

/*
#include <stdlib.h>
#include "rrgo.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// ModelCall is what Callbacks.CallModel receives: the route to call and its contract.
type ModelCall struct {
	Attempt          int             // 1-based attempt number on the escalation ladder
	Route            string          // route id
	RouteVersion     string          //
	Model            string          // model id from the policy
	Prompt           string          // prompt variant
	OutputMode       string          // "text", "json" or "constrained"
	Schema           string          // JSON Schema to enforce for json/constrained, else ""
	Tools            []string        //
	ContextTokens    int64           // context budget
	MaxOutputTokens  int64           //
	Text             string          // the request text
	PreviousFailure  string          // "" on the first attempt
	PreviousFindings json.RawMessage // the failed verdict's findings (a JSON array)
	ToolResults      json.RawMessage // {tool: output} from CallTool (a JSON object)
}

// ModelResult is what CallModel returns. Use Unknown (-1) for token counts the model did
// not report (they are then estimated), a negative LatencyMS to have it measured, and a
// negative Confidence when the model gives none.
type ModelResult struct {
	Output       string
	InputTokens  int64
	OutputTokens int64
	LatencyMS    float64
	Confidence   float64
}

// Unknown marks a token count, latency or confidence as not known.
const Unknown = -1

// Output is a ModelResult with the output only: every other field unknown.
func Output(text string) ModelResult {
	return ModelResult{Output: text, InputTokens: Unknown, OutputTokens: Unknown, LatencyMS: Unknown, Confidence: Unknown}
}

// ToolCall is what Callbacks.CallTool receives.
type ToolCall struct {
	Attempt int
	Tool    string
	Route   string
	Text    string
}

// ToolResult is what CallTool returns; a negative LatencyMS has it measured.
type ToolResult struct {
	Output    string
	LatencyMS float64
}

// Errors a callback returns to say how its call failed (wrap them with %w). Any other
// error, and a panic, is a permanent failure: the attempt fails with model_error (or
// tool_error) and the run goes on up the escalation ladder.
var (
	ErrRetriable   = errors.New("routeright: transient call failure") // the route may retry
	ErrCallTimeout = errors.New("routeright: call timed out")         // failure "timeout"
	// ErrAbort (an *Error with code EABORT) stops the run: Run returns an EABORT error.
)

// Callbacks are the host's side of a run. CallModel is required. They run on the
// goroutine that called Run, and concurrently when several goroutines run at once.
type Callbacks struct {
	CallModel func(ctx context.Context, call ModelCall) (ModelResult, error)
	CallTool  func(ctx context.Context, call ToolCall) (ToolResult, error)
	// OnEvent receives each decision, verdict, escalation and the outcome as a JSON
	// record (valid during the call only). A non-nil error stops the run.
	OnEvent func(event []byte) error
	// NowNS replaces the monotonic clock (for deterministic tests).
	NowNS func() uint64
}

// Attempt is one model call of a run.
type Attempt struct {
	Route        string  `json:"route"`
	Model        string  `json:"model"`
	Status       string  `json:"status"`  // "ok", "retriable", "error", "timeout"
	Failure      string  `json:"failure"` // "" when it passed
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	LatencyMS    float64 `json:"latency_ms"`
}

// CallbackFailure is an error (or recovered panic) of a host callback, and where it was.
type CallbackFailure struct {
	Callback string // "call_model", "call_tool", "on_event"
	Attempt  int
	Route    string
	Err      error
}

// Outcome is the result of a run.
type Outcome struct {
	Kind           string // "answer", "clarify", "defer", "human_review", "safe_failure"
	Text           string
	Route          string
	Model          string
	Reason         string
	Valid          bool
	CostUSD        float64
	LatencyMS      float64
	InputTokens    int64
	OutputTokens   int64
	Attempts       []Attempt
	Trace          json.RawMessage // the whole trace as C built it
	CallbackErrors []CallbackFailure
}

type runState struct {
	ctx     context.Context
	cb      *Callbacks
	sc      *C.rrgo_scratch // C memory: holds the output buffers
	errs    []CallbackFailure
	abort   error // why the run was stopped from Go
	attempt int
	route   string
}

func (rs *runState) fail(cb string, err error) C.int {
	rs.errs = append(rs.errs, CallbackFailure{cb, rs.attempt, rs.route, err})
	var e *Error
	switch {
	case errors.As(err, &e) && e.Code == EABORT:
		rs.abort = err
		return C.RR_CALL_ABORT
	case rs.ctx.Err() != nil:
		rs.abort = rs.ctx.Err()
		return C.RR_CALL_ABORT
	case errors.Is(err, ErrRetriable):
		return C.RR_CALL_RETRIABLE
	case errors.Is(err, ErrCallTimeout), errors.Is(err, context.DeadlineExceeded):
		return C.RR_CALL_TIMEOUT
	}
	return C.RR_CALL_ERROR
}

// cancelled is checked before every callback: cancellation takes effect between attempts.
func (rs *runState) cancelled() bool {
	if err := rs.ctx.Err(); err != nil {
		rs.abort = err
		return true
	}
	return false
}

func recovered(p any) error { return fmt.Errorf("routeright: callback panicked: %v", p) }

func copyOut(buf **C.char, capacity *C.size_t, s string) (*C.char, C.size_t, bool) {
	p := C.rrgo_buf_reserve(buf, capacity, C.size_t(len(s)+1))
	if p == nil {
		return nil, 0, false
	}
	if len(s) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(p)), len(s)), s)
	}
	return p, C.size_t(len(s)), true
}

func gostr(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

//export rrgoCallModel
func rrgoCallModel(ud unsafe.Pointer, c *C.rr_model_call, res *C.rr_model_result) (rc C.int) {
	rs := cgo.Handle(uintptr(ud)).Value().(*runState)
	rs.attempt, rs.route = int(c.attempt), gostr(c.route)
	defer func() {
		if p := recover(); p != nil {
			rc = rs.fail("call_model", recovered(p))
		}
	}()
	if rs.cancelled() {
		return C.RR_CALL_ABORT
	}
	call := ModelCall{
		Attempt: int(c.attempt), Route: rs.route, RouteVersion: gostr(c.route_version),
		Model: gostr(c.model), Prompt: gostr(c.prompt), OutputMode: gostr(c.output_mode),
		Schema: gostr(c.schema_json), ContextTokens: int64(c.context_tokens),
		MaxOutputTokens: int64(c.max_output_tokens), PreviousFailure: gostr(c.previous_failure),
		PreviousFindings: json.RawMessage(gostr(c.previous_findings)),
		ToolResults:      json.RawMessage(gostr(c.tool_results)),
	}
	if c.text != nil {
		call.Text = C.GoStringN(c.text, C.int(c.text_len))
	}
	if n := int(c.ntools); n > 0 {
		for _, t := range unsafe.Slice(c.tools, n) {
			call.Tools = append(call.Tools, gostr(t))
		}
	}
	r, err := rs.cb.CallModel(rs.ctx, call)
	if err != nil {
		return rs.fail("call_model", err)
	}
	p, n, ok := copyOut(&rs.sc.model_out, &rs.sc.model_out_cap, r.Output)
	if !ok {
		return rs.fail("call_model", errorf(ENOMEM, "cannot copy the model output"))
	}
	res.output, res.output_len = p, n
	res.input_tokens, res.output_tokens = C.int64_t(r.InputTokens), C.int64_t(r.OutputTokens)
	res.latency_ms, res.confidence = C.double(r.LatencyMS), C.double(r.Confidence)
	return C.RR_CALL_OK
}

//export rrgoCallTool
func rrgoCallTool(ud unsafe.Pointer, c *C.rr_tool_call, res *C.rr_tool_result) (rc C.int) {
	rs := cgo.Handle(uintptr(ud)).Value().(*runState)
	rs.attempt, rs.route = int(c.attempt), gostr(c.route)
	defer func() {
		if p := recover(); p != nil {
			rc = rs.fail("call_tool", recovered(p))
		}
	}()
	if rs.cancelled() {
		return C.RR_CALL_ABORT
	}
	call := ToolCall{Attempt: int(c.attempt), Tool: gostr(c.tool), Route: rs.route}
	if c.text != nil {
		call.Text = C.GoStringN(c.text, C.int(c.text_len))
	}
	r, err := rs.cb.CallTool(rs.ctx, call)
	if err != nil {
		return rs.fail("call_tool", err)
	}
	p, n, ok := copyOut(&rs.sc.tool_out, &rs.sc.tool_out_cap, r.Output)
	if !ok {
		return rs.fail("call_tool", errorf(ENOMEM, "cannot copy the tool output"))
	}
	res.output, res.output_len, res.latency_ms = p, n, C.double(r.LatencyMS)
	return C.RR_CALL_OK
}

//export rrgoOnEvent
func rrgoOnEvent(ud unsafe.Pointer, js *C.char, n C.size_t) (rc C.int) {
	rs := cgo.Handle(uintptr(ud)).Value().(*runState)
	defer func() {
		if p := recover(); p != nil {
			rs.errs = append(rs.errs, CallbackFailure{"on_event", rs.attempt, rs.route, recovered(p)})
			rc = 0 // a broken event handler is reported, not fatal
		}
	}()
	if rs.cancelled() {
		return 1
	}
	ev := unsafe.Slice((*byte)(unsafe.Pointer(js)), int(n))
	if err := rs.cb.OnEvent(ev); err != nil {
		rs.errs = append(rs.errs, CallbackFailure{"on_event", rs.attempt, rs.route, err})
		rs.abort = err
		return 1
	}
	return 0
}

//export rrgoNowNS
func rrgoNowNS(ud unsafe.Pointer) (ns C.uint64_t) {
	rs := cgo.Handle(uintptr(ud)).Value().(*runState)
	defer func() {
		if p := recover(); p != nil {
			rs.errs = append(rs.errs, CallbackFailure{"now_ns", rs.attempt, rs.route, recovered(p)})
			ns = 0
		}
	}()
	return C.uint64_t(rs.cb.NowNS())
}

// Run routes req, calls the model through cb, validates and escalates until an outcome.
// Cancelling ctx stops the run before its next callback (between attempts); Run then
// returns an EABORT *Error that wraps ctx.Err() (errors.Is(err, context.Canceled)).
// A ladder that ends in human review, clarification or a safe failure is not an error:
// read Outcome.Kind. Safe for concurrent use.
func (r *Router) Run(ctx context.Context, req Request, cb Callbacks) (Outcome, error) {
	if cb.CallModel == nil {
		return Outcome{}, errorf(EINVAL, "Callbacks.CallModel is required")
	}
	if err := ctx.Err(); err != nil {
		return Outcome{}, &Error{Code: EABORT, Name: EABORT.Name(), Message: "run not started: " + err.Error(), cause: err}
	}
	s, err := r.acquire()
	if err != nil {
		return Outcome{}, err
	}
	defer r.release(s)
	if err := s.fill(&req); err != nil {
		return Outcome{}, err
	}
	rs := &runState{ctx: ctx, cb: &cb, sc: s.c}
	h := cgo.NewHandle(rs)
	defer h.Delete()
	cbs := C.rrgo_callbacks(s.c, C.uintptr_t(h), b2i(cb.CallTool != nil), b2i(cb.OnEvent != nil), b2i(cb.NowNS != nil))
	rc := C.rr_run(r.ptr, s.c.req, cbs, &s.c.outcome, &s.c.err)
	if rc == C.RR_EABORT {
		e := newError(rc, &s.c.err)
		e.cause = rs.abort
		if rs.abort != nil {
			e.Message = "run aborted: " + rs.abort.Error()
		}
		return Outcome{CallbackErrors: rs.errs}, e
	}
	if rc != 0 {
		return Outcome{CallbackErrors: rs.errs}, newError(rc, &s.c.err)
	}
	out := readOutcome(s.c.outcome)
	out.CallbackErrors = rs.errs
	return out, nil
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func readOutcome(o *C.rr_outcome) Outcome {
	var n C.size_t
	out := Outcome{
		Kind: gostr(C.rr_outcome_kind(o)), Route: gostr(C.rr_outcome_route(o)),
		Model: gostr(C.rr_outcome_model(o)), Reason: gostr(C.rr_outcome_reason(o)),
		Valid: C.rr_outcome_valid(o) != 0, CostUSD: float64(C.rr_outcome_cost_usd(o)),
		LatencyMS:    float64(C.rr_outcome_latency_ms(o)),
		InputTokens:  int64(C.rr_outcome_input_tokens(o)),
		OutputTokens: int64(C.rr_outcome_output_tokens(o)),
	}
	if p := C.rr_outcome_text(o, &n); p != nil {
		out.Text = C.GoStringN(p, C.int(n))
	}
	for i := C.size_t(0); i < C.rr_outcome_attempt_count(o); i++ {
		out.Attempts = append(out.Attempts, Attempt{
			Route: gostr(C.rr_outcome_attempt_route(o, i)), Model: gostr(C.rr_outcome_attempt_model(o, i)),
			Status: gostr(C.rr_outcome_attempt_status(o, i)), Failure: gostr(C.rr_outcome_attempt_failure(o, i)),
			InputTokens:  int64(C.rr_outcome_attempt_input_tokens(o, i)),
			OutputTokens: int64(C.rr_outcome_attempt_output_tokens(o, i)),
			CostUSD:      float64(C.rr_outcome_attempt_cost_usd(o, i)),
			LatencyMS:    float64(C.rr_outcome_attempt_latency_ms(o, i)),
		})
	}
	if p := C.rr_outcome_json(o, &n); p != nil {
		out.Trace = C.GoBytes(unsafe.Pointer(p), C.int(n))
	}
	return out
}
