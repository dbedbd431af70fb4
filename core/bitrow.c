/*
 * bitrow.c - rows of zero/non-zero bits: the ones in a range, and a shifted
 * window of a row as whole words (engine.h, inline), which the engine ANDs
 * and counts to measure the work of a PE in one row step.
 */
#include "engine.h"

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
        n += (uint64_t)__builtin_popcountll(st_bits_window(a, x));
    if (x < hi)
        n += (uint64_t)__builtin_popcountll(st_bits_window(a, x) & (((uint64_t)1 << (hi - x)) - 1));
    return n;
}
