#!/usr/bin/env python3
"""`make bench`: drive the release server with oha and check the targets
of issues 4 and 9.

Starts target/release/server on 127.0.0.1 with a fresh temporary database,
registers a user, and measures, each for BENCH_SECONDS (default 10):

  W0, F, W1 and W3 run interleaved, three rounds of half the time each,
  and are reported by their median round.

  W0  GET /health                          32 connections, no session
  F   GET /about (the floor)               32 connections, no session: a
                                           page from the same shell and
                                           router with no session and no data
  W1  GET /account (the SSR page)          32 connections, a live session
  W1b GET /account on a bound session      32 connections, a session bound to a
                                           scripted device key (DBSC, issue 26;
                                           testkit's dbsc-bind): its bound cookie
                                           hashed and checked on every request
  W3  GET /api/session_status              32 connections, a live session
  W2  form POST to /api/login              8 connections, a fresh sign-in each,
                                           three times; with [geoip] on (the
                                           tests' database) and each sign-in
                                           from a public address
                                           (X-Forwarded-For through [proxy]
                                           trusted), so each one is located
                                           and judged for impossible travel
  raw argon2 rate                          `server argon2-rate`, all cores,
                                           just before and just after each W2
  W1 during W2                             both at once: W1's p99 against W1's
                                           own, measured just before
  W1 at 1,000 and at 1,000,000 sessions    rows seeded straight into SQLite
  writes                                   10,000 W1 + 10,000 W3 requests inside
                                           the touch window, SQLite commits
                                           counted from a second connection

the server's peak RSS (VmHWM) after W1 and after W2, and the size of the
browser bundle (wasm + JS glue in target/site/pkg, brotli -q 11, Debian's
brotli CLI). Prints a table and
the targets met or missed, writes bench/out/results.json. Loopback only;
every load run is bounded by time or count; the server is stopped at the end.
Exits non-zero only if something did not work (not for a missed target).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
SCALE = int(os.environ.get("BENCH_SCALE_SESSIONS", "1000000"))
ADDRESS = os.environ.get("BENCH_ADDRESS", "127.0.0.1:3200")
SERVER = os.environ.get("BENCH_SERVER", "target/release/server")
BASE = f"http://{ADDRESS}"
USER, PASSWORD = "benchuser", "Quartz ladle orbit 97 yawn"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
LOGIN_FORM = urllib.parse.urlencode({"username": USER, "password": PASSWORD})
# Sydney in the tests' GeoIP database (testkit/src/geoip.rs).
W2_FROM = "203.0.113.50"
W2_ARGS = ["-m", "POST", "-T", "application/x-www-form-urlencoded",
           "-H", "Accept: text/html", "-H", f"X-Forwarded-For: {W2_FROM}",
           "-d", LOGIN_FORM]
# The argon2 concurrency bound the server runs with (Leptos.toml default),
# for the RSS budget of W2.
HASH_CONCURRENCY = int(os.environ.get("TESSERA_PASSWORD_HASH_CONCURRENCY", "2"))


# One user agent for every request the benchmark makes: a session whose
# browser or system changes is revoked as stolen (issue 12), so the sign-in
# (urllib) and the load (oha) must present the same one.
BENCH_USER_AGENT = "tessera-bench/1"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(path, fields, headers=None):
    data = urllib.parse.urlencode(fields).encode()
    headers = {"User-Agent": BENCH_USER_AGENT, **(headers or {})}
    req = urllib.request.Request(BASE + path, data=data, headers=headers)
    try:
        return urllib.request.build_opener(NoRedirect).open(req, timeout=30)
    except urllib.error.HTTPError as e:
        return e


def sign_in():
    """A fresh session; returns the Cookie header value."""
    res = post("/api/login", {"username": USER, "password": PASSWORD},
               {"Accept": "text/html"})
    cookie = res.headers.get("Set-Cookie", "")
    if res.status not in (302, 303) or not cookie.startswith("__Host-sid="):
        raise RuntimeError(f"sign-in failed: {res.status} {cookie!r}")
    return cookie.split(";")[0]


def bundle_size():
    """Bytes of the release bundle (every .wasm and .js in the site's pkg
    directory and its snippets), raw and brotli-compressed at quality 11."""
    pkg = os.path.join(os.environ.get("LEPTOS_SITE_ROOT", "target/site"), "pkg")
    files = sorted(f for f in os.listdir(pkg) if f.endswith((".wasm", ".js")))
    # With hash-files, older builds' files stay in pkg: count only the ones
    # this server's hash.txt names.
    hash_txt = os.path.join(os.path.dirname(SERVER), "hash.txt")
    if os.path.exists(hash_txt):
        with open(hash_txt) as f:
            hashes = dict(line.strip().split(": ", 1) for line in f if ": " in line)
        files = [f for f in files
                 if any(f"tessera.{hashes.get(kind, '-')}.{kind}" == f for kind in ("js", "wasm"))]
    # wasm-bindgen's inline JavaScript (the passkey helpers) is loaded too.
    snippets = os.path.join(pkg, "snippets")
    for root, _, names in os.walk(snippets):
        files += [os.path.relpath(os.path.join(root, n), pkg) for n in sorted(names)
                  if n.endswith(".js")]
    raw = compressed = 0
    for name in files:
        path = os.path.join(pkg, name)
        raw += os.path.getsize(path)
        out = subprocess.run(["brotli", "-c", "-q", "11", path], check=True,
                             capture_output=True).stdout
        compressed += len(out)
    return {"files": files, "raw_bytes": raw, "brotli_bytes": compressed}


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# The duration of the next timed oha run (the interleaved rounds use less).
SECONDS_NOW = [SECONDS]


def oha_command(url, connections, extra=(), count=None):
    limit = ["-n", str(count)] if count else ["-z", f"{SECONDS_NOW[0]}s"]
    return ["oha", *limit, "-c", str(connections), "--no-tui",
            "--output-format", "json", "-H", f"User-Agent: {BENCH_USER_AGENT}", *extra, url]


def summarize(stdout):
    result = json.loads(stdout)
    statuses = result.get("statusCodeDistribution", {})
    return {
        "requests_per_sec": round(result["metrics"]["requests_per_sec"], 1),
        "p50_ms": round(result["metrics"]["latency_ms"]["p50"], 2),
        "p99_ms": round(result["metrics"]["latency_ms"]["p99"], 2),
        "statuses": statuses,
        # With -z, the requests still in flight when time runs out are
        # counted as errors (at most one per connection).
        "errors": sum(result.get("errorDistribution", {}).values()),
        "requests": sum(statuses.values()),
    }


def oha(url, connections, extra=(), count=None):
    out = subprocess.run(oha_command(url, connections, extra, count),
                         check=True, capture_output=True, text=True).stdout
    return summarize(out)


def oha_together(first, second):
    """Runs two oha commands at once; returns both summaries."""
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for cmd in (first, second)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=SECONDS + 60)
        if p.returncode != 0:
            raise RuntimeError(f"oha failed: {err}")
        outs.append(summarize(out))
    return outs


def argon2_rate(seconds):
    out = subprocess.run([SERVER, "argon2-rate", str(seconds)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def commits_seen(db):
    """SQLite's data_version changes when another connection commits."""
    return db.execute("PRAGMA data_version").fetchone()[0]


def seed_sessions(db_path, total):
    """Adds live sessions (with their users) until the table holds `total`
    rows: random 32-byte keys, like the SHA-256 keys the server stores."""
    db = sqlite3.connect(db_path, timeout=30)
    (have,) = db.execute("SELECT count(*) FROM sessions").fetchone()
    now = int(time.time())
    with db:
        db.executemany(
            "INSERT OR IGNORE INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
            [(f"seed-{n:04}", "$argon2id$v=19$m=19456,t=2,p=1$not-a-real-hash", now)
             for n in range(1000)])
    (first_user,) = db.execute("SELECT min(id) FROM users WHERE username LIKE 'seed-%'").fetchone()
    chunk = 50_000
    while have < total:
        n = min(chunk, total - have)
        rows = []
        for i in range(n):
            user = first_user + (have + i) % 1000
            data = json.dumps({"auth": {"user_id": user, "authenticated_at": now,
                                        "credential_epoch": 0}})
            rows.append((os.urandom(32), user, now, now, now + 1800, now + 28800,
                         "127.0.0.1", "127.0.0.1", "seed", "seed", data))
        with db:
            db.executemany(
                "INSERT OR IGNORE INTO sessions (id_hash, user_id, created_at, last_seen_at, "
                "idle_expires_at, absolute_expires_at, ip_first, ip_last, user_agent_first, "
                "user_agent_last, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        (have,) = db.execute("SELECT count(*) FROM sessions").fetchone()
    db.close()
    return have


def bind_device(cookie):
    """Binds the session of `cookie` ("__Host-sid=…") to a scripted device
    key (DBSC), past the grace after registration; the Cookie header value
    with the bound cookie too."""
    sid = cookie.split("=", 1)[1]
    bound = subprocess.run(["cargo", "run", "-q", "-p", "testkit", "--bin", "dbsc-bind", "--", BASE, sid],
                           check=True, capture_output=True, text=True).stdout.strip()
    time.sleep(6)
    return f"{cookie}; __Host-tessera_dbsc={bound}"


def geoip_fixture(path):
    """The tests' GeoIP2-City database (issue 25), written by testkit."""
    subprocess.run(["cargo", "run", "-q", "-p", "testkit", "--bin", "geoip-fixture", "--", path],
                   check=True)
    return path


def start_server(binary, db_path, log_level="warn", geoip=None):
    """Starts `binary` on ADDRESS with a fresh database at `db_path` and
    returns it once /health answers. With `geoip`, that GeoIP database is
    on and X-Forwarded-For from 127.0.0.1 is believed."""
    env = dict(os.environ,
               LEPTOS_SITE_ADDR=ADDRESS, LEPTOS_SITE_ROOT="target/site",
               LEPTOS_OUTPUT_NAME="tessera", TESSERA_DATABASE_PATH=db_path,
               RUST_LOG=log_level)
    if geoip:
        env.update(TESSERA_GEOIP_DATABASE=geoip, TESSERA_PROXY_TRUSTED="127.0.0.1")
    server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
    for _ in range(100):
        if server.poll() is not None:
            break
        try:
            urllib.request.urlopen(BASE + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    # Another server already on the port would be measured instead.
    if server.poll() is not None:
        raise RuntimeError(f"{binary} exited at start (is {ADDRESS} in use?)")
    return server


def stop_server(server):
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


def register_and_sign_in():
    """The benchmark user, signed in: oha's arguments for its cookie."""
    post("/api/register", {"username": USER, "password": PASSWORD,
                           "password_confirm": PASSWORD})
    return ["-H", f"Cookie: {sign_in()}"]


def main():
    data_dir = tempfile.mkdtemp(prefix="tessera-bench-")
    db_path = os.path.join(data_dir, "bench.db")
    geoip = geoip_fixture(os.path.join(data_dir, "GeoLite2-City.mmdb"))
    server = start_server(SERVER, db_path, geoip=geoip)
    results, checks = {}, {}
    try:
        session = register_and_sign_in()
        bound_session = ["-H", f"Cookie: {bind_device(sign_in())}"]

        # The four workloads whose ratios are targets run interleaved, three
        # rounds of half the time each, and each is reported by its median
        # round: the VM's drift (10-30% within a minute) then moves all four
        # alike instead of deciding a ratio by which came first.
        paired = [("W0 GET /health", "/health", []),
                  ("F GET /about (floor)", "/about", []),
                  ("W1 GET /account", "/account", session),
                  ("W1b GET /account, device-bound", "/account", bound_session),
                  ("W3 GET /api/session_status", "/api/session_status", session)]
        rounds_of = {name: [] for name, _, _ in paired}
        whole = SECONDS
        for _ in range(3):
            for name, path, extra in paired:
                SECONDS_NOW[0] = max(1, whole // 2)
                rounds_of[name].append(oha(BASE + path, 32, extra))
        SECONDS_NOW[0] = whole
        for name, _, _ in paired:
            by_rate = sorted(rounds_of[name], key=lambda r: r["requests_per_sec"])
            results[name] = dict(by_rate[1], rounds=[r["requests_per_sec"] for r in rounds_of[name]])
        rss_w1 = peak_rss_mb(server.pid)

        # Writes: a fresh session, then 10,000 W1 and 10,000 W3 requests
        # well inside its 60 s touch window. Any commit by the server shows
        # in data_version; one extend afterwards proves the probe sees writes.
        cookie = sign_in()
        db = sqlite3.connect(db_path)
        before = commits_seen(db)
        oha(BASE + "/account", 32, ["-H", f"Cookie: {cookie}"], count=10_000)
        oha(BASE + "/api/session_status", 32, ["-H", f"Cookie: {cookie}"], count=10_000)
        after = commits_seen(db)
        post("/api/extend_session", {}, {"Cookie": cookie})
        probe_works = commits_seen(db) != after
        writes_seen = after != before

        # The raw rate is measured just before and just after each W2 (half
        # the time each) and averaged: this VM's speed drifts by 10-30% over
        # a minute, more than the 90% target leaves. Three rounds; the
        # target is judged on the median ratio, so one noisy minute does
        # not decide.
        rounds = []
        for _ in range(3):
            raw_before = argon2_rate(SECONDS / 2)
            w2_round = oha(BASE + "/api/login", 8, W2_ARGS)
            raw_after = argon2_rate(SECONDS / 2)
            raw_round = (raw_before["hashes_per_sec"] + raw_after["hashes_per_sec"]) / 2
            rounds.append({"w2": w2_round, "raw": round(raw_round, 1),
                           "threads": raw_after["threads"],
                           "ratio": round(w2_round["requests_per_sec"] / raw_round, 3)})
        rss_w2 = peak_rss_mb(server.pid)
        # Every W2 sign-in was located (issue 25): the GeoIP lookup and the
        # travel rule's read were part of what W2 measured.
        (w2_signed_in,) = db.execute(
            "SELECT count(*) FROM audit_events WHERE event = 'sign_in' AND outcome = 'success' "
            "AND ip = ?", (W2_FROM,)).fetchone()
        (w2_located,) = db.execute(
            "SELECT count(*) FROM audit_events WHERE event = 'sign_in' AND outcome = 'success' "
            "AND ip = ? AND details LIKE '%\"location\":{%'", (W2_FROM,)).fetchone()
        middle = sorted(rounds, key=lambda r: r["ratio"])[1]
        results["W2 POST /api/login (8 conn)"] = middle["w2"]
        raw = {"threads": middle["threads"], "hashes_per_sec": middle["raw"],
               "ratios": [r["ratio"] for r in rounds]}

        # W1's quiet p99 is taken again right before the storm: on this VM
        # p99 drifts between runs minutes apart by more than 2x's margin.
        results["W1 just before the storm"] = oha(BASE + "/account", 32, session)
        storm_w1, storm_w2 = oha_together(
            oha_command(BASE + "/account", 32, session),
            oha_command(BASE + "/api/login", 8, W2_ARGS))
        results["W1 during W2"] = storm_w1
        results["W2 during W1"] = storm_w2

        # Scale: only the benchmark's own session plus seeded ones.
        with sqlite3.connect(db_path, timeout=30) as admin:
            admin.execute("DELETE FROM sessions")
        session = ["-H", f"Cookie: {sign_in()}"]
        seeded_small = seed_sessions(db_path, 1000)
        results[f"W1 at {seeded_small:,} sessions"] = oha(BASE + "/account", 32, session)
        seeding = time.time()
        seeded_large = seed_sessions(db_path, SCALE)
        seeding = time.time() - seeding
        results[f"W1 at {seeded_large:,} sessions"] = oha(BASE + "/account", 32, session)
        rss_end = peak_rss_mb(server.pid)
    finally:
        stop_server(server)
        # The database holds a million sessions (a third of a gigabyte):
        # runs must not pile them up in /tmp.
        shutil.rmtree(data_dir, ignore_errors=True)

    w0, w1, w3 = (results["W0 GET /health"], results["W1 GET /account"],
                  results["W3 GET /api/session_status"])
    floor = results["F GET /about (floor)"]
    w1b = results["W1b GET /account, device-bound"]
    bundle = bundle_size()
    w2 = results["W2 POST /api/login (8 conn)"]
    quiet = results["W1 just before the storm"]
    small = results[f"W1 at {seeded_small:,} sessions"]
    large = results[f"W1 at {seeded_large:,} sessions"]
    w2_budget = 100 + 19 * 1.048576 * HASH_CONCURRENCY
    rate = lambda r: r["requests_per_sec"]
    checks = {
        "W1 >= 0.8 x F": (rate(w1) >= 0.8 * rate(floor),
                          f"{rate(w1):,} vs {rate(floor):,} ({rate(w1) / rate(floor):.2f})"),
        "W1 device-bound >= 0.95 x W1": (rate(w1b) >= 0.95 * rate(w1),
                                         f"{rate(w1b):,} vs {rate(w1):,} ({rate(w1b) / rate(w1):.2f})"),
        "F >= 0.3 x W0": (rate(floor) >= 0.3 * rate(w0),
                          f"{rate(floor):,} vs {rate(w0):,} ({rate(floor) / rate(w0):.2f})"),
        "W3 >= 0.4 x W0": (rate(w3) >= 0.4 * rate(w0),
                           f"{rate(w3):,} vs {rate(w0):,} ({rate(w3) / rate(w0):.2f})"),
        "0 writes in 10,000 W1 + 10,000 W3": (not writes_seen and probe_works,
                                             ("a commit was seen" if writes_seen else "none")
                                             + ("" if probe_works else "; PROBE BROKEN")),
        "W2 >= 0.9 x raw argon2 (median of 3)": (
            median(raw["ratios"]) >= 0.9,
            f"{median(raw['ratios']):.2f} (rounds {', '.join(f'{r:.2f}' for r in raw['ratios'])}; "
            f"median round {w2['requests_per_sec']} vs {raw['hashes_per_sec']}/s)"),
        "W2 with [geoip] on: every sign-in located": (
            w2_signed_in > 0 and w2_located == w2_signed_in,
            f"{w2_located:,} of {w2_signed_in:,}"),
        "W1 p99 during W2 <= 2 x quiet": (storm_w1["p99_ms"] <= 2 * quiet["p99_ms"],
                                          f"{storm_w1['p99_ms']} vs {quiet['p99_ms']} ms "
                                          f"({storm_w1['p99_ms'] / quiet['p99_ms']:.2f})"),
        "W1 at 1M >= 0.9 x W1 at 1k": (large["requests_per_sec"] >= 0.9 * small["requests_per_sec"],
                                       f"{large['requests_per_sec'] / small['requests_per_sec']:.2f}"),
        "peak RSS after W1 <= 100 MB": (rss_w1 <= 100, f"{rss_w1} MB"),
        f"peak RSS after W2 <= {w2_budget:.0f} MB": (rss_w2 <= w2_budget, f"{rss_w2} MB"),
        "bundle (wasm + JS) <= 150 KB brotli": (
            bundle["brotli_bytes"] <= 150 * 1000,
            f"{bundle['brotli_bytes'] / 1000:.1f} KB brotli, "
            f"{bundle['raw_bytes'] / 1000:.1f} KB raw ({', '.join(bundle['files'])})"),
    }

    print(f"\nTessera benchmark: {SECONDS} s per workload, loopback, oha, "
          f"{os.cpu_count()} cores shared with the load generator\n")
    print(f"{'workload':34} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  statuses")
    for name, r in results.items():
        rounds = f"  rounds {r['rounds']}" if "rounds" in r else ""
        print(f"{name:34} {r['requests_per_sec']:>10,} {r['p50_ms']:>8} {r['p99_ms']:>8} "
              f"{r['errors']:>7}  {r['statuses']}{rounds}")
    print(f"{'raw argon2 (' + str(raw['threads']) + ' threads)':34} "
          f"{raw['hashes_per_sec']:>10,}  (around the median W2 round; "
          f"W2/raw per round: {raw['ratios']})")
    print(f"\npeak RSS: {rss_w1} MB after W1, {rss_w2} MB after W2, {rss_end} MB at the end "
          f"({seeded_large:,} sessions seeded in {seeding:.0f} s)\n")
    for name, (met, value) in checks.items():
        print(f"  {'met   ' if met else 'MISSED'}  {name:38} {value}")

    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "results.json")
    with open(path, "w") as f:
        json.dump({"seconds": SECONDS, "workloads": results, "raw_argon2": raw,
                   "peak_rss_mb": {"after_w1": rss_w1, "after_w2": rss_w2, "end": rss_end},
                   "bundle": bundle,
                   "writes_seen_in_10k_w1_w3": writes_seen, "write_probe_works": probe_works,
                   "targets": {k: {"met": m, "value": v} for k, (m, v) in checks.items()}},
                  f, indent=2)
    print(f"\nJSON: {path}")
    return 0 if probe_works else 1


if __name__ == "__main__":
    sys.exit(main())
