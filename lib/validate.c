/* rr_validate: the validators a route names, declared in the policy's "validators" section
 * and compiled with it. This file parses each validator's configuration, owns the compiled
 * state, and runs the route's validators in order on one output. */
#include "conf.h"
#include "router.h"
#include "schema.h"
#include "validate.h"
#include "validate_grounding.h"
#include "validate_safety.h"
#include "validate_semantic.h"
#include "verdict.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { V_SCHEMA, V_SEMANTIC, V_GROUNDING, V_SAFETY, V_SHAPE };

struct rr_validator_impl {
    int type;
    rr_schema *schema;
    char *schema_json; /* the schema's text, handed to call_model for constrained output */
    rr_grounding *grounding;
    rr_semantic *semantic;
    rr_safety *safety;
};

/* A threshold given as a number or as "thr.name". */
static int threshold(const rr_router *r, const json_t *obj, const char *key, const char *ptr,
                     double *out, rr_error *err) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return RR_OK;
    char p[300];
    snprintf(p, sizeof p, "%s/%s", ptr, key);
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return RR_OK;
    }
    if (json_is_string(v) && !strncmp(json_string_value(v), "thr.", 4)) {
        for (size_t i = 0; i < r->nthresholds; i++)
            if (!strcmp(r->thresholds[i].name, json_string_value(v) + 4)) {
                *out = r->thresholds[i].value;
                return RR_OK;
            }
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "unknown threshold '%s'",
                         json_string_value(v));
    }
    return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "'%s' must be a number or \"thr.<name>\"", key);
}

static int flag(const json_t *obj, const char *key, const char *ptr, int *out, rr_error *err) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return RR_OK;
    if (!json_is_boolean(v))
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return RR_OK;
}

static int compile_schema(rr_router *r, rr_validator_def *d, struct rr_validator_impl *v,
                          const json_t *obj, rr_error *err) {
    static const char *const keys[] = {"type", "version", "description", "schema",
                                       "format_assert", NULL};
    int rc = rr_conf_check_keys(obj, d->pointer, keys, "a schema validator", err);
    if (rc)
        return rc;
    json_t *schema = json_object_get(obj, "schema");
    if (!schema || !(json_is_object(schema) || json_is_boolean(schema)))
        return rr_err_at(err, RR_EPOLICY, d->pointer, 0, 0, 0,
                         "a schema validator needs \"schema\": a JSON Schema object");
    int fmt = 0;
    if ((rc = flag(obj, "format_assert", d->pointer, &fmt, err)))
        return rc;
    char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return rr_err(err, RR_ENOMEM, "out of memory");
    v->schema_json = rr_strdup(&r->a, text);
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(text);
    if (!v->schema_json)
        return rr_err(err, RR_ENOMEM, "out of memory");
    rr_allocator pub = {RR_ALLOCATOR_VERSION, r->a.ud, r->a.malloc_fn, r->a.realloc_fn,
                        r->a.free_fn};
    rr_schema_options so = RR_SCHEMA_OPTIONS_INIT;
    so.allocator = &pub;
    so.flags = fmt ? RR_SCHEMA_FORMAT_ASSERT : 0;
    rr_error se = RR_ERROR_INIT;
    rc = rr_schema_new(&v->schema, v->schema_json, strlen(v->schema_json), &so, &se);
    if (rc != RR_OK) {
        char p[300];
        snprintf(p, sizeof p, "%s/schema%s", d->pointer, se.pointer);
        const char *msg = se.message;
        size_t pl = strlen(se.pointer);
        if (pl && !strncmp(msg, se.pointer, pl) && !strncmp(msg + pl, ": ", 2))
            msg += pl + 2; /* the pointer is already in ours */
        return rr_err_at(err, rc, p, 0, 0, 0, "invalid JSON Schema: %s", msg);
    }
    return RR_OK;
}

static int compile_grounding(rr_router *r, rr_validator_def *d, struct rr_validator_impl *v,
                             const json_t *obj, rr_error *err) {
    static const char *const keys[] = {"type", "version", "description", "min_support",
                                       "min_claim_support", "min_citation_coverage",
                                       "require_citations", "citation_pattern",
                                       "fail_on_unknown_number", "fail_on_unknown_entity", NULL};
    int rc = rr_conf_check_keys(obj, d->pointer, keys, "a grounding validator", err);
    if (rc)
        return rc;
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    if ((rc = threshold(r, obj, "min_support", d->pointer, &cfg.support_min, err)) ||
        (rc = threshold(r, obj, "min_claim_support", d->pointer, &cfg.claim_support_min, err)) ||
        (rc = threshold(r, obj, "min_citation_coverage", d->pointer, &cfg.coverage_min, err)) ||
        (rc = flag(obj, "require_citations", d->pointer, &cfg.require_citations, err)) ||
        (rc = flag(obj, "fail_on_unknown_number", d->pointer, &cfg.fail_on_unknown_number, err)) ||
        (rc = flag(obj, "fail_on_unknown_entity", d->pointer, &cfg.fail_on_unknown_entity, err)))
        return rc;
    json_t *pat = json_object_get(obj, "citation_pattern");
    if (pat && !json_is_string(pat))
        return rr_err_at(err, RR_EPOLICY, d->pointer, 0, 0, 0,
                         "'citation_pattern' must be a string");
    cfg.citation_pattern = pat ? json_string_value(pat) : NULL;
    cfg.name = d->name;
    cfg.version = d->version;
    rr_error ge = RR_ERROR_INIT;
    rc = rr_grounding_new(&v->grounding, &cfg, &r->a, &ge);
    if (rc != RR_OK)
        return rr_err_at(err, rc == RR_EINVAL ? RR_EPOLICY : rc, d->pointer, 0, 0, 0, "%s",
                         ge.message);
    return RR_OK;
}

int rr_validator_compile(rr_router *r, rr_validator_def *d, const json_t *obj, rr_error *err) {
    struct rr_validator_impl *v = rr_calloc(&r->a, 1, sizeof *v);
    if (!v)
        return rr_err(err, RR_ENOMEM, "out of memory");
    d->impl = v;
    int rc;
    if (!strcmp(d->type, "schema")) {
        v->type = V_SCHEMA;
        rc = compile_schema(r, d, v, obj, err);
    } else if (!strcmp(d->type, "grounding")) {
        v->type = V_GROUNDING;
        rc = compile_grounding(r, d, v, obj, err);
    } else if (!strcmp(d->type, "semantic")) {
        v->type = V_SEMANTIC;
        rc = rr_semantic_new(&v->semantic, r, obj, d->pointer, d->name, &r->a, err);
    } else {
        v->type = !strcmp(d->type, "safety") ? V_SAFETY : V_SHAPE;
        rc = rr_safety_new(&v->safety, obj, d->type, d->pointer, d->name, &r->a,
                           r->regex_match_limit, r->regex_depth_limit, err);
    }
    return rc;
}

void rr_validator_free(const rr_alloc *a, rr_validator_def *d) {
    struct rr_validator_impl *v = d->impl;
    if (!v)
        return;
    rr_schema_free(v->schema);
    rr_free(a, v->schema_json);
    rr_grounding_free(v->grounding);
    rr_semantic_free(v->semantic);
    rr_safety_free(v->safety);
    rr_free(a, v);
    d->impl = NULL;
}

const char *rr_validator_schema_json(const rr_validator_def *d) {
    const struct rr_validator_impl *v = d->impl;
    return v ? v->schema_json : NULL;
}

/* ---------------------------------------------------------------------------------------
 * Running a route's validators
 * ------------------------------------------------------------------------------------- */

void rr_validate_scratch_free(rr_validate_scratch *s) {
    if (!s)
        return;
    rr_grounding_scratch_free(s->grounding);
    rr_safety_scratch_free(s->safety);
    rr_free(&s->a, s->slots);
    rr_free(&s->a, s->ev_refs);
    rr_free(&s->a, (void *)s->ev_text);
    rr_free(&s->a, s->ev_len);
    s->grounding = NULL;
    s->safety = NULL;
    s->slots = NULL;
    s->ev_refs = NULL;
    s->ev_text = NULL;
    s->ev_len = NULL;
    s->capslots = s->capev = 0;
}

static bool grow(const rr_alloc *a, void **p, size_t *cap, size_t need, size_t elem) {
    if (*cap >= need)
        return true;
    size_t n = need < 8 ? 8 : need;
    void *q = rr_realloc(a, *p, *cap * elem, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static int evidence_views(rr_validate_scratch *s, const rr_request *q) {
    size_t n = q ? q->nev : 0;
    size_t c1 = s->capev, c2 = s->capev, c3 = s->capev;
    if (!grow(&s->a, (void **)&s->ev_refs, &c1, n, sizeof *s->ev_refs) ||
        !grow(&s->a, (void **)&s->ev_text, &c2, n, sizeof *s->ev_text) ||
        !grow(&s->a, (void **)&s->ev_len, &c3, n, sizeof *s->ev_len))
        return RR_ENOMEM;
    s->capev = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
    for (size_t i = 0; i < n; i++) {
        const rr_req_evidence *e = &q->ev[i];
        s->ev_refs[i].id = rr_req_str(q, e->id_off);
        s->ev_refs[i].text = rr_req_str(q, e->text_off);
        s->ev_refs[i].len = e->text_len;
        s->ev_text[i] = s->ev_refs[i].text;
        s->ev_len[i] = e->text_len;
    }
    s->nev = n;
    return RR_OK;
}

static bool needs_json(const rr_router *r, const rr_route_def *rt) {
    if (strcmp(rt->output_mode, "text"))
        return true;
    for (size_t i = 0; i < rt->nvalidators; i++) {
        const struct rr_validator_impl *v = r->validators[rt->validators[i]].impl;
        if (v->type == V_SCHEMA || v->type == V_SEMANTIC)
            return true;
    }
    return false;
}

static const rr_schema *first_schema(const rr_router *r, const rr_route_def *rt) {
    for (size_t i = 0; i < rt->nvalidators; i++) {
        const struct rr_validator_impl *v = r->validators[rt->validators[i]].impl;
        if (v->type == V_SCHEMA)
            return v->schema;
    }
    return NULL;
}

/* Parse the output as JSON; on failure record "invalid_json" / "truncated_json". */
static int parse_output(const rr_router *r, const rr_route_def *rt, const char *out, size_t len,
                        rr_verdict *v, json_t **doc, rr_error *err) {
    const rr_schema *sc = first_schema(r, rt);
    bool truncated = false;
    rr_error pe = RR_ERROR_INIT;
    int rc;
    if (sc) {
        rc = rr_schema_parse_instance(sc, out, len, v, doc, &truncated, &pe);
    } else {
        json_error_t je;
        *doc = json_loadb(out, len, JSON_DECODE_ANY, &je);
        rc = *doc ? RR_OK : RR_EJSON;
        if (!*doc) {
            truncated = rr_json_is_truncated_prefix(out, len);
            snprintf(pe.message, sizeof pe.message, "line %d, column %d: %s", je.line, je.column,
                     je.text);
        }
    }
    if (rc == RR_OK)
        return RR_OK;
    if (rc != RR_EJSON && rc != RR_EUTF8 && rc != RR_EDEPTH && rc != RR_ETOOBIG)
        return rr_err(err, rc, "%s", pe.message);
    const char *vname = "json";
    rr_verdict_add(v, vname, truncated ? "truncated_json" : "invalid_json", "", "", 0, "", 0, -1,
                   -1, "the output is not %s JSON: %s", truncated ? "complete" : "valid",
                   pe.message);
    rr_verdict_fail(v, truncated ? RR_FAIL_TRUNCATED : RR_FAIL_SCHEMA);
    *doc = NULL;
    return RR_OK;
}

static int run_one(const rr_router *r, const rr_decision *d, const rr_validator_def *vd,
                   const char *out, size_t len, const json_t *doc, rr_request *q,
                   rr_validate_scratch *s, rr_verdict *v, rr_error *err) {
    const struct rr_validator_impl *impl = vd->impl;
    switch (impl->type) {
    case V_SCHEMA:
        return doc ? rr_schema_validate_json(impl->schema, doc, v, vd->name, err) : RR_OK;
    case V_GROUNDING:
        if (!s->grounding && rr_grounding_scratch_new(&s->grounding, &s->a) != RR_OK)
            return rr_err(err, RR_ENOMEM, "out of memory");
        return rr_grounding_check(impl->grounding, s->grounding, out, len, s->ev_refs, s->nev, v,
                                  err);
    case V_SEMANTIC: {
        if (!doc)
            return RR_OK;
        size_t need = rr_semantic_slot_count(impl->semantic);
        if (!grow(&s->a, (void **)&s->slots, &s->capslots, need, sizeof *s->slots))
            return rr_err(err, RR_ENOMEM, "out of memory");
        memcpy(s->slots, d->slots, r->nslots * sizeof *s->slots);
        return rr_semantic_check(impl->semantic, doc, s->slots, v, err);
    }
    default: {
        if (!s->safety && rr_safety_scratch_new(&s->safety, &s->a) != RR_OK)
            return rr_err(err, RR_ENOMEM, "out of memory");
        rr_safety_input in = {out, len, strcmp(d->router->routes[d->route].output_mode, "text") != 0,
                              q && q->has_text ? rr_req_str(q, q->text_off) : "",
                              q && q->has_text ? q->text_len : 0,
                              s->ev_text, s->ev_len, s->nev, &d->tf};
        return rr_safety_check(impl->safety, s->safety, &in, v, err);
    }
    }
}

int rr_validate(const rr_router *r, const rr_decision *d, const char *out, size_t len,
                rr_request *q, rr_verdict *v, rr_error *err) {
    if (!r || !d || !v || (!out && len))
        return rr_err(err, RR_EINVAL, "rr_validate: NULL argument");
    if (d->router != r)
        return rr_err(err, RR_EINVAL, "rr_validate: the decision comes from another router");
    if (len > r->max_output_bytes)
        return rr_err(err, RR_ETOOBIG, "output is %zu bytes; the router's maximum is %llu", len,
                      (unsigned long long)r->max_output_bytes);
    if (!out)
        out = "";
    uint64_t t0 = rr_now_ns();
    rr_verdict_clear(v);
    const rr_route_def *rt = &r->routes[d->route];
    rr_validate_scratch local, *s = q ? &q->vscratch : &local;
    if (!q) {
        memset(&local, 0, sizeof local);
        local.a = r->a;
    }
    int rc = evidence_views(s, q);
    if (rc != RR_OK) {
        rr_err(err, rc, "out of memory");
        goto done;
    }
    if (rr_utf8_check(out, len) != len) {
        size_t at = rr_utf8_check(out, len);
        rr_verdict_add(v, "utf8", "invalid_utf8", "", "", 0, "", 0, (int64_t)at, (int64_t)at + 1,
                       "the output is not valid UTF-8 at byte %zu", at);
        rr_verdict_fail(v, RR_FAIL_SAFETY);
        goto done;
    }
    json_t *doc = NULL;
    if (needs_json(r, rt) && (rc = parse_output(r, rt, out, len, v, &doc, err)) != RR_OK)
        goto done;
    for (size_t i = 0; i < rt->nvalidators && rc == RR_OK; i++) {
        const rr_validator_def *vd = &r->validators[rt->validators[i]];
        uint64_t t1 = rr_now_ns();
        size_t before = v->nfindings;
        int was_passed = v->passed;
        rc = run_one(r, d, vd, out, len, doc, q, s, v, err);
        /* After an earlier failure, judge a validator by whether it found anything. */
        rr_verdict_ran(v, vd->name, vd->version, vd->type,
                       was_passed ? v->passed : v->nfindings == before, rr_now_ns() - t1);
    }
    if (doc)
        json_decref(doc);
done:
    v->ns = rr_now_ns() - t0;
    v->json_valid = false;
    if (!q)
        rr_validate_scratch_free(&local);
    return rc;
}

int rr_escalate_verdict(const rr_router *r, const rr_decision *d, const rr_verdict *v,
                        rr_decision **next, rr_error *err) {
    if (!v)
        return rr_err(err, RR_EINVAL, "rr_escalate_verdict: NULL verdict");
    if (v->passed || !v->failure || !v->failure[0])
        return rr_err(err, RR_EINVAL, "rr_escalate_verdict: the verdict passed");
    return rr_escalate(r, d, v->failure, 0, next, err);
}
