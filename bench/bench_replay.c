/* Replay throughput: records/s of rr_eval_add_file on a generated replay file (three
 * routes' outcomes per record, through the built-in support policy), beside jansson's
 * parse-only throughput of the same file read the same way, and the process's peak
 * memory. Each size runs in its own child process so ru_maxrss is that size's peak:
 * equal peaks at 250k and 1M records show memory does not grow with the file.
 *
 *   bench_replay [RECORDS ...]     (default: 250000 1000000)
 *
 * The file is written to a fresh directory under $TMPDIR (or /tmp) and removed after. */
#define _DEFAULT_SOURCE
#include "routeright.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU time: the machine may be busy */
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static const char *const topics[] = {"password",         "invoice", "export",    "billing address",
                                     "two-factor login", "API key", "team seat", "data retention"};

/* One record: an FAQ with good or weak retrieval, or an extraction, each with the recorded
 * outcome of the three routes its ladder can reach. */
static void record(FILE *f, uint64_t i, uint64_t *s) {
    const char *topic = topics[next(s) % 8];
    unsigned kind = (unsigned)(next(s) % 10);
    int small_ok = next(s) % 100 < 75, mid_ok = next(s) % 100 < 88;
    double lat = 250 + (double)(next(s) % 400);
    if (kind < 8) {
        double s1 = kind < 6 ? 0.9 : 0.5, s2 = kind < 6 ? 0.3 : 0.45;
        fprintf(
            f,
            "{\"id\":\"r%llu\",\"text\":\"How do I change my %s on the account page?\","
            "\"evidence\":[{\"id\":\"kb%llu\",\"text\":\"To change your %s open the account "
            "page and choose edit.\",\"score\":%.2f},{\"id\":\"kb%llu\",\"text\":\"Billing "
            "questions go to the billing page.\",\"score\":%.2f}],\"labels\":{\"task\":\"faq\"},"
            "\"outcomes\":{\"small_rag_v2\":{\"quality\":%.2f,\"accepted\":%s,\"cost_usd\":"
            "0.0004,\"latency_ms\":%.0f},\"medium_rag_v1\":{\"quality\":%.2f,\"accepted\":%s,"
            "\"cost_usd\":0.003,\"latency_ms\":%.0f},\"premium_rag_v1\":{\"quality\":0.97,"
            "\"accepted\":true,\"cost_usd\":0.021,\"latency_ms\":%.0f}}}\n",
            (unsigned long long)i, topic, (unsigned long long)(i % 977), topic, s1,
            (unsigned long long)(i % 331), s2, small_ok ? 0.85 : 0.3, small_ok ? "true" : "false",
            lat, mid_ok ? 0.9 : 0.4, mid_ok ? "true" : "false", lat * 2.5, lat * 6);
    } else {
        fprintf(f,
                "{\"id\":\"r%llu\",\"text\":\"Extract the ticket fields: customer CU-%llu cannot "
                "download the %s report\",\"attrs\":{\"output.format\":\"json\"},\"labels\":"
                "{\"task\":\"extract\",\"risk\":\"%s\"},\"outcomes\":{\"small_extract_v1\":"
                "{\"quality\":%.2f,\"accepted\":%s,\"cost_usd\":0.0005,\"latency_ms\":%.0f},"
                "\"medium_extract_v1\":{\"quality\":0.9,\"accepted\":true,\"cost_usd\":0.004,"
                "\"latency_ms\":%.0f},\"premium_extract_structured_v1\":{\"quality\":0.98,"
                "\"accepted\":true,\"cost_usd\":0.03,\"latency_ms\":%.0f}}}\n",
                (unsigned long long)i, (unsigned long long)(i % 100000), topic,
                kind == 9 ? "high" : "low", small_ok ? 0.8 : 0.2, small_ok ? "true" : "false", lat,
                lat * 2, lat * 5);
    }
}

/* Parse-only baseline: the same 64 KiB chunked reader rr_eval_add_file uses, json_loadb
 * with the same flags, nothing else. */
static long parse_only(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    static char chunk[1 << 16];
    char *carry = NULL;
    size_t clen = 0, ccap = 0, n;
    long records = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
            if (chunk[i] != '\n')
                continue;
            const char *line = chunk + start;
            size_t len = i - start;
            if (clen) {
                if (clen + len > ccap)
                    carry = realloc(carry, ccap = (clen + len) * 2);
                memcpy(carry + clen, line, len);
                line = carry, len += clen, clen = 0;
            }
            json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
            records += j != NULL;
            json_decref(j);
            start = i + 1;
        }
        if (start < n) {
            if (clen + n - start > ccap)
                carry = realloc(carry, ccap = (clen + n - start) * 2);
            memcpy(carry + clen, chunk + start, n - start);
            clen += n - start;
        }
    }
    free(carry);
    fclose(f);
    return records;
}

static int run_size(long n) {
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/rr-bench-replay-XXXXXX", tmp);
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/replay.jsonl", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    uint64_t s = 12345;
    for (long i = 0; i < n; i++)
        record(f, (uint64_t)i, &s);
    long size = ftell(f);
    fclose(f);

    double t0 = now();
    long parsed = parse_only(path);
    double t_parse = now() - t0;

    rr_router *r = NULL;
    rr_eval *ev = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_router_new_default(&r, NULL, &err) || rr_eval_new(&ev, r, NULL, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    t0 = now();
    int rc = rr_eval_add_file(ev, path, &err);
    size_t rlen = 0;
    const char *res = rc == RR_OK ? rr_eval_result_json(ev, &rlen) : NULL;
    double t_replay = now() - t0;
    if (rc != RR_OK || !res) {
        fprintf(stderr, "replay: %s\n", err.message);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%9ld  %7.1f MB  %12.0f  %12.0f  %6.1f%%  %8.1f MB   (%llu replayed, %llu missing)\n", n,
           (double)size / 1e6, (double)parsed / t_parse,
           (double)rr_eval_record_count(ev) / t_replay, 100 * t_parse / t_replay,
           (double)ru.ru_maxrss / 1024, (unsigned long long)rr_eval_record_count(ev),
           (unsigned long long)rr_eval_missing_count(ev));
    fflush(stdout);
    rr_eval_free(ev);
    rr_router_free(r);
    unlink(path);
    rmdir(dir);
    return 0;
}

int main(int argc, char **argv) {
    long sizes[16] = {250000, 1000000};
    int ns = 2;
    if (argc > 1) {
        ns = 0;
        for (int i = 1; i < argc && ns < 16; i++)
            sizes[ns++] = atol(argv[i]);
    }
    printf("replay throughput, built-in support policy, 3 routes' outcomes per record\n");
    printf("%9s  %10s  %12s  %12s  %7s  %11s\n", "records", "file", "parse rec/s", "replay rec/s",
           "ratio", "peak RSS");
    for (int i = 0; i < ns; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            _exit(run_size(sizes[i]));
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            return 1;
    }
    printf("ratio = replay throughput / parse-only throughput (target >= 50%%); peak RSS is\n"
           "each child's ru_maxrss, file generation and the parse-only pass included.\n");
    return 0;
}
