#!/usr/bin/env bash
# Every test against real daemons: what `npm test` runs after its `pretest` (scripts/lxd-setup.sh,
# scripts/incus-setup.sh, scripts/cluster-setup.sh up, the QEMU guest test's packages).
#   1. build dist/ (the provider host loads it)
#   2. jest in band against LXD: the unit tests and every integration test, the cluster tests on the 3-member
#      test cluster and the QEMU guest test included (PASSTHROUGH_GUEST_TEST=0 skips the latter)
#   3. the integration tests again against Incus (LXD_TEST_BACKEND=incus), but the QEMU guest test (it tests
#      shell scripts in a VM, not a server) and the cluster tests (the test cluster is LXD's)
# The backends run one after the other, never at the same time: LXD and Incus allocate isolated id ranges from
# the same /etc/subuid entry without knowing about each other.
# Environment: TEST_BACKENDS (default "lxd incus"). Extra arguments go to every jest run.
# Exits non-zero when any run fails (the later runs still run); prints how long each took.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
backends="${TEST_BACKENDS:-lxd incus}"
status=0
report=()

npm run build --silent || exit 1
for backend in $backends; do
  start=$SECONDS
  case "$backend" in
    lxd)
      echo "== jest against LXD ($(lxd --version 2>/dev/null || echo '?')): unit and integration tests"
      LXD_TEST_BACKEND=lxd npx jest --runInBand "$@" ;;
    incus)
      echo "== jest against Incus ($(incus --version 2>/dev/null || echo '?')): integration tests"
      LXD_TEST_BACKEND=incus npx jest --runInBand tests/integration \
        --testPathIgnorePatterns '/node_modules/' 'passthrough-guest\.test\.ts$' 'cluster[^/]*\.test\.ts$' "$@" ;;
    *) echo "TEST_BACKENDS must list lxd and/or incus, but \"$backend\" was provided" >&2; exit 2 ;;
  esac
  rc=$?
  [ "$rc" -eq 0 ] || status=1
  report+=("$backend: exit $rc, $((SECONDS - start)) s")
done
printf '== test runs\n'
printf '  %s\n' "${report[@]}"
exit "$status"
