/*
 * an_info.c - the description of a result file for people: the sweep and its network,
 * the points by status, the swept, derived and fixed parameters with their values, the
 * range of every metric over the successful points, why points failed, and where the
 * file came from. Reading the file is an_h5.c's; this only reports.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define SHOW_MAX 12 /* distinct values listed before a range is given instead */

/* The rows of t with distinct values of column c, in increasing value; *m of them. */
static int distinct(an_table *t, int c, size_t *rows, size_t *m, st_err *err)
{
    int desc = 0, rc;
    size_t k = 0;

    for (size_t i = 0; i < t->n; i++)
        rows[i] = i;
    if ((rc = an_rows_sort(t, rows, t->n, &c, &desc, 1, err)) != ST_OK)
        return rc;
    for (size_t i = 0; i < t->n; i++) {
        double v = t->col[c].v[rows[i]];
        if (isnan(v))
            continue;
        if (k == 0 || t->col[c].v[rows[k - 1]] != v)
            rows[k++] = rows[i];
    }
    *m = k;
    return ST_OK;
}

/* "name [unit]" padded to width. */
static void put_name(FILE *f, const an_col *c, int width)
{
    char buf[160];

    snprintf(buf, sizeof buf, c->unit[0] ? "%s [%s]" : "%s", c->name, c->unit);
    fprintf(f, "%-*s", width, buf);
}

static int report_params(FILE *f, an_table *t, size_t *rows, st_err *err)
{
    static const char *const roles[] = {"swept", "derived", "fixed"};
    char a[96], b[96];
    int rc = ST_OK, ndefault = 0;

    for (int i = 0; i < t->ncol; i++)
        ndefault += t->col[i].group == AN_G_PARAM && !strcmp(t->col[i].role, "default");
    for (int r = 0; r < 3; r++) {
        int first = 1;
        for (int i = 0; i < t->ncol; i++) {
            an_col *c = &t->col[i];
            size_t m = 0;
            if (c->group != AN_G_PARAM || strcmp(c->role, roles[r]) != 0)
                continue;
            if ((rc = distinct(t, i, rows, &m, err)) != ST_OK)
                return rc;
            fprintf(f, "%-12s", first ? roles[r] : "");
            first = 0;
            put_name(f, c, 24);
            if (m == 0) {
                fputs("  no values\n", f);
                continue;
            }
            if (m == 1) {
                an_table_format(t, i, rows[0], 1, a, sizeof a);
                fprintf(f, "  %s\n", a);
                continue;
            }
            fprintf(f, "  %zu values: ", m);
            if (m <= SHOW_MAX) {
                for (size_t k = 0; k < m; k++) {
                    an_table_format(t, i, rows[k], 1, a, sizeof a);
                    fprintf(f, "%s%s", k ? ", " : "", a);
                }
                fputc('\n', f);
            } else {
                an_table_format(t, i, rows[0], 0, a, sizeof a);
                an_table_format(t, i, rows[m - 1], 0, b, sizeof b);
                fprintf(f, "%s to %s\n", a, b);
            }
        }
    }
    fprintf(f, "%-12s%d parameters at their defaults (stquery list --columns NAME shows one)\n",
            "defaults", ndefault);
    return ST_OK;
}

static int report_metrics(FILE *f, an_table *t, st_err *err)
{
    const double *status;
    char a[96], b[96];
    int rc;

    if ((rc = an_table_load_col(t, t->status_col, err)) != ST_OK)
        return rc;
    status = t->col[t->status_col].v;
    fprintf(f, "%-12s%-24s  %12s  %12s   (over the successful points)\n", "metrics", "", "min",
            "max");
    for (int i = 0; i < t->ncol; i++) {
        an_col *c = &t->col[i];
        size_t lo = SIZE_MAX, hi = SIZE_MAX;
        if (c->group != AN_G_METRIC)
            continue;
        if ((rc = an_table_load_col(t, i, err)) != ST_OK)
            return rc;
        for (size_t r = 0; r < t->n; r++) {
            if (status[r] != 0 || isnan(c->v[r]))
                continue;
            if (lo == SIZE_MAX || c->v[r] < c->v[lo])
                lo = r;
            if (hi == SIZE_MAX || c->v[r] > c->v[hi])
                hi = r;
        }
        fprintf(f, "%-12s", "");
        put_name(f, c, 24);
        if (lo == SIZE_MAX) {
            fputs("  -\n", f);
            continue;
        }
        an_table_format(t, i, lo, 0, a, sizeof a);
        an_table_format(t, i, hi, 0, b, sizeof b);
        fprintf(f, "  %12s  %12s\n", a, b);
    }
    return ST_OK;
}

/* The pattern of a failure message: every number and every quoted value replaced, so
 * that "pe_rows = 3: ..." and "pe_rows = 5: ..." are one reason. A number is a run of
 * digits (with a sign, a fraction, an exponent, or hex) that does not continue a name
 * (the 0 of ch0_kib, the 50 of resnet50 stay); a quoted value is '...' or "...". */
static void fail_pattern(const char *m, char *buf, size_t size)
{
    size_t n = 0;

    for (const char *p = m; *p && n + 4 < size;) {
        int after_name = p > m && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.');
        if ((*p == '\'' || *p == '"') && strchr(p + 1, *p)) {
            buf[n++] = *p;
            buf[n++] = '?';
            buf[n++] = *p;
            p = strchr(p + 1, *p) + 1;
        } else if (!after_name && (isdigit((unsigned char)*p) ||
                                   ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1])))) {
            char *e;
            strtod(p, &e);
            if (e == p) /* a lone sign */
                e = (char *)p + 1;
            while (isalnum((unsigned char)*e) || *e == '.') /* hex digits, units glued on */
                e++;
            buf[n++] = 'N';
            p = e;
        } else
            buf[n++] = *p++;
    }
    buf[n] = '\0';
}

/* The most frequent reasons of failure (messages of one pattern), most frequent first,
 * each with its first message in full. */
static int report_failures(FILE *f, const an_table *t, st_err *err)
{
    size_t *count = NULL, *order = NULL, distinct_n = 0;
    char **pat = NULL;
    int rc = ST_OK;

    if (t->nfail == 0)
        return ST_OK;
    count = calloc(t->nfail, sizeof *count);
    order = malloc(t->nfail * sizeof *order);
    pat = calloc(t->nfail, sizeof *pat);
    if (!count || !order || !pat) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for %zu failures", t->nfail);
        goto done;
    }
    for (size_t i = 0; i < t->nfail; i++) {
        char buf[600];
        fail_pattern(t->fail_msg[i], buf, sizeof buf);
        if (!(pat[i] = strdup(buf))) {
            rc = st_err_set(err, ST_ENOMEM, "out of memory for %zu failures", t->nfail);
            goto done;
        }
    }
    /* count[i] > 0 for the first message of each pattern. Quadratic in distinct patterns,
     * which are few: a sweep fails for a handful of reasons. */
    for (size_t i = 0; i < t->nfail; i++) {
        size_t j;
        for (j = 0; j < distinct_n; j++)
            if (!strcmp(pat[order[j]], pat[i]))
                break;
        if (j == distinct_n)
            order[distinct_n++] = i;
        count[order[j]]++;
    }
    for (size_t i = 1; i < distinct_n; i++)
        for (size_t j = i; j > 0 && count[order[j]] > count[order[j - 1]]; j--) {
            size_t s = order[j];
            order[j] = order[j - 1];
            order[j - 1] = s;
        }
    fprintf(f, "%-12s%zu point%s, %zu reason%s (numbers and quoted values as N and '?'):\n",
            "failures", t->nfail, t->nfail > 1 ? "s" : "", distinct_n, distinct_n > 1 ? "s" : "");
    for (size_t j = 0; j < distinct_n && j < 5; j++)
        fprintf(f, "%-12s%6zu x  %s\n%-22sfirst, row %llu: %s\n", "", count[order[j]],
                pat[order[j]], "", (unsigned long long)t->fail_row[order[j]],
                t->fail_msg[order[j]]);
    if (distinct_n > 5)
        fprintf(f, "%-12s%zu other reasons\n", "", distinct_n - 5);
done:
    for (size_t i = 0; pat && i < t->nfail; i++)
        free(pat[i]);
    free(pat);
    free(count);
    free(order);
    return rc;
}

static void report_provenance(FILE *f, const an_table *t)
{
    static const char *const shown[] = {
        "program",     "version",      "git_revision", "lua_version", "hdf5_version",
        "command",     "hosts",        "ranks",        "sessions",    "seed",
        "started_utc", "finished_utc", "elapsed_s",    "script_path"};
    const char *v;
    int first = 1;

    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        if (!(v = an_table_prov(t, shown[i])))
            continue;
        fprintf(f, "%-12s%-13s %s\n", first ? "provenance" : "", shown[i], v);
        first = 0;
    }
    if (an_table_prov(t, "script"))
        fprintf(f, "%-12s%-13s kept in the file (stquery info --script prints it)\n", "", "script");
}

int an_info(FILE *f, an_table *t, st_err *err)
{
    size_t *rows = NULL, n[3] = {0, 0, 0};
    const double *status;
    int rc;

    if ((rc = an_table_load_col(t, t->status_col, err)) != ST_OK)
        return rc;
    status = t->col[t->status_col].v;
    for (size_t i = 0; i < t->n; i++)
        if (status[i] >= 0 && status[i] <= 2)
            n[(int)status[i]]++;
    fprintf(f, "%-12s%s\n", "file", t->path);
    fprintf(f, "%-12s%s%s\n", "sweep", t->name,
            t->complete ? "" : " (incomplete: a snapshot of a running or stopped sweep)");
    if (t->net_name)
        fprintf(f, "%-12s%s (%s), %d layers\n", "network", t->net_name,
                t->net_source ? t->net_source : "?", t->nlayer);
    fprintf(f, "%-12s%zu: %zu ok, %zu failed, %zu rejected by keep\n", "points", t->n, n[0], n[1],
            n[2]);
    fprintf(f, "%-12sof %llu candidates: %llu excluded by where, %llu repeated draws\n", "",
            (unsigned long long)t->candidates, (unsigned long long)t->excluded,
            (unsigned long long)t->duplicates);
    fprintf(f, "%-12s%s\n", "detail",
            t->has_detail ? "per layer and phase (stquery layers, plot-layers)"
                          : "none (the sweep did not set detail = true)");
    if (!(rows = malloc(t->n ? t->n * sizeof *rows : 1))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
        goto done;
    }
    if ((rc = report_params(f, t, rows, err)) != ST_OK ||
        (rc = report_metrics(f, t, err)) != ST_OK || (rc = report_failures(f, t, err)) != ST_OK)
        goto done;
    report_provenance(f, t);
    if (fflush(f) != 0 || ferror(f))
        rc = st_err_set(err, ST_EIO, "cannot write the output");
done:
    free(rows);
    return rc;
}
