#!/bin/sh
# Supervisor of zcloud-hostworker on hosts without systemd, installed by ZCloud
# (activities/sshdeploy). It restarts the agent whenever it exits, as systemd's
# Restart=always would, and stops it on SIGTERM.
bin=/usr/local/bin/zcloud-hostworker
conf=/etc/zcloud/hostworker.conf
pidfile=/run/zcloud-hostworker.pid
selfpid=/run/zcloud-hostworker-supervisor.pid
log=/var/log/zcloud-hostworker.log
echo $$ >"$selfpid"
child=
stop() {
	trap - TERM INT
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child"
	fi
	rm -f "$pidfile" "$selfpid"
	exit 0
}
trap stop TERM INT
while :; do
	"$bin" --config "$conf" </dev/null >>"$log" 2>&1 &
	child=$!
	echo "$child" >"$pidfile"
	wait "$child"
	status=$?
	echo "zcloud-hostworker exited with status $status, restarting in 2s" >>"$log"
	sleep 2 &
	child=$!
	wait "$child"
done
