#!/usr/bin/env bash
# Back up one environment into one verified archive: a thin wrapper over `quixotic backup`.
#   scripts/backup/backup-environment.sh ENV [more `quixotic backup` options, e.g. --include-secrets]
# QUIXOTIC_ROOT: the project folder (default: this repository); QUIXOTIC_BACKUP_DIR: where archives go
# (default: backups/ in the project folder).
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $0 ENV [quixotic backup options]" >&2
  exit 2
fi
env_name="$1"
shift
root="${QUIXOTIC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
out="${QUIXOTIC_BACKUP_DIR:-$root/backups}"
mkdir -p "$out"
exec quixotic backup "$env_name" --root "$root" --out "$out" "$@"
