#!/usr/bin/env bash
# malloc/run.sh: the allocator workloads of bench/malloc (and two real
# programs, python3 and sqlite3) under glibc, jemalloc, tcmalloc, mimalloc
# and gort's libgort-malloc.so, each chosen by LD_PRELOAD into the same
# binary (glibc: nothing preloaded).  Every workload x allocator runs REPS
# times, interleaved (each round in the other order), through measure (wall
# time, CPU, peak RSS from wait4).  A run must exit 0 and print what glibc's
# run printed (the workloads' checksums; the programs' whole output).
# Prints two tables, median wall time and median peak RSS, with gort/x
# ratios and geometric means, and the issue 5 targets; then how soon each
# allocator gives 512 MiB back once it is freed, while the program sleeps
# or computes (memreturn.c, one run each)
# and how it grows a 256 MiB buffer by realloc (bufgrow.c).
#
# Usage: malloc/run.sh          env (defaults in brackets):
#   REPS=<runs each>            [3]
#   ALLOCS="..."                [gort glibc jemalloc tcmalloc mimalloc]
#   WORKLOADS="..."             [larson prodcons cscratch livechurn realloc
#                                mixed large python3 sqlite3]
#   TIMEOUT=<s per run>         [30]
#   FORMAT=md                   Markdown tables
#   O=<dir of libgort-malloc.so>  [build/release of this repository]
#   GORT_SO, JEMALLOC_SO, TCMALLOC_SO, MIMALLOC_SO=<path>: the library to
#                               preload (otherwise found with ldconfig -p and
#                               in the multiarch library directories)
#   PYTHON=<python3 binary>     [/usr/bin/python3, else python3 on PATH]
#   B=<build dir>               [bench/build/malloc]; NO_BUILD=1 skips make
#   MEMRETURN=0                 skip the memory-return table (~25 s)
#   BUFGROW=0                   skip the buffer-growth table (~10 s)
#   KEEP_ENV=1                  keep MALLOC_CONF, GORTDEBUG, MIMALLOC_*, ...
#                               (unset by default: every allocator at its
#                               defaults)
# An allocator whose library is missing shows n/a.  A run that fails (exit
# status not 0, a crash, a time-out) is left out of the figures and its cell
# is marked "*" (a pair that fails twice is not run again; with no run left
# it shows n/a); a run whose output differs from glibc's is marked "!".
# Raw figures go to $B/results.txt, failures and differences to $B/run.log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
B=$(realpath -m "${B:-$here/../build/malloc}")
O=$(realpath -m "${O:-$repo/build/release}")
REPS=${REPS:-3}
TIMEOUT=${TIMEOUT:-30}
FORMAT=${FORMAT:-text}
ALLOCS=${ALLOCS:-"gort glibc jemalloc tcmalloc mimalloc"}
WORKLOADS=${WORKLOADS:-"larson prodcons cscratch livechurn realloc mixed large python3 sqlite3"}

echo
echo "== allocator workloads under LD_PRELOAD: gort beside glibc, jemalloc, tcmalloc, mimalloc"
if [ -z "${NO_BUILD:-}" ]; then
	make -C "$here/.." -s --no-print-directory MB="$B" malloc-build
fi
if [ ! -x "$B/measure" ]; then
	echo "*** SKIP malloc suite: $B/measure is not built"
	exit 0
fi

if [ -z "${KEEP_ENV:-}" ]; then
	unset MALLOC_CONF _RJEM_MALLOC_CONF GLIBC_TUNABLES MALLOC_ARENA_MAX MALLOC_TOP_PAD_ \
		MALLOC_TRIM_THRESHOLD_ MALLOC_MMAP_THRESHOLD_ MALLOC_CHECK_ MALLOC_PERTURB_ \
		GORTGC GORTMEMLIMIT GORTDEBUG GORTMAXPROCS GORTHEAPPROFILE HEAPPROFILE HEAPCHECK
	while read -r v; do
		unset "$v"
	done < <(compgen -e | grep -E '^(MIMALLOC_|TCMALLOC_)' || true)
fi
unset LD_PRELOAD

RES=$B/results.txt
LOG=$B/run.log
OUT=$B/out
: >"$RES"
: >"$LOG"
rm -rf "$OUT"
mkdir -p "$OUT"

# --- the libraries ---------------------------------------------------------

# probe LIB NAME: LIB preloads and is the malloc the workloads call.
probe() {
	local out
	out=$(LD_PRELOAD=$1 "$B/large" 1 1 2>/dev/null) || return 1
	[[ $out == *" alloc=$2 "* ]]
}

multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
[ -n "$multiarch" ] || multiarch="$(uname -m)-linux-gnu"
ldconfig_bin=$(command -v ldconfig || echo /sbin/ldconfig)

# find_lib NAME SONAME...: the first candidate that preloads as NAME.
find_lib() {
	local name=$1 s d c
	shift
	local cands=()
	for s in "$@"; do
		if [ -x "$ldconfig_bin" ]; then
			while read -r c; do
				cands+=("$c")
			done < <("$ldconfig_bin" -p 2>/dev/null | awk -v s="$s" '$1 == s { print $NF }')
		fi
		for d in "/usr/lib/$multiarch" "/lib/$multiarch" /usr/lib/x86_64-linux-gnu \
			/usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
			[ -e "$d/$s" ] && cands+=("$d/$s")
		done
	done
	for c in "${cands[@]}"; do
		if probe "$c" "$name"; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

declare -A LIB failed wrong
ran=""
for a in $ALLOCS; do
	lib=""
	case $a in
	glibc) ran="$ran $a"; LIB[$a]=""; continue ;;
	gort)
		lib=${GORT_SO:-$O/libgort-malloc.so}
		if [ -f "$lib" ]; then
			# A snapshot: the library may be rebuilt while the suite runs.
			cp "$lib" "$B/libgort-malloc.so"
			src=$lib
			lib=$B/libgort-malloc.so
			probe "$lib" gort || lib=""
		else
			lib=""
		fi
		;;
	jemalloc) lib=${JEMALLOC_SO:-$(find_lib jemalloc libjemalloc.so.2 libjemalloc.so || true)} ;;
	tcmalloc) lib=${TCMALLOC_SO:-$(find_lib tcmalloc libtcmalloc_minimal.so.4 libtcmalloc_minimal.so \
		libtcmalloc.so.4 || true)} ;;
	mimalloc) lib=${MIMALLOC_SO:-$(find_lib mimalloc libmimalloc.so.2 libmimalloc.so.3 libmimalloc.so || true)} ;;
	*) echo "*** unknown allocator $a (glibc, gort, jemalloc, tcmalloc, mimalloc)"; continue ;;
	esac
	if [ -z "$lib" ] || ! probe "$lib" "$a"; then
		echo "*** SKIP $a: no library that preloads as $a${lib:+ ($lib)}; its column shows n/a"
		continue
	fi
	LIB[$a]=$lib
	ran="$ran $a"
done
if [ -n "${LIB[gort]:-}" ]; then
	echo "   gort: $src (built $(stat -c '%y' "$src" | cut -d. -f1), copied to $B)"
	if [ -z "${GORT_SO:-}" ]; then
		echo "   this repository is at $(git -C "$repo" log -1 --format=%h 2>/dev/null || echo '?')," \
			"$(git -C "$repo" status --porcelain -- src include 2>/dev/null | wc -l) uncommitted changes in src/ and include/"
	fi
fi
for a in $ran; do
	[ "$a" = glibc ] || [ "$a" = gort ] && continue
	echo "   $a: ${LIB[$a]}"
done

# --- the workloads -----------------------------------------------------------

PY=${PYTHON:-}
if [ -z "$PY" ]; then
	if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=$(command -v python3 || true); fi
fi
SQLITE=$(command -v sqlite3 || true)

# cmd_of WORKLOAD: sets CMD (the command) and IN (its stdin); 1 if it cannot run.
cmd_of() {
	IN=/dev/null
	case $1 in
	python3)
		[ -n "$PY" ] || return 1
		CMD=("$PY" -s "$here/python.py")
		;;
	sqlite3)
		[ -n "$SQLITE" ] || return 1
		CMD=("$SQLITE" -batch :memory:)
		IN=$here/sqlite.sql
		;;
	*)
		[ -x "$B/$1" ] || return 1
		CMD=("$B/$1")
		;;
	esac
}

todo=""
for w in $WORKLOADS; do
	if ! cmd_of "$w"; then
		case $w in
		python3) echo "*** SKIP python3: not installed (apt-get install python3); its row shows n/a" ;;
		sqlite3) echo "*** SKIP sqlite3: not installed (apt-get install sqlite3); its row shows n/a" ;;
		*) echo "*** SKIP $w: $B/$w is not built; its row shows n/a" ;;
		esac
		continue
	fi
	todo="$todo $w"
done

# The reference output of each workload: one untimed run under glibc (it
# also warms the page cache for the programs).
for w in $todo; do
	cmd_of "$w"
	rc=0
	PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$B/measure" -p '' -t "$TIMEOUT" -o /dev/null "${CMD[@]}" \
		<"$IN" >"$OUT/$w.ref" 2>"$OUT/$w.ref.err" || rc=$?
	if [ $rc -ne 0 ]; then
		echo "$w: the reference run under glibc failed (exit status $rc); compared against nothing" >>"$LOG"
		rm -f "$OUT/$w.ref"
	fi
	sed -i 's/ alloc=[^ ]*//' "$OUT/$w.ref" 2>/dev/null || true
done

# one_run WORKLOAD ALLOC REP: appends "workload alloc rep wall user sys rss_kb".
one_run() {
	local w=$1 a=$2 r=$3 f=$OUT/$1.$2.$3 rc=0 t
	[ "${failed[$w.$a]:-0}" -lt 2 ] || return 0
	cmd_of "$w"
	PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$B/measure" -p "${LIB[$a]}" -t "$TIMEOUT" -o "$f.time" \
		"${CMD[@]}" <"$IN" >"$f.out" 2>"$f.err" || rc=$?
	if [ $rc -ne 0 ]; then
		failed[$w.$a]=$((${failed[$w.$a]:-0} + 1))
		if [ $rc -eq 124 ]; then
			echo "$w.$a run $r: timed out after $TIMEOUT s" >>"$LOG"
		else
			echo "$w.$a run $r: exit status $rc; stderr:" >>"$LOG"
			tail -n 5 "$f.err" | sed 's/^/    /' >>"$LOG"
		fi
		echo "    reproduce: ${LIB[$a]:+LD_PRELOAD=${LIB[$a]} }PYTHONMALLOC=malloc PYTHONHASHSEED=0 ${CMD[*]} <$IN" >>"$LOG"
		return 0
	fi
	case $w in
	python3 | sqlite3) ;;
	*)
		if ! grep -q " alloc=$a " "$f.out"; then
			failed[$w.$a]=2
			echo "$w.$a run $r: ran with another malloc: $(head -c 200 "$f.out")" >>"$LOG"
			return 0
		fi
		;;
	esac
	if [ -f "$OUT/$w.ref" ] && ! sed 's/ alloc=[^ ]*//' "$f.out" | cmp -s - "$OUT/$w.ref"; then
		wrong[$w.$a]=1
		{
			echo "$w.$a run $r: output differs from glibc's"
			sed 's/ alloc=[^ ]*//' "$f.out" | diff "$OUT/$w.ref" - | head -n 6 | sed 's/^/    /' || true
			head -n 3 "$f.err" | sed 's/^/    stderr: /'
		} >>"$LOG"
	fi
	t=$(cat "$f.time")
	# wall_s=.. user_s=.. sys_s=.. rss_kb=..
	# shellcheck disable=SC2086
	set -- $t
	echo "$w $a $r ${1#wall_s=} ${2#user_s=} ${3#sys_s=} ${4#rss_kb=}" >>"$RES"
}

echo "   $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $REPS runs each, interleaved;" \
	"raw figures in $RES, failures in $LOG"
order=$ran
reverse=""
for a in $ran; do reverse="$a $reverse"; done
for r in $(seq 1 "$REPS"); do
	printf '   round %d/%d:' "$r" "$REPS"
	for w in $todo; do
		for a in $order; do
			one_run "$w" "$a" "$r"
		done
		printf ' %s' "$w"
	done
	echo
	if [ "$order" = "$ran" ]; then order=$reverse; else order=$ran; fi
done

flags=""
for k in "${!wrong[@]}"; do flags="$flags $k"; done
fails=""
for k in "${!failed[@]}"; do fails="$fails $k:${failed[$k]}"; done

awk -v workloads="$WORKLOADS" -v allocs="$ALLOCS" -v fmt="$FORMAT" -v wrong="$flags" \
	-v failed="$fails" -v reps="$REPS" '
	{ k = $1 SUBSEP $2; c = ++n[k]; T[k, c] = $4; M[k, c] = $7 / 1024 }
	function median(A, k,   i, j, c, t, v) {
		c = n[k]
		for (i = 1; i <= c; i++) v[i] = A[k, i] + 0
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
	}
	function row(cells, nc,   i, line) {
		if (fmt == "md") {
			line = "|"
			for (i = 1; i <= nc; i++) line = line " " cells[i] " |"
		} else {
			line = sprintf("%-10s", cells[1])
			for (i = 2; i <= nc; i++) line = line sprintf(" %9s", cells[i])
		}
		print line
	}
	# table(title, V, fmt): one row per workload, gort then each rival and gort/rival.
	function table(title, V, vf,   i, j, w, a, c, nc, g, cell, common, lg, cnt, line, sep) {
		print ""
		print title
		print ""
		nc = 0
		c[++nc] = "workload"
		if (has_gort) c[++nc] = "gort"
		for (j = 1; j <= nr; j++) { c[++nc] = R[j]; if (has_gort) c[++nc] = "gort/x" }
		row(c, nc)
		if (fmt == "md") {
			sep = "|---|"
			for (i = 2; i <= nc; i++) sep = sep "---:|"
			print sep
		}
		for (i = 1; i <= nw; i++) {
			w = W[i]
			nc = 0
			c[++nc] = w
			if (has_gort) c[++nc] = cellv(V, w, "gort", vf)
			for (j = 1; j <= nr; j++) {
				a = R[j]
				c[++nc] = cellv(V, w, a, vf)
				if (has_gort)
					c[++nc] = ((w, "gort") in V && (w, a) in V && V[w, a] > 0) ? \
						sprintf("%.2f", V[w, "gort"] / V[w, a]) : "n/a"
			}
			row(c, nc)
		}
		# Geometric means over the workloads where every allocator has a figure.
		common = 0
		for (j = 0; j <= nr; j++) lg[j] = 0
		for (i = 1; i <= nw; i++) {
			w = W[i]
			if (has_gort && !((w, "gort") in V)) continue
			for (j = 1; j <= nr; j++) if (!((w, R[j]) in V)) break
			if (j <= nr) continue
			common++
			if (has_gort) lg[0] += log(V[w, "gort"])
			for (j = 1; j <= nr; j++) lg[j] += log(V[w, R[j]])
		}
		nc = 0
		c[++nc] = common == nw ? "geomean" : sprintf("geomean (%d)", common)
		if (has_gort) c[++nc] = common ? sprintf(vf, exp(lg[0] / common)) : "n/a"
		for (j = 1; j <= nr; j++) {
			G[title, R[j]] = common ? exp(lg[j] / common) : 0
			c[++nc] = common ? sprintf(vf, G[title, R[j]]) : "n/a"
			if (has_gort) c[++nc] = common ? sprintf("%.2f", exp((lg[0] - lg[j]) / common)) : "n/a"
		}
		if (has_gort) G[title, "gort"] = common ? exp(lg[0] / common) : 0
		row(c, nc)
		if (common < nw)
			print "(geomean (" common "): over the " common " workloads where every allocator has a figure)"
	}
	function cellv(V, w, a, vf) {
		if (!((w, a) in V)) return "n/a"
		return sprintf(vf, V[w, a]) ((w "." a) in FAILED ? "*" : "") ((w "." a) in WR ? "!" : "")
	}
	END {
		nw = split(workloads, W, " ")
		na = split(allocs, A, " ")
		nr = 0
		for (i = 1; i <= na; i++) if (A[i] == "gort") has_gort = 1; else R[++nr] = A[i]
		split(wrong, tmp, " "); for (i in tmp) WR[tmp[i]] = 1
		split(failed, tmp, " "); for (i in tmp) { split(tmp[i], kv, ":"); FAILED[kv[1]] = kv[2] }
		for (i = 1; i <= nw; i++)
			for (j = 1; j <= na; j++) {
				k = W[i] SUBSEP A[j]
				if (n[k]) { MT[k] = median(T, k); MR[k] = median(M, k) }
			}
		tt = "Wall time (s), median of " reps " runs; gort/x = gort time / x time: below 1 means gort is faster"
		tr = "Peak RSS (MiB), median of " reps " runs; gort/x = gort RSS / x RSS: below 1 means gort uses less"
		table(tt, MT, "%.3f")
		table(tr, MR, "%.1f")
		if (failed != "") {
			printf "\n* failed runs (left out; see run.log):"
			for (k in FAILED) printf " %s (%d)", k, FAILED[k]
			print ""
		}
		if (wrong != "") print (failed != "" ? "" : "\n") "! output differs from glibc'"'"'s in some run:" wrong " (see run.log)"
		if (!has_gort || !G[tt, "gort"]) exit
		print ""
		print "Targets (issue 5), on the geometric means:"
		if (G[tt, "mimalloc"]) printf "  time <= 1.1x mimalloc:  %.3fx  %s\n", G[tt, "gort"] / G[tt, "mimalloc"], G[tt, "gort"] <= 1.1 * G[tt, "mimalloc"] ? "met" : "NOT MET"
		if (G[tt, "jemalloc"]) printf "  time < jemalloc:        %.3fx  %s\n", G[tt, "gort"] / G[tt, "jemalloc"], G[tt, "gort"] < G[tt, "jemalloc"] ? "met" : "NOT MET"
		if (G[tt, "glibc"]) printf "  time < glibc:           %.3fx  %s\n", G[tt, "gort"] / G[tt, "glibc"], G[tt, "gort"] < G[tt, "glibc"] ? "met" : "NOT MET"
		best = ""
		for (j = 1; j <= nr; j++) if (G[tr, R[j]] && (best == "" || G[tr, R[j]] < G[tr, best])) best = R[j]
		if (best != "") printf "  peak RSS <= 1.1x the best (%s): %.3fx  %s\n", best, G[tr, "gort"] / G[tr, best], G[tr, "gort"] <= 1.1 * G[tr, best] ? "met" : "NOT MET"
	}
' "$RES"

# extra_header FMT MDALIGN CELL...: the header of one of the small tables
# below, in Markdown (MDALIGN: its alignment row) or as text laid out by
# the printf format FMT; extra_row FMT CELL...: one of its rows.
extra_row() {
	local fmt=$1 line="|" c
	shift
	if [ "$FORMAT" = md ]; then
		for c in "$@"; do line="$line $c |"; done
		echo "$line"
	else
		printf "$fmt\n" "$@"
	fi
}
extra_header() {
	local fmt=$1 align=$2
	shift 2
	extra_row "$fmt" "$@"
	if [ "$FORMAT" = md ]; then echo "$align"; fi
}

# How soon freed memory goes back (memreturn.c): one run per mode and
# allocator, the four modes of an allocator side by side (they mostly sleep).
if [ "${MEMRETURN:-1}" != 0 ] && [ -x "$B/memreturn" ]; then
	echo
	echo "Memory return (memreturn): RSS (MiB) with 512 MiB allocated and written, right after freeing it all, and 0.1, 1 and 4 s later"
	echo
	mfmt='%-8s %-9s %6s %6s %6s %6s %6s'
	extra_header "$mfmt" '|---|---|---:|---:|---:|---:|---:|' mode allocator peak freed '0.1 s' '1 s' '4 s'
	for a in $ran; do
		for m in small xthread large huge; do
			LD_PRELOAD=${LIB[$a]} "$B/memreturn" "$m" >"$OUT/memreturn.$m.$a" 2>&1 &
		done
		wait
		# busy computes for its 4 s: alone, so that it has a core.
		LD_PRELOAD=${LIB[$a]} "$B/memreturn" busy >"$OUT/memreturn.busy.$a" 2>&1
	done
	for m in small busy xthread large huge; do
		for a in $ran; do
			line=$(cat "$OUT/memreturn.$m.$a")
			if [[ $line != "$m peak="* ]]; then
				echo "*** memreturn $m under $a: $line" >>"$LOG"
				continue
			fi
			set -- ${line//=/ }
			extra_row "$mfmt" "$m" "$a" "$3" "$5" "$7" "$9" "${11}"
		done
	done
fi

# A buffer grown by realloc to 256 MiB in 64 KiB steps (bufgrow.c): one
# run per allocator, wall time of the growth and the process's peak RSS.
if [ "${BUFGROW:-1}" != 0 ] && [ -x "$B/bufgrow" ]; then
	echo
	echo "Buffer growth (bufgrow): realloc to 256 MiB in 64 KiB steps, each written; one run each"
	echo
	bfmt='%-9s %8s %14s'
	extra_header "$bfmt" '|---|---:|---:|' allocator 'time (s)' 'peak RSS (MiB)'
	for a in $ran; do
		out=$("$B/measure" -p "${LIB[$a]}" -t 120 -o "$OUT/bufgrow.$a.m" "$B/bufgrow" 2>&1) || true
		t=${out#*wall_s=}
		t=${t%% *}
		r=$(sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p' "$OUT/bufgrow.$a.m" 2>/dev/null)
		if [[ $out != bufgrow\ wall_s=* ]] || [ -z "$r" ]; then
			echo "*** bufgrow under $a: $out" >>"$LOG"
			continue
		fi
		r=$(awk -v k="$r" 'BEGIN { printf "%.0f", k / 1024 }')
		extra_row "$bfmt" "$a" "$t" "$r"
	done
fi

if [ -s "$LOG" ]; then
	echo
	echo "some runs failed or printed other output; see $LOG"
fi
