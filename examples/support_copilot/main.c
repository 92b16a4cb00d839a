/* The support-copilot demo as a standalone program; `rrctl demo` runs the same code. */
#include "demo.h"

int main(int argc, char **argv) {
    return rr_demo_main(argc, argv);
}
