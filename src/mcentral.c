/*
 * mcentral.c: central span lists (see mcentral.h; the span ownership table
 * is in mspan.h).
 *
 * Go keeps swept/unswept partial and full sets per class, lock-free; gort's
 * manual heap needs only the partial list because a FULL span is revived by
 * the free that makes room in it.  A span taken off the list stays PARTIAL
 * while its taker sweeps it, so freers keep leaving it alone.
 */
#include "crit.h"
#include "mcentral.h"
#include "check.h"
#include "mheap.h"
#include "scavenge.h"
#include "sizeclass.h"

/* The list is FIFO: a span pushed long ago has had the longest time to
 * collect further frees, so popping the oldest hands out the most slots
 * per trip through the lock. */
static void list_push_locked(mcentral *c, mspan *s)
{
	s->next = NULL;
	s->prev = c->tail;
	if (c->tail)
		c->tail->next = s;
	else
		c->partial = s;
	c->tail = s;
	c->npartial++;
	c->pushes++;
}

static mspan *list_pop_locked(mcentral *c)
{
	mspan *s = c->partial;
	if (s) {
		c->partial = s->next;
		if (s->next)
			s->next->prev = NULL;
		else
			c->tail = NULL;
		s->next = NULL;
		c->npartial--;
	}
	return s;
}

void mcentral_push_partial(mcentral *c, mspan *s)
{
	/* Once listed, s may be taken, emptied, freed and its record reused
	 * by other threads: read it first. */
	uintptr_t npages = s->npages;
	spin_lock(&c->lock);
	list_push_locked(c, s);
	spin_unlock(&c->lock);
	scavenger_note_push(npages);
}

/* Parks a span just swept with too few free slots to be worth caching.
 * Handshake with free(): the freer ORs its bit, then reads where and,
 * seeing FULL, counts itself in pending.  We publish the free slots the
 * sweep found and FULL, then look at the remote bits: any bit set is a
 * free that landed after the sweep and may not have counted itself, so we
 * revive the span ourselves.  With seq_cst on both sides every free is
 * either counted by its freer or seen here, so a span that empties while
 * FULL always reaches span_reuse_min and is listed; the CAS decides who
 * lists it. */
static void park_full(mcentral *c, mspan *s)
{
	/* Once FULL is published a freer may revive s and others may take,
	 * sweep and free it: read its fields first. */
	unsigned nwords = s->nwords;
	uint64_t *bits = s->bits;
	uint32_t have = s->nelems - s->alloc_count;
	bool revive = have >= span_reuse_min(s->nelems);
	store_relaxed(&s->pending, have);
	store_seqcst(&s->where, SPAN_FULL);
	for (unsigned w = 0; w < nwords && !revive; w++)
		revive = load_seqcst(&bits[3 * w + 2]) != 0; /* span_remote_word */
	if (revive) {
		uint8_t full = SPAN_FULL;
		if (cas_seqcst(&s->where, &full, SPAN_PARTIAL))
			mcentral_push_partial(c, s);
	}
}

void mcentral_uncache_span(mcentral *c, mspan *s)
{
	store_relaxed(&s->owner, NULL);
	park_full(c, s);
}

mspan *mcentral_cache_span(mcentral *c, struct mcache *owner)
{
	for (;;) {
		spin_lock(&c->lock);
		mspan *s = list_pop_locked(c);
		spin_unlock(&c->lock);
		if (!s)
			break;
		scavenger_note_take(s->npages);
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
	unsigned cls = mcentral_manual_class(c);
	mspan *s = mheap_alloc_span(manual_allocnpages[cls], cls, cls << 1 | 1, SPAN_MANUAL);
	if (!s)
		return NULL;
	s->central = c;
	store_relaxed(&s->owner, owner);
	store_seqcst(&s->where, SPAN_CACHED);
	return s;
}

uintptr_t mcentral_reclaim(mcentral *c, bool only_if_new)
{
	/* Take the whole list so the lock is not held while sweeping. */
	spin_lock(&c->lock);
	if (only_if_new && c->pushes == c->reclaimed_at) {
		spin_unlock(&c->lock);
		return 0;
	}
	mspan *list = c->partial;
	c->partial = c->tail = NULL;
	c->npartial = 0;
	/* The pushes this pass answers for: those up to now.  A span
	 * listed while the lock is dropped below is news for the next pass
	 * (counting it as seen would leave it listed, empty or not, until
	 * its class next lists a span). */
	uintptr_t seen = c->pushes;
	spin_unlock(&c->lock);

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
	spin_lock(&c->lock);
	uintptr_t relisted = 0;
	while (keep) {
		mspan *s = keep;
		keep = s->next;
		list_push_locked(c, s);
		relisted++;
	}
	/* Our own re-listing is not news for the next pass; other threads'
	 * listings since we took the list are. */
	c->reclaimed_at = seen + relisted;
	spin_unlock(&c->lock);
	return freed;
}
