/*
 * fmath.h: the two transcendental functions the profiler needs, here so
 * that gort does not load libm (about 0.5 MiB of resident memory in every
 * process the drop-in malloc is preloaded into, for two calls).
 *
 * Accurate to about 1e-12 relative, far beyond what sampling distances
 * and Go's unbiasing formula need; finite inputs only.
 */
#ifndef GORT_FMATH_H
#define GORT_FMATH_H

#include <stdint.h>
#include <string.h>

#define FMATH_LN2 0.69314718055994530942

/* Natural logarithm of x > 0 (normal doubles): x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172. */
static inline double fmath_log(double x)
{
	uint64_t b;
	memcpy(&b, &x, sizeof b);
	int e = (int)((b >> 52) & 0x7ff) - 1023;
	b = (b & ((1ull << 52) - 1)) | (1023ull << 52);
	double m;
	memcpy(&m, &b, sizeof m);
	if (m > 1.41421356237309504880) {
		m *= 0.5;
		e++;
	}
	double s = (m - 1) / (m + 1), s2 = s * s;
	double t = s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11 + s2 * (1.0 / 13))))));
	return e * FMATH_LN2 + 2 * s * (1 + t);
}

/* e^x: x = k ln2 + r, |r| <= ln2/2, e^r by its Taylor series, 2^k in the
 * exponent bits.  Underflows to 0 below about -708; overflows to +inf. */
static inline double fmath_exp(double x)
{
	if (x < -708)
		return 0;
	if (x > 709)
		return __builtin_inf();
	double q = x * (1 / FMATH_LN2);
	double kf = (double)(long)(q + (q >= 0 ? 0.5 : -0.5)); /* nearest; no floor() from libm */
	double r = x - kf * FMATH_LN2;
	double p = 1, term = 1;
	for (int i = 1; i <= 13; i++) {
		term *= r / i;
		p += term;
	}
	int k = (int)kf;
	/* 2^k as two factors, so that k down to -1074 stays in range. */
	int k1 = k / 2, k2 = k - k1;
	uint64_t b1 = (uint64_t)(k1 + 1023) << 52, b2 = (uint64_t)(k2 + 1023) << 52;
	double f1, f2;
	memcpy(&f1, &b1, sizeof f1);
	memcpy(&f2, &b2, sizeof f2);
	return p * f1 * f2;
}

#endif
