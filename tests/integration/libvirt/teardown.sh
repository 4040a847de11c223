#!/bin/bash
# Undoes setup.sh and whatever the integration tests left: the private sshd of ssh-tests.py,
# domains named prlkit-it-*, the volumes of the test pool, the test network and pool (when
# setup.sh defined them), and the daemons setup.sh started (by the PIDs it recorded; daemons
# that were already running are left alone). Safe to run more than once, and after a failed
# or interrupted run.
set -uo pipefail

state=${PRLKIT_LV_STATE:-/run/prlkit-libvirt-it}
net=${PRLKIT_LV_NETWORK:-prlkit-it}
pool=${PRLKIT_LV_POOL:-prlkit-it}
prefix=${PRLKIT_LV_PREFIX:-prlkit-it-}
sock=/run/libvirt/libvirt-sock

say() { echo "libvirt-teardown: $*" >&2; }
v() { timeout 60 virsh -q -c qemu:///system "$@"; }

# The private sshd of ssh-tests.py, when a run ended before it stopped it: the listener by
# its recorded PID (only while that PID still runs our sshd), everything under it (its
# sessions), its directory, and /run/sshd when ssh-tests.py made it.
tree() {   # tree PID: the PIDs of PID's descendants
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		tree "$c"
	done
}
if [ -f "$state/sshd.pid" ]; then
	sshd_pid=$(cat "$state/sshd.pid")
	sshd_dir=$(cat "$state/sshd.dir" 2> /dev/null || true)
	case $sshd_dir in "$state"/sshd.*) ;; *) sshd_dir= ;; esac
	if [ -n "$sshd_dir" ] && [ -n "$sshd_pid" ] &&
		tr '\0' ' ' < "/proc/$sshd_pid/cmdline" 2> /dev/null | grep -F "$sshd_dir/" > /dev/null; then
		for p in "$sshd_pid" $(tree "$sshd_pid"); do kill -TERM "$p" 2> /dev/null; done
		for _ in $(seq 50); do kill -0 "$sshd_pid" 2> /dev/null || break; sleep 0.1; done
		kill -KILL "$sshd_pid" 2> /dev/null
		say "stopped the private sshd ($sshd_pid)"
	fi
	rm -f "$state/sshd.pid"
fi
if [ -f "$state/sshd.dir" ]; then
	sshd_dir=$(cat "$state/sshd.dir")
	case $sshd_dir in "$state"/sshd.*) rm -rf "$sshd_dir" && say "removed $sshd_dir" ;; esac
	rm -f "$state/sshd.dir"
fi
if [ -f "$state/sshd-privsep.created" ]; then
	rmdir "$(cat "$state/sshd-privsep.created")" 2> /dev/null
	rm -f "$state/sshd-privsep.created"
fi

if [ -S "$sock" ] && command -v virsh > /dev/null; then
	# Test domains (and clones the tests made from them).
	for d in $(v list --all --name 2>/dev/null | grep -E "^(${prefix}|cpf-check-)" || true); do
		v destroy "$d" > /dev/null 2>&1
		v undefine "$d" --managed-save --snapshots-metadata --nvram > /dev/null 2>&1 ||
			v undefine "$d" > /dev/null 2>&1
		say "removed domain $d"
	done
	if v pool-info "$pool" > /dev/null 2>&1; then
		v pool-refresh "$pool" > /dev/null 2>&1
		for vol in $(v vol-list "$pool" 2>/dev/null | awk '{ print $1 }'); do
			v vol-delete --pool "$pool" "$vol" > /dev/null 2>&1 && say "removed volume $vol"
		done
		if [ -f "$state/pool.defined" ]; then
			v pool-destroy "$pool" > /dev/null 2>&1
			v pool-undefine "$pool" > /dev/null 2>&1
			rm -f "$state/pool.defined"
			say "removed pool $pool"
		fi
		if [ -f "$state/pool_dir.created" ]; then
			rmdir "$(cat "$state/pool_dir.created")" 2> /dev/null
			rm -f "$state/pool_dir.created"
		fi
	fi
	if [ -f "$state/net.defined" ]; then
		v net-destroy "$net" > /dev/null 2>&1
		v net-undefine "$net" > /dev/null 2>&1
		rm -f "$state/net.defined"
		say "removed network $net"
	fi
fi

# Daemons setup.sh started: libvirtd (its tini parent stops with it), then virtlogd.
stop_pid() {   # stop_pid NAME PID
	local name=$1 pid=$2
	kill -0 "$pid" 2> /dev/null || return 0
	kill -TERM "$pid" 2> /dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null
	say "stopped $name ($pid)"
}
if [ -f "$state/tini.pid" ]; then
	tini_pid=$(cat "$state/tini.pid")
	libvirtd_pid=$(pgrep -P "$tini_pid" -x libvirtd || true)
	[ -n "$libvirtd_pid" ] && stop_pid libvirtd "$libvirtd_pid"
	stop_pid tini "$tini_pid"
	rm -f "$state/tini.pid"
fi
if [ -f "$state/virtlogd.pid" ]; then
	stop_pid virtlogd "$(cat "$state/virtlogd.pid")"
	rm -f "$state/virtlogd.pid"
fi
exit 0
