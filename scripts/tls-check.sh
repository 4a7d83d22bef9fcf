#!/usr/bin/env bash
# Checks Tessera's TLS listener with Debian's testssl.sh (issue 13): starts
# the built server with a throwaway self-signed certificate on a loopback
# port and a throwaway database, runs testssl.sh against it (protocols,
# cipher categories, server preferences, server defaults, known
# vulnerabilities), stops the server and removes everything it made. The
# full report goes to bench/out/tls-check.txt; the summary is printed.
# Fails if anything older than TLS 1.2 is offered or testssl.sh reports a
# vulnerability.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${TLS_CHECK_PORT:-3453}
work=$(mktemp -d)
out=bench/out/tls-check.txt
mkdir -p bench/out
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=tessera \
  TESSERA_DATABASE_PATH="$work/tessera.db" TESSERA_MFA_KEY_FILE="$work/mfa.key" \
  TESSERA_TLS_CERT_PATH="$work/cert.pem" TESSERA_TLS_KEY_PATH="$work/key.pem" \
  TESSERA_TLS_SELF_SIGNED=true RUST_LOG=warn \
  target/debug/server >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if curl -sk -o /dev/null "https://127.0.0.1:$port/health"; then break; fi
  sleep 0.1
done
curl -sk -o /dev/null "https://127.0.0.1:$port/health" || { cat "$work/server.log"; exit 1; }

testssl=$(command -v testssl || command -v testssl.sh)
# --warnings off: no interactive questions; --ip one: the loopback address.
"$testssl" --quiet --color 0 --warnings off --ip one --sneaky \
  --protocols --each-cipher --server-preference --server-defaults --vulnerable \
  "127.0.0.1:$port" >"$out" 2>&1 || true

echo "== testssl.sh $("$testssl" --version 2>/dev/null | grep -o '3\.[0-9.]*' | head -1) against https://127.0.0.1:$port (full report: $out)"
grep -E '^ (SSLv2|SSLv3|TLS 1(\.[0-3])?) ' "$out" || true
grep -E 'Has server cipher order|Negotiated protocol|Negotiated cipher|Forward Secrecy|Secure Renegotiation|Heartbleed|ROBOT|CRIME|BREACH|POODLE|SWEET32|FREAK|DROWN|LOGJAM|BEAST|LUCKY13|RC4|Winshock|TLS_FALLBACK_SCSV' "$out" | sed 's/  */ /g' || true

failed=0
if grep -E '^ (SSLv2|SSLv3|TLS 1 |TLS 1\.1 )' "$out" | grep -v 'not offered' | grep -q .; then
  echo "FAIL: a protocol older than TLS 1.2 is offered"; failed=1
fi
if grep -E 'VULNERABLE' "$out" | grep -vq 'not vulnerable'; then
  echo "FAIL: testssl.sh reports a vulnerability"; failed=1
fi
if ! grep -E '^ TLS 1\.3 ' "$out" | grep -q 'offered'; then
  echo "FAIL: TLS 1.3 is not offered"; failed=1
fi
[[ $failed -eq 0 ]] && echo "OK: TLS 1.2 and 1.3 only, no known vulnerability reported"
exit $failed
