package routeright

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var faq = Request{
	Text:  "How do I reset my password?",
	Attrs: map[string]any{"tenant.tier": "enterprise", "user.authenticated": true},
	Evidence: []Evidence{
		{"kb-12", "To reset your password, open Settings, choose Security and click Reset password. A reset link is emailed to you.", 0.91},
		{"kb-40", "Two-factor authentication can be enabled under Security.", 0.52},
	},
}

var refund = Request{
	Text:  "I was charged twice for March. I want a refund and will contact my attorney if this is not fixed.",
	Attrs: map[string]any{"tenant.tier": "enterprise", "user.authenticated": true},
}

var ticket = Request{
	Text:  "Our SSO login fails with error 500 since this morning for all users.",
	Attrs: map[string]any{"user.authenticated": true},
}

const tinyPolicy = `{
  "policy": "tiny", "version": "3",
  "models": {"m": {"tier": 1, "usd_per_mtok_in": 1, "usd_per_mtok_out": 1, "latency_ms": 10}},
  "attributes": {"vip": "bool", "score": "number", "plan": "string"},
  "rules": [
    {"id": "vip", "when": "vip", "route": "fast"},
    {"id": "scored", "when": "score > 5", "route": "fast"},
    {"id": "pro", "when": "plan == 'pro'", "route": "fast"},
    {"id": "rest", "when": "true", "route": "slow"}
  ],
  "routes": {
    "fast": {"model": "m", "prompt": "p_fast", "version": "7"},
    "slow": {"kind": "defer", "message": "later", "version": "1"}
  }
}`

func mustDefault(t testing.TB) *Router {
	t.Helper()
	r, err := NewDefault()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func mustTiny(t testing.TB, opts ...Options) *Router {
	t.Helper()
	r, err := New([]byte(tinyPolicy), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *routeright.Error, got %T: %v", err, err)
	}
	return e
}

func TestDefaultRouterSendsStrongFAQToSmallRAG(t *testing.T) {
	r := mustDefault(t)
	if r.PolicyName() != "support_copilot" || len(r.Fingerprint()) != 16 {
		t.Fatalf("policy %q fingerprint %q", r.PolicyName(), r.Fingerprint())
	}
	d, err := r.Route(faq)
	if err != nil {
		t.Fatal(err)
	}
	if d.Route != "small_rag_v2" || d.Kind != KindModel || d.Model != "small" || d.Prompt != "faq_v2" {
		t.Fatalf("decision %+v", d)
	}
	if d.RouteVersion != "2" || d.OutputMode != "text" || d.ContextTokens != 2000 {
		t.Fatalf("decision %+v", d)
	}
	if len(d.Tools) != 1 || d.Tools[0] != "retrieval" || len(d.Validators) != 1 || d.Validators[0] != "grounding" {
		t.Fatalf("tools %v validators %v", d.Tools, d.Validators)
	}
	if d.Escalation["grounding"] != "premium_rag_v1" || d.Escalation["denied"] != "medium_rag_v1" {
		t.Fatalf("escalation %v", d.Escalation)
	}
	if d.Task != "faq" || d.Rule != "faq_easy" || !strings.Contains(d.Reason, "small_rag_v2") || d.RouteNS == 0 {
		t.Fatalf("task %q rule %q reason %q ns %d", d.Task, d.Rule, d.Reason, d.RouteNS)
	}
	var rec map[string]any
	if err := json.Unmarshal(d.Record, &rec); err != nil {
		t.Fatalf("record is not JSON: %v", err)
	}
	if rec["route_ns"].(float64) != float64(d.RouteNS) {
		t.Fatalf("record route_ns %v, decision %d", rec["route_ns"], d.RouteNS)
	}
}

func TestRegulatedTermsNeverReachTheSmallModel(t *testing.T) {
	d, err := mustDefault(t).Route(refund)
	if err != nil {
		t.Fatal(err)
	}
	if d.Task != "draft_policy" || d.Model == "small" {
		t.Fatalf("decision %+v", d)
	}
}

func TestAttributesOfEveryTypeReachConditions(t *testing.T) {
	r := mustTiny(t)
	cases := []struct {
		attrs map[string]any
		rule  string
	}{
		{map[string]any{"vip": true}, "vip"},
		{map[string]any{"vip": false, "score": 6}, "scored"},
		{map[string]any{"score": float32(5.5)}, "scored"},
		{map[string]any{"score": json.Number("7")}, "scored"},
		{map[string]any{"score": uint8(5)}, "rest"},
		{map[string]any{"plan": "pro"}, "pro"},
		{nil, "rest"},
	}
	for _, c := range cases {
		d, err := r.Route(Request{Text: "x", Attrs: c.attrs})
		if err != nil {
			t.Fatal(err)
		}
		if d.Rule != c.rule {
			t.Errorf("attrs %v: rule %q, want %q", c.attrs, d.Rule, c.rule)
		}
	}
	d, _ := r.Route(Request{Text: "x"})
	if d.Kind != KindDefer || d.Message != "later" || d.Kind.String() != "defer" {
		t.Fatalf("terminal decision %+v", d)
	}
}

func TestRouteJSONAgreesWithRoute(t *testing.T) {
	r := mustDefault(t)
	q := faq
	q.ConversationID = "conv-9"
	js, _ := json.Marshal(q)
	a, err := r.RouteJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Route(q)
	if err != nil {
		t.Fatal(err)
	}
	if mask(a.Record) != mask(b.Record) || !strings.Contains(string(a.Record), `"conversation.present":true`) {
		t.Fatalf("records differ:\n%s\n%s", a.Record, b.Record)
	}
}

func mask(rec []byte) string {
	s := string(rec)
	i := strings.Index(s, `"route_ns":`)
	if i < 0 {
		return s
	}
	return s[:i]
}

func TestDecisionSurvivesLaterRoutesAndClose(t *testing.T) {
	r, err := NewDefault()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Route(faq)
	rec := string(a.Record)
	b, _ := r.Route(ticket)
	r.Close()
	if b.Route == a.Route || string(a.Record) != rec || a.Route != "small_rag_v2" {
		t.Fatalf("decision changed: %s / %s", a.Route, b.Route)
	}
}

func TestNewFromFileAndTextShareTheFingerprint(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "policies", "support.json")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(text)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := mustDefault(t)
	if a.Fingerprint() != b.Fingerprint() || b.Fingerprint() != c.Fingerprint() {
		t.Fatalf("fingerprints %s %s %s", a.Fingerprint(), b.Fingerprint(), c.Fingerprint())
	}
	if string(DefaultPolicy()) != string(text) {
		t.Fatal("DefaultPolicy differs from examples/policies/support.json")
	}
	var rep struct{ Ladders []struct{ Route string } }
	if err := json.Unmarshal(a.Report(), &rep); err != nil || len(rep.Ladders) == 0 {
		t.Fatalf("report: %v %s", err, a.Report())
	}
}

func TestMalformedPolicyReportsLineAndColumn(t *testing.T) {
	_, err := New([]byte("{\n  \"policy\": \"x\",\n  \"version\": 1,,\n}"))
	e := asError(t, err)
	if e.Code != EJSON || e.Name != "EJSON" || e.Line != 3 || e.Column == 0 {
		t.Fatalf("%+v", e)
	}
	if !errors.Is(err, ErrJSON) || errors.Is(err, ErrPolicy) {
		t.Fatal("errors.Is does not follow the code")
	}
}

func TestUnknownPolicyKeyNamesPointerAndLine(t *testing.T) {
	bad := strings.Replace(tinyPolicy, `"policy": "tiny",`, "\"policy\": \"tiny\",\n  \"bogus\": 1,", 1)
	_, err := New([]byte(bad))
	e := asError(t, err)
	if e.Code != EPOLICY || e.Pointer != "/bogus" || e.Line != 3 {
		t.Fatalf("%+v", e)
	}
	if !strings.Contains(e.Error(), "line 3") {
		t.Fatalf("Error() = %q", e.Error())
	}
}

func TestBadExpressionGivesColumnInsideIt(t *testing.T) {
	bad := strings.Replace(tinyPolicy, `"score > 5"`, `"score > > 5"`, 1)
	_, err := New([]byte(bad))
	e := asError(t, err)
	if e.Code != EEXPR || e.Pointer != "/rules/1/when" || e.ExprColumn != 9 {
		t.Fatalf("%+v", e)
	}
}

func TestMissingPolicyFileIsEIO(t *testing.T) {
	_, err := NewFromFile(filepath.Join(t.TempDir(), "none.json"))
	if e := asError(t, err); e.Code != EIO {
		t.Fatalf("%+v", e)
	}
}

func TestEmptyPolicyIsAnErrorNotACrash(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("empty policy accepted")
	}
}

func TestRequestErrorsAreTyped(t *testing.T) {
	r := mustTiny(t, Options{MaxTextBytes: 64})
	cases := []struct {
		name string
		req  Request
		code Code
	}{
		{"invalid utf-8", Request{Text: "bad \xff byte"}, EUTF8},
		{"too long", Request{Text: strings.Repeat("x", 65)}, ETOOBIG},
		{"NaN", Request{Text: "x", Attrs: map[string]any{"score": math.NaN()}}, EINVAL},
		{"NUL in key", Request{Text: "x", Attrs: map[string]any{"vi\x00p": true}}, EINVAL},
		{"bad type", Request{Text: "x", Attrs: map[string]any{"score": []int{1}}}, EINVAL},
		{"NUL in evidence id", Request{Text: "x", Evidence: []Evidence{{"a\x00b", "t", 1}}}, EINVAL},
	}
	for _, c := range cases {
		_, err := r.Route(c.req)
		if e := asError(t, err); e.Code != c.code {
			t.Errorf("%s: %+v, want %s", c.name, e, c.code.Name())
		}
	}
	if _, err := r.Route(Request{Text: strings.Repeat("x", 64)}); err != nil {
		t.Fatalf("after errors: %v", err)
	}
	_, err := r.RouteJSON([]byte(`{"text": "x", "color": "red"}`))
	if e := asError(t, err); e.Code != EJSON || !strings.Contains(e.Message, "color") {
		t.Fatalf("%+v", e)
	}
}

func TestEmptyTextIsRoutedOrRejectedCleanly(t *testing.T) {
	r := mustTiny(t)
	if _, err := r.Route(Request{}); err != nil {
		asError(t, err)
	}
}

func TestCloseIsIdempotentAndLaterCallsFailWithESTATE(t *testing.T) {
	r, err := New([]byte(tinyPolicy))
	if err != nil {
		t.Fatal(err)
	}
	r.Route(Request{Text: "x"})
	r.Close()
	r.Close()
	_, err = r.Route(Request{Text: "x"})
	if !errors.Is(err, ErrState) {
		t.Fatalf("route after close: %v", err)
	}
	if r.Fingerprint() != "" || r.Report() != nil {
		t.Fatal("closed router still answers")
	}
}

func TestManyGoroutinesRouteConcurrentlyWithSequentialResults(t *testing.T) {
	r := mustDefault(t)
	reqs := []Request{faq, refund, ticket, {Text: "hi"},
		{Text: "Please extract the ticket fields to json", Attrs: map[string]any{"output.format": "json"}}}
	want := make([]string, len(reqs))
	for i, q := range reqs {
		d, err := r.Route(q)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = mask(d.Record)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				k := (g + i) % len(reqs)
				d, err := r.Route(reqs[k])
				if err != nil || mask(d.Record) != want[k] {
					errs <- "goroutine result differs from the sequential one"
					return
				}
				if i%50 == 0 {
					runtime.Gosched()
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestCloseWhileGoroutinesRouteNeverCrashes(t *testing.T) {
	r, err := NewDefault()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if _, err := r.Route(faq); err != nil {
					if !errors.Is(err, ErrState) {
						t.Errorf("unexpected error %v", err)
					}
					return
				}
			}
		}()
	}
	r.Route(faq)
	r.Close()
	wg.Wait()
}

func TestFeaturesGiveSpansButNeverPIIValues(t *testing.T) {
	text := "Mail me at jane.doe@example.com please"
	f, err := mustDefault(t).Features(Request{Text: text}, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(f), "jane.doe") {
		t.Fatal("features leak the PII value")
	}
	var v struct {
		Spans []struct{ Start, End int } `json:"pii_spans"`
	}
	if err := json.Unmarshal(f, &v); err != nil || len(v.Spans) == 0 {
		t.Fatalf("spans: %v %s", err, f)
	}
	if text[v.Spans[0].Start:v.Spans[0].End] != "jane.doe@example.com" {
		t.Fatalf("span %+v", v.Spans[0])
	}
}

func TestLibraryVersionIsABIOne(t *testing.T) {
	if !strings.HasPrefix(LibraryVersion(), "1.") {
		t.Fatalf("version %q", LibraryVersion())
	}
}

func BenchmarkRoute(b *testing.B) {
	r := mustDefault(b)
	for i := 0; i < b.N; i++ {
		if _, err := r.Route(faq); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteParallel(b *testing.B) {
	r := mustDefault(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Route(faq); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSkipRecordLeavesRecordNilAndFieldsIntact(t *testing.T) {
	r, err := NewDefault(Options{SkipRecord: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, err := r.Route(faq)
	if err != nil {
		t.Fatal(err)
	}
	if d.Record != nil || d.Route != "small_rag_v2" || d.Reason == "" {
		t.Fatalf("decision %+v", d)
	}
}
