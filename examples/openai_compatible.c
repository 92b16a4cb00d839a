/* call_model for OpenAI-compatible chat-completions servers. See openai_compatible.h.
 *
 * Built as an example program too: `openai_compatible TEXT | REQUEST_JSON` routes one
 * request through the built-in policy against $OPENAI_BASE_URL (default
 * https://api.openai.com) with $OPENAI_API_KEY, mapping each policy model to
 * $OPENAI_MODEL_<ID> (e.g. OPENAI_MODEL_SMALL=gpt-4o-mini), and prints the outcome's JSON
 * trace. Define RR_OPENAI_NO_MAIN to leave main() out. */
#define _POSIX_C_SOURCE 200809L
#include "openai_compatible.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the client's memory goes through the host's allocator ---- */

typedef struct mem {
    rr_allocator a;
} mem;

static void *libc_malloc(size_t n, void *ud) {
    (void)ud;
    return malloc(n);
}
static void *libc_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    return realloc(p, n);
}
static void libc_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static void *m_alloc(const mem *m, size_t n) {
    return m->a.malloc_fn(n ? n : 1, m->a.user_data);
}
static void m_free(const mem *m, void *p) {
    if (p)
        m->a.free_fn(p, m->a.user_data);
}
static void *m_realloc(const mem *m, void *p, size_t old, size_t n) {
    if (m->a.realloc_fn)
        return m->a.realloc_fn(p, n, m->a.user_data);
    void *q = m_alloc(m, n);
    if (q && p)
        memcpy(q, p, old < n ? old : n);
    if (q)
        m_free(m, p);
    return q;
}
static char *m_strdup(const mem *m, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = m_alloc(m, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

typedef struct buf {
    char *p;
    size_t len, cap, limit;
    int overflow;
} buf;

static int buf_put(const mem *m, buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = m_realloc(m, b->p, b->cap, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* ---- the client ---- */

struct rr_openai_client {
    mem m;
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    size_t nmodels, nprompts;
    char **model_from, **model_to;
    char **prompt_id, **prompt_text;
    long timeout_ms, connect_timeout_ms;
    buf body;   /* the response */
    buf output; /* the last output handed to rr_run */
    long status;
    char error[256];
};

static void set_error(rr_openai_client *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

static char **copy_strings(const mem *m, size_t n, const char *const *src, size_t stride) {
    char **out = m_alloc(m, (n ? n : 1) * sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)src + i * stride);
        if (!(out[i] = m_strdup(m, s ? s : ""))) {
            while (i-- > 0)
                m_free(m, out[i]);
            m_free(m, out);
            return NULL;
        }
    }
    return out;
}

static void free_strings(const mem *m, char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        m_free(m, v[i]);
    m_free(m, v);
}

void rr_openai_client_free(rr_openai_client *c) {
    if (!c)
        return;
    mem m = c->m;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    m_free(&m, c->url);
    free_strings(&m, c->model_from, c->nmodels);
    free_strings(&m, c->model_to, c->nmodels);
    free_strings(&m, c->prompt_id, c->nprompts);
    free_strings(&m, c->prompt_text, c->nprompts);
    m_free(&m, c->body.p);
    m_free(&m, c->output.p);
    m_free(&m, c);
}

static int build_headers(rr_openai_client *c, const char *api_key) {
    /* "Expect:" stops curl from waiting for a 100-continue on large bodies. */
    static const char *const fixed[] = {"Content-Type: application/json", "Expect:"};
    for (size_t i = 0; i < 2; i++) {
        struct curl_slist *h = curl_slist_append(c->headers, fixed[i]);
        if (!h)
            return RR_ENOMEM;
        c->headers = h;
    }
    if (!api_key || !*api_key)
        return RR_OK;
    size_t n = strlen(api_key) + 32;
    char *line = m_alloc(&c->m, n);
    if (!line)
        return RR_ENOMEM;
    snprintf(line, n, "Authorization: Bearer %s", api_key);
    struct curl_slist *h = curl_slist_append(c->headers, line); /* copies the line */
    m_free(&c->m, line);
    if (!h)
        return RR_ENOMEM;
    c->headers = h;
    return RR_OK;
}

int rr_openai_client_new(rr_openai_client **out, const rr_openai_config *cfg) {
    if (!out || !cfg || !cfg->base_url || !*cfg->base_url || (cfg->nmodels && !cfg->models) ||
        (cfg->nprompts && !cfg->prompts))
        return RR_EINVAL;
    mem m = {{RR_ALLOCATOR_VERSION, NULL, libc_malloc, libc_realloc, libc_free}};
    if (cfg->allocator && cfg->allocator->malloc_fn && cfg->allocator->free_fn)
        m.a = *cfg->allocator;
    rr_openai_client *c = m_alloc(&m, sizeof *c);
    if (!c)
        return RR_ENOMEM;
    memset(c, 0, sizeof *c);
    c->m = m;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
    c->body.limit = cfg->max_response_bytes ? cfg->max_response_bytes : (size_t)8 << 20;
    size_t ulen = strlen(cfg->base_url);
    while (ulen && cfg->base_url[ulen - 1] == '/')
        ulen--;
    c->url = m_alloc(&m, ulen + 32);
    if (c->url)
        snprintf(c->url, ulen + 32, "%.*s/v1/chat/completions", (int)ulen, cfg->base_url);
    c->nmodels = cfg->nmodels;
    c->nprompts = cfg->nprompts;
    const size_t ms = sizeof(rr_openai_model_map), ps = sizeof(rr_openai_prompt);
    c->model_from =
        copy_strings(&m, cfg->nmodels, cfg->models ? &cfg->models->policy_model : NULL, ms);
    c->model_to =
        copy_strings(&m, cfg->nmodels, cfg->models ? &cfg->models->server_model : NULL, ms);
    c->prompt_id = copy_strings(&m, cfg->nprompts, cfg->prompts ? &cfg->prompts->id : NULL, ps);
    c->prompt_text = copy_strings(&m, cfg->nprompts, cfg->prompts ? &cfg->prompts->text : NULL, ps);
    if (!c->url || !c->model_from || !c->model_to || !c->prompt_id || !c->prompt_text ||
        build_headers(c, cfg->api_key) != RR_OK) {
        rr_openai_client_free(c);
        return RR_ENOMEM;
    }
    if (!(c->curl = curl_easy_init())) {
        rr_openai_client_free(c);
        return RR_EIO;
    }
    *out = c;
    return RR_OK;
}

const char *rr_openai_last_error(const rr_openai_client *c) {
    return c ? c->error : "";
}

long rr_openai_last_status(const rr_openai_client *c) {
    return c ? c->status : 0;
}

static const char *lookup(char **from, char **to, size_t n, const char *key, const char *dflt) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(from[i], key))
            return to[i];
    return dflt;
}

/* ---- the request body ---- */

static int add_system_text(const rr_openai_client *c, const rr_model_call *call, buf *s) {
    const mem *m = &c->m;
    char line[512];
    const char *prompt = lookup(c->prompt_id, c->prompt_text, c->nprompts, call->prompt, NULL);
    int rc = 0;
    if (prompt) {
        rc |= buf_put(m, s, prompt, strlen(prompt));
        rc |= buf_put(m, s, "\n\n", 2);
    }
    snprintf(line, sizeof line, "Prompt variant: %s (route %s v%s, attempt %u).\n", call->prompt,
             call->route, call->route_version, (unsigned)call->attempt);
    rc |= buf_put(m, s, line, strlen(line));
    if (strcmp(call->output_mode, "text")) {
        static const char j[] = "Reply with one JSON object and nothing else.\n";
        rc |= buf_put(m, s, j, sizeof j - 1);
        if (call->schema_json) {
            static const char k[] = "The object must validate against this JSON Schema:\n";
            rc |= buf_put(m, s, k, sizeof k - 1);
            rc |= buf_put(m, s, call->schema_json, strlen(call->schema_json));
            rc |= buf_put(m, s, "\n", 1);
        }
    }
    if (call->tool_results && strcmp(call->tool_results, "{}")) {
        static const char t[] = "Tool results (JSON, tool -> output):\n";
        rc |= buf_put(m, s, t, sizeof t - 1);
        rc |= buf_put(m, s, call->tool_results, strlen(call->tool_results));
        rc |= buf_put(m, s, "\n", 1);
    }
    if (call->previous_failure && *call->previous_failure) {
        /* An escalated attempt learns what the validators rejected last time. */
        snprintf(line, sizeof line,
                 "A previous attempt was rejected by validation (failure: "
                 "%s). Its findings:\n",
                 call->previous_failure);
        rc |= buf_put(m, s, line, strlen(line));
        rc |= buf_put(m, s, call->previous_findings, strlen(call->previous_findings));
        static const char f[] = "\nDo not repeat these mistakes.\n";
        rc |= buf_put(m, s, f, sizeof f - 1);
    }
    return rc ? RR_ENOMEM : RR_OK;
}

/* "name" of a json_schema response format: [A-Za-z0-9_-]{1,64}. */
static void schema_name(const char *route, char *out, size_t cap) {
    size_t n = 0;
    for (; route[n] && n + 1 < cap && n < 64; n++) {
        char ch = route[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-';
        out[n] = ok ? ch : '_';
    }
    if (!n && cap > 6)
        n = (size_t)snprintf(out, cap, "output");
    out[n] = 0;
}

static json_t *response_format(const rr_model_call *call, rr_openai_client *c) {
    if (!strcmp(call->output_mode, "json") ||
        (!strcmp(call->output_mode, "constrained") && !call->schema_json))
        return json_pack("{s:s}", "type", "json_object");
    if (strcmp(call->output_mode, "constrained")) {
        set_error(c, "unknown output mode '%s'", call->output_mode);
        return NULL;
    }
    json_error_t je;
    json_t *schema = json_loads(call->schema_json, 0, &je);
    if (!schema) {
        set_error(c, "the route's schema is not JSON: %s", je.text);
        return NULL;
    }
    char name[72];
    schema_name(call->route, name, sizeof name);
    return json_pack("{s:s,s:{s:s,s:o,s:b}}", "type", "json_schema", "json_schema", "name", name,
                     "schema", schema, "strict", 1);
}

static char *request_body(rr_openai_client *c, const rr_model_call *call) {
    buf sys = {0};
    char *out = NULL;
    if (add_system_text(c, call, &sys) != RR_OK) {
        set_error(c, "out of memory");
        goto done;
    }
    const char *model = lookup(c->model_from, c->model_to, c->nmodels, call->model, call->model);
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s%}]", "role", "system", "content", sys.p, "role",
                             "user", "content", call->text, call->text_len);
    json_t *body = msgs ? json_pack("{s:s,s:o}", "model", model, "messages", msgs) : NULL;
    if (!body) {
        set_error(c, "cannot build the request body (text not UTF-8?)");
        goto done;
    }
    if (call->max_output_tokens > 0)
        json_object_set_new(body, "max_tokens", json_integer(call->max_output_tokens));
    if (strcmp(call->output_mode, "text")) {
        json_t *rf = response_format(call, c);
        if (!rf) {
            json_decref(body);
            goto done;
        }
        json_object_set_new(body, "response_format", rf);
    }
    out = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!out)
        set_error(c, "out of memory");
done:
    m_free(&c->m, sys.p);
    return out;
}

/* ---- the exchange ---- */

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    rr_openai_client *c = ud;
    size_t len = size * n;
    if (c->body.len + len > c->body.limit) {
        c->body.overflow = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return buf_put(&c->m, &c->body, p, len) ? 0 : len;
}

static int curl_status(rr_openai_client *c, CURLcode cc) {
    if (c->body.overflow) {
        set_error(c, "response longer than %zu bytes", c->body.limit);
        return RR_CALL_ERROR;
    }
    set_error(c, "%s", curl_easy_strerror(cc));
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return RR_CALL_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return RR_CALL_RETRIABLE;
    default:
        return RR_CALL_ERROR;
    }
}

static int64_t usage_of(const json_t *usage, const char *key) {
    json_t *v = json_object_get(usage, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

/* Read choices[0].message.content (or its refusal) and the usage. */
static int parse_completion(rr_openai_client *c, rr_model_result *res) {
    json_error_t je;
    json_t *doc = json_loadb(c->body.p ? c->body.p : "", c->body.len, 0, &je);
    if (!doc) {
        set_error(c, "response body is not JSON (line %d, column %d): %s", je.line, je.column,
                  je.text);
        return RR_CALL_ERROR;
    }
    json_t *msg = json_object_get(json_array_get(json_object_get(doc, "choices"), 0), "message");
    json_t *content = json_object_get(msg, "content");
    if (!json_is_string(content)) /* structured outputs report a refusal separately */
        content = json_object_get(msg, "refusal");
    if (!json_is_string(content)) {
        set_error(c, "response has no choices[0].message.content string");
        json_decref(doc);
        return RR_CALL_ERROR;
    }
    c->output.len = 0;
    if (buf_put(&c->m, &c->output, json_string_value(content), json_string_length(content))) {
        set_error(c, "out of memory");
        json_decref(doc);
        return RR_CALL_ERROR;
    }
    json_t *usage = json_object_get(doc, "usage");
    res->input_tokens = usage_of(usage, "prompt_tokens");
    res->output_tokens = usage_of(usage, "completion_tokens");
    res->output = c->output.p;
    res->output_len = c->output.len;
    json_decref(doc);
    return RR_CALL_OK;
}

int rr_openai_call_model(void *user_data, const rr_model_call *call, rr_model_result *res) {
    rr_openai_client *c = user_data;
    if (!c || !call || !res)
        return RR_CALL_ERROR;
    c->error[0] = 0;
    c->status = 0;
    c->body.len = 0;
    c->body.overflow = 0;
    char *body = request_body(c, call);
    if (!body)
        return RR_CALL_ERROR;
    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the connection cache */
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: safe in threaded hosts */
    CURLcode cc = curl_easy_perform(h);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(body);
    double secs = 0;
    if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &secs) == CURLE_OK && secs >= 0)
        res->latency_ms = secs * 1000.0;
    if (cc != CURLE_OK)
        return curl_status(c, cc);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    if (c->status == 429 || c->status >= 500 || c->status == 408) {
        set_error(c, "HTTP %ld", c->status);
        return c->status == 408 ? RR_CALL_TIMEOUT : RR_CALL_RETRIABLE;
    }
    if (c->status < 200 || c->status > 299) {
        set_error(c, "HTTP %ld: %.120s", c->status, c->body.p ? c->body.p : "");
        return RR_CALL_ERROR;
    }
    return parse_completion(c, res);
}

#ifndef RR_OPENAI_NO_MAIN
/* ---- the example program ---- */

#include <ctype.h>

static int run_one(rr_openai_client *client, const char *arg) {
    rr_router *router = NULL;
    rr_request *q = NULL;
    rr_outcome *o = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new_default(&router, NULL, &err);
    if (rc == RR_OK)
        rc = rr_request_new(&q, NULL);
    if (rc == RR_OK)
        rc = arg[0] == '{' ? rr_request_from_json(q, arg, strlen(arg), &err)
                           : rr_request_set_text(q, arg, strlen(arg));
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = client;
    cb.call_model = rr_openai_call_model;
    if (rc == RR_OK)
        rc = rr_run(router, q, &cb, &o, &err);
    if (rc == RR_OK) {
        size_t len;
        const char *text = rr_outcome_text(o, &len);
        printf("%.*s\n\n%s\n", (int)len, text, rr_outcome_json(o, NULL));
    } else {
        fprintf(stderr, "openai_compatible: %s\n", err.message[0] ? err.message : rr_strerror(rc));
    }
    if (rr_openai_last_error(client)[0])
        fprintf(stderr, "last call: %s\n", rr_openai_last_error(client));
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(router);
    return rc == RR_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr,
                "usage: %s TEXT | REQUEST_JSON\n(env: OPENAI_BASE_URL, OPENAI_API_KEY, "
                "OPENAI_MODEL_SMALL / _MEDIUM / _PREMIUM)\n",
                argv[0]);
        return 2;
    }
    static const char *const ids[] = {"small", "medium", "premium"};
    rr_openai_model_map map[3];
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        char var[64] = "OPENAI_MODEL_";
        for (size_t k = 0; ids[i][k]; k++)
            var[13 + k] = (char)toupper((unsigned char)ids[i][k]);
        const char *v = getenv(var);
        if (v && *v)
            map[n++] = (rr_openai_model_map){ids[i], v};
    }
    const char *base = getenv("OPENAI_BASE_URL");
    rr_openai_config cfg = RR_OPENAI_CONFIG_INIT;
    cfg.base_url = base && *base ? base : "https://api.openai.com";
    cfg.api_key = getenv("OPENAI_API_KEY");
    cfg.models = map;
    cfg.nmodels = n;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    rr_openai_client *client = NULL;
    int rc = rr_openai_client_new(&client, &cfg) == RR_OK ? run_one(client, argv[1]) : 1;
    rr_openai_client_free(client);
    curl_global_cleanup();
    return rc;
}
#endif
