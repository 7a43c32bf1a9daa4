/*
 * cfi.c: stack walks by DWARF call-frame information (see cfi.h).
 *
 * Owns the rule cache.  A rule is what the CFA program of a frame's FDE
 * says at its pc, reduced to what an x86-64 walk needs: the canonical frame
 * address (CFA) is rsp or rbp plus an offset, the return address is at
 * CFA-8, and rbp is either unchanged or saved at CFA-8k.  Anything else (a
 * CFA expression, a return address elsewhere) is not cached as a rule but
 * as "lost", and the caller falls back to libgcc.
 *
 * Cache entries are one 64-bit word each, pc << 17 | rule, so a reader
 * never sees half an entry; racing writers of one slot both write a
 * correct entry.  A pc belongs to one object for as long as it is loaded;
 * an object unloaded and another loaded at the same address could leave
 * stale rules, which can only cut a walk short: every address a rule
 * computes is checked against the stack before it is read.
 */
#define _GNU_SOURCE /* _dl_find_object */
#include "cfi.h"
#include "atomic.h"
#include "dwread.h"

#include <dlfcn.h>

#if defined(__x86_64__) && defined(DLFO_STRUCT_HAS_EH_DBASE)

#include <string.h>

/* Rule bits: 16 = CFA from rbp (else rsp); 4..15 = CFA offset / 8;
 * 0..3 = rbp saved at CFA - 8 * that (0: unchanged).  Offset 0 marks the
 * two rules that end a walk. */
#define RULE_BITS 17
#define RULE_FROM_RBP (1u << 16)
#define RULE_OUTERMOST 0u             /* the return address is undefined */
#define RULE_LOST RULE_FROM_RBP       /* no usable information */
#define RULE_CACHE 4096               /* entries, a power of two */

GORT_COLD_BSS static uint64_t rule_cache[RULE_CACHE]; /* atomic */

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

/* --- Reading DWARF (dwread.h) */

/* A pointer in DW_EH_PE encoding enc; base: the section start for datarel. */
static uintptr_t encoded(rd *r, uint8_t enc, uintptr_t datarel)
{
	if (enc == 0xff) /* DW_EH_PE_omit */
		return 0;
	uintptr_t at = (uintptr_t)r->p, v;
	switch (enc & 0x0f) {
	case 0x00: v = (uintptr_t)rd_uint(r, 8); break;
	case 0x01: v = (uintptr_t)rd_uleb(r); break;
	case 0x02: v = (uintptr_t)rd_uint(r, 2); break;
	case 0x03: v = (uintptr_t)rd_uint(r, 4); break;
	case 0x04: v = (uintptr_t)rd_uint(r, 8); break;
	case 0x09: v = (uintptr_t)rd_sleb(r); break;
	case 0x0a: v = (uintptr_t)(intptr_t)(int16_t)rd_uint(r, 2); break;
	case 0x0b: v = (uintptr_t)(intptr_t)(int32_t)rd_uint(r, 4); break;
	case 0x0c: v = (uintptr_t)rd_uint(r, 8); break;
	default: r->bad = true; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;      /* pcrel */
	case 0x30: v += datarel; break; /* datarel */
	default: r->bad = true; return 0;
	}
	if (enc & 0x80) /* indirect: only personality pointers, which are skipped */
		v = 0;
	return v;
}

/* --- The FDE of a pc, by binary search of .eh_frame_hdr's sorted table */

static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t pc)
{
	if (hdr[0] != 1 || hdr[3] != 0x3b) /* version 1; table datarel sdata4, as ld writes it */
		return NULL;
	rd r = {hdr + 4, hdr + 4 + 16, false};
	encoded(&r, hdr[1], (uintptr_t)hdr); /* eh_frame_ptr */
	uintptr_t count = encoded(&r, hdr[2], (uintptr_t)hdr);
	if (r.bad || count == 0)
		return NULL;
	const int32_t *tab = (const int32_t *)(const void *)r.p;
	uintptr_t lo = 0, hi = count; /* last entry with start <= pc */
	while (hi - lo > 1) {
		uintptr_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)hdr + (intptr_t)tab[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if ((uintptr_t)hdr + (intptr_t)tab[2 * lo] > pc)
		return NULL;
	return hdr + tab[2 * lo + 1];
}

/* --- Running the CFA program */

struct row {
	uint32_t cfa_reg;
	int64_t cfa_off;
	int64_t rbp_off; /* saved at CFA + rbp_off; 0: unchanged */
	int64_t ra_off;
	bool ra_undefined, lost;
};

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	uint8_t fde_enc;
	bool has_z; /* FDEs carry an augmentation length */
	const uint8_t *insns, *end;
};

static void set_offset(struct row *row, uint64_t reg, int64_t off)
{
	if (reg == REG_RBP)
		row->rbp_off = off;
	else if (reg == REG_RA)
		row->ra_off = off, row->ra_undefined = false;
}

/* Runs insns over row until the location passes target (all of them when
 * target is UINTPTR_MAX).  init: the CIE's row, for DW_CFA_restore. */
static void run_cfa(struct row *row, const struct row *init, const struct cie *cie, const uint8_t *p,
		    const uint8_t *end, uintptr_t loc, uintptr_t target)
{
	struct row stack[4];
	unsigned depth = 0;
	rd r = {p, end, false};
	while (r.p < r.end && !r.bad && !row->lost) {
		uint8_t op = *r.p++, low = op & 0x3f;
		uintptr_t adv = 0;
		switch (op >> 6) {
		case 1: /* advance_loc */
			adv = low * cie->code_align;
			goto advance;
		case 2: /* offset */
			set_offset(row, low, (int64_t)rd_uleb(&r) * cie->data_align);
			continue;
		case 3: /* restore */
			if (low == REG_RBP)
				row->rbp_off = init->rbp_off;
			else if (low == REG_RA)
				row->ra_off = init->ra_off, row->ra_undefined = init->ra_undefined;
			continue;
		}
		switch (op) {
		case 0x00: break;                                                    /* nop */
		case 0x01: loc = encoded(&r, cie->fde_enc, 0); if (loc > target) return; break; /* set_loc */
		case 0x02: adv = rd_uint(&r, 1) * cie->code_align; goto advance;
		case 0x03: adv = rd_uint(&r, 2) * cie->code_align; goto advance;
		case 0x04: adv = rd_uint(&r, 4) * cie->code_align; goto advance;
		case 0x05: { uint64_t reg = rd_uleb(&r); set_offset(row, reg, (int64_t)rd_uleb(&r) * cie->data_align); break; }
		case 0x06: /* restore_extended */
		case 0x08: /* same_value */
		{
			uint64_t reg = rd_uleb(&r);
			if (reg == REG_RBP)
				row->rbp_off = op == 0x06 ? init->rbp_off : 0;
			else if (reg == REG_RA)
				row->lost = true;
			break;
		}
		case 0x07: /* undefined */
		{
			uint64_t reg = rd_uleb(&r);
			if (reg == REG_RA)
				row->ra_undefined = true;
			else if (reg == REG_RBP)
				row->rbp_off = 0;
			break;
		}
		case 0x09: /* register: a value kept in another register */
		{
			uint64_t reg = rd_uleb(&r);
			rd_uleb(&r);
			if (reg == REG_RBP || reg == REG_RA)
				row->lost = true;
			break;
		}
		case 0x0a:
			if (depth == 4) {
				row->lost = true;
				break;
			}
			stack[depth++] = *row;
			break;
		case 0x0b:
			if (depth == 0) {
				row->lost = true;
				break;
			}
			/* The whole row, CFA rule included: compilers bracket an
			 * early return's epilogue with remember/restore. */
			*row = stack[--depth];
			break;
		case 0x0c: row->cfa_reg = (uint32_t)rd_uleb(&r); row->cfa_off = (int64_t)rd_uleb(&r); break;
		case 0x0d: row->cfa_reg = (uint32_t)rd_uleb(&r); break;
		case 0x0e: row->cfa_off = (int64_t)rd_uleb(&r); break;
		case 0x11: { uint64_t reg = rd_uleb(&r); set_offset(row, reg, rd_sleb(&r) * cie->data_align); break; }
		case 0x12: row->cfa_reg = (uint32_t)rd_uleb(&r); row->cfa_off = rd_sleb(&r) * cie->data_align; break;
		case 0x13: row->cfa_off = rd_sleb(&r) * cie->data_align; break;
		case 0x10: /* expression */
		case 0x14: /* val_offset */
		case 0x15: /* val_offset_sf */
		case 0x16: /* val_expression */
		{
			uint64_t reg = rd_uleb(&r);
			if (op == 0x14 || op == 0x15)
				rd_uleb(&r);
			else
				rd_skip(&r, rd_uleb(&r));
			if (reg == REG_RBP || reg == REG_RA)
				row->lost = true;
			break;
		}
		case 0x0f: row->lost = true; break; /* def_cfa_expression */
		case 0x2e: rd_uleb(&r); break;         /* GNU_args_size */
		case 0x2f: { uint64_t reg = rd_uleb(&r); set_offset(row, reg, -(int64_t)rd_uleb(&r) * cie->data_align); break; }
		default: row->lost = true; break;
		}
		continue;
	advance:
		if (loc + adv > target)
			return;
		loc += adv;
	}
	if (r.bad)
		row->lost = true;
}

static bool parse_cie(const uint8_t *p, struct cie *cie)
{
	rd r = {p, p + 4, false};
	uint64_t len = rd_uint(&r, 4);
	if (len == 0 || len >= 0xfffffff0u)
		return false;
	r.end = p + 4 + len;
	if (rd_uint(&r, 4) != 0) /* CIE id */
		return false;
	unsigned version = (unsigned)rd_uint(&r, 1);
	const char *aug = rd_cstr(&r);
	if (!aug || (version != 1 && version != 3))
		return false;
	size_t auglen = strlen(aug);
	if (aug[0] && aug[0] != 'z')
		return false; /* only "z..." augmentations say how long they are */
	cie->code_align = rd_uleb(&r);
	cie->data_align = rd_sleb(&r);
	cie->ra_reg = version == 1 ? rd_uint(&r, 1) : rd_uleb(&r);
	cie->fde_enc = 0x00;
	cie->has_z = aug[0] == 'z';
	if (cie->has_z) {
		uint64_t n = rd_uleb(&r);
		rd data = r; /* the augmentation data: n bytes */
		rd_skip(&r, n);
		data.end = r.p;
		for (size_t i = 1; i < auglen && !data.bad; i++) {
			if (aug[i] == 'R')
				cie->fde_enc = (uint8_t)rd_uint(&data, 1);
			else if (aug[i] == 'P')
				encoded(&data, (uint8_t)rd_uint(&data, 1), 0);
			else if (aug[i] == 'L')
				rd_uint(&data, 1);
			else if (aug[i] == 'S')
				return false; /* a signal frame: its caller is not a call site */
			else
				break; /* unknown: the length says where the data ends */
		}
		if (data.bad)
			return false;
	}
	cie->insns = r.p;
	cie->end = r.end;
	return !r.bad && r.p <= r.end && cie->ra_reg == REG_RA;
}

/* The rule at return address pc, computed from the DWARF data. */
static uint32_t compute_rule(uintptr_t pc)
{
	uintptr_t at = pc - 1; /* inside the call, not after it */
	struct dl_find_object obj;
	if (_dl_find_object((void *)at, &obj) != 0 || !obj.dlfo_eh_frame)
		return RULE_LOST;
	const uint8_t *fde = find_fde(obj.dlfo_eh_frame, at);
	if (!fde)
		return RULE_LOST;
	rd r = {fde, fde + 8, false};
	uint64_t len = rd_uint(&r, 4);
	if (len == 0 || len >= 0xfffffff0u)
		return RULE_LOST;
	r.end = fde + 4 + len;
	const uint8_t *idfield = r.p;
	uint32_t cieoff = (uint32_t)rd_uint(&r, 4);
	struct cie cie;
	if (cieoff == 0 || !parse_cie(idfield - cieoff, &cie))
		return RULE_LOST;
	uintptr_t start = encoded(&r, cie.fde_enc, 0);
	uintptr_t range = encoded(&r, cie.fde_enc & 0x0f, 0);
	if (r.bad || at < start || at - start >= range)
		return RULE_LOST;
	if (cie.has_z)
		rd_skip(&r, rd_uleb(&r)); /* the FDE's augmentation data (an LSDA pointer) */
	struct row init = {REG_RSP, 8, 0, -8, false, false};
	run_cfa(&init, &init, &cie, cie.insns, cie.end, 0, UINTPTR_MAX);
	struct row row = init;
	run_cfa(&row, &init, &cie, r.p, r.end, start, at);
	if (row.lost || (row.cfa_reg != REG_RSP && row.cfa_reg != REG_RBP))
		return RULE_LOST;
	if (row.ra_undefined)
		return RULE_OUTERMOST;
	int64_t k = -row.rbp_off / 8;
	if (row.ra_off != -8 || row.cfa_off <= 0 || (row.cfa_off & 7) || row.cfa_off / 8 >= (1 << 12) ||
	    (row.rbp_off & 7) || k < 0 || k > 15)
		return RULE_LOST;
	return (row.cfa_reg == REG_RBP ? RULE_FROM_RBP : 0) | (uint32_t)(row.cfa_off / 8) << 4 | (uint32_t)k;
}

static uint32_t rule_of(uintptr_t pc)
{
	uint64_t h = (uint64_t)pc * 0x9E3779B97F4A7C15ull;
	uint64_t *slot = &rule_cache[h >> (64 - 12)];
	_Static_assert(RULE_CACHE == 1 << 12, "the shift above");
	uint64_t e = load_relaxed(slot);
	if (e && (e >> RULE_BITS) == pc)
		return (uint32_t)(e & ((1u << RULE_BITS) - 1));
	uint32_t rule = compute_rule(pc);
	if (pc >> (64 - RULE_BITS) == 0)
		store_relaxed(slot, (uint64_t)pc << RULE_BITS | rule);
	return rule;
}

int unwind_from(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t stack_hi, uintptr_t *pcs, int max,
		enum unwind_end *end)
{
	int n = 0;
	*end = UNWIND_MAX;
	while (n < max) {
		pcs[n++] = pc;
		uint32_t rule = rule_of(pc);
		uintptr_t off = (uintptr_t)((rule >> 4) & 0xfff) * 8;
		if (off == 0) {
			*end = rule == RULE_OUTERMOST ? UNWIND_OUTERMOST : UNWIND_LOST;
			return n;
		}
		uintptr_t cfa = ((rule & RULE_FROM_RBP) ? fp : sp) + off;
		unsigned k = rule & 15;
		/* Every slot read must lie in the stack above sp. */
		if (cfa <= sp || cfa > stack_hi || (cfa & 7) || cfa - 8 * (k ? k : 1) < sp) {
			*end = UNWIND_LOST;
			return n;
		}
		pc = ((const uintptr_t *)cfa)[-1];
		if (k)
			fp = ((const uintptr_t *)cfa)[-(int)k];
		sp = cfa;
		if (pc < 4096) {
			*end = UNWIND_OUTERMOST;
			return n;
		}
	}
	return n;
}

#else /* no DWARF walk here */

int unwind_from(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t stack_hi, uintptr_t *pcs, int max,
		enum unwind_end *end)
{
	(void)pc, (void)sp, (void)fp, (void)stack_hi, (void)pcs, (void)max;
	*end = UNWIND_UNAVAILABLE;
	return 0;
}

#endif

int unwind_from_frame(void *frame, uintptr_t stack_hi, uintptr_t *pcs, int max, enum unwind_end *end)
{
	const uintptr_t *f = frame;
	/* The frame: saved frame-pointer register, then the return address;
	 * the caller's stack pointer is just above them. */
	return unwind_from(f[1], (uintptr_t)(f + 2), f[0], stack_hi, pcs, max, end);
}

int unwind_here(uintptr_t stack_hi, uintptr_t *pcs, int max, enum unwind_end *end)
{
	return unwind_from_frame(__builtin_frame_address(0), stack_hi, pcs, max, end);
}
