#!/usr/bin/env bash
# Private MariaDB instance for tests and development.
#
# Usage:
#   deploy/scripts/mariadb.sh start  DIR   start (or reuse) the instance living in DIR
#   deploy/scripts/mariadb.sh stop   DIR   stop it (SIGTERM, wait, SIGKILL as last resort)
#   deploy/scripts/mariadb.sh status DIR   exit 0 and print "running pid=... port=..." if it answers
#   deploy/scripts/mariadb.sh dsn    DIR [DB]   print the go-sql-driver/mysql DSN (DB defaults to zcloud_test)
#   deploy/scripts/mariadb.sh client DIR [ARGS...]   run the mariadb client as root over the socket
#
# Layout of DIR (created as needed):
#   data/         datadir (initialised by mariadb-install-db on first start)
#   mysqld.sock   unix socket (or a short path in /tmp if DIR is too long; see DIR/socket)
#   socket        path of the unix socket actually used
#   mysqld.pid    pid file written by the server
#   port          TCP port on 127.0.0.1
#   mysqld.err    server error log
#
# The instance never touches /etc/mysql, /var/lib/mysql or the system service: every program is
# run with --no-defaults. It listens on 127.0.0.1 only. Accounts:
#   root@localhost  no password (socket or TCP from localhost; private test instance only)
#   zcloud@127.0.0.1, zcloud@localhost  password "zcloud", ALL on `zcloud\_%`.* (so tests can
#                   CREATE/DROP their own databases named zcloud_<anything>)
# Database zcloud_test is created.
#
# Environment knobs:
#   ZCLOUD_MARIADB_PORT      preferred TCP port (default: the port used last time in DIR, else 33306);
#                            if busy, a free port is picked.
#   ZCLOUD_MARIADB_SQL_MODE  sql_mode (default: MySQL 8's defaults, so MariaDB tests catch SQL that
#                            MySQL 8 would reject)
#   ZCLOUD_MARIADB_START_TIMEOUT  seconds to wait for the server to answer (default 90)
set -euo pipefail

PROG=$(basename "$0")
DEFAULT_PORT=33306
DB_NAME=zcloud_test
DB_USER=zcloud
DB_PASS=zcloud
SQL_MODE=${ZCLOUD_MARIADB_SQL_MODE:-ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION}
START_TIMEOUT=${ZCLOUD_MARIADB_START_TIMEOUT:-90}

log() { echo "$PROG: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# find_bin NAME... : first of the names found in PATH or the usual sbin/libexec dirs.
find_bin() {
	local n d
	for n in "$@"; do
		if command -v "$n" >/dev/null 2>&1; then
			command -v "$n"
			return 0
		fi
		for d in /usr/sbin /usr/local/sbin /usr/libexec /usr/local/mysql/bin; do
			if [[ -x "$d/$n" ]]; then
				echo "$d/$n"
				return 0
			fi
		done
	done
	return 1
}

need_bins() {
	MARIADBD=$(find_bin mariadbd mysqld) || die "mariadbd/mysqld not found (apt-get install mariadb-server)"
	INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb-install-db not found (apt-get install mariadb-server)"
	ADMIN=$(find_bin mariadb-admin mysqladmin) || die "mariadb-admin not found (apt-get install mariadb-client)"
	CLIENT=$(find_bin mariadb mysql) || die "mariadb client not found (apt-get install mariadb-client)"
}

set_paths() {
	[[ -n "${1:-}" ]] || usage
	mkdir -p "$1"
	DIR=$(cd "$1" && pwd -P)
	DATADIR=$DIR/data
	PIDFILE=$DIR/mysqld.pid
	PORTFILE=$DIR/port
	ERRLOG=$DIR/mysqld.err
	SOCKFILE=$DIR/socket
	SOCK=$DIR/mysqld.sock
	# sun_path is 108 bytes; keep a margin for a deep work tree.
	if ((${#SOCK} > 100)); then
		SOCK=${TMPDIR:-/tmp}/zcloud-mariadb-$(printf '%s' "$DIR" | cksum | cut -d' ' -f1).sock
	fi
}

# pid_alive: prints the pid of the server owning DIR if it is running.
server_pid() {
	local pid
	[[ -s "$PIDFILE" ]] || return 1
	pid=$(tr -dc '0-9' <"$PIDFILE")
	[[ -n "$pid" ]] || return 1
	is_our_server "$pid" || return 1
	echo "$pid"
}

# is_our_server PID: PID is a mariadbd/mysqld whose --datadir is ours (guards against pid reuse).
is_our_server() {
	local pid=$1 cmdline
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ "$cmdline" == *"--datadir=$DATADIR "* ]]
}

admin_ping() {
	"$ADMIN" --no-defaults --protocol=socket --socket="$SOCK" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

root_sql() {
	"$CLIENT" --no-defaults --protocol=socket --socket="$SOCK" -uroot --batch --skip-column-names "$@"
}

# port_busy PORT: something listens on 127.0.0.1:PORT (or it cannot be probed as free).
port_busy() {
	local p=$1
	if command -v ss >/dev/null 2>&1; then
		[[ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]] && return 0
	fi
	# Fallback / double check: a connect that succeeds means a listener.
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
	return 1
}

# candidate_ports: preferred port first, then random ones below the ephemeral range.
candidate_ports() {
	local first=${ZCLOUD_MARIADB_PORT:-}
	if [[ -z "$first" && -s "$PORTFILE" ]]; then
		first=$(tr -dc '0-9' <"$PORTFILE")
	fi
	first=${first:-$DEFAULT_PORT}
	echo "$first"
	local i
	for i in $(seq 1 20); do
		echo $((20000 + RANDOM % 12000))
	done
}

init_datadir() {
	if [[ -d "$DATADIR/mysql" ]]; then
		return 0
	fi
	log "initialising datadir $DATADIR"
	rm -rf "$DATADIR"
	mkdir -p "$DATADIR"
	local out
	if ! out=$("$INSTALL_DB" --no-defaults \
		--datadir="$DATADIR" \
		--user="$(id -un)" \
		--auth-root-authentication-method=normal \
		--skip-test-db \
		--skip-name-resolve \
		--innodb-log-file-size=48M \
		2>&1); then
		echo "$out" >&2
		rm -rf "$DATADIR"
		die "mariadb-install-db failed"
	fi
}

# launch PORT: start the server in the background; returns 0 once it answers, 1 if the port was
# taken (caller retries with another), dies on other failures.
launch() {
	local port=$1 pid deadline
	rm -f "$PIDFILE"
	[[ -S "$SOCK" ]] && rm -f "$SOCK"
	mkdir -p "$DIR/tmp"
	: >"$ERRLOG"
	# stdio goes to files so the caller's pipes (make, CI log capture) are not held open, and the
	# lock fd 9 is closed so the server does not hold the start lock for its whole life.
	"$MARIADBD" --no-defaults \
		--datadir="$DATADIR" \
		--user="$(id -un)" \
		--socket="$SOCK" \
		--pid-file="$PIDFILE" \
		--port="$port" \
		--bind-address=127.0.0.1 \
		--log-error="$ERRLOG" \
		--tmpdir="$DIR/tmp" \
		--skip-name-resolve \
		--skip-log-bin \
		--character-set-server=utf8mb4 \
		--collation-server=utf8mb4_unicode_ci \
		--default-time-zone=+00:00 \
		--sql-mode="$SQL_MODE" \
		--max-connections=1000 \
		--innodb-buffer-pool-size=256M \
		--innodb-log-file-size=48M \
		--innodb-flush-log-at-trx-commit=2 \
		--innodb-doublewrite=0 \
		--sync-binlog=0 \
		--performance-schema=OFF \
		</dev/null >>"$DIR/mysqld.out" 2>&1 9>&- &
	pid=$!
	deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			if grep -qiE "address already in use|Can't start server: Bind on TCP/IP port" "$ERRLOG"; then
				log "port $port is taken, trying another"
				return 1
			fi
			tail -n 30 "$ERRLOG" >&2 || true
			die "mariadbd exited during start-up (log: $ERRLOG)"
		fi
		if admin_ping; then
			echo "$port" >"$PORTFILE"
			return 0
		fi
		sleep 0.2
	done
	tail -n 30 "$ERRLOG" >&2 || true
	kill -KILL "$pid" 2>/dev/null || true
	die "mariadbd did not answer within ${START_TIMEOUT}s (log: $ERRLOG)"
}

bootstrap_sql() {
	root_sql <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON \`zcloud\\_%\`.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`zcloud\\_%\`.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
}

cmd_start() {
	set_paths "${1:-}"
	need_bins
	exec 9>"$DIR/.lock"
	flock -w 120 9 || die "could not lock $DIR/.lock"
	echo "$SOCK" >"$SOCKFILE"

	local pid port
	if pid=$(server_pid) && admin_ping; then
		bootstrap_sql
		log "already running (pid $pid, port $(cat "$PORTFILE"))"
		return 0
	fi
	if [[ -n "${pid:-}" ]]; then
		# Alive but not answering: a stuck or half-started server. Replace it.
		log "server pid $pid does not answer; restarting it"
		stop_pid "$pid"
	fi

	local t0=$SECONDS
	init_datadir
	local started=
	for port in $(candidate_ports); do
		if port_busy "$port"; then
			continue
		fi
		if launch "$port"; then
			started=1
			break
		fi
	done
	[[ -n "$started" ]] || die "no free TCP port found"
	bootstrap_sql
	log "started pid $(cat "$PIDFILE") on 127.0.0.1:$port socket $SOCK in $((SECONDS - t0))s"
}

# stop_pid PID: SIGTERM, wait up to 60 s, then SIGKILL.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "pid $pid did not exit after SIGTERM; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	die "pid $pid did not exit"
}

cmd_stop() {
	[[ -n "${1:-}" ]] || usage
	if [[ ! -d "$1" ]]; then
		return 0
	fi
	set_paths "$1"
	local pid
	if pid=$(server_pid); then
		stop_pid "$pid"
		log "stopped pid $pid"
	else
		log "not running"
	fi
	rm -f "$PIDFILE"
	[[ -S "$SOCK" ]] && rm -f "$SOCK"
	return 0
}

cmd_status() {
	[[ -n "${1:-}" && -d "$1" ]] || { echo "not running"; return 1; }
	set_paths "$1"
	need_bins
	local pid
	if pid=$(server_pid) && admin_ping; then
		echo "running pid=$pid port=$(cat "$PORTFILE" 2>/dev/null) socket=$SOCK"
		return 0
	fi
	echo "not running"
	return 1
}

cmd_dsn() {
	[[ -n "${1:-}" ]] || usage
	local dir=$1 db=${2:-$DB_NAME} port
	[[ -s "$dir/port" ]] || die "no port file in $dir (is the instance started?)"
	port=$(tr -dc '0-9' <"$dir/port")
	echo "$DB_USER:$DB_PASS@tcp(127.0.0.1:$port)/$db?parseTime=true&multiStatements=true"
}

cmd_client() {
	set_paths "${1:-}"
	shift
	need_bins
	exec "$CLIENT" --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
status) shift; cmd_status "$@" ;;
dsn) shift; cmd_dsn "$@" ;;
client) shift; cmd_client "$@" ;;
*) usage ;;
esac
