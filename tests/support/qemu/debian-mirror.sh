#!/usr/bin/env bash
# Print the Debian archive URL apt is configured to use (first source serving the main suite of this
# release), read from /etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources}.
# No host is hard-coded: the guest rootfs comes from the same mirror the machine already trusts.
set -euo pipefail
suite="${1:-bookworm}"
url=""
# deb822 stanzas: find one whose Suites contains the bare suite name.
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  url="$(awk -v suite="$suite" '
    BEGIN { RS=""; FS="\n" }
    {
      uris=""; ok=0; deb=0
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^#/) continue
        if (line ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", line); split(line, u, /[ \t]+/); uris = u[1] }
        if (line ~ /^Types:/ && line ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
        if (line ~ /^Suites:/) { n = split(line, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        if (line ~ /^Enabled:[ \t]*no/) { ok = 0; deb = 0 }
      }
      if (ok && deb && uris != "") { print uris; exit }
    }' "$f")"
  [ -n "$url" ] && break
done
if [ -z "$url" ]; then
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    url="$(awk -v suite="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == suite) { print $i; exit } }' "$f")"
    [ -n "$url" ] && break
  done
fi
[ -n "$url" ] || { echo "debian-mirror: no apt source serves suite $suite" >&2; exit 1; }
echo "$url"
