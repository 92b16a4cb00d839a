package routeright

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

const answer = "To reset your password, open Settings, choose Security and click Reset password [kb-12]."

func TestRunAnswersOnTheFirstAttempt(t *testing.T) {
	r := mustDefault(t)
	var events []string
	out, err := r.Run(context.Background(), faq, Callbacks{
		CallModel: func(ctx context.Context, c ModelCall) (ModelResult, error) {
			if c.Attempt != 1 || c.Route != "small_rag_v2" || c.Model != "small" || c.Text != faq.Text {
				t.Errorf("call %+v", c)
			}
			return ModelResult{Output: answer, InputTokens: 120, OutputTokens: 30, LatencyMS: 12, Confidence: Unknown}, nil
		},
		OnEvent: func(ev []byte) error {
			var e struct{ Event string }
			if err := json.Unmarshal(ev, &e); err != nil {
				t.Errorf("event is not JSON: %v", err)
			}
			events = append(events, e.Event)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Attempts) == 0 || out.Attempts[0].Route != "small_rag_v2" || out.Attempts[0].InputTokens != 120 {
		t.Fatalf("attempts %+v", out.Attempts)
	}
	if out.Kind == "answer" && out.Text != answer {
		t.Fatalf("answer text %q", out.Text)
	}
	if len(events) < 2 || events[0] != "decision" || events[len(events)-1] != "outcome" {
		t.Fatalf("events %v", events)
	}
	if !json.Valid(out.Trace) {
		t.Fatalf("trace is not JSON: %s", out.Trace)
	}
}

func TestRunPanickingCallbackIsRecoveredAsModelError(t *testing.T) {
	r := mustDefault(t)
	calls := 0
	out, err := r.Run(context.Background(), faq, Callbacks{
		CallModel: func(ctx context.Context, c ModelCall) (ModelResult, error) {
			calls++
			if c.Attempt == 1 {
				panic("model client exploded")
			}
			if c.PreviousFailure != "model_error" {
				t.Errorf("attempt %d: previous failure %q", c.Attempt, c.PreviousFailure)
			}
			return Output(answer), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 2 || out.Attempts[0].Failure != "model_error" || out.Attempts[0].Status != "error" {
		t.Fatalf("calls %d attempts %+v", calls, out.Attempts)
	}
	if len(out.CallbackErrors) != 1 || !strings.Contains(out.CallbackErrors[0].Err.Error(), "exploded") ||
		out.CallbackErrors[0].Callback != "call_model" || out.CallbackErrors[0].Route != "small_rag_v2" {
		t.Fatalf("callback errors %+v", out.CallbackErrors)
	}
	if !strings.Contains(string(out.Trace), "model_error") {
		t.Fatalf("trace lacks model_error: %s", out.Trace)
	}
}

func TestRunMapsCallbackErrorsToCallStatuses(t *testing.T) {
	r := mustDefault(t)
	for _, c := range []struct {
		err    error
		status string
	}{
		{fmt.Errorf("429: %w", ErrRetriable), "retriable"},
		{fmt.Errorf("slow: %w", ErrCallTimeout), "timeout"},
		{errors.New("400 bad request"), "error"},
	} {
		out, err := r.Run(context.Background(), faq, Callbacks{
			CallModel: func(ctx context.Context, call ModelCall) (ModelResult, error) {
				if call.Attempt == 1 {
					return ModelResult{}, c.err
				}
				return Output(answer), nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.Attempts[0].Status != c.status {
			t.Errorf("%v: status %q, want %q", c.err, out.Attempts[0].Status, c.status)
		}
	}
}

func TestRunCancelledContextStopsBeforeTheNextAttempt(t *testing.T) {
	r := mustDefault(t)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := r.Run(ctx, faq, Callbacks{
		CallModel: func(ctx context.Context, c ModelCall) (ModelResult, error) {
			calls++
			cancel() // the host gives up while this attempt fails
			return ModelResult{}, errors.New("upstream 500")
		},
	})
	if calls != 1 {
		t.Fatalf("%d model calls after cancellation", calls)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrAbort) {
		t.Fatalf("err %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != EABORT {
		t.Fatalf("err %#v", err)
	}
	if _, err := r.Run(ctx, faq, Callbacks{CallModel: func(context.Context, ModelCall) (ModelResult, error) {
		t.Error("called on a cancelled context")
		return Output(""), nil
	}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled run: %v", err)
	}
}

func TestRunCallbackReturningErrAbortStopsTheRun(t *testing.T) {
	r := mustDefault(t)
	_, err := r.Run(context.Background(), faq, Callbacks{
		CallModel: func(context.Context, ModelCall) (ModelResult, error) {
			return ModelResult{}, fmt.Errorf("operator said stop: %w", ErrAbort)
		},
	})
	if !errors.Is(err, ErrAbort) || !strings.Contains(err.Error(), "operator said stop") {
		t.Fatalf("err %v", err)
	}
}

func TestRunToolOutputsReachTheModelCall(t *testing.T) {
	r := mustDefault(t)
	var seen json.RawMessage
	_, err := r.Run(context.Background(), ticket, Callbacks{
		CallTool: func(ctx context.Context, c ToolCall) (ToolResult, error) {
			return ToolResult{Output: "tool:" + c.Tool, LatencyMS: 1}, nil
		},
		CallModel: func(ctx context.Context, c ModelCall) (ModelResult, error) {
			if seen == nil {
				seen = append(json.RawMessage{}, c.ToolResults...)
			}
			return Output("Please try signing in again; I have reset your SSO session."), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tools map[string]string
	if err := json.Unmarshal(seen, &tools); err != nil || tools["crm"] != "tool:crm" {
		t.Fatalf("tool results %s (%v)", seen, err)
	}
}

func TestRunPanickingToolIsRecoveredAsToolError(t *testing.T) {
	r := mustDefault(t)
	out, err := r.Run(context.Background(), ticket, Callbacks{
		CallTool: func(ctx context.Context, c ToolCall) (ToolResult, error) {
			panic("tool client exploded")
		},
		CallModel: func(ctx context.Context, c ModelCall) (ModelResult, error) {
			return Output("ok"), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CallbackErrors) == 0 || out.CallbackErrors[0].Callback != "call_tool" {
		t.Fatalf("callback errors %+v", out.CallbackErrors)
	}
	if out.Attempts[0].Failure != "tool_error" {
		t.Fatalf("attempts %+v", out.Attempts)
	}
}

func TestRunManyGoroutinesWithCallbacks(t *testing.T) {
	r := mustDefault(t)
	var calls int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				out, err := r.Run(context.Background(), faq, Callbacks{
					CallModel: func(ctx context.Context, c ModelCall) (ModelResult, error) {
						atomic.AddInt64(&calls, 1)
						if (g+i)%3 == 0 && c.Attempt == 1 {
							panic("flaky")
						}
						return Output(answer), nil
					},
				})
				if err != nil {
					errs <- err
					return
				}
				if len(out.Attempts) == 0 {
					errs <- errors.New("no attempts")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if calls < 16*50 {
		t.Fatalf("%d calls", calls)
	}
}

func TestRunWithoutCallModelIsEINVAL(t *testing.T) {
	_, err := mustDefault(t).Run(context.Background(), faq, Callbacks{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v", err)
	}
}

func TestValidateReturnsTheVerdictOfTheDecidedRoute(t *testing.T) {
	r := mustDefault(t)
	v, d, err := r.Validate(faq, answer)
	if err != nil {
		t.Fatal(err)
	}
	if d.Route != "small_rag_v2" || len(v.Record) == 0 || !json.Valid(v.Record) {
		t.Fatalf("decision %s verdict %s", d.Route, v.Record)
	}
	if v.Passed != (v.Failure == "") {
		t.Fatalf("passed %v with failure %q", v.Passed, v.Failure)
	}
}
