#!/usr/bin/env python3
"""`make soak`: two release instances on PostgreSQL behind haproxy, with
the session cache on, for SOAK_SECONDS (600) of mixed use (issue 24).

Six workers, each in a loop: sign in through the balancer, read the
session there (status and account page), now and then extend it, and end
it either by signing out through the balancer or by signing out directly
on one instance and reading it through the balancer (so half the time on
the other server). Every read after an ended session's sign-out has been
answered must be refused: one answered as live is a *stale answer*. Half
way through, instance b is stopped (SIGTERM, graceful) and started again.

What "stale" means is the documented guarantee (docs/deployment.md): a
write committed on one server may be answered from another's cache for
at most `[session] cache_staleness_ms` (1 s) after it. Reads right after a
sign-out answered as live within that bound are counted and reported
(with how long after the sign-out); every worker also reads again, now and
then, a session it ended more than the bound ago: answered as live, that
is a *stale answer*, and the soak fails.

Counts every answer by status. Errors are answers outside what each step
may get (documented: 503 with Retry-After when a database is unavailable)
and lost connections. Prints the summary, writes bench/out/soak.json, and
exits 1 if there was any error or stale answer. Loopback only; everything is
stopped and deleted at the end.
"""
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
PORT = os.environ.get("SOAK_PORT", "3305")
WORKERS = 6


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(method, url, cookie=None, fields=None, page=False):
    """(status, headers); status 0 for a lost connection. `page`: as a
    browser asks for a page or posts a plain form (answered with a page or
    a redirect); otherwise as the hydrated client calls the API."""
    data = urllib.parse.urlencode(fields).encode() if fields is not None else None
    headers = {"User-Agent": bench.BENCH_USER_AGENT}
    if page:
        headers["Accept"] = "text/html"
    if cookie:
        headers["Cookie"] = cookie
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with OPENER.open(req, timeout=30) as res:
            res.read()
            return res.status, res.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers
    except OSError:
        return 0, {}


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = collections.Counter()
        self.errors = collections.Counter()
        self.stale = 0
        self.within_bound = []
        self.sessions = 0

    def saw(self, step, status, allowed, headers):
        with self.lock:
            self.statuses[f"{step} {status}"] += 1
            ok = status in allowed or (status == 503 and "Retry-After" in headers)
            if not ok:
                self.errors[f"{step} {status}"] += 1
            return ok


BOUND_S = int(os.environ.get("TESSERA_SESSION_CACHE_STALENESS_MS", "1000")) / 1000


def worker(lb, instances, tally, stop, seed):
    rnd = random.Random(seed)
    ended = collections.deque(maxlen=200)  # (cookie, when its sign-out was answered)
    name = f"soak{seed}"
    call("POST", lb + "/api/register",
         fields={"username": name, "password": bench.PASSWORD, "password_confirm": bench.PASSWORD})
    while not stop.is_set():
        status, headers = call("POST", lb + "/api/login",
                               fields={"username": name, "password": bench.PASSWORD}, page=True)
        if not tally.saw("sign-in", status, (302, 303), headers):
            time.sleep(0.2)
            continue
        cookie = headers.get("Set-Cookie", "").split(";")[0]
        with tally.lock:
            tally.sessions += 1
        for _ in range(rnd.randint(5, 30)):
            path = rnd.choice(["/api/session_status", "/account"])
            status, headers = call("GET", lb + path, cookie, page=path == "/account")
            tally.saw(f"read {path}", status, (200,), headers)
            if rnd.random() < 0.05:
                status, headers = call("POST", lb + "/api/extend_session", cookie, {})
                tally.saw("extend", status, (200,), headers)
        # End it: through the balancer, or straight on one instance (then
        # read through the balancer: often the other server).
        where = rnd.choice([lb] + instances)
        status, headers = call("POST", where + "/api/logout", cookie, {})
        if status == 0 and where != lb:
            # That instance is the one being restarted: not the system's
            # error (a client of the balancer never calls it directly).
            with tally.lock:
                tally.statuses["sign-out on a stopped instance, then through the balancer"] += 1
            status, headers = call("POST", lb + "/api/logout", cookie, {})
        if not tally.saw("sign-out", status, (200,), headers):
            continue
        answered = time.perf_counter()
        ended.append((cookie, answered))
        for _ in range(3):
            status, headers = call("GET", lb + "/api/session_status", cookie)
            if status == 200:
                with tally.lock:
                    tally.within_bound.append(round((time.perf_counter() - answered) * 1000, 3))
            tally.saw("read after sign-out", status, (200, 401), headers)
        # A session ended more than the bound ago must be refused, always.
        old = [c for c, at in ended if time.perf_counter() - at > BOUND_S]
        if old:
            status, headers = call("GET", lb + "/api/session_status", rnd.choice(old))
            if status == 200:
                with tally.lock:
                    tally.stale += 1
            tally.saw("read of a session ended over the bound ago", status, (401,), headers)


def main():
    os.chdir(ROOT)
    work = tempfile.mkdtemp(prefix="tessera-soak-")
    os.chmod(work, 0o755)
    directory = os.path.join(work, "cluster")
    env = dict(os.environ, CLUSTER_BIN=os.path.abspath(bench.SERVER), CLUSTER_PORT=PORT,
               RUST_LOG="warn", LEPTOS_SITE_ROOT="target/site", LEPTOS_OUTPUT_NAME="tessera",
               TESSERA_LOGIN_MAX_REGISTRATIONS_PER_ADDRESS="10000")
    tally, stop = Tally(), threading.Event()
    try:
        subprocess.run(["scripts/cluster.sh", "start", directory], env=env, check=True)

        def cluster_env():
            with open(os.path.join(directory, "env")) as f:
                return dict(line.strip().split("=", 1) for line in f if "=" in line)

        urls = cluster_env()
        lb = f"http://127.0.0.1:{PORT}"
        threads = [threading.Thread(target=worker,
                                    args=(lb, [urls["A_URL"], urls["B_URL"]], tally, stop, i))
                   for i in range(WORKERS)]
        for t in threads:
            t.start()
        started = time.time()
        time.sleep(SECONDS / 2)
        # Instance b restarted midway: stopped gracefully, started again.
        b_pid = int(cluster_env()["B_PID"])
        os.kill(b_pid, signal.SIGTERM)
        for _ in range(300):
            try:
                os.kill(b_pid, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break
        subprocess.run(["scripts/cluster.sh", "respawn", directory, "b"], env=env, check=True)
        print(f"instance b restarted at {time.time() - started:.0f} s", flush=True)
        time.sleep(max(0, SECONDS - (time.time() - started)))
        stop.set()
        for t in threads:
            t.join(timeout=60)
        total = sum(tally.statuses.values())
        summary = {
            "seconds": SECONDS,
            "requests": total,
            "sessions": tally.sessions,
            "statuses": dict(sorted(tally.statuses.items())),
            "errors": dict(tally.errors),
            "stale answers (a session ended over the bound ago answered as live)": tally.stale,
            "reads right after a sign-out answered as live, within the bound": len(tally.within_bound),
            "the latest of those, ms after the sign-out's answer": max(tally.within_bound, default=0),
        }
        print(json.dumps(summary, indent=2))
        os.makedirs(bench.OUT, exist_ok=True)
        with open(os.path.join(bench.OUT, "soak.json"), "w") as f:
            json.dump(summary, f, indent=2)
        if tally.errors or tally.stale:
            print("SOAK FAILED: errors or stale answers", file=sys.stderr)
            sys.exit(1)
        print(f"soak: {total} requests, {tally.sessions} sessions, 0 errors, 0 stale answers; "
              f"{len(tally.within_bound)} reads right after a sign-out answered as live within "
              f"the bound, the latest {max(tally.within_bound, default=0)} ms after it")
    finally:
        stop.set()
        subprocess.run(["scripts/cluster.sh", "stop", directory], env=env)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
