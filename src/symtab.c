/*
 * symtab.c: the in-process symbolizer (see symtab.h).
 *
 * Owns: the cache of loaded objects (symobj records, a list under
 * symtab_lock, in a never-freed arena), each with its function table
 * (sorted by address, one name per address) and its line table (rows of
 * DWARF .debug_line sorted by address, an end row closing each sequence),
 * held in the object's own arena and os_alloc vectors.  Invariants: a
 * symobj, once in the list, is never freed or moved, and its tables are
 * written once (under symtab_lock, on first use) and never change: the
 * strings handed out stay valid for the life of the process.  An object unloaded with dlclose keeps its
 * entry (found again only if the same file comes back at the same
 * address): the cache is keyed by (name, load bias, first segment, build
 * ID), so a different library loaded at a recycled address gets an entry
 * of its own.
 *
 * Files are read with pread into os_alloc buffers, never mmap'ed: a file
 * truncated while we read it yields a short read (no name), not SIGBUS.
 * Every offset, size and count read from a file is bounds-checked; a
 * malformed section costs its information, never a crash.  Nothing here
 * calls malloc, directly or through libc: no stdio, no qsort (glibc's may
 * malloc a merge buffer), no realpath; zlib gets os_alloc-backed
 * allocation functions and is loaded before symtab_lock is taken.  Go's runtime has its symbol table in memory
 * (pclntab); a C program's is in its ELF files, so this is the part of
 * runtime/symtab.go that C needs.
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "symtab.h"
#include "dwread.h"
#include "os.h"
#include "osvec.h"
#include "zload.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define ARENA_CHUNK_BYTES ((uintptr_t)256 << 10)
#define MAX_SECTION_BYTES ((uint64_t)1 << 30) /* larger sections (or inflated ones) are ignored */
#define MAX_SEGS 16          /* PT_LOAD segments remembered per object */
#define MAX_BUILD_ID_BYTES 64 /* SHA-1 needs 20; longer IDs are not GNU's */
#define NEST_LOOKBACK 8      /* earlier symbols examined for one enclosing pc */
#define DEBUG_DIR "/usr/lib/debug/.build-id/"

/* ---- memory: arenas, os_alloc vectors, a sort ----------------------------- */

static pthread_mutex_t symtab_lock = PTHREAD_MUTEX_INITIALIZER;

/* A bump arena: chunks from os_alloc, linked through their first word so
 * that arena_free can return them. */
typedef struct arena {
	char *cur;
	uintptr_t left;
	void *chunks;
} arena;

static arena global_arena; /* symobj records: never freed (symtab_lock) */

static void *arena_chunk(arena *a, uintptr_t n)
{
	uintptr_t *c = os_alloc(n + 16);
	if (!c)
		return NULL;
	c[0] = (uintptr_t)a->chunks;
	c[1] = n + 16;
	a->chunks = c;
	return c + 2;
}

/* Zeroed, 8-aligned; NULL when the OS refuses. */
static void *arena_alloc(arena *a, uintptr_t n)
{
	n = align_up(n ? n : 1, 8);
	if (n > a->left) {
		if (n >= ARENA_CHUNK_BYTES / 4)
			return arena_chunk(a, n); /* its own chunk: the current one's tail stays usable */
		char *c = arena_chunk(a, ARENA_CHUNK_BYTES);
		if (!c)
			return NULL;
		a->cur = c;
		a->left = ARENA_CHUNK_BYTES;
	}
	void *p = a->cur;
	a->cur += n;
	a->left -= n;
	return p;
}

static const char *arena_strndup(arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	if (p)
		memcpy(p, s, len); /* the arena is zeroed: p[len] is already 0 */
	return p;
}

static void arena_free(arena *a)
{
	for (uintptr_t *c = a->chunks; c;) {
		uintptr_t *next = (uintptr_t *)c[0];
		os_free(c, c[1]);
		c = next;
	}
	memset(a, 0, sizeof *a);
}

/* A stable merge sort for arrays of T ordered by LESS(const T *, const T *),
 * with its buffer from os_alloc: qsort's job without qsort's malloc.  Runs
 * already in order cost one comparison per merge, and tables read from
 * ELF files mostly are.  False (array unchanged) when the OS refuses the
 * buffer. */
#define DEFINE_SORT(NAME, T, LESS)                                                      \
	static void NAME##_rec(T *a, T *tmp, uintptr_t n)                               \
	{                                                                               \
		if (n < 16) {                                                           \
			for (uintptr_t i = 1; i < n; i++) {                             \
				T x = a[i];                                             \
				uintptr_t j = i;                                        \
				for (; j > 0 && LESS(&x, &a[j - 1]); j--)               \
					a[j] = a[j - 1];                                \
				a[j] = x;                                               \
			}                                                               \
			return;                                                         \
		}                                                                       \
		uintptr_t h = n / 2, i = 0, j = h, k = 0;                               \
		NAME##_rec(a, tmp, h);                                                  \
		NAME##_rec(a + h, tmp, n - h);                                          \
		if (!LESS(&a[h], &a[h - 1]))                                            \
			return;                                                         \
		memcpy(tmp, a, h * sizeof(T));                                          \
		while (i < h && j < n)                                                  \
			a[k++] = LESS(&a[j], &tmp[i]) ? a[j++] : tmp[i++];              \
		while (i < h)                                                           \
			a[k++] = tmp[i++];                                              \
	}                                                                               \
	static bool NAME(T *a, uintptr_t n)                                             \
	{                                                                               \
		if (n < 2)                                                              \
			return true;                                                    \
		uintptr_t bytes = (n / 2 + 1) * sizeof(T);                              \
		T *tmp = os_alloc(bytes);                                               \
		if (!tmp)                                                               \
			return false;                                                   \
		NAME##_rec(a, tmp, n);                                                  \
		os_free(tmp, bytes);                                                    \
		return true;                                                            \
	}

static char *fmt_hex(char *out, uint64_t v)
{
	char tmp[16];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*out++ = tmp[--n];
	*out = 0;
	return out;
}

/* Copies src after dst's current contents within a buffer of cap bytes;
 * false (dst still a string) when it does not fit. */
static bool str_append(char *dst, size_t cap, const char *src)
{
	size_t a = strlen(dst), b = strlen(src);
	if (a + b + 1 > cap)
		return false;
	memcpy(dst + a, src, b + 1);
	return true;
}

/* ---- the object cache --------------------------------------------------- */

struct seg {
	uintptr_t vaddr, memsz; /* file (link-time) addresses */
	uint64_t offset;
	bool exec;
};

struct sym {
	uintptr_t addr, size; /* file addresses; size-0 symbols extended to the next one */
	const char *name;
};

#define ROW_END UINT32_MAX         /* file of an end-of-sequence row */
#define FILE_NONE (UINT32_MAX - 1) /* a row whose file is unknown */

struct lrow {
	uintptr_t addr; /* file address */
	uint32_t file;  /* index into symobj.files, FILE_NONE or ROW_END */
	uint32_t line;
};

typedef struct symobj {
	struct symobj *next;
	uintptr_t bias;
	const char *dlname; /* as dl_iterate_phdr names it ("" for the executable) */
	const char *path;   /* what symtab_info.object reports */
	const char *build_id;
	uint8_t build_id_raw[MAX_BUILD_ID_BYTES];
	uint32_t build_id_len;
	struct seg segs[MAX_SEGS];
	unsigned nsegs;
	uintptr_t ehdr_addr; /* runtime address of the ELF header, 0 if not mapped */
	bool loaded;         /* tables read (or found missing) */
	arena mem;           /* syms, their names, files' names */
	struct sym *syms;
	uintptr_t nsyms;
	struct lrow *rows;  /* os_alloc'ed, rows_cap elements */
	uintptr_t nrows, rows_cap;
	const char **files; /* os_alloc'ed, files_cap elements */
	uint32_t nfiles;
	uintptr_t files_cap;
} symobj;

static symobj *objs; /* symtab_lock */

/* What dl_iterate_phdr tells about the object holding an address; copied
 * out of the callback so that no file is read under the loader's lock. */
struct found {
	uintptr_t pc;
	bool ok;
	uintptr_t bias;
	char name[PATH_MAX];
	struct seg segs[MAX_SEGS];
	unsigned nsegs;
	uintptr_t ehdr_addr;
	uint8_t build_id[MAX_BUILD_ID_BYTES];
	uint32_t build_id_len;
};

/* Finds the GNU build ID in a block of ELF notes (align is the segment's
 * or section's alignment: 4, or 8 for some notes). */
static bool notes_build_id(const uint8_t *p, uintptr_t n, uintptr_t align, uint8_t *out, uint32_t *outlen)
{
	if (align != 8)
		align = 4;
	uintptr_t off = 0;
	while (off <= n && n - off >= sizeof(ElfW(Nhdr))) {
		ElfW(Nhdr) nh;
		memcpy(&nh, p + off, sizeof nh);
		off += sizeof nh;
		uintptr_t namesz = align_up(nh.n_namesz, align), descsz = align_up(nh.n_descsz, align);
		if (namesz > n - off || descsz > n - off - namesz)
			return false;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(p + off, "GNU", 4) == 0 &&
		    nh.n_descsz > 0 && nh.n_descsz <= MAX_BUILD_ID_BYTES) {
			memcpy(out, p + off + namesz, nh.n_descsz);
			*outlen = nh.n_descsz;
			return true;
		}
		off += namesz + descsz;
	}
	return false;
}

/* A note segment is read in memory only where a PT_LOAD maps it. */
static bool note_mapped(const struct dl_phdr_info *info, const ElfW(Phdr) *note)
{
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && note->p_vaddr >= ph->p_vaddr &&
		    note->p_memsz <= ph->p_memsz && note->p_vaddr - ph->p_vaddr <= ph->p_memsz - note->p_memsz)
			return true;
	}
	return false;
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct found *f = arg;
	(void)size;
	bool hit = false;
	for (unsigned i = 0; i < info->dlpi_phnum && !hit; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		hit = ph->p_type == PT_LOAD && f->pc >= lo && f->pc - lo < ph->p_memsz;
	}
	if (!hit)
		return 0;
	f->ok = true;
	f->bias = info->dlpi_addr;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	size_t len = strnlen(name, sizeof f->name - 1);
	memcpy(f->name, name, len);
	f->name[len] = 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && f->nsegs < MAX_SEGS) {
			struct seg *s = &f->segs[f->nsegs++];
			s->vaddr = ph->p_vaddr;
			s->memsz = ph->p_memsz;
			s->offset = ph->p_offset;
			s->exec = (ph->p_flags & PF_X) != 0;
			if (ph->p_offset == 0)
				f->ehdr_addr = info->dlpi_addr + ph->p_vaddr;
		}
		if (ph->p_type == PT_NOTE && f->build_id_len == 0 && note_mapped(info, ph))
			notes_build_id((const uint8_t *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz, ph->p_align,
				       f->build_id, &f->build_id_len);
	}
	return 1;
}

/* The readlink of /proc/self/exe, without " (deleted)". */
static void exe_path(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	static const char deleted[] = " (deleted)";
	size_t dl = sizeof deleted - 1;
	if ((size_t)n >= dl && memcmp(buf + n - dl, deleted, dl) == 0)
		buf[n - dl] = 0;
}

/* The cached object holding pc, created (without its tables) on first
 * sight; NULL when pc is in no loaded object.  symtab_lock held; f was
 * filled by dl_iterate_phdr before the lock was taken. */
static symobj *object_for(const struct found *f)
{
	for (symobj *o = objs; o; o = o->next)
		if (o->bias == f->bias && strcmp(o->dlname, f->name) == 0 && o->nsegs == f->nsegs &&
		    (o->nsegs == 0 || (o->segs[0].vaddr == f->segs[0].vaddr && o->segs[0].memsz == f->segs[0].memsz)) &&
		    o->build_id_len == f->build_id_len && memcmp(o->build_id_raw, f->build_id, f->build_id_len) == 0)
			return o;
	symobj *o = arena_alloc(&global_arena, sizeof *o);
	if (!o)
		return NULL;
	o->bias = f->bias;
	o->dlname = arena_strndup(&global_arena, f->name, strlen(f->name));
	if (!o->dlname)
		return NULL;
	if (f->name[0] == 0) {
		char buf[PATH_MAX];
		exe_path(buf, sizeof buf);
		o->path = arena_strndup(&global_arena, buf, strlen(buf));
	} else {
		o->path = o->dlname;
	}
	memcpy(o->segs, f->segs, sizeof o->segs);
	o->nsegs = f->nsegs;
	o->ehdr_addr = f->ehdr_addr;
	memcpy(o->build_id_raw, f->build_id, sizeof o->build_id_raw);
	o->build_id_len = f->build_id_len;
	if (f->build_id_len) {
		char *hex = arena_alloc(&global_arena, 2 * f->build_id_len + 1);
		if (hex) {
			for (uint32_t i = 0; i < f->build_id_len; i++) {
				hex[2 * i] = "0123456789abcdef"[f->build_id[i] >> 4];
				hex[2 * i + 1] = "0123456789abcdef"[f->build_id[i] & 15];
			}
			o->build_id = hex;
		}
	}
	o->next = objs;
	objs = o;
	return o;
}

/* ---- ELF files ---------------------------------------------------------- */

typedef struct elf_file {
	int fd;                 /* -1 when reading from memory */
	const uint8_t *mem;     /* the vDSO's image */
	uint64_t size;
	ElfW(Ehdr) eh;
	ElfW(Shdr) *sh;         /* os_alloc'ed */
	uintptr_t shnum;
	char *shstr;            /* os_alloc'ed, NUL-terminated copy */
	uint64_t shstr_size;
} elf_file;

/* A section's contents, inflated if it was compressed; os_alloc'ed. */
typedef struct blob {
	uint8_t *p;
	uint64_t len;
	uintptr_t map_bytes; /* what to os_free */
} blob;

static void blob_free(blob *b)
{
	if (b->p)
		os_free(b->p, b->map_bytes);
	b->p = NULL;
	b->len = b->map_bytes = 0;
}

static bool read_at(const elf_file *f, uint64_t off, void *buf, uint64_t n)
{
	if (n > f->size || off > f->size - n)
		return false;
	if (f->mem) {
		memcpy(buf, f->mem + off, n);
		return true;
	}
	uint8_t *p = buf;
	while (n) {
		ssize_t r = pread(f->fd, p, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		off += (uint64_t)r;
		n -= (uint64_t)r;
	}
	return true;
}

static void elf_close(elf_file *f)
{
	if (f->sh)
		os_free(f->sh, f->shnum * sizeof(ElfW(Shdr)));
	if (f->shstr)
		os_free(f->shstr, f->shstr_size + 1);
	if (f->fd >= 0)
		close(f->fd);
	f->sh = NULL;
	f->shstr = NULL;
	f->fd = -1;
}

/* Reads and checks the headers of f (fd or mem and size already set).
 * False for anything but a native-class, native-endian ELF file with
 * readable section headers; f is then closed. */
static bool elf_open(elf_file *f)
{
	static const uint8_t data = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
	ElfW(Ehdr) *eh = &f->eh;
	if (!read_at(f, 0, eh, sizeof *eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) || eh->e_ident[EI_DATA] != data ||
	    eh->e_shoff == 0 || eh->e_shentsize != sizeof(ElfW(Shdr)))
		goto fail;
	uintptr_t shnum = eh->e_shnum, shstrndx = eh->e_shstrndx;
	if (shnum == 0 || shstrndx == SHN_XINDEX) { /* extended numbering: the counts are in section 0 */
		ElfW(Shdr) s0;
		if (!read_at(f, eh->e_shoff, &s0, sizeof s0))
			goto fail;
		if (shnum == 0)
			shnum = s0.sh_size;
		if (shstrndx == SHN_XINDEX)
			shstrndx = s0.sh_link;
	}
	if (shnum == 0 || shnum > f->size / sizeof(ElfW(Shdr)) || shstrndx >= shnum)
		goto fail;
	f->sh = os_alloc(shnum * sizeof(ElfW(Shdr)));
	if (!f->sh)
		goto fail;
	f->shnum = shnum;
	if (!read_at(f, eh->e_shoff, f->sh, shnum * sizeof(ElfW(Shdr))))
		goto fail;
	const ElfW(Shdr) *ss = &f->sh[shstrndx];
	if (ss->sh_type == SHT_NOBITS || ss->sh_size > MAX_SECTION_BYTES)
		goto fail;
	f->shstr = os_alloc(ss->sh_size + 1);
	if (!f->shstr)
		goto fail;
	f->shstr_size = ss->sh_size;
	if (!read_at(f, ss->sh_offset, f->shstr, ss->sh_size))
		goto fail;
	return true;
fail:
	elf_close(f);
	return false;
}

static bool elf_open_path(elf_file *f, const char *path)
{
	memset(f, 0, sizeof *f);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return false;
	struct stat st;
	if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(f->fd);
		f->fd = -1;
		return false;
	}
	f->size = (uint64_t)st.st_size;
	return elf_open(f);
}

static const char *section_name(const elf_file *f, uintptr_t i)
{
	uint32_t off = f->sh[i].sh_name;
	return off < f->shstr_size ? f->shstr + off : ""; /* shstr has a NUL past its end */
}

/* The index of the first section named name with contents, or 0 (the null
 * section) when there is none. */
static uintptr_t section_find(const elf_file *f, const char *name)
{
	for (uintptr_t i = 1; i < f->shnum; i++)
		if (f->sh[i].sh_type != SHT_NOBITS && strcmp(section_name(f, i), name) == 0)
			return i;
	return 0;
}

static bool inflate_into(const uint8_t *src, uint64_t srclen, blob *out, uint64_t size)
{
	if (size == 0 || size > MAX_SECTION_BYTES || srclen > UINT32_MAX)
		return false;
	const struct zlib_api *zl = zloaded(); /* loaded before symtab_lock (describe) */
	if (!zl)
		return false;
	out->map_bytes = size;
	out->p = os_alloc(size);
	if (!out->p)
		return false;
	z_stream z;
	z_init(&z);
	if (zl->inflateInit_(&z, ZLIB_VERSION, (int)sizeof z) != Z_OK) {
		blob_free(out);
		return false;
	}
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)srclen;
	z.next_out = out->p;
	z.avail_out = (uInt)size;
	int rc = zl->inflate(&z, Z_FINISH);
	out->len = size - z.avail_out;
	zl->inflateEnd(&z);
	if (rc != Z_STREAM_END || out->len != size) {
		blob_free(out);
		return false;
	}
	return true;
}

/* Reads section i, inflating SHF_COMPRESSED (zlib) and .zdebug sections.
 * False (and an empty blob) when it is absent, too big, or unreadable. */
static bool section_read(const elf_file *f, uintptr_t i, blob *out)
{
	memset(out, 0, sizeof *out);
	if (i == 0 || i >= f->shnum)
		return false;
	const ElfW(Shdr) *s = &f->sh[i];
	if (s->sh_type == SHT_NOBITS || s->sh_size == 0 || s->sh_size > MAX_SECTION_BYTES)
		return false;
	blob raw = {.map_bytes = s->sh_size, .len = s->sh_size};
	raw.p = os_alloc(s->sh_size);
	if (!raw.p)
		return false;
	if (!read_at(f, s->sh_offset, raw.p, s->sh_size)) {
		blob_free(&raw);
		return false;
	}
	if (s->sh_flags & SHF_COMPRESSED) {
		ElfW(Chdr) ch;
		bool ok = raw.len >= sizeof ch;
		if (ok) {
			memcpy(&ch, raw.p, sizeof ch);
			ok = ch.ch_type == ELFCOMPRESS_ZLIB &&
			     inflate_into(raw.p + sizeof ch, raw.len - sizeof ch, out, ch.ch_size);
		}
		blob_free(&raw);
		return ok; /* zstd and other schemes: no line table */
	}
	if (strncmp(section_name(f, i), ".zdebug", 7) == 0) {
		/* GNU's older form: "ZLIB", the size as 8 big-endian bytes, the stream. */
		bool ok = raw.len >= 12 && memcmp(raw.p, "ZLIB", 4) == 0;
		if (ok) {
			uint64_t size = 0;
			for (int k = 0; k < 8; k++)
				size = size << 8 | raw.p[4 + k];
			ok = inflate_into(raw.p + 12, raw.len - 12, out, size);
		}
		blob_free(&raw);
		return ok;
	}
	*out = raw;
	return true;
}

/* The GNU build ID among the SHT_NOTE sections of f. */
static bool elf_build_id(const elf_file *f, uint8_t *out, uint32_t *outlen)
{
	for (uintptr_t i = 1; i < f->shnum; i++) {
		if (f->sh[i].sh_type != SHT_NOTE || f->sh[i].sh_size > (1u << 20))
			continue;
		blob b;
		if (!section_read(f, i, &b))
			continue;
		bool ok = notes_build_id(b.p, b.len, f->sh[i].sh_addralign, out, outlen);
		blob_free(&b);
		if (ok)
			return true;
	}
	return false;
}

/* ---- function tables ---------------------------------------------------- */

struct cand {
	uintptr_t addr, size;
	uintptr_t sec_end; /* end of the symbol's section: bound for size-0 symbols */
	const char *name;  /* in a string table still being read */
	uint32_t rank;     /* lower is preferred among aliases */
};

static bool cand_less(const struct cand *x, const struct cand *y)
{
	if (x->addr != y->addr)
		return x->addr < y->addr;
	if (x->rank != y->rank)
		return x->rank < y->rank;
	return strcmp(x->name, y->name) < 0;
}

DEFINE_SORT(sort_cands, struct cand, cand_less)

/* Among aliases (getpid, __getpid, __GI___getpid) the name a programmer
 * wrote is wanted: fewest leading underscores, then global before weak
 * before local. */
static uint32_t sym_rank(const char *name, unsigned bind)
{
	uint32_t u = 0;
	while (name[u] == '_' && u < 7)
		u++;
	return u * 4 + (bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2);
}

/* Appends the function symbols of symbol table section si of f to cands;
 * tabs keeps the string tables alive until the names are copied. */
static void collect_syms(const elf_file *f, uintptr_t si, vec *cands, vec *tabs)
{
	const ElfW(Shdr) *s = &f->sh[si];
	if (s->sh_entsize != sizeof(ElfW(Sym)) || s->sh_link == 0 || s->sh_link >= f->shnum ||
	    f->sh[s->sh_link].sh_type != SHT_STRTAB)
		return;
	blob syms, strs;
	if (!section_read(f, si, &syms))
		return;
	if (!section_read(f, s->sh_link, &strs) || !vec_reserve(tabs, sizeof(blob), 1)) {
		blob_free(&syms);
		blob_free(&strs);
		return;
	}
	((blob *)tabs->p)[tabs->len++] = strs;
	uintptr_t n = syms.len / sizeof(ElfW(Sym));
	for (uintptr_t i = 0; i < n; i++) {
		ElfW(Sym) sym;
		memcpy(&sym, syms.p + i * sizeof sym, sizeof sym);
		unsigned type = ELF64_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    sym.st_shndx >= SHN_LORESERVE || sym.st_shndx >= f->shnum || sym.st_name == 0 ||
		    sym.st_name >= strs.len)
			continue;
		const char *name = (const char *)strs.p + sym.st_name;
		if (!memchr(name, 0, strs.len - sym.st_name) || !vec_reserve(cands, sizeof(struct cand), 1))
			continue;
		const ElfW(Shdr) *sec = &f->sh[sym.st_shndx];
		struct cand *c = &((struct cand *)cands->p)[cands->len++];
		c->addr = sym.st_value;
		c->size = sym.st_size;
		c->sec_end = sec->sh_addr + sec->sh_size;
		c->name = name;
		c->rank = sym_rank(name, ELF64_ST_BIND(sym.st_info));
	}
	blob_free(&syms);
}

/* Sorts the candidates, keeps one name per address, bounds size-0 symbols
 * by the next symbol or their section's end, and copies the result into
 * the arena as o's function table. */
static void build_syms(symobj *o, vec *cands)
{
	struct cand *c = cands->p;
	uintptr_t n = cands->len, m = 0;
	if (!sort_cands(c, n))
		return;
	for (uintptr_t i = 0; i < n; i++) {
		if (m > 0 && c[m - 1].addr == c[i].addr) {
			c[m - 1].size = max_uptr(c[m - 1].size, c[i].size); /* aliases: the widest size */
			continue;
		}
		c[m++] = c[i];
	}
	for (uintptr_t i = 0; i < m; i++) {
		if (c[i].size != 0)
			continue;
		uintptr_t end = c[i].sec_end;
		if (i + 1 < m && c[i + 1].addr < end)
			end = c[i + 1].addr;
		c[i].size = end > c[i].addr ? end - c[i].addr : 0;
	}
	struct sym *syms = m ? arena_alloc(&o->mem, m * sizeof *syms) : NULL;
	if (!syms)
		return;
	uintptr_t k = 0;
	for (uintptr_t i = 0; i < m; i++) {
		const char *name = arena_strndup(&o->mem, c[i].name, strlen(c[i].name));
		if (!name)
			break;
		syms[k].addr = c[i].addr;
		syms[k].size = c[i].size;
		syms[k].name = name;
		k++;
	}
	o->syms = syms;
	o->nsyms = k;
}

static const struct sym *sym_find(const symobj *o, uintptr_t addr)
{
	uintptr_t lo = 0, hi = o->nsyms; /* first symbol above addr */
	while (lo < hi) {
		uintptr_t mid = lo + (hi - lo) / 2;
		if (o->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The nearest symbol below usually holds addr; a few more are tried for
	 * symbols nested in a larger one (hand-written assembly). */
	for (uintptr_t i = lo, k = 0; i > 0 && k < NEST_LOOKBACK; i--, k++) {
		const struct sym *s = &o->syms[i - 1];
		if (addr - s->addr < s->size)
			return s;
	}
	return NULL;
}

/* ---- DWARF .debug_line -------------------------------------------------- */

enum {
	DW_LNS_copy = 1, DW_LNS_advance_pc, DW_LNS_advance_line, DW_LNS_set_file, DW_LNS_set_column,
	DW_LNS_negate_stmt, DW_LNS_set_basic_block, DW_LNS_const_add_pc, DW_LNS_fixed_advance_pc,
	DW_LNS_set_prologue_end, DW_LNS_set_epilogue_begin, DW_LNS_set_isa,
};
enum { DW_LNE_end_sequence = 1, DW_LNE_set_address, DW_LNE_define_file };
enum { DW_LNCT_path = 1, DW_LNCT_directory_index };
enum {
	DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04, DW_FORM_data2 = 0x05, DW_FORM_data4 = 0x06,
	DW_FORM_data8 = 0x07, DW_FORM_string = 0x08, DW_FORM_block = 0x09, DW_FORM_block1 = 0x0a,
	DW_FORM_data1 = 0x0b, DW_FORM_flag = 0x0c, DW_FORM_sdata = 0x0d, DW_FORM_strp = 0x0e,
	DW_FORM_udata = 0x0f, DW_FORM_sec_offset = 0x17, DW_FORM_flag_present = 0x19, DW_FORM_strx = 0x1a,
	DW_FORM_strp_sup = 0x1d, DW_FORM_data16 = 0x1e, DW_FORM_line_strp = 0x1f, DW_FORM_strx1 = 0x25,
	DW_FORM_strx2 = 0x26, DW_FORM_strx3 = 0x27, DW_FORM_strx4 = 0x28, DW_FORM_GNU_strp_alt = 0x1f21,
};

/* The string at off in a string section, or NULL. */
static const char *strsec(const blob *b, uint64_t off)
{
	if (!b->p || off >= b->len || !memchr(b->p + off, 0, b->len - off))
		return NULL;
	return (const char *)b->p + off;
}

struct dwctx {
	bool dwarf64;
	const blob *line_str, *str;
};

/* Reads one attribute value of the given form; strings land in *s, numbers
 * in *u.  False for a form whose size is unknown: the unit is unreadable. */
static bool rd_form(rd *r, uint64_t form, const struct dwctx *cx, uint64_t *u, const char **s)
{
	*u = 0;
	*s = NULL;
	unsigned offsz = cx->dwarf64 ? 8 : 4;
	switch (form) {
	case DW_FORM_string: *s = rd_cstr(r); break;
	case DW_FORM_line_strp: *s = strsec(cx->line_str, rd_uint(r, offsz)); break;
	case DW_FORM_strp: *s = strsec(cx->str, rd_uint(r, offsz)); break;
	case DW_FORM_strp_sup: case DW_FORM_GNU_strp_alt: case DW_FORM_sec_offset: rd_uint(r, offsz); break;
	case DW_FORM_strx: case DW_FORM_udata: *u = rd_uleb(r); break;
	case DW_FORM_sdata: *u = (uint64_t)rd_sleb(r); break;
	case DW_FORM_data1: case DW_FORM_flag: case DW_FORM_strx1: *u = rd_uint(r, 1); break;
	case DW_FORM_data2: case DW_FORM_strx2: *u = rd_uint(r, 2); break;
	case DW_FORM_strx3: *u = rd_uint(r, 3); break;
	case DW_FORM_data4: case DW_FORM_strx4: *u = rd_uint(r, 4); break;
	case DW_FORM_data8: *u = rd_uint(r, 8); break;
	case DW_FORM_data16: rd_skip(r, 16); break;
	case DW_FORM_flag_present: break;
	case DW_FORM_block1: rd_skip(r, rd_uint(r, 1)); break;
	case DW_FORM_block2: rd_skip(r, rd_uint(r, 2)); break;
	case DW_FORM_block4: rd_skip(r, rd_uint(r, 4)); break;
	case DW_FORM_block: rd_skip(r, rd_uleb(r)); break;
	default: return false;
	}
	/* strx forms index .debug_str_offsets through the unit's DIE: not
	 * followed, the name stays unknown. */
	if (form == DW_FORM_strx || (form >= DW_FORM_strx1 && form <= DW_FORM_strx4))
		*u = 0;
	return !r->bad;
}

struct lfile {
	const char *name; /* NULL when unknown */
	uint64_t dir;
	uint32_t id;      /* index into symobj.files; FILE_NONE until resolved */
};

/* Building one object's line table. */
struct lbuild {
	symobj *o;
	vec rows;         /* struct lrow */
	vec files;        /* const char *, the object's file names */
	vec hash;         /* uint32_t: files index + 1, 0 empty; open addressing */
	vec dirs;         /* const char *, this unit's directories */
	vec lfiles;       /* struct lfile, this unit's files */
	unsigned version;
	bool failed;
};

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* The object-wide index of a file path, added if new. */
static uint32_t intern_file(struct lbuild *lb, const char *path)
{
	if (lb->hash.len * 2 >= lb->hash.cap) {
		uintptr_t ncap = lb->hash.cap ? lb->hash.cap * 2 : 256;
		uint32_t *nh = os_alloc(ncap * sizeof *nh);
		if (!nh)
			return FILE_NONE;
		const char **files = lb->files.p;
		for (uintptr_t i = 0; i < lb->files.len; i++) {
			uintptr_t j = str_hash(files[i]) & (ncap - 1);
			while (nh[j])
				j = (j + 1) & (ncap - 1);
			nh[j] = (uint32_t)i + 1;
		}
		uintptr_t used = lb->hash.len;
		vec_free(&lb->hash, sizeof(uint32_t));
		lb->hash.p = nh;
		lb->hash.cap = ncap;
		lb->hash.len = used;
	}
	uint32_t *h = lb->hash.p;
	uintptr_t mask = lb->hash.cap - 1, j = str_hash(path) & mask;
	for (; h[j]; j = (j + 1) & mask)
		if (strcmp(((const char **)lb->files.p)[h[j] - 1], path) == 0)
			return h[j] - 1;
	if (lb->files.len >= FILE_NONE - 1 || !vec_reserve(&lb->files, sizeof(char *), 1))
		return FILE_NONE;
	const char *copy = arena_strndup(&lb->o->mem, path, strlen(path));
	if (!copy)
		return FILE_NONE;
	((const char **)lb->files.p)[lb->files.len] = copy;
	h[j] = (uint32_t)++lb->files.len;
	lb->hash.len++;
	return h[j] - 1;
}

/* The object-wide id of this unit's file number idx (DWARF 5 counts from
 * 0, earlier versions from 1; file 0 is then invalid). */
static uint32_t unit_file(struct lbuild *lb, uint64_t idx)
{
	if (idx >= lb->lfiles.len)
		return FILE_NONE;
	struct lfile *lf = &((struct lfile *)lb->lfiles.p)[idx];
	if (lf->id != FILE_NONE || !lf->name)
		return lf->id;
	const char **dirs = lb->dirs.p;
	const char *dir = lf->dir < lb->dirs.len ? dirs[lf->dir] : NULL;
	char path[PATH_MAX];
	path[0] = 0;
	if (lf->name[0] != '/' && dir) {
		/* DWARF 5: directories other than 0 may be relative to directory
		 * 0, the compilation directory. */
		if (dir[0] != '/' && lf->dir != 0 && lb->version >= 5 && lb->dirs.len > 0 && dirs[0] &&
		    (!str_append(path, sizeof path, dirs[0]) || !str_append(path, sizeof path, "/")))
			return FILE_NONE;
		if (!str_append(path, sizeof path, dir) || !str_append(path, sizeof path, "/"))
			return FILE_NONE;
	}
	if (!str_append(path, sizeof path, lf->name))
		return FILE_NONE;
	lf->id = intern_file(lb, path);
	return lf->id;
}

static bool add_lfile(struct lbuild *lb, const char *name, uint64_t dir)
{
	if (!vec_reserve(&lb->lfiles, sizeof(struct lfile), 1))
		return false;
	struct lfile *lf = &((struct lfile *)lb->lfiles.p)[lb->lfiles.len++];
	lf->name = name && name[0] ? name : NULL;
	lf->dir = dir;
	lf->id = FILE_NONE;
	return true;
}

static bool add_dir(struct lbuild *lb, const char *name)
{
	if (!vec_reserve(&lb->dirs, sizeof(char *), 1))
		return false;
	((const char **)lb->dirs.p)[lb->dirs.len++] = name;
	return true;
}

static bool in_exec_seg(const symobj *o, uintptr_t addr)
{
	for (unsigned i = 0; i < o->nsegs; i++)
		if (o->segs[i].exec && addr - o->segs[i].vaddr < o->segs[i].memsz)
			return true;
	return false;
}

/* A row of the state machine, merged with the previous one when it adds
 * nothing: rows at one address keep the last (it is the one that covers
 * the following bytes), equal file:line runs keep the first. */
static void emit_row(struct lbuild *lb, uintptr_t seq_start, bool *seq_bad, uintptr_t addr, uint32_t file,
		     uint64_t line)
{
	struct lrow *rows = lb->rows.p;
	uint32_t l = line <= UINT32_MAX ? (uint32_t)line : 0;
	if (lb->rows.len > seq_start) {
		struct lrow *last = &rows[lb->rows.len - 1];
		if (addr < last->addr) {
			*seq_bad = true; /* addresses must not go back within a sequence */
			return;
		}
		if (addr == last->addr) {
			last->file = file;
			last->line = l;
			return;
		}
		if (last->file == file && last->line == l)
			return;
	}
	if (!vec_reserve(&lb->rows, sizeof(struct lrow), 1)) {
		lb->failed = true;
		return;
	}
	rows = lb->rows.p;
	rows[lb->rows.len++] = (struct lrow){addr, file, l};
}

/* Ends a sequence at addr: kept if it is well-formed and its code lies in
 * one of the object's executable segments (the linker leaves the line
 * programs of discarded functions at address 0 or -1: dropped here). */
static void end_sequence(struct lbuild *lb, uintptr_t seq_start, bool seq_bad, uintptr_t addr)
{
	struct lrow *rows = lb->rows.p;
	if (lb->failed || seq_bad || lb->rows.len == seq_start || !in_exec_seg(lb->o, rows[seq_start].addr) ||
	    addr <= rows[seq_start].addr || addr < rows[lb->rows.len - 1].addr) {
		lb->rows.len = seq_start;
		return;
	}
	if (rows[lb->rows.len - 1].addr == addr) {
		rows[lb->rows.len - 1].file = ROW_END;
		rows[lb->rows.len - 1].line = 0;
		return;
	}
	if (!vec_reserve(&lb->rows, sizeof(struct lrow), 1)) {
		lb->failed = true;
		lb->rows.len = seq_start;
		return;
	}
	((struct lrow *)lb->rows.p)[lb->rows.len++] = (struct lrow){addr, ROW_END, 0};
}

/* Reads a DWARF 5 entry-format list and its entries (directories when
 * dirs, else files). */
static bool read_v5_entries(rd *u, struct lbuild *lb, const struct dwctx *cx, bool dirs)
{
	uint64_t fmt[255][2];
	unsigned nfmt = (unsigned)rd_uint(u, 1);
	for (unsigned i = 0; i < nfmt; i++) {
		fmt[i][0] = rd_uleb(u);
		fmt[i][1] = rd_uleb(u);
	}
	uint64_t count = rd_uleb(u);
	if (u->bad || (count > 0 && nfmt == 0) || count > (uint64_t)(u->end - u->p))
		return false;
	for (uint64_t k = 0; k < count; k++) {
		const char *name = NULL;
		uint64_t dir = 0;
		for (unsigned i = 0; i < nfmt; i++) {
			uint64_t v;
			const char *s;
			if (!rd_form(u, fmt[i][1], cx, &v, &s))
				return false;
			if (fmt[i][0] == DW_LNCT_path)
				name = s;
			else if (fmt[i][0] == DW_LNCT_directory_index)
				dir = v;
		}
		if (!(dirs ? add_dir(lb, name) : add_lfile(lb, name, dir)))
			return false;
	}
	return true;
}

/* Runs one unit's header and line program (u covers the unit after its
 * length field). */
static void parse_unit(struct lbuild *lb, rd *u, bool dwarf64, const blob *line_str, const blob *str)
{
	struct dwctx cx = {dwarf64, line_str, str};
	lb->dirs.len = lb->lfiles.len = 0;
	unsigned version = (unsigned)rd_uint(u, 2);
	if (version < 2 || version > 5)
		return;
	lb->version = version;
	if (version >= 5)
		rd_skip(u, 2); /* address_size, segment_selector_size */
	uint64_t header_length = rd_uint(u, dwarf64 ? 8 : 4);
	if (u->bad || header_length > (uint64_t)(u->end - u->p))
		return;
	const uint8_t *program = u->p + header_length;
	unsigned min_inst = (unsigned)rd_uint(u, 1);
	unsigned max_ops = version >= 4 ? (unsigned)rd_uint(u, 1) : 1;
	rd_uint(u, 1); /* default_is_stmt */
	int line_base = (int8_t)rd_uint(u, 1);
	unsigned line_range = (unsigned)rd_uint(u, 1);
	unsigned opcode_base = (unsigned)rd_uint(u, 1);
	if (u->bad || line_range == 0 || opcode_base == 0)
		return;
	if (max_ops == 0)
		max_ops = 1;
	const uint8_t *std_lengths = u->p;
	rd_skip(u, opcode_base - 1);
	if (version >= 5) {
		if (!read_v5_entries(u, lb, &cx, true) || !read_v5_entries(u, lb, &cx, false))
			return;
	} else {
		/* Directory 0 is the compilation directory, which only .debug_info
		 * names: left unknown (paths stay as the compiler was given them). */
		if (!add_dir(lb, NULL) || !add_lfile(lb, NULL, 0))
			return;
		for (;;) {
			const char *d = rd_cstr(u);
			if (!d || !d[0])
				break;
			if (!add_dir(lb, d))
				return;
		}
		for (;;) {
			const char *name = rd_cstr(u);
			if (!name || !name[0])
				break;
			uint64_t dir = rd_uleb(u);
			rd_uleb(u); /* mtime */
			rd_uleb(u); /* length */
			if (u->bad || !add_lfile(lb, name, dir))
				return;
		}
	}
	if (u->bad || program > u->end)
		return;
	u->p = program;

	uintptr_t addr = 0, seq_start = lb->rows.len;
	uint64_t file = 1, line = 1, op_index = 0;
	bool seq_bad = false;
	/* Advances the address by n operations (VLIW op_index as DWARF 4 has it). */
#define ADVANCE(n)                                                                      \
	do {                                                                            \
		uint64_t adv_ = (n);                                                    \
		if (max_ops == 1) {                                                     \
			addr += (uintptr_t)(min_inst * adv_);                           \
		} else {                                                                \
			addr += (uintptr_t)(min_inst * ((op_index + adv_) / max_ops));  \
			op_index = (op_index + adv_) % max_ops;                         \
		}                                                                       \
	} while (0)
	while (u->p < u->end && !u->bad && !lb->failed) {
		unsigned op = (unsigned)rd_uint(u, 1);
		if (op >= opcode_base) {
			unsigned adj = op - opcode_base;
			ADVANCE(adj / line_range);
			line += (uint64_t)(int64_t)(line_base + (int)(adj % line_range));
			emit_row(lb, seq_start, &seq_bad, addr, unit_file(lb, file), line);
			continue;
		}
		switch (op) {
		case 0: { /* extended */
			uint64_t len = rd_uleb(u);
			if (u->bad || len == 0 || len > (uint64_t)(u->end - u->p)) {
				u->bad = true;
				break;
			}
			rd ext = {u->p, u->p + len, false};
			u->p += len;
			unsigned sub = (unsigned)rd_uint(&ext, 1);
			if (sub == DW_LNE_end_sequence) {
				end_sequence(lb, seq_start, seq_bad, addr);
				seq_start = lb->rows.len;
				seq_bad = false;
				addr = 0;
				file = line = 1;
				op_index = 0;
			} else if (sub == DW_LNE_set_address) {
				uint64_t n = len - 1;
				if (n == 4 || n == 8)
					addr = (uintptr_t)rd_uint(&ext, (unsigned)n);
				else
					seq_bad = true;
				op_index = 0;
			} else if (sub == DW_LNE_define_file && version < 5) {
				const char *name = rd_cstr(&ext);
				uint64_t dir = rd_uleb(&ext);
				if (!ext.bad && !add_lfile(lb, name, dir))
					u->bad = true;
			}
			break; /* others (set_discriminator, vendor ones) skipped by length */
		}
		case DW_LNS_copy:
			emit_row(lb, seq_start, &seq_bad, addr, unit_file(lb, file), line);
			break;
		case DW_LNS_advance_pc: ADVANCE(rd_uleb(u)); break;
		case DW_LNS_advance_line: line += (uint64_t)rd_sleb(u); break;
		case DW_LNS_set_file: file = rd_uleb(u); break;
		case DW_LNS_const_add_pc: ADVANCE((255 - opcode_base) / line_range); break;
		case DW_LNS_fixed_advance_pc:
			addr += (uintptr_t)rd_uint(u, 2);
			op_index = 0;
			break;
		case DW_LNS_negate_stmt: case DW_LNS_set_basic_block: case DW_LNS_set_prologue_end:
		case DW_LNS_set_epilogue_begin:
			break;
		default: /* set_column, set_isa and unknown standard opcodes: skip their operands */
			for (unsigned i = 0; i < std_lengths[op - 1]; i++)
				rd_uleb(u);
			break;
		}
	}
#undef ADVANCE
	lb->rows.len = seq_start; /* a sequence left open is not trusted */
}

static bool row_less(const struct lrow *x, const struct lrow *y)
{
	if (x->addr != y->addr)
		return x->addr < y->addr;
	return x->file == ROW_END && y->file != ROW_END; /* an end before a start at one address */
}

DEFINE_SORT(sort_rows, struct lrow, row_less)

/* Builds o's line table from a .debug_line section. */
static void build_lines(symobj *o, const blob *line, const blob *line_str, const blob *str)
{
	struct lbuild lb;
	memset(&lb, 0, sizeof lb);
	lb.o = o;
	uint64_t off = 0;
	while (off < line->len && !lb.failed) {
		rd r = {line->p + off, line->p + line->len, false};
		uint64_t len = rd_uint(&r, 4);
		bool dwarf64 = false;
		if (len == 0xffffffff) {
			dwarf64 = true;
			len = rd_uint(&r, 8);
		} else if (len >= 0xfffffff0) {
			break; /* reserved values */
		}
		if (r.bad || len > (uint64_t)(r.end - r.p))
			break; /* the next unit cannot be found */
		rd u = {r.p, r.p + len, false};
		parse_unit(&lb, &u, dwarf64, line_str, str);
		off = (uint64_t)(r.p + len - line->p);
	}
	vec_free(&lb.hash, sizeof(uint32_t));
	vec_free(&lb.dirs, sizeof(char *));
	vec_free(&lb.lfiles, sizeof(struct lfile));
	if (!sort_rows(lb.rows.p, lb.rows.len))
		lb.rows.len = 0; /* unsorted rows cannot be searched */
	/* The tables are kept in their os_alloc vectors (never freed). */
	o->rows = lb.rows.p;
	o->nrows = lb.rows.len;
	o->rows_cap = lb.rows.cap;
	o->files = lb.files.p;
	o->nfiles = (uint32_t)lb.files.len;
	o->files_cap = lb.files.cap;
}

static const struct lrow *row_find(const symobj *o, uintptr_t addr)
{
	uintptr_t lo = 0, hi = o->nrows;
	while (lo < hi) {
		uintptr_t mid = lo + (hi - lo) / 2;
		if (o->rows[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || o->rows[lo - 1].file == ROW_END)
		return NULL;
	return &o->rows[lo - 1];
}

/* ---- loading an object -------------------------------------------------- */

struct mapfind {
	uintptr_t addr;
	bool file; /* only a mapping of a file */
	uintptr_t start, limit;
	bool ok;
};

static bool mapfind_cb(const symtab_mapping *m, void *arg)
{
	struct mapfind *mf = arg;
	if (mf->addr >= m->start && mf->addr < m->limit && (!mf->file || m->path[0] == '/')) {
		mf->start = m->start;
		mf->limit = m->limit;
		mf->ok = true;
		return false;
	}
	return true;
}

/* Opens o's file: the executable through /proc/self/exe, the vDSO in
 * memory, a library by its path if that still holds the same build, else
 * through /proc/self/map_files (the mapped inode, deleted or replaced). */
static bool open_object(symobj *o, elf_file *f)
{
	if (o->dlname[0] == 0)
		return elf_open_path(f, "/proc/self/exe");
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	if (vdso && o->ehdr_addr == vdso) {
		/* The vDSO has no file; its whole image (section headers
		 * included) is its [vdso] mapping. */
		struct mapfind mf = {.addr = vdso};
		if (symtab_maps_foreach(mapfind_cb, &mf) != 0 || !mf.ok)
			return false;
		memset(f, 0, sizeof *f);
		f->fd = -1;
		f->mem = (const uint8_t *)vdso;
		f->size = mf.limit - vdso;
		return elf_open(f);
	}
	if (elf_open_path(f, o->dlname)) {
		uint8_t id[MAX_BUILD_ID_BYTES];
		uint32_t idlen = 0;
		if (o->build_id_len == 0 ||
		    (elf_build_id(f, id, &idlen) && idlen == o->build_id_len && memcmp(id, o->build_id_raw, idlen) == 0))
			return true;
		elf_close(f);
	}
	if (o->nsegs == 0)
		return false;
	struct mapfind mf = {.addr = o->bias + o->segs[0].vaddr, .file = true};
	if (symtab_maps_foreach(mapfind_cb, &mf) != 0 || !mf.ok)
		return false;
	char path[64] = "/proc/self/map_files/";
	char *e = fmt_hex(path + strlen(path), mf.start);
	*e++ = '-';
	fmt_hex(e, mf.limit);
	return elf_open_path(f, path);
}

/* The separate debug file named by the build ID (Debian's -dbgsym
 * packages install them there). */
static bool open_debug_file(const symobj *o, elf_file *f)
{
	if (!o->build_id || o->build_id_len < 2)
		return false;
	char path[sizeof DEBUG_DIR + 2 * MAX_BUILD_ID_BYTES + 16] = DEBUG_DIR;
	size_t n = strlen(path);
	memcpy(path + n, o->build_id, 2);
	path[n + 2] = '/';
	memcpy(path + n + 3, o->build_id + 2, 2 * o->build_id_len - 2);
	memcpy(path + n + 3 + 2 * o->build_id_len - 2, ".debug", 7);
	return elf_open_path(f, path);
}

/* Reads o's function and line tables from f (when have_f) and from the
 * separate debug file dbg (when have_dbg) for what f lacks. */
static void load_tables(symobj *o, elf_file *f, bool have_f, elf_file *dbg, bool have_dbg)
{
	uintptr_t symtab = have_f ? section_find(f, ".symtab") : 0;
	vec cands = {0}, tabs = {0};
	if (have_f) {
		if (symtab)
			collect_syms(f, symtab, &cands, &tabs);
		uintptr_t dynsym = section_find(f, ".dynsym");
		if (dynsym)
			collect_syms(f, dynsym, &cands, &tabs);
	}
	if (have_dbg && !symtab) {
		uintptr_t s = section_find(dbg, ".symtab");
		if (s)
			collect_syms(dbg, s, &cands, &tabs);
	}
	if (cands.len)
		build_syms(o, &cands);
	for (uintptr_t i = 0; i < tabs.len; i++)
		blob_free(&((blob *)tabs.p)[i]);
	vec_free(&tabs, sizeof(blob));
	vec_free(&cands, sizeof(struct cand));

	elf_file *lf = NULL;
	uintptr_t line = 0;
	for (int k = 0; k < 2 && !lf; k++) {
		elf_file *e = k == 0 ? (have_f ? f : NULL) : (have_dbg ? dbg : NULL);
		if (!e)
			continue;
		line = section_find(e, ".debug_line");
		if (!line)
			line = section_find(e, ".zdebug_line");
		lf = line ? e : NULL;
	}
	blob bl, bls, bs;
	if (lf && section_read(lf, line, &bl)) {
		uintptr_t ls = section_find(lf, ".debug_line_str"), s = section_find(lf, ".debug_str");
		section_read(lf, ls, &bls);
		section_read(lf, s, &bs);
		build_lines(o, &bl, &bls, &bs);
		blob_free(&bls);
		blob_free(&bs);
		blob_free(&bl);
	}
}

/* Reads o's tables from its files.  symtab_lock held. */
static void load_object(symobj *o)
{
	o->loaded = true; /* once, even when nothing can be read */
	elf_file f, dbg;
	memset(&dbg, 0, sizeof dbg);
	bool have_f = open_object(o, &f), have_dbg = false;
	if (!have_f || !section_find(&f, ".symtab") ||
	    (!section_find(&f, ".debug_line") && !section_find(&f, ".zdebug_line")))
		have_dbg = open_debug_file(o, &dbg);
	load_tables(o, &f, have_f, &dbg, have_dbg);
	if (have_f)
		elf_close(&f);
	if (have_dbg)
		elf_close(&dbg);
}

/* ---- the interface ------------------------------------------------------ */

static bool describe(uintptr_t pc, symtab_info *out, bool tables)
{
	memset(out, 0, sizeof *out);
	struct found f;
	memset(&f, 0, sizeof f);
	f.pc = pc;
	/* Outside symtab_lock: the loader's lock is never taken inside ours
	 * (zload may dlopen zlib, for compressed debug sections). */
	if (tables)
		zload();
	dl_iterate_phdr(find_cb, &f);
	if (!f.ok)
		return false;
	pthread_mutex_lock(&symtab_lock);
	symobj *o = object_for(&f);
	if (!o) {
		pthread_mutex_unlock(&symtab_lock);
		return false;
	}
	if (tables && !o->loaded)
		load_object(o);
	out->object = o->path;
	out->object_bias = o->bias;
	out->build_id = o->build_id;
	if (tables) {
		uintptr_t addr = pc - o->bias;
		const struct sym *s = sym_find(o, addr);
		if (s) {
			out->func = s->name;
			out->func_start = s->addr + o->bias;
		}
		const struct lrow *r = row_find(o, addr);
		if (r) {
			out->file = r->file < o->nfiles ? o->files[r->file] : NULL;
			out->line = r->line;
		}
	}
	pthread_mutex_unlock(&symtab_lock);
	return true;
}

bool symtab_lookup(uintptr_t pc, symtab_info *out)
{
	return describe(pc, out, true);
}

bool symtab_object(uintptr_t pc, symtab_info *out)
{
	return describe(pc, out, false);
}

void symtab_fork_lock(void)
{
	pthread_mutex_lock(&symtab_lock);
}

void symtab_fork_unlock(void)
{
	pthread_mutex_unlock(&symtab_lock);
}

/* For tests: an ELF image in memory, as if loaded at bias 0. */
bool symtab_probe_image(const void *image, uintptr_t size, uintptr_t addr, char *func, size_t funccap,
			char *file, size_t filecap, uint32_t *line)
{
	zload();
	func[0] = file[0] = 0;
	*line = 0;
	symobj o;
	memset(&o, 0, sizeof o);
	elf_file f;
	memset(&f, 0, sizeof f);
	f.fd = -1;
	f.mem = image;
	f.size = size;
	if (!elf_open(&f))
		return false;
	/* The executable segments, from the program headers (bounds-checked). */
	const ElfW(Ehdr) *eh = &f.eh;
	if (eh->e_phentsize == sizeof(ElfW(Phdr)) && eh->e_phoff < size &&
	    eh->e_phnum <= (size - eh->e_phoff) / sizeof(ElfW(Phdr))) {
		for (unsigned i = 0; i < eh->e_phnum && o.nsegs < MAX_SEGS; i++) {
			ElfW(Phdr) ph;
			memcpy(&ph, (const uint8_t *)image + eh->e_phoff + i * sizeof ph, sizeof ph);
			if (ph.p_type == PT_LOAD)
				o.segs[o.nsegs++] = (struct seg){ph.p_vaddr, ph.p_memsz, ph.p_offset, (ph.p_flags & PF_X) != 0};
		}
	}
	load_tables(&o, &f, true, NULL, false);
	elf_close(&f);
	const struct sym *s = sym_find(&o, addr);
	if (s) {
		size_t n = strnlen(s->name, funccap - 1);
		memcpy(func, s->name, n);
		func[n] = 0;
	}
	const struct lrow *r = row_find(&o, addr);
	if (r) {
		const char *name = r->file < o.nfiles ? o.files[r->file] : "";
		size_t n = strnlen(name, filecap - 1);
		memcpy(file, name, n);
		file[n] = 0;
		*line = r->line;
	}
	arena_free(&o.mem);
	if (o.rows)
		os_free(o.rows, o.rows_cap * sizeof(struct lrow));
	if (o.files)
		os_free(o.files, o.files_cap * sizeof(char *));
	return true;
}

/* ---- /proc/self/maps ---------------------------------------------------- */

static uint64_t parse_hex(const char **s, const char *end)
{
	uint64_t v = 0;
	for (; *s < end; (*s)++) {
		char c = **s;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d == 16)
			break;
		v = v << 4 | d;
	}
	return v;
}

static void skip_field(const char **s, const char *end)
{
	while (*s < end && **s != ' ')
		(*s)++;
	while (*s < end && **s == ' ')
		(*s)++;
}

int symtab_maps_foreach(bool (*fn)(const symtab_mapping *m, void *arg), void *arg)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* The whole file first (it changes while read in pieces only at line
	 * boundaries, and the callback may map memory). */
	vec buf = {0};
	for (;;) {
		if (!vec_reserve(&buf, 1, 65536)) {
			close(fd);
			vec_free(&buf, 1);
			errno = ENOMEM;
			return -1;
		}
		ssize_t n = read(fd, (char *)buf.p + buf.len, buf.cap - buf.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			vec_free(&buf, 1);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		buf.len += (uintptr_t)n;
	}
	close(fd);
	char *s = buf.p, *end = s + buf.len;
	while (s < end) {
		char *nl = memchr(s, '\n', (uintptr_t)(end - s));
		char *eol = nl ? nl : end;
		*eol = 0; /* the buffer has a spare byte past the data */
		const char *p = s;
		symtab_mapping m;
		memset(&m, 0, sizeof m);
		m.start = parse_hex(&p, eol);
		if (p < eol && *p == '-')
			p++;
		m.limit = parse_hex(&p, eol);
		while (p < eol && *p == ' ')
			p++;
		if (eol - p >= 4) {
			m.read = p[0] == 'r';
			m.write = p[1] == 'w';
			m.exec = p[2] == 'x';
		}
		skip_field(&p, eol); /* perms */
		m.offset = parse_hex(&p, eol);
		skip_field(&p, eol); /* offset's tail */
		skip_field(&p, eol); /* dev */
		skip_field(&p, eol); /* inode */
		char *path = (char *)p;
		size_t plen = (size_t)(eol - path);
		static const char deleted[] = " (deleted)";
		if (plen >= sizeof deleted - 1 && memcmp(eol - (sizeof deleted - 1), deleted, sizeof deleted - 1) == 0) {
			m.deleted = true;
			path[plen - (sizeof deleted - 1)] = 0;
		}
		m.path = path;
		if (m.limit > m.start && !fn(&m, arg))
			break;
		s = eol + 1;
	}
	vec_free(&buf, 1);
	return 0;
}
