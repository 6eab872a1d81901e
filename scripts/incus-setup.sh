#!/usr/bin/env bash
# Prepare a local Incus (LXD's community fork) beside (or instead of) LXD on a Debian 12 machine, for the
# examples and for `npm run test:incus`. Idempotent: each step checks first and says what it did.
#   1. add Debian's <codename>-backports suite from the mirror apt already uses (read from
#      /etc/apt/sources.list and /etc/apt/sources.list.d/*), if no source lists it yet
#   2. install `incus-base` from backports if `incusd` is missing (Incus 6.0 LTS on bookworm; no QEMU)
#   3. start incusd if its socket does not answer: no systemd needed, detached (setsid nohup) so that it
#      outlives this script, the way Debian's init script starts it; then `incus admin waitready`
#   4. preseed: a `dir` storage pool `default` and a root disk on the default profile; NO network
#   5. build the busybox test image tarball (.cache/pulumi-lxd-test.tar.gz, scripts/build-test-image.sh) if
#      missing and import it with the alias `pulumi-lxd-test` if missing
# An LXD on the same machine keeps running beside it (different socket, different state directory). Both
# daemons allocate isolated id maps from root's /etc/subuid range without knowing about each other: do not
# hold isolated containers in both at the same time (the test suite runs one backend at a time).
# Environment: INCUS_DIR (default /var/lib/incus), LXD_TEST_IMAGE_ALIAS (default pulumi-lxd-test),
#   INCUS_LOG_FILE (default /var/log/incus/incus.log).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export INCUS_DIR="${INCUS_DIR:-/var/lib/incus}"
alias_name="${LXD_TEST_IMAGE_ALIAS:-pulumi-lxd-test}"
log_file="${INCUS_LOG_FILE:-/var/log/incus/incus.log}"

say() { printf '[incus-setup] %s\n' "$*"; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    say "must run as root to $1"; exit 1
  fi
}

codename="$( . /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
[ -n "$codename" ] || { say "cannot read VERSION_CODENAME from /etc/os-release"; exit 1; }
backports="$codename-backports"

# The Debian mirror apt already uses: the URI of the first source that lists the plain "<codename>" suite,
# in deb822 (.sources: URIs:/Suites:) or one-line (.list: deb URI SUITE …) form.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$codename" '
      /^[[:space:]]*$/ { if (uri != "" && hit) { print uri; exit } uri=""; hit=0; next }
      /^URIs:/   { uri=$2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) hit=1 }
      END        { if (uri != "" && hit) print uri }' "$f" | head -n1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v want="$codename" '$1 == "deb" { u=$2; s=$3; if ($2 ~ /^\[/) { u=$3; s=$4 } if (s == want) print u }' "$f"
  done
}

sources_list_backports() {
  grep -rqsE "(^|[[:space:]])$backports([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}

# 1. backports suite
if sources_list_backports; then
  say "apt already lists $backports"
else
  need_root "add the $backports suite"
  mirror="$(debian_mirror | head -n1)"
  [ -n "$mirror" ] || { say "no Debian mirror for '$codename' found in /etc/apt/sources.list*"; exit 1; }
  printf 'deb %s %s main\n' "$mirror" "$backports" > /etc/apt/sources.list.d/incus-backports.list
  say "added 'deb $mirror $backports main' (/etc/apt/sources.list.d/incus-backports.list)"
fi

# 2. package
if [ -x /usr/libexec/incus/incusd ] && command -v incus >/dev/null 2>&1; then
  say "incus $(incus --version 2>/dev/null || echo '?') is installed"
else
  need_root "install incus-base"
  export DEBIAN_FRONTEND=noninteractive
  say "installing incus-base from $backports"
  apt-get update -qq
  # The package's scripts try to start the daemon through invoke-rc.d; without systemd nothing starts (step 3
  # does it), and that is not an error of the install.
  apt-get install -y -qq -t "$backports" incus-base >/dev/null
  say "installed incus $(incus --version)"
fi

# 3. daemon
if incus info >/dev/null 2>&1; then
  say "daemon already running (socket $INCUS_DIR/unix.socket)"
else
  need_root "start incusd"
  say "starting incusd (log: $log_file)"
  mkdir -p "$(dirname "$log_file")" /var/log/incus
  (
    set +u
    set -a
    # shellcheck disable=SC1091
    [ -f /etc/default/incus ] && . /etc/default/incus
    set +a
    # No CAP_SYS_RESOURCE here: raising the hard limit fails, so fall back to the hard limit.
    ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    getent group incus-admin >/dev/null 2>&1 && group=incus-admin || group=root
    # From /: the daemon keeps its start directory as cwd and its rsync children inherit it; a cwd that is
    # later deleted (a removed checkout) makes every rsync-based copy fail ("rsync: [Receiver] getcwd(): No
    # such file or directory"): snapshots, copies and publish on a `dir` pool.
    cd /
    setsid nohup /usr/libexec/incus/incusd --group "$group" --logfile="$log_file" >/dev/null 2>&1 < /dev/null &
  )
  incus admin waitready --timeout=60
  say "daemon ready"
fi

# 4. storage + default profile root disk (no network: nothing here gets an address)
if incus storage show default >/dev/null 2>&1 && incus profile device get default root pool >/dev/null 2>&1; then
  say "storage pool 'default' exists and the default profile has a root disk"
else
  say "preseeding: storage pool 'default' (dir) and the default profile's root disk (no network)"
  incus admin init --preseed <<'YAML'
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
YAML
fi

# 5. test image
tarball="$here/../.cache/pulumi-lxd-test.tar.gz"
if [ -f "$tarball" ]; then
  say "image tarball present ($tarball)"
else
  tarball="$("$here/build-test-image.sh" "$tarball")"
  say "built image tarball $tarball"
fi
if incus image info "$alias_name" >/dev/null 2>&1; then
  say "image '$alias_name' present"
else
  incus image import "$tarball" --alias "$alias_name" >/dev/null
  say "imported image '$alias_name' from $tarball"
fi
say "done"
