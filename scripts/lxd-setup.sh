#!/usr/bin/env bash
# Prepare a local LXD for the examples and the tests on a Debian/Ubuntu machine.
# Idempotent: each step checks first and says what it did (or that nothing was needed).
#   1. install LXD from the distribution's packages if `lxd` is missing, and btrfs-progs (the tests create
#      loop-file btrfs pools) if `mkfs.btrfs` is missing, and iptables (LXD's firewall driver for bridges) if missing
#   2. start the daemon if its socket does not answer (no systemd needed)
#   3. initialise a `dir` storage pool and the default profile's root disk if missing (no network is created)
#   4. build the local busybox test image tarball (.cache/pulumi-lxd-test.tar.gz) and import it
#      (alias `pulumi-lxd-test`), each only if missing
# Environment: LXD_DIR (default /var/lib/lxd), LXD_TEST_IMAGE_ALIAS (default pulumi-lxd-test).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LXD_DIR="${LXD_DIR:-/var/lib/lxd}"
alias_name="${LXD_TEST_IMAGE_ALIAS:-pulumi-lxd-test}"
log_file="${LXD_LOG_FILE:-/var/log/lxd-pulumi-setup.log}"

say() { printf '[lxd-setup] %s\n' "$*"; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    say "must run as root to $1"; exit 1
  fi
}

# 1. packages
if ! command -v lxd >/dev/null 2>&1 || ! command -v lxc >/dev/null 2>&1 || [ ! -x /bin/busybox ]; then
  need_root "install LXD"
  say "installing lxd, lxd-client and busybox-static from the distribution's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq lxd lxd-client busybox-static >/dev/null
else
  say "lxd $(lxd --version) is installed"
fi
if ! command -v mkfs.btrfs >/dev/null 2>&1; then
  need_root "install btrfs-progs"
  say "installing btrfs-progs from the distribution's packages (btrfs storage pools)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq btrfs-progs >/dev/null
else
  say "btrfs-progs is installed"
fi

if ! command -v iptables >/dev/null 2>&1 || ! command -v ebtables >/dev/null 2>&1; then
  need_root "install iptables"
  # LXD's xtables firewall driver runs iptables/ip6tables/ebtables to set up a bridge and a nic's spoofing
  # filters (the Network tests create address-less bridges): without them, a network create fails.
  say "installing iptables from the distribution's packages (LXD's firewall driver for bridges)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq iptables >/dev/null
else
  say "iptables is installed"
fi

# 2. daemon
if lxc info >/dev/null 2>&1; then
  say "daemon already running (socket $LXD_DIR/unix.socket)"
else
  need_root "start the LXD daemon"
  say "starting lxd (log: $log_file)"
  mkdir -p "$(dirname "$log_file")"
  # Detached from this shell so that it outlives the script; no systemd on these machines. Started from / (a
  # daemon keeps its start directory: its rsync-based copies fail once that directory is deleted).
  (cd / && setsid nohup lxd --group root --logfile "$log_file" >/dev/null 2>&1 < /dev/null &)
  lxd waitready --timeout 60
  say "daemon ready"
fi

# 3. storage + default profile root disk (no networks: nothing here gets an address)
if ! lxc storage show default >/dev/null 2>&1; then
  say "creating storage pool 'default' (dir)"
  lxc storage create default dir >/dev/null
else
  say "storage pool 'default' exists"
fi
if ! lxc profile device get default root pool >/dev/null 2>&1; then
  say "adding root disk on pool 'default' to the default profile"
  lxc profile device add default root disk path=/ pool=default >/dev/null
else
  say "default profile has a root disk"
fi

# 4. test image: the tarball (examples and tests import it into projects of their own) and the imported alias
tarball="$here/../.cache/pulumi-lxd-test.tar.gz"
if [ -f "$tarball" ]; then
  say "image tarball present ($tarball)"
else
  tarball="$("$here/build-test-image.sh" "$tarball")"
  say "built image tarball $tarball"
fi
if lxc image info "$alias_name" >/dev/null 2>&1; then
  say "image '$alias_name' present"
else
  lxc image import "$tarball" --alias "$alias_name" >/dev/null
  say "imported image '$alias_name' from $tarball"
fi
say "done"
