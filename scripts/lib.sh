# Sourced by the wrapper scripts: the project folder and the quixotic command they run, and their usage check.
# QUIXOTIC_ROOT: the project folder (default: this repository); QUIXOTIC: the quixotic command (default: the
# repository's .venv/bin/quixotic, else the one on PATH).
set -euo pipefail
root="${QUIXOTIC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
quixotic="${QUIXOTIC:-$root/.venv/bin/quixotic}"
[[ -x "$quixotic" ]] || quixotic=quixotic

# usage "ENV [options]" "$@": refuse (exit 64, EX_USAGE) when no environment is named.
usage() {
  local text="$1"
  shift
  if [[ $# -lt 1 ]]; then
    echo "usage: $0 $text" >&2
    exit 64
  fi
}
