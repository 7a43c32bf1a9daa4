/*
 * rootplug.c: a library for stress_dlopen, loaded with dlopen.  Its only
 * job is to hold pointers in its own data segment, which the collector
 * must scan while the library is loaded and forget once it is unloaded.
 */
void *rootplug_slots[64];

void rootplug_set(int i, void *p)
{
	rootplug_slots[i] = p;
}

void *rootplug_get(int i)
{
	return rootplug_slots[i];
}
