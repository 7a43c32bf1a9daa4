/*
 * test_pprof.c: the profile.proto writer (src/pprof.h).
 *
 * A profile of known samples (stacks of real return addresses in this
 * program, a static function among them, and one libc frame) is written,
 * then read back two ways: gunzipped and decoded here by a small protobuf
 * reader (string table, sample types and values, labels, locations at
 * pc - 1 deduplicated, functions deduplicated with file:line, mappings
 * with the executable's path and build ID and has_functions), and by the
 * real `go tool pprof` (-raw and -top) when go is installed.  A copy of
 * this program deletes its own file and writes a profile, which must still
 * show every name with the profile alone.  Misuse (wrong value count) is
 * refused.
 */
#define _GNU_SOURCE
#include "pprof.h"
#include "zload.h"
#include "symtab.h"
#include "testing.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>


static volatile int sink;
static int leaf_line, other_line, mid_line; /* lines of the calls that captured the pcs */

static TEST_NOIPA void grab(uintptr_t *out)
{
	*out = (uintptr_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

/* Each function stores a return address inside itself (from its call of
 * grab) in its slot: stacks of real code addresses, leaf first. */
static TEST_NOIPA void alloc_leaf_static(uintptr_t *pcs)
{
	sink++;
	grab(&pcs[0]); leaf_line = __LINE__;
	__asm__ volatile("" ::: "memory");
}

static TEST_NOIPA void alloc_other_static(uintptr_t *pcs)
{
	sink += 2;
	grab(&pcs[0]); other_line = __LINE__;
	__asm__ volatile("" ::: "memory");
}

void alloc_mid_global(uintptr_t *pcs, int which);
TEST_NOIPA void alloc_mid_global(uintptr_t *pcs, int which)
{
	if (which == 0)
		alloc_leaf_static(pcs);
	else
		alloc_other_static(pcs);
	grab(&pcs[1]); mid_line = __LINE__;
	__asm__ volatile("" ::: "memory");
}

/* ---- the profile under test --------------------------------------------- */

#define NSAMPLES 3
static const int64_t sample_values[NSAMPLES][4] = {
	{3, 300, 1, 100},
	{7, 7000, 7, 7000},
	{1, 64, -1, -64}, /* negative values must survive too */
};
static uintptr_t stacks[NSAMPLES][3];
static int stack_len[NSAMPLES];
static uintptr_t libc_pc;

static TEST_NOIPA void make_stacks(void)
{
	alloc_mid_global(stacks[0], 0);
	grab(&stacks[0][2]);
	stack_len[0] = 3;
	alloc_mid_global(stacks[1], 1);
	stack_len[1] = 2;
	/* A "return address" inside qsort, as if qsort's comparison function
	 * had allocated; then the same mid frame as sample 0. */
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	libc_pc = (uintptr_t)(h ? dlsym(h, "qsort") : NULL) + 5;
	stacks[2][0] = libc_pc;
	stacks[2][1] = stacks[0][1];
	stack_len[2] = 2;
}

static pprof_builder *make_profile(void)
{
	pprof_builder *b = pprof_new();
	if (!b)
		return NULL;
	pprof_sample_type(b, "alloc_objects", "count");
	pprof_sample_type(b, "alloc_space", "bytes");
	pprof_sample_type(b, "inuse_objects", "count");
	pprof_sample_type(b, "inuse_space", "bytes");
	pprof_period(b, "space", "bytes", 524288);
	pprof_default_sample_type(b, "alloc_space");
	pprof_time(b, 1700000000123456789ll, 5000000000ll);
	pprof_comment(b, "gort test profile");
	for (int i = 0; i < NSAMPLES; i++) {
		pprof_label labels[2] = {
			{.key = "bytes", .num = sample_values[i][1] / sample_values[i][0], .num_unit = "bytes"},
			{.key = "type", .str = i == 1 ? "struct other" : "struct node"},
		};
		if (pprof_add_sample(b, stacks[i], stack_len[i], sample_values[i], 4, labels, 2) != 0) {
			pprof_free(b);
			return NULL;
		}
	}
	return b;
}

/* ---- reading it back ---------------------------------------------------- */

static unsigned char *gunzip_file(const char *path, size_t *outlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	unsigned char *in = malloc(cap);
	ssize_t n;
	while (in && (n = read(fd, in + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap)
			in = realloc(in, cap *= 2);
	}
	close(fd);
	if (!in || len < 18 || in[0] != 0x1f || in[1] != 0x8b) { /* the gzip magic */
		free(in);
		return NULL;
	}
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		free(in);
		return NULL;
	}
	size_t ocap = 1 << 20;
	unsigned char *out = malloc(ocap);
	z.next_in = in;
	z.avail_in = (uInt)len;
	int rc;
	do {
		if (z.total_out == ocap)
			out = realloc(out, ocap *= 2);
		z.next_out = out + z.total_out;
		z.avail_out = (uInt)(ocap - z.total_out);
		rc = inflate(&z, Z_NO_FLUSH);
	} while (rc == Z_OK);
	*outlen = z.total_out;
	inflateEnd(&z);
	free(in);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/* A protobuf field: number, wire type, varint value or bytes. */
struct field {
	unsigned num, wire;
	uint64_t v;
	const unsigned char *data;
	size_t len;
};

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t varint(struct reader *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		unsigned char b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static bool next_field(struct reader *r, struct field *f)
{
	if (r->p >= r->end || r->bad)
		return false;
	uint64_t key = varint(r);
	f->num = (unsigned)(key >> 3);
	f->wire = (unsigned)(key & 7);
	f->data = NULL;
	f->len = 0;
	f->v = 0;
	if (f->wire == 0) {
		f->v = varint(r);
	} else if (f->wire == 2) {
		uint64_t n = varint(r);
		if (n > (uint64_t)(r->end - r->p)) {
			r->bad = true;
			return false;
		}
		f->data = r->p;
		f->len = n;
		r->p += n;
	} else {
		r->bad = true; /* the profile uses varints and bytes only */
		return false;
	}
	return !r->bad;
}

/* Appends the integers of a repeated field, packed or not. */
static void ints(const struct field *f, uint64_t *out, int *n, int max)
{
	if (f->wire == 0) {
		if (*n < max)
			out[(*n)++] = f->v;
		return;
	}
	struct reader r = {f->data, f->data + f->len, false};
	while (r.p < r.end && !r.bad && *n < max)
		out[(*n)++] = varint(&r);
}

#define MAXN 64

struct label {
	uint64_t key, str, num_unit;
	int64_t num;
};
struct sample {
	uint64_t loc[MAXN];
	int nloc;
	uint64_t val[MAXN];
	int nval;
	struct label labels[4];
	int nlabels;
};
struct mapping {
	uint64_t id, start, limit, offset, file, build_id;
	bool has_functions, has_filenames, has_lines;
};
struct location {
	uint64_t id, mapping, address;
	uint64_t func[4], line[4];
	int nlines;
};
struct function {
	uint64_t id, name, system_name, file;
};

struct profile {
	const unsigned char *buf;
	const unsigned char *str[4096];
	size_t strlen_[4096];
	int nstr;
	uint64_t sample_type[16][2];
	int ntypes;
	struct sample samples[MAXN];
	int nsamples;
	struct mapping maps[256];
	int nmaps;
	struct location locs[MAXN];
	int nlocs;
	struct function funcs[MAXN];
	int nfuncs;
	uint64_t period_type[2], period, time_nanos, duration_nanos, default_sample_type;
	uint64_t comments[8];
	int ncomments;
	bool bad;
};

static void value_type(const struct field *f, uint64_t out[2])
{
	struct reader r = {f->data, f->data + f->len, false};
	struct field g;
	while (next_field(&r, &g))
		if (g.num == 1 || g.num == 2)
			out[g.num - 1] = g.v;
}

static bool decode(const unsigned char *buf, size_t len, struct profile *p)
{
	memset(p, 0, sizeof *p);
	p->buf = buf;
	struct reader r = {buf, buf + len, false};
	struct field f;
	while (next_field(&r, &f)) {
		struct reader s = {f.data, f.data + f.len, false};
		struct field g;
		switch (f.num) {
		case 1:
			if (p->ntypes < 16)
				value_type(&f, p->sample_type[p->ntypes++]);
			break;
		case 2: {
			if (p->nsamples == MAXN)
				break;
			struct sample *sm = &p->samples[p->nsamples++];
			while (next_field(&s, &g)) {
				if (g.num == 1)
					ints(&g, sm->loc, &sm->nloc, MAXN);
				else if (g.num == 2)
					ints(&g, sm->val, &sm->nval, MAXN);
				else if (g.num == 3 && sm->nlabels < 4) {
					struct label *l = &sm->labels[sm->nlabels++];
					struct reader t = {g.data, g.data + g.len, false};
					struct field h;
					while (next_field(&t, &h)) {
						if (h.num == 1) l->key = h.v;
						if (h.num == 2) l->str = h.v;
						if (h.num == 3) l->num = (int64_t)h.v;
						if (h.num == 4) l->num_unit = h.v;
					}
				}
			}
			break;
		}
		case 3: {
			if (p->nmaps == 256)
				break;
			struct mapping *m = &p->maps[p->nmaps++];
			while (next_field(&s, &g)) {
				switch (g.num) {
				case 1: m->id = g.v; break;
				case 2: m->start = g.v; break;
				case 3: m->limit = g.v; break;
				case 4: m->offset = g.v; break;
				case 5: m->file = g.v; break;
				case 6: m->build_id = g.v; break;
				case 7: m->has_functions = g.v; break;
				case 8: m->has_filenames = g.v; break;
				case 9: m->has_lines = g.v; break;
				}
			}
			break;
		}
		case 4: {
			if (p->nlocs == MAXN)
				break;
			struct location *l = &p->locs[p->nlocs++];
			while (next_field(&s, &g)) {
				if (g.num == 1) l->id = g.v;
				if (g.num == 2) l->mapping = g.v;
				if (g.num == 3) l->address = g.v;
				if (g.num == 4 && l->nlines < 4) {
					struct reader t = {g.data, g.data + g.len, false};
					struct field h;
					while (next_field(&t, &h)) {
						if (h.num == 1) l->func[l->nlines] = h.v;
						if (h.num == 2) l->line[l->nlines] = h.v;
					}
					l->nlines++;
				}
			}
			break;
		}
		case 5: {
			if (p->nfuncs == MAXN)
				break;
			struct function *fn = &p->funcs[p->nfuncs++];
			while (next_field(&s, &g)) {
				if (g.num == 1) fn->id = g.v;
				if (g.num == 2) fn->name = g.v;
				if (g.num == 3) fn->system_name = g.v;
				if (g.num == 4) fn->file = g.v;
			}
			break;
		}
		case 6:
			if (p->nstr < 4096) {
				p->str[p->nstr] = f.data;
				p->strlen_[p->nstr++] = f.len;
			}
			break;
		case 9: p->time_nanos = f.v; break;
		case 10: p->duration_nanos = f.v; break;
		case 11: value_type(&f, p->period_type); break;
		case 12: p->period = f.v; break;
		case 13: ints(&f, p->comments, &p->ncomments, 8); break;
		case 14: p->default_sample_type = f.v; break;
		}
	}
	return !r.bad;
}

/* String i of the table, copied for printing and comparing. */
static const char *S(const struct profile *p, uint64_t i)
{
	static char bufs[8][PATH_MAX];
	static int k;
	char *b = bufs[k++ % 8];
	if (i >= (uint64_t)p->nstr)
		return "<bad string index>";
	size_t n = p->strlen_[i] < PATH_MAX - 1 ? p->strlen_[i] : PATH_MAX - 1;
	memcpy(b, p->str[i], n);
	b[n] = 0;
	return b;
}

static const struct location *loc_by_id(const struct profile *p, uint64_t id)
{
	for (int i = 0; i < p->nlocs; i++)
		if (p->locs[i].id == id)
			return &p->locs[i];
	return NULL;
}

static const struct function *func_by_id(const struct profile *p, uint64_t id)
{
	for (int i = 0; i < p->nfuncs; i++)
		if (p->funcs[i].id == id)
			return &p->funcs[i];
	return NULL;
}

static const struct mapping *map_by_id(const struct profile *p, uint64_t id)
{
	for (int i = 0; i < p->nmaps; i++)
		if (p->maps[i].id == id)
			return &p->maps[i];
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The function name of a location ("" when it has none). */
static const char *loc_func(const struct profile *p, const struct location *l)
{
	const struct function *fn = l && l->nlines ? func_by_id(p, l->func[0]) : NULL;
	return fn ? S(p, fn->name) : "";
}

/* Checks a decoded profile against what make_profile put in. exe: the
 * executable's path as the mapping should name it. */
static void check_profile(const struct profile *p, const char *exe, const char *exe_build_id)
{
	CHECK(!p->bad);
	REQUIRE(p->nstr > 0);
	CHECK(p->strlen_[0] == 0); /* string_table[0] == "" */
	/* Each string once. */
	for (int i = 0; i < p->nstr; i++)
		for (int j = i + 1; j < p->nstr; j++)
			CHECKF(p->strlen_[i] != p->strlen_[j] || memcmp(p->str[i], p->str[j], p->strlen_[i]) != 0,
			       "string %d and %d are both \"%s\"", i, j, S(p, (uint64_t)i));

	static const char *types[4][2] = {
		{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"},
	};
	REQUIRE(p->ntypes == 4);
	for (int i = 0; i < 4; i++) {
		CHECK(strcmp(S(p, p->sample_type[i][0]), types[i][0]) == 0);
		CHECK(strcmp(S(p, p->sample_type[i][1]), types[i][1]) == 0);
	}
	CHECK(strcmp(S(p, p->period_type[0]), "space") == 0 && strcmp(S(p, p->period_type[1]), "bytes") == 0);
	CHECK(p->period == 524288);
	CHECK(strcmp(S(p, p->default_sample_type), "alloc_space") == 0);
	CHECK(p->time_nanos == 1700000000123456789ull && p->duration_nanos == 5000000000ull);
	CHECK(p->ncomments == 1 && strcmp(S(p, p->comments[0]), "gort test profile") == 0);

	REQUIRE(p->nsamples == NSAMPLES);
	for (int i = 0; i < NSAMPLES; i++) {
		const struct sample *sm = &p->samples[i];
		CHECKF(sm->nval == 4, "sample %d: %d values", i, sm->nval);
		for (int k = 0; k < 4 && k < sm->nval; k++)
			CHECKF((int64_t)sm->val[k] == sample_values[i][k], "sample %d value %d: %lld", i, k,
			       (long long)sm->val[k]);
		CHECKF(sm->nloc == stack_len[i], "sample %d: %d locations", i, sm->nloc);
		for (int k = 0; k < sm->nloc && k < stack_len[i]; k++) {
			const struct location *l = loc_by_id(p, sm->loc[k]);
			CHECKF(l != NULL, "sample %d location %d: id %llu unknown", i, k, (unsigned long long)sm->loc[k]);
			if (l)
				CHECKF(l->address == stacks[i][k] - 1, "sample %d frame %d: address %#llx, pc %#lx", i, k,
				       (unsigned long long)l->address, (unsigned long)stacks[i][k]);
		}
		REQUIRE(sm->nlabels == 2);
		CHECK(strcmp(S(p, sm->labels[0].key), "bytes") == 0);
		CHECK(sm->labels[0].num == sample_values[i][1] / sample_values[i][0]);
		CHECK(strcmp(S(p, sm->labels[0].num_unit), "bytes") == 0 && sm->labels[0].str == 0);
		CHECK(strcmp(S(p, sm->labels[1].key), "type") == 0);
		CHECK(strcmp(S(p, sm->labels[1].str), i == 1 ? "struct other" : "struct node") == 0);
	}

	/* The frames' functions, leaf first. */
	static const char *want[NSAMPLES][3] = {
		{"alloc_leaf_static", "alloc_mid_global", "make_stacks"},
		{"alloc_other_static", "alloc_mid_global", NULL},
		{"qsort", "alloc_mid_global", NULL},
	};
	for (int i = 0; i < NSAMPLES; i++)
		for (int k = 0; k < p->samples[i].nloc && k < 3 && want[i][k]; k++) {
			const char *name = loc_func(p, loc_by_id(p, p->samples[i].loc[k]));
			CHECKF(strcmp(name, want[i][k]) == 0, "sample %d frame %d: %s, want %s", i, k, name, want[i][k]);
		}

	/* Locations: one per address (the mid frame is shared by all three
	 * samples), ids 1..n, every one named, in a mapping that holds it. */
	CHECKF(p->nlocs == 5, "%d locations", p->nlocs);
	CHECK(p->samples[0].loc[1] == p->samples[1].loc[1] && p->samples[0].loc[1] == p->samples[2].loc[1]);
	for (int i = 0; i < p->nlocs; i++) {
		const struct location *l = &p->locs[i];
		CHECK(l->id == (uint64_t)i + 1);
		CHECKF(l->nlines == 1, "location %llu: %d lines", (unsigned long long)l->id, l->nlines);
		const struct mapping *m = map_by_id(p, l->mapping);
		CHECKF(m && l->address >= m->start && l->address < m->limit, "location %#llx outside its mapping",
		       (unsigned long long)l->address);
		if (m)
			CHECKF(m->has_functions, "mapping %s lacks has_functions", S(p, m->file));
	}
	/* Functions: once per (name, file); file:line for this file's code. */
	for (int i = 0; i < p->nfuncs; i++) {
		CHECK(p->funcs[i].id == (uint64_t)i + 1);
		CHECK(p->funcs[i].system_name == p->funcs[i].name);
		for (int j = i + 1; j < p->nfuncs; j++)
			CHECK(p->funcs[i].name != p->funcs[j].name || p->funcs[i].file != p->funcs[j].file);
	}
	const struct location *leaf = loc_by_id(p, p->samples[0].loc[0]);
	const struct location *other = loc_by_id(p, p->samples[1].loc[0]);
	const struct location *mid = loc_by_id(p, p->samples[0].loc[1]);
	REQUIRE(leaf && other && mid && leaf->nlines && other->nlines && mid->nlines);
	CHECKF(leaf->line[0] == (uint64_t)leaf_line, "leaf line %llu, want %d", (unsigned long long)leaf->line[0],
	       leaf_line);
	CHECK(other->line[0] == (uint64_t)other_line);
	CHECK(mid->line[0] == (uint64_t)mid_line);
	const struct function *fn = func_by_id(p, leaf->func[0]);
	REQUIRE(fn != NULL);
	CHECKF(strcmp(base_name(S(p, fn->file)), "test_pprof.c") == 0, "leaf file %s", S(p, fn->file));

	/* The executable's mapping: path, build ID, has_* flags; the first
	 * mapping, which pprof takes for the main binary. */
	const struct mapping *m = map_by_id(p, leaf->mapping);
	REQUIRE(m != NULL);
	CHECKF(strcmp(S(p, m->file), exe) == 0, "mapping file %s, want %s", S(p, m->file), exe);
	CHECKF(exe_build_id && strcmp(S(p, m->build_id), exe_build_id) == 0, "build id %s", S(p, m->build_id));
	CHECK(m->has_functions && m->has_filenames && m->has_lines);
	CHECK(p->nmaps > 0 && p->maps[0].file == m->file);
	for (int i = 0; i < p->nmaps; i++)
		CHECK(p->maps[i].id == (uint64_t)i + 1 && p->maps[i].limit > p->maps[i].start);
	const struct mapping *lm = map_by_id(p, loc_by_id(p, p->samples[2].loc[0])->mapping);
	CHECK(lm && strstr(base_name(S(p, lm->file)), "libc") && lm->build_id);
}

/* ---- go tool pprof ------------------------------------------------------ */

static bool have_go(void)
{
	return system("command -v go >/dev/null 2>&1") == 0;
}

/* Runs `go tool pprof ARGS FILE` and returns its output (malloc'ed). */
static char *go_pprof(const char *args, const char *file)
{
	char cmd[2 * PATH_MAX];
	/* pprof wants a HOME for its settings; the binary path is not given:
	 * the profile alone must be enough. */
	snprintf(cmd, sizeof cmd,
		 "cd /tmp && HOME=${HOME:-/tmp} PPROF_TMPDIR=/tmp timeout 120 go tool pprof %s '%s' 2>&1", args, file);
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	size_t n;
	while (out && (n = fread(out + len, 1, cap - 1 - len, f)) > 0) {
		len += n;
		if (len == cap - 1)
			out = realloc(out, cap *= 2);
	}
	int rc = pclose(f);
	if (out)
		out[len] = 0;
	if (rc != 0 && out) {
		fprintf(stderr, "    go tool pprof %s: exit %d\n%s", args, rc, out);
		free(out);
		return NULL;
	}
	return out;
}

/* Checks the -raw and -top views: names (static ones included) and
 * values, with no binary at hand when deleted. */
static void check_with_go(const char *file, bool deleted)
{
	char *raw = go_pprof("-raw", file);
	REQUIRE(raw != NULL);
	CHECKF(strstr(raw, "alloc_leaf_static") && strstr(raw, "alloc_other_static") &&
		       strstr(raw, "alloc_mid_global") && strstr(raw, "qsort"),
	       "names missing from -raw:\n%s", raw);
	CHECKF(strstr(raw, "test_pprof.c"), "file missing from -raw:\n%s", raw);
	/* Values of sample 1: "7 7000 7 7000: <ids>" in columns. */
	CHECKF(strstr(raw, "7000          7       7000:") || strstr(raw, " 7000 "), "values missing from -raw:\n%s",
	       raw);
	CHECKF(!strstr(raw, "build ID mismatch"), "-raw:\n%s", raw);
	if (deleted)
		CHECKF(!strstr(raw, "no such file") || strstr(raw, "alloc_leaf_static"), "-raw:\n%s", raw);
	free(raw);

	char *top = go_pprof("-top -sample_index=alloc_space -nodecount=20", file);
	REQUIRE(top != NULL);
	/* flat alloc_space: 7000 bytes in alloc_other_static, 300 in the leaf. */
	CHECKF(strstr(top, "alloc_other_static") && strstr(top, "alloc_leaf_static") && strstr(top, "qsort"),
	       "names missing from -top:\n%s", top);
	CHECKF(strstr(top, "6.84kB") || strstr(top, "7000B") || strstr(top, "7kB"), "values missing from -top:\n%s", top);
	free(top);
	top = go_pprof("-top -sample_index=inuse_objects -nodecount=20", file);
	REQUIRE(top != NULL);
	CHECKF(strstr(top, "alloc_other_static") && strstr(top, " 7 "), "-top inuse_objects:\n%s", top);
	free(top);
}

/* ---- the cases ---------------------------------------------------------- */

static void exe_path(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	buf[n > 0 ? n : 0] = 0;
	static const char deleted[] = " (deleted)";
	size_t dl = sizeof deleted - 1;
	if (n >= (ssize_t)dl && strcmp(buf + n - dl, deleted) == 0)
		buf[n - dl] = 0;
}

static char profile_path[PATH_MAX];

static void write_profile(const char *path)
{
	pprof_builder *b = make_profile();
	REQUIRE(b != NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	CHECK(pprof_write_fd(b, fd) == 0);
	close(fd);
	pprof_free(b);
}

static void test_write_and_decode(void)
{
	make_stacks();
	REQUIRE(libc_pc > 5);
	snprintf(profile_path, sizeof profile_path, "/tmp/gort_test_pprof_%d.pb.gz", (int)getpid());
	write_profile(profile_path);
	size_t len;
	unsigned char *buf = gunzip_file(profile_path, &len);
	REQUIRE(buf != NULL);
	static struct profile p;
	CHECK(decode(buf, len, &p));
	char exe[PATH_MAX];
	exe_path(exe, sizeof exe);
	symtab_info si;
	REQUIRE(symtab_object((uintptr_t)&alloc_mid_global, &si));
	check_profile(&p, exe, si.build_id);
	free(buf);
}

static void test_go_tool_pprof(void)
{
	check_with_go(profile_path, false);
}

static void test_misuse(void)
{
	pprof_builder *b = pprof_new();
	REQUIRE(b != NULL);
	pprof_sample_type(b, "samples", "count");
	int64_t v[2] = {1, 2};
	uintptr_t pcs[1] = {(uintptr_t)&alloc_mid_global + 8};
	errno = 0;
	CHECK(pprof_add_sample(b, pcs, 1, v, 2, NULL, 0) == -1 && errno == EINVAL);
	CHECK(pprof_add_sample(b, pcs, -1, v, 1, NULL, 0) == -1 && errno == EINVAL);
	CHECK(pprof_add_sample(b, pcs, 1, v, 1, NULL, 0) == 0);
	/* An empty stack and a stack cut by a 0 are fine. */
	uintptr_t cut[3] = {(uintptr_t)&alloc_mid_global + 8, 0, 0x1234};
	CHECK(pprof_add_sample(b, NULL, 0, v, 1, NULL, 0) == 0);
	CHECK(pprof_add_sample(b, cut, 3, v, 1, NULL, 0) == 0);
	/* A closed descriptor: the error is write's. */
	int fd = open("/dev/null", O_WRONLY);
	close(fd);
	errno = 0;
	CHECK(pprof_write_fd(b, fd) == -1 && errno == EBADF);
	/* Written twice to a pipe-less file: both decode. */
	char path[PATH_MAX];
	snprintf(path, sizeof path, "/tmp/gort_test_pprof_misuse_%d.pb.gz", (int)getpid());
	for (int k = 0; k < 2; k++) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		REQUIRE(fd >= 0);
		CHECK(pprof_write_fd(b, fd) == 0);
		close(fd);
		size_t len;
		unsigned char *buf = gunzip_file(path, &len);
		static struct profile p;
		CHECK(buf && decode(buf, len, &p));
		CHECK(p.nsamples == 3 && p.nlocs == 1 && p.samples[2].nloc == 1);
		CHECK(p.nfuncs == 1 && strcmp(S(&p, p.funcs[0].name), "alloc_mid_global") == 0);
		free(buf);
	}
	unlink(path);
	pprof_free(b);
}

/* A profile with many samples and distinct addresses (hash tables grow). */
static void test_many_samples(void)
{
	pprof_builder *b = pprof_new();
	REQUIRE(b != NULL);
	pprof_sample_type(b, "samples", "count");
	uintptr_t base = (uintptr_t)&alloc_mid_global;
	for (int i = 0; i < 20000; i++) {
		uintptr_t pcs[2] = {base + 1 + (uintptr_t)(i % 5000), base + 2};
		int64_t v = i;
		char key[32];
		snprintf(key, sizeof key, "k%d", i % 3000);
		pprof_label l = {.key = key, .str = "v"};
		REQUIRE(pprof_add_sample(b, pcs, 2, &v, 1, &l, 1) == 0);
	}
	char path[PATH_MAX];
	snprintf(path, sizeof path, "/tmp/gort_test_pprof_many_%d.pb.gz", (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	CHECK(pprof_write_fd(b, fd) == 0);
	close(fd);
	pprof_free(b);
	size_t len;
	unsigned char *buf = gunzip_file(path, &len);
	REQUIRE(buf != NULL);
	/* Count top-level fields without the fixed-size decoder. */
	struct reader r = {buf, buf + len, false};
	struct field f;
	int nsamples = 0, nlocs = 0, nstr = 0;
	while (next_field(&r, &f)) {
		nsamples += f.num == 2;
		nlocs += f.num == 4;
		nstr += f.num == 6;
	}
	CHECK(!r.bad);
	CHECK(nsamples == 20000);
	CHECKF(nlocs == 5000, "%d locations", nlocs);
	CHECKF(nstr >= 3000 + 4 && nstr < 3000 + 100, "%d strings", nstr); /* "", keys, "v", names, paths */
	free(buf);
	unlink(path);
}

/* In the child: delete the executable, then write the profile to path. */
/* A child's profile: the test's stacks, written to path. */
static bool child_writes_profile(const char *path)
{
	make_stacks();
	pprof_builder *b = make_profile();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (!b || fd < 0 || pprof_write_fd(b, fd) != 0)
		return false;
	close(fd);
	pprof_free(b);
	return true;
}

static int deleted_child(const char *path)
{
	char exe[PATH_MAX];
	exe_path(exe, sizeof exe);
	if (unlink(exe) != 0)
		return 3;
	if (!child_writes_profile(path))
		return 4;
	printf("exe=%s\nleaf_line=%d\nother_line=%d\nmid_line=%d\n", exe, leaf_line, other_line, mid_line);
	return 0;
}

/* Without zlib (zload.h): the same profile, written uncompressed. */
static int no_zlib_child(const char *path)
{
	zload_soname = "libgort-test-no-such-zlib.so.1";
	return child_writes_profile(path) ? 0 : 4;
}

static void test_without_zlib(void)
{
	char prof[PATH_MAX];
	snprintf(prof, sizeof prof, "/tmp/gort_test_pprof_raw_%d.pb", (int)getpid());
	char exe[PATH_MAX];
	exe_path(exe, sizeof exe);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(exe, exe, "--no-zlib-child", prof, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	int fd = open(prof, O_RDONLY);
	REQUIRE(fd >= 0);
	static unsigned char buf[1 << 20];
	ssize_t len = read(fd, buf, sizeof buf);
	close(fd);
	REQUIRE(len > 2);
	CHECKF(!(buf[0] == 0x1f && buf[1] == 0x8b), "written gzipped without zlib?");
	static struct profile p;
	CHECK(decode(buf, (size_t)len, &p));
	CHECK(p.nsamples == NSAMPLES);
	if (have_go())
		check_with_go(prof, false); /* pprof reads an uncompressed profile too */
	unlink(prof);
}

static bool copy_self(const char *to)
{
	int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[1 << 16];
	ssize_t n;
	bool ok = in >= 0 && out >= 0;
	while (ok && (n = read(in, buf, sizeof buf)) > 0)
		ok = write(out, buf, (size_t)n) == n;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok;
}

static void test_deleted_binary(void)
{
	char exe[] = "/tmp/gort_test_pprof_exeXXXXXX";
	int fd = mkstemp(exe);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(copy_self(exe) && chmod(exe, 0755) == 0);
	char prof[PATH_MAX];
	snprintf(prof, sizeof prof, "%s.pb.gz", exe);
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl(exe, exe, "--deleted-child", prof, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char out[4096];
	size_t off = 0;
	ssize_t n;
	while (off < sizeof out - 1 && (n = read(pfd[0], out + off, sizeof out - 1 - off)) > 0)
		off += (size_t)n;
	out[off] = 0;
	close(pfd[0]);
	int status = 0;
	REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x: %s", status, out);
	CHECK(access(exe, F_OK) != 0); /* the child deleted it */
	unlink(exe);
	/* The child's lines are this program's (same source). */
	int ll = 0, ol = 0, ml = 0;
	const char *s = strstr(out, "leaf_line=");
	if (s)
		sscanf(s, "leaf_line=%d\nother_line=%d\nmid_line=%d", &ll, &ol, &ml);
	CHECK(ll == leaf_line && ol == other_line && ml == mid_line);

	size_t len;
	unsigned char *buf = gunzip_file(prof, &len);
	REQUIRE(buf != NULL);
	static struct profile p;
	CHECK(decode(buf, len, &p));
	/* The addresses are the child's: check names, not addresses. */
	REQUIRE(p.nsamples == NSAMPLES && p.samples[0].nloc == 3);
	const struct location *leaf = loc_by_id(&p, p.samples[0].loc[0]);
	CHECK(strcmp(loc_func(&p, leaf), "alloc_leaf_static") == 0);
	CHECK(strcmp(loc_func(&p, loc_by_id(&p, p.samples[1].loc[0])), "alloc_other_static") == 0);
	CHECK(leaf && leaf->line[0] == (uint64_t)leaf_line);
	const struct mapping *m = leaf ? map_by_id(&p, leaf->mapping) : NULL;
	CHECKF(m && strcmp(S(&p, m->file), exe) == 0, "mapping %s, want %s", m ? S(&p, m->file) : "-", exe);
	CHECK(m && m->has_functions && m->build_id);
	free(buf);

	if (have_go())
		check_with_go(prof, true);
	else
		printf("    (go tool pprof not found: decoded here only)\n");
	unlink(prof);
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--deleted-child") == 0)
		return deleted_child(argv[2]);
	if (argc > 2 && strcmp(argv[1], "--no-zlib-child") == 0)
		return no_zlib_child(argv[2]);
	RUN(test_write_and_decode);
	if (have_go())
		RUN(test_go_tool_pprof);
	else
		printf("--- SKIP: test_go_tool_pprof (go tool pprof not found)\n");
	RUN(test_misuse);
	RUN(test_many_samples);
	RUN(test_deleted_binary);
	RUN(test_without_zlib);
	unlink(profile_path);
	TEST_EXIT();
}
