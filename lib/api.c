/* Version, error table, options, router construction and getters. */
#include "classify.h"
#include "router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rr__default_policy_json[];

unsigned int rr_version_number(void) {
    return RR_VERSION_NUMBER;
}

const char *rr_version(void) {
    return RR_VERSION_STRING;
}

const char *rr_strerror(int code) {
    switch (code) {
#define RR__ERR_TEXT(name, c, text)                                                        \
    case c:                                                                                \
        return text;
        RR_ERROR_TABLE(RR__ERR_TEXT)
#undef RR__ERR_TEXT
    }
    return "unknown error";
}

const char *rr_error_name(int code) {
    switch (code) {
#define RR__ERR_NAME(name, c, text)                                                        \
    case c:                                                                                \
        return #name;
        RR_ERROR_TABLE(RR__ERR_NAME)
#undef RR__ERR_NAME
    }
    return "UNKNOWN";
}

int rr_error_init(rr_error *err, unsigned int version) {
    if (!err || version != RR_ERROR_VERSION)
        return RR_EINVAL;
    memset(err, 0, sizeof *err);
    err->version = version;
    return RR_OK;
}

int rr_router_options_init(rr_router_options *opts, unsigned int version) {
    if (!opts || version != RR_ROUTER_OPTIONS_VERSION)
        return RR_EINVAL;
    rr_router_options d = RR_ROUTER_OPTIONS_INIT;
    *opts = d;
    return RR_OK;
}

const char *rr_default_policy(void) {
    return rr__default_policy_json;
}

static void *pcre_malloc(size_t n, void *ud) {
    return rr_malloc((const rr_alloc *)ud, n);
}
static void pcre_free(void *p, void *ud) {
    rr_free((const rr_alloc *)ud, p);
}

static void free_strv(const rr_alloc *a, char **v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        rr_free(a, v[i]);
    rr_free(a, v);
}

void rr_router_free(rr_router *r) {
    if (!r)
        return;
    const rr_alloc *a = &r->a;
    rr_free(a, r->name);
    rr_free(a, r->version);
    rr_free(a, r->description);
    for (size_t i = 0; i < r->nmodels; i++)
        rr_free(a, r->models[i].id);
    rr_free(a, r->models);
    free_strv(a, r->tools, r->ntools);
    free_strv(a, r->tasks, r->ntasks);
    for (size_t i = 0; i < r->nthresholds; i++)
        rr_free(a, r->thresholds[i].name);
    rr_free(a, r->thresholds);
    for (size_t i = 0; i < r->npatterns; i++) {
        rr_pattern_set *p = &r->patterns[i];
        for (size_t k = 0; k < p->n; k++)
            if (p->codes)
                pcre2_code_free(p->codes[k]);
        rr_free(a, p->codes);
        rr_free(a, p->prefix);
        free_strv(a, p->pointers, p->n);
        rr_free(a, p->name);
    }
    rr_free(a, r->patterns);
    for (size_t i = 0; i < r->nattrs; i++) {
        rr_free(a, r->attrs[i].name);
        rr_free(a, r->attrs[i].def_str);
    }
    rr_free(a, r->attrs);
    for (size_t i = 0; i < r->nelig; i++) {
        rr_elig_rule *e = &r->elig[i];
        rr_free(a, e->id);
        rr_free(a, e->pointer);
        rr_expr_free(e->when);
        rr_free(a, e->deny_models);
        rr_free(a, e->deny_routes);
        rr_free(a, e->deny_tools);
        rr_free(a, e->reason);
    }
    rr_free(a, r->elig);
    for (size_t i = 0; i < r->ntask_rules; i++) {
        rr_free(a, r->task_rules[i].id);
        rr_free(a, r->task_rules[i].pointer);
        rr_expr_free(r->task_rules[i].when);
    }
    rr_free(a, r->task_rules);
    for (size_t i = 0; i < r->nrules; i++) {
        rr_free(a, r->rules[i].id);
        rr_free(a, r->rules[i].pointer);
        rr_expr_free(r->rules[i].when);
    }
    rr_free(a, r->rules);
    for (size_t i = 0; i < r->nroutes; i++) {
        rr_route_def *d = &r->routes[i];
        rr_free(a, d->id);
        rr_free(a, d->version);
        rr_free(a, d->prompt);
        rr_free(a, d->output_mode);
        rr_free(a, d->tools);
        rr_free(a, d->validators);
        rr_free(a, d->esc);
        rr_free(a, d->message);
    }
    rr_free(a, r->routes);
    for (size_t i = 0; i < r->nvalidators; i++) {
        rr_free(a, r->validators[i].name);
        rr_free(a, r->validators[i].type);
        rr_free(a, r->validators[i].version);
        rr_free(a, r->validators[i].pointer);
        rr_validator_free(a, &r->validators[i]);
    }
    rr_free(a, r->validators);
    for (size_t i = 0; i < r->nclassifiers; i++) {
        rr_classifier_def *d = &r->classifiers[i];
        rr_free(a, d->name);
        rr_free(a, d->pointer);
        rr_classifier_free(d->model);
        rr_free(a, d->label_slots);
        rr_free(a, d->label_task);
    }
    rr_free(a, r->classifiers);
    rr_free(a, r->base_dir);
    free_strv(a, r->slot_names, r->nslots);
    rr_free(a, r->slot_types);
    rr_free(a, r->slot_threshold);
    rr_free(a, r->report_json);
    if (r->mctx)
        pcre2_match_context_free(r->mctx);
    if (r->gctx)
        pcre2_general_context_free(r->gctx);
    rr_alloc copy = r->a;
    rr_free(&copy, r);
}

int rr_router_new(rr_router **out, const char *policy, size_t len, const rr_router_options *opts,
                  rr_error *err) {
    if (!out || !policy)
        return rr_err(err, RR_EINVAL, "rr_router_new: %s is NULL", out ? "policy" : "out");
    if (opts && (opts->version == 0 || opts->version > RR_ROUTER_OPTIONS_VERSION))
        return rr_err(err, RR_EINVAL, "rr_router_new: unsupported options version %u",
                      (unsigned)opts->version);
    rr_alloc a;
    rr_alloc_init(&a, opts ? opts->allocator : NULL);
    rr_router *r = rr_calloc(&a, 1, sizeof *r);
    if (!r)
        return rr_err(err, RR_ENOMEM, "out of memory");
    r->a = a;
    r->max_text_bytes = (opts && opts->max_text_bytes) ? opts->max_text_bytes : (1u << 20);
    r->max_output_bytes = (opts && opts->max_output_bytes) ? opts->max_output_bytes : (1u << 24);
    r->regex_match_limit = (opts && opts->regex_match_limit) ? opts->regex_match_limit : 100000;
    r->regex_depth_limit = (opts && opts->regex_depth_limit) ? opts->regex_depth_limit : 10000;
    r->terminal_denied = r->terminal_no_match = -1;
    r->task_classifier = -1;
    if (opts && opts->base_dir && !(r->base_dir = rr_strdup(&r->a, opts->base_dir))) {
        rr_router_free(r);
        return rr_err(err, RR_ENOMEM, "out of memory");
    }
    r->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &r->a);
    r->mctx = r->gctx ? pcre2_match_context_create(r->gctx) : NULL;
    if (!r->mctx) {
        rr_router_free(r);
        return rr_err(err, RR_ENOMEM, "out of memory");
    }
    pcre2_set_match_limit(r->mctx, r->regex_match_limit);
    pcre2_set_depth_limit(r->mctx, r->regex_depth_limit);
    int rc = rr_policy_compile(r, policy, len, err);
    if (rc != RR_OK) {
        rr_router_free(r);
        return rc;
    }
    *out = r;
    return RR_OK;
}

int rr_router_new_from_file(rr_router **out, const char *path, const rr_router_options *opts,
                            rr_error *err) {
    if (!out || !path)
        return rr_err(err, RR_EINVAL, "rr_router_new_from_file: %s is NULL",
                      out ? "path" : "out");
    FILE *f = fopen(path, "rb");
    if (!f)
        return rr_err(err, RR_EIO, "%s: %s", path, strerror(errno));
    rr_alloc a;
    rr_alloc_init(&a, opts ? opts->allocator : NULL);
    rr_buf b;
    rr_buf_init(&b, &a);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rr_buf_put(&b, chunk, n);
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr || b.oom) {
        rr_buf_free(&b);
        return ioerr ? rr_err(err, RR_EIO, "%s: read error", path)
                     : rr_err(err, RR_ENOMEM, "out of memory");
    }
    /* Relative file names in the policy resolve against the policy's directory. */
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    if (opts)
        o = *opts;
    char dir[4096];
    if (!o.base_dir) {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
        o.base_dir = dir;
    }
    int rc = rr_router_new(out, b.p ? b.p : "", b.len, &o, err);
    rr_buf_free(&b);
    return rc;
}

int rr_router_new_default(rr_router **out, const rr_router_options *opts, rr_error *err) {
    const char *p = rr_default_policy();
    return rr_router_new(out, p, strlen(p), opts, err);
}

const char *rr_router_policy_name(const rr_router *r) {
    return r ? r->name : NULL;
}
const char *rr_router_policy_version(const rr_router *r) {
    return r ? r->version : NULL;
}
const char *rr_router_fingerprint(const rr_router *r) {
    return r ? r->fingerprint : NULL;
}
const char *rr_router_report_json(const rr_router *r, size_t *len) {
    if (!r)
        return NULL;
    if (len)
        *len = r->report_len;
    return r->report_json;
}
