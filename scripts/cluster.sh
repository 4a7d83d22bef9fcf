#!/usr/bin/env bash
# Tessera on several servers (issue 14): a throwaway PostgreSQL
# (scripts/postgres.sh), two Tessera instances on it, and haproxy from
# Debian in front (round robin, no stickiness, health checks on
# /health/ready: an instance whose database does not answer gets no requests),
# all on 127.0.0.1 and all in one temporary directory removed at the end.
#
#   scripts/cluster.sh run         `make cluster`: serve until Ctrl-C
#   scripts/cluster.sh start DIR   start in the background (tests); the
#                                  addresses and pids go to DIR/env
#   scripts/cluster.sh stop DIR    stop everything started in DIR, delete DIR
#   scripts/cluster.sh respawn DIR b   start instance b again (tests)
#
# CLUSTER_PORT (default 3300) is the balancer's port; CLUSTER_BIN the server
# binary (default target/debug/server, built by `make build`);
# CLUSTER_ANNOUNCE=1 makes every answer name its instance
# (X-Tessera-Instance: a or b). Other TESSERA_* variables pass through to
# both instances.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

say() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_haproxy() {
  if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then
    return
  fi
  say "installing Debian's haproxy (the load balancer of make cluster)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq haproxy >/dev/null
}

haproxy_bin() { command -v haproxy || echo /usr/sbin/haproxy; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {
  local url=$1 name=$2 log=$3
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then
      return
    fi
    sleep 0.1
  done
  echo "$name did not come up at $url; its log:" >&2
  tail -20 "$log" >&2 || true
  exit 1
}

# What the instances must share: the database, the key that seals TOTP
# secrets (and keys the audit log's session hashes), the access-token keys.
instance_env() {
  local dir=$1
  # shellcheck disable=SC1091
  . "$dir/shared"
  export TESSERA_DATABASE_URL=$DATABASE_URL
  export TESSERA_MFA_KEY_FILE=$dir/mfa.key
  export TESSERA_JWT_KEY_DIR=$dir/jwt
  export TESSERA_PROXY_TRUSTED=127.0.0.1/32
  export TESSERA_WEBAUTHN_ORIGINS=${TESSERA_WEBAUTHN_ORIGINS:-http://localhost:$LB_PORT}
  export LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-$ROOT/target/site}
  export TESSERA_CONFIG=${TESSERA_CONFIG:-$ROOT/Leptos.toml}
}

# Starts instance NAME on PORT in the background and records its pid.
launch() {
  local dir=$1 name=$2 port=$3
  local bin=${CLUSTER_BIN:-$ROOT/target/debug/server}
  if [ "${CLUSTER_ANNOUNCE:-}" = 1 ]; then
    export TESSERA_SERVER_INSTANCE_HEADER=$name
  fi
  LEPTOS_SITE_ADDR=127.0.0.1:$port nohup "$bin" >> "$dir/$name.log" 2>&1 &
  echo "$(echo "$name" | tr a-z A-Z)_PID=$!" >> "$dir/env"
  wait_for "http://127.0.0.1:$port/health" "instance $name" "$dir/$name.log"
}

# Starts instance NAME again on its old port (after a test killed it); its
# new pid is appended to DIR/env (the last line for a name wins).
respawn() {
  local dir=$1 name=$2
  instance_env "$dir"
  local url
  url=$(grep "^$(echo "$name" | tr a-z A-Z)_URL=" "$dir/env" | tail -1 | cut -d= -f2-)
  launch "$dir" "$name" "${url##*:}"
}

start() {
  local dir=$1
  local bin=${CLUSTER_BIN:-$ROOT/target/debug/server}
  local lb_port=${CLUSTER_PORT:-3300}
  if [ ! -x "$bin" ]; then
    echo "no server binary at $bin: run make build first" >&2
    exit 1
  fi
  ensure_haproxy
  mkdir -p "$dir"
  # PostgreSQL runs as the postgres user: it must reach $dir/pg.
  chmod 755 "$dir"
  local pg_port pg_url
  pg_port=$(free_port)
  pg_url=$(scripts/postgres.sh start "$dir/pg" "$pg_port")
  psql -q "$pg_url" -c "CREATE DATABASE tessera" >/dev/null
  local db_url=${pg_url%/*}/tessera

  python3 -c 'import secrets; print(secrets.token_hex(32))' > "$dir/mfa.key"
  chmod 600 "$dir/mfa.key"
  {
    echo "DATABASE_URL=$db_url"
    echo "LB_PORT=$lb_port"
  } > "$dir/shared"
  instance_env "$dir"
  "$bin" jwt rotate >/dev/null

  local name port
  : > "$dir/env"
  for name in a b; do
    port=$(free_port)
    echo "$(echo $name | tr a-z A-Z)_URL=http://127.0.0.1:$port" >> "$dir/env"
    launch "$dir" "$name" "$port"
    eval "${name}_port=$port"
  done

  # Round robin, no stickiness. A server failing two checks 300 ms apart is
  # out; a request whose connection fails is retried on the other server,
  # and so is a GET or HEAD that got no answer (the SIGKILL test relies on
  # both); a POST that got no answer is not sent again (502).
  cat > "$dir/haproxy.cfg" <<CFG
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    option forwardfor

frontend tessera
    bind 127.0.0.1:$lb_port
    # A request that reached a server which then died without answering may
    # have been applied: only GET and HEAD are sent again; a POST gets 502
    # (a connection that failed before sending is still retried).
    http-request disable-l7-retry unless METH_GET
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /health/ready
    default-server inter 300ms fall 2 rise 2
    server a 127.0.0.1:$a_port check
    server b 127.0.0.1:$b_port check
CFG
  nohup "$(haproxy_bin)" -db -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 &
  {
    echo "HAPROXY_PID=$!"
    echo "LB_URL=http://127.0.0.1:$lb_port"
    echo "DATABASE_URL=$db_url"
  } >> "$dir/env"
  wait_for "http://127.0.0.1:$lb_port/health" haproxy "$dir/haproxy.log"
}

stop() {
  local dir=$1
  if [ -f "$dir/env" ]; then
    # shellcheck disable=SC1091
    . "$dir/env"
    for pid in ${HAPROXY_PID:-} ${A_PID:-} ${B_PID:-}; do
      kill "$pid" 2>/dev/null || true
    done
    for pid in ${HAPROXY_PID:-} ${A_PID:-} ${B_PID:-}; do
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    done
  fi
  scripts/postgres.sh stop "$dir/pg"
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  respawn) respawn "$2" "$3" ;;
  run)
    dir=$(mktemp -d /tmp/tessera-cluster.XXXXXX)
    trap 'stop "$dir"' EXIT
    trap 'exit 0' INT TERM
    start "$dir"
    # shellcheck disable=SC1091
    . "$dir/env"
    echo "Tessera on two servers behind haproxy: $LB_URL"
    echo "  instance a: $A_URL (log $dir/a.log)"
    echo "  instance b: $B_URL (log $dir/b.log)"
    echo "  PostgreSQL: $DATABASE_URL"
    echo "Ctrl-C stops all of it and deletes $dir."
    while kill -0 "$HAPROXY_PID" 2>/dev/null; do sleep 1; done
    ;;
  *)
    echo "usage: $0 run | start DIR | stop DIR | respawn DIR a|b" >&2
    exit 2
    ;;
esac
