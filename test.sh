#!/usr/bin/env bash
# The project's test command. On a fresh machine it first installs what the tests need
# (Chromium and ChromeDriver for the browser tests, Python packages for the third-party FHIR
# client check), then runs every test.
set -euo pipefail
cd "$(dirname "$0")"

if ! python3 -c 'import sys; sys.path.insert(0, "tests/conformance"); import fhir_models, requests, pytest, fhirpy' 2>/dev/null; then
  echo "== installing Python test dependencies (tests/conformance/requirements.txt)"
  python3 -m pip install --quiet --disable-pip-version-check -r tests/conformance/requirements.txt
fi

if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
  echo "== installing Chromium and ChromeDriver (browser tests of the web UI)"
  SUDO=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

echo "== cargo test"
cargo test --workspace --locked

echo "== third-party FHIR client conformance (Python fhir.resources + requests)"
# `cargo test` has already built the binary (the end-to-end tests run it).
EXPEDIENTE_BIN="${CARGO_TARGET_DIR:-target}/debug/expediente" python3 -m pytest -q tests/conformance
