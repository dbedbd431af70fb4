/*
 * an_table.c - the in-memory table of a result: columns with their units, types and
 * choices, loaded on demand through the table's source; lookup by name with suggestions,
 * and the text of a value. Reading HDF5 files is an_h5.c; this file knows no format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);

    if (d)
        memcpy(d, s ? s : "", n);
    return d;
}

int an_table_create(const char *path, size_t n, an_table **out, st_err *err)
{
    an_table *t = calloc(1, sizeof *t);
    int rc = ST_OK;

    *out = NULL;
    if (!t || !(t->path = dup_str(path)) || !(t->name = dup_str(""))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for a table", path);
        goto done;
    }
    t->n = n;
    t->status_col = -1;
    *out = t;
    t = NULL;
done:
    an_table_destroy(&t);
    return rc;
}

static void free_strs(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

void an_table_destroy(an_table **tp)
{
    an_table *t;

    if (!tp || !*tp)
        return;
    t = *tp;
    if (t->src.close)
        t->src.close(t->src.ctx);
    for (int i = 0; i < t->ncol; i++) {
        an_col *c = &t->col[i];
        free(c->name);
        free(c->unit);
        free(c->help);
        free(c->role);
        free_strs(c->choice, (size_t)c->nchoice);
        free(c->v);
        free(c->u);
    }
    free(t->col);
    for (int i = 0; i < t->nprov; i++) {
        free(t->prov[i].key);
        free(t->prov[i].value);
    }
    free(t->prov);
    free(t->fail_row);
    free_strs(t->fail_msg, t->nfail);
    free_strs(t->layer_name, (size_t)t->nlayer);
    free_strs(t->layer_kind, (size_t)t->nlayer);
    free(t->net_name);
    free(t->net_source);
    free(t->path);
    free(t->name);
    free(t);
    *tp = NULL;
}

int an_table_add(an_table *t, const char *name, const char *unit, an_group group, an_type type,
                 int *col, st_err *err)
{
    an_col *c;

    for (int i = 0; i < t->ncol; i++)
        if (t->col[i].group == group && !strcmp(t->col[i].name, name))
            return st_err_set(err, ST_EINVAL, "%s: two columns called '%s'", t->path, name);
    if (t->ncol == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        an_col *g = realloc(t->col, (size_t)cap * sizeof *g);
        if (!g)
            return st_err_set(err, ST_ENOMEM, "%s: out of memory for columns", t->path);
        t->col = g;
        t->cap = cap;
    }
    c = &t->col[t->ncol];
    memset(c, 0, sizeof *c);
    c->group = group;
    c->type = type;
    if (!(c->name = dup_str(name)) || !(c->unit = dup_str(unit)) || !(c->help = dup_str("")) ||
        !(c->role = dup_str(""))) {
        free(c->name);
        free(c->unit);
        free(c->help);
        return st_err_set(err, ST_ENOMEM, "%s: out of memory for columns", t->path);
    }
    *col = t->ncol++;
    return ST_OK;
}

int an_table_set_choices(an_table *t, int col, const char *text, st_err *err)
{
    an_col *c = &t->col[col];
    const char *p = text;
    char **v = NULL;
    int n = 1, rc = ST_OK;

    for (const char *q = text; *q; q++)
        n += *q == ',';
    if (!(v = calloc((size_t)n, sizeof *v))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len;
        while (*p == ' ')
            p++;
        len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (!(v[i] = malloc(len + 1))) {
            rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
            goto done;
        }
        memcpy(v[i], p, len);
        v[i][len] = '\0';
        p = end ? end + 1 : p + len;
    }
    free_strs(c->choice, (size_t)c->nchoice);
    c->choice = v;
    c->nchoice = n;
    v = NULL;
done:
    free_strs(v, (size_t)n);
    return rc;
}

int an_table_set_choice_list(an_table *t, int col, const char *const *names, int n, st_err *err)
{
    an_col *c = &t->col[col];
    char **v = calloc(n > 0 ? (size_t)n : 1, sizeof *v);
    int rc = ST_OK;

    for (int i = 0; v && i < n; i++)
        if (!(v[i] = dup_str(names[i]))) {
            free_strs(v, (size_t)n);
            v = NULL;
        }
    if (!v)
        return st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
    free_strs(c->choice, (size_t)c->nchoice);
    c->choice = v;
    c->nchoice = n;
    return rc;
}

int an_table_find(const an_table *t, const char *name)
{
    static const struct {
        const char *prefix;
        an_group group;
    } groups[] = {{"params/", AN_G_PARAM}, {"metrics/", AN_G_METRIC}, {"points/", AN_G_POINT}};

    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        size_t len = strlen(groups[g].prefix);
        if (!strncmp(name, groups[g].prefix, len)) {
            for (int i = 0; i < t->ncol; i++)
                if (t->col[i].group == groups[g].group && !strcmp(t->col[i].name, name + len))
                    return i;
            return -1;
        }
    }
    for (int i = 0; i < t->ncol; i++)
        if (!strcmp(t->col[i].name, name))
            return i;
    return -1;
}

/* The edit distance of a and b (insertions, deletions, substitutions), capped at 9. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[64], prev, diag;

    if (la >= 64 || lb >= 64)
        return 9;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int best = diag + (a[i - 1] != b[j - 1]);
            prev = row[j];
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = prev;
        }
    }
    return row[lb] > 9 ? 9 : row[lb];
}

int an_table_lookup(const an_table *t, const char *name, const char *what, int *col, st_err *err)
{
    char hint[256] = "";
    int best[3] = {-1, -1, -1}, bd[3] = {99, 99, 99}, nh = 0;
    size_t used = 0, len = strlen(name);
    int within = len / 3 > 1 ? (int)(len / 3) : 1;

    *col = an_table_find(t, name);
    if (*col >= 0)
        return ST_OK;
    /* The three nearest names: within a third of the name's length in edits, or starting
     * with the name (which counts as 2 edits). */
    for (int i = 0; i < t->ncol; i++) {
        int d = distance(name, t->col[i].name);
        int prefix = len >= 3 && !strncmp(t->col[i].name, name, len);
        if (prefix && d > 2)
            d = 2;
        if (d > within && !prefix)
            continue;
        for (int s = 0; s < 3; s++)
            if (d < bd[s]) {
                for (int m = 2; m > s; m--) {
                    bd[m] = bd[m - 1];
                    best[m] = best[m - 1];
                }
                bd[s] = d;
                best[s] = i;
                break;
            }
    }
    for (int s = 0; s < 3 && best[s] >= 0; s++, nh++)
        used = an_appendf(hint, sizeof hint, used, "%s'%s'", nh == 0 ? "; did you mean " : " or ",
                          t->col[best[s]].name);
    if (nh > 0 && used < sizeof hint - 1)
        snprintf(hint + used, sizeof hint - used, "?");
    if (nh == 0)
        snprintf(hint, sizeof hint, " (stquery info lists the parameters and metrics)");
    return st_err_set(err, ST_EINVAL, "%s%s%s has no column '%s'%s", what ? what : "",
                      what ? ": " : "", t->path, name, hint);
}

int an_table_load_col(an_table *t, int col, st_err *err)
{
    an_col *c = &t->col[col];
    int rc;

    if (c->v)
        return ST_OK;
    if (!t->src.load)
        return st_err_set(err, ST_EINVAL, "%s: column '%s' has no values", t->path, c->name);
    rc = t->src.load(t->src.ctx, t, col, err);
    if (rc == ST_OK && (!c->v || ((c->type == AN_T_U64 || c->type == AN_T_ID) && !c->u)))
        rc = st_err_set(err, ST_EINVAL, "%s: column '%s' could not be loaded", t->path, c->name);
    return rc;
}

void an_fmt_exact(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "inf" : "-inf");
        return;
    }
    /* Whole numbers in decimal (not 1e+03); doubles hold them exactly below 2^53, and
     * %.0f writes the exact value up to 1e17. */
    if (v == floor(v) && fabs(v) < 1e17) {
        snprintf(buf, size, "%.0f", v);
        if (v == 0 && signbit(v))
            snprintf(buf, size, "-0");
        return;
    }
    /* Reading back is monotonic in the number of digits (d digits that read back exactly
     * stay exact with more), so the fewest is found by bisection: 17 always suffice. */
    {
        int lo = 1, hi = 17;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            snprintf(buf, size, "%.*g", mid, v);
            if (strtod(buf, NULL) == v)
                hi = mid;
            else
                lo = mid + 1;
        }
        snprintf(buf, size, "%.*g", lo, v);
    }
}

void an_table_format(const an_table *t, int col, size_t row, int exact, char *buf, size_t size)
{
    const an_col *c = &t->col[col];
    double v = c->v[row];

    switch (c->type) {
    case AN_T_ID:
        snprintf(buf, size, "%016llx", (unsigned long long)c->u[row]);
        return;
    case AN_T_U64:
        snprintf(buf, size, "%llu", (unsigned long long)c->u[row]);
        return;
    case AN_T_BOOL:
        if (!isnan(v)) {
            snprintf(buf, size, "%s", v != 0 ? "true" : "false");
            return;
        }
        break;
    case AN_T_ENUM:
        if (v >= 0 && v < c->nchoice && v == floor(v)) {
            snprintf(buf, size, "%s", c->choice[(int)v]);
            return;
        }
        break;
    case AN_T_INT:
        if (v == floor(v) && fabs(v) < 9e15) {
            snprintf(buf, size, "%.0f", v);
            return;
        }
        break;
    case AN_T_REAL:
        break;
    }
    if (exact)
        an_fmt_exact(v, buf, size);
    else if (isnan(v))
        snprintf(buf, size, "nan");
    else
        snprintf(buf, size, "%.6g", v);
}

const char *an_table_prov(const an_table *t, const char *key)
{
    for (int i = 0; i < t->nprov; i++)
        if (!strcmp(t->prov[i].key, key))
            return t->prov[i].value;
    return NULL;
}

int an_table_row_of_id(an_table *t, const char *hex, size_t *row, st_err *err)
{
    size_t len = strlen(hex), found = 0, matches = 0;
    int c = an_table_find(t, "id"), rc;
    char buf[24], want[24];

    if (len < 4 || len > 16 || strspn(hex, "0123456789abcdefABCDEF") != len)
        return st_err_set(err, ST_EINVAL,
                          "point id '%s': must be 4 to 16 hexadecimal digits (as `stquery list` "
                          "prints them)",
                          hex);
    if (c < 0 || t->col[c].type != AN_T_ID)
        return st_err_set(err, ST_EINVAL, "%s has no point ids", t->path);
    if ((rc = an_table_load_col(t, c, err)) != ST_OK)
        return rc;
    for (size_t i = 0; i <= len; i++)
        want[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
    for (size_t i = 0; i < t->n; i++) {
        snprintf(buf, sizeof buf, "%016llx", (unsigned long long)t->col[c].u[i]);
        if (!strncmp(buf, want, len) && matches++ == 0)
            found = i;
    }
    if (matches == 0)
        return st_err_set(err, ST_EINVAL, "%s has no point with id '%s'", t->path, hex);
    if (matches > 1)
        return st_err_set(err, ST_EINVAL,
                          "point id '%s' is ambiguous in %s: %zu points start "
                          "with it (give more digits)",
                          hex, t->path, matches);
    *row = found;
    return ST_OK;
}
