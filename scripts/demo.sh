#!/bin/bash
# The main job, end to end: installs what is missing, builds prlkit, then plays a
# Parallels RAS session against prlkit-cpf on the simulator, the way RAS drives a Custom
# Provider: initialize, connect, list, get, "Create template", "Create host" (clone,
# poll the task, start, poll until powered on), then stop and delete the host.
# Every request and reply on the wire is printed (>>> sent, <<< received).
#
#   scripts/demo.sh [--keep]
#
# The simulator's state lives in a temporary directory (kept with --keep). Simulated
# operations take $PRLKIT_DEMO_SPEED times their realistic duration (default 0.25: a
# clone takes 2 s instead of 8, slow enough to see tasks run and VMs power on). Without prlkit-cpf in
# the build, it walks through the C samples instead (list, power cycle, snapshots, clone).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
keep=
case ${1:-} in
--keep) keep=1 ;;
"") ;;
*) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

speed=${PRLKIT_DEMO_SPEED:-0.25}
poll_interval=${PRLKIT_DEMO_POLL:-0.5}
max_polls=${PRLKIT_DEMO_MAX_POLLS:-240}

"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
builddir=$("$top/scripts/build.sh" --print-builddir)

work=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-demo.XXXXXX")
cleanup() {
	if [ -n "$keep" ]; then
		echo "demo: state kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

heading() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# ---- tiny JSON helpers (python3 is one of the dependencies) ----

# jget JSON PATH: the value at a dotted path (list indexes are numbers); strings plain,
# everything else as JSON; empty when absent.
jget() {
	python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    if isinstance(v, list) and k.isdigit() and int(k) < len(v):
        v = v[int(k)]
    elif isinstance(v, dict) and k in v:
        v = v[k]
    else:
        sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
# jstr TEXT: TEXT as a JSON string.
jstr() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
# jlist JSON PATH: the strings of a list, one per line.
jlist() {
	python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v.get(k, []) if isinstance(v, dict) else []
for s in v:
    print(s)' "$1" "$2"
}

# ---- the session with prlkit-cpf ----

reply=
# call METHOD [PARAMS]: send one request, read its reply into $reply, print both.
# A reply with an "error" member stops the demo.
call() {
	send "$@"
	printf '>>> %s\n<<< %s\n' "$request" "$reply"
	if [ -n "$(jget "$reply" error)" ]; then
		die "$1 failed: $(jget "$reply" error.message)"
	fi
}
# send METHOD [PARAMS]: like call, silent, errors left to the caller.
send() {
	local params=${2:-}
	[ -n "$params" ] || params='{}'
	request="{\"method\":\"$1\",\"params\":$params}"
	printf '%s\n' "$request" >&"${CPF[1]}"
	IFS= read -r -t 120 reply <&"${CPF[0]}" || die "no reply to $1 within 120 s"
}

# poll_task TASK_ID: tasks/get until the task is no longer running.
poll_task() {
	local n=0 state
	while :; do
		send tasks/get "{\"id\":$(jstr "$1")}"
		state=$(jget "$reply" result.state)
		[ "$state" = running ] || break
		n=$((n + 1))
		[ "$n" -lt "$max_polls" ] || die "task $1 still running after $n polls"
		printf '    tasks/get: running (poll %d)\n' "$n"
		sleep "$poll_interval"
	done
	printf '>>> %s\n<<< %s\n' "$request" "$reply"
	[ "$state" = completed ] || die "task failed: $(jget "$reply" result.error.message)"
}

# poll_guest ID STATE: guests/get until the guest reaches STATE, printing each change.
poll_guest() {
	local n=0 state last=
	while :; do
		send guests/get "{\"id\":$(jstr "$1")}"
		[ -z "$(jget "$reply" error)" ] || die "guests/get failed: $(jget "$reply" error.message)"
		state=$(jget "$reply" result.state)
		if [ "$state" != "$last" ]; then
			printf '    guests/get: %s (power_state %s)\n' "$state" \
				"$(jget "$reply" result.power_state)"
			last=$state
		fi
		[ "$state" != "$2" ] || break
		n=$((n + 1))
		[ "$n" -lt "$max_polls" ] || die "guest $1 is still $state after $n polls"
		sleep "$poll_interval"
	done
	printf '>>> %s\n<<< %s\n' "$request" "$reply"
}

cpf_session() {
	local cpf=$1 caps guests id vm= snapshot= task clone cpf_pid n

	heading "Start prlkit-cpf as RAS does (stderr goes to $work/prlkit-cpf.log)"
	echo "$cpf --driver sim"
	coproc CPF { exec "$cpf" --driver sim 2>"$work/prlkit-cpf.log"; }
	cpf_pid=$CPF_PID

	heading "provider/initialize: what the provider can do"
	call provider/initialize
	caps=$(jget "$reply" result.capabilities)

	heading "provider/connect: the simulator, state in $work/sim, speed $speed"
	call provider/connect "{\"settings\":{\"driver\":\"sim\",\"state_dir\":$(jstr "$work/sim"),\"speed\":\"$speed\"}}"

	heading "guests/list, then guests/get for each"
	call guests/list
	guests=$(jlist "$reply" result.guests)
	[ -n "$guests" ] || die "the simulator has no guests"
	for id in $guests; do
		call guests/get "{\"id\":$(jstr "$id")}"
		if [ -z "$vm" ] && [ "$(jget "$reply" result.is_template)" = false ] &&
		   [ "$(jget "$reply" result.state)" = powered_off ]; then
			vm=$id
		fi
	done
	[ -n "$vm" ] || die "no powered-off VM to make a template of"

	# What RAS snapshots before converting depends on the advertised template method.
	heading "Create template from $vm (template method: $(jget "$caps" template_method))"
	if [ "$(jget "$caps" template_method)" = versioning ]; then
		snapshot=RAS_TEMPLATE_VERSION_1
	elif [ "$(jget "$caps" can_link_clones)" = true ]; then
		snapshot="RAS Template Snapshot"
	fi
	if [ -n "$snapshot" ]; then
		call guests/snapshots/create "{\"id\":$(jstr "$vm"),\"name\":$(jstr "$snapshot")}"
		poll_task "$(jget "$reply" result.task_id)"
	fi
	call guests/convert "{\"id\":$(jstr "$vm"),\"is_template\":true}"
	poll_task "$(jget "$reply" result.task_id)"
	call guests/get "{\"id\":$(jstr "$vm")}"
	[ "$(jget "$reply" result.is_template)" = true ] || die "$vm did not become a template"

	heading "Create host: clone the template${snapshot:+ at snapshot '$snapshot'}"
	call guests/clone "{\"id\":$(jstr "$vm"),\"name\":\"ras-demo-host-01\",\"snapshot\":$(jstr "$snapshot")}"
	task=$(jget "$reply" result.task_id)
	poll_task "$task"
	clone=$(jget "$reply" result.output.clone_id)
	[ -n "$clone" ] || die "the clone task completed without output.clone_id"

	heading "Start the host $clone and poll until it is powered on"
	call guests/control "{\"id\":$(jstr "$clone"),\"control\":\"start\"}"
	poll_guest "$clone" powered_on
	# The guest reports its addresses a little after it has booted.
	n=0
	while [ "$(jget "$reply" result.ip_addresses)" = "[]" ]; do
		n=$((n + 1))
		[ "$n" -lt "$max_polls" ] || die "no IP address after $n polls"
		printf '    guests/get: no IP address yet (poll %d)\n' "$n"
		sleep "$poll_interval"
		send guests/get "{\"id\":$(jstr "$clone")}"
	done
	printf '>>> %s\n<<< %s\n' "$request" "$reply"
	echo "    IP addresses: $(jget "$reply" result.ip_addresses)"

	heading "Stop the host, poll until powered off, delete it"
	call guests/control "{\"id\":$(jstr "$clone"),\"control\":\"stop\"}"
	poll_guest "$clone" powered_off
	call guests/control "{\"id\":$(jstr "$clone"),\"control\":\"delete\"}"
	# The platform accepted the deletion; the guest disappears once it is done.
	n=0
	while send guests/list && jlist "$reply" result.guests | grep -qxF "$clone"; do
		n=$((n + 1))
		[ "$n" -lt "$max_polls" ] || die "the deleted host is still listed after $n polls"
		printf '    guests/list: %s still listed (poll %d)\n' "$clone" "$n"
		sleep "$poll_interval"
	done
	printf '>>> %s\n<<< %s\n' "$request" "$reply"
	echo "    $clone is gone"

	heading "provider/disconnect, then end of input: prlkit-cpf exits"
	call provider/disconnect
	exec {CPF[1]}>&-
	wait "$cpf_pid" || die "prlkit-cpf exited with status $?"
	echo "    prlkit-cpf exited with status 0"
}

# ---- without prlkit-cpf: the C samples ----

samples_walkthrough() {
	local s
	export PRLKIT_DEFAULT_URI="sim://$work/sim?speed=$speed"
	for s in list-vms power-cycle snapshots clone list-vms; do
		heading "samples/$s (PRLKIT_DEFAULT_URI=$PRLKIT_DEFAULT_URI)"
		"$builddir/samples/$s" || die "samples/$s failed"
	done
}

cpf=
for c in "$builddir/prlkit-cpf" "$builddir/src/cpf/prlkit-cpf"; do
	if [ -x "$c" ]; then cpf=$c; break; fi
done
if [ -n "$cpf" ]; then
	cpf_session "$cpf"
else
	heading "prlkit-cpf is not built yet: walking through the C samples instead"
	samples_walkthrough
fi
heading "demo: done"
