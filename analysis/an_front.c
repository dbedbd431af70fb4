/*
 * an_front.c - the Pareto front: which points no other point dominates. Points are taken
 * in lexicographic order, in which a point's dominators all come before it, and each
 * group of duplicates is tested against the points before it. Ranks are an_ranks.c.
 */
#include <stdlib.h>

#include "an_int.h"

static void mark_group(const an_set *s, size_t g, size_t e, unsigned char *on)
{
    for (; g < e; g++)
        on[s->rec[g].i] = 1;
}

/* k <= 2, records sorted: a group is dominated exactly when an earlier point has a second
 * objective no larger (its first is no larger, and it differs). m is the smallest second
 * objective so far (Kung et al. 1975, two dimensions). */
static void front_2d(const an_set *s, unsigned char *on)
{
    size_t g, e;
    double m = 0.0;

    for (g = 0; g < s->n; g = e) {
        e = an_group_end(s, g);
        if (g == 0 || !(m <= s->rec[g].v[1]))
            mark_group(s, g, e, on);
        if (g == 0 || s->rec[g].v[1] < m)
            m = s->rec[g].v[1];
    }
}

/* k = 3, records sorted: a group is dominated exactly when an earlier point is no larger
 * in objectives 1 and 2, and then also a point of the front found so far is. st holds the
 * staircase of the front's (objective 1, objective 2) pairs. The sweep of Kung, Luccio
 * and Preparata, "On finding the maxima of a set of vectors", J. ACM 22(4), 1975, with a
 * treap for their balanced tree: O(n log n) expected. */
static void front_3d(const an_set *s, unsigned char *on, an_stairs *st)
{
    size_t g, e, root = AN_STAIRS_EMPTY;
    const an_rec *q;

    for (g = 0; g < s->n; g = e) {
        e = an_group_end(s, g);
        q = &s->rec[g];
        if (!an_stairs_covers(st, root, q->v[1], q->v[2])) {
            mark_group(s, g, e, on);
            root = an_stairs_add(st, root, q->v[1], q->v[2]);
        }
    }
}

/* Any k, records sorted: a group is dominated exactly when a point of the front found so
 * far dominates it (whatever dominates it is dominated by, or is, such a point). The
 * front is kept as sorted positions, one per group, in list. O(n f k). */
static void front_kd(const an_set *s, unsigned char *on, size_t *list)
{
    size_t g, e, h, nf = 0;
    int dominated;

    for (g = 0; g < s->n; g = e) {
        e = an_group_end(s, g);
        dominated = 0;
        for (h = nf; h > 0 && !dominated; h--)
            dominated = an_rec_covers(&s->rec[list[h - 1]], &s->rec[g], s->k, s->x);
        if (!dominated) {
            mark_group(s, g, e, on);
            list[nf++] = g;
        }
    }
}

int an_front(const an_points *p, size_t *idx, size_t *count, st_err *err)
{
    an_set s = {0};
    an_stairs st = {0};
    an_rec *tmp = NULL;
    unsigned char *on = NULL;
    size_t i, c = 0, *list = NULL;
    int rc = ST_OK;

    if (!count)
        rc = st_err_set(err, ST_EINVAL, "count = NULL: need somewhere to put the front's size");
    else if (!idx && p && p->n > 0)
        rc = st_err_set(err, ST_EINVAL, "idx = NULL with n = %zu points: need room for n indices",
                        p->n);
    if (!rc)
        rc = an_set_init(&s, p, NULL, err);
    if (rc || s.n == 0)
        goto done;
    tmp = malloc(s.n * sizeof *tmp);
    on = calloc(s.n, 1);
    if (s.k > 3)
        list = malloc(s.n * sizeof *list);
    if (!tmp || !on || (s.k > 3 && !list)) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the front of %zu points", s.n);
        goto done;
    }
    if (s.k == 3)
        rc = an_stairs_init(&st, s.n, err);
    if (rc)
        goto done;
    an_sort_lex(&s, tmp);
    if (s.k <= 2)
        front_2d(&s, on);
    else if (s.k == 3)
        front_3d(&s, on, &st);
    else
        front_kd(&s, on, list);
    for (i = 0; i < s.n && !rc; i++)
        if (on[i])
            idx[c++] = i;
done:
    if (count)
        *count = rc ? 0 : c;
    free(tmp);
    free(on);
    free(list);
    an_stairs_fini(&st);
    an_set_fini(&s);
    return rc;
}
