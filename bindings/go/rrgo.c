/* C helpers of the Go binding; see rrgo.h. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "rrgo.h"
#include "_cgo_export.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

rrgo_scratch *rrgo_scratch_new(void) {
	rrgo_scratch *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if (rr_request_new(&s->req, NULL) != RR_OK) {
		free(s);
		return NULL;
	}
	rr_error_init(&s->err, RR_ERROR_VERSION);
	return s;
}

void rrgo_scratch_free(rrgo_scratch *s) {
	if (!s)
		return;
	rr_decision_free(s->dec);
	rr_request_free(s->req);
	free(s->buf);
	free(s->lists);
	rr_outcome_free(s->outcome);
	rr_verdict_free(s->verdict);
	free(s->model_out);
	free(s->tool_out);
	free(s);
}

// Copies a and b into the scratch buffer as two NUL-terminated strings; NULL on ENOMEM.
static char *rrgo_pair(rrgo_scratch *s, const char *a, size_t alen, const char *b, size_t blen) {
	size_t need = alen + blen + 2;
	if (need > s->cap) {
		size_t cap = need < 256 ? 256 : need * 2;
		char *p = realloc(s->buf, cap);
		if (!p)
			return NULL;
		s->buf = p;
		s->cap = cap;
	}
	if (alen)
		memcpy(s->buf, a, alen);
	s->buf[alen] = 0;
	if (blen)
		memcpy(s->buf + alen + 1, b, blen);
	s->buf[alen + 1 + blen] = 0;
	return s->buf;
}

// Attribute setters taking Go string memory (pointer + length), so one cgo call each.
int rrgo_set_attr(rrgo_scratch *s, const char *k, size_t klen, const char *v, size_t vlen) {
	char *p = rrgo_pair(s, k, klen, v, vlen);
	return p ? rr_request_set_attr(s->req, p, p + klen + 1) : RR_ENOMEM;
}
int rrgo_set_num(rrgo_scratch *s, const char *k, size_t klen, double v) {
	char *p = rrgo_pair(s, k, klen, "", 0);
	return p ? rr_request_set_num(s->req, p, v) : RR_ENOMEM;
}
int rrgo_set_bool(rrgo_scratch *s, const char *k, size_t klen, int v) {
	char *p = rrgo_pair(s, k, klen, "", 0);
	return p ? rr_request_set_bool(s->req, p, v) : RR_ENOMEM;
}
int rrgo_add_evidence(rrgo_scratch *s, const char *id, size_t idlen, const char *t,
                             size_t tlen, double score) {
	char *p = rrgo_pair(s, id, idlen, "", 0);
	return p ? rr_request_add_evidence(s->req, p, t, tlen, score) : RR_ENOMEM;
}
int rrgo_set_conversation(rrgo_scratch *s, const char *c, size_t clen) {
	char *p = rrgo_pair(s, c, clen, "", 0);
	return p ? rr_request_set_conversation(s->req, p) : RR_ENOMEM;
}

void rrgo_view_fill(const rr_decision *d, rrgo_view *v, int record) {
	v->route = rr_decision_route(d);
	v->route_version = rr_decision_route_version(d);
	v->kind = (int)rr_decision_kind(d);
	v->tier = rr_decision_tier(d);
	v->model = rr_decision_model(d);
	v->prompt = rr_decision_prompt(d);
	v->output_mode = rr_decision_output_mode(d);
	v->ntools = rr_decision_tool_count(d);
	v->context_tokens = rr_decision_context_tokens(d);
	v->nvalidators = rr_decision_validator_count(d);
	v->nesc = rr_decision_escalation_count(d);
	v->task = rr_decision_task(d);
	v->rule = rr_decision_rule(d);
	v->message = rr_decision_message(d);
	v->reason = rr_decision_reason(d);
	v->route_ns = rr_decision_route_ns(d);
	v->json = NULL;
	v->json_len = 0;
	if (record)
		v->json = rr_decision_json((rr_decision *)d, &v->json_len);
}

// The decision's lists flattened into the scratch (tools, validators, then failure/target
// pairs), in the order and number rrgo_view_fill counted. NULL on ENOMEM.
const char **rrgo_view_lists(rrgo_scratch *s) {
	const rr_decision *d = s->dec;
	size_t nt = rr_decision_tool_count(d), nv = rr_decision_validator_count(d);
	size_t ne = rr_decision_escalation_count(d), total = nt + nv + 2 * ne, n = 0;
	if (total > s->lists_cap) {
		const char **p = realloc(s->lists, total * 2 * sizeof *p);
		if (!p)
			return NULL;
		s->lists = p;
		s->lists_cap = total * 2;
	}
	const char **out = s->lists;
	for (size_t i = 0; i < nt; i++)
		out[n++] = rr_decision_tool(d, i);
	for (size_t i = 0; i < nv; i++)
		out[n++] = rr_decision_validator(d, i);
	for (size_t i = 0; i < ne; i++) {
		out[n] = out[n + 1] = "";
		rr_decision_escalation(d, i, &out[n], &out[n + 1]);
		n += 2;
	}
	return out;
}

// The exported Go functions take non-const pointers; these give rr_callbacks the exact
// types it declares.
static int rrgo_call_model_shim(void *ud, const rr_model_call *c, rr_model_result *r) {
	return rrgoCallModel(ud, (rr_model_call *)c, r);
}
static int rrgo_call_tool_shim(void *ud, const rr_tool_call *c, rr_tool_result *r) {
	return rrgoCallTool(ud, (rr_tool_call *)c, r);
}
static int rrgo_on_event_shim(void *ud, const char *json, size_t len) {
	return rrgoOnEvent(ud, (char *)json, len);
}
static uint64_t rrgo_now_shim(void *ud) {
	return rrgoNowNS(ud);
}

rr_callbacks *rrgo_callbacks(rrgo_scratch *s, uintptr_t handle, int tool, int event, int now) {
	rr_callbacks z = RR_CALLBACKS_INIT;
	s->cb = z;
	s->cb.user_data = (void *)handle;
	s->cb.call_model = rrgo_call_model_shim;
	s->cb.call_tool = tool ? rrgo_call_tool_shim : NULL;
	s->cb.on_event = event ? rrgo_on_event_shim : NULL;
	s->cb.now_ns = now ? rrgo_now_shim : NULL;
	return &s->cb;
}

rr_verdict *rrgo_verdict(rrgo_scratch *s) {
	if (!s->verdict && rr_verdict_new(&s->verdict, NULL) != RR_OK)
		return NULL;
	return s->verdict;
}

char *rrgo_buf_reserve(char **buf, size_t *cap, size_t need) {
	if (need > *cap) {
		size_t n = need < 1024 ? 1024 : need * 2;
		char *p = realloc(*buf, n);
		if (!p)
			return NULL;
		*buf = p;
		*cap = n;
	}
	return *buf;
}

// ---- offline evaluation through dlsym ----

#define RRGO_SYM(var, name) __typeof__(&name) var = (__typeof__(&name))dlsym(RTLD_DEFAULT, #name)

int rrgo_eval_options_init(rr_eval_options *o) {
	RRGO_SYM(f, rr_eval_options_init);
	return f ? f(o, RR_EVAL_OPTIONS_VERSION) : RRGO_ENOSYM;
}

int rrgo_eval_new(rrgo_eval *e, const rr_router *r, const rr_eval_options *o) {
	RRGO_SYM(f, rr_eval_new);
	rr_error_init(&e->err, RR_ERROR_VERSION);
	return f ? f(&e->ev, r, o, &e->err) : RRGO_ENOSYM;
}

void rrgo_eval_free(rrgo_eval *e) {
	RRGO_SYM(f, rr_eval_free);
	if (f && e->ev)
		f(e->ev);
	e->ev = NULL;
}

int rrgo_eval_add_line(rrgo_eval *e, const char *line, size_t len) {
	RRGO_SYM(f, rr_eval_add_line);
	return f ? f(e->ev, line, len, &e->err) : RRGO_ENOSYM;
}

int rrgo_eval_add_file(rrgo_eval *e, const char *path) {
	RRGO_SYM(f, rr_eval_add_file);
	return f ? f(e->ev, path, &e->err) : RRGO_ENOSYM;
}

int rrgo_eval_counts(rrgo_eval *e, uint64_t *records, uint64_t *malformed, uint64_t *missing) {
	RRGO_SYM(r, rr_eval_record_count);
	RRGO_SYM(m, rr_eval_malformed_count);
	RRGO_SYM(x, rr_eval_missing_count);
	if (!r || !m || !x)
		return RRGO_ENOSYM;
	*records = r(e->ev);
	*malformed = m(e->ev);
	*missing = x(e->ev);
	return RR_OK;
}

int rrgo_eval_has(int which) {
	static const char *const names[] = {"rr_eval_result_json", "rr_eval_partial_json",
	                                    "rr_eval_report", "rr_eval_report"};
	return which >= 0 && which < 4 && dlsym(RTLD_DEFAULT, names[which]) != NULL;
}

const char *rrgo_eval_text(rrgo_eval *e, int which) {
	e->len = 0;
	if (which == 0) {
		RRGO_SYM(f, rr_eval_result_json);
		return f ? f(e->ev, &e->len) : NULL;
	}
	if (which == 1) {
		RRGO_SYM(f, rr_eval_partial_json);
		return f ? f(e->ev, &e->len) : NULL;
	}
	RRGO_SYM(f, rr_eval_report);
	return f ? f(e->ev, which == 3 ? RR_EVAL_REPORT_SVG : 0, &e->len) : NULL;
}

int rrgo_eval_merge(rrgo_eval *e, const char *partial, size_t len) {
	RRGO_SYM(f, rr_eval_merge_json);
	return f ? f(e->ev, partial, len, &e->err) : RRGO_ENOSYM;
}
