/* rrctl route / rrctl features: JSONL requests in, JSONL records out. */
#define _POSIX_C_SOURCE 200809L
#include "rrctl.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *policy;
    const char *text;
    int explain, spans, strict;
} route_opts;

static int parse_opts(int argc, char **argv, route_opts *o, const char *cmd, const char *help) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return -1;
        } else if (!strcmp(a, "--policy") && i + 1 < argc) {
            o->policy = argv[++i];
        } else if (!strcmp(a, "--text") && i + 1 < argc) {
            o->text = argv[++i];
        } else if (!strcmp(a, "--explain") && !strcmp(cmd, "route")) {
            o->explain = 1;
        } else if (!strcmp(a, "--spans") && !strcmp(cmd, "features")) {
            o->spans = 1;
        } else if (!strcmp(a, "--strict")) {
            o->strict = 1;
        } else {
            fprintf(stderr, "rrctl %s: unknown or incomplete option '%s' (see --help)\n", cmd, a);
            return RRCTL_USAGE;
        }
    }
    return 0;
}

static void explain(rr_decision *d, long line) {
    printf("request %ld\n", line);
    printf("  route        %s (version %s)\n", rr_decision_route(d), rr_decision_route_version(d));
    static const char *const kinds[] = {"model", "human review", "clarify", "defer", "refuse"};
    printf("  kind         %s\n", kinds[rr_decision_kind(d)]);
    if (rr_decision_kind(d) == RR_ROUTE_MODEL) {
        printf("  model        %s, prompt %s, output %s, context %lld tokens\n",
               rr_decision_model(d), rr_decision_prompt(d), rr_decision_output_mode(d),
               (long long)rr_decision_context_tokens(d));
        printf("  tools       ");
        for (size_t i = 0; i < rr_decision_tool_count(d); i++)
            printf(" %s", rr_decision_tool(d, i));
        printf("%s\n  validators  ", rr_decision_tool_count(d) ? "" : " (none)");
        for (size_t i = 0; i < rr_decision_validator_count(d); i++)
            printf(" %s", rr_decision_validator(d, i));
        printf("%s\n  escalation  ", rr_decision_validator_count(d) ? "" : " (none)");
        for (size_t i = 0; i < rr_decision_escalation_count(d); i++) {
            const char *f, *t;
            rr_decision_escalation(d, i, &f, &t);
            printf(" %s->%s", f, t);
        }
        printf("\n");
    } else {
        printf("  message      %s\n", rr_decision_message(d));
    }
    printf("  task         %s\n", rr_decision_task(d));
    printf("  rule         %s\n", rr_decision_rule(d)[0] ? rr_decision_rule(d) : "(none)");
    printf("  reason       %s\n", rr_decision_reason(d));
    printf("  time         %llu ns\n\n", (unsigned long long)rr_decision_route_ns(d));
}

/* Route one request; returns 0 on success, 1 on a bad record. */
static int route_one(rr_router *r, rr_request *q, rr_decision **d, const route_opts *o,
                     long line, int features) {
    rr_error err = RR_ERROR_INIT;
    if (features) {
        size_t n;
        const char *js = rr_request_features_json(r, q, o->spans ? RR_FEATURES_SPANS : 0, &n, &err);
        if (!js) {
            fprintf(stderr, "rrctl features: line %ld: %s [%s]\n", line, err.message,
                    rr_error_name(err.code));
            return 1;
        }
        fwrite(js, 1, n, stdout);
        fputc('\n', stdout);
        return 0;
    }
    if (rr_route(r, q, d, &err) != RR_OK) {
        fprintf(stderr, "rrctl route: line %ld: %s [%s]\n", line, err.message,
                rr_error_name(err.code));
        return 1;
    }
    if (o->explain) {
        explain(*d, line);
    } else {
        size_t n;
        const char *js = rr_decision_json(*d, &n);
        if (!js)
            return 1;
        fwrite(js, 1, n, stdout);
        fputc('\n', stdout);
    }
    return 0;
}

static int run(int argc, char **argv, const char *cmd, const char *help, int features) {
    route_opts o = {0};
    int rc = parse_opts(argc, argv, &o, cmd, help);
    if (rc)
        return rc < 0 ? RRCTL_OK : rc;
    rr_router *r = NULL;
    if ((rc = rrctl_load_router(o.policy, &r)) != RRCTL_OK)
        return rc;
    rr_request *q = NULL;
    rr_decision *d = NULL;
    if (rr_request_new(&q, NULL) != RR_OK) {
        rr_router_free(r);
        return RRCTL_FAILURE;
    }
    long bad = 0;
    if (o.text) {
        int src = rr_request_set_text(q, o.text, strlen(o.text));
        if (src != RR_OK) {
            fprintf(stderr, "rrctl %s: --text: %s\n", cmd, rr_strerror(src));
            bad++;
        } else {
            bad += route_one(r, q, &d, &o, 1, features);
        }
    } else {
        char *buf = NULL;
        size_t cap = 0;
        long n, line = 0;
        while ((n = rrctl_getline(&buf, &cap, stdin)) >= 0) {
            line++;
            if (n == 0)
                continue;
            rr_error err = RR_ERROR_INIT;
            if (rr_request_from_json(q, buf, (size_t)n, &err) != RR_OK) {
                fprintf(stderr, "rrctl %s: line %ld: %s [%s]\n", cmd, line, err.message,
                        rr_error_name(err.code));
                bad++;
            } else {
                bad += route_one(r, q, &d, &o, line, features);
            }
            if (bad && o.strict)
                break;
        }
        free(buf);
    }
    fflush(stdout);
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
    if (bad)
        fprintf(stderr, "rrctl %s: %ld invalid record%s\n", cmd, bad, bad == 1 ? "" : "s");
    return bad ? RRCTL_INPUT : RRCTL_OK;
}

int rrctl_cmd_route(int argc, char **argv) {
    static const char help[] =
        "usage: rrctl route [--policy FILE] [--text T] [--explain] [--strict]\n\n"
        "Routes requests through a policy (default: the built-in support-copilot policy).\n"
        "Input: JSONL on stdin, one request per line:\n"
        "  {\"text\": \"...\", \"attrs\": {\"tenant.tier\": \"regulated\"},\n"
        "   \"evidence\": [{\"id\": \"kb1\", \"text\": \"...\", \"score\": 0.82}],\n"
        "   \"conversation_id\": \"c-1\"}\n"
        "or a single request with --text. Output: one decision record (JSON) per line, or\n"
        "with --explain each stage in words. Invalid lines are reported on stderr with\n"
        "their line number and skipped (--strict: stop at the first); the exit code is then 3.\n";
    return run(argc, argv, "route", help, 0);
}

int rrctl_cmd_features(int argc, char **argv) {
    static const char help[] =
        "usage: rrctl features [--policy FILE] [--text T] [--spans] [--strict]\n\n"
        "Prints the features the policy sees for each JSONL request on stdin (numbers and\n"
        "flags only). --spans adds each PII detection as {type, start, end} byte offsets,\n"
        "for evaluating the detectors on labelled data; values are never printed.\n";
    return run(argc, argv, "features", help, 1);
}
