/*
 * an_h5.c - stexplore result files read into tables: what is there (a missing file, not
 * HDF5, HDF5 that is not ours), the file's attributes, provenance, failures and network,
 * the columns of the point axis loaded one at a time on demand, and the per-layer detail
 * of one point. The layout is results/README.md's; nothing here writes.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "an.h"
#include "an_h5int.h"
#include "ex_h5attr.h"

#define FORMAT_NAME    "stexplore-result"
#define FORMAT_VERSION 1

/* The source of a table read from a file: the open file. */
typedef struct h5src {
    hid_t f;
} h5src;

void an_h5_quiet_on(an_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void an_h5_quiet_off(const an_h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

void an_h5_version(char *buf, size_t size)
{
    unsigned a = 0, b = 0, c = 0;

    H5get_libversion(&a, &b, &c);
    snprintf(buf, size, "HDF5 %u.%u.%u", a, b, c);
}

/* ------------------------------------------------------------- attributes */

/* Any scalar attribute as text (strings as they are, numbers exactly); NULL when it is
 * neither, holds more than one value, or memory runs out. */
static char *attr_text(hid_t obj, const char *name)
{
    hid_t a = -1, t = -1;
    H5T_class_t cls = H5T_NO_CLASS;
    char buf[64];
    double d;
    long long i;
    unsigned long long u;

    /* Each read below has room for one value: an array would overflow it. */
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) >= 0 && ex_h5_attr_single(a) &&
        (t = H5Aget_type(a)) >= 0)
        cls = H5Tget_class(t);
    buf[0] = '\0';
    if (cls == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE &&
        H5Aread(a, H5T_NATIVE_ULLONG, &u) >= 0)
        snprintf(buf, sizeof buf, "%llu", u);
    else if (cls == H5T_INTEGER && H5Aread(a, H5T_NATIVE_LLONG, &i) >= 0)
        snprintf(buf, sizeof buf, "%lld", i);
    else if (cls == H5T_FLOAT && H5Aread(a, H5T_NATIVE_DOUBLE, &d) >= 0)
        an_fmt_exact(d, buf, sizeof buf);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    if (cls == H5T_STRING)
        return ex_h5_attr_str(obj, name);
    return buf[0] ? dup_str(buf) : NULL;
}

/* ------------------------------------------------------------------ names */

void an_names_fini(an_names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

void an_names_push(an_names *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **g = realloc(l->s, cap * sizeof *g);
        if (!g) {
            l->nomem = 1;
            return;
        }
        l->s = g;
        l->cap = cap;
    }
    if (!(l->s[l->n] = dup_str(name)))
        l->nomem = 1;
    else
        l->n++;
}

/* H5Literate's callback takes H5L_info2_t from HDF5 1.12 on. */
#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t link_info;
#else
typedef H5L_info_t link_info;
#endif

static herr_t on_link(hid_t g, const char *name, const link_info *info, void *ctx)
{
    (void)g;
    (void)info;
    an_names_push(ctx, name);
    return 0;
}

static herr_t on_attr(hid_t obj, const char *name, const H5A_info_t *info, void *ctx)
{
    (void)obj;
    (void)info;
    an_names_push(ctx, name);
    return 0;
}

int an_h5_list_links(hid_t f, const char *path, an_names *out)
{
    hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (g < 0)
        return -1;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, on_link, out) >= 0 && !out->nomem)
        rc = 0;
    H5Gclose(g);
    return rc;
}

/* ---------------------------------------------------------------- datasets */

/* Read elements [first, first + count) of the 1-D dataset d as mtype into buf. */
static int ds_read_range(hid_t d, hid_t mtype, hsize_t first, hsize_t count, void *buf)
{
    hid_t fs = -1, ms = -1;
    int rc = -1;

    if (count == 0)
        return 0;
    if ((fs = H5Dget_space(d)) >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &first, NULL, &count, NULL) >= 0 &&
        (ms = H5Screate_simple(1, &count, NULL)) >= 0 &&
        H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return rc;
}

/* Read the whole 1-D dataset at path (n elements) as mtype into a malloc'ed array. */
static void *ds_read_all(hid_t f, const char *path, hid_t mtype, size_t n)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    size_t size = H5Tget_size(mtype);
    void *buf = malloc(n ? n * size : 1);

    if (d < 0 || !buf || ds_read_range(d, mtype, 0, n, buf) != 0) {
        free(buf);
        buf = NULL;
    }
    if (d >= 0)
        H5Dclose(d);
    return buf;
}

/* Read the 1-D dataset of strings at path into n malloc'ed copies. -1 on failure. */
static int ds_read_strs(hid_t f, const char *path, size_t *n, char ***out)
{
    hid_t d = -1, t = -1, ft = -1;
    long long len = ex_h5_ds_length(f, path);
    char **raw = NULL, **copy = NULL;
    int rc = -1;

    *n = 0;
    *out = NULL;
    if (len < 0 || (d = H5Dopen2(f, path, H5P_DEFAULT)) < 0 || (ft = H5Dget_type(d)) < 0 ||
        H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0)
        goto done;
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5Tget_cset(ft));
    if (!(raw = calloc(len ? (size_t)len : 1, sizeof *raw)) ||
        !(copy = calloc(len ? (size_t)len : 1, sizeof *copy)))
        goto done;
    if (ds_read_range(d, t, 0, (hsize_t)len, raw) != 0)
        goto done;
    rc = 0;
    for (long long i = 0; i < len; i++) {
        if (!(copy[i] = dup_str(raw[i] ? raw[i] : "")))
            rc = -1;
        if (raw[i])
            H5free_memory(raw[i]);
    }
    if (rc == 0) {
        *n = (size_t)len;
        *out = copy;
        copy = NULL;
    }
done:
    if (copy)
        for (long long i = 0; i < len; i++)
            free(copy[i]);
    free(copy);
    free(raw);
    if (t >= 0)
        H5Tclose(t);
    if (ft >= 0)
        H5Tclose(ft);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* ------------------------------------------------------------------ columns */

static const char *group_path(an_group g)
{
    return g == AN_G_PARAM ? "params" : g == AN_G_METRIC ? "metrics" : "points";
}

/* The table's source: read column col from its dataset. */
static int load_col(void *ctx, an_table *t, int col, st_err *err)
{
    h5src *s = ctx;
    an_col *c = &t->col[col];
    char path[320];
    an_h5_quiet q;
    int rc = ST_OK;

    an_h5_quiet_on(&q);
    snprintf(path, sizeof path, "/%s/%s", group_path(c->group), c->name);
    if (!(c->v = ds_read_all(s->f, path, H5T_NATIVE_DOUBLE, t->n)) ||
        ((c->type == AN_T_U64 || c->type == AN_T_ID) &&
         !(c->u = ds_read_all(s->f, path, H5T_NATIVE_UINT64, t->n)))) {
        free(c->v);
        c->v = NULL;
        rc = st_err_set(err, ST_EFORMAT, "%s: cannot read %s (a damaged file?)", t->path, path);
    }
    an_h5_quiet_off(&q);
    return rc;
}

static void close_src(void *ctx)
{
    h5src *s = ctx;
    an_h5_quiet q;

    an_h5_quiet_on(&q);
    if (s->f >= 0)
        H5Fclose(s->f);
    an_h5_quiet_off(&q);
    free(s);
}

/* Add the column of the dataset group/name with its attributes; ST_EFORMAT when it is not
 * a numeric column of n rows. */
static int add_dataset(an_table *t, hid_t f, an_group group, const char *name, st_err *err)
{
    char path[320], *unit = NULL, *help = NULL, *type = NULL, *range = NULL, *role = NULL;
    hid_t d = -1, ft = -1;
    H5T_class_t cls = H5T_NO_CLASS;
    an_type at = AN_T_REAL;
    int col, rc = ST_OK;

    snprintf(path, sizeof path, "/%s/%s", group_path(group), name);
    if (ex_h5_ds_length(f, path) != (long long)t->n || (d = H5Dopen2(f, path, H5P_DEFAULT)) < 0 ||
        (ft = H5Dget_type(d)) < 0 ||
        ((cls = H5Tget_class(ft)) != H5T_INTEGER && cls != H5T_FLOAT)) {
        rc = st_err_set(err, ST_EFORMAT,
                        "%s: %s is not a numeric column of %zu rows (a damaged file?)", t->path,
                        path, t->n);
        goto done;
    }
    unit = ex_h5_attr_str(d, "unit");
    help = ex_h5_attr_str(d, "help");
    type = ex_h5_attr_str(d, "type");
    range = ex_h5_attr_str(d, "range");
    role = ex_h5_attr_str(d, "role");
    if (cls == H5T_FLOAT && group == AN_G_METRIC && type && !strcmp(type, "int"))
        at = AN_T_INT; /* a count, stored as a double for the NaN of failed points */
    else if (cls == H5T_FLOAT)
        at = AN_T_REAL;
    else if (group == AN_G_PARAM && type && !strcmp(type, "bool"))
        at = AN_T_BOOL;
    else if (group == AN_G_PARAM && type && !strcmp(type, "enum") && range)
        at = AN_T_ENUM;
    else if (H5Tget_sign(ft) == H5T_SGN_NONE && H5Tget_size(ft) == 8)
        at = AN_T_U64;
    else
        at = AN_T_INT;
    if ((rc = an_table_add(t, name, unit ? unit : "", group, at, &col, err)) != ST_OK)
        goto done;
    if (at == AN_T_ENUM && (rc = an_table_set_choices(t, col, range, err)) != ST_OK)
        goto done;
    if (help) {
        free(t->col[col].help);
        t->col[col].help = help;
        help = NULL;
    }
    if (role) {
        free(t->col[col].role);
        t->col[col].role = role;
        role = NULL;
    }
done:
    free(unit);
    free(help);
    free(type);
    free(range);
    free(role);
    if (ft >= 0)
        H5Tclose(ft);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* The columns of the point axis: row, id, index, status, then /params and /metrics. */
static int add_columns(an_table *t, hid_t f, st_err *err)
{
    static const an_group groups[] = {AN_G_PARAM, AN_G_METRIC};
    an_names l = {0};
    int col, rc;
    an_col *c;

    if ((rc = an_table_add(t, "row", "", AN_G_COMPUTED, AN_T_INT, &col, err)) != ST_OK)
        return rc;
    c = &t->col[col];
    if (!(c->v = malloc(t->n ? t->n * sizeof *c->v : 1)))
        return st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
    for (size_t i = 0; i < t->n; i++)
        c->v[i] = (double)i;
    if ((rc = an_table_add(t, "id", "", AN_G_POINT, AN_T_ID, &col, err)) != ST_OK ||
        (rc = an_table_add(t, "index", "", AN_G_POINT, AN_T_U64, &col, err)) != ST_OK ||
        (rc = an_table_add(t, "status", "", AN_G_POINT, AN_T_ENUM, &t->status_col, err)) != ST_OK ||
        (rc = an_table_set_choices(t, t->status_col, "ok, failed, rejected", err)) != ST_OK)
        return rc;
    for (size_t g = 0; g < 2; g++) {
        if (an_h5_list_links(f, group_path(groups[g]), &l) != 0) {
            an_names_fini(&l);
            return st_err_set(err, ST_EFORMAT, "%s: cannot read the group /%s (a damaged file?)",
                              t->path, group_path(groups[g]));
        }
        for (size_t i = 0; i < l.n && rc == ST_OK; i++)
            rc = add_dataset(t, f, groups[g], l.s[i], err);
        an_names_fini(&l);
        if (rc != ST_OK)
            return rc;
    }
    return ST_OK;
}

/* The three datasets of /points must be integer columns of n rows: they are read later,
 * on demand, into room for n values. */
static int check_point_axis(an_table *t, hid_t f, st_err *err)
{
    static const char *const paths[] = {"/points/id", "/points/index", "/points/status"};
    int rc = ST_OK;

    for (size_t k = 0; k < 3 && rc == ST_OK; k++) {
        hid_t d = -1, ft = -1;
        if (ex_h5_ds_length(f, paths[k]) != (long long)t->n ||
            (d = H5Dopen2(f, paths[k], H5P_DEFAULT)) < 0 || (ft = H5Dget_type(d)) < 0 ||
            H5Tget_class(ft) != H5T_INTEGER)
            rc = st_err_set(err, ST_EFORMAT,
                            "%s: %s is not an integer column of %zu rows (a damaged file?)",
                            t->path, paths[k], t->n);
        if (ft >= 0)
            H5Tclose(ft);
        if (d >= 0)
            H5Dclose(d);
    }
    return rc;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every point once, with a status the file format knows: a file with an id twice (a
 * journal replayed twice, files spliced together) would count points twice in every
 * front, rank and hypervolume. */
static int check_points(an_table *t, st_err *err)
{
    int idc = an_table_find(t, "id"), rc;
    const an_col *ids, *sts;
    uint64_t *sorted = NULL, dup = 0;
    size_t first = 0, second = 0;
    int found = 0;

    if ((rc = an_table_load_col(t, idc, err)) != ST_OK ||
        (rc = an_table_load_col(t, t->status_col, err)) != ST_OK)
        return rc;
    ids = &t->col[idc];
    sts = &t->col[t->status_col];
    for (size_t i = 0; i < t->n; i++)
        if (sts->v[i] != 0 && sts->v[i] != 1 && sts->v[i] != 2)
            return st_err_set(err, ST_EFORMAT,
                              "%s: /points/status is %.17g at row %zu: must be 0 (ok), 1 "
                              "(failed) or 2 (rejected) (a damaged file?)",
                              t->path, sts->v[i], i);
    if (t->n < 2)
        return ST_OK;
    if (!(sorted = malloc(t->n * sizeof *sorted)))
        return st_err_set(err, ST_ENOMEM, "%s: out of memory to check the ids of %zu points",
                          t->path, t->n);
    memcpy(sorted, ids->u, t->n * sizeof *sorted);
    qsort(sorted, t->n, sizeof *sorted, u64_cmp);
    for (size_t i = 1; i < t->n && !found; i++)
        if (sorted[i] == sorted[i - 1]) {
            dup = sorted[i];
            found = 1;
        }
    free(sorted);
    if (!found)
        return ST_OK;
    for (size_t i = 0, seen = 0; i < t->n && seen < 2; i++)
        if (ids->u[i] == dup) {
            if (seen++ == 0)
                first = i;
            else
                second = i;
        }
    return st_err_set(err, ST_EFORMAT,
                      "%s: the point id %016llx is at rows %zu and %zu: a result file holds "
                      "every point once (a damaged or spliced file?)",
                      t->path, (unsigned long long)dup, first, second);
}

/* -------------------------------------------------------- the rest of the file */

static int read_provenance(an_table *t, hid_t f, st_err *err)
{
    hid_t g = H5Gopen2(f, "provenance", H5P_DEFAULT);
    an_names l = {0};
    int rc = ST_OK;

    if (g < 0)
        return ST_OK; /* provenance is for people; a file without it still has its points */
    if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, on_attr, &l) < 0 || l.nomem ||
        !(t->prov = calloc(l.n ? l.n : 1, sizeof *t->prov))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for the provenance", t->path);
        goto done;
    }
    for (size_t i = 0; i < l.n; i++) {
        char *v = attr_text(g, l.s[i]);
        if (!v)
            continue;
        t->prov[t->nprov].key = l.s[i];
        t->prov[t->nprov].value = v;
        l.s[i] = NULL;
        t->nprov++;
    }
done:
    an_names_fini(&l);
    H5Gclose(g);
    return rc;
}

static int read_failures(an_table *t, hid_t f, st_err *err)
{
    long long n = ex_h5_ds_length(f, "/failures/row");
    size_t nmsg = 0;

    if (n <= 0)
        return ST_OK;
    t->fail_row = ds_read_all(f, "/failures/row", H5T_NATIVE_UINT64, (size_t)n);
    if (!t->fail_row || ds_read_strs(f, "/failures/message", &nmsg, &t->fail_msg) != 0 ||
        nmsg != (size_t)n) {
        free(t->fail_row);
        t->fail_row = NULL;
        for (size_t i = 0; t->fail_msg && i < nmsg; i++)
            free(t->fail_msg[i]);
        free(t->fail_msg);
        t->fail_msg = NULL;
        return st_err_set(err, ST_EFORMAT, "%s: cannot read /failures (a damaged file?)", t->path);
    }
    t->nfail = nmsg;
    for (size_t i = 0; i < nmsg; i++)
        if (t->fail_row[i] >= t->n)
            return st_err_set(err, ST_EFORMAT,
                              "%s: /failures/row holds row %llu; the file has %zu points (a "
                              "damaged file?)",
                              t->path, (unsigned long long)t->fail_row[i], t->n);
    return ST_OK;
}

typedef struct fail_ref {
    const char *msg;
    uint64_t row;
} fail_ref;

static int fail_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const fail_ref *)a)->msg, ((const fail_ref *)b)->msg);
}

/* The column "message": the message of each failed point (its choices are the distinct
 * messages), NaN for the points that did not fail; list, export and --where read it as
 * any column. Loaded here, from /failures. */
static int message_column(an_table *t, st_err *err)
{
    fail_ref *ref = NULL;
    const char **uniq = NULL;
    size_t nd = 0;
    double *v = NULL;
    int col, rc = ST_OK;

    if (t->nfail == 0 || t->nfail > INT_MAX)
        return ST_OK;
    ref = malloc(t->nfail * sizeof *ref);
    uniq = malloc(t->nfail * sizeof *uniq);
    v = malloc((t->n ? t->n : 1) * sizeof *v);
    if (!ref || !uniq || !v) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for the failure messages", t->path);
        goto done;
    }
    for (size_t i = 0; i < t->n; i++)
        v[i] = NAN;
    for (size_t i = 0; i < t->nfail; i++) {
        ref[i].msg = t->fail_msg[i];
        ref[i].row = t->fail_row[i];
    }
    qsort(ref, t->nfail, sizeof *ref, fail_ref_cmp);
    for (size_t k = 0; k < t->nfail; k++) {
        if (nd == 0 || strcmp(uniq[nd - 1], ref[k].msg) != 0)
            uniq[nd++] = ref[k].msg;
        v[ref[k].row] = (double)(nd - 1);
    }
    if ((rc = an_table_add(t, "message", "", AN_G_POINT, AN_T_ENUM, &col, err)) != ST_OK ||
        (rc = an_table_set_choice_list(t, col, uniq, (int)nd, err)) != ST_OK)
        goto done;
    free(t->col[col].help);
    t->col[col].help = NULL;
    if (!(t->col[col].help = strdup("why the point failed (failed points only)"))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
        goto done;
    }
    t->col[col].v = v;
    v = NULL;
done:
    free(ref);
    free(uniq);
    free(v);
    return rc;
}

static int read_network(an_table *t, hid_t f, st_err *err)
{
    hid_t g = H5Gopen2(f, "network", H5P_DEFAULT);
    size_t nn = 0, nk = 0;
    int rc = ST_OK;

    if (g < 0)
        return ST_OK;
    t->net_name = ex_h5_attr_str(g, "name");
    t->net_source = ex_h5_attr_str(g, "source");
    if (ds_read_strs(f, "/network/layer_name", &nn, &t->layer_name) != 0 ||
        ds_read_strs(f, "/network/layer_kind", &nk, &t->layer_kind) != 0 || nn != nk) {
        rc = st_err_set(err, ST_EFORMAT, "%s: cannot read /network (a damaged file?)", t->path);
        for (size_t i = 0; t->layer_kind && i < nk; i++)
            free(t->layer_kind[i]);
        free(t->layer_kind);
        t->layer_kind = NULL;
        for (size_t i = 0; t->layer_name && i < nn; i++)
            free(t->layer_name[i]);
        free(t->layer_name);
        t->layer_name = NULL;
    } else
        t->nlayer = (int)nn;
    H5Gclose(g);
    return rc;
}

/* Is path a file that HDF5 recognises? */
static int is_hdf5(const char *path)
{
#if H5_VERSION_GE(1, 12, 0)
    return H5Fis_accessible(path, H5P_DEFAULT) > 0;
#else
    return H5Fis_hdf5(path) > 0;
#endif
}

int an_h5_load(const char *path, an_table **out, st_err *err)
{
    an_table *t = NULL;
    h5src *src = NULL;
    hid_t f = -1, fapl = -1;
    char *format = NULL;
    struct stat sb;
    uint64_t points = 0;
    long long n;
    int version = 0, rc = ST_OK;
    an_h5_quiet q;

    *out = NULL;
    an_h5_quiet_on(&q);
    if (stat(path, &sb) != 0) {
        rc = st_err_set(err, ST_EINVAL, "%s: %s", path,
                        errno == ENOENT ? "no such file" : strerror(errno));
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        rc = st_err_set(err, ST_EINVAL, "%s is a directory, not a result file", path);
        goto done;
    }
    if (access(path, R_OK) != 0) {
        rc = st_err_set(err, ST_EINVAL, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    if (!is_hdf5(path)) {
        rc = st_err_set(err, ST_EFORMAT,
                        "%s is not an HDF5 file (stexplore writes its results in HDF5)", path);
        goto done;
    }
    /* Results are replaced by atomic renames, never changed in place, so reading needs no
     * lock; shared file systems often refuse them. HDF5_USE_FILE_LOCKING still decides. */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (!getenv("HDF5_USE_FILE_LOCKING"))
        H5Pset_file_locking(fapl, 0, 1);
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s: HDF5 cannot open it (a damaged file?)", path);
        goto done;
    }
    format = ex_h5_attr_str(f, "format");
    if (!format || strcmp(format, FORMAT_NAME) != 0) {
        rc = st_err_set(err, ST_EFORMAT,
                        "%s is an HDF5 file but not a stexplore result file (it has no "
                        "attribute format = '%s')",
                        path, FORMAT_NAME);
        goto done;
    }
    if (ex_h5_attr_num(f, "format_version", H5T_NATIVE_INT, &version) != 0) {
        rc = st_err_set(err, ST_EFORMAT,
                        "%s: the attribute format_version is missing or not a single number (a "
                        "damaged file?)",
                        path);
        goto done;
    }
    if (version != FORMAT_VERSION) {
        rc = st_err_set(err, ST_EFORMAT, "%s: result format version %d; stquery reads version %d",
                        path, version, FORMAT_VERSION);
        goto done;
    }
    n = ex_h5_ds_length(f, "/points/status");
    if (ex_h5_attr_num(f, "points", H5T_NATIVE_UINT64, &points) != 0 || n < 0 ||
        (uint64_t)n != points) {
        rc = st_err_set(err, ST_EFORMAT,
                        "%s: the attribute points and /points/status disagree (a damaged file?)",
                        path);
        goto done;
    }
    if ((rc = an_table_create(path, (size_t)n, &t, err)) != ST_OK)
        goto done;
    free(t->name);
    t->name = ex_h5_attr_str(f, "name");
    if (!t->name && !(t->name = dup_str(""))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    ex_h5_attr_num(f, "complete", H5T_NATIVE_INT, &t->complete);
    ex_h5_attr_num(f, "candidates", H5T_NATIVE_UINT64, &t->candidates);
    ex_h5_attr_num(f, "excluded", H5T_NATIVE_UINT64, &t->excluded);
    ex_h5_attr_num(f, "duplicates", H5T_NATIVE_UINT64, &t->duplicates);
    ex_h5_attr_num(f, "failed", H5T_NATIVE_UINT64, &t->failed);
    ex_h5_attr_num(f, "rejected", H5T_NATIVE_UINT64, &t->rejected);
    if ((rc = check_point_axis(t, f, err)) != ST_OK || (rc = add_columns(t, f, err)) != ST_OK ||
        (rc = read_provenance(t, f, err)) != ST_OK || (rc = read_failures(t, f, err)) != ST_OK ||
        (rc = message_column(t, err)) != ST_OK || (rc = read_network(t, f, err)) != ST_OK)
        goto done;
    t->has_detail = H5Lexists(f, "detail", H5P_DEFAULT) > 0;
    if (!(src = malloc(sizeof *src))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    src->f = f;
    f = -1;
    t->src.ctx = src;
    t->src.load = load_col;
    t->src.close = close_src;
    src = NULL;
    if ((rc = check_points(t, err)) != ST_OK)
        goto done;
    *out = t;
    t = NULL;
done:
    free(format);
    free(src);
    an_table_destroy(&t);
    if (f >= 0)
        H5Fclose(f);
    if (fapl >= 0)
        H5Pclose(fapl);
    an_h5_quiet_off(&q);
    return rc;
}

/* ------------------------------------------------------------------- detail */

void an_detail_fini(an_detail *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->nfield; i++) {
        if (d->field)
            free(d->field[i]);
        if (d->unit)
            free(d->unit[i]);
    }
    free(d->field);
    free(d->unit);
    free(d->layer);
    free(d->v);
    memset(d, 0, sizeof *d);
}

int an_detail_field(const an_detail *d, const char *name)
{
    for (int i = 0; i < d->nfield; i++)
        if (!strcmp(d->field[i], name))
            return i;
    return -1;
}

/* The first position in [0, m) of the sorted dataset d whose value is above row (after
 * is 1) or not below it (after is 0): a binary search reading one element at a time.
 * -1 on a read failure. */
static long long search_row(hid_t d, hsize_t m, uint64_t row, int after)
{
    hsize_t lo = 0, hi = m;
    uint64_t v;

    while (lo < hi) {
        hsize_t mid = lo + (hi - lo) / 2;
        if (ds_read_range(d, H5T_NATIVE_UINT64, mid, 1, &v) != 0)
            return -1;
        if (after ? v <= row : v < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long long)lo;
}

/* What to say about a point without detail rows. */
static int no_detail(an_table *t, size_t row, st_err *err)
{
    for (size_t i = 0; i < t->nfail; i++)
        if (t->fail_row[i] == row)
            return st_err_set(err, ST_EINVAL, "%s: row %zu failed and has no detail (%s)", t->path,
                              row, t->fail_msg[i]);
    return st_err_set(err, ST_EINVAL, "%s: row %zu has no per-layer detail", t->path, row);
}

int an_h5_detail(an_table *t, size_t row, an_detail *d, st_err *err)
{
    h5src *s = t->src.ctx;
    hid_t dr = -1, dd = -1;
    an_names l = {0};
    long long m, lo = 0, hi = 0;
    int32_t *layer = NULL, *phase = NULL;
    double *buf = NULL;
    size_t cnt = 0;
    int rc = ST_OK, nf = 0;
    an_h5_quiet q;

    memset(d, 0, sizeof *d);
    an_h5_quiet_on(&q);
    if (t->src.load != load_col) {
        rc = st_err_set(err, ST_EINVAL, "%s: not a result file: no per-layer detail", t->path);
        goto done;
    }
    if (!t->has_detail) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s has no per-layer detail: its sweep did not set detail = true "
                        "(lua_scripts/pruning.lua shows how)",
                        t->path);
        goto done;
    }
    if (row >= t->n) {
        rc = st_err_set(err, ST_EINVAL, "row %zu: %s has rows 0 to %zu", row, t->path,
                        t->n ? t->n - 1 : 0);
        goto done;
    }
    m = ex_h5_ds_length(s->f, "/detail/row");
    if (m < 0 || (dr = H5Dopen2(s->f, "/detail/row", H5P_DEFAULT)) < 0 ||
        (lo = search_row(dr, (hsize_t)m, row, 0)) < 0 ||
        (hi = search_row(dr, (hsize_t)m, row, 1)) < 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s: cannot read /detail/row (a damaged file?)", t->path);
        goto done;
    }
    if (lo == hi) {
        rc = no_detail(t, row, err);
        goto done;
    }
    if (an_h5_list_links(s->f, "detail", &l) != 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s: cannot read /detail (a damaged file?)", t->path);
        goto done;
    }
    cnt = (size_t)(hi - lo);
    layer = malloc(cnt * sizeof *layer);
    phase = malloc(cnt * sizeof *phase);
    buf = malloc(cnt * sizeof *buf);
    d->field = calloc(l.n ? l.n : 1, sizeof *d->field);
    d->unit = calloc(l.n ? l.n : 1, sizeof *d->unit);
    d->layer = malloc(cnt * sizeof *d->layer);
    if (!layer || !phase || !buf || !d->field || !d->unit || !d->layer) {
        rc =
            st_err_set(err, ST_ENOMEM, "%s: out of memory for the detail of row %zu", t->path, row);
        goto done;
    }
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.s[i], "row") && strcmp(l.s[i], "layer") && strcmp(l.s[i], "phase"))
            nf++;
    if ((dd = H5Dopen2(s->f, "/detail/layer", H5P_DEFAULT)) < 0 ||
        ds_read_range(dd, H5T_NATIVE_INT32, (hsize_t)lo, cnt, layer) != 0 || H5Dclose(dd) < 0 ||
        (dd = H5Dopen2(s->f, "/detail/phase", H5P_DEFAULT)) < 0 ||
        ds_read_range(dd, H5T_NATIVE_INT32, (hsize_t)lo, cnt, phase) != 0 || H5Dclose(dd) < 0) {
        dd = -1;
        rc = st_err_set(err, ST_EFORMAT, "%s: cannot read /detail (a damaged file?)", t->path);
        goto done;
    }
    dd = -1;
    /* The layers that have rows, in network order (rows come in that order already, but
     * nothing depends on it). */
    for (size_t i = 0; i < cnt; i++) {
        int seen = 0;
        if (layer[i] < 0 || layer[i] >= t->nlayer || phase[i] < 0 || phase[i] >= AN_PHASES) {
            rc = st_err_set(err, ST_EFORMAT, "%s: /detail row %lld: layer %d phase %d out of range",
                            t->path, lo + (long long)i, (int)layer[i], (int)phase[i]);
            goto done;
        }
        for (int j = 0; j < d->nlayer && !seen; j++)
            seen = d->layer[j] == layer[i];
        if (!seen) {
            int j = d->nlayer++;
            while (j > 0 && d->layer[j - 1] > layer[i]) {
                d->layer[j] = d->layer[j - 1];
                j--;
            }
            d->layer[j] = layer[i];
        }
    }
    if (!(d->v = malloc((size_t)d->nlayer * AN_PHASES * (size_t)(nf ? nf : 1) * sizeof *d->v))) {
        rc =
            st_err_set(err, ST_ENOMEM, "%s: out of memory for the detail of row %zu", t->path, row);
        goto done;
    }
    for (size_t i = 0; i < (size_t)d->nlayer * AN_PHASES * (size_t)nf; i++)
        d->v[i] = NAN;
    for (size_t i = 0; i < l.n; i++) {
        char path[320];
        int f = d->nfield, li = 0;
        if (!strcmp(l.s[i], "row") || !strcmp(l.s[i], "layer") || !strcmp(l.s[i], "phase"))
            continue;
        snprintf(path, sizeof path, "/detail/%s", l.s[i]);
        if ((dd = H5Dopen2(s->f, path, H5P_DEFAULT)) < 0 ||
            ds_read_range(dd, H5T_NATIVE_DOUBLE, (hsize_t)lo, cnt, buf) != 0) {
            rc = st_err_set(err, ST_EFORMAT, "%s: cannot read %s (a damaged file?)", t->path, path);
            goto done;
        }
        d->unit[f] = ex_h5_attr_str(dd, "unit");
        H5Dclose(dd);
        dd = -1;
        d->field[f] = l.s[i];
        l.s[i] = NULL;
        d->nfield++;
        if (!d->unit[f] && !(d->unit[f] = dup_str(""))) {
            rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", t->path);
            goto done;
        }
        for (size_t r = 0; r < cnt; r++) {
            for (li = 0; d->layer[li] != layer[r]; li++)
                ;
            d->v[((size_t)li * AN_PHASES + (size_t)phase[r]) * (size_t)nf + (size_t)f] = buf[r];
        }
    }
done:
    if (dd >= 0)
        H5Dclose(dd);
    if (dr >= 0)
        H5Dclose(dr);
    an_names_fini(&l);
    free(layer);
    free(phase);
    free(buf);
    if (rc != ST_OK)
        an_detail_fini(d);
    an_h5_quiet_off(&q);
    return rc;
}
