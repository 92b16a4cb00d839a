/* Policies that name trained classifiers: task, task.p, p.<label>, p_<name> in conditions,
 * the task stage falling back to the classifier, and records naming the model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"
#include "routeright.h"

static char dir[] = "/tmp/rr-clf-policy-XXXXXX";

static const char *const faq[] = {"how do I reset my password", "where can I change my email",
                                  "how do I export my invoices", "what is the price of the pro plan",
                                  "how can I add a new user", "where do I find the api docs"};
static const char *const broken[] = {"the export fails with error 500", "login is broken since today",
                                     "sync keeps crashing on startup", "upload times out every time",
                                     "the dashboard shows an error", "webhooks stopped working"};

static void train_to(const char *path, bool binary) {
    rr_clf_sample s[120];
    size_t n = 0;
    for (int rep = 0; rep < 10; rep++)
        for (int i = 0; i < 6; i++) {
            s[n++] = (rr_clf_sample){faq[i], strlen(faq[i]), binary ? "weak" : "faq"};
            s[n++] = (rr_clf_sample){broken[i], strlen(broken[i]), binary ? "strong" : "troubleshoot"};
        }
    rr_clf_train_opts o;
    rr_clf_train_opts_default(&o);
    o.seed = 7;
    o.name = binary ? "strong_needed" : "task_families";
    o.version = "test-1";
    if (binary)
        o.positive = "strong";
    rr_classifier *m = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_clf_train(&m, s, n, NULL, 0, &o, NULL, NULL, &err);
    if (rc)
        fprintf(stderr, "train: %s\n", err.message);
    assert_int_equal(rc, RR_OK);
    assert_int_equal(rr_classifier_write(m, path, &err), RR_OK);
    rr_classifier_free(m);
}

static int setup(void **state) {
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    char p[512];
    snprintf(p, sizeof p, "%s/task.rrc", dir);
    train_to(p, false);
    snprintf(p, sizeof p, "%s/strong.rrc", dir);
    train_to(p, true);
    snprintf(p, sizeof p, "%s/corrupt.rrc", dir);
    FILE *f = fopen(p, "wb");
    fputs("definitely not a model", f);
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static const char policy_fmt[] =
    "{\"policy\":\"clf\",\"version\":\"1\","
    "\"models\":{\"s\":{\"tier\":1,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1},"
    "\"p\":{\"tier\":3,\"usd_per_mtok_in\":5,\"usd_per_mtok_out\":5}},"
    "\"classifiers\":{\"task\":{\"file\":\"%s\"},\"strong\":{\"file\":\"strong.rrc\"}},"
    "\"patterns\":{\"refund\":[\"refund\"]},"
    "\"tasks\":[{\"id\":\"refunds\",\"when\":\"match.refund\",\"task\":\"draft_policy\"}],"
    "\"rules\":[{\"id\":\"hard\",\"when\":\"p_strong >= 0.5\",\"route\":\"big\"},"
    "{\"id\":\"faq\",\"when\":\"task == 'faq' && task.p >= 0.5 && p.faq > p.troubleshoot\","
    "\"route\":\"small\"},{\"id\":\"rest\",\"when\":\"true\",\"route\":\"big\"}],"
    "\"routes\":{\"small\":{\"model\":\"s\"},\"big\":{\"model\":\"p\"}}}";

static rr_router *build(const char *task_file, rr_error *err) {
    char policy[2048];
    snprintf(policy, sizeof policy, policy_fmt, task_file);
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    o.base_dir = dir;
    rr_router *r = NULL;
    int rc = rr_router_new(&r, policy, strlen(policy), &o, err);
    return rc == RR_OK ? r : NULL;
}

static rr_decision *route(rr_router *r, const char *text) {
    rr_request *q = NULL;
    rr_decision *d = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    assert_int_equal(rr_request_set_text(q, text, strlen(text)), RR_OK);
    rr_error err = RR_ERROR_INIT;
    int rc = rr_route(r, q, &d, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    rr_request_free(q);
    return d;
}

static void test_task_classifier_decides_when_no_task_rule_matches(void **state) {
    (void)state;
    rr_error err = RR_ERROR_INIT;
    rr_router *r = build("task.rrc", &err);
    if (!r)
        fprintf(stderr, "%s\n", err.message);
    assert_non_null(r);
    rr_decision *d = route(r, "how do I reset my password");
    assert_string_equal(rr_decision_task(d), "faq");
    assert_string_equal(rr_decision_route(d), "small");
    assert_non_null(strstr(rr_decision_reason(d), "task=faq(classifier p="));
    const char *js = rr_decision_json(d, NULL);
    assert_non_null(strstr(js, "\"classifiers\":{\"task\":{\"model\":\"task_families\""));
    assert_non_null(strstr(js, "\"version\":\"test-1\""));
    assert_non_null(strstr(js, "\"top\":[{\"label\":\"faq\""));
    rr_decision_free(d);
    /* An explicit task rule wins over the classifier. */
    d = route(r, "how do I get a refund");
    assert_string_equal(rr_decision_task(d), "draft_policy");
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_binary_classifier_feeds_p_strong(void **state) {
    (void)state;
    rr_router *r = build("task.rrc", NULL);
    assert_non_null(r);
    rr_decision *d = route(r, "the export fails with error 500");
    assert_string_equal(rr_decision_rule(d), "hard");
    assert_non_null(strstr(rr_decision_reason(d), "p_strong="));
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_bad_model_file_is_a_policy_error_with_pointer(void **state) {
    (void)state;
    rr_error err = RR_ERROR_INIT;
    assert_null(build("corrupt.rrc", &err));
    assert_int_equal(err.code, RR_EMODEL);
    assert_string_equal(err.pointer, "/classifiers/task/file");
    assert_null(build("missing.rrc", &err));
    assert_int_equal(err.code, RR_EIO);
    assert_non_null(strstr(err.message, "missing.rrc"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_classifier_decides_when_no_task_rule_matches),
        cmocka_unit_test(test_binary_classifier_feeds_p_strong),
        cmocka_unit_test(test_bad_model_file_is_a_policy_error_with_pointer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
