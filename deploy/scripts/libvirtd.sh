#!/usr/bin/env bash
# Run the system libvirtd (qemu:///system) without systemd, for tests, CI and development.
#
# Usage:
#   deploy/scripts/libvirtd.sh start  DIR   start virtlogd, then libvirtd; wait until qemu:///system answers
#   deploy/scripts/libvirtd.sh stop   DIR   stop libvirtd, then virtlogd, by their pid files
#   deploy/scripts/libvirtd.sh status DIR   exit 0 and print "running ..." if both run and libvirtd answers
#
# Layout of DIR (created as needed):
#   libvirtd.conf, virtlogd.conf   copies of /etc/libvirt's with logging into DIR
#   libvirtd.pid, virtlogd.pid     pid files written by the daemons
#   libvirtd.log, virtlogd.log     daemon logs
#
# Without systemd nothing socket-activates the daemons, and libvirtd in system mode does not spawn
# virtlogd, which the qemu driver needs: so virtlogd is started first. The daemons use the system
# paths otherwise (/run/libvirt, /var/lib/libvirt, /var/cache/libvirt): only one instance per mount
# namespace. The first connection after a fresh install takes ~15 s (QEMU capability probe, then
# cached in /var/cache/libvirt/qemu). /dev/kvm, when present, gets root:kvm 0660 as udev would give it.
#
# Environment knobs:
#   ZCLOUD_LIBVIRTD_NETNS          run both daemons in this (existing) network namespace, so that
#                                  libvirt's bridges and firewall chains stay out of the host's
#   ZCLOUD_LIBVIRTD_START_TIMEOUT  seconds to wait for qemu:///system to answer (default 90)
set -euo pipefail

PROG=$(basename "$0")
START_TIMEOUT=${ZCLOUD_LIBVIRTD_START_TIMEOUT:-90}
NETNS=${ZCLOUD_LIBVIRTD_NETNS:-}
URI=qemu:///system

log() { echo "$PROG: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
	sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

need_bins() {
	local b
	for b in libvirtd virtlogd virsh; do
		command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] ||
			die "$b not found (apt-get install libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils)"
	done
	PATH=$PATH:/usr/sbin
}

set_paths() {
	[[ -n "${1:-}" ]] || usage
	mkdir -p "$1"
	DIR=$(cd "$1" && pwd -P)
	LIBVIRTD_PID=$DIR/libvirtd.pid
	VIRTLOGD_PID=$DIR/virtlogd.pid
}

# pid_of FILE: the pid in FILE when that process still runs.
pid_of() {
	local pid
	[[ -s "$1" ]] || return 1
	pid=$(<"$1")
	[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

in_netns() {
	if [[ -n "$NETNS" ]]; then
		ip netns exec "$NETNS" "$@"
	else
		"$@"
	fi
}

answers() {
	timeout 30 virsh -q -c "$URI" version >/dev/null 2>&1
}

# wait_gone PID SECONDS: poll until PID has exited; SIGKILL it at the deadline.
wait_gone() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "pid $pid still runs after $2 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
			return 0
		fi
		sleep 0.1
	done
}

write_configs() {
	[[ -f /etc/libvirt/libvirtd.conf ]] || die "/etc/libvirt/libvirtd.conf missing (apt-get install libvirt-daemon-system)"
	{
		cat /etc/libvirt/libvirtd.conf
		echo
		echo "# added by $PROG"
		echo "log_outputs=\"3:file:$DIR/libvirtd.log\""
	} >"$DIR/libvirtd.conf"
	{
		[[ -f /etc/libvirt/virtlogd.conf ]] && cat /etc/libvirt/virtlogd.conf
		echo
		echo "# added by $PROG"
		echo "log_outputs=\"3:file:$DIR/virtlogd.log\""
	} >"$DIR/virtlogd.conf"
}

# kvm_device_access gives /dev/kvm the owner and mode udev gives it on a systemd host (root:kvm 0660).
# Without udev it stays root-only: QEMU (as libvirt-qemu) cannot open it, and libvirt 9, which
# probed KVM as usable, finds "KVM was enabled when probing, but it is not available now" on every
# lookup and re-probes QEMU's capabilities each time: ~35 s per domain start.
kvm_device_access() {
	[[ -c /dev/kvm ]] || return 0
	getent group kvm >/dev/null 2>&1 || return 0
	if [[ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]]; then
		chgrp kvm /dev/kvm && chmod 660 /dev/kvm && log "/dev/kvm: root:kvm 0660 (as udev would set it)"
	fi
}

cmd_start() {
	need_bins
	if pid_of "$LIBVIRTD_PID" >/dev/null && answers; then
		log "already running (pid $(pid_of "$LIBVIRTD_PID"))"
		return 0
	fi
	if ! pid_of "$LIBVIRTD_PID" >/dev/null && answers; then
		die "a libvirtd not started from $DIR answers on $URI already; stop it first"
	fi
	write_configs
	kvm_device_access
	mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt/qemu
	if ! pid_of "$VIRTLOGD_PID" >/dev/null; then
		rm -f "$VIRTLOGD_PID"
		in_netns virtlogd -d -f "$DIR/virtlogd.conf" -p "$VIRTLOGD_PID"
		local deadline=$((SECONDS + 10))
		until pid_of "$VIRTLOGD_PID" >/dev/null; do
			((SECONDS < deadline)) || die "virtlogd did not start (see $DIR/virtlogd.log)"
			sleep 0.1
		done
	fi
	if ! pid_of "$LIBVIRTD_PID" >/dev/null; then
		rm -f "$LIBVIRTD_PID"
		in_netns libvirtd -d -f "$DIR/libvirtd.conf" -p "$LIBVIRTD_PID"
	fi
	local deadline=$((SECONDS + START_TIMEOUT))
	until answers; do
		pid_of "$LIBVIRTD_PID" >/dev/null || [[ ! -e "$LIBVIRTD_PID" ]] ||
			die "libvirtd exited (see $DIR/libvirtd.log)"
		((SECONDS < deadline)) || die "$URI did not answer within $START_TIMEOUT s (see $DIR/libvirtd.log)"
		sleep 0.2
	done
	log "running: libvirtd pid $(pid_of "$LIBVIRTD_PID"), virtlogd pid $(pid_of "$VIRTLOGD_PID"), $URI answers"
}

cmd_stop() {
	local pid
	if pid=$(pid_of "$LIBVIRTD_PID"); then
		kill -TERM "$pid"
		wait_gone "$pid" 30
	fi
	rm -f "$LIBVIRTD_PID"
	if pid=$(pid_of "$VIRTLOGD_PID"); then
		kill -TERM "$pid"
		wait_gone "$pid" 10
	fi
	rm -f "$VIRTLOGD_PID"
	if pgrep -f '^/usr/bin/qemu-system' >/dev/null 2>&1; then
		log "note: QEMU processes still run (libvirtd leaves guests running); they reattach on the next start"
	fi
	log "stopped"
}

cmd_status() {
	need_bins
	local lpid vpid
	lpid=$(pid_of "$LIBVIRTD_PID") || { echo "stopped: libvirtd not running"; return 3; }
	vpid=$(pid_of "$VIRTLOGD_PID") || { echo "degraded: libvirtd pid $lpid, virtlogd not running"; return 3; }
	answers || { echo "degraded: libvirtd pid $lpid does not answer on $URI"; return 3; }
	echo "running libvirtd_pid=$lpid virtlogd_pid=$vpid uri=$URI"
}

[[ $# -eq 2 ]] || usage
set_paths "$2"
case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) usage ;;
esac
