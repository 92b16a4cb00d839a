/* Checks shared by the parts of the library that read configuration objects (validator
 * sections of a policy). */
#ifndef RR_CONF_H
#define RR_CONF_H

#include "base.h"
#include <jansson.h>

/* RR_EPOLICY naming "<ptr>/<key>" (RFC 6901-escaped) for the first key of `obj` that is not
 * in the NULL-terminated `allowed`, with "unknown key '<key>' in <what>"; else RR_OK. */
/* JSON's name for the type of `v`: object, array, string, number, boolean or null. */
const char *rr_json_type_name(const json_t *v);

int rr_conf_check_keys(const json_t *obj, const char *ptr, const char *const *allowed,
                       const char *what, rr_error *err);

#endif
