/* rrctl lint: compile a policy and report. */
#include "rrctl.h"

#include <stdlib.h>
#include <string.h>

int rrctl_cmd_lint(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs("usage: rrctl lint [--json] FILE\n\n"
                  "Compiles the policy FILE. Errors are printed with their JSON pointer, line and\n"
                  "column (and the column inside an expression); then warnings, and for each\n"
                  "entry route its worst-case escalation ladder with cost and latency.\n"
                  "--json prints the compiler's report as JSON. Exit code 2 on error.\n",
                  stdout);
            return RRCTL_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "rrctl lint: unknown option '%s'\n", argv[i]);
            return RRCTL_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "rrctl lint: one policy file at a time\n");
            return RRCTL_USAGE;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: rrctl lint [--json] FILE\n");
        return RRCTL_USAGE;
    }
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new_from_file(&r, path, NULL, &err);
    if (rc != RR_OK) {
        fprintf(stderr, "%s:%u:%u: error: %s [%s]\n", path, (unsigned)err.line,
                (unsigned)err.column, err.message, rr_error_name(err.code));
        if (err.pointer[0])
            fprintf(stderr, "  at %s%s\n", err.pointer, err.expr_column ? " (expression)" : "");
        return rc == RR_EIO ? RRCTL_FAILURE : RRCTL_POLICY;
    }
    size_t n;
    const char *report = rr_router_report_json(r, &n);
    if (json) {
        fwrite(report, 1, n, stdout);
        fputc('\n', stdout);
    } else {
        printf("%s: policy %s version %s, fingerprint %s: OK\n", path, rr_router_policy_name(r),
               rr_router_policy_version(r), rr_router_fingerprint(r));
        /* The report is our own JSON; print it plainly without a JSON library. */
        const char *w = strstr(report, "\"warnings\":[");
        const char *l = strstr(report, "\"ladders\":[");
        int nw = 0;
        for (const char *p = w; p && p < l && (p = strstr(p, "\"message\":")); p++)
            nw++;
        printf("%d warning%s\n", nw, nw == 1 ? "" : "s");
        for (const char *p = w; p && p < l && (p = strstr(p, "{\"pointer\":")) && p < l; p++) {
            const char *ptr = p + 12, *pe = strchr(ptr, '"');
            const char *m = strstr(p, "\"message\":") + 11, *me = m;
            while (*me && !(*me == '"' && me[-1] != '\\'))
                me++;
            printf("  warning: %.*s: %.*s\n", (int)(pe - ptr), ptr, (int)(me - m), m);
        }
        printf("entry routes (worst-case escalation ladder):\n");
        for (const char *p = l; p && (p = strstr(p, "{\"route\":")); p++) {
            char route[128] = "", ladder[512] = "";
            double cost = 0, lat = 0;
            int att = 0;
            sscanf(p, "{\"route\":\"%127[^\"]\",\"ladder\":[%511[^]]],\"worst_case_cost_usd\":%lf,"
                      "\"worst_case_latency_ms\":%lf,\"max_attempts\":%d",
                   route, ladder, &cost, &lat, &att);
            for (char *c = ladder; *c; c++)
                if (*c == '"')
                    *c = ' ';
            const char *next = strstr(p + 1, "{\"route\":");
            const char *cap = strstr(p, "\"capped_by_limits\":{\"max_attempts\":");
            int capped = cap && (!next || cap < next) ? atoi(cap + 35) : 0;
            printf("  %-28s $%.5f  %7.0f ms  %d attempts  [%s]", route, cost, lat, att, ladder);
            if (capped)
                printf("  (limits.max_attempts stops it after %d)", capped);
            printf("\n");
        }
    }
    rr_router_free(r);
    return RRCTL_OK;
}
