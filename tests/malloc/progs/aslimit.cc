// aslimit.cc: run under an address-space limit (ulimit -v), allocates
// blocks of one size after another until malloc fails, and checks what a
// malloc must do then: return NULL with errno ENOMEM, keep the blocks it
// gave (each is read back), take them back, and serve as many again, but
// for at most 4 MiB that something else took meanwhile (a thread's stack,
// stdio's buffer, the allocator's records).  Prints one line per size, the same under
// any allocator that gets this right; exits 1 on the first failure.
// Usage: aslimit [size...]  (C++ only so the Makefile's rule builds it.)
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

struct block {
	block *next;
	size_t tag;
};

// Allocates until failure; returns the count (0 when the first failed).
static size_t fill(size_t size, block **head, int *err)
{
	size_t n = 0;
	*head = nullptr;
	for (;;) {
		errno = 0;
		block *b = static_cast<block *>(malloc(size));
		if (!b) {
			*err = errno;
			return n;
		}
		b->next = *head;
		b->tag = n ^ size;
		reinterpret_cast<unsigned char *>(b)[size - 1] = static_cast<unsigned char>(n);
		*head = b;
		n++;
	}
}

static bool drain(block *head, size_t n, size_t size)
{
	bool ok = true;
	while (head) {
		block *next = head->next;
		n--;
		if (head->tag != (n ^ size) ||
		    reinterpret_cast<unsigned char *>(head)[size - 1] != static_cast<unsigned char>(n))
			ok = false;
		free(head);
		head = next;
	}
	return ok && n == 0;
}

int main(int argc, char **argv)
{
	static const size_t dflt[] = {24, 3000, 200000, 3u << 20};
	int nsizes = argc > 1 ? argc - 1 : 4;
	for (int i = 0; i < nsizes; i++) {
		size_t size = argc > 1 ? strtoul(argv[i + 1], nullptr, 0) : dflt[i];
		block *head;
		int err = 0;
		size_t n = fill(size, &head, &err);
		if (n == 0 || err != ENOMEM) {
			printf("size %zu: %zu blocks, then errno %d (%s), want ENOMEM\n", size, n, err, strerror(err));
			return 1;
		}
		if (!drain(head, n, size)) {
			printf("size %zu: a block did not keep its contents\n", size);
			return 1;
		}
		size_t again = fill(size, &head, &err);
		bool ok = drain(head, again, size);
		if (!ok || (n - again) * size > (4u << 20) + size) {
			printf("size %zu: %zu blocks, after freeing them only %zu\n", size, n, again);
			return 1;
		}
		printf("size %zu: ENOMEM when full, all blocks intact, all space back\n", size);
	}
	return 0;
}
