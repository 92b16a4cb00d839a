/* Data-driven policy cases: every tests/data/policies/valid/NAME.json must compile;
 * each tests/data/policies/invalid/NAME.json must fail as NAME.expect says:
 *   line 1: <ERROR NAME> <JSON pointer, or "-" for none>
 *   line 2 (optional): a substring the message must contain. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routeright.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *root, const char *sub, int *pass, int *fail) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return -1;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    int valid = !strcmp(sub, "valid");
    for (size_t i = 0; i < n; i++) {
        char path[2048], epath[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len;
        char *text = slurp(path, &len);
        rr_router *r = NULL;
        rr_error err = RR_ERROR_INIT;
        int rc = text ? rr_router_new(&r, text, len, NULL, &err) : RR_EIO;
        int ok;
        if (valid) {
            ok = rc == RR_OK;
            if (!ok)
                fprintf(stderr, "FAIL %s/%s: %s\n", sub, names[i], err.message);
        } else {
            snprintf(epath, sizeof epath, "%.*s.expect", (int)(strlen(path) - 5), path);
            size_t elen;
            char *exp = slurp(epath, &elen);
            char want_code[64] = "", want_ptr[512] = "", want_msg[512] = "";
            if (exp) {
                sscanf(exp, "%63s %511s", want_code, want_ptr);
                char *nl = strchr(exp, '\n');
                if (nl && nl[1]) {
                    snprintf(want_msg, sizeof want_msg, "%s", nl + 1);
                    want_msg[strcspn(want_msg, "\n")] = 0;
                }
            }
            const char *ptr = !strcmp(want_ptr, "-") ? "" : want_ptr;
            ok = exp && rc != RR_OK && !strcmp(rr_error_name(rc), want_code) &&
                 !strcmp(err.pointer, ptr) && (!want_msg[0] || strstr(err.message, want_msg)) &&
                 err.code == rc;
            if (!ok)
                fprintf(stderr,
                        "FAIL %s/%s: want %s at '%s' containing '%s'; got %s at '%s': %s\n", sub,
                        names[i], want_code, ptr, want_msg, rr_error_name(rc), err.pointer,
                        err.message);
            free(exp);
        }
        if (ok)
            printf("ok   %s/%s%s%s\n", sub, names[i], valid ? "" : "  -> ", valid ? "" : err.message);
        *pass += ok;
        *fail += !ok;
        rr_router_free(r);
        free(text);
        free(names[i]);
    }
    return (int)n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_policies DIR\n");
        return 2;
    }
    int pass = 0, fail = 0;
    int nv = run_dir(argv[1], "valid", &pass, &fail);
    int ni = run_dir(argv[1], "invalid", &pass, &fail);
    if (nv <= 0 || ni <= 0) {
        fprintf(stderr, "no cases found under %s\n", argv[1]);
        return 1;
    }
    printf("%d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}
