/* rrctl demo: runs examples/support_copilot (shared with the standalone example program). */
#include "cmd_demo.h"

#include "../../examples/support_copilot/demo.h"

int rrctl_cmd_demo(int argc, char **argv) {
    return rr_demo_main(argc, argv);
}
