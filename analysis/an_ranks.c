/*
 * an_ranks.c - non-dominated ranks (rank 0 is the Pareto front, rank r the front once
 * ranks below r are gone). Points are taken in lexicographic order, so that all of a
 * point's dominators already have their ranks, and its rank is found by binary search.
 */
#include <stdint.h>
#include <stdlib.h>

#include "an_int.h"

static void give_rank(const an_set *s, size_t g, size_t e, size_t r, size_t *rank)
{
    for (; g < e; g++)
        rank[s->rec[g].i] = r;
}

/* k <= 2: Jensen, "Reducing the run-time complexity of multiobjective EAs: the NSGA-II and
 * other algorithms", IEEE Trans. Evol. Comp. 7(5), 2003. m[r] is the smallest second
 * objective among the points of rank r so far. Every earlier point has a first objective
 * no larger, so an earlier point of rank r dominates the group exactly when m[r] <= its
 * second objective. A point of rank r + 1 has a dominator of rank r before it, so m is
 * non-decreasing, and the group's rank is the first r with m[r] larger. O(n log n). */
static size_t ranks_2d(const an_set *s, size_t *rank, double *m)
{
    size_t g, e, lo, hi, mid, nr = 0;
    double b;

    for (g = 0; g < s->n; g = e) {
        e = an_group_end(s, g);
        b = s->rec[g].v[1];
        lo = 0;
        hi = nr;
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            if (m[mid] <= b)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == nr)
            nr++;
        m[lo] = b;
        give_rank(s, g, e, lo, rank);
    }
    return nr;
}

/* k = 3: as ranks_kd below, but whether a point of rank r so far dominates the group asks
 * the rank's staircase: the minima of (objective 1, objective 2) over its points, whose
 * first objectives are all no larger than the group's. One test costs O(log n), so
 * O(n log n log r) expected in all. */
static size_t ranks_3d(const an_set *s, size_t *rank, size_t *root, an_stairs *st)
{
    size_t g, e, lo, hi, mid, nr = 0;
    const an_rec *q;

    for (g = 0; g < s->n; g = e) {
        e = an_group_end(s, g);
        q = &s->rec[g];
        lo = 0;
        hi = nr;
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            if (an_stairs_covers(st, root[mid], q->v[1], q->v[2]))
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == nr)
            root[nr++] = AN_STAIRS_EMPTY;
        root[lo] = an_stairs_add(st, root[lo], q->v[1], q->v[2]);
        give_rank(s, g, e, lo, rank);
    }
    return nr;
}

/* Does a point of rank r found so far dominate the group at position g? The points of a
 * rank are a list through head and next, newest first. */
static int rank_covers(const an_set *s, const size_t *head, const size_t *next, size_t r, size_t g)
{
    size_t q;

    for (q = head[r]; q != SIZE_MAX; q = next[q])
        if (an_rec_covers(&s->rec[q], &s->rec[g], s->k, s->x))
            return 1;
    return 0;
}

/* k > 3 (correct for any k): the efficient non-dominated sort with binary search (ENS-BS)
 * of Zhang, Tian, Cheng and Jin, "An efficient approach to nondominated sorting for
 * evolutionary multiobjective optimization", IEEE Trans. Evol. Comp. 19(2), 2015. A point
 * of rank r has a dominator of every rank below r, and domination is transitive; so "a
 * point of rank r dominates the group" holds for every r below the group's rank and for
 * none from it on. Each rank keeps one point per group of duplicates. */
static size_t ranks_kd(const an_set *s, size_t *rank, size_t *head, size_t *next)
{
    size_t g, e, lo, hi, mid, nr = 0;

    for (g = 0; g < s->n; g = e) {
        e = an_group_end(s, g);
        lo = 0;
        hi = nr;
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            if (rank_covers(s, head, next, mid, g))
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == nr)
            head[nr++] = SIZE_MAX;
        next[g] = head[lo];
        head[lo] = g;
        give_rank(s, g, e, lo, rank);
    }
    return nr;
}

int an_ranks(const an_points *p, size_t *rank, size_t *nranks, st_err *err)
{
    an_set s = {0};
    an_stairs st = {0};
    an_rec *tmp = NULL;
    double *m = NULL;
    size_t nr = 0, *head = NULL, *next = NULL;
    int rc = ST_OK;

    if (!rank && p && p->n > 0)
        rc = st_err_set(err, ST_EINVAL, "rank = NULL with n = %zu points: need room for n ranks",
                        p->n);
    if (!rc)
        rc = an_set_init(&s, p, NULL, err);
    if (rc || s.n == 0)
        goto done;
    /* k <= 2 needs m; k = 3 head (the roots) and a pool of staircase nodes, one per group;
     * k > 3 head and next. */
    tmp = malloc(s.n * sizeof *tmp);
    if (s.k <= 2)
        m = malloc(s.n * sizeof *m);
    else
        head = malloc(s.n * sizeof *head);
    if (s.k > 3)
        next = malloc(s.n * sizeof *next);
    if (!tmp || (s.k <= 2 && !m) || (s.k > 2 && !head) || (s.k > 3 && !next)) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the ranks of %zu points", s.n);
        goto done;
    }
    if (s.k == 3)
        rc = an_stairs_init(&st, s.n, err);
    if (rc)
        goto done;
    /* Nothing fails from here on, so rank is only written on success. */
    an_sort_lex(&s, tmp);
    if (s.k <= 2)
        nr = ranks_2d(&s, rank, m);
    else if (s.k == 3)
        nr = ranks_3d(&s, rank, head, &st);
    else
        nr = ranks_kd(&s, rank, head, next);
done:
    if (nranks)
        *nranks = rc ? 0 : nr;
    free(tmp);
    free(m);
    free(head);
    free(next);
    an_stairs_fini(&st);
    an_set_fini(&s);
    return rc;
}
