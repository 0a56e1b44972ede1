#!/usr/bin/env bash
# Restore an environment from an archive (default: its newest backup): a thin wrapper over `quixotic restore`.
#   scripts/backup/restore-environment.sh ENV [PATH] [more `quixotic restore` options, e.g. --replace --yes]
# QUIXOTIC_BACKUP_DIR: where archives are (default: backups/ in the project folder).
source "$(dirname "$0")/../lib.sh"
usage "ENV [PATH] [quixotic restore options]" "$@"
env_name="$1"
shift
dir="${QUIXOTIC_BACKUP_DIR:-$root/backups}"
if [[ $# -gt 0 && "$1" != -* ]]; then
  archive="$1"
  shift
else
  archive="$("$quixotic" backup list --dir "$dir" --env "$env_name" --paths --root "$root" | head -n 1)"
  if [[ -z "$archive" ]]; then
    echo "no backup of $env_name in $dir: give the archive's path" >&2
    exit 1
  fi
fi
echo "restoring $env_name from $archive"
exec "$quixotic" restore "$archive" "$env_name" --root "$root" "$@"
