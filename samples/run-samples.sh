#!/bin/sh
# Runs every sample against this test run's simulator (PRLKIT_DEFAULT_URI, a fresh state
# directory) and checks exit codes and the key lines of their output. Speaks TAP.
#
# Environment (set by make check): top_builddir, PRLKIT_DEFAULT_URI; optional
# PRLKIT_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99"), put in front of each sample.
# A sample that runs longer than $PRLKIT_SAMPLE_TIMEOUT seconds (default 120) fails.
set -u

: "${top_builddir:?run by make check (top_builddir is not set)}"
: "${PRLKIT_DEFAULT_URI:?run by make check (PRLKIT_DEFAULT_URI is not set)}"
export PRLKIT_DEFAULT_URI

limit=${PRLKIT_SAMPLE_TIMEOUT:-120}
n=0
failed=0
out=
rc=0

# run SAMPLE ARGS...: run one sample; its output (stdout and stderr) goes to $out, its
# exit status to $rc, and both to the log as TAP comments.
run() {
	prog="$top_builddir/samples/$1"
	shift
	if [ -n "${PRLKIT_TEST_WRAPPER:-}" ]; then
		# The samples are libtool wrapper scripts: let libtool put the wrapper in front
		# of the real binary.
		out=$(timeout -k 10 "$limit" "$top_builddir/libtool" --mode=execute \
			$PRLKIT_TEST_WRAPPER "$prog" "$@" 2>&1)
	else
		out=$(timeout -k 10 "$limit" "$prog" "$@" 2>&1)
	fi
	rc=$?
	printf '%s\n' "$out" | sed 's/^/# /'
	echo "# exit status: $rc"
	[ "$rc" -ne 124 ] || echo "# timed out after $limit s"
}

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# check DESCRIPTION EXPECTED_STATUS PATTERN...: the last run exited with EXPECTED_STATUS
# and its output has a line matching each (basic regex) PATTERN.
check() {
	desc=$1
	want=$2
	shift 2
	if [ "$rc" -ne "$want" ]; then
		echo "# expected exit status $want, got $rc"
		not_ok "$desc"
		return
	fi
	for pattern in "$@"; do
		if ! printf '%s\n' "$out" | grep -q -e "$pattern"; then
			echo "# no line matches: $pattern"
			not_ok "$desc"
			return
		fi
	done
	ok "$desc"
}

# count_vms: number of VMs in the last list-vms output
count_vms() {
	printf '%s\n' "$out" | grep -c '^    - '
}

echo "1..15"

run list-vms
check "list-vms lists the VMs with their state" 0 \
	'virtual machine(s):' '^    - .* id=.* state=' '^    - .* template ' 'all handles freed' \
	'list-vms: done'
vms_before=$(count_vms)

run power-cycle
check "power-cycle starts, pauses, suspends, resumes and stops a VM" 0 \
	'PrlVm_Start' 'state: running' 'state: stopped' 'power-cycle: done'

run snapshots
check "snapshots creates, lists, reverts to and deletes snapshots" 0 \
	"created" 'SavedStateItem' 'reverted' 'deleted' 'snapshots: done'

run clone
check "clone makes a full and a linked clone of a template and deletes them" 0 \
	"created 'sample-full-clone-" 'no clone left' 'clone: done'

run template
check "template turns a VM into a template and back" 0 \
	'is a template: no' 'template: done'

run events
check "events: the handler sees jobs and state changes while a thread works" 0 \
	'event: job ' 'worker: PrlVm_Stop done' 'events: done'

run task-id start
check "task-id start prints a task id" 0 '^TASK_ID=..*' 'task-id start: done'
task_id=$(printf '%s\n' "$out" | sed -n 's/^TASK_ID=//p')

run task-id status "$task_id"
check "task-id status checks the task from another process" 0 '    state: ' \
	'task-id status: done'

run task-id resolve "$task_id"
check "task-id resolve waits for the task from another process and deletes the clone" 0 \
	'finished' "the clone is 'task-id-clone-" 'deleted' 'task-id resolve: done'

# Again with simulated time, so that the clone is usually still running when another
# process attaches to it (what is asserted does not depend on that timing).
fast_uri=$PRLKIT_DEFAULT_URI
PRLKIT_DEFAULT_URI="${fast_uri%%\?*}?speed=0.05"
run task-id start
task_id=$(printf '%s\n' "$out" | sed -n 's/^TASK_ID=//p')
if [ -n "$task_id" ]; then
	run task-id resolve "$task_id"
fi
PRLKIT_DEFAULT_URI=$fast_uri
check "task-id: another process waits for a clone that takes simulated time" 0 \
	'finished' "the clone is 'task-id-clone-" 'deleted' 'task-id resolve: done'

run task-id resolve 'not-a-task-id'
check "task-id resolve rejects a garbage task id cleanly" 1 '^ERROR: ' 'all handles freed'

run power-cycle no-such-vm-here
check "power-cycle names an unknown VM cleanly" 1 "no virtual machine named 'no-such-vm-here'"

run power-cycle --help
check "power-cycle prints its usage on a bad option" 2 '^usage: '

run template no-such-vm-here
check "template names an unknown VM cleanly" 1 "no virtual machine named"

run list-vms
vms_after=$(count_vms)
if [ "$rc" -eq 0 ] && [ "$vms_after" -eq "$vms_before" ]; then
	ok "the samples leave no VM behind ($vms_after VMs before and after)"
else
	echo "# $vms_before VMs before, $vms_after after (exit status $rc)"
	not_ok "the samples leave no VM behind"
fi

[ "$failed" -eq 0 ]
