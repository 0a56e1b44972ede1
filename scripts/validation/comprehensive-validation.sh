#!/usr/bin/env bash
# Validate one environment (and, with --against REF, its drift from another): a thin wrapper over `quixotic validate`.
# Usage: scripts/validation/comprehensive-validation.sh ENV [--against REF] [--json]
# Exit 0: PASS (warnings allowed), 1: a check failed, 2: the environment could not be reached or read.
source "$(dirname "$0")/../lib.sh"
usage "ENV [--against REF] [--json]" "$@"
env="$1"
shift
exec "$quixotic" validate "$env" --root "$root" "$@"
