/*
 * an_points.c - the checked, minimised copy of a point set that every algorithm here
 * starts from: checks of the view, the senses and the values (messages name the point and
 * the objective), and the sign flip that turns maximised objectives into minimised ones.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_int.h"

void an_objective_name(const an_points *p, int j, char *buf, size_t size)
{
    if (p->names && p->names[j])
        snprintf(buf, size, "'%s'", p->names[j]);
    else
        snprintf(buf, size, "objective %d", j);
}

/* Check the view itself: pointers, k, senses, and a size whose copies fit in memory. */
static int check_view(const an_points *p, st_err *err)
{
    char name[96];
    int j, rc = ST_OK;

    if (!p)
        rc = st_err_set(err, ST_EINVAL, "points = NULL: need a point set");
    else if (p->k < 1 || p->k > AN_K_MAX)
        rc = st_err_set(err, ST_EINVAL, "k = %d objectives: must be in [1, %d]", p->k, AN_K_MAX);
    else if (!p->x && p->n > 0)
        rc =
            st_err_set(err, ST_EINVAL, "x = NULL with n = %zu points: need n * k objectives", p->n);
    else if (p->n > SIZE_MAX / ((size_t)p->k * sizeof(double) + sizeof(an_rec)))
        rc = st_err_set(err, ST_EINVAL,
                        "n = %zu points of k = %d objectives: too many to copy in memory", p->n,
                        p->k);
    for (j = 0; !rc && p->sense && j < p->k; j++)
        if (p->sense[j] != AN_MIN && p->sense[j] != AN_MAX) {
            an_objective_name(p, j, name, sizeof name);
            rc = st_err_set(err, ST_EINVAL, "%s: sense = %d: must be AN_MIN (0) or AN_MAX (1)",
                            name, (int)p->sense[j]);
        }
    return rc;
}

int an_set_init(an_set *s, const an_points *p, const char *finite_for, st_err *err)
{
    char name[96];
    size_t i, n;
    an_rec *r;
    double v;
    int j, k, rc;

    memset(s, 0, sizeof *s);
    rc = check_view(p, err);
    if (rc)
        goto done;
    n = p->n;
    k = p->k;
    s->rec = malloc(n ? n * sizeof *s->rec : 1);
    if (k > 3)
        s->x = malloc(n ? n * (size_t)k * sizeof *s->x : 1);
    if (!s->rec || (k > 3 && !s->x)) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for %zu points of %d objectives", n, k);
        goto done;
    }
    for (i = 0; i < n && !rc; i++) {
        r = &s->rec[i];
        r->v[0] = r->v[1] = r->v[2] = 0.0;
        r->i = i;
        for (j = 0; j < k && !rc; j++) {
            v = p->x[i * (size_t)k + j];
            if (isnan(v) || (finite_for && isinf(v))) {
                an_objective_name(p, j, name, sizeof name);
                rc = isnan(v)
                         ? st_err_set(err, ST_EINVAL, "point %zu: %s = nan: must be a number", i,
                                      name)
                         : st_err_set(err, ST_EINVAL, "point %zu: %s = %g: must be finite for %s",
                                      i, name, v, finite_for);
            }
            if (p->sense && p->sense[j] == AN_MAX)
                v = -v;
            if (j < 3)
                r->v[j] = v;
            if (s->x)
                s->x[i * (size_t)k + j] = v;
        }
    }
    s->n = n;
    s->k = k;
done:
    if (rc)
        an_set_fini(s);
    return rc;
}

void an_set_fini(an_set *s)
{
    free(s->rec);
    free(s->x);
    memset(s, 0, sizeof *s);
}
