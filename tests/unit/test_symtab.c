/*
 * test_symtab.c: the in-process symbolizer (src/symtab.h).
 *
 * Names for a global and a static function of this program, for an
 * address inside a function, for libc functions (aliases resolved to the
 * name a programmer wrote) and the vDSO; nothing for addresses outside any
 * object or outside any function; file:line from DWARF for code of this
 * file; the build ID of the executable (checked against the file's bytes)
 * and of libc; a library whose file was deleted, or replaced by another
 * build, after it was loaded (read through /proc/self/map_files); and the
 * executable copied, re-executed and deleted before it symbolizes itself.
 * Threads symbolize at once while the tables are first loaded.  Small
 * programs compiled here with DWARF 2 to 5, by gcc and clang, with
 * compressed debug sections (both forms), are symbolized from their
 * images.  A fuzzer mutates this program's own ELF image (headers, symbol tables,
 * .debug_line) and symbolizes from the damaged copies: no crash, and the
 * undamaged image gives the right answers.
 */
#define _GNU_SOURCE
#include "symtab.h"
#include "os.h"
#include "testing.h"

#include <dlfcn.h>
#include <pthread.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


static volatile int sink;
static int grab_line; /* the line of the call in static_target */
static int bss_variable;

static TEST_NOIPA void grab(uintptr_t *out)
{
	*out = (uintptr_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

void symtab_global_target(void);
TEST_NOIPA void symtab_global_target(void)
{
	sink++;
	__asm__ volatile("" ::: "memory");
}

/* Leaves in *pc a return address inside this function; the asm after the
 * call keeps it from being a tail call. */
static TEST_NOIPA void static_target(uintptr_t *pc)
{
	sink += 2;
	grab(pc); grab_line = __LINE__;
	__asm__ volatile("" ::: "memory");
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void exe_path(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	buf[n > 0 ? n : 0] = 0;
}

static void test_global_function(void)
{
	uintptr_t fn = (uintptr_t)&symtab_global_target;
	symtab_info si;
	REQUIRE(symtab_lookup(fn, &si));
	CHECKF(si.func && strcmp(si.func, "symtab_global_target") == 0, "func %s", si.func ? si.func : "(null)");
	CHECK(si.func_start == fn);
	char exe[PATH_MAX];
	exe_path(exe, sizeof exe);
	CHECKF(si.object && strcmp(si.object, exe) == 0, "object %s, exe %s", si.object ? si.object : "(null)", exe);
	/* A PIE is loaded at a bias; a fixed executable has none. */
	Dl_info di;
	if (dladdr((void *)fn, &di))
		CHECK(si.object_bias == (uintptr_t)di.dli_fbase ||
		      si.object_bias == 0); /* ET_EXEC: dli_fbase is the image start, bias 0 */
	/* Asking again gives the same (cached) strings. */
	symtab_info again;
	REQUIRE(symtab_lookup(fn, &again));
	CHECK(again.func == si.func && again.object == si.object);
}

static void test_static_function(void)
{
	uintptr_t fn = (uintptr_t)&static_target;
	symtab_info si;
	REQUIRE(symtab_lookup(fn, &si));
	CHECKF(si.func && strcmp(si.func, "static_target") == 0, "func %s", si.func ? si.func : "(null)");
	CHECK(si.func_start == fn);
}

static void test_inside_function(void)
{
	uintptr_t pc = 0;
	static_target(&pc);
	REQUIRE(pc != 0);
	symtab_info si;
	REQUIRE(symtab_lookup(pc - 1, &si)); /* the call instruction */
	CHECKF(si.func && strcmp(si.func, "static_target") == 0, "func %s", si.func ? si.func : "(null)");
	CHECK(si.func_start == (uintptr_t)&static_target);
	CHECK(pc - 1 > si.func_start);
	/* The Makefile compiles with -g: DWARF 5 from gcc 12, 4 or 5 from clang. */
	CHECKF(si.file && strcmp(base_name(si.file), "test_symtab.c") == 0, "file %s", si.file ? si.file : "(null)");
	CHECKF(si.file && si.file[0] == '/', "file %s is not absolute", si.file ? si.file : "(null)");
	CHECKF(si.line == (uint32_t)grab_line, "line %u, want %d", si.line, grab_line);

	/* A line of the global function too. */
	REQUIRE(symtab_lookup((uintptr_t)&symtab_global_target, &si));
	CHECK(si.file && strcmp(base_name(si.file), "test_symtab.c") == 0);
	CHECK(si.line > 0);
}

/* A libc function that is not an IFUNC: its name must resolve back to
 * itself (the alias chosen is one a program can call). */
static void *libc_sym(const char *name)
{
	/* From libc itself: under AddressSanitizer RTLD_DEFAULT finds
	 * libasan's interceptors first. */
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	return h ? dlsym(h, name) : NULL;
}

static void check_libc(const char *name, const char *want)
{
	void *p = libc_sym(name);
	CHECKF(p != NULL, "dlsym %s", name);
	if (!p)
		return;
	symtab_info si;
	CHECKF(symtab_lookup((uintptr_t)p + 1, &si), "%s not in any object", name);
	CHECKF(si.object && strstr(base_name(si.object), "libc"), "%s in %s", name, si.object ? si.object : "(null)");
	CHECKF(si.func && strcmp(si.func, want) == 0, "%s named %s, want %s", name, si.func ? si.func : "(null)", want);
	CHECKF(si.func_start == (uintptr_t)p, "%s start %#lx, want %p", name, (unsigned long)si.func_start, p);
}

static void test_libc_function(void)
{
	check_libc("qsort", "qsort");
	check_libc("getpid", "getpid");   /* beside __getpid (global) */
	check_libc("__getpid", "getpid"); /* the same function */
	check_libc("fopen", "fopen");     /* beside fopen64 (weak) and _IO_fopen */

	/* strlen is an IFUNC: dlsym gives the implementation the resolver
	 * chose (__strlen_avx2, ...), named only in libc's .symtab, which a
	 * stripped libc lacks.  The object must still be found. */
	void *p = libc_sym("strlen");
	REQUIRE(p != NULL);
	symtab_info si;
	REQUIRE(symtab_lookup((uintptr_t)p, &si));
	CHECK(si.object && strstr(base_name(si.object), "libc"));
	CHECKF(!si.func || strstr(si.func, "strlen"), "strlen named %s", si.func);
	printf("    strlen: %#lx is %s in %s\n", (unsigned long)(uintptr_t)p, si.func ? si.func : "(unnamed)",
	       si.object);
}

static void test_vdso(void)
{
	void *h = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
	void *p = h ? dlsym(h, "__vdso_clock_gettime") : NULL;
	if (!p) {
		printf("    (no vDSO clock_gettime to look up)\n");
		return;
	}
	symtab_info si;
	REQUIRE(symtab_lookup((uintptr_t)p, &si));
	CHECKF(si.func && strstr(si.func, "clock_gettime"), "vdso func %s", si.func ? si.func : "(null)");
	CHECK(si.func_start == (uintptr_t)p);
}

static void test_unknown_address(void)
{
	symtab_info si;
	CHECK(!symtab_lookup(0x10, &si));
	CHECK(si.func == NULL && si.object == NULL && si.file == NULL && si.line == 0);
	CHECK(!symtab_lookup(UINTPTR_MAX - 4096, &si));
	void *anon = os_alloc(4096);
	REQUIRE(anon != NULL);
	CHECK(!symtab_lookup((uintptr_t)anon + 8, &si));
	os_free(anon, 4096);
	/* In the executable but in no function: a variable. */
	CHECK(symtab_lookup((uintptr_t)&bss_variable, &si));
	CHECK(si.object != NULL);
	CHECKF(si.func == NULL, "variable named %s", si.func);
	CHECK(!symtab_object(0x10, &si));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static unsigned char *read_file(const char *path, size_t *size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return NULL;
	}
	unsigned char *buf = malloc((size_t)st.st_size + 1);
	size_t off = 0;
	while (buf && off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	*size = off;
	return buf;
}

static void test_build_id(void)
{
	symtab_info si;
	REQUIRE(symtab_object((uintptr_t)&symtab_global_target, &si));
	REQUIRE(si.build_id != NULL); /* Debian's gcc links with --build-id */
	size_t n = strlen(si.build_id);
	CHECKF(n == 40, "build id %s", si.build_id); /* SHA-1 */
	unsigned char raw[64];
	bool hex = n % 2 == 0 && n <= 2 * sizeof raw;
	for (size_t i = 0; hex && i < n; i += 2) {
		int hi = hexval(si.build_id[i]), lo = hexval(si.build_id[i + 1]);
		hex = hi >= 0 && lo >= 0;
		raw[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	CHECKF(hex, "build id %s is not lowercase hex", si.build_id);
	/* The same bytes are in the executable file (its note). */
	size_t size;
	unsigned char *img = read_file("/proc/self/exe", &size);
	REQUIRE(img != NULL);
	CHECK(hex && memmem(img, size, raw, n / 2) != NULL);
	free(img);

	/* The full lookup reports the same string. */
	symtab_info full;
	REQUIRE(symtab_lookup((uintptr_t)&symtab_global_target, &full));
	CHECK(full.build_id == si.build_id);

	void *p = libc_sym("qsort");
	REQUIRE(p && symtab_object((uintptr_t)p, &si));
	CHECKF(si.build_id && strlen(si.build_id) >= 16, "libc build id %s", si.build_id ? si.build_id : "(null)");
}

static bool copy_file(const char *from, const char *to, mode_t mode)
{
	size_t size;
	unsigned char *buf = read_file(from, &size);
	if (!buf)
		return false;
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	bool ok = fd >= 0 && write(fd, buf, size) == (ssize_t)size;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

/* The path of the loaded library whose name contains needle. */
struct libfind {
	const char *needle;
	char path[PATH_MAX];
};

static int libfind_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct libfind *lf = arg;
	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, lf->needle)) {
		snprintf(lf->path, sizeof lf->path, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

/* A private copy of libz, loaded from a temporary path and then deleted
 * (or replaced by libc, another build): names come from the mapped file. */
static void check_gone_library(bool replace)
{
	struct libfind lf = {.needle = "libz.so"};
	REQUIRE(dlopen("libz.so.1", RTLD_LAZY) != NULL); /* gort does not link it */
	dl_iterate_phdr(libfind_cb, &lf);
	REQUIRE(lf.path[0] != 0);
	char tmp[] = "/tmp/gort_symtab_libXXXXXX";
	int fd = mkstemp(tmp);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(copy_file(lf.path, tmp, 0755));
	void *h = dlopen(tmp, RTLD_NOW | RTLD_LOCAL);
	REQUIRE(h != NULL);
	void *fn = dlsym(h, "zlibVersion");
	REQUIRE(fn != NULL);
	if (replace) {
		/* Another build at the same path (a package upgrade renames the
		 * new file into place). */
		struct libfind libc = {.needle = "libc.so"};
		dl_iterate_phdr(libfind_cb, &libc);
		char tmp2[sizeof tmp + 4];
		snprintf(tmp2, sizeof tmp2, "%s.new", tmp);
		REQUIRE(copy_file(libc.path, tmp2, 0755));
		REQUIRE(rename(tmp2, tmp) == 0);
	} else {
		REQUIRE(unlink(tmp) == 0);
	}
	symtab_info si;
	REQUIRE(symtab_lookup((uintptr_t)fn, &si));
	CHECKF(si.object && strcmp(si.object, tmp) == 0, "object %s", si.object ? si.object : "(null)");
	CHECKF(si.func && strcmp(si.func, "zlibVersion") == 0, "func %s", si.func ? si.func : "(null)");
	CHECK(si.build_id != NULL);
	if (replace)
		unlink(tmp);
	/* Not dlclose'd: the symbolizer's entry stays valid either way. */
}

static void test_deleted_library(void)
{
	check_gone_library(false);
}

static void test_replaced_library(void)
{
	check_gone_library(true);
}

/* In the child: the executable deletes itself, then symbolizes. */
static int deleted_child(void)
{
	char exe[PATH_MAX];
	exe_path(exe, sizeof exe);
	if (unlink(exe) != 0) {
		printf("unlink %s: %s\n", exe, strerror(errno));
		return 1;
	}
	if (access(exe, F_OK) == 0) {
		printf("%s still exists\n", exe);
		return 1;
	}
	uintptr_t pc = 0;
	static_target(&pc);
	symtab_info si;
	if (!symtab_lookup(pc - 1, &si)) {
		printf("not found\n");
		return 1;
	}
	printf("func=%s\nline=%u want=%d\nfile=%s\nobject=%s\nbuild_id=%s\n", si.func ? si.func : "",
	       si.line, grab_line, si.file ? si.file : "", si.object ? si.object : "",
	       si.build_id ? si.build_id : "");
	bool ok = si.func && strcmp(si.func, "static_target") == 0 && si.line == (uint32_t)grab_line &&
		  si.object && strcmp(si.object, exe) == 0 && si.build_id;
	if (!symtab_lookup((uintptr_t)&symtab_global_target, &si) || !si.func ||
	    strcmp(si.func, "symtab_global_target") != 0)
		ok = false;
	return ok ? 0 : 1;
}

/* Copies this executable to a temporary file, runs the copy with argument
 * mode and collects its output; returns its exit status (-1: could not). */
static int run_copy(const char *mode, char *out, size_t cap)
{
	char tmp[] = "/tmp/gort_symtab_exeXXXXXX";
	int fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	close(fd);
	if (!copy_file("/proc/self/exe", tmp, 0755) || chmod(tmp, 0755) != 0) {
		unlink(tmp);
		return -1;
	}
	int pfd[2];
	if (pipe(pfd) != 0) {
		unlink(tmp);
		return -1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execl(tmp, tmp, mode, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	size_t off = 0;
	ssize_t n;
	while ((n = read(pfd[0], out + off, cap - 1 - off)) > 0 && off + (size_t)n < cap - 1)
		off += (size_t)n;
	if (n > 0)
		off += (size_t)n;
	out[off] = 0;
	close(pfd[0]);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	unlink(tmp); /* normally gone already */
	return status < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_deleted_executable(void)
{
	char out[4096];
	int rc = run_copy("--deleted-child", out, sizeof out);
	CHECKF(rc == 0, "child exit %d, output:\n%s", rc, out);
	CHECK(strstr(out, "func=static_target\n") != NULL);
	printf("%s", out);
}

/* ---- threads ------------------------------------------------------------ */

#define NTHREADS 4
#define NTARGETS 5

struct target {
	uintptr_t pc;
	const char *want; /* NULL: only the object must be found */
};
static struct target targets[NTARGETS];

static void *lookup_thread(void *arg)
{
	long bad = 0;
	for (int i = 0; i < 400; i++) {
		const struct target *t = &targets[((uintptr_t)arg + (uintptr_t)i) % NTARGETS];
		symtab_info si;
		if (!symtab_lookup(t->pc, &si) || !si.object || (t->want && (!si.func || strcmp(si.func, t->want) != 0)))
			bad++;
	}
	return (void *)bad;
}

static void test_concurrent_lookups(void)
{
	/* Run first: libm's and libz's tables are loaded by these threads. */
	/* (gort links neither (zlib is loaded by the symbolizer's first
	 * lookup): they are loaded here, as any program may.) */
	void *m = dlopen("libm.so.6", RTLD_LAZY), *z = dlopen("libz.so.1", RTLD_LAZY);
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	REQUIRE(m && z && libc);
	targets[0] = (struct target){(uintptr_t)&static_target, "static_target"};
	targets[1] = (struct target){(uintptr_t)dlsym(m, "frexp") + 1, "frexp"};
	targets[2] = (struct target){(uintptr_t)dlsym(z, "zlibVersion") + 1, "zlibVersion"};
	targets[3] = (struct target){(uintptr_t)dlsym(libc, "qsort") + 1, "qsort"};
	targets[4] = (struct target){(uintptr_t)&bss_variable, NULL};
	for (int i = 1; i < 4; i++)
		REQUIRE(targets[i].pc > 1);
	pthread_t th[NTHREADS];
	for (uintptr_t i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&th[i], NULL, lookup_thread, (void *)i) == 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *bad;
		pthread_join(th[i], &bad);
		CHECKF(bad == NULL, "thread %d: %ld wrong answers", i, (long)bad);
	}
}

/* ---- DWARF versions and compressed sections ------------------------------ */

/* The global functions of an executable file, from nm. */
#define NM_MAX 512
static char nm_names[NM_MAX][32];
static uintptr_t nm_addrs[NM_MAX];
static int nm_count;

static void nm_load(const char *exe)
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "nm '%s' 2>/dev/null", exe);
	nm_count = 0;
	FILE *f = popen(cmd, "r");
	if (!f)
		return;
	char line[512], sym[256], type;
	unsigned long a;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx %c %255s", &a, &type, sym) == 3 && type == 'T' && strlen(sym) < 32 &&
		    nm_count < NM_MAX) {
			strcpy(nm_names[nm_count], sym);
			nm_addrs[nm_count++] = a;
		}
	pclose(f);
}

static uintptr_t nm_address(const char *name)
{
	for (int i = 0; i < nm_count; i++)
		if (strcmp(nm_names[i], name) == 0)
			return nm_addrs[i];
	return 0;
}

static void test_dwarf_versions(void)
{
	char dir[] = "/tmp/gort_symtab_dwarfXXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char src[PATH_MAX], exe[PATH_MAX + 8];
	snprintf(src, sizeof src, "%s/src.c", dir);
	snprintf(exe, sizeof exe, "%s/a.out", dir);
	FILE *f = fopen(src, "w");
	REQUIRE(f != NULL);
	/* target on lines 1-4; f<i> on line 5 + i; enough code that the linker
	 * finds compressing the debug sections worth it. */
	fprintf(f, "int target(int x)\n{\n\treturn x * 3 + 1;\n}\n");
	for (int i = 0; i < 300; i++)
		fprintf(f, "int f%d(int x) { if (x > %d) return x - %d; return x * %d; }\n", i, i, i, i);
	fprintf(f, "int main(void) { return target(1); }\n");
	fclose(f);
	static const char *const configs[] = {
		"gcc -gdwarf-2", "gcc -gdwarf-3", "gcc -gdwarf-4", "gcc -gdwarf-5",
		"clang -gdwarf-2", "clang -gdwarf-3", "clang -gdwarf-4", "clang -gdwarf-5",
		"gcc -gdwarf-5 -gz=zlib", "gcc -gdwarf-4 -gz=zlib-gnu", "clang -gdwarf-5 -gz=zlib",
		"gcc -gdwarf-5 -O2", "gcc -gdwarf-5 -no-pie", "gcc -gdwarf64 -gdwarf-5",
	};
	int done = 0;
	for (unsigned c = 0; c < ARRAY_LEN(configs); c++) {
		char cmd[3 * PATH_MAX];
		snprintf(cmd, sizeof cmd, "%s -g -o '%s' '%s' >/dev/null 2>&1", configs[c], exe, src);
		unlink(exe);
		if (system(cmd) != 0) {
			printf("    (%s: cannot compile here, skipped)\n", configs[c]);
			continue;
		}
		size_t size;
		unsigned char *img = read_file(exe, &size);
		nm_load(exe);
		uintptr_t t = nm_address("target"), f150 = nm_address("f150");
		if (!img || !t || !f150) {
			free(img);
			printf("    (%s: no nm, skipped)\n", configs[c]);
			continue;
		}
		char func[256], file[PATH_MAX];
		uint32_t line;
		CHECKF(symtab_probe_image(img, size, t, func, sizeof func, file, sizeof file, &line), "%s", configs[c]);
		CHECKF(strcmp(func, "target") == 0, "%s: func %s", configs[c], func);
		CHECKF(strcmp(file, src) == 0, "%s: file %s, want %s", configs[c], file, src);
		CHECK(symtab_probe_image(img, size, f150 + 2, func, sizeof func, file, sizeof file, &line));
		CHECKF(strcmp(func, "f150") == 0 && line == 155, "%s: f150+2 is %s line %u", configs[c], func, line);
		/* file:line as addr2line has them, at and inside many functions. */
		int agree = 0, total = 0;
		char a2l[64 * 24 + 256];
		int n = snprintf(a2l, sizeof a2l, "addr2line -e '%s' 2>/dev/null", exe);
		uintptr_t addrs[64];
		int naddrs = 0;
		for (int i = 0; i < 300 && naddrs + 3 <= 64; i += 23) {
			char name[16];
			snprintf(name, sizeof name, "f%d", i);
			uintptr_t a = nm_address(name);
			for (int off = 0; a && off < 12; off += 5)
				addrs[naddrs++] = a + (uintptr_t)off;
		}
		for (int i = 0; i < naddrs; i++)
			n += snprintf(a2l + n, sizeof a2l - (size_t)n, " %#lx", (unsigned long)addrs[i]);
		FILE *p = popen(a2l, "r");
		char out[PATH_MAX + 64];
		for (int i = 0; p && i < naddrs && fgets(out, sizeof out, p); i++) {
			char *colon = strrchr(out, ':');
			if (!colon || out[0] == '?')
				continue;
			*colon = 0;
			unsigned want = (unsigned)strtoul(colon + 1, NULL, 10); /* drops " (discriminator N)" */
			symtab_probe_image(img, size, addrs[i], func, sizeof func, file, sizeof file, &line);
			total++;
			if (strcmp(file, out) == 0 && line == want)
				agree++;
			else
				fprintf(stderr, "    %s: %#lx: %s:%u, addr2line %s:%u\n", configs[c],
					(unsigned long)addrs[i], file, line, out, want);
		}
		if (p)
			pclose(p);
		/* No answer: no addr2line, or one that cannot read the file
		 * (binutils 2.40 and gcc's 64-bit DWARF 5). */
		if (total == 0)
			printf("    (%s: addr2line gave no answer; not compared)\n", configs[c]);
		else
			CHECKF(total > 20 && agree == total, "%s: %d of %d agree with addr2line", configs[c], agree,
			       total);
		free(img);
		done++;
	}
	printf("    %d of %zu configurations compiled and checked\n", done, ARRAY_LEN(configs));
	unlink(exe);
	unlink(src);
	rmdir(dir);
}

/* ---- the fuzzer ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct region {
	size_t off, len;
};

static void test_fuzz_image(void)
{
	size_t size;
	unsigned char *img = read_file("/proc/self/exe", &size);
	REQUIRE(img != NULL && size > sizeof(ElfW(Ehdr)));
	symtab_info si;
	REQUIRE(symtab_object((uintptr_t)&static_target, &si));
	uintptr_t pc = 0;
	static_target(&pc);
	uintptr_t addrs[] = {
		pc - 1 - si.object_bias,
		(uintptr_t)&symtab_global_target - si.object_bias,
		(uintptr_t)&grab - si.object_bias,
		0, 0x1000,
	};
	char func[256], file[PATH_MAX];
	uint32_t line;

	/* The undamaged image agrees with the live lookup. */
	REQUIRE(symtab_probe_image(img, size, addrs[0], func, sizeof func, file, sizeof file, &line));
	CHECKF(strcmp(func, "static_target") == 0, "func %s", func);
	CHECKF(strcmp(base_name(file), "test_symtab.c") == 0, "file %s", file);
	CHECK(line == (uint32_t)grab_line);

	/* The regions worth damaging: headers, symbol and string tables, the
	 * line program and its strings. */
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)img;
	struct region regions[16];
	int nreg = 0, line_region = -1;
	regions[nreg++] = (struct region){0, sizeof *eh};
	REQUIRE(eh->e_shoff < size && eh->e_shnum * sizeof(ElfW(Shdr)) <= size - eh->e_shoff);
	regions[nreg++] = (struct region){eh->e_shoff, eh->e_shnum * sizeof(ElfW(Shdr))};
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(img + eh->e_shoff);
	const char *shstr = (const char *)img + sh[eh->e_shstrndx].sh_offset;
	static const char *const wanted[] = {".symtab", ".strtab", ".dynsym", ".dynstr", ".debug_line",
					     ".debug_line_str", ".shstrtab"};
	for (unsigned i = 1; i < eh->e_shnum && nreg < 16; i++)
		for (unsigned w = 0; w < ARRAY_LEN(wanted); w++)
			if (strcmp(shstr + sh[i].sh_name, wanted[w]) == 0 && sh[i].sh_size) {
				if (strcmp(wanted[w], ".debug_line") == 0)
					line_region = nreg;
				regions[nreg++] = (struct region){sh[i].sh_offset, sh[i].sh_size};
			}
	CHECKF(nreg >= 8 && line_region >= 0, "%d regions", nreg);

	unsigned char *copy = malloc(size);
	REQUIRE(copy != NULL);
	int parsed = 0;
	for (int iter = 0; iter < 300; iter++) {
		memcpy(copy, img, size);
		size_t len = size;
		/* Half the damage goes to the line program, the most intricate. */
		struct region r = regions[rng() % 2 && line_region >= 0 ? line_region : (int)(rng() % (uint64_t)nreg)];
		int kind = (int)(rng() % 4);
		if (kind == 3) {
			len = r.off + rng() % (r.len + 1); /* truncated in that region */
		} else {
			int flips = 1 + (int)(rng() % (kind == 0 ? 4 : 64));
			for (int k = 0; k < flips; k++) {
				size_t at = r.off + rng() % r.len;
				copy[at] = kind == 2 ? (unsigned char)(rng() >> 8) : (unsigned char)(copy[at] ^ (1u << (rng() % 8)));
			}
		}
		for (unsigned a = 0; a < ARRAY_LEN(addrs); a++)
			parsed += symtab_probe_image(copy, len, addrs[a], func, sizeof func, file, sizeof file, &line);
	}
	printf("    300 damaged images, %d probes parsed\n", parsed);
	free(copy);
	free(img);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--deleted-child") == 0)
		return deleted_child();
	RUN(test_concurrent_lookups);
	RUN(test_dwarf_versions);
	RUN(test_global_function);
	RUN(test_static_function);
	RUN(test_inside_function);
	RUN(test_libc_function);
	RUN(test_vdso);
	RUN(test_unknown_address);
	RUN(test_build_id);
	RUN(test_deleted_library);
	RUN(test_replaced_library);
	RUN(test_deleted_executable);
	RUN(test_fuzz_image);
	TEST_EXIT();
}
