/* JSON-Schema-Test-Suite runner: schema_conformance <suite_dir> <draft> [known_failures].
 * Registers remotes/ at http://localhost:1234/, runs every tests/<draft>/NAME.json (required),
 * optional/NAME.json and optional/format/NAME.json (with format assertion), prints counts per file
 * and exits 1 on any failure not listed in the known-failures file, 77 when the suite or
 * the draft is absent (meson's "skipped"). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "routeright.h"
#include "schema.h"

typedef struct known {
    char **lines;
    size_t n;
    bool *seen;
} known;

typedef struct totals {
    size_t pass, fail, known_fail;
} totals;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* Known failures are kept as "<file> | <case> | <test>" (the reason is dropped). */
static void load_known(known *k, const char *path) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *parts[4] = {0};
        char *save = NULL, *tok = strtok_r(s, "|", &save);
        for (int i = 0; tok && i < 4; i++, tok = strtok_r(NULL, "|", &save))
            parts[i] = trim(tok);
        if (!parts[2])
            continue;
        char key[2048];
        snprintf(key, sizeof key, "%s|%s|%s", parts[0], parts[1], parts[2]);
        k->lines = realloc(k->lines, (k->n + 1) * sizeof *k->lines);
        k->seen = realloc(k->seen, (k->n + 1) * sizeof *k->seen);
        k->lines[k->n] = strdup(key);
        k->seen[k->n++] = false;
    }
    fclose(f);
}

static bool is_known(known *k, const char *file, const char *cs, const char *test) {
    char key[2048];
    snprintf(key, sizeof key, "%s|%s|%s", file, cs, test);
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->lines[i], key) == 0)
            return k->seen[i] = true;
    return false;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of `dir` ending in `suffix` (files) or all dirs. */
static char **list_dir(const char *dir, bool dirs, size_t *n) {
    DIR *d = opendir(dir);
    char **v = NULL;
    *n = 0;
    if (!d)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || (bool)S_ISDIR(st.st_mode) != dirs)
            continue;
        if (!dirs && !strstr(e->d_name, ".json"))
            continue;
        v = realloc(v, (*n + 1) * sizeof *v);
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void add_remotes(rr_schema_registry *reg, const char *dir, const char *rel) {
    size_t n;
    char **files = list_dir(dir, false, &n);
    for (size_t i = 0; i < n; i++) {
        char p[4096], uri[4096];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        snprintf(uri, sizeof uri, "http://localhost:1234/%s%s", rel, files[i]);
        size_t len;
        char *text = read_file(p, &len);
        rr_error err = RR_ERROR_INIT;
        if (!text || rr_schema_registry_add(reg, uri, text, len, &err) != RR_OK)
            fprintf(stderr, "warning: cannot register %s: %s\n", uri, err.message);
        free(text);
    }
    free_list(files, n);
    char **dirs = list_dir(dir, true, &n);
    for (size_t i = 0; i < n; i++) {
        char p[4096], r[4096];
        snprintf(p, sizeof p, "%s/%s", dir, dirs[i]);
        snprintf(r, sizeof r, "%s%s/", rel, dirs[i]);
        add_remotes(reg, p, r);
    }
    free_list(dirs, n);
}

typedef struct run {
    const char *draft;
    rr_schema_registry *reg;
    rr_verdict *verdict;
    known known;
    bool verbose;
} run;

static unsigned draft_code(const char *draft) {
    if (strstr(draft, "draft7") || strstr(draft, "draft-07"))
        return RR_SCHEMA_DRAFT_07;
    if (strstr(draft, "2019"))
        return RR_SCHEMA_DRAFT_2019_09;
    return RR_SCHEMA_DRAFT_2020_12;
}

static void run_case(run *r, const char *file, json_t *tc, bool format, totals *t, size_t *fp,
                     size_t *ff) {
    const char *cdesc = json_string_value(json_object_get(tc, "description"));
    char *text = json_dumps(json_object_get(tc, "schema"), JSON_ENCODE_ANY | JSON_COMPACT);
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.registry = r->reg;
    o.default_draft = draft_code(r->draft);
    o.flags = format ? RR_SCHEMA_FORMAT_ASSERT : 0;
    rr_schema *s = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_schema_new(&s, text, strlen(text), &o, &err);
    free(text);
    size_t i;
    json_t *test;
    json_array_foreach(json_object_get(tc, "tests"), i, test) {
        const char *tdesc = json_string_value(json_object_get(test, "description"));
        bool want = json_is_true(json_object_get(test, "valid"));
        bool got = false, ok;
        char why[600] = "";
        if (rc != RR_OK) {
            ok = false;
            snprintf(why, sizeof why, "compile failed: %s", err.message);
        } else {
            rr_verdict_reset(r->verdict);
            rr_error verr = RR_ERROR_INIT;
            int vr = rr_schema_validate_json(s, json_object_get(test, "data"), r->verdict, "schema",
                                             &verr);
            got = vr == RR_OK && rr_verdict_passed(r->verdict);
            ok = vr == RR_OK && got == want;
            if (vr != RR_OK)
                snprintf(why, sizeof why, "error %d: %s", vr, verr.message);
            else if (!ok)
                snprintf(why, sizeof why, "expected %s, got %s", want ? "valid" : "invalid",
                         got ? "valid" : "invalid");
        }
        if (ok) {
            t->pass++, (*fp)++;
        } else if (is_known(&r->known, file, cdesc, tdesc)) {
            t->known_fail++, (*ff)++;
        } else {
            t->fail++, (*ff)++;
            printf("  FAIL %s | %s | %s | %s\n", file, cdesc, tdesc, why);
        }
    }
    rr_schema_free(s);
}

static void run_file(run *r, const char *dir, const char *rel, const char *name, bool format,
                     totals *t) {
    char path[4096], file[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(file, sizeof file, "%s/%s%s", r->draft, rel, name);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &je);
    if (!doc)
        doc = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!doc) {
        printf("  FAIL %s: cannot parse: %s\n", file, je.text);
        t->fail++;
        return;
    }
    size_t fp = 0, ff = 0, i;
    json_t *tc;
    json_array_foreach(doc, i, tc) run_case(r, file, tc, format, t, &fp, &ff);
    printf("%-4s %s: %zu/%zu\n", ff ? "fail" : "ok", file, fp, fp + ff);
    json_decref(doc);
}

static void run_dir(run *r, const char *dir, const char *rel, bool format, totals *t) {
    size_t n;
    char **files = list_dir(dir, false, &n);
    for (size_t i = 0; i < n; i++)
        run_file(r, dir, rel, files[i], format, t);
    free_list(files, n);
}

static void summary(const char *what, const totals *t) {
    size_t total = t->pass + t->fail + t->known_fail;
    printf("%s: %zu of %zu tests pass (%.1f%%), %zu known failures, %zu unexpected\n", what,
           t->pass, total, total ? 100.0 * (double)t->pass / (double)total : 100.0, t->known_fail,
           t->fail);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <suite_dir> <draft> [known_failures.txt]\n", argv[0]);
        return 2;
    }
    const char *suite = argv[1];
    run r = {.draft = argv[2], .verbose = getenv("RR_VERBOSE") != NULL};
    char tests[4096], remotes[4096];
    snprintf(tests, sizeof tests, "%s/tests/%s", suite, r.draft);
    snprintf(remotes, sizeof remotes, "%s/remotes", suite);
    struct stat st;
    if (stat(tests, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIPPED: suite not found at %s\n", tests);
        return 77;
    }
    load_known(&r.known, argc > 3 ? argv[3] : NULL);
    if (rr_schema_registry_new(&r.reg, NULL) != RR_OK || rr_verdict_new(&r.verdict, NULL) != RR_OK)
        return 1;
    add_remotes(r.reg, remotes, "");
    totals req = {0}, opt = {0}, fmt = {0};
    char sub[4200];
    run_dir(&r, tests, "", false, &req);
    snprintf(sub, sizeof sub, "%s/optional", tests);
    run_dir(&r, sub, "optional/", false, &opt);
    snprintf(sub, sizeof sub, "%s/optional/format", tests);
    run_dir(&r, sub, "optional/format/", true, &fmt);
    printf("\n%s\n", r.draft);
    summary("required", &req);
    summary("optional", &opt);
    summary("optional/format", &fmt);
    for (size_t i = 0; i < r.known.n; i++) {
        if (!r.known.seen[i] && strncmp(r.known.lines[i], r.draft, strlen(r.draft)) == 0 &&
            r.known.lines[i][strlen(r.draft)] == '/')
            printf("note: known failure now passes or is gone: %s\n", r.known.lines[i]);
        free(r.known.lines[i]);
    }
    free(r.known.lines);
    free(r.known.seen);
    rr_verdict_free(r.verdict);
    rr_schema_registry_free(r.reg);
    return req.fail + opt.fail + fmt.fail ? 1 : 0;
}
