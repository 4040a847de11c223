#!/bin/sh
# Runs one test program under the TAP driver: GTest programs get --tap; a
# PRLKIT_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99 ...") is put in front.
prog="$1"; shift
exec ${PRLKIT_TEST_WRAPPER} "$prog" --tap -k "$@"
