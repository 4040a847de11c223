#!/bin/sh
# libprlkit loads libvirt, libcurl and OpenSSL only when a connection needs them (dlopen),
# so a process that never uses them does not pay for relocating them at start-up. Asserts
# the library does not link them, and that prlkit-cpf still starts and answers. TAP.
lib="$top_builddir/.libs/libprlkit.so"
cpf="$top_builddir/prlkit-cpf"
if ! command -v readelf >/dev/null 2>&1; then
	echo "1..0 # SKIP readelf not found (binutils)"
	exit 0
fi
if ! test -f "$lib"; then
	echo "1..0 # SKIP $lib not built (static-only build)"
	exit 0
fi
echo "1..2"

needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
bad=$(echo "$needed" | grep -E '^lib(virt|curl|ssl|crypto)\.so' | tr '\n' ' ')
if test -n "$needed" && test -z "$bad"; then
	echo "ok 1 - libprlkit.so does not link libvirt, libcurl or OpenSSL"
else
	echo "not ok 1 - libprlkit.so links: ${bad:-<no NEEDED entries read>}"
fi

reply=$(echo '{"method":"provider/initialize"}' |
        "$cpf" --driver sim --log-level warning 2>/dev/null | head -n 1)
case "$reply" in
*'"capabilities"'*) echo "ok 2 - prlkit-cpf --driver sim answers provider/initialize" ;;
*) echo "not ok 2 - prlkit-cpf --driver sim answered: $reply" ;;
esac
