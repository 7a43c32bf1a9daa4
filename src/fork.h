/*
 * fork.h: keeping the heap usable in the child of a fork().
 */
#ifndef GORT_FORK_H
#define GORT_FORK_H

#include "rt.h"

/* Registers the pthread_atfork handlers (once, from the library constructor). */
GORT_HIDDEN void fork_init(void);

#endif
