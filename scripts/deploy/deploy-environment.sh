#!/usr/bin/env bash
# Deploy one environment (local, dev, prod, ...): a thin wrapper over `quixotic deploy`.
# Usage: scripts/deploy/deploy-environment.sh ENV [extra quixotic deploy options, e.g. --yes]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 ENV [--yes] [--allow-destructive] [--plan FILE]" >&2
  exit 64
fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
quixotic="${QUIXOTIC:-$root/.venv/bin/quixotic}"
[ -x "$quixotic" ] || quixotic=quixotic
env="$1"
shift
exec "$quixotic" deploy "$env" --root "$root" "$@"
