/* rrctl demo: the support copilot end to end on a simulated backend
 * (examples/support_copilot). argv[0] is "demo"; returns rrctl's exit codes. */
#ifndef RRCTL_CMD_DEMO_H
#define RRCTL_CMD_DEMO_H

int rrctl_cmd_demo(int argc, char **argv);

#endif
