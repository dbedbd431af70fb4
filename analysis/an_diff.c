/*
 * an_diff.c - two result files compared point by point (stquery diff): the points only in
 * one, and for the points in both (matched by id) every status, parameter and metric that
 * differs, with the absolute and relative difference. Reading is an_h5.c's; nothing here
 * writes a file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

typedef struct idrow {
    uint64_t id;
    size_t row;
} idrow;

static int idrow_cmp(const void *a, const void *b)
{
    const idrow *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* The rows of t sorted by id, for binary search. */
static int sorted_ids(an_table *t, idrow **out, st_err *err)
{
    int c = an_table_find(t, "id"), rc;
    idrow *v;

    *out = NULL;
    if ((rc = an_table_load_col(t, c, err)) != ST_OK)
        return rc;
    if (!(v = malloc((t->n ? t->n : 1) * sizeof *v)))
        return st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
    for (size_t i = 0; i < t->n; i++) {
        v[i].id = t->col[c].u[i];
        v[i].row = i;
    }
    qsort(v, t->n, sizeof *v, idrow_cmp);
    *out = v;
    return ST_OK;
}

/* The row of id in the sorted ids v (n of them), or (size_t)-1. */
static size_t find_id(const idrow *v, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo].id == id ? v[lo].row : (size_t)-1;
}

/* Do a and b differ beyond rtol? NaN equals NaN (a failed point's metric in both files);
 * 64-bit counts compare exactly when rtol is 0. */
static int differ(const an_col *ca, size_t ra, const an_col *cb, size_t rb, double rtol)
{
    double a = ca->v[ra], b = cb->v[rb];

    if (ca->u && cb->u && rtol == 0)
        return ca->u[ra] != cb->u[rb];
    if (a != a || b != b)
        return (a != a) != (b != b);
    if (a == b)
        return 0;
    return !(fabs(a - b) <= rtol * fmax(fabs(a), fabs(b)));
}

/* The columns compared: status, then every parameter and metric that both files have. */
static int common_columns(an_table *a, an_table *b, int *ca, int *cb, int *n, FILE *out, int csv,
                          st_err *err)
{
    int rc;

    *n = 0;
    for (int i = 0; i < a->ncol; i++) {
        const an_col *c = &a->col[i];
        int j;
        if (c->group != AN_G_PARAM && c->group != AN_G_METRIC && i != a->status_col)
            continue;
        j = an_table_find(b, c->name);
        if (j < 0 || b->col[j].group != c->group) {
            if (!csv)
                fprintf(out, "column      %s only in %s\n", c->name, a->path);
            continue;
        }
        if ((rc = an_table_load_col(a, i, err)) != ST_OK ||
            (rc = an_table_load_col(b, j, err)) != ST_OK)
            return rc;
        ca[*n] = i;
        cb[*n] = j;
        (*n)++;
    }
    for (int j = 0; j < b->ncol && !csv; j++) {
        const an_col *c = &b->col[j];
        int i = an_table_find(a, c->name);
        if ((c->group == AN_G_PARAM || c->group == AN_G_METRIC) &&
            (i < 0 || a->col[i].group != c->group))
            fprintf(out, "column      %s only in %s\n", c->name, b->path);
    }
    return ST_OK;
}

int an_diff(const char *pa, const char *pb, const an_diff_opts *o, FILE *out, an_diff_info *info,
            st_err *err)
{
    an_table *a = NULL, *b = NULL;
    idrow *ia = NULL, *ib = NULL;
    int *ca = NULL, *cb = NULL, ncols = 0, rc;
    size_t listed = 0;
    char va[64], vb[64], vd[64], vr[64];

    memset(info, 0, sizeof *info);
    if ((rc = an_h5_load(pa, &a, err)) != ST_OK || (rc = an_h5_load(pb, &b, err)) != ST_OK ||
        (rc = sorted_ids(a, &ia, err)) != ST_OK || (rc = sorted_ids(b, &ib, err)) != ST_OK)
        goto done;
    if (!(ca = malloc((size_t)a->ncol * sizeof *ca + 1)) ||
        !(cb = malloc((size_t)a->ncol * sizeof *cb + 1))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory");
        goto done;
    }
    if (o->csv)
        fputs("id,row_a,row_b,column,a,b,abs_diff,rel_diff\n", out);
    else
        fprintf(out, "a           %s: %zu points\nb           %s: %zu points\n", pa, a->n, pb,
                b->n);
    if ((rc = common_columns(a, b, ca, cb, &ncols, out, o->csv, err)) != ST_OK)
        goto done;
    /* Points only in one file, each in its file's order. */
    for (int side = 0; side < 2; side++) {
        an_table *t = side ? b : a;
        const idrow *other = side ? ia : ib;
        size_t nother = side ? a->n : b->n;
        int idc = an_table_find(t, "id");
        for (size_t r = 0; r < t->n; r++) {
            uint64_t id = t->col[idc].u[r];
            if (find_id(other, nother, id) != (size_t)-1)
                continue;
            if (side)
                info->only_b++;
            else
                info->only_a++;
            if (o->limit >= 0 && listed >= (size_t)o->limit)
                continue;
            listed++;
            if (o->csv)
                fprintf(out, "%016llx,%s,%s,,,,,\n", (unsigned long long)id,
                        side ? "" : (snprintf(va, sizeof va, "%zu", r), va),
                        side ? (snprintf(vb, sizeof vb, "%zu", r), vb) : "");
            else
                fprintf(out, "only in %s  %016llx (row %zu)\n", side ? "b" : "a",
                        (unsigned long long)id, r);
        }
    }
    /* Points in both: every compared column that differs. */
    for (size_t r = 0; r < a->n; r++) {
        int idc = an_table_find(a, "id"), any = 0;
        uint64_t id = a->col[idc].u[r];
        size_t rb = find_id(ib, b->n, id);
        if (rb == (size_t)-1)
            continue;
        info->both++;
        for (int k = 0; k < ncols; k++) {
            const an_col *x = &a->col[ca[k]], *y = &b->col[cb[k]];
            double d, rel;
            if (!differ(x, r, y, rb, o->rtol))
                continue;
            any = 1;
            info->values++;
            if (o->limit >= 0 && listed >= (size_t)o->limit)
                continue;
            listed++;
            d = y->v[rb] - x->v[r];
            rel = x->v[r] != 0 ? d / fabs(x->v[r]) : d == 0 ? 0 : INFINITY;
            an_table_format(a, ca[k], r, 1, va, sizeof va);
            an_table_format(b, cb[k], rb, 1, vb, sizeof vb);
            if (x->u && y->u)
                snprintf(vd, sizeof vd, "%s%llu", y->u[rb] < x->u[r] ? "-" : "",
                         (unsigned long long)(y->u[rb] < x->u[r] ? x->u[r] - y->u[rb]
                                                                 : y->u[rb] - x->u[r]));
            else
                an_fmt_exact(d, vd, sizeof vd);
            an_fmt_exact(rel, vr, sizeof vr);
            if (x->type == AN_T_ENUM || x->type == AN_T_BOOL || d != d) {
                /* Choices, booleans and a NaN against a number have no difference. */
                vd[0] = '\0';
                vr[0] = '\0';
            }
            if (o->csv) {
                fprintf(out, "%016llx,%zu,%zu,%s,%s,%s,%s,%s\n", (unsigned long long)id, r, rb,
                        x->name, va, vb, vd, vr);
                continue;
            }
            fprintf(out, "differs     %016llx (rows %zu, %zu)  %s: %s -> %s",
                    (unsigned long long)id, r, rb, x->name, va, vb);
            if (vd[0] && isinf(rel))
                fprintf(out, "  (%s, from 0)\n", vd);
            else if (vd[0])
                fprintf(out, "  (%s, %+.3g%%)\n", vd, rel * 100);
            else
                fputc('\n', out);
        }
        info->differ += (size_t)any;
    }
    if (!o->csv) {
        if (o->limit >= 0 && listed >= (size_t)o->limit &&
            info->only_a + info->only_b + info->values > listed)
            fprintf(out, "(%zu lines shown: --limit %lld)\n", listed, o->limit);
        fprintf(out,
                "summary     %zu only in a, %zu only in b, %zu in both: %zu of them differ in "
                "%zu values%s\n",
                info->only_a, info->only_b, info->both, info->differ, info->values,
                o->rtol > 0 ? " (beyond --rtol)" : "");
    }
    if (fflush(out) != 0 || ferror(out))
        rc = st_err_set(err, ST_EIO, "cannot write the output");
done:
    free(ca);
    free(cb);
    free(ia);
    free(ib);
    an_table_destroy(&a);
    an_table_destroy(&b);
    return rc;
}
