#!/usr/bin/env bash
# A real 3-member LXD cluster on this machine, for the cluster tests and examples (docs/cluster.md).
#   cluster-setup.sh up              build it (idempotent: says "already up" when it is); prints build time and memory
#   cluster-setup.sh down            stop the daemons, remove the namespaces, the bridge and the members' dirs
#   cluster-setup.sh status          exit 0 when all 3 members answer and are ONLINE, else 1; prints what it found
#   cluster-setup.sh start-member N  start member N's daemon again (after a test killed it), in its namespaces
#
# How: one holder process per member (`unshare -m -n sleep infinity`) owns a mount + network namespace; inside
# it a fresh sysfs (with the host's cgroup tree moved back under it) and a fresh /proc. A bridge lives in a
# network namespace of its own; one veth per member joins it (the member's end is `eth0`, with an address on a
# private /24 used on that bridge only). No address on the host side, no NAT, no route off it: nothing leaves
# the namespaces. One `lxd` per member, with its own LXD_DIR ($LXD_CLUSTER_ROOT/nodeN), detached (setsid nohup)
# so that it outlives this script. Member 1 is bootstrapped by a preseed (a `dir` pool `default`, the default
# profile's root disk on it, no network), the others join with a token. The test image is imported into member 1.
# Clients reach member N through its unix socket $LXD_CLUSTER_ROOT/nodeN/unix.socket.
# The machine's usual LXD (/var/lib/lxd) is never touched: every path here is under $LXD_CLUSTER_ROOT.
#
# Environment: LXD_CLUSTER_ROOT (default /var/lib/lxd-cluster), LXD_CLUSTER_SUBNET (first three octets,
# default 10.251.73), LXD_TEST_IMAGE_ALIAS (default pulumi-lxd-test).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${LXD_CLUSTER_ROOT:-/var/lib/lxd-cluster}"
subnet="${LXD_CLUSTER_SUBNET:-10.251.73}"
alias_name="${LXD_TEST_IMAGE_ALIAS:-pulumi-lxd-test}"
state="$root/state"
bridge="br-lxdc"
members=(1 2 3)

say() { printf '[cluster-setup] %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }
addr() { echo "$subnet.$((10 + $1))"; }
dir_of() { echo "$root/node$1"; }
alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# shellcheck disable=SC1090
load_state() { BRIDGE_HOLDER=""; HOLDER1=""; HOLDER2=""; HOLDER3=""; DAEMON1=""; DAEMON2=""; DAEMON3=""; [ -f "$state" ] && . "$state"; return 0; }
save_state() {
  local n h d
  mkdir -p "$root"
  {
    echo "BRIDGE_HOLDER=$BRIDGE_HOLDER"
    for n in "${members[@]}"; do
      h="HOLDER$n"; d="DAEMON$n"
      echo "HOLDER$n=${!h}"; echo "DAEMON$n=${!d}"
    done
  } > "$state.tmp"
  mv "$state.tmp" "$state"
}
lxcN() { local n="$1"; shift; LXD_DIR="$(dir_of "$n")" lxc "$@"; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# A process that holds a new mount + network namespace until killed. Prints its PID.
start_holder() {
  setsid nohup unshare -m -n --propagation private sleep infinity >/dev/null 2>&1 < /dev/null &
  local pid=$!
  for _ in $(seq 50); do [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.05; done
  echo "$pid"
}

# Member N's daemon, started in its holder's namespaces, detached. Sets DAEMONn.
start_daemon() {
  local n="$1" h="HOLDER$1" d
  d="$(dir_of "$n")"
  mkdir -p "$d"
  # From / (a daemon keeps its start directory; rsync-based copies fail once it is deleted); exec keeps $! its PID.
  (cd / && LXD_DIR="$d" exec setsid nohup nsenter -t "${!h}" -n -m lxd --group root --logfile "$d/lxd.log" >/dev/null 2>&1 < /dev/null) &
  printf -v "DAEMON$n" '%s' "$!"
  save_state
  LXD_DIR="$d" timeout 120 lxd waitready --timeout=120 || die "member $n's daemon did not become ready (log: $d/lxd.log)"
}

healthy() {
  local n
  load_state
  [ -f "$state" ] || { echo "no state file ($state)"; return 1; }
  alive "$BRIDGE_HOLDER" || { echo "bridge namespace holder is gone"; return 1; }
  for n in "${members[@]}"; do
    local h="HOLDER$n" d="DAEMON$n"
    alive "${!h}" || { echo "member $n's namespace holder is gone"; return 1; }
    alive "${!d}" || { echo "member $n's daemon (pid ${!d:-none}) is not running"; return 1; }
  done
  local list
  list="$(timeout 20 env LXD_DIR="$(dir_of 1)" lxc cluster list --format csv 2>&1)" || { echo "member 1 does not answer: $list"; return 1; }
  local online
  online="$(grep -c ',ONLINE,' <<< "$list" || true)"
  [ "$online" = "${#members[@]}" ] || { echo "members online: $online of ${#members[@]}"; return 1; }
  return 0
}

memory_line() {
  load_state
  local rss=0 hwm=0 n
  for n in "${members[@]}"; do
    local d="DAEMON$n"
    rss=$((rss + $(kib "${!d}" VmRSS))); hwm=$((hwm + $(kib "${!d}" VmHWM)))
  done
  echo "daemons' RSS now $((rss / 1024)) MiB, peak (sum of VmHWM) $((hwm / 1024)) MiB"
}

cmd_status() {
  local why
  if why="$(healthy)"; then
    say "up: 3 members ONLINE ($(for n in "${members[@]}"; do printf 'node%s %s ' "$n" "$(dir_of "$n")/unix.socket"; done)); $(memory_line)"
    return 0
  fi
  say "not up: $why"
  return 1
}

cmd_down() {
  need_root
  load_state
  local t0; t0="$(date +%s.%N)"
  local did=""
  local waits=()
  for n in "${members[@]}"; do
    local d="DAEMON$n"
    if alive "${!d}"; then
      # Stops the member's instances cleanly, then the daemon (the three in parallel).
      LXD_DIR="$(dir_of "$n")" timeout 60 lxd shutdown --timeout=50 >/dev/null 2>&1 &
      waits+=("$!")
      did="$did daemon$n"
    fi
  done
  for w in "${waits[@]}"; do wait "$w" || true; done
  for n in "${members[@]}"; do
    local d="DAEMON$n"
    for _ in $(seq 50); do alive "${!d}" || break; sleep 0.1; done
    if alive "${!d}"; then kill -KILL "${!d}" 2>/dev/null || true; fi
  done
  # What a killed daemon leaves (LXC monitors and container inits naming its dir), by PID.
  if [ -d "$root" ]; then
    local pids=""
    for p in /proc/[0-9]*; do
      p="${p#/proc/}"; [ "$p" = "$$" ] && continue
      tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -qF "$root/node" && pids="$pids $p"
    done
    local kids=""; for p in $pids; do kids="$kids $(ps -o pid= --ppid "$p" 2>/dev/null || true)"; done
    if [ -n "${pids// /}" ]; then kill -KILL $pids $kids 2>/dev/null || true; did="$did leftover-processes"; fi
  fi
  for n in "${members[@]}"; do
    local h="HOLDER$n"
    if alive "${!h}"; then kill -KILL "${!h}" 2>/dev/null || true; did="$did namespace$n"; fi
  done
  if alive "$BRIDGE_HOLDER"; then kill -KILL "$BRIDGE_HOLDER" 2>/dev/null || true; did="$did bridge-namespace(+veths)"; fi
  sleep 0.3
  if [ -d "$root" ]; then
    awk -v d="$root/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    rm -rf "$root"
    did="$did dirs($root)"
  fi
  say "down:${did:- nothing was up} ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
}

cmd_start_member() {
  need_root
  local n="$1" d="DAEMON$1" h="HOLDER$1"
  load_state
  alive "${!h}" || die "member $n's namespaces are gone: run down, then up"
  if alive "${!d}"; then say "member $n's daemon already runs (pid ${!d})"; return 0; fi
  start_daemon "$n"
  local dd="DAEMON$n"
  say "member $n's daemon started again (pid ${!dd})"
}

cmd_up() {
  need_root
  local why
  if why="$(healthy)"; then say "already up; $(memory_line)"; return 0; fi
  if [ -f "$state" ] || [ -d "$root" ]; then say "not whole ($why): tearing down what is left first"; cmd_down; fi
  command -v lxd >/dev/null || die "lxd is not installed (run scripts/lxd-setup.sh)"
  local tarball="$here/../.cache/pulumi-lxd-test.tar.gz"
  [ -f "$tarball" ] || tarball="$("$here/build-test-image.sh" "$tarball")"
  local t0; t0="$(date +%s.%N)"
  mkdir -p "$root"; chmod 711 "$root"
  load_state

  # The bridge, in a network namespace of its own.
  BRIDGE_HOLDER="$(start_holder)"; save_state
  nsenter -t "$BRIDGE_HOLDER" -n sh -c "ip link add $bridge type bridge && ip link set $bridge up && ip link set lo up"
  say "bridge $bridge in its own network namespace (holder pid $BRIDGE_HOLDER), no address, no route off it"

  for n in "${members[@]}"; do
    local hp; hp="$(start_holder)"; printf -v "HOLDER$n" '%s' "$hp"; save_state
    local sysdir="$root/.sys$n"
    mkdir -p "$sysdir"
    # A fresh sysfs for the namespace's devices; the host's cgroup tree moved back under it (without it a
    # container with limits.memory fails "Failed to setup cgroup limits"); a fresh /proc.
    nsenter -t "$hp" -m -n sh -ec "
      mount --make-rprivate /
      mount --move /sys '$sysdir'
      mount -t sysfs sysfs /sys
      mount --move '$sysdir/fs/cgroup' /sys/fs/cgroup
      umount -l '$sysdir'
      mount -t proc proc /proc
      ip link set lo up"
    # The veth: created in the bridge's namespace, its member end moved into the member's and named eth0.
    nsenter -t "$BRIDGE_HOLDER" -n sh -ec "
      ip link add vc$n type veth peer name vc${n}m
      ip link set vc$n master $bridge up
      ip link set vc${n}m netns $hp"
    nsenter -t "$hp" -n sh -ec "
      ip link set vc${n}m name eth0
      ip addr add $(addr "$n")/24 dev eth0
      ip link set eth0 up"
    say "member $n: namespaces (holder pid $hp), eth0 $(addr "$n")/24 on $bridge"
  done

  start_daemon 1
  # `lxd init` checks the cluster's certificate over the bridge itself: it runs in the member's namespaces.
  LXD_DIR="$(dir_of 1)" nsenter -t "$HOLDER1" -n -m lxd init --preseed <<EOF
config:
  core.https_address: $(addr 1):8443
  images.auto_update_interval: "0"
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
cluster:
  server_name: node1
  enabled: true
EOF
  say "member 1 bootstrapped (node1, $(addr 1):8443, pool default (dir), daemon pid $DAEMON1)"
  for n in 2 3; do
    start_daemon "$n"
    local token
    token="$(lxcN 1 cluster add "node$n" --quiet 2>/dev/null | tail -n1)"
    [ -n "$token" ] || token="$(lxcN 1 cluster add "node$n" | tail -n1)"
    local hh="HOLDER$n"
    LXD_DIR="$(dir_of "$n")" nsenter -t "${!hh}" -n -m lxd init --preseed <<EOF
cluster:
  enabled: true
  server_name: node$n
  server_address: $(addr "$n"):8443
  cluster_token: $token
  member_config:
  - entity: storage-pool
    name: default
    key: source
    value: ""
EOF
    local dd="DAEMON$n"
    say "member $n joined (node$n, $(addr "$n"):8443, daemon pid ${!dd})"
  done
  lxcN 1 image import "$tarball" --alias "$alias_name" >/dev/null
  say "image $alias_name imported into member 1"
  local t1; t1="$(date +%s.%N)"
  why="$(healthy)" || die "built, but not healthy: $why"
  say "up in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; $(memory_line)"
  say "sockets: $(for n in "${members[@]}"; do printf '%s ' "$(dir_of "$n")/unix.socket"; done)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  start-member) [ -n "${2:-}" ] || die "usage: $0 start-member N"; cmd_start_member "$2" ;;
  *) echo "usage: $0 up|down|status|start-member N" >&2; exit 2 ;;
esac
