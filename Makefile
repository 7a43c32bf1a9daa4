# gort: one GNU Makefile.
#   make                 the library (build/release/libgort.a, libgort.so)
#   make demo            the main job: binary-trees on the collected heap, gctrace on
#   make demo-manual     the manual heap and the scavenger at work
#   make test            every test in the release build, then tests/run.sh summary
#   make check           the same with GORT_CHECK_LEVEL=2 (the "debug" build)
#   make asan | tsan     the tests under AddressSanitizer+UBSan / ThreadSanitizer
#   make bench           gort beside glibc, jemalloc, tcmalloc and mimalloc
#   make install PREFIX=/usr/local
# BUILD=release|debug|asan|tsan selects the variant; CC=clang works too.
# WERROR=1 turns warnings into errors (CI sets it).

CC ?= cc
BUILD ?= release
PREFIX ?= /usr/local
O := build/$(BUILD)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
BASE_CFLAGS := -std=gnu11 -g -fPIC -ffunction-sections -fno-semantic-interposition -fno-omit-frame-pointer -fvisibility=hidden -pthread $(WARN) -Isrc -Iinclude
ifeq ($(BUILD),release)
MODE_CFLAGS := -O2 -DNDEBUG -DGORT_TAIL_CALLS
else ifeq ($(BUILD),debug)
MODE_CFLAGS := -O1 -DGORT_CHECK_LEVEL=2
else ifeq ($(BUILD),asan)
MODE_CFLAGS := -O1 -DGORT_CHECK_LEVEL=2 -fsanitize=address,undefined -fno-sanitize-recover=undefined
MODE_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(BUILD),tsan)
MODE_CFLAGS := -O1 -DGORT_CHECK_LEVEL=1 -fsanitize=thread
MODE_LDFLAGS := -fsanitize=thread
else
$(error unknown BUILD=$(BUILD))
endif
CFLAGS_ALL := $(BASE_CFLAGS) $(MODE_CFLAGS) $(CFLAGS)
LDLIBS := -pthread -ldl
# zlib is dlopened on first use (src/zload.h); test_pprof inflates with it.
TEST_LDLIBS := -lz

# override.c (the libc malloc names) goes only into libgort-malloc.so.
# The malloc path, start-up and the sampler link first, so that their
# variables share the first pages of .data and .bss.
HOT_SRCS := $(patsubst %,src/%.c,malloc free mcache mcentral mspan mheap pagealloc arena \
	fixalloc sizeclass thread os_linux debugvars scavenge mstats fork mprof heapprofile cfi)
# The empty _fini of the C start files would sit after all of it, and the
# dynamic loader calls it at exit: no DT_FINI (destructors run from
# .fini_array, which the start files put beside the hot code).
# src/hot.ld (tools/hotlist.sh) gives the functions every malloc-only
# program runs a text segment of their own, ~43 KiB: the kernel maps a
# file's pages around each one touched, up to 64 KiB but never past the
# mapping, so the rest of the text costs such a program nothing.  Segments
# keep the linker's page alignment: aligned to 64 KiB, the library left a
# hole above it where the loader's ld.so.cache landed when it fit, so libc
# (mapped next) took one of only two offsets, on the benchmark machine
# mostly the one with ~250 KiB more of libc's text resident.
# src/libgort.ld moves the read-only data into the first segment, leaving
# the unwind tables a segment of their own.
SO_LDFLAGS := -Wl,-fini=gort_no_fini -Wl,-T,src/libgort.ld -Wl,-T,src/hot.ld
SRCS := $(HOT_SRCS) $(filter-out src/override.c $(HOT_SRCS),$(wildcard src/*.c))
OBJS := $(SRCS:src/%.c=$(O)/obj/%.o)
TEST_SRCS := $(wildcard tests/unit/*.c tests/stress/*.c tests/wrong/*.c)
TEST_BINS := $(patsubst tests/%.c,$(O)/tests/%,$(TEST_SRCS))
# tests/malloc: the drop-in, linked with -lgort-malloc or preloaded.  A
# sanitizer replaces malloc itself, so those builds only say SKIP.
ifneq ($(filter asan tsan,$(BUILD)),)
TEST_BINS += $(O)/tests/malloc/skip
else
TEST_BINS += $(patsubst tests/%.c,$(O)/tests/%,$(wildcard tests/malloc/*.c))
TEST_BINS += $(O)/tests/malloc/test_programs $(O)/progs/cxx_threads $(O)/progs/main_exit $(O)/progs/aslimit
endif
CXX ?= g++

.PHONY: all lib demo demo-manual test check asan tsan bench install clean sizeclasses spanwalk coldtrap
all lib: $(O)/libgort.a $(O)/libgort.so $(O)/libgort-malloc.so

$(O)/obj/%.o: src/%.c $(wildcard src/*.h src/*.inc) include/gort.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(O)/libgort.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(O)/libgort.so: $(OBJS) src/libgort.ld src/hot.ld
	$(CC) -shared $(SO_LDFLAGS) $(MODE_LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# The drop-in malloc: the whole library plus the libc names.  Calls inside
# it bind to its own definitions (-Bsymbolic-functions): malloc is a direct
# jump to gort_malloc, and nothing loaded later can split the family.
$(O)/libgort-malloc.so: $(O)/obj/override.o $(OBJS) src/libgort.ld src/hot.ld
	$(CC) -shared $(SO_LDFLAGS) $(MODE_LDFLAGS) -Wl,-Bsymbolic-functions -o $@ $(filter %.o,$^) $(LDLIBS)

# Tests link the static library so that they can reach internal (hidden) names.
$(O)/tests/%: tests/%.c tests/testing.h $(O)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS_$(notdir $@)) -Itests -o $@ $< $(O)/libgort.a $(MODE_LDFLAGS) $(LDLIBS) $(TEST_LDLIBS) -lm

# The DWARF walk is tested on code without frame pointers.  (Not a
# target-specific CFLAGS_ALL: prerequisites, the library, would inherit it.)
TEST_CFLAGS_test_cfi := -fomit-frame-pointer

# Without -Isrc: <malloc.h> must be the C library's here.
$(O)/tests/malloc/%: tests/malloc/%.c tests/testing.h $(O)/libgort-malloc.so
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc,$(CFLAGS_ALL)) -Itests -o $@ $< -L$(O) -lgort-malloc \
		-Wl,-rpath,$(abspath $(O)) $(MODE_LDFLAGS) -pthread

# src/hot.ld lists the hot functions of the release build by gcc: only
# there does test_programs check that the cold text stays unmapped.
HOT_TEXT_CHECKED := $(if $(and $(filter release,$(BUILD)),$(filter 0,$(shell $(CC) -dM -E - </dev/null | grep -c __clang__))),1,0)
$(O)/tests/malloc/test_programs: tests/malloc/test_programs.sh $(O)/libgort-malloc.so $(O)/spanwalk.so
	@mkdir -p $(dir $@)
	sed 's/^hot_text_checked=0 /hot_text_checked=$(HOT_TEXT_CHECKED) /' $< >$@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(O)/tests/malloc/skip:
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\necho "--- SKIP: tests/malloc (BUILD=$(BUILD): the sanitizer replaces malloc itself)"\n' > $@
	chmod +x $@

# stress_dlopen's library (a data segment to hold roots), beside the helpers.
$(O)/tests/stress/stress_dlopen: $(O)/progs/librootplug.so
$(O)/progs/librootplug.so: tests/stress/plugin/rootplug.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -shared -fPIC -o $@ $<

# Helper programs for test_programs (outside tests/, which run.sh runs).
$(O)/progs/%: tests/malloc/progs/%.cc
	@mkdir -p $(dir $@)
	$(CXX) -O2 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -pthread -o $@ $<

$(O)/demo-%: demo/%.c $(O)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(O)/libgort.a $(MODE_LDFLAGS) $(LDLIBS)

demo: $(O)/demo-demo
	$(O)/demo-demo

demo-manual: $(O)/demo-manual
	$(O)/demo-manual

test: $(TEST_BINS)
	@tests/run.sh $(O)/tests

check:
	$(MAKE) BUILD=debug test
asan:
	$(MAKE) BUILD=asan test
tsan:
	$(MAKE) BUILD=tsan test

# The size-class table is generated and checked in; this regenerates it.
sizeclasses: tools/mksizeclasses.c
	@mkdir -p build
	$(CC) -std=gnu11 -O2 -Wall -Wextra -o build/mksizeclasses $<
	build/mksizeclasses > src/sizeclasses.inc

# A diagnostic: the drop-in with a thread that reports where the heap's
# memory is at the peak RSS (tools/spanwalk.c says how to use it).
spanwalk: $(O)/spanwalk.so
$(O)/spanwalk.so: tools/spanwalk.c $(O)/obj/override.o $(OBJS) src/libgort.ld src/hot.ld
	$(CC) $(CFLAGS_ALL) -shared $(SO_LDFLAGS) $(MODE_LDFLAGS) -Wl,-Bsymbolic-functions -o $@ $< \
		$(filter %.o,$^) $(LDLIBS)

# A diagnostic for src/hot.ld: reports code run in the cold text segment
# (tools/coldtrap.c says how to use it; tools/hotlist.sh remakes the list).
coldtrap: $(O)/coldtrap.so
$(O)/coldtrap.so: tools/coldtrap.c
	$(CC) $(filter-out -Isrc,$(CFLAGS_ALL)) -shared -o $@ $<

bench: lib
	$(MAKE) -C bench O=$(abspath $(O)) run

install: $(O)/libgort.a $(O)/libgort.so $(O)/libgort-malloc.so
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/gort.h $(DESTDIR)$(PREFIX)/include/gort.h
	install -m 644 $(O)/libgort.a $(DESTDIR)$(PREFIX)/lib/libgort.a
	install -m 755 $(O)/libgort.so $(DESTDIR)$(PREFIX)/lib/libgort.so
	install -m 755 $(O)/libgort-malloc.so $(DESTDIR)$(PREFIX)/lib/libgort-malloc.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' gort.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gort.pc

clean:
	rm -rf build
