/*
 * dlcaller.c: dlopen on behalf of the code that called gort's dlopen.
 *
 * gort interposes dlopen (roots.c), and glibc's dlopen looks at its return
 * address to learn who called it: a bare name is searched along that
 * object's paths and $ORIGIN means that object's directory.  Called from
 * gort, the real dlopen would search gort's paths (it has none) and a
 * program whose RUNPATH names its plugin directory could not load a
 * plugin.  So the caller's search is done here, in the loader's order:
 * an object already loaded under that name; the directories dlinfo lists
 * for the caller (RUNPATH or the RPATH chain, LD_LIBRARY_PATH), each tried
 * if it holds an ELF file of this machine, as the loader skips a file it
 * cannot use; then the real dlopen of the bare name, which goes on with
 * the loader's cache and default directories, in that order.  (The
 * libraries carry a RUNPATH no directory can be found under, so that this
 * last search on gort's behalf uses no RPATH: not the program's, which
 * the loader would otherwise search for a caller without a RUNPATH.)  A file found is opened by
 * its path; whatever that dlopen says (even an error) is the answer, as
 * it would be the loader's.  The loader remembers the name an object was
 * asked for and answers it later from the loaded objects; opened by its
 * path, it knows the object by path and soname only, so the names this
 * file found are remembered here (aliases, under dl_lock) and tried, as
 * paths, before any search.
 * Not reproduced: DF_1_NODEFLIB on the caller (the cache and default
 * directories are searched anyway); an object without a soname that the
 * loader loaded by a bare name of its own (a DT_NEEDED entry) answers a
 * dlopen of that name only if the caller's search finds the same file; the glibc-hwcaps subdirectories of the
 * caller's own directories (dlinfo does not list them); secure-mode
 * (setuid) programs get the real dlopen unchanged.
 */
#define _GNU_SOURCE
#include "dlcaller.h"
#include "dynelf.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#if defined(__x86_64__)
#define DL_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define DL_MACHINE EM_AARCH64
#endif

/* Whether path is an ELF object the loader could map here (its check
 * before mapping: magic, class, byte order, machine). */
static bool elf_usable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ElfW(Ehdr) eh;
	bool ok = read(fd, &eh, sizeof eh) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
		  eh.e_ident[EI_CLASS] == (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) &&
		  eh.e_ident[EI_DATA] == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB);
#ifdef DL_MACHINE
	ok = ok && eh.e_machine == DL_MACHINE;
#endif
	close(fd);
	return ok;
}

/* The directory of the object map (the loader's $ORIGIN) into buf. */
static bool origin_of(const struct link_map *map, char *buf, size_t len)
{
	ssize_t n;
	if (!map->l_name || !map->l_name[0]) {
		/* The program: its file, as the kernel names it. */
		n = readlink("/proc/self/exe", buf, len - 1);
		if (n <= 0)
			return false;
		buf[n] = 0;
	} else if (map->l_name[0] == '/') {
		size_t l = strlen(map->l_name);
		if (l >= len)
			return false;
		memcpy(buf, map->l_name, l + 1);
	} else {
		if (!getcwd(buf, len))
			return false;
		size_t l = strlen(buf), m = strlen(map->l_name);
		if (l + 1 + m >= len)
			return false;
		buf[l] = '/';
		memcpy(buf + l + 1, map->l_name, m + 1);
	}
	char *slash = strrchr(buf, '/');
	if (!slash)
		return false;
	*(slash == buf ? slash + 1 : slash) = 0;
	return true;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* file with each $ORIGIN (not followed by a name character, as the loader
 * reads it) or ${ORIGIN} replaced by origin, into out; false if it does
 * not fit. */
static bool expand_origin(const char *file, const char *origin, char *out, size_t len)
{
	size_t o = 0, olen = strlen(origin);
	for (const char *p = file; *p;) {
		size_t skip = 0;
		if (!strncmp(p, "$ORIGIN", 7) && !name_char(p[7]))
			skip = 7;
		else if (!strncmp(p, "${ORIGIN}", 9))
			skip = 9;
		if (skip) {
			if (o + olen >= len)
				return false;
			memcpy(out + o, origin, olen);
			o += olen;
			p += skip;
		} else {
			if (o + 1 >= len)
				return false;
			out[o++] = *p++;
		}
	}
	out[o] = 0;
	return true;
}

/* Bare names this file found objects under, with the objects' load names.
 * An entry may outlive its object (dlclose): it is only matched against
 * objects loaded now.  A ring: the oldest goes when it is full. */
#define DL_ALIASES 32
static struct {
	char *name, *path;
} aliases[DL_ALIASES];
static unsigned alias_next;

/* malloc and free as this object binds them (strdup's malloc is libc's
 * lookup, which need not be the free this file calls). */
static char *copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = malloc(n);
	if (c)
		memcpy(c, s, n);
	return c;
}

static void alias_add(const char *name, const char *path)
{
	for (unsigned i = 0; i < DL_ALIASES; i++)
		if (aliases[i].name && !strcmp(aliases[i].name, name) && !strcmp(aliases[i].path, path))
			return;
	char *n = copy(name), *p = copy(path);
	if (!n || !p) {
		free(n);
		free(p);
		return;
	}
	unsigned i = alias_next++ % DL_ALIASES;
	free(aliases[i].name);
	free(aliases[i].path);
	aliases[i].name = n;
	aliases[i].path = p;
}

struct name_match {
	const char *name;
	char path[PATH_MAX]; /* the object's name as loaded, when found */
};

/* Whether the object is known by m->name: its name as loaded, its
 * DT_SONAME, or a name this file found it under (dl_iterate_phdr goes in
 * load order, as the loader's own match does). */
static int match_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct name_match *m = arg;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0; /* the program */
	bool hit = !strcmp(info->dlpi_name, m->name);
	for (unsigned i = 0; i < DL_ALIASES && !hit; i++)
		hit = aliases[i].name && !strcmp(aliases[i].name, m->name) && !strcmp(aliases[i].path, info->dlpi_name);
	const ElfW(Dyn) *dyn = hit ? NULL : dyn_section(info);
	if (dyn) {
		uintptr_t strtab = 0, soname = 0;
		bool has_soname = false;
		for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
			if (d->d_tag == DT_STRTAB)
				strtab = d->d_un.d_ptr;
			else if (d->d_tag == DT_SONAME) {
				soname = d->d_un.d_val;
				has_soname = true;
			}
		}
		strtab = dyn_addr(info, strtab);
		hit = has_soname && strtab && !strcmp((const char *)strtab + soname, m->name);
	}
	if (!hit || strlen(info->dlpi_name) >= sizeof m->path)
		return 0;
	memcpy(m->path, info->dlpi_name, strlen(info->dlpi_name) + 1);
	return 1;
}

/* The object loaded already under name, as the loader would answer it
 * (counting the reference); NULL if none.  Matched here: the loader's
 * RTLD_NOLOAD would also search its paths for gort, not for the caller,
 * and answer with whatever file it found there if that is loaded. */
static void *open_loaded(dlopen_fn real, const char *name, int mode)
{
	struct name_match m = {.name = name};
	return dl_iterate_phdr(match_object, &m) ? real(m.path, mode | RTLD_NOLOAD) : NULL;
}

/* The loader's search list for map (dlinfo RTLD_DI_SERINFO), malloc'd;
 * NULL if it cannot say. */
static Dl_serinfo *search_list(struct link_map *map)
{
	Dl_serinfo size;
	if (dlinfo(map, RTLD_DI_SERINFOSIZE, &size) != 0)
		return NULL;
	Dl_serinfo *si = malloc(size.dls_size);
	if (!si)
		return NULL;
	si->dls_size = size.dls_size;
	si->dls_cnt = size.dls_cnt;
	if (dlinfo(map, RTLD_DI_SERINFO, si) != 0) {
		free(si);
		return NULL;
	}
	return si;
}

/* Searches the caller's directories for name; dlopens the first usable
 * file.  *found says whether one was.  The list ends with the loader's
 * default directories (glibc flags no entry as such), which it searches
 * only after its cache: they are left to the real dlopen, found as the
 * tail the caller's list shares with gort's own (which has no RPATH or
 * RUNPATH of its own). */
static void *open_along(dlopen_fn real, struct link_map *map, struct link_map *self, const char *name, int mode,
			bool *found)
{
	*found = false;
	Dl_serinfo *si = search_list(map), *own = search_list(self);
	if (!si) {
		free(own);
		return NULL;
	}
	unsigned n = si->dls_cnt;
	for (unsigned k = own ? own->dls_cnt : 0; n > 0 && k > 0; n--, k--)
		if (strcmp(si->dls_serpath[n - 1].dls_name, own->dls_serpath[k - 1].dls_name) != 0)
			break;
	void *h = NULL;
	char path[PATH_MAX];
	size_t nl = strlen(name);
	for (unsigned i = 0; i < n && !*found; i++) {
		const char *dir = si->dls_serpath[i].dls_name;
		size_t dl = strlen(dir);
		if (dl + 1 + nl >= sizeof path)
			continue;
		memcpy(path, dir, dl);
		path[dl] = '/';
		memcpy(path + dl + 1, name, nl + 1);
		if (elf_usable(path)) {
			*found = true;
			h = real(path, mode);
			/* Under the name the object was loaded by: if it was
			 * loaded already (by another path), that one's. */
			struct link_map *lm = NULL;
			if (h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name)
				alias_add(name, lm->l_name);
		}
	}
	free(si);
	free(own);
	return h;
}

void *dl_open_as_caller(dlopen_fn real, const void *caller, const char *file, int mode)
{
	if (!file || getauxval(AT_SECURE))
		return real(file, mode);
	bool bare = !strchr(file, '/'), dst = strchr(file, '$') != NULL;
	if (bare == dst) /* a path without $ (nothing to do), or a bare $name */
		return real(file, mode);
	Dl_info info;
	struct link_map *map = NULL, *self = NULL;
	if (!dladdr1(caller, &info, (void **)&map, RTLD_DL_LINKMAP) || !map ||
	    !dladdr1((const void *)dl_open_as_caller, &info, (void **)&self, RTLD_DL_LINKMAP) || !self || map == self)
		return real(file, mode);
	if (dst) {
		char origin[PATH_MAX], path[PATH_MAX], ours[PATH_MAX];
		if (!strstr(file, "ORIGIN") || !origin_of(map, origin, sizeof origin) ||
		    !expand_origin(file, origin, path, sizeof path))
			return real(file, mode);
		/* Nothing there: the loader's error names the file as given.
		 * Asked for it, the loader would look in gort's directory
		 * instead, so only when nothing is there either. */
		if (access(path, F_OK) != 0 && origin_of(self, origin, sizeof origin) &&
		    expand_origin(file, origin, ours, sizeof ours) && access(ours, F_OK) != 0)
			return real(file, mode);
		return real(path, mode);
	}
	/* Loaded already under that name: the loader answers before it
	 * searches (and counts the reference, as a full dlopen would). */
	void *h = open_loaded(real, file, mode);
	if (h || (mode & RTLD_NOLOAD))
		return h;
	bool found;
	h = open_along(real, map, self, file, mode, &found);
	return found ? h : real(file, mode);
}
