#!/usr/bin/env python3
"""An A/B of sign-in throughput (W2): each arm is a server binary, with
optional settings from the environment, and the arms run alternately,
round by round, so that this VM's drift (10-30% within a minute) moves
them alike. Each round measures the raw argon2 rate (`server argon2-rate`)
for half of BENCH_SECONDS just before and just after W2 (8 connections
signing in for BENCH_SECONDS), and the server's CPU time by thread
(argon2 pool, Tokio workers, SQLite workers) from /proc. Prints per round
and the medians; loopback only, each server stopped after its round.

    python3 bench/w2_ab.py ARM [ARM ...]
    ARM = BINARY or BINARY:NAME=VALUE,NAME=VALUE

    python3 bench/w2_ab.py /tmp/before target/release/server
    python3 bench/w2_ab.py target/release/server \\
        target/release/server:TESSERA_DATABASE_MAX_CONNECTIONS=8

ROUNDS (default 3) and BENCH_SECONDS (default 8) set the length. Used for
issue 12's W2 decisions (docs/performance.md).
"""
import glob
import os
import statistics
import sys
import tempfile

os.environ.setdefault("BENCH_SECONDS", "8")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ms_by_thread(pid):
    """CPU time so far (user + system) of each kind of thread, by name."""
    spent = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            name = open(task + "/comm").read().strip().rstrip("0123456789-")
            fields = open(task + "/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[name] = spent.get(name, 0) + (int(fields[11]) + int(fields[12])) * TICK_MS
    return spent


def one_round(arm):
    binary, _, settings = arm.partition(":")
    saved = dict(os.environ)
    for pair in filter(None, settings.split(",")):
        name, value = pair.split("=", 1)
        os.environ[name] = value
    bench.SERVER = binary
    data_dir = tempfile.mkdtemp(prefix="tessera-w2ab-")
    try:
        server = bench.start_server(binary, os.path.join(data_dir, "w2.db"), "error")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        bench.register_and_sign_in()
        before = bench.argon2_rate(bench.SECONDS / 2)["hashes_per_sec"]
        cpu_before = cpu_ms_by_thread(server.pid)
        w2 = bench.oha(bench.BASE + "/api/login", 8, bench.W2_ARGS)
        cpu_after = cpu_ms_by_thread(server.pid)
        after = bench.argon2_rate(bench.SECONDS / 2)["hashes_per_sec"]
    finally:
        bench.stop_server(server)
    raw = (before + after) / 2
    sign_ins = sum(w2["statuses"].values())
    per_sign_in = {name: round((spent - cpu_before.get(name, 0)) / sign_ins, 2)
                   for name, spent in cpu_after.items()
                   if spent != cpu_before.get(name, 0)}
    total = sum(per_sign_in.values())
    # Both cores hash at the raw rate: 2000 / raw ms of CPU per hash.
    beyond_argon2 = total - 2000 / raw
    return {"w2": w2["requests_per_sec"], "raw": raw,
            "ratio": w2["requests_per_sec"] / raw,
            "cpu_ms": total, "beyond_argon2_ms": beyond_argon2,
            "by_thread_ms": per_sign_in}


def main():
    arms = sys.argv[1:]
    if not arms:
        sys.exit(__doc__)
    results = {arm: [] for arm in arms}
    for n in range(int(os.environ.get("ROUNDS", "3"))):
        for arm in arms:
            r = one_round(arm)
            results[arm].append(r)
            print(f"round {n + 1}  {arm}: W2 {r['w2']:.1f}/s, raw {r['raw']:.1f}/s, "
                  f"W2/raw {r['ratio']:.3f}, CPU {r['cpu_ms']:.2f} ms per sign-in "
                  f"({r['beyond_argon2_ms']:.2f} beyond argon2) {r['by_thread_ms']}",
                  flush=True)
    for arm in arms:
        rounds = results[arm]
        ratios = ", ".join(format(r["ratio"], ".3f") for r in rounds)
        print(f"{arm}: median W2/raw {statistics.median(r['ratio'] for r in rounds):.3f} "
              f"(rounds {ratios}), "
              f"median CPU beyond argon2 "
              f"{statistics.median(r['beyond_argon2_ms'] for r in rounds):.2f} ms per sign-in")


if __name__ == "__main__":
    main()
