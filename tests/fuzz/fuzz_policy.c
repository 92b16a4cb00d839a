/* libFuzzer target: the policy compiler (and, when a policy compiles, one route through it). */
#include <stdint.h>
#include <string.h>

#include "routeright.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_router_new(&r, (const char *)data, size, NULL, &err) != RR_OK) {
        /* Every failure must say what went wrong. */
        if (!err.message[0] || err.code >= 0)
            __builtin_trap();
        return 0;
    }
    rr_request *q = NULL;
    rr_decision *d = NULL;
    if (rr_request_new(&q, NULL) == RR_OK) {
        static const char t[] = "I want a refund, card 4111 1111 1111 1111, mail a@b.co?";
        rr_request_set_text(q, t, sizeof t - 1);
        rr_request_set_attr(q, "tenant.tier", "regulated");
        rr_request_add_evidence(q, "kb", "refund policy", 13, 0.5);
        if (rr_route(r, q, &d, NULL) == RR_OK) {
            if (!rr_decision_json(d, NULL) || !rr_decision_route(d)[0])
                __builtin_trap();
        }
    }
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
    return 0;
}
