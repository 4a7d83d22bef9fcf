#!/usr/bin/env python3
"""`make bench`: drive the release server with oha and print a table.

First part of issue 4. Measures W0 (GET /health), W1 (GET /account with a
session), W3 (GET /api/session_status) and W2 (form sign-in POST), the
server's peak RSS, and whether W1 + W3 inside the touch window wrote to the
database at all (SQLite's data_version, read from a separate connection).
Loopback only; every run is bounded by BENCH_SECONDS; the server it starts
is stopped at the end.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ADDRESS = os.environ.get("BENCH_ADDRESS", "127.0.0.1:3200")
BASE = f"http://{ADDRESS}"
USER, PASSWORD = "benchuser", "Quartz ladle orbit 97 yawn"
OUT = os.path.join(os.path.dirname(__file__), "out")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(path, fields, headers=None):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(BASE + path, data=data, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(req, timeout=30)
    except urllib.error.HTTPError as e:
        return e


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def oha(url, connections, extra=()):
    cmd = ["oha", "-z", f"{SECONDS}s", "-c", str(connections), "--no-tui",
           "--output-format", "json", *extra, url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    statuses = result.get("statusCodeDistribution", {})
    total = sum(statuses.values())
    return {
        "requests_per_sec": round(result["metrics"]["requests_per_sec"], 1),
        "p50_ms": result["metrics"]["latency_ms"]["p50"],
        "p99_ms": result["metrics"]["latency_ms"]["p99"],
        "statuses": statuses,
        "errors": sum(result.get("errorDistribution", {}).values()),
        "requests": total,
    }


def main():
    data_dir = tempfile.mkdtemp(prefix="tessera-bench-")
    db_path = os.path.join(data_dir, "bench.db")
    env = dict(os.environ,
               LEPTOS_SITE_ADDR=ADDRESS, LEPTOS_SITE_ROOT="target/site",
               LEPTOS_OUTPUT_NAME="tessera", TESSERA_DATABASE_PATH=db_path,
               RUST_LOG="warn")
    server = subprocess.Popen(["target/release/server"], env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(BASE + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        post("/api/register", {"username": USER, "password": PASSWORD,
                               "password_confirm": PASSWORD})
        res = post("/api/login", {"username": USER, "password": PASSWORD})
        cookie = res.headers["Set-Cookie"].split(";")[0]
        session = ["-H", f"Cookie: {cookie}"]

        results = {}
        results["W0 GET /health (32 conn)"] = oha(BASE + "/health", 32)
        results["W0 GET /health (32 conn)"]["peak_rss_mb"] = round(peak_rss_mb(server.pid), 1)

        # W1 and W3 run inside the 60 s touch window opened by the sign-in
        # above: they must not write at all.
        db = sqlite3.connect(db_path)
        version_before = db.execute("PRAGMA data_version").fetchone()[0]
        results["W1 GET /account (32 conn)"] = oha(BASE + "/account", 32, session)
        results["W1 GET /account (32 conn)"]["peak_rss_mb"] = round(peak_rss_mb(server.pid), 1)
        results["W3 GET /api/session_status (32 conn)"] = oha(
            BASE + "/api/session_status", 32, session)
        version_after = db.execute("PRAGMA data_version").fetchone()[0]
        wrote = version_after != version_before

        results["W2 POST /api/login form (8 conn)"] = oha(
            BASE + "/api/login", 8,
            ["-m", "POST", "-T", "application/x-www-form-urlencoded",
             "-H", "Accept: text/html",
             "-d", urllib.parse.urlencode({"username": USER, "password": PASSWORD})])
        results["W2 POST /api/login form (8 conn)"]["peak_rss_mb"] = round(peak_rss_mb(server.pid), 1)

        print(f"\nTessera benchmark, {SECONDS} s per workload, loopback, oha\n")
        print(f"{'workload':40} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  statuses")
        for name, r in results.items():
            print(f"{name:40} {r['requests_per_sec']:>10} {r['p50_ms']:>8} {r['p99_ms']:>8} "
                  f"{r['errors']:>7}  {r['statuses']}")
        print(f"\nserver peak RSS: {max(r.get('peak_rss_mb', 0) for r in results.values())} MB")
        w1w3 = (results['W1 GET /account (32 conn)']['requests']
                + results['W3 GET /api/session_status (32 conn)']['requests'])
        print(f"database written during {w1w3} W1+W3 requests inside the touch window: "
              f"{'YES' if wrote else 'no (0 writes per request)'}")

        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, "results.json"), "w") as f:
            json.dump({"seconds": SECONDS, "workloads": results,
                       "w1_w3_requests": w1w3, "w1_w3_wrote": wrote}, f, indent=2)
        print(f"JSON: {os.path.join(OUT, 'results.json')}")
        return 1 if wrote else 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
