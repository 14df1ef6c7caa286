#!/usr/bin/env bash
# Installs Synapse (matrix-synapse, pinned 1.163.x, from PyPI) into a git-ignored virtualenv for
# the interop suite (issue 13). Idempotent: does nothing when the
# venv already has a 1.163.x Synapse that imports.
#
#   scripts/synapse/install.sh [VENV_DIR]      (default: <repo>/.venv-synapse, or $SYNAPSE_VENV)
#
# Needs python3 (>= 3.10) with the venv module. Prints the venv's python path on the last line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-${SYNAPSE_VENV:-$ROOT/.venv-synapse}}"
PIN="${SYNAPSE_PIN:-matrix-synapse==1.163.*}"
PY="$VENV/bin/python"

installed() {
  [ -x "$PY" ] && "$PY" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
v = version("matrix-synapse")
import synapse.app.homeserver  # noqa: F401  (fails when a dependency is missing)
sys.exit(0 if v.startswith("1.163.") else 1)
PY
}

if installed; then
  echo "synapse: $("$PY" -c 'from importlib.metadata import version; print(version("matrix-synapse"))') already in $VENV" >&2
  echo "$PY"
  exit 0
fi

command -v python3 >/dev/null || { echo "synapse: python3 is needed (apt-get install python3 python3-venv)" >&2; exit 1; }
start=$(date +%s)
if [ ! -x "$PY" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian ships venv separately; as root (CI), install it rather than fail.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "synapse: installing python3-venv" >&2
      rm -rf "$VENV"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >&2
      python3 -m venv "$VENV"
    else
      echo "synapse: python3 -m venv failed (apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$PY" -m pip install --quiet --disable-pip-version-check "$PIN" >&2
installed || { echo "synapse: installed, but 'import synapse.app.homeserver' fails in $VENV" >&2; exit 1; }
echo "synapse: $("$PY" -c 'from importlib.metadata import version; print(version("matrix-synapse"))') installed in $VENV in $(( $(date +%s) - start )) s" >&2
echo "$PY"
