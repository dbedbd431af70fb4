/*
 * an_test.h - what the analysis tests share: their own random numbers, the dominance test
 * written from its definition, and generators of point sets. Header-only, like tap.h.
 */
#ifndef AN_TEST_H
#define AN_TEST_H

#include <math.h>
#include <stdint.h>
#include <stddef.h>

#include "an.h"

/* SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): the test's own random numbers. */
static inline uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline double next_unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1p-53;
}

/* Does a dominate b under the senses? Written from the definition, senses read directly. */
static inline int dominates(const double *a, const double *b, int k, const an_sense *sense)
{
    int j, better = 0;

    for (j = 0; j < k; j++) {
        int max = sense && sense[j] == AN_MAX;
        if (max ? a[j] < b[j] : a[j] > b[j])
            return 0;
        if (max ? a[j] > b[j] : a[j] < b[j])
            better = 1;
    }
    return better;
}

/* Fill x with n points of k objectives: kind 0 uniform in [0, 1), kind 1 integers in
 * [0, levels) (many ties and duplicates), kind 2 on the plane sum = 1 (so that most points
 * are on the front), kind 3 integers with one value in 20 replaced by +inf or -inf, kind 4
 * integers near the plane sum = levels (the last objective levels minus the others plus
 * a number in [0, 4)): large fronts, many ties. */
static inline void fill(double *x, size_t n, int k, int kind, int levels, uint64_t *s)
{
    size_t i;
    int j;
    double sum;

    for (i = 0; i < n; i++) {
        double *r = x + i * (size_t)k;
        sum = 0.0;
        for (j = 0; j < k; j++) {
            if (kind == 0 || kind == 2)
                r[j] = next_unit(s);
            else
                r[j] = (double)(next_u64(s) % (uint64_t)levels);
            if (kind == 4 && j == k - 1)
                r[j] = levels - sum + (double)(next_u64(s) % 4);
            if (kind == 3 && next_u64(s) % 20 == 0)
                r[j] = next_u64(s) % 2 ? INFINITY : -INFINITY;
            sum += r[j];
        }
        if (kind == 2)
            for (j = 0; j < k; j++)
                r[j] /= sum;
    }
}

#endif
