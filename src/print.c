/*
 * print.c: allocation-free printing to stderr, and gort_throw.
 *
 * The runtime must be able to report an error from inside the allocator, with
 * locks held and the heap possibly corrupt, so nothing here calls malloc or
 * stdio.  Output is gathered in a small per-thread buffer and written with
 * write(2) on flush, on newline, or when the buffer fills.
 */
#include "check.h"

#include <string.h>
#include <unistd.h>

static __thread char printbuf[256];
static __thread unsigned printlen;

void print_flush(void)
{
	unsigned off = 0;
	while (off < printlen) {
		ssize_t n = write(2, printbuf + off, printlen - off);
		if (n <= 0)
			break;
		off += (unsigned)n;
	}
	printlen = 0;
}

static void print_char(char c)
{
	if (printlen == sizeof printbuf)
		print_flush();
	printbuf[printlen++] = c;
	if (c == '\n')
		print_flush();
}

void print_str(const char *s)
{
	while (*s)
		print_char(*s++);
}

void print_uint(uint64_t v)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		print_char(tmp[--i]);
}

void print_hex(uint64_t v)
{
	char tmp[16];
	int i = 0;
	do {
		tmp[i++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	print_str("0x");
	while (i)
		print_char(tmp[--i]);
}

void gort_throw(const char *msg)
{
	print_str("fatal error: ");
	print_str(msg);
	print_char('\n');
	_exit(2);
}

void gort_throw_addr(const char *msg, uintptr_t addr)
{
	print_str("fatal error: ");
	print_str(msg);
	print_char(' ');
	print_hex(addr);
	print_char('\n');
	_exit(2);
}
