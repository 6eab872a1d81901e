#!/usr/bin/env bash
# The main job: `pulumi up` of the root Pulumi.yaml (its program is examples/hardened-container) against the local LXD,
# with a local state backend (no Pulumi account) and an empty passphrase unless you set one.
# Usage: npm run up [-- extra pulumi up flags]     (needs root for the LXD set-up, and the Pulumi CLI)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v pulumi >/dev/null 2>&1; then
  echo "up: the Pulumi CLI is not installed (see https://www.pulumi.com/docs/install/); it is needed for 'pulumi up'" >&2
  exit 1
fi
bash scripts/lxd-setup.sh
[ -d node_modules/@pulumi/pulumi ] || npm ci --no-audit --no-fund
npm run build

export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
mkdir -p "$root/.pulumi-state"
pulumi stack select "${PULUMI_STACK:-dev}" --create --non-interactive
pulumi up --yes --non-interactive "$@"
