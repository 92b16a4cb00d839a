/* rrctl validate: JSONL records in, verdict records out.
 * Each input line: {"output": "..."} plus one of
 *   "schema": {...}                      validate the output against this JSON Schema
 *   "route": "id" (+ "request": {...})   run the route's validators from --policy
 *   "evidence": [{"id","text"}]          grounding with the default thresholds */
#define _POSIX_C_SOURCE 200809L
#include "rrctl.h"
#include "validate_grounding.h"
#include "verdict.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int one_line(rr_router *r, rr_request *q, rr_decision **d, rr_verdict *v,
                    rr_grounding *g, rr_grounding_scratch *gs, const char *line, size_t n,
                    long lineno, int format_assert) {
    json_error_t je;
    json_t *rec = json_loadb(line, n, 0, &je);
    rr_error err = RR_ERROR_INIT;
    int rc = RR_OK;
    if (!rec || !json_is_object(rec) || !json_is_string(json_object_get(rec, "output"))) {
        fprintf(stderr, "rrctl validate: line %ld: %s\n", lineno,
                rec ? "a record needs \"output\": string" : je.text);
        json_decref(rec);
        return 1;
    }
    json_t *out = json_object_get(rec, "output");
    const char *o = json_string_value(out);
    size_t olen = json_string_length(out);
    json_t *schema = json_object_get(rec, "schema"), *route = json_object_get(rec, "route"),
           *ev = json_object_get(rec, "evidence");
    if (schema) {
        char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        rr_schema *s = NULL;
        rr_schema_options so = RR_SCHEMA_OPTIONS_INIT;
        so.flags = format_assert ? RR_SCHEMA_FORMAT_ASSERT : 0;
        rc = rr_schema_new(&s, text, strlen(text), &so, &err);
        free(text);
        if (rc == RR_OK)
            rc = rr_schema_validate(s, o, olen, v, &err);
        rr_schema_free(s);
    } else if (route) {
        json_t *req = json_object_get(rec, "request");
        char *rtext = req ? json_dumps(req, JSON_COMPACT) : NULL;
        rc = rtext ? rr_request_from_json(q, rtext, strlen(rtext), &err)
                   : (rr_request_reset(q), rr_request_set_text(q, "", 0));
        free(rtext);
        if (rc == RR_OK)
            rc = rr_route_to(r, q, json_string_value(route) ? json_string_value(route) : "", d,
                             &err);
        if (rc == RR_OK)
            rc = rr_validate(r, *d, o, olen, q, v, &err);
    } else if (json_is_array(ev)) {
        size_t ne = json_array_size(ev);
        rr_evidence_ref *refs = calloc(ne ? ne : 1, sizeof *refs);
        for (size_t i = 0; i < ne; i++) {
            json_t *e = json_array_get(ev, i);
            refs[i].id = json_string_value(json_object_get(e, "id"));
            refs[i].text = json_string_value(json_object_get(e, "text"));
            refs[i].len = refs[i].text ? json_string_length(json_object_get(e, "text")) : 0;
            if (!refs[i].text)
                refs[i].text = "";
        }
        rr_verdict_reset(v);
        rc = rr_grounding_check(g, gs, o, olen, refs, ne, v, &err);
        free(refs);
    } else {
        fprintf(stderr, "rrctl validate: line %ld: a record needs \"schema\", \"route\" or "
                        "\"evidence\"\n", lineno);
        json_decref(rec);
        return 1;
    }
    json_t *id = json_object_get(rec, "id");
    if (rc != RR_OK) {
        fprintf(stderr, "rrctl validate: line %ld: %s [%s]\n", lineno, err.message,
                rr_error_name(rc));
    } else {
        size_t vn;
        const char *vj = rr_verdict_json(v, &vn);
        char *ids = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        printf("{\"line\":%ld,%s%s%s\"verdict\":%.*s}\n", lineno, ids ? "\"id\":" : "",
               ids ? ids : "", ids ? "," : "", (int)vn, vj);
        free(ids);
    }
    json_decref(rec);
    return rc != RR_OK;
}

int rrctl_cmd_validate(int argc, char **argv) {
    const char *policy = NULL;
    int format_assert = 0, strict = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs("usage: rrctl validate [--policy FILE] [--format-assert] [--strict] < records.jsonl\n\n"
                  "Scores model outputs. Each JSONL record holds \"output\" (the model's text) and\n"
                  "one of: \"schema\" (a JSON Schema), \"route\" (a route id of the policy, with an\n"
                  "optional \"request\" {text, attrs, evidence} for grounding and semantic checks),\n"
                  "or \"evidence\" [{id, text}] (grounding with default thresholds). An \"id\" is\n"
                  "copied to the output. Writes one {\"line\", \"id\", \"verdict\"} record per input\n"
                  "line. --format-assert treats \"format\" as an assertion for \"schema\" records.\n"
                  "Exit code 3 when some records were invalid (reported on stderr).\n", stdout);
            return RRCTL_OK;
        } else if (!strcmp(argv[i], "--policy") && i + 1 < argc) {
            policy = argv[++i];
        } else if (!strcmp(argv[i], "--format-assert")) {
            format_assert = 1;
        } else if (!strcmp(argv[i], "--strict")) {
            strict = 1;
        } else {
            fprintf(stderr, "rrctl validate: unknown option '%s'\n", argv[i]);
            return RRCTL_USAGE;
        }
    }
    rr_router *r = NULL;
    int rc = rrctl_load_router(policy, &r);
    if (rc != RRCTL_OK)
        return rc;
    rr_request *q = NULL;
    rr_decision *d = NULL;
    rr_verdict *v = NULL;
    rr_grounding *g = NULL;
    rr_grounding_scratch *gs = NULL;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    if (rr_request_new(&q, NULL) || rr_verdict_new(&v, NULL) ||
        rr_grounding_new(&g, NULL, &a, NULL) || rr_grounding_scratch_new(&gs, &a)) {
        rr_router_free(r);
        return RRCTL_FAILURE;
    }
    char *buf = NULL;
    size_t cap = 0;
    long n, lineno = 0, bad = 0;
    while ((n = rrctl_getline(&buf, &cap, stdin)) >= 0) {
        lineno++;
        if (n == 0)
            continue;
        bad += one_line(r, q, &d, v, g, gs, buf, (size_t)n, lineno, format_assert);
        if (bad && strict)
            break;
    }
    free(buf);
    rr_grounding_scratch_free(gs);
    rr_grounding_free(g);
    rr_verdict_free(v);
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
    if (bad)
        fprintf(stderr, "rrctl validate: %ld invalid record%s\n", bad, bad == 1 ? "" : "s");
    return bad ? RRCTL_INPUT : RRCTL_OK;
}
