#!/usr/bin/env bash
# Runs every test program under DIR and prints the Go-style per-case lines,
# then the closing line "N passed, N failed".  A program that exits non-zero
# without reporting a failing case (a crash, a sanitizer report) counts as one
# failed case of its own.  Every program whose name contains "gc" then runs a
# second time with GORTDEBUG=gccheckmark=1 (added to any GORTDEBUG already
# set), so that the checkmark pass verifies every mark of the GC suite.
set -u
dir=${1:?usage: run.sh DIR}
pass=0; fail=0

# run_one BIN LABEL [GORTDEBUG value]: runs BIN, counts its cases.
run_one() {
	local bin=$1 label=$2 out rc p f
	echo "=== $label"
	out=$(mktemp)
	if [ $# -ge 3 ]; then
		GORTDEBUG=$3 "$bin" >"$out" 2>&1
	else
		"$bin" >"$out" 2>&1
	fi
	rc=$?
	cat "$out"
	p=$(grep -c '^--- PASS' "$out"); f=$(grep -c '^--- FAIL' "$out")
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "--- FAIL: $label (exit status $rc)"
		fail=$((fail + 1))
	fi
	rm -f "$out"
}

mapfile -t bins < <(find "$dir" -type f -perm -u+x | sort)
for bin in "${bins[@]}"; do
	run_one "$bin" "${bin#"$dir"/}"
done
checkmark=${GORTDEBUG:+$GORTDEBUG,}gccheckmark=1
for bin in "${bins[@]}"; do
	name=${bin#"$dir"/}
	case ${name##*/} in
	*gc*) run_one "$bin" "$name (gccheckmark)" "$checkmark" ;;
	esac
done
echo
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
