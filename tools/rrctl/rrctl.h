/* Shared pieces of the rrctl command line. */
#ifndef RRCTL_H
#define RRCTL_H

#include "routeright.h"
#include <stdio.h>

/* Exit codes, documented in `rrctl --help` and the README. */
enum {
    RRCTL_OK = 0,
    RRCTL_USAGE = 1,   /* bad command line */
    RRCTL_POLICY = 2,  /* the policy (or another input document) failed to compile */
    RRCTL_INPUT = 3,   /* some input records were invalid (reported on stderr) */
    RRCTL_FAILURE = 4  /* I/O or internal error */
};

/* Print an rr_error as "rrctl: <what>: <message> (line L, column C)" on stderr. */
void rrctl_print_error(const char *what, const rr_error *err);
/* Build a router from --policy FILE, or the built-in default when path is NULL. */
int rrctl_load_router(const char *path, rr_router **out);
/* Read one line of any length; returns its length or -1 at EOF. Caller frees *buf. */
long rrctl_getline(char **buf, size_t *cap, FILE *f);

int rrctl_cmd_route(int argc, char **argv);
int rrctl_cmd_features(int argc, char **argv);
int rrctl_cmd_lint(int argc, char **argv);
int rrctl_cmd_validate(int argc, char **argv);

#endif
