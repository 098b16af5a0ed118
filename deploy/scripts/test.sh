#!/usr/bin/env bash
# The project's test command (`make test`): all Go tests, SQLite always, MariaDB when installed,
# real QEMU guests when libvirt is installed.
#
# Usage: deploy/scripts/test.sh [extra go test flags...]
#   PKGS          packages to test (default ./...)
#   TEST_TIMEOUT  go test -timeout (default 25m)
# A private MariaDB is started for the run and stopped afterwards (see with-test-db.sh). When the
# system libvirtd is installed but not running (no systemd here), it is started for the run with
# deploy/scripts/libvirtd.sh and stopped afterwards; one that already runs is left alone.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
read -r -a pkgs <<<"${PKGS:-./...}"

LIBVIRTD_DIR=${ZCLOUD_TEST_LIBVIRTD_DIR:-$ROOT/var/test-libvirtd}
started_libvirtd=
stop_services() {
	if [[ -n "$started_libvirtd" ]]; then
		"$HERE/libvirtd.sh" stop "$LIBVIRTD_DIR" || true
	fi
}
trap stop_services EXIT
if [[ $(id -u) == 0 ]] && { command -v libvirtd >/dev/null 2>&1 || [[ -x /usr/sbin/libvirtd ]]; }; then
	if ! virsh -c qemu:///system version >/dev/null 2>&1; then
		"$HERE/libvirtd.sh" start "$LIBVIRTD_DIR"
		started_libvirtd=1
	fi
fi

"$HERE/with-test-db.sh" go test -count=1 -timeout "${TEST_TIMEOUT:-25m}" "$@" "${pkgs[@]}"
