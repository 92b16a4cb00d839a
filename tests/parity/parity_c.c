/* Parity, C side: route every request of a JSONL file through a policy with the C API and
 * print each decision record on its own line (as rr_decision_json returns it). The Python
 * and Go sides print theirs the same way; run_parity.sh compares the three.
 *   parity_c POLICY.json REQUESTS.jsonl */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routeright.h"

static int route_lines(rr_router *router, FILE *in) {
    rr_request *req = NULL;
    rr_decision *dec = NULL;
    rr_error err = RR_ERROR_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    unsigned lineno = 0;
    if (rr_request_new(&req, NULL) != RR_OK)
        return 1;
    while ((n = getline(&line, &cap, in)) > 0) {
        lineno++;
        if (rr_request_from_json(req, line, (size_t)n, &err) != RR_OK ||
            rr_route(router, req, &dec, &err) != RR_OK) {
            fprintf(stderr, "parity_c: line %u: %s\n", lineno, err.message);
            rc = 1;
            break;
        }
        size_t len = 0;
        const char *rec = rr_decision_json(dec, &len);
        if (!rec) {
            rc = 1;
            break;
        }
        fwrite(rec, 1, len, stdout);
        putchar('\n');
    }
    free(line);
    rr_decision_free(dec);
    rr_request_free(req);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: parity_c POLICY.json REQUESTS.jsonl\n");
        return 2;
    }
    rr_error err = RR_ERROR_INIT;
    rr_router *router = NULL;
    if (rr_router_new_from_file(&router, argv[1], NULL, &err) != RR_OK) {
        fprintf(stderr, "parity_c: %s: %s\n", argv[1], err.message);
        return 1;
    }
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        perror(argv[2]);
        rr_router_free(router);
        return 1;
    }
    int rc = route_lines(router, in);
    fclose(in);
    rr_router_free(router);
    return rc;
}
