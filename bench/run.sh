#!/bin/bash
# run.sh: runs every workload under every allocator (REPS times, interleaved),
# takes the median wall time (and the peak RSS of that median run), prints
# time and RSS tables with gort/x ratios and their geometric means, then the
# instructions per small malloc+free pair under callgrind.
# Usage: run.sh [builddir]   env: REPS=3 TIMEOUT=30 PAIRS=1000000
# A binary that is missing, crashes, times out or turns out to run another
# malloc than its name says shows n/a, and is not run again.
set -u
B=${1:-build}
REPS=${REPS:-3}
TIMEOUT=${TIMEOUT:-30}
PAIRS=${PAIRS:-1000000}
WORKLOADS="small churn xthread large"
ALLOCS="gort glibc jemalloc tcmalloc mimalloc"
RES=$B/results.txt
LOG=$B/run.log
: >"$RES"
: >"$LOG"

echo
echo "== gort vs glibc, jemalloc, tcmalloc, mimalloc: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $REPS runs each, median wall time; raw lines in $RES, failures in $LOG"

declare -A failed
# one_run WORKLOAD ALLOC REP: appends "workload alloc rep time rss" or logs why not.
one_run() {
	local w=$1 a=$2 r=$3 bin=$B/$1.$2 out rc
	[ -x "$bin" ] && [ -z "${failed[$w.$a]:-}" ] || return
	out=$(timeout "$TIMEOUT" "$bin" 2>>"$LOG")
	rc=$?
	if [ $rc -ne 0 ]; then
		failed[$w.$a]=1
		if [ $rc -eq 124 ]; then
			echo "$w.$a run $r: timed out after $TIMEOUT s" >>"$LOG"
		else
			echo "$w.$a run $r: exit status $rc" >>"$LOG"
		fi
		return
	fi
	# shellcheck disable=SC2086
	set -- $out
	local t=${2#time_s=} rss=${3#rss_kb=} got=${4#alloc=}
	if [ "$1" != "$w" ] || [ "$got" != "$a" ]; then
		failed[$w.$a]=1
		echo "$w.$a run $r: unexpected output (malloc in use: $got): $out" >>"$LOG"
		return
	fi
	echo "$w $a $r $t $rss" >>"$RES"
}

for w in $WORKLOADS; do
	printf '   %-8s' "$w"
	for r in $(seq 1 "$REPS"); do
		for a in $ALLOCS; do
			one_run "$w" "$a" "$r"
		done
		printf '.'
	done
	echo
done

awk -v workloads="$WORKLOADS" -v allocs="$ALLOCS" '
	{ key = $1 SUBSEP $2; n[key]++; t[key, n[key]] = $4; m[key, n[key]] = $5 }
	function median(key,   i, j, c, tmp, tt, mm) {
		c = n[key]
		for (i = 1; i <= c; i++) { tt[i] = t[key, i]; mm[i] = m[key, i] }
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && tt[j-1] + 0 > tt[j] + 0; j--) {
				tmp = tt[j]; tt[j] = tt[j-1]; tt[j-1] = tmp
				tmp = mm[j]; mm[j] = mm[j-1]; mm[j-1] = tmp
			}
		j = int((c + 1) / 2)
		MT[key] = tt[j]; MR[key] = mm[j] / 1024
	}
	function table(title, unit, V, fmt,   i, j, w, a, g, r, lsum, lcnt, line) {
		print ""
		print title
		line = sprintf("%-10s %9s", "workload", "gort")
		for (j = 2; j <= na; j++) line = line sprintf(" %9s %7s", A[j], "gort/x")
		print line
		for (j = 2; j <= na; j++) { lsum[j] = 0; lcnt[j] = 0 }
		for (i = 1; i <= nw; i++) {
			w = W[i]
			g = ((w SUBSEP "gort") in V) ? V[w, "gort"] : ""
			line = sprintf("%-10s %9s", w, g == "" ? "n/a" : sprintf(fmt, g))
			for (j = 2; j <= na; j++) {
				a = A[j]
				if (!((w SUBSEP a) in V)) { line = line sprintf(" %9s %7s", "n/a", "n/a"); continue }
				r = (g != "" && V[w, a] > 0 && g > 0) ? g / V[w, a] : ""
				if (r != "") { lsum[j] += log(r); lcnt[j]++ }
				line = line sprintf(" %9s %7s", sprintf(fmt, V[w, a]), r == "" ? "n/a" : sprintf("%.2f", r))
			}
			print line
		}
		line = sprintf("%-10s %9s", "geomean", "")
		for (j = 2; j <= na; j++)
			line = line sprintf(" %9s %7s", "", lcnt[j] ? sprintf("%.2f", exp(lsum[j] / lcnt[j])) : "n/a")
		print line
	}
	END {
		nw = split(workloads, W, " "); na = split(allocs, A, " ")
		for (key in n) median(key)
		table("wall time (s), median of runs; gort/x = gort time / x time: below 1 means gort is faster", "s", MT, "%.3f")
		table("peak RSS (MiB) of the median run; gort/x = gort RSS / x RSS: below 1 means gort uses less", "MiB", MR, "%.1f")
	}
' "$RES"

# Instructions per malloc(32)+free pair: callgrind totals at N and 2N pairs,
# (C(2N) - C(N)) / N, so start-up and exit cost cancel.  gort's scavenger is
# turned off for these runs so that its thread does not add noise.
echo
echo "instructions per small malloc+free pair (malloc(32)+free; callgrind, (I(2N)-I(N))/N, N=$PAIRS;"
echo "the loop and the two calls, about 9 instructions, are included for every allocator)"
if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: valgrind is not installed"
	exit 0
fi
collected() {
	GORTDEBUG=scavenger=0 timeout $((2 * TIMEOUT)) valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$1" "$2" 2>&1 >/dev/null | sed -n 's/^==[0-9]*== Collected : \([0-9]*\).*/\1/p'
}
for a in $ALLOCS; do
	bin=$B/pair.$a
	if [ ! -x "$bin" ]; then
		printf '%-10s %8s\n' "$a" "n/a"
		continue
	fi
	if [ -n "${failed[small.$a]:-}" ]; then
		printf '%-10s %8s\n' "$a" "n/a"
		echo "pair.$a: not run, small.$a failed" >>"$LOG"
		continue
	fi
	c1=$(collected "$bin" "$PAIRS")
	c2=$(collected "$bin" $((2 * PAIRS)))
	if [ -z "$c1" ] || [ -z "$c2" ]; then
		echo "pair.$a: callgrind run failed" >>"$LOG"
		printf '%-10s %8s\n' "$a" "n/a"
		continue
	fi
	awk -v a="$a" -v c1="$c1" -v c2="$c2" -v n="$PAIRS" \
		'BEGIN { printf "%-10s %8.1f\n", a, (c2 - c1) / n }'
done
if [ -s "$LOG" ]; then
	echo
	echo "some runs failed or were skipped; see $LOG"
fi
