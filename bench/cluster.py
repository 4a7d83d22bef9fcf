#!/usr/bin/env python3
"""`make bench-cluster`: W1 (GET /account with a live session, 32
connections) and W3 (GET /api/session_status) through haproxy on two
release instances sharing a throwaway PostgreSQL (scripts/cluster.sh, as
`make cluster`), against one release instance on SQLite (as `make bench`)
and against one of the two instances directly (PostgreSQL without the
balancer),
interleaved, three rounds of BENCH_SECONDS/2 each, reported by the median
round and as a ratio taken in the same run.

On PostgreSQL the session cache is off (another server's revocation would
not reach it): every request reads its session from the database, over
TCP, through a balancer; all of it shares this machine's cores with the
load generator. Writes bench/out/cluster.json. Loopback only; everything is
stopped and deleted at the end.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_PORT = os.environ.get("BENCH_CLUSTER_PORT", "3301")


def signed_in(base):
    bench.BASE = base
    return bench.register_and_sign_in()


def main():
    os.chdir(ROOT)
    work = tempfile.mkdtemp(prefix="tessera-bench-cluster-")
    # PostgreSQL runs as the postgres user: it must reach its data directory.
    os.chmod(work, 0o755)
    cluster_dir = os.path.join(work, "cluster")
    env = dict(os.environ, CLUSTER_BIN=os.path.abspath(bench.SERVER),
               CLUSTER_PORT=CLUSTER_PORT, RUST_LOG="warn",
               LEPTOS_SITE_ROOT="target/site", LEPTOS_OUTPUT_NAME="tessera")
    single = bench.start_server(bench.SERVER, os.path.join(work, "bench.db"))
    try:
        subprocess.run(["scripts/cluster.sh", "start", cluster_dir], env=env, check=True)
        with open(os.path.join(cluster_dir, "env")) as f:
            cluster_env = dict(line.strip().split("=", 1) for line in f if "=" in line)
        targets = {
            "one instance, SQLite": bench.BASE,
            # The same PostgreSQL instance without the balancer: what the
            # database costs, apart from haproxy's hop.
            "instance a alone, PostgreSQL": cluster_env["A_URL"],
            "two instances + haproxy, PostgreSQL": f"http://127.0.0.1:{CLUSTER_PORT}",
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
        print(f"{'workload':62} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for key, r in results.items():
            print(f"{key:62} {r['requests_per_sec']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
                  f"   rounds {r['rounds']}")
        for workload, _ in workloads:
            one = results[f"{workload}: one instance, SQLite"]["requests_per_sec"]
            alone = results[f"{workload}: instance a alone, PostgreSQL"]["requests_per_sec"]
            two = results[f"{workload}: two instances + haproxy, PostgreSQL"]["requests_per_sec"]
            print(f"{workload}: cluster / single SQLite = {two / one:.2f}, "
                  f"one PostgreSQL instance / single SQLite = {alone / one:.2f}")
            results[f"{workload}: cluster / single"] = round(two / one, 3)
            results[f"{workload}: PostgreSQL instance / single"] = round(alone / one, 3)
        os.makedirs(bench.OUT, exist_ok=True)
        with open(os.path.join(bench.OUT, "cluster.json"), "w") as f:
            json.dump(results, f, indent=2)
    finally:
        subprocess.run(["scripts/cluster.sh", "stop", cluster_dir], env=env)
        bench.stop_server(single)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
