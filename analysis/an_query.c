/*
 * an_query.c - which rows of a table a question is about (status and filters), their
 * objectives as a point set for an_front, an_ranks and an_hypervolume, and the order rows
 * are shown in. The algorithms themselves are an_front.c and its neighbours.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

/* The counts by status, for messages. */
static void count_status(const an_table *t, size_t n[3], size_t *other)
{
    const double *s = t->col[t->status_col].v;

    n[0] = n[1] = n[2] = *other = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (s[i] == 0 || s[i] == 1 || s[i] == 2)
            n[(int)s[i]]++;
        else
            (*other)++;
    }
}

int an_query_rows(an_table *t, const an_query *q, size_t *rows, size_t *count, st_err *err)
{
    const double *status = NULL;
    size_t m = 0, candidates = 0;
    int rc = ST_OK;

    *count = 0;
    if (q->ok_only && t->status_col >= 0) {
        if ((rc = an_table_load_col(t, t->status_col, err)) != ST_OK)
            return rc;
        status = t->col[t->status_col].v;
    }
    for (int j = 0; j < q->nobj; j++)
        if ((rc = an_table_load_col(t, q->col[j], err)) != ST_OK)
            return rc;
    for (size_t i = 0; i < t->n; i++) {
        int pass = 1;
        if (status && status[i] != 0)
            continue;
        candidates++;
        for (int w = 0; w < q->nwhere && pass; w++)
            pass = an_expr_test(q->where[w], t, i);
        if (pass)
            rows[m++] = i;
    }
    /* A missing objective of a point that counts is a defect of the file, not a point to
     * drop quietly. */
    for (size_t r = 0; r < m; r++)
        for (int j = 0; j < q->nobj; j++)
            if (isnan(t->col[q->col[j]].v[rows[r]]))
                return st_err_set(err, ST_EINVAL, "%s: row %zu: %s = nan: cannot compare it",
                                  t->path, rows[r], t->col[q->col[j]].name);
    if (m == 0 && q->nobj > 0) {
        if (status && candidates == 0) {
            size_t n[3], other;
            count_status(t, n, &other);
            return st_err_set(err, ST_EINVAL,
                              "%s: no successful points (%zu points: %zu failed, %zu rejected by "
                              "keep)",
                              t->path, t->n, n[1], n[2]);
        }
        if (candidates == 0)
            return st_err_set(err, ST_EINVAL, "%s: no points", t->path);
        return st_err_set(err, ST_EINVAL, "%s: no point passes the filter%s '%.60s'%s (of %zu %s)",
                          t->path, q->nwhere > 1 ? "s" : "", an_expr_text(q->where[0]),
                          q->nwhere > 1 ? ", ..." : "", candidates,
                          status ? "successful points" : "points");
    }
    *count = m;
    return ST_OK;
}

void an_query_points(const an_table *t, const an_query *q, const size_t *rows, size_t count,
                     double *x, const char **names, an_points *p)
{
    int k = q->nobj;

    for (size_t r = 0; r < count; r++)
        for (int j = 0; j < k; j++)
            x[r * (size_t)k + (size_t)j] = t->col[q->col[j]].v[rows[r]];
    for (int j = 0; j < k; j++)
        names[j] = t->col[q->col[j]].name;
    p->x = x;
    p->n = count;
    p->k = k;
    p->sense = q->sense;
    p->names = names;
}

int an_sort_key(an_table *t, const char *text, int *col, int *desc, st_err *err)
{
    const char *colon = strchr(text, ':');
    char name[128], what[160];

    snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - text) : (int)strlen(text), text);
    *desc = 0;
    if (colon && strcmp(colon + 1, "asc") && strcmp(colon + 1, "desc"))
        return st_err_set(err, ST_EINVAL, "--sort %s: order '%s': must be asc or desc", text,
                          colon + 1);
    if (colon)
        *desc = !strcmp(colon + 1, "desc");
    snprintf(what, sizeof what, "--sort");
    return an_table_column(t, name, what, col, err);
}

/* The sort's keys. */
typedef struct keys {
    const an_table *t;
    const int *col, *desc;
    int n;
} keys;

/* Compare rows a and b by the keys: NaN after every number in either order. */
static int cmp_rows(const keys *k, size_t a, size_t b)
{
    for (int i = 0; i < k->n; i++) {
        const an_col *c = &k->t->col[k->col[i]];
        double x = c->v[a], y = c->v[b];
        int r;
        if (isnan(x) || isnan(y)) {
            r = isnan(x) - isnan(y);
            if (r)
                return r;
            continue;
        }
        if (c->u && x == y) /* 64-bit values beyond 2^53 can differ where doubles do not */
            r = (c->u[a] > c->u[b]) - (c->u[a] < c->u[b]);
        else
            r = (x > y) - (x < y);
        if (k->desc[i])
            r = -r;
        if (r)
            return r;
    }
    return 0;
}

int an_rows_sort(an_table *t, size_t *rows, size_t n, const int *col, const int *desc, int nkeys,
                 st_err *err)
{
    keys k = {t, col, desc, nkeys};
    size_t *tmp = NULL, *src = rows, *dst;
    int rc = ST_OK;

    for (int i = 0; i < nkeys; i++)
        if ((rc = an_table_load_col(t, col[i], err)) != ST_OK)
            return rc;
    if (n < 2 || nkeys == 0)
        return ST_OK;
    if (!(tmp = malloc(n * sizeof *tmp)))
        return st_err_set(err, ST_ENOMEM, "out of memory to sort %zu rows", n);
    dst = tmp;
    /* Bottom-up merge sort: stable, so rows equal in every key keep their order. */
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = cmp_rows(&k, src[b], src[a]) < 0 ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        size_t *s = src;
        src = dst;
        dst = s;
    }
    if (src != rows)
        memcpy(rows, src, n * sizeof *rows);
    free(tmp);
    return ST_OK;
}
