#!/bin/sh
# rivals.sh: makes sure the rival allocators (and valgrind, for the instruction
# counts) are installed.  Missing Debian packages are installed with apt-get
# when running as root; otherwise each missing rival is reported as SKIP and
# its column shows n/a.
set -u

installed() {
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

if ! command -v dpkg >/dev/null 2>&1; then
	echo "bench: no dpkg here; rivals that fail to link show n/a" >&2
	exit 0
fi

specs="jemalloc:libjemalloc-dev tcmalloc:libgoogle-perftools-dev mimalloc:libmimalloc-dev callgrind:valgrind"
missing=""
for spec in $specs; do
	installed "${spec#*:}" || missing="$missing ${spec#*:}"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "bench: installing$missing"
		export DEBIAN_FRONTEND=noninteractive
		# shellcheck disable=SC2086
		apt-get install -y -q $missing >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing >/dev/null 2>&1; } ||
			echo "bench: apt-get install$missing failed"
	fi
	for spec in $specs; do
		installed "${spec#*:}" ||
			echo "SKIP ${spec%%:*}: package ${spec#*:} is not installed (need root to apt-get install it); its column shows n/a"
	done
fi
exit 0
