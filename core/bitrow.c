/*
 * bitrow.c - rows of zero/non-zero bits: the ones in a range, and a shifted
 * window of a row as whole words, which the engine ANDs and counts to
 * measure the work of a PE in one row step.
 */
#include "engine.h"

/* 64 bits of row a starting at bit pos (pos >= 0, inside the row or just
 * past it; the trailing zero word makes the second read safe). */
static inline uint64_t window(const uint64_t *a, int pos)
{
    int w = pos >> 6, b = pos & 63;
    uint64_t lo = a[w] >> b;
    return b ? lo | (a[w + 1] << (64 - b)) : lo;
}

static inline int imax(int a, int b)
{
    return a > b ? a : b;
}

static inline int imin(int a, int b)
{
    return a < b ? a : b;
}

uint64_t st_bits_count(const uint64_t *a, int a_len, int lo, int hi)
{
    uint64_t n = 0;
    int x;

    lo = imax(lo, 0);
    hi = imin(hi, a_len);
    for (x = lo; x + 64 <= hi; x += 64)
        n += (uint64_t)__builtin_popcountll(window(a, x));
    if (x < hi)
        n += (uint64_t)__builtin_popcountll(window(a, x) & (((uint64_t)1 << (hi - x)) - 1));
    return n;
}

void st_bits_extract(const uint64_t *a, int a_len, int pos, int len, uint64_t *out)
{
    int nw = (len + 63) / 64;

    for (int w = 0; w < nw; w++) {
        int p = pos + 64 * w;
        uint64_t v;
        if (p >= a_len || p <= -64)
            v = 0;
        else if (p < 0)
            v = window(a, 0) << (-p);
        else
            v = window(a, p);
        out[w] = v;
    }
    if (len & 63)
        out[nw - 1] &= ((uint64_t)1 << (len & 63)) - 1;
}
