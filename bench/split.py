#!/usr/bin/env python3
"""Where a page's time goes: the release server (or another binary, for an
A/B) driven with oha for BENCH_SECONDS each (default 5) on pages that differ
by one thing: no session, a session on the same page, the account page, the
status read. Prints req/s and microseconds per request. Loopback only;
bounded runs; the server is stopped at the end.

    python3 bench/split.py [SERVER_BINARY]

Used for issue 9's A/Bs (designs, session cache): run it for each binary
in turn, twice, and compare the same rows of the same round.
"""
import os
import sys
import tempfile

os.environ.setdefault("BENCH_SECONDS", "5")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/server"
    data_dir = tempfile.mkdtemp(prefix="tessera-split-")
    server = bench.start_server(binary, os.path.join(data_dir, "split.db"), "error")
    try:
        session = bench.register_and_sign_in()
        for name, path, extra in [("W0 /health", "/health", []),
                                  ("F /about", "/about", []),
                                  ("/ anonymous", "/", []),
                                  ("/ signed in", "/", session),
                                  ("/about signed in", "/about", session),
                                  ("W3 /api/session_status", "/api/session_status", session),
                                  ("W1 /account", "/account", session),
                                  ("W0 /health again", "/health", [])]:
            r = bench.oha(bench.BASE + path, 32, extra)
            rate = r["requests_per_sec"]
            print(f"{name:24} {rate:>10,.0f} req/s {1e6 / rate:7.1f} us/req  {r['statuses']}",
                  flush=True)
    finally:
        bench.stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
