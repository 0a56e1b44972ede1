#!/usr/bin/env bash
# Back up one environment into one verified archive: a thin wrapper over `quixotic backup`.
#   scripts/backup/backup-environment.sh ENV [more `quixotic backup` options, e.g. --include-secrets]
# QUIXOTIC_BACKUP_DIR: where archives go (default: backups/ in the project folder).
source "$(dirname "$0")/../lib.sh"
usage "ENV [quixotic backup options]" "$@"
env_name="$1"
shift
out="${QUIXOTIC_BACKUP_DIR:-$root/backups}"
mkdir -p "$out"
exec "$quixotic" backup "$env_name" --root "$root" --out "$out" "$@"
