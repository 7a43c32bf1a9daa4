/*
 * mcentral.c: central span lists (see mcentral.h; the span ownership table
 * is in mspan.h).
 *
 * Go keeps swept/unswept partial and full sets per class, lock-free; gort's
 * manual heap needs only the partial list because a FULL span is revived by
 * the free that makes room in it.  A span taken off the list stays PARTIAL
 * while its taker sweeps it, so freers keep leaving it alone.
 */
#include "mcentral.h"
#include "check.h"
#include "mheap.h"
#include "sizeclass.h"

void mcentral_init(mcentral *c, unsigned sizeclass, unsigned spanclass, unsigned kind)
{
	pthread_mutex_init(&c->lock, NULL);
	c->partial = NULL;
	c->npartial = 0;
	c->sizeclass = (uint8_t)sizeclass;
	c->spanclass = (uint8_t)spanclass;
	c->kind = (uint8_t)kind;
}

static void list_push_locked(mcentral *c, mspan *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
	c->npartial++;
}

static mspan *list_pop_locked(mcentral *c)
{
	mspan *s = c->partial;
	if (s) {
		c->partial = s->next;
		if (s->next)
			s->next->prev = NULL;
		s->next = NULL;
		c->npartial--;
	}
	return s;
}

void mcentral_push_partial(mcentral *c, mspan *s)
{
	pthread_mutex_lock(&c->lock);
	list_push_locked(c, s);
	pthread_mutex_unlock(&c->lock);
}

/* Parks a swept span that has no free slot.  Dekker handshake with free():
 * the freer ORs its bit then reads where; we publish FULL then read the
 * bits.  With seq_cst on both sides at least one of us sees the other, and
 * the CAS decides who lists the span. */
static void park_full(mcentral *c, mspan *s)
{
	/* Once FULL is published a freer may revive s and others may take,
	 * sweep and free it: read its fields first. */
	unsigned nwords = s->nwords;
	uint64_t *remote = s->freed_remote;
	store_seqcst(&s->where, SPAN_FULL);
	for (unsigned w = 0; w < nwords; w++) {
		if (load_seqcst(&remote[w])) {
			uint8_t full = SPAN_FULL;
			if (cas_seqcst(&s->where, &full, SPAN_PARTIAL))
				mcentral_push_partial(c, s);
			return;
		}
	}
}

void mcentral_uncache_span(mcentral *c, mspan *s)
{
	store_relaxed(&s->owner, NULL);
	if (s->alloc_count < s->nelems) {
		store_seqcst(&s->where, SPAN_PARTIAL);
		mcentral_push_partial(c, s);
	} else {
		park_full(c, s);
	}
}

mspan *mcentral_cache_span(mcentral *c, struct mcache *owner)
{
	for (;;) {
		pthread_mutex_lock(&c->lock);
		mspan *s = list_pop_locked(c);
		pthread_mutex_unlock(&c->lock);
		if (!s)
			break;
		/* Off the list and still PARTIAL: ours to sweep. */
		uint32_t nfreed;
		if (mspan_sweep(s, &nfreed) == 0) {
			park_full(c, s); /* listed by a stale revival; nothing free */
			continue;
		}
		store_relaxed(&s->owner, owner);
		store_seqcst(&s->where, SPAN_CACHED);
		return s;
	}
	unsigned cls = c->sizeclass;
	mspan *s = mheap_alloc_span(class_to_allocnpages[cls], cls, c->spanclass, c->kind);
	if (!s)
		return NULL;
	store_relaxed(&s->owner, owner);
	store_seqcst(&s->where, SPAN_CACHED);
	return s;
}

uintptr_t mcentral_reclaim(mcentral *c)
{
	/* Take the whole list so the lock is not held while sweeping. */
	pthread_mutex_lock(&c->lock);
	mspan *list = c->partial;
	c->partial = NULL;
	c->npartial = 0;
	pthread_mutex_unlock(&c->lock);

	uintptr_t freed = 0;
	mspan *keep = NULL;
	while (list) {
		mspan *s = list;
		list = s->next;
		uint32_t nfreed;
		uint32_t nfree = mspan_sweep(s, &nfreed);
		if (s->alloc_count == 0) {
			mheap_free_span(s);
			freed++;
		} else if (nfree == 0) {
			park_full(c, s);
		} else {
			s->next = keep;
			keep = s;
		}
	}
	if (keep) {
		pthread_mutex_lock(&c->lock);
		while (keep) {
			mspan *s = keep;
			keep = s->next;
			list_push_locked(c, s);
		}
		pthread_mutex_unlock(&c->lock);
	}
	return freed;
}
