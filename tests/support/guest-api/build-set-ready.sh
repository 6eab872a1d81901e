#!/usr/bin/env bash
# Builds tests/support/guest-api/set-ready.c into a static binary and prints its path (default
# .cache/set-ready). Rebuilds only when the source is newer. Needs gcc with a static libc (Debian: libc6-dev).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../../../.cache/set-ready}"
mkdir -p "$(dirname "$out")"
if [ ! -x "$out" ] || [ "$here/set-ready.c" -nt "$out" ]; then
  gcc -static -Os -s -o "$out" "$here/set-ready.c"
fi
printf '%s\n' "$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
