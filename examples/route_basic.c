/* The README's first C example: compile a policy, route one request, print the decision.
 *   cc route_basic.c $(pkg-config --cflags --libs routeright) && ./a.out [POLICY] */
#include <routeright.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "examples/policies/support.json";
    rr_error err = RR_ERROR_INIT;
    rr_router *router = NULL;
    if (rr_router_new_from_file(&router, path, NULL, &err) != RR_OK) {
        fprintf(stderr, "%s (line %u, column %u)\n", err.message, err.line, err.column);
        return 1;
    }
    rr_request *req = NULL;
    rr_decision *dec = NULL; /* reused across calls: no allocation after warm-up */
    if (rr_request_new(&req, NULL) != RR_OK)
        return 1;

    const char *text = "How do I reset my password?";
    const char *kb12 = "To reset your password, open Settings, choose Security and click "
                       "Reset password.";
    const char *kb40 = "Two-factor authentication can be enabled under Security.";
    rr_request_set_text(req, text, strlen(text));
    rr_request_set_attr(req, "tenant.tier", "enterprise");
    rr_request_set_bool(req, "user.authenticated", 1);
    rr_request_add_evidence(req, "kb-12", kb12, strlen(kb12), 0.91);
    rr_request_add_evidence(req, "kb-40", kb40, strlen(kb40), 0.52);

    if (rr_route(router, req, &dec, &err) != RR_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("route=%s model=%s prompt=%s\n", rr_decision_route(dec), rr_decision_model(dec),
           rr_decision_prompt(dec));
    printf("why: %s\n", rr_decision_reason(dec));
    printf("%s\n", rr_decision_json(dec, NULL)); /* the whole decision record */

    rr_request_reset(req); /* the next request reuses the same buffers */
    rr_decision_free(dec);
    rr_request_free(req);
    rr_router_free(router);
    return 0;
}
