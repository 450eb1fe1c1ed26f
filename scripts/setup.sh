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

# Microsoft's Adaptive Cards renderer (tests/cards) and Teams app manifest schemas
# (tests/manifest), for the validation tests. They need Node.js and npm; without them those
# tests say so and are skipped outside CI.
install_npm() {  # folder, package that shows it is installed
  if command -v npm >/dev/null 2>&1 && [ ! -d "tests/$1/node_modules/$2" ]; then
    (cd "tests/$1" && npm install --silent --no-audit --no-fund >/dev/null 2>&1) \
      || echo "setup: could not install $2 from npm; the tests that use it will not run" >&2
  fi
}
install_npm cards adaptivecards
install_npm manifest @microsoft/app-manifest
install_npm playground @microsoft/m365agentsplayground
install_npm atk @microsoft/m365agentstoolkit-cli  # `atk validate` for the app package

# Debian's chromium for the browser tests (the tab, the Agents Playground, the AUP card on a
# phone): Playwright drives it through executable_path; Playwright's own browser download is not
# reachable. Installed with apt where we are root.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }) \
      || echo "setup: could not install chromium; the browser tests will fail" >&2
  else
    echo "setup: /usr/bin/chromium is missing (apt-get install chromium); the browser tests need it" >&2
  fi
fi
