#!/bin/sh
# Installs the built tree into a temporary DESTDIR and builds a small SDK-style program
# against it the way a user would: `pkg-config --cflags --libs prlkit`, with both
# #include "Parallels.h" and #include <prlkit/Parallels.h>. Then runs it against this
# test run's simulator. Speaks TAP.
set -u

: "${top_builddir:?run by make check (top_builddir is not set)}"
: "${PRLKIT_DEFAULT_URI:?run by make check (PRLKIT_DEFAULT_URI is not set)}"

# CC, SANITIZER_FLAGS, PKG_CONFIG, MAKE_PROGRAM, prefix, libdir of this build.
. "$top_builddir/samples/build-env.sh"

tmp=$(mktemp -d "${PRLKIT_TEST_TMPDIR:-${TMPDIR:-/tmp}}/pkgconfig.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/dest"

echo "1..5"

# This runs inside `make check`: do not inherit its jobserver or its flags.
unset MAKEFLAGS MFLAGS MAKELEVEL
if (cd "$top_builddir" && $MAKE_PROGRAM install DESTDIR="$dest") > "$tmp/install.log" 2>&1 \
   && [ -f "$dest$libdir/pkgconfig/prlkit.pc" ]; then
	echo "ok 1 - make install DESTDIR=... installs the library, headers and prlkit.pc"
else
	sed 's/^/# /' "$tmp/install.log" | tail -n 40
	echo "not ok 1 - make install DESTDIR=... installs the library, headers and prlkit.pc"
	for i in 2 3 4 5; do echo "not ok $i - # SKIP nothing installed"; done
	exit 1
fi

# The .pc file names the final prefix; the sysroot variable maps it into DESTDIR.
PKG_CONFIG_PATH="$dest$libdir/pkgconfig"
PKG_CONFIG_SYSROOT_DIR="$dest"
PKG_CONFIG_LIBDIR="$dest$libdir/pkgconfig"
# Keep -L/-I even for a /usr prefix, so they point into DESTDIR.
PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
export PKG_CONFIG_ALLOW_SYSTEM_LIBS PKG_CONFIG_ALLOW_SYSTEM_CFLAGS
if flags=$($PKG_CONFIG --cflags --libs prlkit 2>"$tmp/pkg-config.err"); then
	echo "# pkg-config --cflags --libs prlkit: $flags"
	echo "ok 2 - pkg-config --cflags --libs prlkit"
else
	sed 's/^/# /' "$tmp/pkg-config.err"
	echo "not ok 2 - pkg-config --cflags --libs prlkit"
	for i in 3 4 5; do echo "not ok $i - # SKIP no pkg-config flags"; done
	exit 1
fi

# Two translation units, one per include style, as SDK programs are written.
cat > "$tmp/login.c" <<'EOF'
#include "Parallels.h"

PRL_RESULT count_vms(PRL_UINT32 *pnCount);

PRL_RESULT count_vms(PRL_UINT32 *pnCount)
{
	PRL_HANDLE hServer = PRL_INVALID_HANDLE, hJob, hResult = PRL_INVALID_HANDLE;
	PRL_RESULT ret, rc = PRL_ERR_FAILURE;

	ret = PrlSrv_Create(&hServer);
	if (PRL_FAILED(ret))
		return ret;
	hJob = PrlSrv_LoginLocal(hServer, "", 0, PSL_NORMAL_SECURITY);
	ret = PrlJob_Wait(hJob, 60000);
	if (PRL_SUCCEEDED(ret))
		ret = PrlJob_GetRetCode(hJob, &rc);
	PrlHandle_Free(hJob);
	if (PRL_SUCCEEDED(ret) && PRL_SUCCEEDED(rc)) {
		hJob = PrlSrv_GetVmList(hServer);
		ret = PrlJob_Wait(hJob, 60000);
		if (PRL_SUCCEEDED(ret))
			ret = PrlJob_GetRetCode(hJob, &rc);
		if (PRL_SUCCEEDED(ret) && PRL_SUCCEEDED(rc))
			ret = PrlJob_GetResult(hJob, &hResult);
		if (PRL_SUCCEEDED(ret) && PRL_SUCCEEDED(rc))
			ret = PrlResult_GetParamsCount(hResult, pnCount);
		PrlHandle_Free(hResult);
		PrlHandle_Free(hJob);
		hJob = PrlSrv_Logoff(hServer);
		PrlJob_Wait(hJob, 60000);
		PrlHandle_Free(hJob);
	}
	PrlHandle_Free(hServer);
	return PRL_FAILED(ret) ? ret : rc;
}
EOF
cat > "$tmp/main.c" <<'EOF'
#include <stdio.h>
#include <prlkit/Parallels.h>

PRL_RESULT count_vms(PRL_UINT32 *pnCount);

int main(void)
{
	PRL_UINT32 nVms = 0, nHandles = 0;
	PRL_RESULT ret;

	ret = PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0);
	if (PRL_FAILED(ret)) {
		printf("PrlApi_InitEx: %s\n", prl_result_to_string(ret));
		return 1;
	}
	ret = count_vms(&nVms);
	/* Deinit waits for the library's threads; then no handle may be left. */
	PrlApi_Deinit();
	PrlDbg_GetHandlesNum(&nHandles, PHT_ERROR);
	if (PRL_FAILED(ret)) {
		printf("count_vms: %s\n", prl_result_to_string(ret));
		return 1;
	}
	printf("VMs: %u, handles left: %u\n", nVms, nHandles);
	return nVms > 0 && nHandles == 0 ? 0 : 1;
}
EOF

# shellcheck disable=SC2086 # CC, SANITIZER_FLAGS and flags are word lists
if $CC $SANITIZER_FLAGS -Wall -Werror -o "$tmp/count-vms" "$tmp/main.c" "$tmp/login.c" \
	$flags > "$tmp/cc.log" 2>&1; then
	echo "ok 3 - an SDK-style program builds with the pkg-config flags (both include styles)"
else
	sed 's/^/# /' "$tmp/cc.log"
	echo "not ok 3 - an SDK-style program builds with the pkg-config flags (both include styles)"
	for i in 4 5; do echo "not ok $i - # SKIP not built"; done
	exit 1
fi

# Only the public symbols are visible to it.
if nm -D --defined-only "$dest$libdir/libprlkit.so" 2>/dev/null \
	| awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | grep -v -e '^Prl' -e '^PRLKIT_1\.0$' \
	> "$tmp/extra-symbols"; then
	sed 's/^/# exported and not Prl*: /' "$tmp/extra-symbols" | head -n 20
	echo "not ok 4 - the installed library exports only Prl* symbols"
else
	echo "ok 4 - the installed library exports only Prl* symbols"
fi

export PRLKIT_DEFAULT_URI
if LD_LIBRARY_PATH="$dest$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/count-vms" \
	> "$tmp/run.log" 2>&1; then
	sed 's/^/# /' "$tmp/run.log"
	echo "ok 5 - the program runs against the installed library and lists the simulator's VMs"
else
	sed 's/^/# /' "$tmp/run.log"
	echo "not ok 5 - the program runs against the installed library and lists the simulator's VMs"
	exit 1
fi
