#!/usr/bin/env bash
# Installs what building and testing Tessera needs, and skips whatever is
# already there at the right version. Safe to run again and again; on a
# machine that has everything it takes about a second.
#
# Everything comes from the package registries (crates.io, npm, Debian):
# nothing is downloaded from anywhere else. Versions: ../shared/TOOLCHAIN.md.
#
#   scripts/ensure-tools.sh          build tools (wasm target, cargo-leptos,
#                                    wasm-bindgen-cli, wasm-opt)
#   scripts/ensure-tools.sh e2e      the above + Chromium + Playwright packages
#   scripts/ensure-tools.sh bench    the build tools + oha (load) + brotli (bundle size)
#   scripts/ensure-tools.sh tls      the build tools + testssl.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
WASM_OPT_VERSION=0.116.1
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '==> %s\n' "$*"; }

# wasm-bindgen-cli must match the wasm-bindgen library exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

ensure_wasm_target() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    return
  fi
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

ensure_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
    return
  fi
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes on 2 cores)"
  # no_downloads: take wasm-bindgen and wasm-opt from PATH instead of GitHub.
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
}

ensure_wasm_bindgen() {
  local want
  want=$(wasm_bindgen_version)
  if wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
    return
  fi
  say "installing wasm-bindgen-cli $want"
  # Not --locked: one of its locked dependency versions is gone from the index.
  cargo install wasm-bindgen-cli --version "$want" --force
}

ensure_wasm_opt() {
  # Debian's binaryen (version 108) produces a release wasm that fails to
  # hydrate; the crates.io build of version 116 works.
  local found
  found=$(wasm-opt --version 2>/dev/null | grep -oE 'version [0-9]+' | grep -oE '[0-9]+' || true)
  if [ -n "$found" ] && [ "$found" -ge 116 ]; then
    return
  fi
  say "installing wasm-opt $WASM_OPT_VERSION (about 6 minutes on 2 cores)"
  cargo install wasm-opt --version "$WASM_OPT_VERSION" --locked
  hash -r
  found=$(wasm-opt --version 2>/dev/null | grep -oE 'version [0-9]+' | grep -oE '[0-9]+' || true)
  if [ -z "$found" ] || [ "$found" -lt 116 ]; then
    echo "wasm-opt on PATH is still older than 116 ($(command -v wasm-opt)); remove Debian's binaryen" >&2
    exit 1
  fi
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  say "installing Debian's chromium"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

ensure_bench_tools() {
  if ! command -v oha >/dev/null; then
    say "installing oha (the load generator; a few minutes)"
    cargo install oha --locked
  fi
  if ! command -v brotli >/dev/null; then
    say "installing Debian's brotli (to measure the compressed bundle)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq brotli >/dev/null
  fi
}

# `make tls-check`: Debian's testssl.sh (3.0.8 on bookworm).
ensure_testssl() {
  if command -v testssl >/dev/null || command -v testssl.sh >/dev/null; then
    return
  fi
  say "installing Debian's testssl.sh (to check the TLS listener)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq testssl.sh >/dev/null
}

ensure_playwright() {
  local installed
  installed=$(node -p 'require("./end2end/node_modules/@playwright/test/package.json").version' 2>/dev/null || true)
  local wanted
  wanted=$(node -p 'require("./end2end/package.json").devDependencies["@playwright/test"]')
  if [ "$installed" = "$wanted" ] && [ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]; then
    return
  fi
  say "installing the end2end npm packages"
  # Playwright's own browser download is impossible here; we use Debian's.
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
}

ensure_wasm_target
ensure_cargo_leptos
ensure_wasm_bindgen
ensure_wasm_opt
case "${1:-}" in
  e2e)
    ensure_chromium
    ensure_playwright
    ;;
  bench)
    ensure_bench_tools
    ;;
  tls)
    ensure_testssl
    ;;
esac
