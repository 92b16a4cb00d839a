/* rrctl: the routeright command line. Data on stdout, diagnostics on stderr. */
#define _POSIX_C_SOURCE 200809L
#include "rrctl.h"

#include <stdlib.h>
#include <string.h>

#include "cmd_demo.h"
#include "cmd_train.h"
#include "cmd_eval.h"

void rrctl_print_error(const char *what, const rr_error *err) {
    fprintf(stderr, "rrctl: %s: %s [%s]", what, err->message[0] ? err->message : rr_strerror(err->code),
            rr_error_name(err->code));
    if (err->line)
        fprintf(stderr, " (line %u, column %u)", (unsigned)err->line, (unsigned)err->column);
    fputc('\n', stderr);
}

int rrctl_load_router(const char *path, rr_router **out) {
    rr_error err = RR_ERROR_INIT;
    int rc = path ? rr_router_new_from_file(out, path, NULL, &err)
                  : rr_router_new_default(out, NULL, &err);
    if (rc != RR_OK) {
        rrctl_print_error(path ? path : "built-in policy", &err);
        return rc == RR_EIO ? RRCTL_FAILURE : RRCTL_POLICY;
    }
    return RRCTL_OK;
}

long rrctl_getline(char **buf, size_t *cap, FILE *f) {
    ssize_t n = getline(buf, cap, f);
    if (n < 0)
        return -1;
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
        (*buf)[--n] = 0;
    return (long)n;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"demo", rrctl_cmd_demo, "the support copilot end to end on a simulated backend"},
    {"route", rrctl_cmd_route, "route JSONL requests (stdin) and print decision records"},
    {"features", rrctl_cmd_features, "print the features extracted from JSONL requests"},
    {"lint", rrctl_cmd_lint, "check a policy; print errors, warnings and escalation ladders"},
    {"validate", rrctl_cmd_validate, "score model outputs (JSONL) and print verdict records"},
    {"train", rrctl_cmd_train, "train a task or strong/weak classifier from JSONL or CSV"},
    {"classify", rrctl_cmd_classify, "classify JSONL requests with a trained model"},
    {"eval-classifier", rrctl_cmd_eval_classifier, "accuracy, macro-F1, ECE, out-of-scope recall"},
    {"replay", rrctl_cmd_replay, "replay recorded outcomes (JSONL) through a policy: metrics, report"},
    {"sweep", rrctl_cmd_sweep, "replay over a range of one threshold: cost-quality table, SVG"},
    {"calibrate", rrctl_cmd_calibrate, "choose thresholds that meet objectives at least cost"},
    {"compare", rrctl_cmd_compare, "two policies on the same data: deltas with CIs, route changes"},
    {"merge", rrctl_cmd_merge, "merge `replay --partial` aggregates (one per shard)"},
    {"import", rrctl_cmd_import, "RouteLLM / RouterBench CSV -> replay JSONL"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: rrctl <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`rrctl <command> --help` describes each command.\n"
               "  --version        print the library version\n\n"
               "exit codes: 0 success; 1 bad command line; 2 policy (or other document) failed to\n"
               "compile; 3 some input records were invalid (each reported on stderr with its\n"
               "line number); 4 I/O or internal error; 5 rrctl calibrate found no threshold value that\n"
               "meets the objectives (it prints the closest feasible point).\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return RRCTL_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return RRCTL_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("rrctl %s (library %s)\n", RR_VERSION_STRING, rr_version());
        return RRCTL_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "rrctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return RRCTL_USAGE;
}
