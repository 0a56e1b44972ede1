#!/usr/bin/env bash
# Roll one environment back to its previous release (or --to RELEASE): a thin wrapper over `quixotic rollback`.
# Usage: scripts/rollback/rollback-environment.sh ENV [--to RELEASE] [--yes]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 ENV [--to RELEASE] [--yes]" >&2
  exit 64
fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
quixotic="${QUIXOTIC:-$root/.venv/bin/quixotic}"
[ -x "$quixotic" ] || quixotic=quixotic
env="$1"
shift
exec "$quixotic" rollback "$env" --root "$root" "$@"
