#!/usr/bin/env bash
# A throwaway PostgreSQL from Debian's packages: its own data directory in a
# temporary folder, listening on 127.0.0.1 only, trust authentication for
# the superuser "app" (loopback only, thrown away afterwards), fsync off
# (nothing in it must survive). Installs Debian's postgresql when missing.
#
#   scripts/postgres.sh run CMD...   start one on a free port, run CMD with
#                                    TESSERA_TEST_POSTGRES_URL set to it,
#                                    stop it and delete it (whatever CMD did)
#   scripts/postgres.sh start DIR PORT   start one in DIR (created)
#   scripts/postgres.sh stop DIR         stop it and delete DIR
#   scripts/postgres.sh pause DIR        stop it, keeping its data (fault tests)
#   scripts/postgres.sh resume DIR       start it again on its port
set -euo pipefail

say() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

ensure_postgres() {
  if [ -n "$(bin_dir)" ] && [ -x "$(bin_dir)/initdb" ]; then
    return
  fi
  say "installing Debian's postgresql (for the PostgreSQL tests and make cluster)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
}

# initdb and postgres refuse to run as root: run them as the postgres user.
as_db_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 port=$2 bin
  ensure_postgres
  bin=$(bin_dir)
  mkdir -p "$dir"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
  as_db_user "$bin/initdb" -D "$dir/data" -A trust -U app --no-sync -E UTF8 >/dev/null
  echo "$port" > "$dir/port"
  launch "$dir"
  echo "postgres://app@127.0.0.1:$port/postgres"
}

launch() {
  local dir=$1 port bin
  bin=$(bin_dir)
  port=$(cat "$dir/port")
  as_db_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
}

pause() {
  local dir=$1 bin
  bin=$(bin_dir)
  as_db_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

stop() {
  local dir=$1 bin
  bin=$(bin_dir)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_db_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "$2" "$3" ;;
  stop) stop "$2" ;;
  pause) pause "$2" ;;
  resume) launch "$2" ;;
  run)
    shift
    dir=$(mktemp -d /tmp/tessera-pg.XXXXXX)
    trap 'stop "$dir"' EXIT
    url=$(start "$dir" "$(free_port)")
    say "throwaway PostgreSQL at $url"
    TESSERA_TEST_POSTGRES_URL=$url "$@"
    ;;
  *)
    echo "usage: $0 run CMD... | start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
