/*
 * ex_ranges.c - the enumeration indices a sweep has finished, as sorted disjoint ranges.
 * A sweep that runs in order keeps one range, whatever its length.
 */
#include <stdlib.h>
#include <string.h>

#include "ex.h"

void ex_ranges_init(ex_ranges *r)
{
    memset(r, 0, sizeof *r);
}

void ex_ranges_fini(ex_ranges *r)
{
    if (!r)
        return;
    free(r->lo);
    free(r->hi);
    memset(r, 0, sizeof *r);
}

int ex_ranges_add(ex_ranges *r, uint64_t lo, uint64_t hi, st_err *err)
{
    size_t k = 0, j;
    int rc = ST_OK;

    if (lo >= hi)
        goto done;
    /* First range that ends at or after lo: it may touch or overlap [lo, hi). */
    while (k < r->n && r->hi[k] < lo)
        k++;
    j = k;
    while (j < r->n && r->lo[j] <= hi) {
        lo = r->lo[j] < lo ? r->lo[j] : lo;
        hi = r->hi[j] > hi ? r->hi[j] : hi;
        j++;
    }
    if (j == k) { /* no overlap: insert at k */
        if (r->n == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 8;
            uint64_t *nlo = realloc(r->lo, cap * sizeof *nlo), *nhi;
            if (nlo)
                r->lo = nlo;
            nhi = nlo ? realloc(r->hi, cap * sizeof *nhi) : NULL;
            if (!nhi) {
                rc = st_err_set(err, ST_ENOMEM, "index ranges: out of memory");
                goto done;
            }
            r->hi = nhi;
            r->cap = cap;
        }
        memmove(r->lo + k + 1, r->lo + k, (r->n - k) * sizeof *r->lo);
        memmove(r->hi + k + 1, r->hi + k, (r->n - k) * sizeof *r->hi);
        r->n++;
    } else { /* ranges k .. j-1 merge into k */
        memmove(r->lo + k + 1, r->lo + j, (r->n - j) * sizeof *r->lo);
        memmove(r->hi + k + 1, r->hi + j, (r->n - j) * sizeof *r->hi);
        r->n -= j - k - 1;
    }
    r->lo[k] = lo;
    r->hi[k] = hi;
done:
    return rc;
}

uint64_t ex_ranges_skip(const ex_ranges *r, uint64_t i)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->hi[mid] <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && r->lo[lo] <= i ? r->hi[lo] : i;
}

int ex_ranges_overlap(const ex_ranges *r, uint64_t lo, uint64_t hi)
{
    size_t a = 0, b = r->n;

    if (lo >= hi)
        return 0;
    /* The first range that ends after lo; ranges are disjoint and never touch. */
    while (a < b) {
        size_t mid = (a + b) / 2;
        if (r->hi[mid] <= lo)
            a = mid + 1;
        else
            b = mid;
    }
    if (a == r->n || r->lo[a] >= hi)
        return 0;
    return r->lo[a] <= lo && r->hi[a] >= hi ? 2 : 1;
}

uint64_t ex_ranges_total(const ex_ranges *r)
{
    uint64_t t = 0;

    for (size_t k = 0; k < r->n; k++)
        t += r->hi[k] - r->lo[k];
    return t;
}
