#!/usr/bin/env bash
# Roll one environment back to its previous release (or --to RELEASE): a thin wrapper over `quixotic rollback`.
# Usage: scripts/rollback/rollback-environment.sh ENV [--to RELEASE] [--yes]
source "$(dirname "$0")/../lib.sh"
usage "ENV [--to RELEASE] [--yes]" "$@"
env="$1"
shift
exec "$quixotic" rollback "$env" --root "$root" "$@"
