#!/usr/bin/env bash
# Deploy one environment (local, dev, prod, ...): a thin wrapper over `quixotic deploy`.
# Usage: scripts/deploy/deploy-environment.sh ENV [extra quixotic deploy options, e.g. --yes]
source "$(dirname "$0")/../lib.sh"
usage "ENV [--yes] [--allow-destructive] [--plan FILE]" "$@"
env="$1"
shift
exec "$quixotic" deploy "$env" --root "$root" "$@"
