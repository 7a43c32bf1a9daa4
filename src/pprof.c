/*
 * pprof.c: the profile.proto writer (see pprof.h).
 *
 * Owns: a builder's string table (index 0 is "", each string once, found
 * through a hash table), its locations (one per address, ids = index + 1,
 * found through a hash table), and its samples, encoded as they are added
 * (a Sample refers to location ids and string indices, which never
 * change).  Mappings and functions are made at write time, when every
 * location is symbolized: functions are deduplicated by (name, file), ids
 * = index + 1.  Every table lives in os_alloc memory (vec) and the builder
 * marks itself failed, rather than dropping data silently, when the OS
 * refuses memory.
 *
 * The encoding follows Go's runtime/pprof (protobuf.go): zero values are
 * omitted, a nested message is written after its contents by shifting
 * them to make room for its length, and the output is gzipped (zlib with
 * the gzip wrapper, at BestSpeed as Go does) with zlib allocating through
 * os_alloc too.  Field numbers are profile.proto's (github.com/google/
 * pprof/proto/profile.proto).
 */
#include "pprof.h"
#include "os.h"
#include "osvec.h"
#include "zload.h"
#include "symtab.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define GZIP_CHUNK_BYTES ((uintptr_t)64 << 10)

/* profile.proto field numbers. */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE, PROFILE_MAPPING, PROFILE_LOCATION, PROFILE_FUNCTION,
	PROFILE_STRING_TABLE, PROFILE_DROP_FRAMES, PROFILE_KEEP_FRAMES, PROFILE_TIME_NANOS,
	PROFILE_DURATION_NANOS, PROFILE_PERIOD_TYPE, PROFILE_PERIOD, PROFILE_COMMENT,
	PROFILE_DEFAULT_SAMPLE_TYPE,
};
enum { VALUETYPE_TYPE = 1, VALUETYPE_UNIT };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE, SAMPLE_LABEL };
enum { LABEL_KEY = 1, LABEL_STR, LABEL_NUM, LABEL_NUM_UNIT };
enum {
	MAPPING_ID = 1, MAPPING_MEMORY_START, MAPPING_MEMORY_LIMIT, MAPPING_FILE_OFFSET, MAPPING_FILENAME,
	MAPPING_BUILD_ID, MAPPING_HAS_FUNCTIONS, MAPPING_HAS_FILENAMES, MAPPING_HAS_LINE_NUMBERS,
	MAPPING_HAS_INLINED_FRAMES,
};
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID, LOCATION_ADDRESS, LOCATION_LINE };
enum { LINE_FUNCTION_ID = 1, LINE_LINE };
enum { FUNCTION_ID = 1, FUNCTION_NAME, FUNCTION_SYSTEM_NAME, FUNCTION_FILENAME, FUNCTION_START_LINE };
enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

/* ---- os_alloc vectors --------------------------------------------------- */

/* A table of uint32 values (index + 1, 0 = empty) keyed by a 64-bit key,
 * open addressing, at most half full. */
typedef struct htab {
	uint64_t *keys;
	uint32_t *vals;
	uintptr_t cap, len;
} htab;

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	return k ^ (k >> 33);
}

static void htab_free(htab *h)
{
	if (h->keys)
		os_free(h->keys, h->cap * (sizeof(uint64_t) + sizeof(uint32_t)));
	memset(h, 0, sizeof *h);
}

/* The value slot for key (0 when new: the caller stores index + 1), or
 * NULL when the table cannot grow. */
static uint32_t *htab_slot(htab *h, uint64_t key)
{
	if ((h->len + 1) * 2 > h->cap) {
		uintptr_t ncap = h->cap ? h->cap * 2 : 1024;
		uint64_t *nk = os_alloc(ncap * (sizeof(uint64_t) + sizeof(uint32_t)));
		if (!nk)
			return NULL;
		uint32_t *nv = (uint32_t *)(nk + ncap);
		for (uintptr_t i = 0; i < h->cap; i++) {
			if (!h->vals[i])
				continue;
			uintptr_t j = mix64(h->keys[i]) & (ncap - 1);
			while (nv[j])
				j = (j + 1) & (ncap - 1);
			nk[j] = h->keys[i];
			nv[j] = h->vals[i];
		}
		uintptr_t len = h->len;
		htab_free(h);
		h->keys = nk;
		h->vals = nv;
		h->cap = ncap;
		h->len = len;
	}
	uintptr_t mask = h->cap - 1, j = mix64(key) & mask;
	while (h->vals[j] && h->keys[j] != key)
		j = (j + 1) & mask;
	if (!h->vals[j]) {
		h->keys[j] = key;
		h->len++;
	}
	return &h->vals[j];
}

/* ---- protobuf encoding -------------------------------------------------- */

typedef struct pbuf {
	uint8_t *p;
	uintptr_t len, cap;
	bool failed; /* a write was dropped for want of memory */
} pbuf;

static bool pb_room(pbuf *b, uintptr_t n)
{
	if (b->failed)
		return false;
	vec v = {b->p, b->len, b->cap};
	if (!vec_reserve(&v, 1, n)) {
		b->failed = true;
		return false;
	}
	b->p = v.p;
	b->cap = v.cap;
	return true;
}

static void pb_free(pbuf *b)
{
	if (b->p)
		os_free(b->p, b->cap);
	memset(b, 0, sizeof *b);
}

static unsigned varint_len(uint64_t v)
{
	unsigned n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static void pb_varint(pbuf *b, uint64_t v)
{
	if (pb_room(b, 10))
		b->len = (uintptr_t)(put_varint(b->p + b->len, v) - b->p);
}

static void pb_key(pbuf *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_uint64(pbuf *b, unsigned field, uint64_t v)
{
	pb_key(b, field, WIRE_VARINT);
	pb_varint(b, v);
}

static void pb_uint64_opt(pbuf *b, unsigned field, uint64_t v)
{
	if (v != 0)
		pb_uint64(b, field, v);
}

static void pb_int64_opt(pbuf *b, unsigned field, int64_t v)
{
	if (v != 0)
		pb_uint64(b, field, (uint64_t)v);
}

static void pb_bytes(pbuf *b, unsigned field, const void *p, uintptr_t n)
{
	pb_key(b, field, WIRE_BYTES);
	pb_varint(b, n);
	if (pb_room(b, n)) {
		if (n)
			memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

static uintptr_t pb_start(const pbuf *b)
{
	return b->len;
}

/* Frames the bytes written since start as field: shifts them right by the
 * size of the key and length, which then go in front (Go's endMessage). */
static void pb_end(pbuf *b, unsigned field, uintptr_t start)
{
	if (b->failed)
		return;
	uintptr_t n = b->len - start;
	uint64_t key = (uint64_t)field << 3 | WIRE_BYTES;
	unsigned hdr = varint_len(key) + varint_len(n);
	if (!pb_room(b, hdr))
		return;
	memmove(b->p + start + hdr, b->p + start, n);
	put_varint(put_varint(b->p + start, key), n);
	b->len += hdr;
}

static void pb_packed(pbuf *b, unsigned field, const uint64_t *v, uintptr_t n)
{
	if (n == 0)
		return;
	uintptr_t start = pb_start(b);
	for (uintptr_t i = 0; i < n; i++)
		pb_varint(b, v[i]);
	pb_end(b, field, start);
}

/* ---- the builder -------------------------------------------------------- */

struct strent {
	uintptr_t off, len; /* in strbytes */
};

struct func {
	uint32_t name, file; /* string indices */
};

struct mapping {
	uintptr_t start, limit;
	uint64_t offset;
	uint32_t file, build_id; /* string indices */
	uintptr_t nlocs, nfuncs, nlines; /* its locations, named ones, ones with file:line */
};

struct locinfo {
	uint32_t mapping; /* id, 0 when in no mapping */
	uint32_t func;    /* id, 0 when not symbolized */
	uint32_t line;
};

struct pprof_builder {
	bool failed;        /* out of memory: pprof_write_fd fails */
	vec strs;           /* struct strent */
	vec strbytes;       /* char */
	htab strhash;       /* string hash -> several candidates by probing: see intern */
	vec sample_types;   /* uint32_t type, unit pairs */
	uint32_t period_type, period_unit;
	int64_t period;
	uint32_t default_sample_type;
	int64_t time_nanos, duration_nanos;
	vec comments;       /* uint64_t string indices */
	uint32_t drop_frames, keep_frames;
	pbuf samples;       /* encoded Sample fields, in order */
	vec locs;           /* uintptr_t address; id = index + 1 */
	htab lochash;       /* address -> index + 1 */
	vec scratch;        /* uint64_t: one sample's location ids or values */
};

static uint64_t str_hash(const char *s, uintptr_t n)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (uintptr_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static bool str_eq(const pprof_builder *b, uint32_t idx, const char *s, uintptr_t n)
{
	const struct strent *e = &((const struct strent *)b->strs.p)[idx];
	return e->len == n && memcmp((const char *)b->strbytes.p + e->off, s, n) == 0;
}

/* The string table index of s ("" and NULL are 0).  Strings with equal
 * hashes are chained by probing on hash + k (k = 0, 1, ...), so the table
 * stores indices alone. */
static uint32_t intern(pprof_builder *b, const char *s)
{
	if (!s || !s[0] || b->failed)
		return 0;
	uintptr_t n = strlen(s);
	uint64_t h = str_hash(s, n);
	for (uint64_t k = 0;; k++) {
		uint32_t *slot = htab_slot(&b->strhash, h + k);
		if (!slot)
			break;
		if (*slot && str_eq(b, *slot - 1, s, n))
			return *slot - 1;
		if (*slot)
			continue;
		if (b->strs.len >= UINT32_MAX - 1 || !vec_reserve(&b->strs, sizeof(struct strent), 1) ||
		    !vec_reserve(&b->strbytes, 1, n)) {
			*slot = 0; /* leave no half-made entry: the key stays, unreachable */
			break;
		}
		struct strent *e = &((struct strent *)b->strs.p)[b->strs.len];
		e->off = b->strbytes.len;
		e->len = n;
		memcpy((char *)b->strbytes.p + b->strbytes.len, s, n);
		b->strbytes.len += n;
		*slot = (uint32_t)++b->strs.len;
		return *slot - 1;
	}
	b->failed = true;
	return 0;
}

pprof_builder *pprof_new(void)
{
	pprof_builder *b = os_alloc(sizeof *b);
	if (!b)
		return NULL;
	/* string_table[0] must be "". */
	if (!vec_reserve(&b->strs, sizeof(struct strent), 1)) {
		os_free(b, sizeof *b);
		return NULL;
	}
	b->strs.len = 1;
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		b->time_nanos = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return b;
}

void pprof_free(pprof_builder *b)
{
	if (!b)
		return;
	vec_free(&b->strs, sizeof(struct strent));
	vec_free(&b->strbytes, 1);
	htab_free(&b->strhash);
	vec_free(&b->sample_types, sizeof(uint32_t));
	vec_free(&b->comments, sizeof(uint64_t));
	pb_free(&b->samples);
	vec_free(&b->locs, sizeof(uintptr_t));
	htab_free(&b->lochash);
	vec_free(&b->scratch, sizeof(uint64_t));
	os_free(b, sizeof *b);
}

void pprof_sample_type(pprof_builder *b, const char *type, const char *unit)
{
	uint32_t t = intern(b, type), u = intern(b, unit);
	if (!vec_reserve(&b->sample_types, sizeof(uint32_t), 2)) {
		b->failed = true;
		return;
	}
	uint32_t *st = b->sample_types.p;
	st[b->sample_types.len++] = t;
	st[b->sample_types.len++] = u;
}

void pprof_period(pprof_builder *b, const char *type, const char *unit, int64_t period)
{
	b->period_type = intern(b, type);
	b->period_unit = intern(b, unit);
	b->period = period;
}

void pprof_default_sample_type(pprof_builder *b, const char *type)
{
	b->default_sample_type = intern(b, type);
}

void pprof_time(pprof_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
	b->time_nanos = time_nanos;
	b->duration_nanos = duration_nanos;
}

void pprof_comment(pprof_builder *b, const char *comment)
{
	uint32_t c = intern(b, comment);
	if (!vec_reserve(&b->comments, sizeof(uint64_t), 1)) {
		b->failed = true;
		return;
	}
	((uint64_t *)b->comments.p)[b->comments.len++] = c;
}

void pprof_drop_frames(pprof_builder *b, const char *regexp)
{
	b->drop_frames = intern(b, regexp);
}

void pprof_keep_frames(pprof_builder *b, const char *regexp)
{
	b->keep_frames = intern(b, regexp);
}

/* The id of the location at addr, made on first sight; 0 on failure. */
static uint64_t location_id(pprof_builder *b, uintptr_t addr)
{
	uint32_t *slot = htab_slot(&b->lochash, addr);
	if (!slot)
		return 0;
	if (*slot)
		return *slot;
	if (b->locs.len >= UINT32_MAX - 1 || !vec_reserve(&b->locs, sizeof(uintptr_t), 1)) {
		b->lochash.len--; /* the key stays, as an empty slot */
		return 0;
	}
	((uintptr_t *)b->locs.p)[b->locs.len] = addr;
	*slot = (uint32_t)++b->locs.len;
	return *slot;
}

int pprof_add_sample(pprof_builder *b, const uintptr_t *pcs, int npcs, const int64_t *values, int nvalues,
		     const pprof_label *labels, int nlabels)
{
	if (npcs < 0 || nlabels < 0 || nvalues < 0 || (uintptr_t)nvalues != b->sample_types.len / 2) {
		errno = EINVAL;
		return -1;
	}
	uintptr_t nscratch = (uintptr_t)(npcs > nvalues ? npcs : nvalues);
	if (b->failed || !vec_reserve(&b->scratch, sizeof(uint64_t), nscratch))
		goto nomem;
	uint64_t *ids = b->scratch.p;
	int n = 0;
	for (; n < npcs && pcs[n] != 0; n++) {
		ids[n] = location_id(b, pcs[n] - 1); /* the call, not the return address */
		if (!ids[n])
			goto nomem;
	}
	/* Label strings first: they must not be interned mid-message. */
	for (int i = 0; i < nlabels; i++) {
		intern(b, labels[i].key);
		intern(b, labels[i].str);
		intern(b, labels[i].num_unit);
	}
	if (b->failed)
		goto nomem;
	pbuf *pb = &b->samples;
	uintptr_t start = pb_start(pb);
	pb_packed(pb, SAMPLE_LOCATION_ID, ids, (uintptr_t)n);
	for (int i = 0; i < nvalues; i++)
		ids[i] = (uint64_t)values[i];
	pb_packed(pb, SAMPLE_VALUE, ids, (uintptr_t)nvalues);
	for (int i = 0; i < nlabels; i++) {
		uintptr_t ls = pb_start(pb);
		pb_uint64_opt(pb, LABEL_KEY, intern(b, labels[i].key));
		if (labels[i].str) {
			pb_uint64_opt(pb, LABEL_STR, intern(b, labels[i].str));
		} else {
			pb_int64_opt(pb, LABEL_NUM, labels[i].num);
			pb_uint64_opt(pb, LABEL_NUM_UNIT, intern(b, labels[i].num_unit));
		}
		pb_end(pb, SAMPLE_LABEL, ls);
	}
	pb_end(pb, PROFILE_SAMPLE, start);
	if (pb->failed)
		goto nomem;
	return 0;
nomem:
	b->failed = true;
	errno = ENOMEM;
	return -1;
}

/* ---- writing ------------------------------------------------------------ */

struct write_state {
	pprof_builder *b;
	vec maps;       /* struct mapping, in address order */
	vec funcs;      /* struct func; id = index + 1 */
	htab funchash;  /* (name, file) -> index + 1 */
	vec info;       /* struct locinfo, one per location */
};

static bool collect_mapping(const symtab_mapping *m, void *arg)
{
	struct write_state *ws = arg;
	if (!m->exec)
		return true;
	if (!vec_reserve(&ws->maps, sizeof(struct mapping), 1)) {
		ws->b->failed = true;
		return false;
	}
	struct mapping *mp = &((struct mapping *)ws->maps.p)[ws->maps.len++];
	memset(mp, 0, sizeof *mp);
	mp->start = m->start;
	mp->limit = m->limit;
	mp->offset = m->offset;
	mp->file = intern(ws->b, m->path);
	return true;
}

static uint32_t mapping_of(const struct write_state *ws, uintptr_t addr)
{
	const struct mapping *m = ws->maps.p;
	uintptr_t lo = 0, hi = ws->maps.len;
	while (lo < hi) {
		uintptr_t mid = lo + (hi - lo) / 2;
		if (m[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && addr < m[lo - 1].limit ? (uint32_t)lo : 0;
}

static uint32_t function_id(struct write_state *ws, uint32_t name, uint32_t file)
{
	uint32_t *slot = htab_slot(&ws->funchash, (uint64_t)name << 32 | file);
	if (!slot)
		return 0;
	if (*slot)
		return *slot;
	if (!vec_reserve(&ws->funcs, sizeof(struct func), 1)) {
		ws->funchash.len--;
		return 0;
	}
	((struct func *)ws->funcs.p)[ws->funcs.len] = (struct func){name, file};
	*slot = (uint32_t)++ws->funcs.len;
	return *slot;
}

/* Mappings, symbols and functions for every location. */
static void symbolize(struct write_state *ws)
{
	pprof_builder *b = ws->b;
	if (symtab_maps_foreach(collect_mapping, ws) != 0)
		ws->maps.len = 0; /* no /proc: locations without mappings */
	struct mapping *maps = ws->maps.p;
	for (uintptr_t i = 0; i < ws->maps.len; i++) {
		symtab_info si;
		if (symtab_object(maps[i].start, &si))
			maps[i].build_id = intern(b, si.build_id);
	}
	if (!vec_reserve(&ws->info, sizeof(struct locinfo), b->locs.len)) {
		b->failed = true;
		return;
	}
	const uintptr_t *locs = b->locs.p;
	struct locinfo *info = ws->info.p;
	for (uintptr_t i = 0; i < b->locs.len; i++) {
		struct locinfo *li = &info[i];
		memset(li, 0, sizeof *li);
		li->mapping = mapping_of(ws, locs[i]);
		symtab_info si;
		if (symtab_lookup(locs[i], &si) && si.func) {
			uint32_t file = intern(b, si.file);
			li->func = function_id(ws, intern(b, si.func), file);
			li->line = file ? si.line : 0;
		}
		if (li->mapping) {
			struct mapping *m = &maps[li->mapping - 1];
			m->nlocs++;
			m->nfuncs += li->func != 0;
			m->nlines += li->func != 0 && li->line != 0;
		}
	}
	ws->info.len = b->locs.len;
}

static void value_type(pbuf *out, unsigned field, uint32_t type, uint32_t unit)
{
	uintptr_t s = pb_start(out);
	pb_uint64_opt(out, VALUETYPE_TYPE, type);
	pb_uint64_opt(out, VALUETYPE_UNIT, unit);
	pb_end(out, field, s);
}

static void encode(struct write_state *ws, pbuf *out)
{
	pprof_builder *b = ws->b;
	const uint32_t *st = b->sample_types.p;
	for (uintptr_t i = 0; i + 1 < b->sample_types.len; i += 2)
		value_type(out, PROFILE_SAMPLE_TYPE, st[i], st[i + 1]);
	if (pb_room(out, b->samples.len) && b->samples.len) {
		memcpy(out->p + out->len, b->samples.p, b->samples.len);
		out->len += b->samples.len;
	}
	const struct mapping *maps = ws->maps.p;
	for (uintptr_t i = 0; i < ws->maps.len; i++) {
		const struct mapping *m = &maps[i];
		uintptr_t s = pb_start(out);
		pb_uint64(out, MAPPING_ID, i + 1);
		pb_uint64_opt(out, MAPPING_MEMORY_START, m->start);
		pb_uint64_opt(out, MAPPING_MEMORY_LIMIT, m->limit);
		pb_uint64_opt(out, MAPPING_FILE_OFFSET, m->offset);
		pb_uint64_opt(out, MAPPING_FILENAME, m->file);
		pb_uint64_opt(out, MAPPING_BUILD_ID, m->build_id);
		/* As Go: a mapping whose every location got a name says so, and
		 * pprof then trusts the names instead of looking for the binary. */
		if (m->nfuncs == m->nlocs)
			pb_uint64(out, MAPPING_HAS_FUNCTIONS, 1);
		if (m->nlocs > 0 && m->nlines == m->nlocs) {
			pb_uint64(out, MAPPING_HAS_FILENAMES, 1);
			pb_uint64(out, MAPPING_HAS_LINE_NUMBERS, 1);
		}
		pb_end(out, PROFILE_MAPPING, s);
	}
	const uintptr_t *locs = b->locs.p;
	const struct locinfo *info = ws->info.p;
	for (uintptr_t i = 0; i < b->locs.len; i++) {
		uintptr_t s = pb_start(out);
		pb_uint64(out, LOCATION_ID, i + 1);
		pb_uint64_opt(out, LOCATION_MAPPING_ID, info[i].mapping);
		pb_uint64_opt(out, LOCATION_ADDRESS, locs[i]);
		if (info[i].func) {
			uintptr_t ls = pb_start(out);
			pb_uint64(out, LINE_FUNCTION_ID, info[i].func);
			pb_int64_opt(out, LINE_LINE, info[i].line);
			pb_end(out, LOCATION_LINE, ls);
		}
		pb_end(out, PROFILE_LOCATION, s);
	}
	const struct func *funcs = ws->funcs.p;
	for (uintptr_t i = 0; i < ws->funcs.len; i++) {
		uintptr_t s = pb_start(out);
		pb_uint64(out, FUNCTION_ID, i + 1);
		pb_uint64_opt(out, FUNCTION_NAME, funcs[i].name);
		pb_uint64_opt(out, FUNCTION_SYSTEM_NAME, funcs[i].name);
		pb_uint64_opt(out, FUNCTION_FILENAME, funcs[i].file);
		pb_end(out, PROFILE_FUNCTION, s);
	}
	const struct strent *strs = b->strs.p;
	for (uintptr_t i = 0; i < b->strs.len; i++)
		pb_bytes(out, PROFILE_STRING_TABLE, (const char *)b->strbytes.p + strs[i].off, strs[i].len);
	pb_uint64_opt(out, PROFILE_DROP_FRAMES, b->drop_frames);
	pb_uint64_opt(out, PROFILE_KEEP_FRAMES, b->keep_frames);
	pb_int64_opt(out, PROFILE_TIME_NANOS, b->time_nanos);
	pb_int64_opt(out, PROFILE_DURATION_NANOS, b->duration_nanos);
	if (b->period_type || b->period_unit)
		value_type(out, PROFILE_PERIOD_TYPE, b->period_type, b->period_unit);
	pb_int64_opt(out, PROFILE_PERIOD, b->period);
	pb_packed(out, PROFILE_COMMENT, b->comments.p, b->comments.len);
	pb_uint64_opt(out, PROFILE_DEFAULT_SAMPLE_TYPE, b->default_sample_type);
}

static int write_all(int fd, const uint8_t *p, uintptr_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (uintptr_t)w;
	}
	return 0;
}

/* Gzips data to fd; writes it as is when zlib cannot be loaded. */
static int gzip_write(int fd, const uint8_t *data, uintptr_t n)
{
	uint8_t *chunk = os_alloc(GZIP_CHUNK_BYTES);
	if (!chunk) {
		errno = ENOMEM;
		return -1;
	}
	const struct zlib_api *zl = zload();
	if (!zl) {
		os_free(chunk, GZIP_CHUNK_BYTES);
		return write_all(fd, data, n);
	}
	z_stream z;
	z_init(&z);
	if (zl->deflateInit2_(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
			      (int)sizeof z) != Z_OK) {
		os_free(chunk, GZIP_CHUNK_BYTES);
		errno = ENOMEM;
		return -1;
	}
	int rc = 0;
	z.next_in = (Bytef *)(uintptr_t)data;
	for (;;) {
		uInt in = n > (1u << 30) ? (1u << 30) : (uInt)n;
		z.avail_in = in;
		int flush = in == n ? Z_FINISH : Z_NO_FLUSH;
		int zr;
		do {
			z.next_out = chunk;
			z.avail_out = (uInt)GZIP_CHUNK_BYTES;
			zr = zl->deflate(&z, flush);
			if (zr == Z_STREAM_ERROR) {
				errno = EIO;
				rc = -1;
				goto out;
			}
			if (write_all(fd, chunk, GZIP_CHUNK_BYTES - z.avail_out) != 0) {
				rc = -1;
				goto out;
			}
		} while (z.avail_out == 0);
		n -= in - z.avail_in;
		if (flush == Z_FINISH)
			break;
	}
out:
	zl->deflateEnd(&z);
	os_free(chunk, GZIP_CHUNK_BYTES);
	return rc;
}

int pprof_write_fd(pprof_builder *b, int fd)
{
	struct write_state ws;
	memset(&ws, 0, sizeof ws);
	ws.b = b;
	pbuf out = {0};
	int rc = -1;
	if (!b->failed)
		symbolize(&ws);
	if (!b->failed) {
		encode(&ws, &out);
		if (!out.failed)
			rc = gzip_write(fd, out.p, out.len);
	}
	if (rc != 0 && (b->failed || out.failed))
		errno = ENOMEM;
	pb_free(&out);
	vec_free(&ws.maps, sizeof(struct mapping));
	vec_free(&ws.funcs, sizeof(struct func));
	htab_free(&ws.funchash);
	vec_free(&ws.info, sizeof(struct locinfo));
	return rc;
}
