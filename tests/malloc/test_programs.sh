#!/usr/bin/env bash
# test_programs.sh: real programs under LD_PRELOAD=libgort-malloc.so behave
# exactly as under glibc's malloc (same output, same exit status), and a real
# program's heap profile opens in go tool pprof with function names, and the
# span walker (tools/spanwalk.c) reports on a real program.
# Installed by the Makefile as build/<variant>/tests/malloc/test_programs;
# the library is two levels up, the C++ test program in ../../progs.
# A program that is not installed is a loud SKIP (.ci/run installs them all).
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib=$(cd "$here/../.." && pwd)/libgort-malloc.so
progs=$(cd "$here/../.." && pwd)/progs
work=$(mktemp -d "${TMPDIR:-/tmp}/gort-programs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

pass() { echo "--- PASS: $1"; }
fail() { echo "--- FAIL: $1"; shift; for l in "$@"; do echo "    $l"; done; }
skip() { echo "--- SKIP: $1 ($2)"; }

# same NAME CMD...: runs CMD under glibc and under gort (in fresh scratch
# directories, as the commands may write files) and compares stdout and the
# exit status; stderr is compared too unless NOSTDERR is set.
same() {
	local name=$1
	shift
	local d rc_glibc rc_gort
	for d in glibc gort; do
		rm -rf "${work:?}/$d" && mkdir -p "$work/$d"
	done
	(cd "$work/glibc" && "$@" >out 2>err)
	rc_glibc=$?
	(cd "$work/gort" && LD_PRELOAD=$lib "$@" >out 2>err)
	rc_gort=$?
	if [ "$rc_glibc" != "$rc_gort" ]; then
		fail "$name" "exit status $rc_glibc under glibc, $rc_gort under gort" "$(head -c 600 "$work/gort/err")"
	elif ! cmp -s "$work/glibc/out" "$work/gort/out"; then
		fail "$name" "stdout differs:" "$(diff "$work/glibc/out" "$work/gort/out" | head -n 10)"
	elif [ -z "${NOSTDERR:-}" ] && ! cmp -s "$work/glibc/err" "$work/gort/err"; then
		fail "$name" "stderr differs:" "$(diff "$work/glibc/err" "$work/gort/err" | head -n 10)"
	elif [ ! -s "$work/gort/out" ]; then
		fail "$name" "no output to compare"
	else
		pass "$name ($(wc -c <"$work/gort/out") bytes of output, exit status $rc_gort)"
	fi
}

have() { command -v "$1" >/dev/null 2>&1; }

if [ ! -f "$lib" ]; then
	fail "libgort-malloc.so" "not found at $lib"
	exit 1
fi
if nm -D "$lib" 2>/dev/null | grep -q '__[at]san_'; then
	skip "programs under LD_PRELOAD" "a sanitizer build: the sanitizer replaces malloc itself"
	exit 0
fi
LD_PRELOAD=$lib true || { fail "preload" "LD_PRELOAD=$lib true failed"; exit 1; }

# python3: an allocation-heavy script (dicts, lists, strings, json, sorting).
cat >"$work/alloc.py" <<'PY'
import json, random, sys
random.seed(7)
d = {}
for i in range(200000):
    d["k%d" % i] = [i, str(i) * (i % 13), {"x": i * 0.5}]
for i in range(0, 200000, 3):
    del d["k%d" % i]
s = json.dumps(d, sort_keys=True)
back = json.loads(s)
words = sorted(("".join(random.choice("abcdefgh") for _ in range(random.randint(1, 40)))
                for _ in range(100000)), key=lambda w: (len(w), w))
print(len(d), len(s), len(back), words[0], words[-1], sum(map(len, words)))
sys.exit(3)
PY
if have python3; then same python3 python3 "$work/alloc.py"; else skip python3 "not installed: apt-get install python3"; fi

# sqlite3: a bulk insert in one transaction, an index, queries.
if have sqlite3; then
	same sqlite3 sqlite3 db.sqlite "
		create table t(id integer primary key, name text, v real);
		begin;
		with recursive c(x) as (select 1 union all select x + 1 from c where x < 300000)
		insert into t(name, v) select printf('name-%08d-%s', x, substr('abcdefghij', 1 + x % 10)), x * 1.5 from c;
		commit;
		create index tn on t(name);
		select count(*), sum(v), max(length(name)) from t;
		select name from t where name like 'name-0001234%' order by name;
		select substr(name, 15), count(*) from t group by 1 order by 1;
		delete from t where id % 3 = 0;
		vacuum;
		select count(*) from t;"
else
	skip sqlite3 "not installed: apt-get install sqlite3"
fi

# gcc: compiles a C file to assembly and to a program that runs.
cat >"$work/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char name[24]; };
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int main(void)
{
	struct node *head = NULL;
	for (int i = 0; i < 1000; i++) {
		struct node *n = malloc(sizeof *n);
		snprintf(n->name, sizeof n->name, "n%d", i * 7919 % 1000);
		n->next = head, head = n;
	}
	char *v[1000];
	int k = 0;
	for (struct node *n = head; n; n = n->next) v[k++] = n->name;
	qsort(v, k, sizeof *v, cmp);
	printf("%s %s %d\n", v[0], v[k - 1], k);
	return 0;
}
C
if have gcc; then
	same "gcc -S" gcc -O2 -S -o - "$work/prog.c"
	same "gcc build+run" sh -c "gcc -O2 -Wall -o prog '$work/prog.c' && ./prog"
else
	skip gcc "not installed: apt-get install gcc"
fi

# gort builds itself with gort as the malloc of make, the shell, the
# compiler, the assembler, the linker and ar, two jobs at once: every
# object, archive and library must come out byte for byte as it does under
# glibc's malloc (both builds in the same directory, so that the paths the
# debug information records are the same).
src=$(cd "$here/../../../.." && pwd)
if ! have make || ! have "${CC:-cc}" || [ ! -f "$src/Makefile" ] || [ ! -f "$src/src/malloc.c" ]; then
	skip "gort builds itself" "make, ${CC:-cc} or the source tree ($src) missing"
else
	self=$work/self
	mkdir -p "$self" && cp -r "$src/Makefile" "$src/src" "$src/include" "$self/"
	sums() { (cd "$self/build" && find . -type f \( -name '*.o' -o -name '*.a' -o -name '*.so' \) | sort | xargs md5sum); }
	(cd "$self" && env -u LD_PRELOAD make -s -j2 lib >"$work/self.out" 2>&1)
	rc_glibc=$?
	sums >"$work/self.glibc"
	rm -rf "$self/build"
	(cd "$self" && LD_PRELOAD=$lib make -s -j2 lib >"$work/self.out.gort" 2>&1)
	rc_gort=$?
	sums >"$work/self.gort"
	nfiles=$(wc -l <"$work/self.glibc")
	if [ "$rc_glibc" != 0 ] || [ "$nfiles" -lt 30 ]; then
		fail "gort builds itself" "the build under glibc's malloc failed or made $nfiles files (exit $rc_glibc)" "$(head -c 600 "$work/self.out")"
	elif [ "$rc_gort" != 0 ]; then
		fail "gort builds itself" "exit status $rc_gort under gort" "$(head -c 600 "$work/self.out.gort")"
	elif ! cmp -s "$work/self.glibc" "$work/self.gort"; then
		fail "gort builds itself" "output files differ:" "$(diff "$work/self.glibc" "$work/self.gort" | head -n 10)"
	else
		pass "gort builds itself ($nfiles objects, archives and libraries, byte for byte as under glibc)"
	fi
fi

# shellcheck disable=SC2016 # the scripts below are expanded by their own shells
# git: commits in a scratch repository (trees and messages compared; commit
# hashes also depend on the clock, so dates are fixed).
if have git; then
	NOSTDERR=1 same git sh -c '
		export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
		export GIT_CONFIG_NOSYSTEM=1 HOME=$PWD
		git init -q -b main repo && cd repo &&
		git config user.email t@example.com && git config user.name t &&
		for i in $(seq 1 30); do
			seq 1 $((i * 100)) > f$((i % 7)).txt
			git add -A && git commit -q -m "commit $i" || exit 1
		done
		git gc -q && git fsck --no-progress 2>&1 && git log --format="%H %T %s" | head -n 40 && git count-objects -v | grep -v size'
else
	skip git "not installed: apt-get install git"
fi

# perl: hashes of arrays, string building, sorting, regexes.
if have perl; then
	same perl perl -e '
		my %h;
		for my $i (1 .. 200000) { push @{ $h{$i % 997} }, "k$i" x (1 + $i % 7); }
		my $n = 0;
		for my $k (sort { $a <=> $b } keys %h) { $n += scalar(grep { /7/ } @{ $h{$k} }); }
		my $s = join(",", map { length } @{ $h{3} });
		print "$n ", length($s), " ", scalar(keys %h), "\n";'
else
	skip perl "not installed: apt-get install perl"
fi

# xz with two threads: blocks compressed in parallel, then decompressed.
if have xz; then
	seq 1 400000 >"$work/xz.in"
	same "xz -T2" sh -c "xz -T2 --block-size=262144 -c '$work/xz.in' | xz -d -T2 | md5sum && xz -T2 -c '$work/xz.in' | wc -c"
else
	skip "xz -T2" "not installed: apt-get install xz-utils"
fi

# A shell script that forks many children (subshells, pipes, command substitution).
# shellcheck disable=SC2016
same "shell forks" bash -c '
	total=0
	for i in $(seq 1 300); do
		v=$( (echo $((i * i)) | cat) )
		total=$((total + v))
		( exit $((i % 2)) ) || odd=$((odd + 1))
	done
	for i in $(seq 1 50); do sh -c "echo child $i" & done | sort | tail -n 3
	wait
	echo "total $total odd $odd"
	exit 5'

# A multi-threaded C++ program (std::thread, std::map, std::string, new/delete).
if [ -x "$progs/cxx_threads" ]; then
	same "c++ threads" "$progs/cxx_threads"
else
	skip "c++ threads" "$progs/cxx_threads not built (g++ missing: apt-get install g++)"
fi

# Under an address-space limit (ulimit -v, RLIMIT_AS; or ulimit -d,
# RLIMIT_DATA, which counts private writable mappings) the heap keeps to a
# small window and grows 4 MiB at a time: a program starts and runs in
# 128 MiB, and one that allocates until malloc fails gets NULL and ENOMEM,
# keeps every block intact and gets the space back when it frees them.
same "python3 under ulimit -v 128 MiB" bash -c 'ulimit -v 131072 && exec python3 -c "
import json
d = {str(i): list(range(i % 50)) for i in range(40000)}
print(len(json.dumps(d)))"'
same "python3 under ulimit -d 64 MiB" bash -c 'ulimit -d 65536 && exec python3 -c "
print(sum(len(str(i)) for i in range(300000)))"'
if [ -x "$progs/aslimit" ]; then
	same "allocation until ENOMEM under ulimit -v 256 MiB" bash -c "ulimit -v 262144 && exec '$progs/aslimit'"
else
	skip "allocation until ENOMEM under ulimit -v" "$progs/aslimit not built (g++ missing: apt-get install g++)"
fi

# Main leaves by pthread_exit while its threads work on (the process ends
# with its last thread although gort's scavenger is running by then); a
# timeout that kills (such a process has no thread left to take SIGTERM),
# so that one that never ends fails instead of hanging.
if [ -x "$progs/main_exit" ]; then
	same "main thread leaves first" timeout -s KILL 60 "$progs/main_exit"
else
	skip "main thread leaves first" "$progs/main_exit not built (g++ missing: apt-get install g++)"
fi

# A real program's heap profile, read by the real go tool pprof.
if ! have python3; then
	skip "python3 heap profile" "python3 not installed"
elif ! have go; then
	skip "python3 heap profile" "go tool pprof not found: apt-get install golang-go"
else
	rm -f "$work/py.prof"
	GORTHEAPPROFILE=$work/py.prof GORTDEBUG=memprofilerate=65536 LD_PRELOAD=$lib python3 "$work/alloc.py" >/dev/null
	top=$(HOME=$work go tool pprof -top -sample_index=alloc_space "$work/py.prof" 2>&1)
	if [ ! -s "$work/py.prof" ]; then
		fail "python3 heap profile" "GORTHEAPPROFILE wrote nothing"
	elif ! grep -q 'Type: alloc_space' <<<"$top" || ! grep -Eq ' (PyList_Append|_PyObject_Malloc|PyDict_SetItem|PyUnicode_New|list_append)' <<<"$top" ||
		! grep -q 'Py_BytesMain\|Py_RunMain\|main$' <<<"$top"; then
		fail "python3 heap profile" "go tool pprof -top does not name python's functions:" "$(head -n 15 <<<"$top")"
	else
		pass "python3 heap profile ($(grep -c '^ ' <<<"$top") nodes named in go tool pprof -top)"
	fi
fi

# Sampling where the profile can be read (Go's disableMemoryProfiling): a
# program that binds none of gort's profile API samples nothing, unless
# GORTHEAPPROFILE or GORTDEBUG=memprofilerate asks; a library dlopen'ed
# later that binds the API turns sampling on (the page heap notices the
# load as it carves its next span: python3 allocates 20 MB before it looks),
# and so does a profile written (through dlsym: empty, with a note).
# python3 reads the rate through ctypes (dlsym: no binding of its own).
if ! have python3 || ! have gcc; then
	skip "sampling only where readable" "python3 or gcc not installed"
else
	printf 'extern int gort_write_heap_profile(const char *);\nint reader(void) { return gort_write_heap_profile("/dev/null"); }\n' >"$work/reader.c"
	gcc -shared -fPIC -o "$work/libreader.so" "$work/reader.c"
	cat >"$work/rate.py" <<'PY'
import ctypes, sys
def rate():
    f = ctypes.CDLL(None).gort_set_mem_profile_rate
    f.restype, f.argtypes = ctypes.c_long, [ctypes.c_long]
    return f(-1)
before = rate()
if len(sys.argv) > 1 and sys.argv[1] == "write":
    w = ctypes.CDLL(None).gort_write_heap_profile
    w.restype, w.argtypes = ctypes.c_int, [ctypes.c_char_p]
    w(b"/dev/null")
elif len(sys.argv) > 1:
    ctypes.CDLL(sys.argv[1])
    keep = [bytes(1000 + i % 3000) for i in range(10000)]
print(before, rate())
PY
	r_plain=$(LD_PRELOAD=$lib python3 "$work/rate.py")
	r_env=$(GORTHEAPPROFILE=$work/rate.prof LD_PRELOAD=$lib python3 "$work/rate.py")
	r_knob=$(GORTDEBUG=memprofilerate=4096 LD_PRELOAD=$lib python3 "$work/rate.py")
	r_dl=$(LD_PRELOAD=$lib python3 "$work/rate.py" "$work/libreader.so")
	# A profile written through dlsym is empty, says so, and starts sampling.
	r_w=$(LD_PRELOAD=$lib python3 "$work/rate.py" write 2>"$work/rate.err")
	if [ "$r_plain" = "0 0" ] && [ "$r_env" = "524288 524288" ] && [ "$r_knob" = "4096 4096" ] &&
		[ "$r_dl" = "0 524288" ] && [ "$r_w" = "0 524288" ] && grep -q "this profile is empty" "$work/rate.err"; then
		pass "sampling only where readable (rates: plain 0, GORTHEAPPROFILE 524288, knob 4096, dlopen of a reader 0 -> 524288, a profile written 0 -> 524288)"
	else
		fail "sampling only where readable" "plain: $r_plain (want 0 0)" "GORTHEAPPROFILE: $r_env (want 524288 524288)" \
			"GORTDEBUG=memprofilerate=4096: $r_knob (want 4096 4096)" "dlopen of a reader: $r_dl (want 0 524288)" \
			"a profile written through dlsym: $r_w (want 0 524288), stderr: $(cat "$work/rate.err")"
	fi
fi

# dlopen searches as its caller would (glibc's reads its caller from the
# return address: a malloc that wrapped dlopen would change what is found;
# gort does not wrap it, and these keep it so).  A program whose RUNPATH names
# its plugin directory, a library whose RUNPATH names another, $ORIGIN and
# ${ORIGIN}, a name already loaded from elsewhere (the loaded one wins),
# LD_LIBRARY_PATH before RUNPATH, and a name found nowhere (same error).
if ! have gcc; then
	skip "dlopen along the caller's paths" "gcc not installed"
else
	dl=$work/dl
	mkdir -p "$dl/bin" "$dl/lib" "$dl/lib2" "$dl/lib3"
	printf 'int plug_value(void) { return 42; }\n' >"$dl/plug.c"
	printf 'int plug_value(void) { return 7; }\n' >"$dl/plug7.c"
	printf 'int dep_value(void) { return 99; }\n' >"$dl/dep.c"
	cat >"$dl/loader.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
void load_from_library(const char *name, const char *sym)
{
	void *h = dlopen(name, RTLD_NOW);
	if (!h) {
		printf("library: dlopen %s: %s\n", name, dlerror());
		return;
	}
	int (*f)(void) = (int (*)(void))dlsym(h, sym);
	printf("library: %s %s = %d\n", name, sym, f ? f() : -1);
}
C
	cat >"$dl/main.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
void load_from_library(const char *name, const char *sym);
static void load(const char *name)
{
	void *h = dlopen(name, RTLD_NOW);
	if (!h) {
		printf("program: dlopen %s: %s\n", name, dlerror());
		return;
	}
	int (*f)(void) = (int (*)(void))dlsym(h, "plug_value");
	printf("program: %s plug_value = %d\n", name, f ? f() : -1);
}
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		load(argv[i]);
	load_from_library("libdep.so", "dep_value");
	load_from_library("libplug.so", "plug_value");
	return 0;
}
C
	gcc -shared -fPIC -o "$dl/lib/libplug.so" "$dl/plug.c" &&
		gcc -shared -fPIC -o "$dl/lib3/libplug.so" "$dl/plug7.c" &&
		gcc -shared -fPIC -o "$dl/lib2/libdep.so" "$dl/dep.c" &&
		gcc -shared -fPIC -o "$dl/lib/libloader.so" "$dl/loader.c" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib2:$ORIGIN/../lib3' &&
		gcc -o "$dl/bin/main" "$dl/main.c" -L"$dl/lib" -lloader -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib'
	# The program's own dlopen of libplug.so comes first: its library's
	# later dlopen by the same name (its RUNPATH has lib3's copy) must get
	# the loaded one.
	same "dlopen along the caller's paths" "$dl/bin/main" libplug.so '$ORIGIN/../lib/libplug.so' \
		'${ORIGIN}/../lib/libplug.so' libnosuch.so
	want="program: libplug.so plug_value = 42"
	if ! grep -qx "$want" "$work/gort/out" || ! grep -qx "library: libdep.so dep_value = 99" "$work/gort/out" ||
		! grep -qx "library: libplug.so plug_value = 42" "$work/gort/out"; then
		fail "dlopen along the caller's paths: what was loaded" "$(cat "$work/gort/out")"
	fi
	# Without the program's dlopen, the library finds lib3's copy along
	# its own RUNPATH; LD_LIBRARY_PATH comes before the program's RUNPATH.
	same "dlopen along a library's paths" "$dl/bin/main"
	grep -qx "library: libplug.so plug_value = 7" "$work/gort/out" ||
		fail "dlopen along a library's paths: what was loaded" "$(cat "$work/gort/out")"
	same "dlopen: LD_LIBRARY_PATH before RUNPATH" env LD_LIBRARY_PATH="$dl/lib3" "$dl/bin/main" libplug.so
	grep -qx "program: libplug.so plug_value = 7" "$work/gort/out" ||
		fail "dlopen: LD_LIBRARY_PATH before RUNPATH: what was loaded" "$(cat "$work/gort/out")"
fi

# dlopen against glibc's own, on random layouts: libraries libr0..libr3
# (some with a soname, some without) placed at random in four directories, three programs (RUNPATH in two
# orders, and an old-style RPATH) and a library with a RUNPATH of its own,
# a random LD_LIBRARY_PATH, and a random sequence of dlopen (from the
# program or the library, by name or by a $ORIGIN path) and dlclose.  glibc's results are the model:
# every layout must print the same under gort.
if ! have gcc; then
	skip "dlopen on random layouts" "gcc not installed"
else
	rl=$work/rl
	mkdir -p "$rl/pool" "$rl/bin" "$rl/dL"
	cat >"$rl/lib.c" <<'C'
int value(void) { return VALUE; }
C
	for d in 0 1 2 3; do
		for i in 0 1 2 3; do
			mkdir -p "$rl/pool/d$d"
			# the copies in d2 and d3 have a soname, the others none
			soname=()
			[ $d -ge 2 ] && soname=(-Wl,-soname,"libr$i.so")
			gcc -shared -fPIC -DVALUE=$((10 * d + i)) "${soname[@]}" -o "$rl/pool/d$d/libr$i.so" "$rl/lib.c"
		done
	done
	cat >"$rl/loader.c" <<'C'
#include <dlfcn.h>
void *lib_open(const char *name) { return dlopen(name, RTLD_NOW); }
C
	cat >"$rl/main.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
void *lib_open(const char *name);
int main(int argc, char **argv)
{
	void *open[64];
	int n = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == 'c') {
			if (n > 0)
				printf("dlclose: %d\n", dlclose(open[--n]));
			continue;
		}
		void *h = argv[i][0] == 'p' ? dlopen(argv[i] + 2, RTLD_NOW) : lib_open(argv[i] + 2);
		if (!h) {
			printf("%s: %s\n", argv[i], dlerror());
			continue;
		}
		int (*v)(void) = (int (*)(void))dlsym(h, "value");
		printf("%s: %d\n", argv[i], v ? v() : -1);
		if (n < 64)
			open[n++] = h;
	}
	return 0;
}
C
	gcc -shared -fPIC -o "$rl/dL/libL.so" "$rl/loader.c" -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../d2:$ORIGIN/../d3'
	gcc -o "$rl/bin/m0" "$rl/main.c" -L"$rl/dL" -lL -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../d0:$ORIGIN/../dL'
	gcc -o "$rl/bin/m1" "$rl/main.c" -L"$rl/dL" -lL -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../d1:$ORIGIN/../d0:$ORIGIN/../dL'
	gcc -o "$rl/bin/m2" "$rl/main.c" -L"$rl/dL" -lL -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../d1:$ORIGIN/../dL'
	RANDOM=20261205
	layouts=40 bad=0 first=""
	for k in $(seq 1 $layouts); do
		for d in 0 1 2 3; do
			rm -rf "${rl:?}/d$d" && mkdir -p "$rl/d$d"
			for i in 0 1 2 3; do
				[ $((RANDOM % 10)) -lt 4 ] && cp "$rl/pool/d$d/libr$i.so" "$rl/d$d/"
			done
		done
		case $((RANDOM % 3)) in
		0) llp="" ;;
		1) llp=$rl/d3 ;;
		2) llp=$rl/d2:$rl/d1 ;;
		esac
		prog=$rl/bin/m$((RANDOM % 3))
		ops=()
		for j in 1 2 3 4 5 6 7; do
			case $((RANDOM % 7)) in
			0 | 1) ops+=("p:libr$((RANDOM % 4)).so") ;;
			2 | 3) ops+=("l:libr$((RANDOM % 4)).so") ;;
			4) ops+=(c) ;;
			5) ops+=("p:\$ORIGIN/../d$((RANDOM % 4))/libr$((RANDOM % 4)).so") ;;
			6) ops+=("l:\${ORIGIN}/../d$((RANDOM % 4))/libr$((RANDOM % 4)).so") ;;
			esac
		done
		want=$(env LD_LIBRARY_PATH="$llp" "$prog" "${ops[@]}" 2>&1)
		got=$(env LD_LIBRARY_PATH="$llp" LD_PRELOAD="$lib" "$prog" "${ops[@]}" 2>&1)
		if [ "$want" != "$got" ]; then
			bad=$((bad + 1))
			[ -n "$first" ] || first="layout $k: $(ls "$rl"/d0 "$rl"/d1 "$rl"/d2 "$rl"/d3 | tr '\n' ' '); LD_LIBRARY_PATH=$llp $(basename "$prog") ${ops[*]}: glibc [$want] gort [$got]"
		fi
	done
	if [ "$bad" -eq 0 ]; then
		pass "dlopen on random layouts ($layouts layouts, as glibc)"
	else
		fail "dlopen on random layouts" "$bad of $layouts layouts differ from glibc; the first:" "$first"
	fi
fi

# %p: every process of a program that runs others writes its own profile.
if ! have gcc; then
	skip "per-process profiles (%p)" "gcc not installed"
else
	mkdir -p "$work/pp"
	GORTHEAPPROFILE=$work/pp/heap.%p LD_PRELOAD=$lib gcc -O2 -o "$work/pp/prog" "$work/prog.c"
	n=$(find "$work/pp" -name 'heap.[0-9]*' ! -name '*.tmp.*' | wc -l)
	if [ "$n" -ge 3 ] && [ -x "$work/pp/prog" ]; then
		pass "per-process profiles (%p): gcc and its $((n - 1)) children wrote $n profiles"
	else
		fail "per-process profiles (%p)" "expected a profile from gcc, cc1, as, ld...: found $n" "$(ls "$work/pp")"
	fi
fi


# The span walker (tools/spanwalk.c): a real program's report names spans.
walker=$(cd "$here/../.." && pwd)/spanwalk.so
if [ ! -f "$walker" ]; then
	fail "spanwalk report" "$walker is not built (make spanwalk)"
else
	seq 1 300000 >"$work/nums"
	SPANWALK=$work/walk LD_PRELOAD=$walker sort -r "$work/nums" >/dev/null
	report=$(cat "$work/walk" 2>/dev/null)
	spans=$(awk '$1 ~ /^(current|kept|partial|full|large)$/ { n += $2 } END { print n + 0 }' <<<"$report")
	# sort's threads' spans, by thread: current + kept spans add up to the
	# kinds' figures (a thread line's spans are "N + M").
	held=$(awk '$1 ~ /^(current|kept)$/ { n += $2 } END { print n + 0 }' <<<"$report")
	by_thread=$(awk '$1 ~ /^0x/ && $3 == "+" { n += $2 + $4 } $2 == "more)" && $4 == "+" { n += $3 + $5 } END { print n + 0 }' <<<"$report")
	if grep -q '^spanwalk: at the peak RSS seen' <<<"$report" && [ "$spans" -gt 0 ] && [ "$held" -gt 0 ] &&
		[ "$by_thread" -eq "$held" ]; then
		pass "spanwalk report ($spans spans at sort's peak, $by_thread held by threads)"
	else
		fail "spanwalk report" "no spans reported:" "$(head -n 8 <<<"$report")"
	fi
fi

# The hot text (src/hot.ld, tools/hotlist.sh): programs that only allocate
# run no code from the library's cold text segment, so the kernel maps none
# of it.  Each program reads its own smaps at the end; the second executable
# mapping of the library must have nothing resident.  The list is made for
# the release build by gcc: other builds inline differently (SKIP).
hot_text_checked=0 # set by the Makefile where the list applies
cold_rss() { # cold_rss < smaps: the cold text's resident KiB, or "none"
	awk -v lib="$(basename "$lib")" '
		/^[0-9a-f]+-[0-9a-f]+ / { in_cold = 0; if (index($0, lib) && $2 == "r-xp" && ++n == 2) in_cold = 1; next }
		in_cold && $1 == "Rss:" { rss = $2 }
		END { print (n >= 2 ? rss + 0 : "none") }'
}
if [ "$hot_text_checked" != 1 ]; then
	skip "hot text" "the hot-function list applies to the release build by gcc"
else
	bad=""
	# At gort's defaults: a knob (a trace, a profile) runs cold code.
	unset GORTDEBUG GORTHEAPPROFILE GORTGC GORTMEMLIMIT GORTMAXPROCS
	r=$(LD_PRELOAD=$lib cat /proc/self/smaps | cold_rss)
	[ "$r" = 0 ] || bad="$bad cat:$r"
	r=$(LD_PRELOAD=$lib bash -c 't=0; for i in $(seq 1 40); do v=$(echo $i | cat); t=$((t + v)); done; cat /proc/$$/smaps' | cold_rss)
	[ "$r" = 0 ] || bad="$bad bash:$r"
	if have python3; then
		r=$(LD_PRELOAD=$lib PYTHONMALLOC=malloc python3 -c '
import json, threading, sys
def work():
    d = {str(i): [i] * (i % 9) for i in range(30000)}
    s = json.dumps(d)
    big = [bytearray(1 << k) for k in range(10, 24)]
    for b in big:
        b += b"x" * len(b)
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
sys.stdout.write(open("/proc/self/smaps").read())' | cold_rss)
		[ "$r" = 0 ] || bad="$bad python3:$r"
	fi
	if [ -z "$bad" ]; then
		pass "hot text (cat, bash with children, python3 with threads: no cold text resident)"
	else
		fail "hot text" "cold text resident (KiB, \"none\": no cold segment):$bad" \
			"find the code with make coldtrap (tools/coldtrap.c), then remake the list: tools/hotlist.sh"
	fi
fi
