/*
 * an_hv.c - the hypervolume of a point set against a reference point, for 1, 2 and 3
 * objectives: the measure of the union of the boxes between each point and the
 * reference. More objectives are refused rather than computed slowly.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_int.h"

/* The 2-D staircase of the 3-D sweep: the points inserted so far that no other inserted
 * point dominates in objectives 0 and 1, as an ordered set of ranks of objective 0 (two
 * of them never share a value there), with y[r] the objective 1 of the member of rank r,
 * which falls as r grows. */
typedef struct stair {
    an_iset set;
    double *x; /* the distinct values of objective 0, increasing; x[r] has rank r */
    double *y; /* objective 1 of the member of each rank */
    double rx; /* the reference point in objectives 0 and 1 */
    double ry;
} stair;

/* Insert the point (x[r], yv) and return the area it adds to the region between the
 * staircase and the reference: the part of its box [x[r], rx] x [yv, ry] that the
 * staircase left uncovered, summed strip by strip over the members it dominates (which
 * leave). Amortised O(log n): every point leaves at most once. */
static double stair_insert(stair *st, size_t r, double yv)
{
    size_t lower = r > 0 ? an_iset_prev(&st->set, r - 1) : SIZE_MAX;
    size_t t = an_iset_next(&st->set, r);
    double cap, cx = st->x[r], gain = 0.0;

    /* The member before r, or one at r itself, may dominate the point (or equal it). */
    if ((lower != SIZE_MAX && st->y[lower] <= yv) || (t == r && st->y[t] <= yv))
        return 0.0;
    /* Up to the next member, the staircase covers everything above cap. */
    cap = lower != SIZE_MAX ? st->y[lower] : st->ry;
    while (t != SIZE_MAX && st->y[t] >= yv) {
        gain += (st->x[t] - cx) * (cap - yv);
        cx = st->x[t];
        cap = st->y[t];
        an_iset_erase(&st->set, t);
        t = an_iset_next(&st->set, t + 1);
    }
    gain += ((t != SIZE_MAX ? st->x[t] : st->rx) - cx) * (cap - yv);
    an_iset_insert(&st->set, r);
    st->y[r] = yv;
    return gain;
}

/* k = 3: the dimension sweep of Beume et al. 2009 (section IV; the same sweep as
 * Fonseca, Paquete and Lopez-Ibanez, "An improved dimension-sweep algorithm for the
 * hypervolume indicator", CEC 2006). Points in increasing objective 2; between two
 * consecutive values of it, the volume is the dominated area of the staircase of the
 * points so far times the gap. rec holds the m points better than ref; its indices are
 * overwritten with the ranks of objective 0. O(m log m). */
static int hv_3d(an_rec *rec, size_t m, const double *ref, double *vol, st_err *err)
{
    stair st = {0};
    an_rec *tmp = NULL;
    double area = 0.0, sum = 0.0, znext;
    size_t i, d = 0;
    int rc;

    rc = an_iset_init(&st.set, m, err);
    if (rc)
        goto done;
    tmp = malloc(m * sizeof *tmp);
    st.x = malloc(m * sizeof *st.x);
    st.y = malloc(m * sizeof *st.y);
    if (!tmp || !st.x || !st.y) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the hypervolume of %zu points", m);
        goto done;
    }
    st.rx = ref[0];
    st.ry = ref[1];
    an_sort_by(rec, m, 0, tmp);
    for (i = 0; i < m; i++) {
        if (d == 0 || rec[i].v[0] != st.x[d - 1])
            st.x[d++] = rec[i].v[0];
        rec[i].i = d - 1;
    }
    an_sort_by(rec, m, 2, tmp);
    for (i = 0; i < m; i++) {
        area += stair_insert(&st, rec[i].i, rec[i].v[1]);
        znext = i + 1 < m ? rec[i + 1].v[2] : ref[2];
        sum += area * (znext - rec[i].v[2]);
    }
    *vol = sum;
done:
    an_iset_fini(&st.set);
    free(tmp);
    free(st.x);
    free(st.y);
    return rc;
}

/* k = 2: points in lexicographic order; each one lower in objective 1 than all before it
 * adds the rectangle between it, the reference and the lowest of those before. */
static double hv_2d(const an_rec *rec, size_t m, const double *ref)
{
    double sum = 0.0, low = ref[1];
    size_t i;

    for (i = 0; i < m; i++)
        if (rec[i].v[1] < low) {
            sum += (ref[0] - rec[i].v[0]) * (low - rec[i].v[1]);
            low = rec[i].v[1];
        }
    return sum;
}

/* Check the reference point and turn it into minimised values; write it, as the caller
 * gave it, into text for messages. */
static int check_ref(const an_points *p, const double *ref, double *r, char *text, size_t size,
                     st_err *err)
{
    char name[96];
    size_t len = 0;
    int j, rc = ST_OK;

    text[0] = '\0';
    for (j = 0; j < p->k && !rc; j++) {
        if (!isfinite(ref[j])) {
            an_objective_name(p, j, name, sizeof name);
            rc = st_err_set(err, ST_EINVAL, "reference point: %s = %g: must be finite", name,
                            ref[j]);
        }
        r[j] = p->sense && p->sense[j] == AN_MAX ? -ref[j] : ref[j];
        if (len < size)
            len += (size_t)snprintf(text + len, size - len, "%s%g", j ? ", " : "", ref[j]);
    }
    return rc;
}

int an_hypervolume(const an_points *p, const double *ref, double *hv, st_err *err)
{
    an_set s = {0};
    an_rec *tmp = NULL;
    double r[3] = {0.0, 0.0, 0.0}, vol = 0.0;
    char text[160];
    size_t i, m = 0;
    int j, better, rc = ST_OK;

    if (!hv)
        rc = st_err_set(err, ST_EINVAL, "hv = NULL: need somewhere to put the hypervolume");
    else if (p && !ref)
        rc =
            st_err_set(err, ST_EINVAL, "ref = NULL: need a reference point of k = %d values", p->k);
    else if (p && p->k > 3 && p->k <= AN_K_MAX)
        rc = st_err_set(err, ST_EINVAL,
                        "hypervolume of k = %d objectives: not supported (only 1, 2 or 3)", p->k);
    if (!rc)
        rc = an_set_init(&s, p, "the hypervolume", err);
    if (!rc)
        rc = check_ref(p, ref, r, text, sizeof text, err);
    if (rc)
        goto done;
    /* Keep the points strictly better than the reference in every objective. */
    for (i = 0; i < s.n; i++) {
        for (j = 0, better = 1; j < s.k && better; j++)
            better = s.rec[i].v[j] < r[j];
        if (better)
            s.rec[m++] = s.rec[i];
    }
    if (m == 0) {
        rc = st_err_set(err, ST_EINVAL,
                        "none of the %zu points is better than the reference point (%s) in "
                        "every objective: no hypervolume",
                        s.n, text);
        goto done;
    }
    s.n = m;
    if (s.k == 1) {
        for (i = 1; i < m; i++)
            if (s.rec[i].v[0] < s.rec[0].v[0])
                s.rec[0] = s.rec[i];
        vol = r[0] - s.rec[0].v[0];
    } else if (s.k == 2) {
        tmp = malloc(m * sizeof *tmp);
        if (!tmp) {
            rc = st_err_set(err, ST_ENOMEM, "out of memory for the hypervolume of %zu points", m);
            goto done;
        }
        an_sort_lex(&s, tmp);
        vol = hv_2d(s.rec, m, r);
    } else {
        rc = hv_3d(s.rec, m, r, &vol, err);
    }
done:
    if (hv)
        *hv = rc ? 0.0 : vol;
    free(tmp);
    an_set_fini(&s);
    return rc;
}
