/*
 * ex_ptab.c - the core's parameter table as the explorer uses it: rows in name order,
 * defaults, formatting and checking of a single value. The table itself, its rows and
 * their rules live in core/param.c; nothing here adds a parameter.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

/* qsort has no context argument: sort (name, index) pairs instead of indices. */
typedef struct name_idx {
    const char *name;
    int i;
} name_idx;

static int name_idx_cmp(const void *a, const void *b)
{
    return strcmp(((const name_idx *)a)->name, ((const name_idx *)b)->name);
}

int ex_ptab_init(ex_ptab *t, st_err *err)
{
    name_idx *tmp = NULL;
    st_point pt;
    int rc = ST_OK, n = 0;

    memset(t, 0, sizeof *t);
    t->rows = st_params(&n);
    t->n = n;
    t->seed_row = -1;
    t->by_name = malloc((size_t)n * sizeof *t->by_name);
    t->def = malloc((size_t)n * sizeof *t->def);
    tmp = malloc((size_t)n * sizeof *tmp);
    if (!t->by_name || !t->def || !tmp) {
        rc = st_err_set(err, ST_ENOMEM, "parameter table: out of memory");
        goto done;
    }
    st_point_init(&pt);
    for (int i = 0; i < n; i++) {
        tmp[i].name = t->rows[i].name;
        tmp[i].i = i;
        st_point_get(&pt, t->rows[i].name, &t->def[i], NULL);
        if (!strcmp(t->rows[i].name, "seed"))
            t->seed_row = i;
    }
    qsort(tmp, (size_t)n, sizeof *tmp, name_idx_cmp);
    for (int i = 0; i < n; i++)
        t->by_name[i] = tmp[i].i;
done:
    free(tmp);
    if (rc != ST_OK)
        ex_ptab_fini(t);
    return rc;
}

void ex_ptab_fini(ex_ptab *t)
{
    if (!t)
        return;
    free(t->by_name);
    free(t->def);
    memset(t, 0, sizeof *t);
}

int ex_ptab_find(const ex_ptab *t, const char *name)
{
    int lo = 0, hi = t->n - 1;

    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(t->rows[t->by_name[mid]].name, name);
        if (c == 0)
            return t->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

void ex_ptab_format(const ex_ptab *t, int i, double v, char *buf, size_t size)
{
    const st_param *row = &t->rows[i];
    int whole = v == floor(v) && fabs(v) < 1e15;

    if (!buf || size == 0)
        return;
    if (row->type == ST_PT_BOOL && (v == 0 || v == 1))
        snprintf(buf, size, "%s", v != 0 ? "true" : "false");
    else if (row->type == ST_PT_ENUM && whole && v >= row->min && v <= row->max)
        snprintf(buf, size, "%s", row->choices[(int)v]);
    else if (row->type != ST_PT_REAL && whole)
        snprintf(buf, size, "%lld", (long long)v);
    else {
        /* The shortest %g that reads back to the same double. */
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, size, "%.*g", prec, v);
            if (strtod(buf, NULL) == v || !isfinite(v))
                break;
        }
    }
}

int ex_ptab_check(const ex_ptab *t, int i, double v, st_err *err)
{
    st_point pt;

    st_point_init(&pt);
    return st_point_set_num(&pt, t->rows[i].name, v, err);
}
