/*
 * dynelf.h: a loaded object's dynamic section, as dl_iterate_phdr shows
 * it (heapprofile.c looks there for objects that bind the profile API,
 * roots.c for the program's DT_DEBUG).
 */
#ifndef GORT_DYNELF_H
#define GORT_DYNELF_H

#include <link.h>
#include <stdint.h>

/* The object's dynamic section, or NULL. */
static inline const ElfW(Dyn) *dyn_section(const struct dl_phdr_info *info)
{
	for (unsigned i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			return (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	return NULL;
}

/* An address read from the dynamic section.  The loader rebases them in
 * place, except where the section is read-only (the vDSO): one that still
 * looks unrebased is rebased here. */
static inline uintptr_t dyn_addr(const struct dl_phdr_info *info, uintptr_t a)
{
	return a && a < info->dlpi_addr ? a + info->dlpi_addr : a;
}

#endif
