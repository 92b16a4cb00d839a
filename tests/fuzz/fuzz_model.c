/* libFuzzer target for the classifier model loader. A random file almost never carries a
 * valid xxh3 checksum, which would leave the body parser unexplored, so for inputs whose
 * last byte is odd the target first rewrites the size field and checksum to match. A model
 * that loads is then used for one prediction, with the CPU's kernels and the portable ones,
 * which must agree bit for bit. */
#include "classify.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, len);
    if (len >= 32 && (data[len - 1] & 1)) {
        for (int i = 0; i < 8; i++)
            buf[16 + i] = (unsigned char)((uint64_t)len >> (8 * i));
        uint64_t h = XXH3_64bits(buf, len - 8);
        for (int i = 0; i < 8; i++)
            buf[len - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
    }
    rr_classifier *m = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_classifier_load_bytes(&m, buf, len, NULL, &err) == RR_OK) {
        size_t ss = rr_classifier_scratch_size(m), k = m->nlabels;
        double *scratch = malloc(ss), *probs = malloc(2 * k * sizeof *probs);
        rr_clf_result r, rc;
        const char *t = "Where is my refund? Order ORD-123 was charged twice.";
        if (scratch && probs) {
            rr_classifier_predict(m, t, strlen(t), scratch, ss, probs, &r);
            /* the portable kernel must agree bit for bit with the one this CPU picked */
            rr_classifier_use_kernel(m, "c");
            rr_classifier_predict(m, t, strlen(t), scratch, ss, probs + k, &rc);
            if (memcmp(probs, probs + k, k * sizeof *probs) || r.top != rc.top)
                __builtin_trap();
        }
        free(scratch);
        free(probs);
        rr_classifier_free(m);
    }
    free(buf);
    return 0;
}
