package routeright

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func newEvalOrSkip(t *testing.T, r *Router, opts *EvalOptions) *Evaluation {
	t.Helper()
	e, err := NewEvaluation(r, opts)
	var re *Error
	if errors.As(err, &re) && re.Code == ENOTFOUND {
		t.Skip(re.Message)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

const evalRecord = `{"id": "r1", "text": "How do I reset my password?", "outcomes": {` +
	`"small_rag_v2": {"quality": 0.9, "accepted": true}, "medium_rag_v1": {"quality": 0.9, "accepted": true}}}`

func TestEvaluationReplaysMergesAndPinsTheRouter(t *testing.T) {
	r := mustDefault(t)
	e := newEvalOrSkip(t, r, nil)
	if err := e.AddLine([]byte(evalRecord)); err != nil {
		t.Fatal(err)
	}
	records, malformed, _, err := e.Counts()
	if err != nil || records != 1 || malformed != 0 {
		t.Fatalf("counts %d %d %v", records, malformed, err)
	}
	res, err := e.Result()
	if err != nil || !json.Valid(res) {
		t.Fatalf("result %v %s", err, res)
	}
	part, err := e.Partial()
	if err != nil {
		t.Fatal(err)
	}
	m := newEvalOrSkip(t, nil, nil)
	if err := m.Merge(part); err != nil {
		t.Fatal(err)
	}
	var merged struct{ Records int }
	mres, _ := m.Result()
	if err := json.Unmarshal(mres, &merged); err != nil || merged.Records != 1 {
		t.Fatalf("merged %s (%v)", mres, err)
	}
	if err := r.Close(); !errors.Is(err, ErrState) {
		t.Fatalf("Close with an open evaluation: %v", err)
	}
	e.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.AddLine([]byte(evalRecord)); !errors.Is(err, ErrState) {
		t.Fatalf("AddLine after Close: %v", err)
	}
}

func TestEvaluationMalformedLineIsEDATAWithLine(t *testing.T) {
	e := newEvalOrSkip(t, mustDefault(t), nil)
	err := e.AddLine([]byte(`{nope`))
	var re *Error
	if !errors.As(err, &re) || re.Code != EDATA {
		t.Fatalf("err %v", err)
	}
	lenient := newEvalOrSkip(t, mustDefault(t), &EvalOptions{SkipMalformed: true, AcceptableQuality: 0.5, HumanQuality: 1, Seed: 1})
	if err := lenient.AddLine([]byte(`{nope`)); err != nil {
		t.Fatal(err)
	}
	if _, malformed, _, _ := lenient.Counts(); malformed != 1 {
		t.Fatalf("malformed %d", malformed)
	}
}

func TestEvaluationAddFileAndMissingFile(t *testing.T) {
	e := newEvalOrSkip(t, mustDefault(t), nil)
	path := filepath.Join(t.TempDir(), "replay.jsonl")
	if err := os.WriteFile(path, []byte(evalRecord+"\n"+evalRecord+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.AddFile(path); err != nil {
		t.Fatal(err)
	}
	if n, _, _, _ := e.Counts(); n != 2 {
		t.Fatalf("records %d", n)
	}
	var re *Error
	if err := e.AddFile(path + ".none"); !errors.As(err, &re) || re.Code != EIO {
		t.Fatalf("missing file: %v", err)
	}
}

func TestRouteToTakesTheNamedRouteAndTierIsReported(t *testing.T) {
	r := mustDefault(t)
	d, err := r.RouteTo(faq, "premium_rag_v1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Route != "premium_rag_v1" || d.Model != "premium" || d.Tier != 3 {
		t.Fatalf("decision %s %s tier %d", d.Route, d.Model, d.Tier)
	}
	var re *Error
	if _, err := r.RouteTo(faq, "no_such_route"); !errors.As(err, &re) || re.Code != ENOTFOUND {
		t.Fatalf("unknown route: %v", err)
	}
	q := faq
	q.LastTier = 3
	if _, err := r.Route(q); err != nil {
		t.Fatal(err)
	}
}
