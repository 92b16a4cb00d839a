/* C helpers of the Go binding (internal): they let one cgo call do what would otherwise
 * take many, and keep every pointer passed from Go a C pointer. */
#ifndef RRGO_H
#define RRGO_H

#include <routeright.h>
#include <stddef.h>
#include <stdint.h>

// Everything a Decision holds, gathered in one cgo call. Strings are borrowed from the
// decision; Go copies them before the scratch is reused.
typedef struct rrgo_view {
	const char *route, *route_version, *model, *prompt, *output_mode, *task, *rule;
	const char *message, *reason, *json;
	size_t json_len, ntools, nvalidators, nesc;
	int kind, tier;
	int64_t context_tokens;
	uint64_t route_ns;
} rrgo_view;

// One goroutine's C-side state while it holds a scratch: the reusable request and
// decision, the error report and the cells the getters write to. Allocated in C so every
// call passes C pointers only (no cgo pointer checks, no escaping Go values).
typedef struct rrgo_scratch {
	rr_request *req;
	rr_decision *dec;
	rr_error err;
	rrgo_view view;
	size_t len;
	char *buf; // NUL-terminated copies of keys and ids, grown on demand
	size_t cap;
	const char **lists; // the decision's tools, validators and escalation pairs
	size_t lists_cap;
	rr_outcome *outcome; // reused by rr_run
	rr_verdict *verdict; // reused by rr_validate, created on first use
	rr_callbacks cb;
	char *model_out, *tool_out; // callback outputs, copied here so C may read them later
	size_t model_out_cap, tool_out_cap;
} rrgo_scratch;

rrgo_scratch *rrgo_scratch_new(void);
void rrgo_scratch_free(rrgo_scratch *s);
int rrgo_set_attr(rrgo_scratch *s, const char *k, size_t klen, const char *v, size_t vlen);
int rrgo_set_num(rrgo_scratch *s, const char *k, size_t klen, double v);
int rrgo_set_bool(rrgo_scratch *s, const char *k, size_t klen, int v);
int rrgo_add_evidence(rrgo_scratch *s, const char *id, size_t idlen, const char *t,
                      size_t tlen, double score);
int rrgo_set_conversation(rrgo_scratch *s, const char *c, size_t clen);
// `record`: also build the decision's JSON record (the costliest part of a decision).
void rrgo_view_fill(const rr_decision *d, rrgo_view *v, int record);
const char **rrgo_view_lists(rrgo_scratch *s);

// Point the scratch's callbacks at the Go trampolines; `handle` is the run's cgo.Handle.
rr_callbacks *rrgo_callbacks(rrgo_scratch *s, uintptr_t handle, int tool, int event, int now);
// The scratch's verdict, created on first use (NULL on ENOMEM).
rr_verdict *rrgo_verdict(rrgo_scratch *s);
// Output buffers the Go callbacks copy into: C may read them after the callback returns.
char *rrgo_buf_reserve(char **buf, size_t *cap, size_t need);

// Offline evaluation, resolved at run time (dlsym) so the package still links against a
// library without it: each returns RRGO_ENOSYM when the symbol is missing.
#define RRGO_ENOSYM (-1000)
typedef struct rrgo_eval {
	rr_eval *ev;
	rr_error err;
	size_t len;
} rrgo_eval;
int rrgo_eval_options_init(rr_eval_options *o);
int rrgo_eval_new(rrgo_eval *e, const rr_router *r, const rr_eval_options *o);
void rrgo_eval_free(rrgo_eval *e);
int rrgo_eval_add_line(rrgo_eval *e, const char *line, size_t len);
int rrgo_eval_add_file(rrgo_eval *e, const char *path);
int rrgo_eval_counts(rrgo_eval *e, uint64_t *records, uint64_t *malformed, uint64_t *missing);
// which: 0 result, 1 partial, 2 HTML report, 3 SVG report. NULL with e->len = 0 when
// missing (check rrgo_eval_has), else NULL on ENOMEM / no record.
const char *rrgo_eval_text(rrgo_eval *e, int which);
int rrgo_eval_has(int which);
int rrgo_eval_merge(rrgo_eval *e, const char *partial, size_t len);

#endif
