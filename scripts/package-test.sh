#!/usr/bin/env bash
# Builds the Debian package from the binary `cargo test` already built (stripped, fast
# compression: this checks the packaging, a release build makes the real package), installs
# it, and starts the node as its systemd unit would: with systemd, `systemctl start`;
# without it (CI containers), the unit's own ExecStart line as the unit's User. Then checks
# the service answers, and removes the package, which must leave the data in place.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
TARGET="${CARGO_TARGET_DIR:-target}"

if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  echo "== installing cargo-deb $CARGO_DEB_VERSION"
  cargo install --quiet --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi
DEB="$TARGET/expediente-test.deb"
# `--profile dev` packages the test build; cargo-deb warns that releases use `release`.
cargo deb -p cli --no-build --profile dev --fast -o "$DEB" 2>&1 | grep -v "dev profile\|debug symbols set\|Cargo also supports" || true
test -s "$DEB"

echo "== installing $DEB"
$SUDO dpkg -i "$DEB" >/dev/null
fail() { echo "package test: $*" >&2; exit 1; }
getent passwd expediente >/dev/null || fail "no system user 'expediente'"
[ "$(stat -c '%a %U' /var/lib/expediente)" = "700 expediente" ] || fail "data directory is $(stat -c '%a %U' /var/lib/expediente), not 700 expediente"
[ "$(stat -c '%a %G' /etc/expediente/expediente.toml)" = "640 expediente" ] || fail "settings file is $(stat -c '%a %G' /etc/expediente/expediente.toml)"
UNIT=$(dpkg -L expediente | grep '/expediente.service$') || fail "no unit in the package"
/usr/bin/expediente --version

PORT=18765
if [ -d /run/systemd/system ]; then
  echo "== starting the unit with systemd"
  $SUDO mkdir -p /etc/systemd/system/expediente.service.d
  printf '[Service]\nEnvironment=EXPEDIENTE_LISTEN=127.0.0.1:%s\n' "$PORT" | $SUDO tee /etc/systemd/system/expediente.service.d/test.conf >/dev/null
  $SUDO systemctl daemon-reload
  $SUDO systemctl restart expediente
  STOP="$SUDO systemctl stop expediente"
else
  echo "== no systemd here: running the unit's ExecStart as its User"
  EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
  USER_=$(sed -n 's/^User=//p' "$UNIT")
  [ -n "$EXEC" ] && [ -n "$USER_" ] || fail "unit without ExecStart or User"
  # The variable wins over the settings file: the test's own port.
  $SUDO env EXPEDIENTE_LISTEN=127.0.0.1:$PORT setpriv --reuid="$USER_" --regid="$USER_" --init-groups -- $EXEC >"$TARGET/package-test.log" 2>&1 &
  PID=$!
  STOP="kill -TERM $PID"
fi
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$TARGET/package-test.log" 2>/dev/null || true; fail "the service did not answer /healthz"; }
[ -f /var/lib/expediente/expediente.db ] || fail "the service keeps no database in /var/lib/expediente"
[ "$(stat -c '%U %a' /var/lib/expediente/expediente.db)" = "expediente 600" ] || fail "database file is $(stat -c '%U %a' /var/lib/expediente/expediente.db)"
$STOP
wait 2>/dev/null || true

echo "== removing the package (the data stays)"
$SUDO dpkg -r expediente >/dev/null
[ -f /var/lib/expediente/expediente.db ] || fail "removing the package deleted the data"
[ ! -e /usr/bin/expediente ] || fail "the binary is still installed"
echo "package test: ok (installed, served by its unit, removed with the data kept)"
