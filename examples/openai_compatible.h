/* A call_model for rr_run that talks to any OpenAI-compatible /v1/chat/completions server
 * (OpenAI, vLLM, llama.cpp's server, Ollama, LiteLLM ...) with libcurl and jansson.
 *
 * Copy openai_compatible.{h,c} into your service. Only the public routeright.h is used.
 *
 *   rr_openai_config cfg = RR_OPENAI_CONFIG_INIT;
 *   cfg.base_url = "https://api.openai.com";   // "/v1/chat/completions" is appended
 *   cfg.api_key = getenv("OPENAI_API_KEY");
 *   rr_openai_client *client;
 *   rr_openai_client_new(&client, &cfg);
 *   rr_callbacks cb = RR_CALLBACKS_INIT;
 *   cb.user_data = client;
 *   cb.call_model = rr_openai_call_model;
 *   rr_run(router, request, &cb, &outcome, &err);
 *
 * What the route asks for reaches the server: output mode "json" sends
 * response_format {"type":"json_object"}; "constrained" sends {"type":"json_schema",
 * "json_schema":{"name":<route id>,"schema":<the route's JSON Schema>,"strict":true}}; the
 * prompt variant, the route's output contract, tool results and, on an escalated attempt,
 * the previous failure and its findings go into the system message; the request text is
 * the user message; max_output_tokens becomes max_tokens.
 *
 * Statuses: a timeout (curl's, or HTTP 408) is RR_CALL_TIMEOUT; HTTP 429 and 5xx, and a
 * connection refused, reset or closed without a reply, are RR_CALL_RETRIABLE (what a load
 * balancer shedding load looks like); every other failure — other HTTP errors, a body that
 * is not a chat completion — is RR_CALL_ERROR. rr_openai_last_error says what happened.
 * Token counts come from the response's "usage" (-1 when absent: rr_run then estimates),
 * latency from curl's total time.
 *
 * Threads: a client holds one curl handle (connections are reused) and the last output,
 * so it belongs to one thread at a time. Threads running rr_run on a shared router each
 * use their own client (their own rr_callbacks.user_data). Call curl_global_init once at
 * program start, before any thread creates a client.
 */
#ifndef RR_OPENAI_COMPATIBLE_H
#define RR_OPENAI_COMPATIBLE_H

#include <stddef.h>

#include "routeright.h"

/* A policy model id and the name the server knows it by. */
typedef struct rr_openai_model_map {
    const char *policy_model;
    const char *server_model;
} rr_openai_model_map;

/* A prompt variant id of the policy and the system prompt text it stands for. */
typedef struct rr_openai_prompt {
    const char *id;
    const char *text;
} rr_openai_prompt;

/*
 * Client settings; strings and tables are copied by rr_openai_client_new.
 *  - base_url: scheme://host[:port][/prefix], without "/v1/chat/completions".
 *  - api_key: sent as "Authorization: Bearer ..."; NULL or "" sends none.
 *  - models: policy model id -> server model name; unmapped ids are sent as they are.
 *  - prompts: prompt variant -> system prompt text; unknown variants are only named.
 *  - timeout_ms: the whole request (default 60000); connect_timeout_ms (default 5000).
 *  - max_response_bytes: longer bodies are an error (default 8 MiB).
 *  - allocator: for the client's own memory (NULL = libc); curl and jansson allocate with
 *    their own functions.
 */
typedef struct rr_openai_config {
    const char *base_url;
    const char *api_key;
    const rr_openai_model_map *models;
    size_t nmodels;
    const rr_openai_prompt *prompts;
    size_t nprompts;
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_response_bytes;
    const rr_allocator *allocator;
} rr_openai_config;

#define RR_OPENAI_CONFIG_INIT                                                                      \
    { NULL, NULL, NULL, 0, NULL, 0, 0, 0, 0, NULL }

typedef struct rr_openai_client rr_openai_client;

/* Create a client. Errors: RR_EINVAL (no base_url), RR_ENOMEM, RR_EIO (curl init). */
int rr_openai_client_new(rr_openai_client **out, const rr_openai_config *cfg);
/* NULL is a no-op. */
void rr_openai_client_free(rr_openai_client *client);

/* The rr_callbacks.call_model; `user_data` is an rr_openai_client. */
int rr_openai_call_model(void *user_data, const rr_model_call *call, rr_model_result *result);

/* What went wrong in the client's last call ("" after a success). Borrowed. */
const char *rr_openai_last_error(const rr_openai_client *client);
/* The HTTP status of the last call (0 when no response arrived). */
long rr_openai_last_status(const rr_openai_client *client);

#endif
