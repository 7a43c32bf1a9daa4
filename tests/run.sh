#!/usr/bin/env bash
# Runs every test program under DIR and prints the Go-style per-case lines,
# then the closing line "N passed, N failed".  A program that exits non-zero
# without reporting a failing case (a crash, a sanitizer report) counts as one
# failed case of its own.
set -u
dir=${1:?usage: run.sh DIR}
pass=0; fail=0
while IFS= read -r bin; do
	name=${bin#"$dir"/}
	echo "=== $name"
	out=$(mktemp)
	"$bin" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(grep -c '^--- PASS' "$out"); f=$(grep -c '^--- FAIL' "$out")
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "--- FAIL: $name (exit status $rc)"
		fail=$((fail + 1))
	fi
	rm -f "$out"
done < <(find "$dir" -type f -perm -u+x | sort)
echo
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
