#include "conf.h"

#include <stdio.h>
#include <string.h>

const char *rr_json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

int rr_conf_check_keys(const json_t *obj, const char *ptr, const char *const *allowed,
                       const char *what, rr_error *err) {
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, klen, v) {
        bool ok = false;
        for (size_t i = 0; !ok && allowed[i]; i++)
            ok = strlen(key) == klen && !strcmp(key, allowed[i]);
        if (ok)
            continue;
        char p[512];
        size_t len = (size_t)snprintf(p, sizeof p, "%s/", ptr);
        for (const char *t = key; *t && len + 2 < sizeof p; t++) {
            if (*t == '~' || *t == '/') {
                p[len++] = '~';
                p[len++] = *t == '~' ? '0' : '1';
            } else {
                p[len++] = *t;
            }
        }
        p[len < sizeof p ? len : sizeof p - 1] = 0;
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "unknown key '%s' in %s", key, what);
    }
    return RR_OK;
}
