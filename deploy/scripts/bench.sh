#!/usr/bin/env bash
# Benchmarks (`make bench`): every benchmark once (-benchtime=1x), no tests.
#
# Usage: deploy/scripts/bench.sh [extra go test flags...]
#   PKGS        packages (default ./...)
#   BENCH       -bench regexp (default .)
#   BENCHTIME   -benchtime (default 1x)
# Runs with the same test databases as test.sh (private MariaDB when installed).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
read -r -a pkgs <<<"${PKGS:-./...}"
exec "$HERE/with-test-db.sh" go test -run '^$' -bench "${BENCH:-.}" -benchtime="${BENCHTIME:-1x}" \
	-timeout 30m "$@" "${pkgs[@]}"
