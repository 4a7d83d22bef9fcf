#!/usr/bin/env python3
"""`make bench-cluster`: several servers at the speed of one (issue 24).

In one run, interleaved, three rounds of BENCH_SECONDS/2 each, reported by
the median round: W1 (GET /account with a live session, 32 connections)
and W3 (GET /api/session_status) against

  - one release instance on SQLite (as `make bench`), the reference;
  - one instance on PostgreSQL, directly, with the session cache on (kept
    true across servers by LISTEN/NOTIFY) and with it off;
  - two instances behind haproxy on PostgreSQL, cache on and off.

Two clusters run side by side (scripts/cluster.sh, each with its own
throwaway PostgreSQL): one with the cache on, one with
TESSERA_SESSION_CACHE_MAX_ENTRIES=0. Then the propagation of a sign-out:
BENCH_REVOCATIONS (1,000) times, a session signed in on instance a and
read on b (so b has it cached), signed out on a, then read on b until b
refuses it; the time from a's answer to b's first refusal, p50/p99, and
how many b refused at the first read.

Targets: one PostgreSQL instance with the cache >= 0.8 x one SQLite
instance (W1); two behind haproxy >= 0.6 x one SQLite (W1); a sign-out
seen by the other server within 50 ms at p99. All of it shares this
machine's two cores with PostgreSQL, haproxy and oha. Writes
bench/out/cluster.json. Loopback only; everything is stopped and deleted at
the end.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT_ON = os.environ.get("BENCH_CLUSTER_PORT", "3301")
PORT_OFF = os.environ.get("BENCH_CLUSTER_OFF_PORT", "3302")
REVOCATIONS = int(os.environ.get("BENCH_REVOCATIONS", "1000"))


def signed_in(base):
    bench.BASE = base
    return bench.register_and_sign_in()


def start_cluster(work, name, port, extra_env):
    directory = os.path.join(work, name)
    env = dict(os.environ, CLUSTER_BIN=os.path.abspath(bench.SERVER),
               CLUSTER_PORT=port, RUST_LOG="warn",
               LEPTOS_SITE_ROOT="target/site", LEPTOS_OUTPUT_NAME="tessera", **extra_env)
    subprocess.run(["scripts/cluster.sh", "start", directory], env=env, check=True)
    with open(os.path.join(directory, "env")) as f:
        urls = dict(line.strip().split("=", 1) for line in f if "=" in line)
    return directory, env, urls


def status_of(base, cookie):
    req = urllib.request.Request(base + "/api/session_status",
                                 headers={"Cookie": cookie, "User-Agent": bench.BENCH_USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


def propagation(a, b):
    """Sign-outs on `a` seen by `b`: milliseconds from a's answer to b's
    first refusal, and how many b refused at its first read."""
    took, first_read = [], 0
    for _ in range(REVOCATIONS):
        bench.BASE = a
        cookie = bench.sign_in()
        if status_of(b, cookie) != 200:
            raise RuntimeError("b does not know a's new session")
        bench.BASE = a
        res = bench.post("/api/logout", {}, {"Cookie": cookie})
        if res.status not in (200, 302, 303):
            raise RuntimeError(f"sign-out on a: {res.status}")
        answered = time.perf_counter()
        reads = 0
        while True:
            reads += 1
            if status_of(b, cookie) == 401:
                break
            if time.perf_counter() - answered > 5:
                raise RuntimeError("b still serves a signed-out session after 5 s")
        took.append((time.perf_counter() - answered) * 1000)
        first_read += reads == 1
    took.sort()
    return {
        "revocations": REVOCATIONS,
        "p50_ms": round(took[len(took) // 2], 3),
        "p99_ms": round(took[int(len(took) * 0.99) - 1], 3),
        "max_ms": round(took[-1], 3),
        "refused_at_first_read": first_read,
    }


def main():
    os.chdir(ROOT)
    work = tempfile.mkdtemp(prefix="tessera-bench-cluster-")
    # PostgreSQL runs as the postgres user: it must reach its data directory.
    os.chmod(work, 0o755)
    single = bench.start_server(bench.SERVER, os.path.join(work, "bench.db"))
    clusters = []
    try:
        on_dir, on_env, on = start_cluster(work, "cache-on", PORT_ON, {})
        clusters.append((on_dir, on_env))
        off_dir, off_env, off = start_cluster(
            work, "cache-off", PORT_OFF, {"TESSERA_SESSION_CACHE_MAX_ENTRIES": "0"})
        clusters.append((off_dir, off_env))
        targets = {
            "one instance, SQLite": bench.BASE,
            "one instance, PostgreSQL, cache on": on["A_URL"],
            "one instance, PostgreSQL, cache off": off["A_URL"],
            "two + haproxy, PostgreSQL, cache on": f"http://127.0.0.1:{PORT_ON}",
            "two + haproxy, PostgreSQL, cache off": f"http://127.0.0.1:{PORT_OFF}",
        }
        sessions = {name: signed_in(base) for name, base in targets.items()}
        workloads = [("W1 GET /account", "/account"),
                     ("W3 GET /api/session_status", "/api/session_status")]
        rounds = {(t, w): [] for t in targets for w, _ in workloads}
        bench.SECONDS_NOW[0] = max(1, bench.SECONDS // 2)
        for _ in range(3):
            for workload, path in workloads:
                for name, base in targets.items():
                    rounds[(name, workload)].append(
                        bench.oha(base + path, 32, sessions[name]))
        results = {}
        for (name, workload), runs in rounds.items():
            by_rate = sorted(runs, key=lambda r: r["requests_per_sec"])
            results[f"{workload}: {name}"] = dict(
                by_rate[1], rounds=[r["requests_per_sec"] for r in runs])
        print(f"{'workload':64} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7}  statuses")
        for key, r in results.items():
            print(f"{key:64} {r['requests_per_sec']:9.0f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f}"
                  f"  {r['statuses']}  rounds {r['rounds']}")
        ratios = {}
        for workload, _ in workloads:
            one = results[f"{workload}: one instance, SQLite"]["requests_per_sec"]
            for name in targets:
                if name != "one instance, SQLite":
                    rate = results[f"{workload}: {name}"]["requests_per_sec"]
                    ratios[f"{workload}: {name} / one SQLite"] = round(rate / one, 3)
        print()
        for key, ratio in ratios.items():
            print(f"{key:84} {ratio:.2f}")
        revoked = propagation(on["A_URL"], on["B_URL"])
        print(f"\nsign-out on a seen by b ({revoked['revocations']} sign-outs): "
              f"p50 {revoked['p50_ms']} ms, p99 {revoked['p99_ms']} ms, "
              f"max {revoked['max_ms']} ms; refused at b's first read: "
              f"{revoked['refused_at_first_read']}")
        w1 = "W1 GET /account"
        checks = [
            (f"{w1}: one PostgreSQL instance, cache on >= 0.8 x one SQLite",
             ratios[f"{w1}: one instance, PostgreSQL, cache on / one SQLite"], 0.8),
            (f"{w1}: two + haproxy, cache on >= 0.6 x one SQLite",
             ratios[f"{w1}: two + haproxy, PostgreSQL, cache on / one SQLite"], 0.6),
        ]
        print()
        for what, ratio, floor in checks:
            print(f"  {'met' if ratio >= floor else 'MISSED':7} {what}: {ratio:.2f}")
        p99 = revoked["p99_ms"]
        print(f"  {'met' if p99 <= 50 else 'MISSED':7} sign-out seen by the other server "
              f"within 50 ms at p99: {p99} ms")
        results["ratios"] = ratios
        results["sign-out propagation"] = revoked
        os.makedirs(bench.OUT, exist_ok=True)
        with open(os.path.join(bench.OUT, "cluster.json"), "w") as f:
            json.dump(results, f, indent=2)
    finally:
        for directory, env in clusters:
            subprocess.run(["scripts/cluster.sh", "stop", directory], env=env)
        bench.stop_server(single)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
