/* examples/openai_compatible.c against a small HTTP server this test runs itself on
 * 127.0.0.1 (a free port the kernel picks). The server answers from a script of canned
 * replies and checks what the client sent; only loopback traffic. Exits 77 (skipped)
 * when the build has no libcurl. */
#ifdef RR_TEST_NO_CURL
#include <stdio.h>
int main(void) {
    puts("libcurl not available: openai_compatible test skipped");
    return 77;
}
#else
#define _POSIX_C_SOURCE 200809L
/* cmocka.h needs these before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../examples/openai_compatible.h"
#include "routeright.h"

/* ---- the server ---- */

enum reply {
    R_ANSWER, /* 200, a text answer with usage */
    R_TICKET, /* 200, a ticket JSON as content */
    R_429,
    R_500,
    R_400,
    R_SLOW,       /* 200 after longer than the client waits */
    R_MALFORMED,  /* 200, a body cut in the middle */
    R_NO_CHOICES, /* 200, JSON without choices */
};

/* What the server must find in the request it receives. */
typedef struct expect {
    const char *model;
    const char *response_format; /* "" = must be absent */
    const char *schema_name;
    const char *system_contains[4];
    const char *user_text;
    long max_tokens; /* 0 = not checked */
} expect;

typedef struct server {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum reply script[8];
    size_t nscript, next;
    enum reply fallback;
    expect want;
    int checking;
    int handled;
    int busy;
    int stop;
    char problems[2048]; /* what the server found wrong, for the test to assert empty */
    char path[128];
    char auth[128];
} server;

static const char ticket[] =
    "{\"category\":\"billing\",\"severity\":\"medium\",\"customer_id\":\"CUS-1042\","
    "\"summary\":\"Invoice INV-20931 charged twice\",\"needs_human\":false}";

static void problem(server *s, const char *fmt, ...) {
    size_t n = strlen(s->problems);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->problems + n, sizeof s->problems - n, fmt, ap);
    va_end(ap);
    n = strlen(s->problems);
    if (n + 2 < sizeof s->problems)
        strcat(s->problems, "; ");
}

static void check_body(server *s, const char *body, size_t len) {
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    if (!doc) {
        problem(s, "body is not JSON: %s", je.text);
        return;
    }
    const expect *w = &s->want;
    const char *model = json_string_value(json_object_get(doc, "model"));
    if (w->model && (!model || strcmp(model, w->model)))
        problem(s, "model '%s', want '%s'", model ? model : "(none)", w->model);
    json_t *msgs = json_object_get(doc, "messages");
    const char *role0 = json_string_value(json_object_get(json_array_get(msgs, 0), "role"));
    const char *sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    const char *role1 = json_string_value(json_object_get(json_array_get(msgs, 1), "role"));
    const char *user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
    if (json_array_size(msgs) != 2 || !role0 || strcmp(role0, "system") || !role1 ||
        strcmp(role1, "user") || !sys || !user)
        problem(s, "messages are not [system, user]");
    for (size_t i = 0; i < 4 && w->system_contains[i] && sys; i++)
        if (!strstr(sys, w->system_contains[i]))
            problem(s, "system message lacks '%s'", w->system_contains[i]);
    if (w->user_text && user && strcmp(user, w->user_text))
        problem(s, "user message '%s', want '%s'", user, w->user_text);
    if (w->max_tokens && json_integer_value(json_object_get(doc, "max_tokens")) != w->max_tokens)
        problem(s, "max_tokens %lld, want %ld",
                (long long)json_integer_value(json_object_get(doc, "max_tokens")), w->max_tokens);
    json_t *rf = json_object_get(doc, "response_format");
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (w->response_format && !w->response_format[0] && rf)
        problem(s, "response_format sent for a text route");
    if (w->response_format && w->response_format[0] && (!type || strcmp(type, w->response_format)))
        problem(s, "response_format.type '%s', want '%s'", type ? type : "(none)",
                w->response_format);
    if (w->schema_name) {
        json_t *js = json_object_get(rf, "json_schema");
        const char *name = json_string_value(json_object_get(js, "name"));
        if (!name || strcmp(name, w->schema_name))
            problem(s, "json_schema.name '%s', want '%s'", name ? name : "(none)", w->schema_name);
        if (!json_is_true(json_object_get(js, "strict")))
            problem(s, "json_schema.strict is not true");
        if (!json_is_object(json_object_get(js, "schema")) ||
            !json_object_get(json_object_get(js, "schema"), "required"))
            problem(s, "json_schema.schema is not the route's schema object");
    }
    json_decref(doc);
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void respond(int fd, int status, const char *body) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

static void reply(int fd, enum reply r) {
    char body[1024];
    switch (r) {
    case R_ANSWER:
        respond(fd, 200,
                "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                "\"message\":{\"role\":\"assistant\",\"content\":\"Open Settings, then "
                "Security.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
                "123,\"completion_tokens\":45,\"total_tokens\":168}}");
        break;
    case R_TICKET: {
        json_t *d =
            json_pack("{s:[{s:{s:s,s:s}}],s:{s:i,s:i}}", "choices", "message", "role", "assistant",
                      "content", ticket, "usage", "prompt_tokens", 310, "completion_tokens", 52);
        char *t = json_dumps(d, JSON_COMPACT);
        snprintf(body, sizeof body, "%s", t);
        free(t);
        json_decref(d);
        respond(fd, 200, body);
        break;
    }
    case R_429:
        respond(fd, 429, "{\"error\":{\"message\":\"rate limited\"}}");
        break;
    case R_500:
        respond(fd, 500, "{\"error\":{\"message\":\"upstream\"}}");
        break;
    case R_400:
        respond(fd, 400, "{\"error\":{\"message\":\"bad request\"}}");
        break;
    case R_SLOW: {
        struct timespec ts = {0, 900 * 1000000L};
        nanosleep(&ts, NULL);
        reply(fd, R_ANSWER);
        break;
    }
    case R_MALFORMED:
        respond(fd, 200, "{\"choices\":[{\"message\":{\"content\":\"Open Se");
        break;
    case R_NO_CHOICES:
        respond(fd, 200, "{\"id\":\"c1\",\"object\":\"chat.completion\"}");
        break;
    }
}

/* Read one request: headers, then Content-Length bytes of body. */
static int read_request(server *s, int fd, char *buf, size_t cap, size_t *body_off,
                        size_t *body_len) {
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= cap)
            return -1;
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strstr(buf, "Content-Length:");
    size_t want = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    *body_off = (size_t)(end + 4 - buf);
    while (n - *body_off < want) {
        if (n + 1 >= cap)
            return -1;
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0)
            return -1;
        n += (size_t)k;
    }
    buf[n] = 0;
    *body_len = want;
    sscanf(buf, "POST %127s", s->path);
    const char *auth = strstr(buf, "Authorization: ");
    s->auth[0] = 0;
    if (auth && auth < end)
        sscanf(auth + 15, "%127[^\r]", s->auth);
    return 0;
}

static void *serve(void *p) {
    server *s = p;
    static const size_t cap = 1 << 20;
    char *buf = malloc(cap);
    for (;;) {
        int fd = accept(s->fd, NULL, NULL);
        pthread_mutex_lock(&s->mu);
        int stop = s->stop;
        if (!stop && fd >= 0)
            s->busy = 1;
        pthread_mutex_unlock(&s->mu);
        if (stop || fd < 0) {
            if (fd >= 0)
                close(fd);
            break;
        }
        size_t off = 0, len = 0;
        int ok = buf && read_request(s, fd, buf, cap, &off, &len) == 0;
        pthread_mutex_lock(&s->mu);
        enum reply r = s->next < s->nscript ? s->script[s->next++] : s->fallback;
        if (ok && s->checking)
            check_body(s, buf + off, len);
        if (!ok)
            problem(s, "could not read a request");
        pthread_mutex_unlock(&s->mu);
        if (ok)
            reply(fd, r);
        close(fd);
        pthread_mutex_lock(&s->mu);
        s->handled++;
        s->busy = 0;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    free(buf);
    return NULL;
}

static server *server_start(void) {
    server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

static void server_stop(server *s) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    shutdown(s->fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* Script the next replies and what the requests must contain. */
static void server_script(server *s, const enum reply *r, size_t n, enum reply fallback,
                          const expect *want) {
    pthread_mutex_lock(&s->mu);
    if (n)
        memcpy(s->script, r, n * sizeof *r);
    s->nscript = n;
    s->next = 0;
    s->fallback = fallback;
    s->checking = want != NULL;
    if (want)
        s->want = *want;
    s->problems[0] = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Wait until the server has handled `n` requests in all and is idle. */
static void server_wait(server *s, int n) {
    pthread_mutex_lock(&s->mu);
    while (s->handled < n || s->busy)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* ---- fixtures ---- */

typedef struct fixture {
    server *srv;
    rr_openai_client *client;
} fixture;

static const rr_openai_model_map models[] = {{"small", "tiny-1"}, {"premium", "big-2"}};
static const rr_openai_prompt prompts[] = {{"faq_v2", "You answer product questions from the "
                                                      "documentation passages given."}};

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->srv = server_start();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->srv->port);
    rr_openai_config cfg = RR_OPENAI_CONFIG_INIT;
    cfg.base_url = url;
    cfg.api_key = "sk-test";
    cfg.models = models;
    cfg.nmodels = 2;
    cfg.prompts = prompts;
    cfg.nprompts = 1;
    cfg.timeout_ms = 300;
    if (rr_openai_client_new(&f->client, &cfg) != RR_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    rr_openai_client_free(f->client);
    server_stop(f->srv);
    free(f);
    return 0;
}

static const char *const no_tools[1] = {NULL};

static rr_model_call text_call(void) {
    rr_model_call c = {RR_MODEL_CALL_VERSION,
                       1,
                       "small_rag_v2",
                       "2",
                       "small",
                       "faq_v2",
                       "text",
                       NULL,
                       no_tools,
                       0,
                       2000,
                       400,
                       "How do I reset my password?",
                       27,
                       "",
                       "[]",
                       "{}",
                       NULL};
    return c;
}

static rr_model_result empty_result(void) {
    rr_model_result r = {RR_MODEL_RESULT_VERSION, NULL, 0, -1, -1, -1, -1};
    return r;
}

/* ---- tests ---- */

static void test_plain_answer_returns_content_usage_and_latency(void **state) {
    fixture *f = *state;
    expect want = {"tiny-1",
                   "",
                   NULL,
                   {"You answer product questions", "faq_v2", NULL, NULL},
                   "How do I reset my password?",
                   400};
    server_script(f->srv, NULL, 0, R_ANSWER, &want);
    rr_model_call c = text_call();
    rr_model_result r = empty_result();
    assert_int_equal(rr_openai_call_model(f->client, &c, &r), RR_CALL_OK);
    server_wait(f->srv, 1);
    assert_string_equal(f->srv->problems, "");
    assert_string_equal(f->srv->path, "/v1/chat/completions");
    assert_string_equal(f->srv->auth, "Bearer sk-test");
    assert_int_equal(r.output_len, strlen("Open Settings, then Security."));
    assert_memory_equal(r.output, "Open Settings, then Security.", r.output_len);
    assert_int_equal(r.input_tokens, 123);
    assert_int_equal(r.output_tokens, 45);
    assert_true(r.latency_ms >= 0);
    assert_string_equal(rr_openai_last_error(f->client), "");
    assert_int_equal(rr_openai_last_status(f->client), 200);
}

static void test_json_mode_sends_json_object_response_format(void **state) {
    fixture *f = *state;
    expect want = {"medium", "json_object",
                   NULL,     {"Reply with one JSON object", "\"required\"", "extract_v1", NULL},
                   NULL,     500};
    server_script(f->srv, NULL, 0, R_TICKET, &want);
    rr_model_call c = text_call();
    c.route = "small_extract_v1";
    c.model = "medium"; /* unmapped: sent as it is */
    c.prompt = "extract_v1";
    c.output_mode = "json";
    c.schema_json = "{\"type\":\"object\",\"required\":[\"category\"]}";
    c.max_output_tokens = 500;
    rr_model_result r = empty_result();
    assert_int_equal(rr_openai_call_model(f->client, &c, &r), RR_CALL_OK);
    server_wait(f->srv, 1);
    assert_string_equal(f->srv->problems, "");
    assert_int_equal(r.output_len, strlen(ticket));
    assert_memory_equal(r.output, ticket, r.output_len);
    assert_int_equal(r.input_tokens, 310);
}

static void test_constrained_mode_sends_strict_json_schema(void **state) {
    fixture *f = *state;
    expect want = {"big-2",
                   "json_schema",
                   "premium_extract_structured_v1",
                   {"extract_structured_v1", NULL, NULL, NULL},
                   NULL,
                   0};
    server_script(f->srv, NULL, 0, R_TICKET, &want);
    rr_model_call c = text_call();
    c.route = "premium_extract_structured_v1";
    c.model = "premium";
    c.prompt = "extract_structured_v1";
    c.output_mode = "constrained";
    c.schema_json = "{\"type\":\"object\",\"required\":[\"category\"]}";
    rr_model_result r = empty_result();
    assert_int_equal(rr_openai_call_model(f->client, &c, &r), RR_CALL_OK);
    server_wait(f->srv, 1);
    assert_string_equal(f->srv->problems, "");
}

static void test_previous_failure_findings_and_tools_reach_the_system_message(void **state) {
    fixture *f = *state;
    expect want = {
        NULL, NULL,
        NULL, {"failure: schema", "\"code\":\"required\"", "{\"crm\":\"plan=team\"}", "attempt 2"},
        NULL, 0};
    server_script(f->srv, NULL, 0, R_ANSWER, &want);
    rr_model_call c = text_call();
    c.attempt = 2;
    c.previous_failure = "schema";
    c.previous_findings = "[{\"code\":\"required\",\"instanceLocation\":\"\"}]";
    c.tool_results = "{\"crm\":\"plan=team\"}";
    rr_model_result r = empty_result();
    assert_int_equal(rr_openai_call_model(f->client, &c, &r), RR_CALL_OK);
    server_wait(f->srv, 1);
    assert_string_equal(f->srv->problems, "");
}

static int call_with(fixture *f, enum reply rep, int nth) {
    server_script(f->srv, NULL, 0, rep, NULL);
    rr_model_call c = text_call();
    rr_model_result r = empty_result();
    int st = rr_openai_call_model(f->client, &c, &r);
    server_wait(f->srv, nth);
    return st;
}

static void test_http_429_is_retriable(void **state) {
    fixture *f = *state;
    assert_int_equal(call_with(f, R_429, 1), RR_CALL_RETRIABLE);
    assert_int_equal(rr_openai_last_status(f->client), 429);
}

static void test_http_500_is_retriable(void **state) {
    fixture *f = *state;
    assert_int_equal(call_with(f, R_500, 1), RR_CALL_RETRIABLE);
    assert_int_equal(rr_openai_last_status(f->client), 500);
}

static void test_http_400_is_a_permanent_error(void **state) {
    fixture *f = *state;
    assert_int_equal(call_with(f, R_400, 1), RR_CALL_ERROR);
    assert_non_null(strstr(rr_openai_last_error(f->client), "HTTP 400"));
}

static void test_slow_response_times_out(void **state) {
    fixture *f = *state;
    assert_int_equal(call_with(f, R_SLOW, 1), RR_CALL_TIMEOUT);
    assert_int_equal(rr_openai_last_status(f->client), 0);
}

static void test_malformed_body_is_an_error(void **state) {
    fixture *f = *state;
    assert_int_equal(call_with(f, R_MALFORMED, 1), RR_CALL_ERROR);
    assert_non_null(strstr(rr_openai_last_error(f->client), "not JSON"));
}

static void test_body_without_choices_is_an_error(void **state) {
    fixture *f = *state;
    assert_int_equal(call_with(f, R_NO_CHOICES, 1), RR_CALL_ERROR);
    assert_non_null(strstr(rr_openai_last_error(f->client), "choices"));
}

static void test_refused_connection_is_retriable(void **state) {
    (void)state;
    /* A port that was just free and is now closed: nothing listens there. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    rr_openai_config cfg = RR_OPENAI_CONFIG_INIT;
    cfg.base_url = url;
    rr_openai_client *c = NULL;
    assert_int_equal(rr_openai_client_new(&c, &cfg), RR_OK);
    rr_model_call call = text_call();
    rr_model_result r = empty_result();
    assert_int_equal(rr_openai_call_model(c, &call, &r), RR_CALL_RETRIABLE);
    rr_openai_client_free(c);
}

static void test_client_rejects_missing_base_url(void **state) {
    (void)state;
    rr_openai_config cfg = RR_OPENAI_CONFIG_INIT;
    rr_openai_client *c = NULL;
    assert_int_equal(rr_openai_client_new(&c, &cfg), RR_EINVAL);
    cfg.base_url = "http://127.0.0.1:1";
    cfg.nmodels = 1; /* and no table */
    assert_int_equal(rr_openai_client_new(&c, &cfg), RR_EINVAL);
    assert_null(c);
}

/* End to end: rr_run on the built-in policy retries a 429 on the same route, then accepts
 * the ticket the server returns for an email extraction. */
static void test_rr_run_retries_429_then_accepts_the_ticket(void **state) {
    fixture *f = *state;
    rr_router *router = NULL;
    rr_request *q = NULL;
    rr_outcome *o = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_router_new_default(&router, NULL, &err), RR_OK);
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    static const char email[] = "From: Ana Lopez\nSubject: Invoice INV-20931 charged twice\n\n"
                                "Our card was charged twice. Thanks, Ana, customer CUS-1042";
    assert_int_equal(rr_request_set_text(q, email, sizeof email - 1), RR_OK);
    assert_int_equal(rr_request_set_attr(q, "channel", "email"), RR_OK);
    enum reply script[] = {R_429, R_TICKET};
    expect want = {"tiny-1", "json_object", NULL, {"extract_v1", NULL, NULL, NULL}, email, 0};
    server_script(f->srv, script, 2, R_400, &want);
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = f->client;
    cb.call_model = rr_openai_call_model;
    int rc = rr_run(router, q, &cb, &o, &err);
    if (rc != RR_OK)
        fprintf(stderr, "rr_run: %s\n", err.message);
    assert_int_equal(rc, RR_OK);
    server_wait(f->srv, 2);
    assert_string_equal(f->srv->problems, "");
    assert_string_equal(rr_outcome_kind(o), "answer");
    assert_string_equal(rr_outcome_route(o), "small_extract_v1");
    assert_int_equal(rr_outcome_attempt_count(o), 2);
    assert_string_equal(rr_outcome_attempt_status(o, 0), "retriable");
    assert_string_equal(rr_outcome_attempt_status(o, 1), "ok");
    assert_int_equal(rr_outcome_attempt_input_tokens(o, 1), 310);
    assert_int_equal(rr_outcome_attempt_output_tokens(o, 1), 52);
    size_t len;
    const char *text = rr_outcome_text(o, &len);
    assert_int_equal(len, strlen(ticket));
    assert_memory_equal(text, ticket, len);
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(router);
}

int main(void) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_answer_returns_content_usage_and_latency, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_mode_sends_json_object_response_format, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_constrained_mode_sends_strict_json_schema, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_previous_failure_findings_and_tools_reach_the_system_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_429_is_retriable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_500_is_retriable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_400_is_a_permanent_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_response_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_body_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_without_choices_is_an_error, setup, teardown),
        cmocka_unit_test(test_refused_connection_is_retriable),
        cmocka_unit_test(test_client_rejects_missing_base_url),
        cmocka_unit_test_setup_teardown(test_rr_run_retries_429_then_accepts_the_ticket, setup,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
#endif
