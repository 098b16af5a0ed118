#!/usr/bin/env bash
# The project's test command (`make test`): all Go tests, SQLite always, MariaDB when installed.
#
# Usage: deploy/scripts/test.sh [extra go test flags...]
#   PKGS          packages to test (default ./...)
#   TEST_TIMEOUT  go test -timeout (default 25m)
# A private MariaDB is started for the run and stopped afterwards (see with-test-db.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
read -r -a pkgs <<<"${PKGS:-./...}"
exec "$HERE/with-test-db.sh" go test -count=1 -timeout "${TEST_TIMEOUT:-25m}" "$@" "${pkgs[@]}"
