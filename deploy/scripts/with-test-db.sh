#!/usr/bin/env bash
# Run a command with the test databases available, then clean up.
#
# Usage: deploy/scripts/with-test-db.sh CMD [ARGS...]
#
# - If ZCLOUD_TEST_MYSQL_DSN is already set, it is used as is and nothing is started.
# - Else, if MariaDB is installed (mariadbd or mysqld), a fresh private instance is started under
#   $ZCLOUD_TEST_MARIADB_DIR (default ./var/test-mariadb) with deploy/scripts/mariadb.sh,
#   ZCLOUD_TEST_MYSQL_DSN is exported for CMD, and the instance is stopped when this script exits,
#   whether CMD passed, failed or was interrupted.
# - Else a loud notice says the MariaDB store tests will be skipped; with
#   ZCLOUD_TEST_REQUIRE_MYSQL=1 (set by .ci/run) that is an error instead.
#
# The exit status is CMD's.
set -euo pipefail

[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
cd "$ROOT"

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH=/usr/local/go/bin:$PATH
fi
# Local services (MariaDB, embedded Temporal, aliyunsim) must never be reached through a proxy.
export NO_PROXY=${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost,::1
export no_proxy=$NO_PROXY

MDB_DIR=${ZCLOUD_TEST_MARIADB_DIR:-$ROOT/var/test-mariadb}
STARTED_MDB=

cleanup() {
	local rc=$?
	if [[ -n "$STARTED_MDB" ]]; then
		"$HERE/mariadb.sh" stop "$MDB_DIR" || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

have_mariadb() {
	command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 ||
		[[ -x /usr/sbin/mariadbd || -x /usr/sbin/mysqld ]]
}

banner() {
	echo "############################################################################" >&2
	for l in "$@"; do echo "### $l" >&2; done
	echo "############################################################################" >&2
}

if [[ -n "${ZCLOUD_TEST_MYSQL_DSN:-}" ]]; then
	echo "with-test-db: using the ZCLOUD_TEST_MYSQL_DSN from the environment" >&2
elif have_mariadb; then
	# A fresh instance every run: no databases left over from an earlier, aborted run.
	"$HERE/mariadb.sh" stop "$MDB_DIR" >/dev/null 2>&1 || true
	rm -rf "$MDB_DIR"
	STARTED_MDB=1
	t0=$(date +%s%N)
	"$HERE/mariadb.sh" start "$MDB_DIR"
	ZCLOUD_TEST_MYSQL_DSN=$("$HERE/mariadb.sh" dsn "$MDB_DIR")
	export ZCLOUD_TEST_MYSQL_DSN
	echo "with-test-db: MariaDB ready in $((($(date +%s%N) - t0) / 1000000)) ms:" \
		"ZCLOUD_TEST_MYSQL_DSN=$ZCLOUD_TEST_MYSQL_DSN" >&2
elif [[ "${ZCLOUD_TEST_REQUIRE_MYSQL:-}" == 1 ]]; then
	banner "MariaDB (mariadbd/mysqld) is not installed but ZCLOUD_TEST_REQUIRE_MYSQL=1." \
		"Install it: apt-get install -y mariadb-server mariadb-client"
	exit 1
else
	banner "MariaDB is NOT installed: the MariaDB/MySQL store tests will be SKIPPED." \
		"Only SQLite is tested. To test both dialects (as CI does):" \
		"    apt-get install -y mariadb-server mariadb-client"
fi

# Not exec: the EXIT trap must run after CMD to stop the instance.
set +e
"$@"
rc=$?
set -e
exit "$rc"
