import gc
import os
import unittest

from routeright import Router

from support import FAQ, REFUND, TICKET

ROUTES = int(os.environ.get("RR_LEAK_ROUTES", "100000"))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@unittest.skipUnless(os.path.exists("/proc/self/statm"), "needs /proc/self/statm")
@unittest.skipIf(os.environ.get("RR_SANITIZED"), "RSS means nothing under ASan's quarantine")
class LeakTest(unittest.TestCase):
    def test_100000_routes_do_not_grow_rss(self):
        reqs = [FAQ, REFUND, TICKET]
        with Router.default() as r:
            for i in range(3000):  # warm-up: buffers, caches, the allocator's arenas
                r.route(**reqs[i % 3]).record
            gc.collect()
            before = rss_bytes()
            for i in range(ROUTES):
                d = r.route(**reqs[i % 3])
                if i % 7 == 0:
                    d.record  # parse some records too
            gc.collect()
            after = rss_bytes()
        # A leak of even 64 bytes per route would add 6 MiB; allow 4 MiB of allocator noise.
        growth = after - before
        print(f"\nrss before {before >> 10} KiB, after {ROUTES} routes {after >> 10} KiB, "
              f"growth {growth >> 10} KiB", flush=True)
        self.assertLess(growth, 4 << 20)

    def test_creating_and_closing_routers_does_not_grow_rss(self):
        for _ in range(50):
            with Router.default() as r:
                r.route(**FAQ)
        gc.collect()
        before = rss_bytes()
        for _ in range(500):
            with Router.default() as r:
                r.route(**FAQ)
        gc.collect()
        growth = rss_bytes() - before
        # One router holds compiled regexes and tables (~100s of KiB): 500 leaked would
        # add tens of MiB.
        self.assertLess(growth, 4 << 20)


if __name__ == "__main__":
    unittest.main()
