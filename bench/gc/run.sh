#!/bin/bash
# gc/run.sh: the GC suite.  Builds the workloads (make -C bench/gc), runs
# each under every memory manager REPS times (interleaved), timing each run
# from outside with rtime (wall, user+sys CPU, peak RSS), checks that every
# variant prints the same stdout, and prints one table per workload:
# median wall and CPU time, median peak RSS, collections and pauses (from
# each program's RESULT line), and ratios against bdwgc and Go.
#
# Usage: gc/run.sh        env (defaults in brackets):
#   O=<dir with libgort.a>        [build/release of this repository]
#   REPS=<runs per variant>       [3]
#   BT_DEPTH=<binarytrees depth>  [20; the program's own default is 21]
#   VARIANTS="..."                [gort bdwgc glibc mimalloc go]; bdwgc-par
#                                 (bdwgc with its marker threads) is built too
#   WORKLOADS="..."               [binarytrees gcbench]
#   TIMEOUT=<s per run>           [150]
#   FORMAT=md                     tables in Markdown
#   KEEP_ENV=1                    keep GOGC, GORTGC, GC_* ... from the
#                                 environment (by default they are unset, so
#                                 that every collector runs at its defaults)
# A variant that is not built (gort before its library links), crashes,
# times out or names another memory manager than its own shows n/a and is
# not run again; one whose stdout differs from the others' is flagged.
# Raw figures go to $B/results.txt, failures and differences to $B/run.log.
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=$(realpath -m "${B:-$here/../build/gc}")
O=$(realpath -m "${O:-$here/../../build/release}")
REPS=${REPS:-3}
BT_DEPTH=${BT_DEPTH:-20}
VARIANTS=${VARIANTS:-"gort bdwgc glibc mimalloc go"}
WORKLOADS=${WORKLOADS:-"binarytrees gcbench"}
TIMEOUT=${TIMEOUT:-150}
FORMAT=${FORMAT:-text}

echo
echo "== GC suite: gort's collector beside bdwgc, malloc/free (glibc, mimalloc) and Go"
mkdir -p "$B"
make -C "$here" -s --no-print-directory B="$B" O="$O" all
if [ ! -x "$B/rtime" ]; then
	echo "SKIP GC suite: the timing wrapper $B/rtime did not build"
	exit 0
fi

if [ -z "${KEEP_ENV:-}" ]; then
	unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GORTGC GORTMEMLIMIT GORTDEBUG GORTMAXPROCS \
		GC_MARKERS GC_NPROCS GC_INITIAL_HEAP_SIZE GC_MAXIMUM_HEAP_SIZE GC_FREE_SPACE_DIVISOR \
		GC_ENABLE_INCREMENTAL GC_DISABLE_INCREMENTAL GC_PRINT_STATS GC_DONT_GC GC_FULL_FREQUENCY \
		MIMALLOC_VERBOSE MIMALLOC_SHOW_STATS
fi

RES=$B/results.txt
LOG=$B/run.log
OUT=$B/out
: >"$RES"
: >"$LOG"
rm -rf "$OUT"
mkdir -p "$OUT"

args_of() {
	case $1 in
	binarytrees) echo "$BT_DEPTH" ;;
	*) echo "" ;;
	esac
}
title_of() {
	case $1 in
	binarytrees) echo "binarytrees $BT_DEPTH (stretch depth $((BT_DEPTH + 1)), long-lived depth $BT_DEPTH, trees of depth 4..$BT_DEPTH)" ;;
	gcbench) echo "gcbench (stretch depth 18, long-lived tree depth 16 + 500000 doubles, trees of depth 4..16)" ;;
	*) echo "$1" ;;
	esac
}

echo "   $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $REPS runs each, interleaved"
echo "   raw figures in $RES, failures in $LOG"

declare -A failed
# one_run WORKLOAD VARIANT REP: appends "workload variant rep wall cpu rss gcs med max".
one_run() {
	local w=$1 v=$2 r=$3 bin=$B/$2/$1 f=$OUT/$1.$2.$3 rc line
	if [ ! -x "$bin" ] || [ -n "${failed[$w.$v]:-}" ]; then
		return
	fi
	# shellcheck disable=SC2046
	timeout "$TIMEOUT" "$B/rtime" "$f.time" "$bin" $(args_of "$w") >"$f.out" 2>"$f.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		failed[$w.$v]=1
		if [ $rc -eq 124 ]; then
			echo "$w.$v run $r: timed out after $TIMEOUT s" >>"$LOG"
		else
			echo "$w.$v run $r: exit status $rc; stderr:" >>"$LOG"
			tail -n 5 "$f.err" | sed 's/^/    /' >>"$LOG"
		fi
		echo "    reproduce: $bin $(args_of "$w")" >>"$LOG"
		return
	fi
	if ! grep -qx "VARIANT $v" "$f.err"; then
		failed[$w.$v]=1
		echo "$w.$v run $r: ran as '$(grep -m1 '^VARIANT' "$f.err")', not $v" >>"$LOG"
		return
	fi
	line=$(grep -m1 '^RESULT ' "$f.err")
	if [ -z "$line" ] || [ ! -s "$f.time" ]; then
		failed[$w.$v]=1
		echo "$w.$v run $r: no RESULT line or no timing" >>"$LOG"
		return
	fi
	# RESULT gcs=N pause_med_us=X pause_max_us=Y; wall_s=.. cpu_s=.. user_s=.. sys_s=.. rss_kb=..
	# shellcheck disable=SC2086,SC2046
	set -- $line $(cat "$f.time")
	echo "$w $v $r ${5#wall_s=} ${6#cpu_s=} ${9#rss_kb=} ${2#gcs=} ${3#pause_med_us=} ${4#pause_max_us=}" >>"$RES"
}

for w in $WORKLOADS; do
	printf '   %-12s' "$w"
	for r in $(seq 1 "$REPS"); do
		for v in $VARIANTS; do
			one_run "$w" "$v" "$r"
		done
		printf '.'
	done
	echo
done

# Every run's stdout against one reference per workload: the first of
# these variants that ran.
declare -A wrong
for w in $WORKLOADS; do
	ref=""
	for v in glibc mimalloc bdwgc go bdwgc-par gort; do
		if [ -s "$OUT/$w.$v.1.out" ] && [ -z "${failed[$w.$v]:-}" ]; then
			ref=$OUT/$w.$v.1.out
			break
		fi
	done
	[ -n "$ref" ] || continue
	for v in $VARIANTS; do
		for r in $(seq 1 "$REPS"); do
			f=$OUT/$w.$v.$r.out
			if [ ! -f "$f" ] || [ -n "${failed[$w.$v]:-}" ]; then
				continue
			fi
			if ! cmp -s "$ref" "$f"; then
				wrong[$w.$v]=1
				{
					echo "$w.$v run $r: stdout differs from $(basename "$ref")"
					diff "$ref" "$f" | head -n 10 | sed 's/^/    /'
					echo "    reproduce: $B/$v/$w $(args_of "$w")"
				} >>"$LOG"
			fi
		done
	done
done

for w in $WORKLOADS; do
	wr=""
	for v in $VARIANTS; do
		[ -n "${wrong[$w.$v]:-}" ] && wr="$wr $v"
	done
	nf=""
	for v in $VARIANTS; do
		[ -n "${failed[$w.$v]:-}" ] && nf="$nf $v"
	done
	awk -v w="$w" -v title="$(title_of "$w")" -v variants="$VARIANTS" -v wrong="$wr" -v failed="$nf" \
		-v reps="$REPS" -v fmt="$FORMAT" '
	$1 == w {
		k = $2; c = ++n[k]
		wall[k, c] = $4; cpu[k, c] = $5; rss[k, c] = $6; gcs[k, c] = $7; pmed[k, c] = $8
		if (!(k in pmax) || $9 + 0 > pmax[k]) pmax[k] = $9 + 0
	}
	function median(A, k,   i, j, c, t, v) {
		c = n[k]
		for (i = 1; i <= c; i++) v[i] = A[k, i] + 0
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
	}
	function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f", a / b) : "n/a" }
	function row(cells, note,   i, line) {
		if (fmt == "md") {
			line = "|"
			for (i = 1; i <= ncol; i++) line = line " " (i == 1 ? cells[i] note : cells[i]) " |"
		} else {
			line = sprintf("%-10s", cells[1])
			for (i = 2; i <= ncol; i++) line = line sprintf(" %" width[i] "s", cells[i])
			line = line note
		}
		print line
	}
	END {
		nv = split(variants, V, " ")
		for (i = 1; i <= nv; i++) {
			k = V[i]
			if (n[k]) { MW[k] = median(wall, k); MC[k] = median(cpu, k) }
		}
		split("variant|wall s|CPU s|RSS MiB|GCs|pause med ms|pause max ms|wall/bdwgc|CPU/bdwgc|wall/go", H, "|")
		split("10 8 8 8 5 12 12 10 9 7", width, " ")
		ncol = 10
		print ""
		print title
		print "  median of " reps " runs: wall and CPU (user+sys) time, peak RSS, GCs, median pause; max pause: the longest of all runs"
		if (fmt == "md") {
			print ""
			row(H)
			line = "|"; for (i = 1; i <= ncol; i++) line = line (i == 1 ? "---|" : "---:|"); print line
		} else
			row(H)
		split(wrong, WR, " "); for (i in WR) isw[WR[i]] = 1
		for (i = 1; i <= nv; i++) {
			k = V[i]
			if (!n[k]) {
				C[1] = k; for (j = 2; j <= ncol; j++) C[j] = "n/a"
				row(C); continue
			}
			g = median(gcs, k)
			C[1] = k
			C[2] = sprintf("%.3f", MW[k]); C[3] = sprintf("%.3f", MC[k])
			C[4] = sprintf("%.1f", median(rss, k) / 1024)
			C[5] = sprintf("%d", g)
			C[6] = g > 0 ? sprintf("%.3f", median(pmed, k) / 1000) : "-"
			C[7] = g > 0 ? sprintf("%.3f", pmax[k] / 1000) : "-"
			C[8] = ratio(MW[k], MW["bdwgc"]); C[9] = ratio(MC[k], MC["bdwgc"])
			C[10] = ratio(MW[k], MW["go"])
			row(C, k in isw ? "  (WRONG OUTPUT)" : "")
		}
		if (wrong != "") print "  stdout differs from the other variants for:" wrong " (see run.log)"
		if (failed != "") print "  failed (crash, timeout or wrong memory manager):" failed " (see run.log)"
	}' "$RES"
done

if [ -s "$LOG" ]; then
	echo
	echo "some GC runs failed, were skipped or printed a different output; see $LOG"
fi
exit 0
