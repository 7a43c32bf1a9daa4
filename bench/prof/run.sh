#!/bin/bash
# prof/run.sh: what the heap profiler costs.  Runs allocation-heavy workloads
# with each allocator's heap profiler off and on, interleaved (REPS runs),
# and prints per workload the median wall time, the instructions per
# operation under callgrind, peak RSS, and each "on" row against the same
# allocator with profiling off.
#
#   gort      GORTDEBUG=memprofilerate=0 (off) / unset (its default: one
#             sample per 512 KiB, Go's) / =1 (every allocation, for scale)
#   jemalloc  MALLOC_CONF unset (off) / prof:true,lg_prof_sample:19 (one
#             sample per 512 KiB) / prof:true,lg_prof_sample:0 (every one)
#   tcmalloc  linked with -ltcmalloc (the full library): nothing (off) /
#             TCMALLOC_SAMPLE_PARAMETER=524288 (its sampler) / HEAPPROFILE
#             (gperftools' heap profiler: every allocation), with its default
#             stack unwinder (libunwind) and with TCMALLOC_STACKTRACE_METHOD=generic_fp
#   go        binarytrees only: runtime.MemProfileRate 0 / 524288 / 1
#             (prof/memprofile.go sets it from $MEMPROFILERATE)
#
# Workloads: ../small.c and ../churn.c (N malloc+free pairs / N churn steps),
# and ../gc/binarytrees (gort_new, or Go) at a modest depth.  Sampled rows run
# at the full N; the every-allocation rows, 10-1000x slower, at a smaller N
# with their own "off" rows, so that each ratio compares runs of one size.
#
# Usage: prof/run.sh      env (defaults in brackets):
#   B=<bench build dir>   [bench/build; `make -C bench prof-build` fills it]
#   REPS [5]  TIMEOUT [120 s per run]  FORMAT=md (Markdown tables)
#   WORKLOADS ["small churn binarytrees"]
#   SMALL_N [20000000]  CHURN_N [3000000]  BT_DEPTH [16]       sampled rows
#   EVERY_SMALL_N [500000]  EVERY_CHURN_N [200000]  EVERY_BT_DEPTH [12]
#   CALLGRIND=0 skips the instruction counts; CG_SMALL_N [1000000],
#   CG_CHURN_N [500000], CG_EVERY_SMALL_N [20000], CG_EVERY_CHURN_N [10000],
#   CG_BT_DEPTH [14], CG_EVERY_BT_DEPTH [10]
# A profiler that is not available (jemalloc built without --enable-prof, a
# missing library or binary) is reported as SKIP with the reason and its rows
# show n/a.  Raw figures go to $B/prof/results.txt, failures to $B/prof/run.log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=$(realpath -m "${B:-$here/../build}")
REPS=${REPS:-5}
TIMEOUT=${TIMEOUT:-120}
FORMAT=${FORMAT:-text}
WORKLOADS=${WORKLOADS:-"small churn binarytrees"}
CALLGRIND=${CALLGRIND:-1}
SMALL_N=${SMALL_N:-20000000}
CHURN_N=${CHURN_N:-3000000}
BT_DEPTH=${BT_DEPTH:-16}
EVERY_SMALL_N=${EVERY_SMALL_N:-500000}
EVERY_CHURN_N=${EVERY_CHURN_N:-200000}
EVERY_BT_DEPTH=${EVERY_BT_DEPTH:-12}
CG_SMALL_N=${CG_SMALL_N:-1000000}
CG_CHURN_N=${CG_CHURN_N:-500000}
CG_EVERY_SMALL_N=${CG_EVERY_SMALL_N:-20000}
CG_EVERY_CHURN_N=${CG_EVERY_CHURN_N:-10000}
CG_BT_DEPTH=${CG_BT_DEPTH:-14}
CG_EVERY_BT_DEPTH=${CG_EVERY_BT_DEPTH:-10}
CHURN_SLOTS=100000 # churn.c's SLOTS: its fills and final frees are pairs too

P=$B/prof
RES=$P/results.txt
LOG=$P/run.log
TMPD=$P/tmp
RTIME=$B/gc/rtime
mkdir -p "$P"
rm -rf "$TMPD"
mkdir -p "$TMPD"
: >"$RES"
: >"$LOG"

# Every profiler at its defaults unless a row sets it.
unset GORTDEBUG GORTHEAPPROFILE GORTGC GORTMAXPROCS GORTMEMLIMIT MALLOC_CONF \
	HEAPPROFILE HEAPCHECK HEAP_PROFILE_ALLOCATION_INTERVAL HEAP_PROFILE_INUSE_INTERVAL \
	HEAP_PROFILE_TIME_INTERVAL TCMALLOC_SAMPLE_PARAMETER TCMALLOC_STACKTRACE_METHOD \
	MEMPROFILERATE GOGC GOMEMLIMIT GODEBUG GOMAXPROCS || true

echo
echo "== heap profiler cost: gort's profiler off / default / every allocation, beside jemalloc prof,"
echo "   gperftools (tcmalloc's sampler and HEAPPROFILE) and Go's MemProfileRate"
echo "   $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $REPS runs each, interleaved, median"
echo "   raw figures in $RES, failures in $LOG"

# --- The rows.  "workload group alloc id": group s = sampled rows (full N),
# e = every-allocation rows (small N); id off is the baseline of its alloc
# and group.
ROWS=(
	"small s gort off" "small s gort def" "small s jemalloc off" "small s jemalloc def"
	"small s tcmalloc off" "small s tcmalloc smp"
	"small e gort off" "small e gort all" "small e jemalloc off" "small e jemalloc all"
	"small e tcmalloc off" "small e tcmalloc hp" "small e tcmalloc hpfp"
	"churn s gort off" "churn s gort def" "churn s jemalloc off" "churn s jemalloc def"
	"churn s tcmalloc off" "churn s tcmalloc smp"
	"churn e gort off" "churn e gort all" "churn e jemalloc off" "churn e jemalloc all"
	"churn e tcmalloc off" "churn e tcmalloc hp" "churn e tcmalloc hpfp"
	"binarytrees s gort off" "binarytrees s gort def" "binarytrees s go off" "binarytrees s go def"
	"binarytrees e gort off" "binarytrees e gort all" "binarytrees e go off" "binarytrees e go all"
)

# row_env ALLOC ID: the environment (VAR=value words) of a row.
row_env() {
	case $1.$2 in
	gort.off) echo "GORTDEBUG=memprofilerate=0" ;;
	gort.def) echo "" ;;
	gort.all) echo "GORTDEBUG=memprofilerate=1" ;;
	jemalloc.off | tcmalloc.off) echo "" ;;
	jemalloc.def) echo "MALLOC_CONF=prof:true,lg_prof_sample:19" ;;
	jemalloc.all) echo "MALLOC_CONF=prof:true,lg_prof_sample:0" ;;
	tcmalloc.smp) echo "TCMALLOC_SAMPLE_PARAMETER=524288" ;;
	tcmalloc.hp) echo "HEAPPROFILE=$TMPD/gperftools" ;;
	tcmalloc.hpfp) echo "HEAPPROFILE=$TMPD/gperftools TCMALLOC_STACKTRACE_METHOD=generic_fp" ;;
	go.off) echo "MEMPROFILERATE=0" ;;
	go.def) echo "MEMPROFILERATE=524288" ;;
	go.all) echo "MEMPROFILERATE=1" ;;
	*) echo "row_env: no row $1.$2" >&2; exit 2 ;;
	esac
}
row_label() {
	case $1.$2 in
	gort.off) echo "off (memprofilerate=0)" ;;
	gort.def) echo "default: sampled, 512 KiB" ;;
	gort.all) echo "every allocation (memprofilerate=1)" ;;
	jemalloc.off) echo "off (prof:false)" ;;
	jemalloc.def) echo "prof:true,lg_prof_sample:19 (sampled, 512 KiB)" ;;
	jemalloc.all) echo "prof:true,lg_prof_sample:0 (every allocation)" ;;
	tcmalloc.off) echo "off" ;;
	tcmalloc.smp) echo "TCMALLOC_SAMPLE_PARAMETER=524288 (sampled)" ;;
	tcmalloc.hp) echo "HEAPPROFILE (every allocation; libunwind)" ;;
	tcmalloc.hpfp) echo "HEAPPROFILE, TCMALLOC_STACKTRACE_METHOD=generic_fp" ;;
	go.off) echo "MemProfileRate=0" ;;
	go.def) echo "MemProfileRate=524288 (default)" ;;
	go.all) echo "MemProfileRate=1 (every allocation)" ;;
	esac
}
row_bin() {
	case $1.$2 in
	binarytrees.gort) echo "$B/gc/gort/binarytrees" ;;
	binarytrees.go) echo "$P/go/binarytrees" ;;
	*.tcmalloc) echo "$B/$1.tcmalloc_full" ;;
	*) echo "$B/$1.$2" ;;
	esac
}
# row_arg WORKLOAD GROUP [cg]: the count (or depth) a row runs with.
row_arg() {
	case $1.$2.${3:-} in
	small.s.) echo "$SMALL_N" ;;
	small.e.) echo "$EVERY_SMALL_N" ;;
	churn.s.) echo "$CHURN_N" ;;
	churn.e.) echo "$EVERY_CHURN_N" ;;
	binarytrees.s.) echo "$BT_DEPTH" ;;
	binarytrees.e.) echo "$EVERY_BT_DEPTH" ;;
	small.s.cg) echo "$CG_SMALL_N" ;;
	small.e.cg) echo "$CG_EVERY_SMALL_N" ;;
	churn.s.cg) echo "$CG_CHURN_N" ;;
	churn.e.cg) echo "$CG_EVERY_CHURN_N" ;;
	binarytrees.s.cg) echo "$CG_BT_DEPTH" ;;
	binarytrees.e.cg) echo "$CG_EVERY_BT_DEPTH" ;;
	esac
}

declare -A skip failed
skipped() { # skipped ALLOC ID: the reason, if this row's profiler is unavailable
	echo "${skip[$1.$2]:-${skip[$1]:-}}"
}
say_skip() { # say_skip KEY REASON
	skip[$1]=$2
	echo
	echo "   *** SKIP $1: $2"
	echo "SKIP $1: $2" >>"$LOG"
}

# --- What is there, and does each profiler really profile?  A short run with
# the profile written to a file, for each one that can write one.
for w in small churn; do
	for a in gort jemalloc tcmalloc; do
		bin=$(row_bin "$w" "$a")
		if [ ! -x "$bin" ] && [ -z "${skip[$a]:-}" ]; then
			say_skip "$a" "$bin is not built (make -C bench prof-build; for gort, make lib first)"
		fi
	done
done
[ -x "$B/gc/gort/binarytrees" ] || [ -n "${skip[gort]:-}" ] ||
	echo "   (gort's binarytrees is not built: $B/gc/gort/binarytrees; its rows show n/a)"
if [ ! -x "$P/go/binarytrees" ]; then
	say_skip go "$P/go/binarytrees is not built (golang-go missing, or the build failed: $B/prof-go-build.log)"
fi
if [ ! -x "$RTIME" ]; then
	say_skip binarytrees "the timing wrapper $RTIME is not built (make -C bench gc-build)"
fi

# check NAME EXPECTED-FILE-GLOB ENV... -- CMD...: runs CMD in TMPD and
# reports whether a file matching the glob appeared.
profile_written() {
	local glob=$1
	shift
	rm -rf "$TMPD/check"
	mkdir -p "$TMPD/check"
	(cd "$TMPD/check" && timeout "$TIMEOUT" env "$@") >/dev/null 2>"$TMPD/check.err" || return 1
	compgen -G "$TMPD/check/$glob" >/dev/null
}
if [ -z "${skip[gort]:-}" ] &&
	! profile_written 'gort.pb.gz' GORTHEAPPROFILE="$TMPD/check/gort.pb.gz" "$B/small.gort" 2000000; then
	say_skip gort.def "GORTHEAPPROFILE wrote no profile (stderr: $(head -c 300 "$TMPD/check.err"))"
	skip[gort.all]=${skip[gort.def]}
fi
if [ -z "${skip[jemalloc]:-}" ] &&
	! profile_written 'jeprof.*.heap' MALLOC_CONF="prof:true,prof_final:true,prof_prefix:$TMPD/check/jeprof" \
		"$B/small.jemalloc" 2000000; then
	say_skip jemalloc.def "MALLOC_CONF=prof:true wrote no profile: libjemalloc is probably built without --enable-prof (stderr: $(head -c 300 "$TMPD/check.err"))"
	skip[jemalloc.all]=${skip[jemalloc.def]}
fi
if [ -z "${skip[tcmalloc]:-}" ] &&
	! profile_written 'gperftools.*.heap' HEAPPROFILE="$TMPD/check/gperftools" "$B/small.tcmalloc_full" 200000; then
	say_skip tcmalloc.hp "HEAPPROFILE wrote no profile: is $B/small.tcmalloc_full linked with the full -ltcmalloc? (stderr: $(head -c 300 "$TMPD/check.err"))"
	skip[tcmalloc.hpfp]=${skip[tcmalloc.hp]}
fi

# --- Timed runs.  one_run WORKLOAD GROUP ALLOC ID REP appends
# "workload group alloc id rep wall cpu rss" to RES, or logs why not.
one_run() {
	local w=$1 g=$2 a=$3 id=$4 r=$5 bin arg out rc t cpu rss got
	local k=$w.$g.$a.$id
	if [ -n "$(skipped "$a" "$id")" ] || [ -n "${skip[$w]:-}" ] || [ -n "${failed[$k]:-}" ]; then
		return 0
	fi
	bin=$(row_bin "$w" "$a")
	arg=$(row_arg "$w" "$g")
	[ -x "$bin" ] || return 0
	rm -f "$TMPD"/gperftools.*
	# shellcheck disable=SC2046
	if [ "$w" = binarytrees ]; then
		rc=0
		(cd "$TMPD" && timeout "$TIMEOUT" env $(row_env "$a" "$id") "$RTIME" "$TMPD/rt" "$bin" "$arg") \
			>/dev/null 2>"$TMPD/err" || rc=$?
		out=$(cat "$TMPD/rt" 2>/dev/null || true)
	else
		rc=0
		out=$(cd "$TMPD" && timeout "$TIMEOUT" env $(row_env "$a" "$id") "$bin" "$arg" 2>"$TMPD/err") || rc=$?
	fi
	if [ $rc -ne 0 ]; then
		failed[$k]=1
		{
			if [ $rc -eq 124 ]; then
				echo "$k run $r: timed out after $TIMEOUT s"
			else
				echo "$k run $r: exit status $rc; stderr:"
				tail -n 5 "$TMPD/err" | sed 's/^/    /'
			fi
			echo "    reproduce: (cd /tmp && env $(row_env "$a" "$id") $bin $arg)"
		} >>"$LOG"
		return 0
	fi
	# shellcheck disable=SC2086
	set -- $out
	if [ "$w" = binarytrees ]; then
		# wall_s=.. cpu_s=.. user_s=.. sys_s=.. rss_kb=..
		t=${1#wall_s=} cpu=${2#cpu_s=} rss=${5#rss_kb=}
		got=$(sed -n 's/^VARIANT //p' "$TMPD/err" | head -n 1)
	else
		# small time_s=.. rss_kb=.. alloc=..
		t=${2#time_s=} cpu=$t rss=${3#rss_kb=} got=${4#alloc=}
	fi
	if [ "$got" != "$a" ] || [ -z "$t" ]; then
		failed[$k]=1
		echo "$k run $r: ran with '$got', not $a, or printed no time: $out" >>"$LOG"
		return 0
	fi
	echo "$w $g $a $id $r $t $cpu $rss" >>"$RES"
}

echo
for w in $WORKLOADS; do
	printf '   %-12s' "$w"
	for r in $(seq 1 "$REPS"); do
		# every other round in reverse order: "on" runs do not always follow "off" ones
		order=("${ROWS[@]}")
		if [ $((r % 2)) -eq 0 ]; then
			order=()
			for ((i = ${#ROWS[@]} - 1; i >= 0; i--)); do order+=("${ROWS[i]}"); done
		fi
		for row in "${order[@]}"; do
			# shellcheck disable=SC2086
			set -- $row
			[ "$1" = "$w" ] || continue
			one_run "$1" "$2" "$3" "$4" "$r"
		done
		printf '.'
	done
	echo
done

# --- Instructions under callgrind: small and churn per operation,
# (I(2N) - I(N)) / N, so that start-up and exit cancel; binarytrees (gort
# only: Go does not run under valgrind) for the whole run, in millions.
# gort's scavenger is off for these runs so that its thread adds no noise.
CGRES=$P/callgrind.txt
: >"$CGRES"
collected() { # collected ALLOC ID BIN ARG: instructions, or nothing
	local e
	e=$(row_env "$1" "$2")
	if [ "$1" = gort ]; then
		case $e in
		GORTDEBUG=*) e="GORTDEBUG=scavenger=0,${e#GORTDEBUG=}" ;;
		*) e="GORTDEBUG=scavenger=0 $e" ;;
		esac
	fi
	rm -f "$TMPD"/gperftools.*
	# shellcheck disable=SC2086
	(cd "$TMPD" && timeout $((4 * TIMEOUT)) env $e valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$3" "$4" 2>&1 >/dev/null) | sed -n 's/^==[0-9]*== Collected : \([0-9]*\).*/\1/p' || true
}
if [ "$CALLGRIND" = 0 ]; then
	echo "   (instruction counts skipped: CALLGRIND=0)"
elif ! command -v valgrind >/dev/null 2>&1; then
	echo "   *** SKIP instruction counts: valgrind is not installed"
else
	printf '   %-12s' callgrind
	for row in "${ROWS[@]}"; do
		# shellcheck disable=SC2086
		set -- $row
		w=$1 g=$2 a=$3 id=$4
		case " $WORKLOADS " in *" $w "*) ;; *) continue ;; esac
		k=$w.$g.$a.$id
		bin=$(row_bin "$w" "$a")
		if [ "$a" = go ] || [ ! -x "$bin" ] || [ -n "$(skipped "$a" "$id")" ] || [ -n "${failed[$k]:-}" ]; then
			continue
		fi
		n=$(row_arg "$w" "$g" cg)
		if [ "$w" = binarytrees ]; then
			c1=$(collected "$a" "$id" "$bin" "$n")
			v=${c1:+$(awk -v c="$c1" 'BEGIN { printf "%.1f", c / 1e6 }')}
		else
			c1=$(collected "$a" "$id" "$bin" "$n")
			c2=$(collected "$a" "$id" "$bin" $((2 * n)))
			v=""
			if [ -n "$c1" ] && [ -n "$c2" ]; then
				# churn: each step is one pair (a free and a malloc)
				v=$(awk -v c1="$c1" -v c2="$c2" -v n="$n" 'BEGIN { printf "%.1f", (c2 - c1) / n }')
			fi
		fi
		if [ -n "$v" ]; then
			echo "$w $g $a $id $v" >>"$CGRES"
		else
			echo "$k: the callgrind run failed (N=$n)" >>"$LOG"
		fi
		printf '.'
	done
	echo
fi

# --- Tables.
labels=""
for a in gort jemalloc tcmalloc go; do
	for id in off def all smp hp hpfp; do
		l=$(row_label "$a" "$id")
		[ -n "$l" ] && labels="$labels$a.$id=$l|"
		s=$(skipped "$a" "$id")
		[ -n "$s" ] && labels="${labels}SKIP.$a.$id=1|"
	done
done
for w in $WORKLOADS; do
	rows=""
	for row in "${ROWS[@]}"; do
		# shellcheck disable=SC2086
		set -- $row
		[ "$1" = "$w" ] && rows="$rows$2.$3.$4 "
	done
	case $w in
	small) title="small: N malloc+free pairs of 16, 32, 64, 128 B in turn; ns and instructions per pair" ;;
	churn) title="churn: 100k live slots, N steps each freeing one and allocating 8 B..32 KiB; ns and instructions per pair (the 100k fills and final frees count as pairs; instructions: per step)" ;;
	binarytrees) title="binarytrees (gort_new / Go), whole program; instructions: gort, in millions, at depth $CG_BT_DEPTH (every-allocation rows: $CG_EVERY_BT_DEPTH)" ;;
	esac
	awk -v w="$w" -v rows="$rows" -v labels="$labels" -v fmt="$FORMAT" -v title="$title" \
		-v ns="$SMALL_N" -v ne="$EVERY_SMALL_N" -v cs="$CHURN_N" -v ce="$EVERY_CHURN_N" \
		-v bs="$BT_DEPTH" -v be="$EVERY_BT_DEPTH" -v slots="$CHURN_SLOTS" -v cgfile="$CGRES" '
	BEGIN {
		nl = split(labels, L, "|")
		for (i = 1; i <= nl; i++) { p = index(L[i], "="); if (p) LAB[substr(L[i], 1, p - 1)] = substr(L[i], p + 1) }
		while ((getline line < cgfile) > 0) {
			split(line, f, " ")
			if (f[1] == w) CG[f[2] "." f[3] "." f[4]] = f[5]
		}
	}
	$1 == w {
		k = $2 "." $3 "." $4; c = ++n[k]; wall[k, c] = $6; cpu[k, c] = $7; rss[k, c] = $8
		WR[k, $5] = $6; CR[k, $5] = $7; if ($5 > maxrep) maxrep = $5
	}
	# The median over rounds of (this run / the off run of the same round):
	# both ran seconds apart, so a change in the machine s load between
	# rounds cancels.
	function pratio(A, k, b,   r, c, v, i, j, t) {
		c = 0
		for (r = 1; r <= maxrep; r++)
			if (((k, r) in A) && ((b, r) in A) && A[b, r] > 0) v[++c] = A[k, r] / A[b, r]
		if (!c) return "n/a"
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		t = c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
		return ratio(t, 1)
	}
	function median(A, k, R,   i, j, c, t, v, r) {
		c = n[k]
		for (i = 1; i <= c; i++) { v[i] = A[k, i] + 0; r[i] = rss[k, i] + 0 }
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && v[j-1] > v[j]; j--) {
				t = v[j]; v[j] = v[j-1]; v[j-1] = t; t = r[j]; r[j] = r[j-1]; r[j-1] = t
			}
		R[k] = r[int((c + 1) / 2)]
		return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
	}
	function ratio(a, b) {
		if (a == "" || b == "" || b <= 0) return "n/a"
		return sprintf(a / b < 2 ? "%.3f" : a / b < 100 ? "%.1f" : "%.0f", a / b)
	}
	function out(cells, nc,   i, line) {
		if (fmt == "md") {
			line = "|"
			for (i = 1; i <= nc; i++) line = line " " cells[i] " |"
		} else {
			line = sprintf("%-9s %-58s", cells[1], cells[2])
			for (i = 3; i <= nc; i++) line = line sprintf(" %9s", cells[i])
		}
		print line
	}
	END {
		nr = split(rows, K, " ")
		for (i = 1; i <= nr; i++) { k = K[i]; if (n[k]) { MW[k] = median(wall, k, MR); MC[k] = median(cpu, k, MRC) } }
		print ""
		print (fmt == "md" ? "**" title "**" : title)
		if (w == "binarytrees")
			nc = split("alloc|profiler|depth|wall s|wall/off|CPU s|CPU/off|instr M|instr/off|RSS MiB", H, "|")
		else
			nc = split("alloc|profiler|N|wall s|ns/pair|wall/off|instr/pair|instr/off|RSS MiB", H, "|")
		out(H, nc)
		if (fmt == "md") { for (i = 1; i <= nc; i++) S[i] = (i <= 2 ? "---" : "---:"); out(S, nc) }
		for (i = 1; i <= nr; i++) {
			k = K[i]; split(k, q, "."); g = q[1]; a = q[2]; id = q[3]
			base = g "." a ".off"
			if (w == "binarytrees") N = (g == "s" ? bs : be)
			else if (w == "small") N = (g == "s" ? ns : ne)
			else N = (g == "s" ? cs : ce)
			cell[1] = a; cell[2] = LAB[a "." id]
			cell[3] = (w == "binarytrees") ? N : (N >= 1e6 ? sprintf("%gM", N / 1e6) : sprintf("%gk", N / 1e3))
			if (("SKIP." a "." id) in LAB) { cell[2] = cell[2] " SKIPPED" }
			t = (k in MW) ? MW[k] : ""
			ic = (k in CG) ? CG[k] : ""; ib = (base in CG) ? CG[base] : ""
			cell[4] = t == "" ? "n/a" : sprintf("%.3f", t)
			if (w == "binarytrees") {
				cell[5] = pratio(WR, k, base)
				cell[6] = (k in MC) ? sprintf("%.3f", MC[k]) : "n/a"
				cell[7] = pratio(CR, k, base)
			} else {
				pairs = (w == "churn") ? N + slots : N
				cell[5] = t == "" ? "n/a" : sprintf("%.1f", t * 1e9 / pairs)
				cell[6] = pratio(WR, k, base)
			}
			if (w == "binarytrees") { cell[8] = ic == "" ? "n/a" : ic; cell[9] = ratio(ic, ib); cell[10] = (k in MR) ? sprintf("%.1f", MR[k] / 1024) : "n/a" }
			else { cell[7] = ic == "" ? "n/a" : ic; cell[8] = ratio(ic, ib); cell[9] = (k in MR) ? sprintf("%.1f", MR[k] / 1024) : "n/a" }
			if (id == "off" && i > 1 && fmt != "md" && g != prevg) print ""
			prevg = g
			out(cell, nc)
		}
	}' "$RES"
done

echo
echo "wall/off, CPU/off: the median over rounds of the run's time / the off run's of the same round;"
echo "instr/off: instructions against off.  Each against the same allocator with profiling off, same N."
echo "Sampled rows run at the full N, every-allocation rows at the smaller N with their own off rows."
if [ -s "$LOG" ]; then
	echo
	echo "some rows failed or were skipped; see $LOG"
fi
exit 0
