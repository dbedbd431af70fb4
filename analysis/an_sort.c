/*
 * an_sort.c - the merge sort of point records that the front, rank and hypervolume
 * algorithms start with: lexicographic over all objectives, or by one objective.
 * Records carry their keys, so comparisons rarely leave the array being sorted.
 */
#include <string.h>

#include "an_int.h"

/* Runs this short are sorted by insertion before merging. */
#define RUN 16

typedef struct sort_ctx {
    int k;           /* objectives; x is read past the third one only */
    const double *x; /* all objectives, when k > 3 */
    int j;           /* the objective of a sort by one objective */
} sort_ctx;

typedef int (*cmp_fn)(const an_rec *a, const an_rec *b, const sort_ctx *c);

static int cmp_index(const an_rec *a, const an_rec *b)
{
    return (a->i > b->i) - (a->i < b->i);
}

static int cmp_lex(const an_rec *a, const an_rec *b, const sort_ctx *c)
{
    const double *ra, *rb;
    int j;

    for (j = 0; j < 3; j++)
        if (a->v[j] != b->v[j])
            return a->v[j] < b->v[j] ? -1 : 1;
    if (c->k > 3) {
        ra = c->x + a->i * (size_t)c->k;
        rb = c->x + b->i * (size_t)c->k;
        for (j = 3; j < c->k; j++)
            if (ra[j] != rb[j])
                return ra[j] < rb[j] ? -1 : 1;
    }
    return cmp_index(a, b);
}

static int cmp_one(const an_rec *a, const an_rec *b, const sort_ctx *c)
{
    if (a->v[c->j] != b->v[c->j])
        return a->v[c->j] < b->v[c->j] ? -1 : 1;
    return cmp_index(a, b);
}

static void insertion_sort(an_rec *r, size_t n, cmp_fn cmp, const sort_ctx *c)
{
    size_t i, h;
    an_rec t;

    for (i = 1; i < n; i++) {
        t = r[i];
        for (h = i; h > 0 && cmp(&r[h - 1], &t, c) > 0; h--)
            r[h] = r[h - 1];
        r[h] = t;
    }
}

/* Merge the sorted runs a[0..na) and b[0..nb) into out; equal keys keep a before b. */
static void merge(const an_rec *a, size_t na, const an_rec *b, size_t nb, an_rec *out, cmp_fn cmp,
                  const sort_ctx *c)
{
    size_t i = 0, h = 0, o = 0;

    while (i < na && h < nb)
        out[o++] = cmp(&b[h], &a[i], c) < 0 ? b[h++] : a[i++];
    while (i < na)
        out[o++] = a[i++];
    while (h < nb)
        out[o++] = b[h++];
}

/* Bottom-up merge sort: sorted runs of RUN, then passes that double the run length,
 * alternating between r and tmp. */
static void merge_sort(an_rec *r, size_t n, an_rec *tmp, cmp_fn cmp, const sort_ctx *c)
{
    an_rec *src = r, *dst = tmp, *t;
    size_t w, lo, mid, hi;

    for (lo = 0; lo < n; lo += RUN)
        insertion_sort(r + lo, n - lo < RUN ? n - lo : RUN, cmp, c);
    for (w = RUN; w < n; w *= 2) {
        for (lo = 0; lo < n; lo += 2 * w) {
            mid = n - lo < w ? n : lo + w;
            hi = n - lo < 2 * w ? n : lo + 2 * w;
            merge(src + lo, mid - lo, src + mid, hi - mid, dst + lo, cmp, c);
        }
        t = src;
        src = dst;
        dst = t;
    }
    if (src != r)
        memcpy(r, src, n * sizeof *r);
}

void an_sort_lex(an_set *s, an_rec *tmp)
{
    sort_ctx c = {s->k, s->x, 0};

    merge_sort(s->rec, s->n, tmp, cmp_lex, &c);
}

void an_sort_by(an_rec *r, size_t n, int j, an_rec *tmp)
{
    sort_ctx c = {3, NULL, j};

    merge_sort(r, n, tmp, cmp_one, &c);
}
