/*
 * ex_ptab.c - the core's parameter table as the explorer uses it: rows in name order,
 * defaults, formatting and checking of a single value. The engine's rows and their rules
 * live in core/param.c; the two rows added here, `network` and `trace`, are the sweep's
 * (which network and which training trace a point runs), choices the sweep names.
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

/* The sweep's rows: a choice among what the sweep names, the first by default. */
static const char *const one_net[] = {"(the sweep's network)", NULL};
static const char *const no_trace[] = {"none", NULL};
static const st_param sweep_rows[2] = {
    {"network", ST_PT_ENUM, "", 0, 0, 0, one_net, (size_t)-1, "sweep",
     "the network of the point, among the sweep's", 0, 0},
    {"trace", ST_PT_ENUM, "", 0, 0, 0, no_trace, (size_t)-1, "sweep",
     "the training trace whose masks the point replays (none: the sparsity model)", 0, 0},
};

int ex_ptab_init(ex_ptab *t, st_err *err)
{
    name_idx *tmp = NULL;
    const st_param *core;
    st_point pt;
    int rc = ST_OK, n = 0;

    memset(t, 0, sizeof *t);
    core = st_params(&n);
    t->ncore = n;
    t->n = n += 2;
    t->net_row = n - 2;
    t->trace_row = n - 1;
    t->seed_row = -1;
    t->own = malloc((size_t)n * sizeof *t->own);
    t->by_name = malloc((size_t)n * sizeof *t->by_name);
    t->def = malloc((size_t)n * sizeof *t->def);
    tmp = malloc((size_t)n * sizeof *tmp);
    if (!t->own || !t->by_name || !t->def || !tmp) {
        rc = st_err_set(err, ST_ENOMEM, "parameter table: out of memory");
        goto done;
    }
    memcpy(t->own, core, (size_t)t->ncore * sizeof *t->own);
    memcpy(t->own + t->ncore, sweep_rows, sizeof sweep_rows);
    t->rows = t->own;
    st_point_init(&pt);
    for (int i = 0; i < n; i++) {
        tmp[i].name = t->rows[i].name;
        tmp[i].i = i;
        t->def[i] = 0;
        if (i < t->ncore)
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

static void labels_free(char **names)
{
    for (int i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

void ex_ptab_fini(ex_ptab *t)
{
    if (!t)
        return;
    for (int k = 0; k < 2; k++) {
        labels_free(t->label[k]);
        free(t->label_fp[k]);
    }
    free(t->own);
    free(t->by_name);
    free(t->def);
    memset(t, 0, sizeof *t);
}

int ex_ptab_set_labels(ex_ptab *t, int row, const char *const *names, const uint64_t *fps, int n,
                       st_err *err)
{
    int k = row == t->trace_row, rc = ST_OK;
    char **copy = calloc((size_t)n + 1, sizeof *copy);
    uint64_t *fp = malloc(((size_t)n + 1) * sizeof *fp);

    if (!copy || !fp || (row != t->net_row && row != t->trace_row) || n < 1)
        goto fail;
    for (int i = 0; i < n; i++)
        if (!(copy[i] = strdup(names[i])))
            goto fail;
    memcpy(fp, fps, (size_t)n * sizeof *fp);
    labels_free(t->label[k]);
    free(t->label_fp[k]);
    t->label[k] = copy;
    t->label_fp[k] = fp;
    t->own[row].choices = (const char *const *)copy;
    t->own[row].max = n - 1;
    return rc;
fail:
    labels_free(copy);
    free(fp);
    return st_err_set(err, ST_ENOMEM, "parameter %s: out of memory for %d names", t->rows[row].name,
                      n);
}

char *ex_ptab_labels_text(const ex_ptab *t, int row)
{
    size_t len = 1, used = 0;
    char *text;

    for (int i = 0; t->rows[row].choices[i]; i++)
        len += strlen(t->rows[row].choices[i]) + 2;
    if (!(text = malloc(len)))
        return NULL;
    text[0] = '\0';
    for (int i = 0; t->rows[row].choices[i]; i++)
        used += (size_t)snprintf(text + used, len - used, "%s%s", i ? ", " : "",
                                 t->rows[row].choices[i]);
    return text;
}

uint64_t ex_ptab_label_fp(const ex_ptab *t, int row, double v)
{
    const uint64_t *fp = row == t->net_row ? t->label_fp[0] : t->label_fp[1];

    if (!fp || !(v >= 0 && v <= t->rows[row].max) || v != floor(v))
        return 0;
    return fp[(int)v];
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
    else
        ex_real_text(v, buf, size);
}

void ex_real_text(double v, char *buf, size_t size)
{
    /* The shortest %g that reads back to the same double. */
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v || !isfinite(v))
            break;
    }
}

int ex_ptab_check(const ex_ptab *t, int i, double v, st_err *err)
{
    st_point pt;

    if (i >= t->ncore)
        return st_param_check(&t->rows[i], v, err);
    st_point_init(&pt);
    return st_point_set_num(&pt, t->rows[i].name, v, err);
}
