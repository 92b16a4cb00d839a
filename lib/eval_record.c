/* Replay records: one JSONL line -> the request it carries, its labels and the recorded
 * outcome of each route. The request is filled from the parsed tree directly (one parse
 * per line), with the same rules as rr_request_from_json. */
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

int rr_eval_rec_init(rr_eval_rec *r, const rr_allocator *pub) {
    memset(r, 0, sizeof *r);
    rr_alloc_init(&r->a, pub);
    return rr_request_new(&r->req, pub);
}

void rr_eval_rec_clear(rr_eval_rec *r) {
    if (r->root)
        json_decref(r->root);
    r->root = NULL;
    r->nout = 0;
}

void rr_eval_rec_free(rr_eval_rec *r) {
    if (!r)
        return;
    rr_eval_rec_clear(r);
    rr_request_free(r->req);
    rr_free(&r->a, r->out);
    r->req = NULL;
    r->out = NULL;
}

static int bad(rr_error *err, uint64_t line, const char *ptr, const char *what) {
    return rr_err_at(err, RR_EDATA, ptr, (uint32_t)(line > UINT32_MAX ? 0 : line), 0, 0,
                     "line %llu: %s", (unsigned long long)line, what);
}

static int fill_attrs(rr_eval_rec *r, json_t *attrs, rr_error *err) {
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v) {
        int rc;
        if (json_is_string(v))
            rc = rr_request_set_attr(r->req, k, json_string_value(v));
        else if (json_is_number(v))
            rc = rr_request_set_num(r->req, k, json_number_value(v));
        else if (json_is_boolean(v))
            rc = rr_request_set_bool(r->req, k, json_is_true(v));
        else
            return bad(err, r->lineno, "/attrs", "attributes must be strings, numbers or booleans");
        if (rc == RR_ENOMEM)
            return rr_err(err, rc, "out of memory");
        if (rc != RR_OK)
            return bad(err, r->lineno, "/attrs", rr_strerror(rc));
    }
    return RR_OK;
}

static int fill_evidence(rr_eval_rec *r, json_t *ev, rr_error *err) {
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e) {
        json_t *id = json_object_get(e, "id"), *text = json_object_get(e, "text"),
               *score = json_object_get(e, "score");
        if (!json_is_object(e) || !json_is_string(id) || !json_is_string(text) ||
            (score && !json_is_number(score)) || json_object_size(e) != 2u + (score != NULL))
            return bad(err, r->lineno, "/evidence",
                       "evidence must be [{\"id\": string, \"text\": string, \"score\": number}]");
        int rc = rr_request_add_evidence(r->req, json_string_value(id), json_string_value(text),
                                         json_string_length(text),
                                         score ? json_number_value(score) : 0.0);
        if (rc == RR_ENOMEM)
            return rr_err(err, rc, "out of memory");
        if (rc != RR_OK)
            return bad(err, r->lineno, "/evidence", rr_strerror(rc));
        r->in_bytes += json_string_length(text);
    }
    return RR_OK;
}

static int fill_labels(rr_eval_rec *r, json_t *l, rr_error *err) {
    if (!json_is_object(l))
        return bad(err, r->lineno, "/labels", "'labels' must be an object");
    json_t *t = json_object_get(l, "task"), *k = json_object_get(l, "risk"),
           *h = json_object_get(l, "human_review"), *a = json_object_get(l, "acceptable_routes");
    if ((t && !json_is_string(t)) || (k && !json_is_string(k)) || (h && !json_is_boolean(h)))
        return bad(err, r->lineno, "/labels",
                   "labels.task and labels.risk must be strings, labels.human_review a boolean");
    if (a) {
        size_t i;
        json_t *v;
        if (!json_is_array(a))
            return bad(err, r->lineno, "/labels/acceptable_routes",
                       "must be an array of route ids");
        json_array_foreach(a, i, v) if (!json_is_string(v)) return bad(
            err, r->lineno, "/labels/acceptable_routes", "must be an array of route ids");
    }
    r->task = t ? json_string_value(t) : NULL;
    r->risk = k ? json_string_value(k) : NULL;
    r->human_review = h ? json_is_true(h) : -1;
    r->acceptable = a;
    return RR_OK;
}

static double num_or_nan(const json_t *v) {
    return v ? json_number_value(v) : NAN;
}

/* One outcome object. Every field is optional; present ones must have the right type. */
static int parse_outcome(rr_eval_rec *r, const char *route, json_t *o, rr_error *err) {
    char ptr[300];
    snprintf(ptr, sizeof ptr, "/outcomes/%s", route);
    if (!json_is_object(o))
        return bad(err, r->lineno, ptr, "an outcome must be an object");
    rr_eval_outcome x = {route, NAN, -1, NAN, NAN, -1, -1, NULL, 0, NULL, 0, -1, -1};
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool ok = true;
        if (!strcmp(k, "quality")) {
            x.quality = num_or_nan(json_is_number(v) ? v : NULL);
            ok = x.quality >= 0 && x.quality <= 1;
        } else if (!strcmp(k, "accepted") || !strcmp(k, "retriable") ||
                   !strcmp(k, "schema_valid")) {
            ok = json_is_boolean(v);
            int b = json_is_true(v);
            *(k[0] == 'a' ? &x.accepted : k[0] == 'r' ? &x.retriable : &x.schema_valid) = b;
        } else if (!strcmp(k, "cost_usd") || !strcmp(k, "latency_ms")) {
            double d = json_is_number(v) ? json_number_value(v) : -1;
            ok = d >= 0 && isfinite(d);
            *(k[0] == 'c' ? &x.cost_usd : &x.latency_ms) = d;
        } else if (!strcmp(k, "input_tokens") || !strcmp(k, "output_tokens")) {
            ok = json_is_integer(v) && json_integer_value(v) >= 0;
            *(k[0] == 'i' ? &x.input_tokens : &x.output_tokens) = json_integer_value(v);
        } else if (!strcmp(k, "output")) {
            ok = json_is_string(v);
            x.output = json_string_value(v);
            x.output_len = json_string_length(v);
        } else if (!strcmp(k, "failure")) {
            ok = json_is_string(v);
            x.failure = json_string_value(v);
        } else if (!strcmp(k, "confidence")) {
            x.confidence = json_is_number(v) ? json_number_value(v) : -2;
            ok = x.confidence >= 0 && x.confidence <= 1;
        } else if (strcmp(k, "meta") && strcmp(k, "verdict")) {
            char m[400];
            snprintf(m, sizeof m,
                     "unknown outcome key '%s' (allowed: quality, accepted, "
                     "cost_usd, latency_ms, input_tokens, output_tokens, output, failure, "
                     "retriable, confidence, schema_valid, verdict, meta)",
                     k);
            return bad(err, r->lineno, ptr, m);
        }
        if (!ok) {
            char m[200];
            snprintf(m, sizeof m, "outcome field '%s' has the wrong type or range", k);
            return bad(err, r->lineno, ptr, m);
        }
    }
    if (r->nout == r->capout) {
        size_t nc = r->capout ? r->capout * 2 : 8;
        rr_eval_outcome *n = rr_realloc(&r->a, r->out, r->capout * sizeof *n, nc * sizeof *n);
        if (!n)
            return rr_err(err, RR_ENOMEM, "out of memory");
        r->out = n;
        r->capout = nc;
    }
    r->out[r->nout++] = x;
    return RR_OK;
}

static int fill_id(rr_eval_rec *r, json_t *v, rr_error *err) {
    if (json_is_string(v))
        snprintf(r->id, sizeof r->id, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(r->id, sizeof r->id, "%lld", (long long)json_integer_value(v));
    else
        return bad(err, r->lineno, "/id", "'id' must be a string or an integer");
    r->key = XXH3_64bits(r->id, strlen(r->id));
    return RR_OK;
}

static int fill_key(rr_eval_rec *r, const char *k, json_t *v, rr_error *err) {
    int rc = RR_OK;
    if (!strcmp(k, "text")) {
        if (!json_is_string(v))
            return bad(err, r->lineno, "/text", "'text' must be a string");
        rc = rr_request_set_text(r->req, json_string_value(v), json_string_length(v));
        r->in_bytes += json_string_length(v);
    } else if (!strcmp(k, "attrs")) {
        if (!json_is_object(v))
            return bad(err, r->lineno, "/attrs", "'attrs' must be an object");
        return fill_attrs(r, v, err);
    } else if (!strcmp(k, "evidence")) {
        if (!json_is_array(v))
            return bad(err, r->lineno, "/evidence", "'evidence' must be an array");
        return fill_evidence(r, v, err);
    } else if (!strcmp(k, "conversation_id")) {
        if (!json_is_string(v))
            return bad(err, r->lineno, "/conversation_id", "'conversation_id' must be a string");
        rc = rr_request_set_conversation(r->req, json_string_value(v));
    } else if (!strcmp(k, "labels")) {
        return fill_labels(r, v, err);
    } else if (!strcmp(k, "outcomes")) {
        const char *route;
        json_t *o;
        if (!json_is_object(v))
            return bad(err, r->lineno, "/outcomes", "'outcomes' must be an object {route: {...}}");
        json_object_foreach(v, route,
                            o) if ((rc = parse_outcome(r, route, o, err)) != RR_OK) return rc;
    } else if (!strcmp(k, "id")) {
        return fill_id(r, v, err);
    } else if (strcmp(k, "meta")) {
        char m[300];
        snprintf(m, sizeof m,
                 "unknown key '%s' (allowed: id, text, attrs, evidence, "
                 "conversation_id, labels, outcomes, meta)",
                 k);
        return bad(err, r->lineno, "", m);
    }
    if (rc == RR_ENOMEM)
        return rr_err(err, rc, "out of memory");
    if (rc != RR_OK) {
        char p[64];
        snprintf(p, sizeof p, "/%s", k);
        return bad(err, r->lineno, p, rr_strerror(rc));
    }
    return RR_OK;
}

int rr_eval_rec_parse(rr_eval_rec *r, const char *line, size_t len, uint64_t lineno,
                      rr_error *err) {
    rr_eval_rec_clear(r);
    rr_request_reset(r->req);
    r->lineno = lineno;
    r->id[0] = 0;
    r->key = lineno * 0x9E3779B97F4A7C15ull;
    r->task = r->risk = NULL;
    r->human_review = -1;
    r->acceptable = NULL;
    r->in_bytes = 0;
    json_error_t je;
    r->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!r->root) {
        char m[300];
        snprintf(m, sizeof m, "malformed JSON at column %d: %s", je.column, je.text);
        return bad(err, lineno, "", m);
    }
    if (!json_is_object(r->root)) {
        rr_eval_rec_clear(r);
        return bad(err, lineno, "", "a replay record must be a JSON object");
    }
    const char *k;
    json_t *v;
    int rc = RR_OK;
    json_object_foreach(r->root, k, v) if ((rc = fill_key(r, k, v, err)) != RR_OK) break;
    if (rc == RR_OK && !json_is_string(json_object_get(r->root, "text")))
        rc = bad(err, lineno, "/text", "a replay record needs \"text\"");
    if (rc != RR_OK)
        rr_eval_rec_clear(r);
    return rc;
}

const rr_eval_outcome *rr_eval_rec_outcome(const rr_eval_rec *r, const char *route) {
    for (size_t i = 0; i < r->nout; i++)
        if (!strcmp(r->out[i].route, route))
            return &r->out[i];
    return NULL;
}

int rr_eval_rec_label_accepts(const rr_eval_rec *r, const char *route) {
    if (!r->acceptable)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(r->acceptable, i, v) if (!strcmp(json_string_value(v), route)) return 1;
    return 0;
}
