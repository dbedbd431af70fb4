/*
 * ex_reuse.c - points already evaluated in another result file (stexplore --reuse): the
 * file read once (ids, statuses, parameters, metrics, failure messages, detail), and a
 * point's record filled from it by id instead of being evaluated. What makes a file
 * usable (same network, evaluation and columns) is checked here; when to reuse is
 * ex_run.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "ex.h"
#include "ex_h5attr.h"

/* An id and its row in the file. */
typedef struct idrow {
    uint64_t id;
    size_t row;
} idrow;

struct ex_reuse {
    char *path;
    size_t n;
    int nparam, nmetric, detail;
    idrow *ids;   /* sorted by id */
    uint64_t *id; /* by row, as the rest */
    int32_t *status;
    double *vals;    /* n * nparam */
    ex_num *metrics; /* n * nmetric */
    char **msg;
    size_t *det_first; /* n + 1: the detail rows of row r are det[det_first[r] ..) */
    ex_detail *det;
    uint64_t other; /* ids found with other parameter values */
};

void ex_reuse_destroy(ex_reuse **rp)
{
    ex_reuse *r = rp ? *rp : NULL;

    if (!r)
        return;
    for (size_t i = 0; r->msg && i < r->n; i++)
        free(r->msg[i]);
    free(r->msg);
    free(r->path);
    free(r->id);
    free(r->ids);
    free(r->status);
    free(r->vals);
    free(r->metrics);
    free(r->det_first);
    free(r->det);
    free(r);
    *rp = NULL;
}

/* Read the 1-D dataset at path, n elements, as mtype into buf with the given stride
 * (elements of buf between two values; 1 for a plain array). -1 on failure. */
static int read_col(hid_t f, const char *path, hid_t mtype, size_t n, void *buf, size_t stride)
{
    hid_t d = -1, ms = -1;
    hsize_t count = n, mdim = n * stride, start = 0, step = stride;
    int rc = -1;

    if (ex_h5_ds_length(f, path) != (long long)n)
        return -1;
    if (n == 0)
        return 0;
    if ((d = H5Dopen2(f, path, H5P_DEFAULT)) >= 0 && (ms = H5Screate_simple(1, &mdim, NULL)) >= 0 &&
        H5Sselect_hyperslab(ms, H5S_SELECT_SET, &start, &step, &count, NULL) >= 0 &&
        H5Dread(d, mtype, ms, H5S_ALL, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* The line of text that starts with key ("eval: "), as a length, or 0. */
static size_t line_of(const char *text, const char *key, const char **at)
{
    const char *p = text;

    while (p && *p) {
        if (!strncmp(p, key, strlen(key))) {
            *at = p;
            return strcspn(p, "\n");
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const idrow *)a)->id, y = ((const idrow *)b)->id;
    return x < y ? -1 : x > y;
}

static int read_detail(ex_reuse *r, hid_t f, st_err *err)
{
    const ex_metric *dt = ex_detail_fields();
    long long nd = ex_h5_ds_length(f, "/detail/row");
    uint64_t *row = NULL;
    int32_t *lay = NULL, *ph = NULL;
    size_t *fill = NULL;
    char path[128];
    int rc = ST_OK;

    if (nd < 0)
        return st_err_set(err, ST_EINVAL,
                          "--reuse %s: the file has no per-layer detail, which this sweep "
                          "records (detail = true): its points cannot stand for evaluated ones",
                          r->path);
    row = malloc((size_t)nd * sizeof *row + 1);
    lay = malloc((size_t)nd * sizeof *lay + 1);
    ph = malloc((size_t)nd * sizeof *ph + 1);
    fill = calloc(r->n + 1, sizeof *fill);
    r->det_first = calloc(r->n + 2, sizeof *r->det_first);
    r->det = calloc((size_t)nd + 1, sizeof *r->det);
    if (!row || !lay || !ph || !fill || !r->det_first || !r->det) {
        rc = st_err_set(err, ST_ENOMEM, "--reuse %s: out of memory", r->path);
        goto done;
    }
    if (read_col(f, "/detail/row", H5T_NATIVE_UINT64, (size_t)nd, row, 1) != 0 ||
        read_col(f, "/detail/layer", H5T_NATIVE_INT32, (size_t)nd, lay, 1) != 0 ||
        read_col(f, "/detail/phase", H5T_NATIVE_INT32, (size_t)nd, ph, 1) != 0)
        goto bad;
    for (long long i = 0; i < nd; i++) {
        if (row[i] >= r->n)
            goto bad;
        r->det_first[row[i] + 1]++;
    }
    for (size_t k = 0; k < r->n; k++)
        r->det_first[k + 1] += r->det_first[k];
    /* The fields land in a temporary array of one field, then in place. */
    for (int k = 0; k < EX_D_COUNT; k++) {
        ex_num *v = malloc((size_t)nd * sizeof *v + 1);
        snprintf(path, sizeof path, "/detail/%s", dt[k].name);
        if (!v) {
            rc = st_err_set(err, ST_ENOMEM, "--reuse %s: out of memory", r->path);
            goto done;
        }
        if (read_col(f, path, dt[k].type == EX_U64 ? H5T_NATIVE_UINT64 : H5T_NATIVE_DOUBLE,
                     (size_t)nd, v, 1) != 0) {
            free(v);
            goto bad;
        }
        memset(fill, 0, (r->n + 1) * sizeof *fill);
        for (long long i = 0; i < nd; i++) {
            ex_detail *x = &r->det[r->det_first[row[i]] + fill[row[i]]++];
            x->layer = lay[i];
            x->phase = ph[i];
            x->v[k] = v[i];
        }
        free(v);
    }
    r->detail = 1;
    goto done;
bad:
    rc = st_err_set(err, ST_EINVAL, "--reuse %s: cannot read its /detail (a damaged file?)",
                    r->path);
done:
    free(row);
    free(lay);
    free(ph);
    free(fill);
    return rc;
}

/* Does the result file f hold the networks of nets, in their order (by fingerprint)? Its
 * /network group lists them as net_<i> (or, in a file of one network written before that,
 * has the fingerprint itself). The first fingerprint that differs into fp_file, fp_ours. */
static int same_networks(hid_t f, const ex_nets *nets, char *fp_file, char *fp_ours, size_t n)
{
    hid_t g = H5Gopen2(f, "network", H5P_DEFAULT);
    int ok = g >= 0, count = 1;

    snprintf(fp_file, n, "none");
    snprintf(fp_ours, n, "%016llx", nets->n ? (unsigned long long)nets->fp[0] : 0ull);
    if (ok && H5Aexists(g, "networks") > 0) {
        hid_t a = H5Aopen(g, "networks", H5P_DEFAULT);
        int v = 0;
        ok = a >= 0 && H5Aread(a, H5T_NATIVE_INT, &v) >= 0;
        if (a >= 0)
            H5Aclose(a);
        count = v;
    }
    ok = ok && count == nets->n;
    for (int k = 0; ok && k < nets->n; k++) {
        char name[32], *file_fp;
        hid_t sub;
        snprintf(name, sizeof name, "net_%d", k);
        sub = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Gopen2(g, name, H5P_DEFAULT) : -1;
        file_fp = ex_h5_attr_str(sub >= 0 ? sub : g, "fingerprint");
        if (sub >= 0)
            H5Gclose(sub);
        snprintf(fp_ours, n, "%016llx", (unsigned long long)nets->fp[k]);
        snprintf(fp_file, n, "%s", file_fp ? file_fp : "none");
        ok = file_fp && !strcmp(file_fp, fp_ours);
        free(file_fp);
    }
    if (g >= 0)
        H5Gclose(g);
    return ok;
}

int ex_reuse_load(const char *path, const ex_ptab *t, const char *space, const ex_nets *nets,
                  int detail, ex_reuse **out, st_err *err)
{
    const ex_metric *mt;
    ex_reuse *r = NULL;
    ex_h5_info info;
    hid_t f = -1, fapl = -1, g = -1;
    H5E_auto2_t old_fn;
    void *old_data;
    char fp[32], fp_file[64], pathbuf[320], *file_space = NULL;
    const char *a = NULL, *b = NULL;
    size_t la, lb;
    long long n;
    uint64_t *failrow = NULL;
    char **failmsg = NULL;
    int rc;

    *out = NULL;
    memset(&info, 0, sizeof info);
    if ((rc = ex_h5_probe(path, &info, err)) != ST_OK)
        return st_err_set(err, rc == ST_ENOMEM ? rc : ST_EINVAL, "--reuse %s", err->msg);
    ex_h5_info_fini(&info);
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!(r = calloc(1, sizeof *r)) || !(r->path = strdup(path))) {
        rc = st_err_set(err, ST_ENOMEM, "--reuse %s: out of memory", path);
        goto done;
    }
    mt = ex_metrics(&r->nmetric);
    r->nparam = t->n;
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (!getenv("HDF5_USE_FILE_LOCKING"))
        H5Pset_file_locking(fapl, 0, 1);
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        rc = st_err_set(err, ST_EINVAL, "--reuse %s: HDF5 cannot open it", path);
        goto done;
    }
    /* The same networks and the same evaluation, or the same ids mean other results. */
    if ((g = H5Gopen2(f, "provenance", H5P_DEFAULT)) >= 0)
        file_space = ex_h5_attr_str(g, "space");
    if (g >= 0)
        H5Gclose(g);
    if (!same_networks(f, nets, fp_file, fp, sizeof fp)) {
        rc = st_err_set(err, ST_EINVAL,
                        "--reuse %s: its network (fingerprint %s) is not this sweep's (%s): its "
                        "points were evaluated on another network",
                        path, fp_file, fp);
        goto done;
    }
    la = file_space ? line_of(file_space, "eval: ", &a) : 0;
    lb = line_of(space, "eval: ", &b);
    if (la != lb || (la && memcmp(a, b, la) != 0)) {
        rc = st_err_set(err, ST_EINVAL,
                        "--reuse %s: its evaluation ('%.*s') is not this sweep's ('%.*s')", path,
                        (int)la, a ? a : "", (int)lb, b ? b : "");
        goto done;
    }
    n = ex_h5_ds_length(f, "/points/id");
    if (n < 0) {
        rc = st_err_set(err, ST_EINVAL, "--reuse %s: no /points/id (a damaged file?)", path);
        goto done;
    }
    r->n = (size_t)n;
    r->id = malloc(r->n * sizeof *r->id + 1);
    r->ids = malloc(r->n * sizeof *r->ids + 1);
    r->status = malloc(r->n * sizeof *r->status + 1);
    r->vals = malloc(r->n * (size_t)r->nparam * sizeof *r->vals + 1);
    r->metrics = malloc(r->n * (size_t)r->nmetric * sizeof *r->metrics + 1);
    r->msg = calloc(r->n + 1, sizeof *r->msg);
    if (!r->id || !r->ids || !r->status || !r->vals || !r->metrics || !r->msg) {
        rc = st_err_set(err, ST_ENOMEM, "--reuse %s: out of memory for %zu points", path, r->n);
        goto done;
    }
    if (read_col(f, "/points/id", H5T_NATIVE_UINT64, r->n, r->id, 1) != 0 ||
        read_col(f, "/points/status", H5T_NATIVE_INT32, r->n, r->status, 1) != 0) {
        rc = st_err_set(err, ST_EINVAL, "--reuse %s: cannot read /points (a damaged file?)", path);
        goto done;
    }
    for (int i = 0; i < t->n; i++) {
        snprintf(pathbuf, sizeof pathbuf, "/params/%s", t->rows[i].name);
        if (read_col(f, pathbuf, H5T_NATIVE_DOUBLE, r->n, r->vals + i, (size_t)r->nparam) != 0) {
            rc = st_err_set(err, ST_EINVAL,
                            "--reuse %s: no column %s of %zu rows: written by a stexplore with "
                            "other parameters",
                            path, pathbuf, r->n);
            goto done;
        }
    }
    for (int i = 0; i < r->nmetric; i++) {
        snprintf(pathbuf, sizeof pathbuf, "/metrics/%s", mt[i].name);
        if (read_col(f, pathbuf, mt[i].type == EX_U64 ? H5T_NATIVE_UINT64 : H5T_NATIVE_DOUBLE, r->n,
                     r->metrics + i, (size_t)r->nmetric) != 0) {
            rc = st_err_set(err, ST_EINVAL,
                            "--reuse %s: no column %s of %zu rows: written by a stexplore with "
                            "other metrics",
                            path, pathbuf, r->n);
            goto done;
        }
    }
    n = ex_h5_ds_length(f, "/failures/row");
    if (n > 0) {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, H5T_VARIABLE);
        H5Tset_cset(st, H5T_CSET_UTF8);
        failrow = malloc((size_t)n * sizeof *failrow);
        failmsg = calloc((size_t)n, sizeof *failmsg);
        rc = !failrow || !failmsg ? ST_ENOMEM
             : read_col(f, "/failures/row", H5T_NATIVE_UINT64, (size_t)n, failrow, 1) != 0 ||
                     read_col(f, "/failures/message", st, (size_t)n, failmsg, 1) != 0
                 ? ST_EINVAL
                 : ST_OK;
        H5Tclose(st);
        for (long long i = 0; rc == ST_OK && i < n; i++)
            if (failrow[i] < r->n && failmsg[i] && !(r->msg[failrow[i]] = strdup(failmsg[i])))
                rc = ST_ENOMEM;
        for (long long i = 0; failmsg && i < n; i++)
            H5free_memory(failmsg[i]);
        if (rc != ST_OK) {
            rc = st_err_set(err, rc, "--reuse %s: cannot read /failures", path);
            goto done;
        }
    }
    if (detail && (rc = read_detail(r, f, err)) != ST_OK)
        goto done;
    for (size_t i = 0; i < r->n; i++) {
        r->ids[i].id = r->id[i];
        r->ids[i].row = i;
    }
    qsort(r->ids, r->n, sizeof *r->ids, by_id);
    rc = ST_OK;
done:
    free(failrow);
    free(failmsg);
    free(file_space);
    if (f >= 0)
        H5Fclose(f);
    if (fapl >= 0)
        H5Pclose(fapl);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    if (rc != ST_OK)
        ex_reuse_destroy(&r);
    *out = r;
    return rc;
}

int ex_reuse_fill(ex_reuse *r, ex_record *rec, st_err *err)
{
    size_t lo = 0, hi = r->n, row;
    const double *v;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->ids[mid].id < rec->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == r->n || r->ids[lo].id != rec->id)
        return 0;
    row = r->ids[lo].row;
    /* The id is a hash of the parameters; a point of another seed or derived value has
     * the same id and other results: evaluate it. */
    v = r->vals + row * (size_t)r->nparam;
    if (memcmp(v, rec->vals, (size_t)r->nparam * sizeof *v) != 0) {
        r->other++;
        return 0;
    }
    /* keep is the sweep's own, applied to the point again: a point the other file's keep
     * rejected is a successful one here until then. */
    rec->status = r->status[row] == EX_FAILED ? EX_FAILED : EX_OK;
    snprintf(rec->msg, sizeof rec->msg, "%s", r->msg[row] ? r->msg[row] : "");
    memcpy(rec->metrics, r->metrics + row * (size_t)r->nmetric,
           (size_t)r->nmetric * sizeof *rec->metrics);
    rec->ndetail = 0;
    rec->detail = NULL;
    if (r->detail && rec->status == EX_OK) {
        size_t a = r->det_first[row], b = r->det_first[row + 1];
        if (!(rec->detail = malloc((b - a + 1) * sizeof *rec->detail)))
            return st_err_set(err, ST_ENOMEM, "--reuse %s: out of memory", r->path);
        memcpy(rec->detail, r->det + a, (b - a) * sizeof *rec->detail);
        rec->ndetail = (int)(b - a);
    }
    return 1;
}

uint64_t ex_reuse_other(const ex_reuse *r)
{
    return r ? r->other : 0;
}
