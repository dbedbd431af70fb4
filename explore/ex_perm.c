/*
 * ex_perm.c - pseudo-random permutations of [0, n) computed one element at a time, with
 * no table: what lets a Latin hypercube of any size stay lazy.
 */
#include "ex.h"

#define PERM_ROUNDS 6

uint64_t ex_perm(uint64_t n, uint64_t key, uint64_t i)
{
    int bits = 0, half;
    uint64_t mask, x = i;

    if (n <= 1)
        return 0;
    while (bits < 64 && ((n - 1) >> bits) != 0)
        bits++;
    half = (bits + 1) / 2;
    mask = (UINT64_C(1) << half) - 1;
    /* Each Feistel pass is a bijection of [0, 4^half); walking the cycle from i until it
     * re-enters [0, n) makes a bijection of [0, n). 4^half < 4n, so fewer than 4 passes
     * are expected. */
    do {
        uint64_t l = x >> half, r = x & mask;
        for (int k = 0; k < PERM_ROUNDS; k++) {
            uint64_t f = ex_mix64(key + (uint64_t)k * UINT64_C(0x9e3779b97f4a7c15) + r) & mask;
            uint64_t t = r;
            r = l ^ f;
            l = t;
        }
        x = (l << half) | r;
    } while (x >= n);
    return x;
}
