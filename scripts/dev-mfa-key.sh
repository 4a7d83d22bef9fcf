#!/usr/bin/env bash
# Creates the development MFA key (data/mfa.key: 64 hex digits from the
# kernel's CSPRNG, mode 0600) on first run; leaves an existing one alone, so
# secrets sealed with it keep opening. data/ is gitignored. For production,
# see docs/mfa-and-step-up.md, "The key".
set -euo pipefail
cd "$(dirname "$0")/.."
key=${TESSERA_MFA_KEY_FILE:-data/mfa.key}
if [[ -e "$key" ]]; then
  exit 0
fi
mkdir -p "$(dirname "$key")"
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$key.tmp"
mv "$key.tmp" "$key"
echo "==> created the development MFA key $key (mode 0600)"
