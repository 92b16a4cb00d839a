/* rrctl subcommands for offline evaluation: replay, sweep, calibrate, compare, merge and
 * import. Each takes argv with argv[0] = the subcommand name and returns the process exit
 * code of rrctl.h (0 success, 1 usage, 2 policy, 3 bad input records, 4 I/O or internal);
 * calibrate also returns 5 when no candidate meets the objectives. */
#ifndef RRCTL_CMD_EVAL_H
#define RRCTL_CMD_EVAL_H

int rrctl_cmd_replay(int argc, char **argv);
int rrctl_cmd_sweep(int argc, char **argv);
int rrctl_cmd_calibrate(int argc, char **argv);
int rrctl_cmd_compare(int argc, char **argv);
int rrctl_cmd_merge(int argc, char **argv);
int rrctl_cmd_import(int argc, char **argv);

#endif
