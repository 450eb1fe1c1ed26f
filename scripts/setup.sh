#!/usr/bin/env bash
# Create .venv (if needed) and install Chaperone with its test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Chaperone needs Python 3.11 or newer")'
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.chaperone-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi

# Microsoft's Adaptive Cards renderer, for the card validation tests (needs Node.js and npm;
# without them those tests say so and are skipped outside CI).
if command -v npm >/dev/null 2>&1 && [ ! -d tests/cards/node_modules/adaptivecards ]; then
  (cd tests/cards && npm install --silent --no-audit --no-fund >/dev/null 2>&1) \
    || echo "setup: could not install the adaptivecards npm package; card validation tests will not run" >&2
fi
