/* The support copilot's synthetic traffic and simulated model backend.
 *
 * Requests are a pure function of (seed, index): five families in a production-like mix,
 * tenant tiers, authenticated or anonymous callers, retrieved evidence of varying quality,
 * PII in some texts. The backend is a call_model / call_tool pair whose behaviour is a pure
 * function of (seed, request, model tier, attempt): each request has a latent difficulty,
 * and a tier answers well when the difficulty is under that tier's skill for the family,
 * so a request the small model handles is (almost always) one the bigger ones handle too.
 * When it does not answer well it fails the way real models do — malformed or truncated
 * JSON, citations of evidence it was never given, claims the evidence does not hold, leaked
 * PII, refusals, commitments policy forbids, low confidence — and the library's validators
 * have to catch it: nothing here tells rr_run that an output is bad. */
#ifndef RR_DEMO_WORKLOAD_H
#define RR_DEMO_WORKLOAD_H

#include "base.h"
#include "routeright.h"

enum { DEMO_FAQ, DEMO_TROUBLESHOOT, DEMO_EXTRACT, DEMO_DRAFT_POLICY, DEMO_UNKNOWN, DEMO_NFAMILIES };

/* "faq", "troubleshoot", "extract", "draft_policy", "unknown". */
const char *demo_family_name(int family);

#define DEMO_MAX_EVIDENCE 5

typedef struct demo_evidence {
    char id[24];
    const char *text; /* static */
    double score;
} demo_evidence;

/* What the email that an extraction reads says: the ticket a perfect model returns. */
typedef struct demo_ticket {
    int category; /* index into the schema's category enum */
    int severity;
    int needs_human;
    char subject[96];
    char entity_type[12];
    char entity[24];
    char date[24]; /* RFC 3339 date-time */
    int nitems;
    char item_desc[3][32];
    double item_amount[3];
} demo_ticket;

typedef struct demo_request {
    size_t index;
    uint64_t key; /* per-request hash seed */
    int family;
    double difficulty; /* latent, uniform in [0, 1) */
    int retrieval;     /* FAQ and policy drafting: 1 strong, 2 weak, 0 no evidence */
    int hard;          /* troubleshooting with long logs or many systems; long email threads */
    int pii;           /* the text carries the caller's PII */
    int topic;         /* knowledge-base topic (FAQ) or policy topic (drafting) */
    const char *tier;
    const char *channel;
    const char *output_format; /* NULL = attribute left unset */
    int authenticated;
    char customer_id[16];           /* "" when anonymous */
    char other_customer[16];        /* someone else's id, for wrong-customer extractions */
    const char *allowed_categories; /* NULL = attribute left unset */
    demo_ticket ticket;
    size_t nev;
    demo_evidence ev[DEMO_MAX_EVIDENCE];
    rr_buf text;
} demo_request;

void demo_request_init(demo_request *r, const rr_alloc *a);
void demo_request_free(demo_request *r);
/* Fill `r` with request number `index` of the stream `seed` (buffers reused). Returns
 * RR_ENOMEM when the text could not be built. */
int demo_request_generate(demo_request *r, uint64_t seed, size_t index);
/* Reset `q` and set text, attributes and evidence from `r`. */
int demo_request_apply(const demo_request *r, rr_request *q);

/* The simulated backend. One per thread; `cur` is the request being run. */
typedef struct demo_backend {
    uint64_t seed;
    const demo_request *cur;
    /* model id -> tier, from the policy */
    size_t nmodels;
    char model_id[16][32];
    int model_tier[16];
    int last_flawed; /* the last output was made bad on purpose (the simulator's secret) */
    rr_buf out;      /* the last model output; valid until the next call */
    rr_buf tool;     /* the last tool output */
    rr_buf tmp;
} demo_backend;

void demo_backend_init(demo_backend *b, const rr_alloc *a, uint64_t seed);
void demo_backend_free(demo_backend *b);
/* Register a model of the policy and its tier (1 cheapest); RR_ERANGE past 16 models. */
int demo_backend_add_model(demo_backend *b, const char *id, int tier);

int demo_call_model(void *user_data, const rr_model_call *call, rr_model_result *result);
int demo_call_tool(void *user_data, const rr_tool_call *call, rr_tool_result *result);

/* The categories and severities of the ticket schema, in its enum order. */
extern const char *const demo_categories[6];
extern const char *const demo_severities[4];

#endif
