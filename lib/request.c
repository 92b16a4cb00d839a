/* The request builder. Everything is copied into one pool buffer so reset keeps memory. */
#include "router.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static void *req_pcre_malloc(size_t n, void *ud) {
    return rr_malloc((const rr_alloc *)ud, n);
}
static void req_pcre_free(void *p, void *ud) {
    rr_free((const rr_alloc *)ud, p);
}

int rr_request_new(rr_request **out, const rr_allocator *allocator) {
    if (!out)
        return RR_EINVAL;
    rr_alloc a;
    rr_alloc_init(&a, allocator);
    rr_request *r = rr_calloc(&a, 1, sizeof *r);
    if (!r)
        return RR_ENOMEM;
    r->a = a;
    rr_buf_init(&r->pool, &r->a);
    rr_buf_init(&r->out, &r->a);
    rr_termset_init(&r->ev_set, &r->a);
    rr_termset_init(&r->req_set, &r->a);
    r->vscratch.a = r->a;
    r->gctx = pcre2_general_context_create(req_pcre_malloc, req_pcre_free, &r->a);
    if (!r->gctx) {
        rr_request_free(r);
        return RR_ENOMEM;
    }
    *out = r;
    return RR_OK;
}

void rr_request_free(rr_request *r) {
    if (!r)
        return;
    rr_buf_free(&r->pool);
    rr_buf_free(&r->out);
    rr_free(&r->a, r->attrs);
    rr_free(&r->a, r->ev);
    rr_free(&r->a, r->slots);
    rr_free(&r->a, r->denied);
    rr_free(&r->a, (void *)r->ev_ptrs);
    rr_free(&r->a, r->ev_lens);
    rr_termset_free(&r->ev_set);
    rr_termset_free(&r->req_set);
    rr_validate_scratch_free(&r->vscratch);
    rr_free(&r->a, r->clf_buf);
    if (r->md)
        pcre2_match_data_free(r->md);
    if (r->gctx)
        pcre2_general_context_free(r->gctx);
    rr_alloc a = r->a;
    rr_free(&a, r);
}

void rr_request_reset(rr_request *r) {
    if (!r)
        return;
    rr_buf_clear(&r->pool);
    r->has_text = r->has_conv = false;
    r->last_tier = 0;
    r->text_off = r->text_len = 0;
    r->nattrs = r->nev = 0;
}

/* Append bytes plus a NUL to the pool; returns the offset or UINT32_MAX on failure. */
static uint32_t pool_add(rr_request *r, const char *s, size_t n) {
    if (r->pool.len + n + 1 > UINT32_MAX)
        return UINT32_MAX;
    uint32_t off = (uint32_t)r->pool.len;
    rr_buf_put(&r->pool, s, n);
    rr_buf_putc(&r->pool, 0);
    if (r->pool.oom) {
        r->pool.oom = false;
        r->pool.len = off;
        return UINT32_MAX;
    }
    return off;
}

int rr_request_set_text(rr_request *r, const char *text, size_t len) {
    if (!r || (!text && len))
        return RR_EINVAL;
    if (len > UINT32_MAX - 1)
        return RR_ETOOBIG;
    if (rr_utf8_check(text ? text : "", len) != len)
        return RR_EUTF8;
    uint32_t off = pool_add(r, text ? text : "", len);
    if (off == UINT32_MAX)
        return RR_ENOMEM;
    r->has_text = true;
    r->text_off = off;
    r->text_len = (uint32_t)len;
    return RR_OK;
}

static rr_req_attr *attr_slot(rr_request *r, const char *key, int *rc) {
    size_t klen = strlen(key);
    for (size_t i = 0; i < r->nattrs; i++)
        if (r->attrs[i].key_len == klen && !memcmp(rr_req_str(r, r->attrs[i].key_off), key, klen))
            return &r->attrs[i];
    if (r->nattrs == r->capattrs) {
        size_t cap = r->capattrs ? r->capattrs * 2 : 8;
        rr_req_attr *n = rr_realloc(&r->a, r->attrs, r->capattrs * sizeof *n, cap * sizeof *n);
        if (!n) {
            *rc = RR_ENOMEM;
            return NULL;
        }
        r->attrs = n;
        r->capattrs = cap;
    }
    uint32_t off = pool_add(r, key, klen);
    if (off == UINT32_MAX) {
        *rc = RR_ENOMEM;
        return NULL;
    }
    rr_req_attr *a = &r->attrs[r->nattrs++];
    memset(a, 0, sizeof *a);
    a->key_off = off;
    a->key_len = (uint32_t)klen;
    return a;
}

int rr_request_set_attr(rr_request *r, const char *key, const char *value) {
    if (!r || !key || !value || !*key)
        return RR_EINVAL;
    size_t vlen = strlen(value);
    if (rr_utf8_check(value, vlen) != vlen || rr_utf8_check(key, strlen(key)) != strlen(key))
        return RR_EUTF8;
    /* The value first: a new attribute must not be left without one (and a type). */
    uint32_t off = pool_add(r, value, vlen);
    if (off == UINT32_MAX)
        return RR_ENOMEM;
    int rc = RR_OK;
    rr_req_attr *a = attr_slot(r, key, &rc);
    if (!a)
        return rc;
    a->type = RR_T_STR;
    a->str_off = off;
    a->str_len = (uint32_t)vlen;
    return RR_OK;
}

int rr_request_set_num(rr_request *r, const char *key, double value) {
    if (!r || !key || !*key || isnan(value))
        return RR_EINVAL;
    int rc = RR_OK;
    rr_req_attr *a = attr_slot(r, key, &rc);
    if (!a)
        return rc;
    a->type = RR_T_NUM;
    a->num = value;
    return RR_OK;
}

int rr_request_set_bool(rr_request *r, const char *key, int value) {
    if (!r || !key || !*key)
        return RR_EINVAL;
    int rc = RR_OK;
    rr_req_attr *a = attr_slot(r, key, &rc);
    if (!a)
        return rc;
    a->type = RR_T_BOOL;
    a->num = value ? 1 : 0;
    return RR_OK;
}

int rr_request_add_evidence(rr_request *r, const char *id, const char *text, size_t len,
                            double score) {
    if (!r || !id || (!text && len) || !isfinite(score))
        return RR_EINVAL;
    if (rr_utf8_check(text ? text : "", len) != len || rr_utf8_check(id, strlen(id)) != strlen(id))
        return RR_EUTF8;
    if (r->nev == r->capev) {
        size_t cap = r->capev ? r->capev * 2 : 8;
        rr_req_evidence *n = rr_realloc(&r->a, r->ev, r->capev * sizeof *n, cap * sizeof *n);
        if (!n)
            return RR_ENOMEM;
        r->ev = n;
        r->capev = cap;
    }
    uint32_t ido = pool_add(r, id, strlen(id));
    uint32_t to = ido == UINT32_MAX ? UINT32_MAX : pool_add(r, text ? text : "", len);
    if (to == UINT32_MAX)
        return RR_ENOMEM;
    rr_req_evidence *e = &r->ev[r->nev++];
    e->id_off = ido;
    e->id_len = (uint32_t)strlen(id);
    e->text_off = to;
    e->text_len = (uint32_t)len;
    e->score = score;
    return RR_OK;
}

int rr_request_set_last_tier(rr_request *r, int tier) {
    if (!r || tier < 0)
        return RR_EINVAL;
    r->last_tier = tier;
    return RR_OK;
}

int rr_request_set_conversation(rr_request *r, const char *id) {
    if (!r)
        return RR_EINVAL;
    if (!id) {
        r->has_conv = false;
        return RR_OK;
    }
    if (rr_utf8_check(id, strlen(id)) != strlen(id))
        return RR_EUTF8;
    uint32_t off = pool_add(r, id, strlen(id));
    if (off == UINT32_MAX)
        return RR_ENOMEM;
    r->has_conv = true;
    r->conv_off = off;
    r->conv_len = (uint32_t)strlen(id);
    return RR_OK;
}

static int from_json_attrs(rr_request *r, json_t *attrs, rr_error *err) {
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v) {
        int rc;
        if (json_is_string(v))
            rc = rr_request_set_attr(r, k, json_string_value(v));
        else if (json_is_number(v))
            rc = rr_request_set_num(r, k, json_number_value(v));
        else if (json_is_boolean(v))
            rc = rr_request_set_bool(r, k, json_is_true(v));
        else
            return rr_err_at(err, RR_EJSON, "/attrs", 0, 0, 0,
                             "attribute '%s' must be a string, number or boolean", k);
        if (rc != RR_OK)
            return rr_err_at(err, rc, "/attrs", 0, 0, 0, "attribute '%s': %s", k,
                             rr_strerror(rc));
    }
    return RR_OK;
}

static int from_json_evidence(rr_request *r, json_t *ev, rr_error *err) {
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e) {
        char p[64];
        snprintf(p, sizeof p, "/evidence/%zu", i);
        json_t *id = json_object_get(e, "id"), *text = json_object_get(e, "text"),
               *score = json_object_get(e, "score");
        if (!json_is_object(e) || !json_is_string(id) || !json_is_string(text) ||
            (score && !json_is_number(score)) || json_object_size(e) != 2u + (score != NULL))
            return rr_err_at(err, RR_EJSON, p, 0, 0, 0,
                             "evidence must be {\"id\": string, \"text\": string, \"score\": "
                             "number (optional)}");
        int rc = rr_request_add_evidence(r, json_string_value(id), json_string_value(text),
                                         json_string_length(text),
                                         score ? json_number_value(score) : 0.0);
        if (rc != RR_OK)
            return rr_err_at(err, rc, p, 0, 0, 0, "%s", rr_strerror(rc));
    }
    return RR_OK;
}

static int from_json_root(rr_request *r, json_t *root, rr_error *err) {
    if (!json_is_object(root))
        return rr_err(err, RR_EJSON, "a request must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        int rc = RR_OK;
        char p[300];
        snprintf(p, sizeof p, "/%s", k);
        if (!strcmp(k, "text")) {
            if (!json_is_string(v))
                return rr_err_at(err, RR_EJSON, p, 0, 0, 0, "'text' must be a string");
            rc = rr_request_set_text(r, json_string_value(v), json_string_length(v));
        } else if (!strcmp(k, "attrs")) {
            if (!json_is_object(v))
                return rr_err_at(err, RR_EJSON, p, 0, 0, 0, "'attrs' must be an object");
            rc = from_json_attrs(r, v, err);
            if (rc != RR_OK)
                return rc;
        } else if (!strcmp(k, "evidence")) {
            if (!json_is_array(v))
                return rr_err_at(err, RR_EJSON, p, 0, 0, 0, "'evidence' must be an array");
            rc = from_json_evidence(r, v, err);
            if (rc != RR_OK)
                return rc;
        } else if (!strcmp(k, "conversation_id")) {
            if (!json_is_string(v))
                return rr_err_at(err, RR_EJSON, p, 0, 0, 0, "'conversation_id' must be a string");
            rc = rr_request_set_conversation(r, json_string_value(v));
        } else if (!strcmp(k, "id") || !strcmp(k, "labels") || !strcmp(k, "meta") ||
                   !strcmp(k, "outcomes")) {
            /* Carried by logs and replay files; routing ignores them. */
        } else {
            return rr_err_at(err, RR_EJSON, p, 0, 0, 0,
                             "unknown key '%s' (allowed: text, attrs, evidence, conversation_id, "
                             "id, labels, meta, outcomes)",
                             k);
        }
        if (rc != RR_OK)
            return rr_err_at(err, rc, p, 0, 0, 0, "%s", rr_strerror(rc));
    }
    return RR_OK;
}

int rr_request_from_json(rr_request *r, const char *json, size_t len, rr_error *err) {
    if (!r || !json)
        return rr_err(err, RR_EINVAL, "rr_request_from_json: NULL argument");
    rr_request_reset(r);
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return rr_err_at(err, RR_EJSON, "", (uint32_t)(je.line > 0 ? je.line : 0),
                         (uint32_t)(je.column > 0 ? je.column : 0), 0,
                         "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
    int rc = from_json_root(r, root, err);
    json_decref(root);
    if (rc != RR_OK)
        rr_request_reset(r);
    return rc;
}
