/*
 * ex_h5.c - the HDF5 result file: written whole from the journal into a temporary file
 * that is synced and renamed over the result, so the result path always holds a complete,
 * readable file; and probed on resume. The layout is documented in results/README.md.
 * Nothing here evaluates points or decides what a file should contain.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <math.h>

#include <hdf5.h>

#include "ex.h"
#include "ex_h5attr.h"

#define FORMAT_NAME    "stexplore-result"
#define FORMAT_VERSION 1
#define BLOCK          4096 /* rows buffered per column, and the chunk length */
#define DEFLATE_LEVEL  4

/* ------------------------------------------------------------ small helpers */

static hid_t str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = str_type(), sp = H5Screate(H5S_SCALAR), a;
    int rc = -1;

    a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        const char *v = value ? value : "";
        rc = H5Awrite(a, t, &v) < 0 ? -1 : 0;
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int attr_num(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR), a;
    int rc = -1;

    a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        rc = H5Awrite(a, mtype, v) < 0 ? -1 : 0;
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}

/* The names of an enum's values, in the order of their codes, as a 1-D attribute of
 * strings: what a loader (analysis/stload.py) decodes a column of codes with. */
static int attr_labels(hid_t obj, const char *const *names)
{
    hsize_t n = 0;
    hid_t t, sp, a;
    int rc = -1;

    while (names[n])
        n++;
    t = str_type();
    sp = H5Screate_simple(1, &n, NULL);
    a = H5Acreate2(obj, "labels", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        rc = H5Awrite(a, t, names) < 0 ? -1 : 0;
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int attr_u64(hid_t obj, const char *name, uint64_t v)
{
    return attr_num(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}
static int attr_i32(hid_t obj, const char *name, int v)
{
    return attr_num(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, &v);
}
static int attr_f64(hid_t obj, const char *name, double v)
{
    return attr_num(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static hid_t fapl_make(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

    /* Shared file systems often refuse HDF5's file locks. The result is only ever written
     * to a private temporary name, so locking buys nothing: it is off unless the user
     * decides otherwise with HDF5_USE_FILE_LOCKING (which the library reads itself). */
    if (!getenv("HDF5_USE_FILE_LOCKING"))
        H5Pset_file_locking(fapl, 0, 1);
    return fapl;
}

void ex_h5_init(void)
{
    H5dont_atexit();
}

/* The system's reason for the failure HDF5 just reported, from its error stack (the file
 * driver records "error message = '...'" of the failed write); else errno. */
typedef struct reason {
    char *buf;
    size_t size;
    int found;
} reason;

static herr_t reason_walk(unsigned n, const H5E_error2_t *e, void *ctx)
{
    reason *r = ctx;
    const char *m = e->desc ? strstr(e->desc, "error message = '") : NULL;

    (void)n;
    if (m && !r->found) {
        m += strlen("error message = '");
        snprintf(r->buf, r->size, "%.*s", (int)strcspn(m, "'"), m);
        r->found = 1;
    }
    return 0;
}

static void h5_reason(int saved_errno, char *buf, size_t size)
{
    reason r = {buf, size, 0};

    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, reason_walk, &r);
    if (!r.found)
        snprintf(buf, size, "%s", saved_errno ? strerror(saved_errno) : "HDF5 gives no reason");
}

/* After a failed write: give back the space the temporary file holds (HDF5 would flush
 * its metadata into it again on close, and fail again on a full disk), then close it. */
static void abandon(hid_t f)
{
    void *handle = NULL;

    if (H5Fget_vfd_handle(f, H5P_DEFAULT, &handle) >= 0 && handle) {
        int fd = *(int *)handle;
        if (ftruncate(fd, 0) != 0) {
            /* The close below may fail then; ex_h5_init keeps that from crashing. */
        }
    }
    H5Fclose(f);
}

void ex_h5_version(char *buf, size_t size)
{
    unsigned a = 0, b = 0, c = 0;

    H5get_libversion(&a, &b, &c);
    snprintf(buf, size, "HDF5 %u.%u.%u", a, b, c);
}

/* ------------------------------------------------------------------ columns */

/* One appendable 1-D dataset and its buffer of pending rows. */
typedef struct col {
    hid_t d, mtype;
    size_t esize;
    unsigned char *buf;
    int vlen; /* strings: buf holds char pointers that the column owns */
} col;

typedef struct colset {
    int n, cap;
    col *c;
    int pending;  /* rows buffered, the same in every column of the set */
    hsize_t rows; /* rows on disk */
    int nomem;    /* an allocation failed: the set is not to be written */
} colset;

static void colset_free(colset *s)
{
    for (int i = 0; i < s->n; i++) {
        if (s->c[i].vlen)
            for (int k = 0; k < s->pending; k++)
                free(((char **)s->c[i].buf)[k]);
        free(s->c[i].buf);
        if (s->c[i].d >= 0)
            H5Dclose(s->c[i].d);
        if (s->c[i].vlen)
            H5Tclose(s->c[i].mtype);
    }
    free(s->c);
    memset(s, 0, sizeof *s);
}

/* Add a column named name under loc; its index, or -1. */
static int col_add(colset *s, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int vlen)
{
    hsize_t dim = 0, maxdim = H5S_UNLIMITED, chunk = BLOCK;
    hid_t sp = -1, dcpl = -1, dapl = -1;
    col *c;
    int idx = -1;

    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        col *g = realloc(s->c, (size_t)cap * sizeof *g);
        if (!g) {
            s->nomem = 1;
            goto done;
        }
        s->c = g;
        s->cap = cap;
    }
    c = &s->c[s->n];
    memset(c, 0, sizeof *c);
    c->d = -1;
    c->vlen = vlen;
    c->mtype = vlen ? str_type() : mtype;
    c->esize = vlen ? sizeof(char *) : H5Tget_size(mtype);
    c->buf = calloc(BLOCK, c->esize);
    s->nomem |= !c->buf;
    sp = H5Screate_simple(1, &dim, &maxdim);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    if (!vlen)
        H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, DEFLATE_LEVEL);
    /* Rows are written a whole chunk at a time, at chunk boundaries: HDF5's chunk cache
     * (1 MiB per dataset by default, 75 datasets) would only hold memory. */
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
    c->d = H5Dcreate2(loc, name, vlen ? c->mtype : ftype, sp, H5P_DEFAULT, dcpl, dapl);
    s->n++;
    if (c->d >= 0 && c->buf)
        idx = s->n - 1;
done:
    if (sp >= 0)
        H5Sclose(sp);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (dapl >= 0)
        H5Pclose(dapl);
    return idx;
}

static void col_put(colset *s, int i, const void *v)
{
    col *c = &s->c[i];

    if (c->vlen) {
        const char *src = *(const char *const *)v;
        if (!(((char **)c->buf)[s->pending] = strdup(src ? src : "")))
            s->nomem = 1;
    } else {
        memcpy(c->buf + (size_t)s->pending * c->esize, v, c->esize);
    }
}

/* Write the pending rows of every column at the end of its dataset. */
static int colset_flush(colset *s)
{
    hsize_t start = s->rows, count = (hsize_t)s->pending, size = s->rows + count;
    int rc = 0;

    if (s->pending == 0)
        return 0;
    /* A text that could not be copied would be written as an empty one: write nothing. */
    if (s->nomem)
        rc = -1;
    for (int i = 0; i < s->n && rc == 0; i++) {
        col *c = &s->c[i];
        hid_t fs = -1, ms = -1;
        if (H5Dset_extent(c->d, &size) < 0 || (fs = H5Dget_space(c->d)) < 0 ||
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
            (ms = H5Screate_simple(1, &count, NULL)) < 0 ||
            H5Dwrite(c->d, c->mtype, ms, fs, H5P_DEFAULT, c->buf) < 0)
            rc = -1;
        if (fs >= 0)
            H5Sclose(fs);
        if (ms >= 0)
            H5Sclose(ms);
    }
    for (int i = 0; i < s->n; i++)
        if (s->c[i].vlen)
            for (int k = 0; k < s->pending; k++) {
                free(((char **)s->c[i].buf)[k]);
                ((char **)s->c[i].buf)[k] = NULL;
            }
    s->rows = size;
    s->pending = 0;
    return rc;
}

static int colset_row_done(colset *s)
{
    return ++s->pending == BLOCK ? colset_flush(s) : 0;
}

/* ------------------------------------------------------------------- writer */

typedef struct writer {
    const ex_h5_meta *m;
    const char *tmp; /* the file being written, for messages */
    int nmetric;
    const ex_metric *mtab; /* the metric table, static */
    colset pts, fail, det;
    int c_id, c_index, c_status, c_param0, c_metric0;
    uint64_t row, failed, rejected;
    int detail;
} writer;

static int unit_attrs(hid_t d, const char *unit, const char *help)
{
    return attr_str(d, "unit", unit) | attr_str(d, "help", help);
}

static int writer_columns(writer *w, hid_t f)
{
    const ex_ptab *t = w->m->ptab;
    const ex_metric *mt = w->mtab = ex_metrics(&w->nmetric);
    const ex_metric *dt = ex_detail_fields();
    hid_t gp = -1, gpar = -1, gm = -1, gf = -1, gd = -1;
    char range[160];
    int rc = -1;

    if ((gp = H5Gcreate2(f, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        (gpar = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        (gm = H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        (gf = H5Gcreate2(f, "failures", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto done;
    w->c_id = col_add(&w->pts, gp, "id", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0);
    w->c_index = col_add(&w->pts, gp, "index", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0);
    w->c_status = col_add(&w->pts, gp, "status", H5T_STD_I32LE, H5T_NATIVE_INT32, 0);
    if (w->c_id < 0 || w->c_index < 0 || w->c_status < 0)
        goto done;
    attr_str(w->pts.c[w->c_id].d, "help", "canonical point id (SipHash-2-4 of the exact values)");
    attr_str(w->pts.c[w->c_index].d, "help", "position of the point in the enumeration");
    attr_str(w->pts.c[w->c_status].d, "help", "0 ok, 1 failed, 2 rejected by keep");
    w->c_param0 = w->pts.n;
    for (int i = 0; i < t->n; i++) {
        const st_param *row = &t->rows[i];
        static const char *const types[] = {"int", "real", "bool", "enum"};
        int real = row->type == ST_PT_REAL;
        int c = col_add(&w->pts, gpar, row->name, real ? H5T_IEEE_F64LE : H5T_STD_I32LE,
                        real ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT32, 0);
        if (c < 0)
            goto done;
        st_param_format_range(row, range, sizeof range);
        unit_attrs(w->pts.c[c].d, row->unit, row->help);
        attr_str(w->pts.c[c].d, "type", types[row->type]);
        attr_str(w->pts.c[c].d, "range", range);
        attr_str(w->pts.c[c].d, "role", ex_role_name((ex_role)w->m->sw->role[i]));
        attr_f64(w->pts.c[c].d, "default", t->def[i]);
        if (row->type == ST_PT_ENUM && row->choices)
            attr_labels(w->pts.c[c].d, row->choices);
    }
    w->c_metric0 = w->pts.n;
    /* Every metric is a float64 column, so that a failed point holds NaN in each (a 0
     * in a count would pass for a measurement); counts are whole numbers, exact below
     * 2^53, with the attribute type = "int" that says so to a reader. */
    for (int i = 0; i < w->nmetric; i++) {
        int c = col_add(&w->pts, gm, mt[i].name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0);
        if (c < 0)
            goto done;
        unit_attrs(w->pts.c[c].d, mt[i].unit, mt[i].help);
        attr_str(w->pts.c[c].d, "type", mt[i].type == EX_U64 ? "int" : "real");
    }
    if (col_add(&w->fail, gf, "row", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0) < 0 ||
        col_add(&w->fail, gf, "id", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0) < 0 ||
        col_add(&w->fail, gf, "message", 0, 0, 1) < 0)
        goto done;
    if (w->detail) {
        if ((gd = H5Gcreate2(f, "detail", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            col_add(&w->det, gd, "row", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0) < 0 ||
            col_add(&w->det, gd, "layer", H5T_STD_I32LE, H5T_NATIVE_INT32, 0) < 0 ||
            col_add(&w->det, gd, "phase", H5T_STD_I32LE, H5T_NATIVE_INT32, 0) < 0)
            goto done;
        attr_str(w->det.c[1].d, "help",
                 "row of the layer in /network (its layer_name, layer_network)");
        attr_str(w->det.c[2].d, "help",
                 "0 fp (forward), 1 bp (input gradient), 2 wg (weight gradient)");
        for (int i = 0; i < EX_D_COUNT; i++) {
            int u = dt[i].type == EX_U64;
            int c = col_add(&w->det, gd, dt[i].name, u ? H5T_STD_U64LE : H5T_IEEE_F64LE,
                            u ? H5T_NATIVE_UINT64 : H5T_NATIVE_DOUBLE, 0);
            if (c < 0)
                goto done;
            unit_attrs(w->det.c[c].d, dt[i].unit, dt[i].help);
        }
    }
    rc = 0;
done:
    if (gp >= 0)
        H5Gclose(gp);
    if (gpar >= 0)
        H5Gclose(gpar);
    if (gm >= 0)
        H5Gclose(gm);
    if (gf >= 0)
        H5Gclose(gf);
    if (gd >= 0)
        H5Gclose(gd);
    return rc;
}

/* The row of /network where the layers of network v start. */
static int32_t layer_offset(const ex_h5_meta *m, double v)
{
    int32_t first = 0;

    for (int k = 0; k < m->nets->n && k < v; k++)
        first += st_net_count(m->nets->net[k]);
    return first;
}

static int writer_record(void *ctx, const ex_record *r, st_err *err)
{
    writer *w = ctx;
    const ex_ptab *t = w->m->ptab;
    int32_t st = r->status;
    int rc = 0;

    col_put(&w->pts, w->c_id, &r->id);
    col_put(&w->pts, w->c_index, &r->index);
    col_put(&w->pts, w->c_status, &st);
    for (int i = 0; i < t->n; i++) {
        if (t->rows[i].type == ST_PT_REAL) {
            col_put(&w->pts, w->c_param0 + i, &r->vals[i]);
        } else {
            /* A failed point may carry a value that is not a whole number, or one beyond
             * the column's 32 bits (a derived 2^70): it is recorded truncated or saturated,
             * never wrapped, and its message in /failures says what it was. */
            double d = r->vals[i];
            int32_t v = !(d == d)           ? 0
                        : d > 2147483647.0  ? INT32_MAX
                        : d < -2147483648.0 ? INT32_MIN
                                            : (int32_t)d;
            col_put(&w->pts, w->c_param0 + i, &v);
        }
    }
    for (int i = 0; i < w->nmetric; i++) {
        double v = r->status == EX_FAILED     ? NAN
                   : w->mtab[i].type == EX_U64 ? (double)r->metrics[i].u
                                               : r->metrics[i].f;
        col_put(&w->pts, w->c_metric0 + i, &v);
    }
    if (r->status == EX_FAILED) {
        const char *msg = r->msg;
        col_put(&w->fail, 0, &w->row);
        col_put(&w->fail, 1, &r->id);
        col_put(&w->fail, 2, &msg);
        rc |= colset_row_done(&w->fail);
        w->failed++;
    }
    w->rejected += r->status == EX_REJECTED;
    for (int k = 0; w->detail && k < r->ndetail; k++) {
        const ex_detail *x = &r->detail[k];
        int32_t layer = x->layer + layer_offset(w->m, r->vals[t->net_row]);
        col_put(&w->det, 0, &w->row);
        col_put(&w->det, 1, &layer);
        col_put(&w->det, 2, &x->phase);
        for (int i = 0; i < EX_D_COUNT; i++)
            col_put(&w->det, 3 + i, &x->v[i]);
        rc |= colset_row_done(&w->det);
    }
    rc |= colset_row_done(&w->pts);
    w->row++;
    if (rc && (w->pts.nomem || w->fail.nomem || w->det.nomem))
        return st_err_set(err, ST_ENOMEM, "cannot write %s (at point %llu): out of memory", w->tmp,
                          (unsigned long long)r->index);
    if (rc) {
        char why[256];
        h5_reason(errno, why, sizeof why);
        return st_err_set(err, ST_EIO, "cannot write %s (at point %llu): %s", w->tmp,
                          (unsigned long long)r->index, why);
    }
    return ST_OK;
}

/* One network's attributes on group g. */
static int network_attrs(hid_t g, const ex_netspec *spec, const st_net *net, uint64_t fp)
{
    char hex[32];
    int rc = 0;

    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fp);
    rc |= attr_str(g, "name", st_net_name(net));
    rc |= attr_str(g, "source", ex_netspec_source(spec));
    if (spec->csv) {
        /* The layer list itself, so the file says what was simulated. */
        rc |= attr_str(g, "csv_path", spec->csv_path);
        rc |= attr_str(g, "csv_text", spec->csv);
    }
    rc |= attr_str(g, "fingerprint", hex);
    return rc;
}

/* /network: the layers of every network of the sweep, one row each, network after
 * network (a detail row's `layer` indexes them); the networks' attributes on the group
 * when there is one, on /network/net_<i> (with the first row of its layers) for each. */
static int write_network(hid_t f, const ex_h5_meta *m)
{
    hid_t g = H5Gcreate2(f, "network", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), sub = -1;
    colset s = {0, 0, NULL, 0, 0, 0};
    const ex_nets *ns = m->nets;
    char name[32];
    int rc = -1, first = 0;

    if (g < 0)
        goto done;
    if (ns->n == 1 && network_attrs(g, &m->sw->nets[0], ns->net[0], ns->fp[0]) != 0)
        goto done;
    if (ns->n > 1) {
        char *names = ex_ptab_labels_text(m->ptab, m->ptab->net_row);
        int bad = !names || attr_str(g, "name", names) != 0 || attr_str(g, "source", "several");
        free(names);
        if (bad)
            goto done;
    }
    if (attr_i32(g, "networks", ns->n) != 0 || col_add(&s, g, "layer_name", 0, 0, 1) < 0 ||
        col_add(&s, g, "layer_kind", 0, 0, 1) < 0 ||
        col_add(&s, g, "layer_network", H5T_STD_I32LE, H5T_NATIVE_INT32, 0) < 0)
        goto done;
    for (int k = 0; k < ns->n; k++) {
        snprintf(name, sizeof name, "net_%d", k);
        if ((sub = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            network_attrs(sub, &m->sw->nets[k], ns->net[k], ns->fp[k]) != 0 ||
            attr_i32(sub, "first_layer", first) != 0 ||
            attr_i32(sub, "layers", st_net_count(ns->net[k])) != 0)
            goto done;
        H5Gclose(sub);
        sub = -1;
        for (int i = 0; i < st_net_count(ns->net[k]); i++) {
            const st_layer *l = st_net_layer(ns->net[k], i);
            const char *lname = l->name, *kind = st_kind_name(l->kind);
            int32_t kk = k;
            col_put(&s, 0, &lname);
            col_put(&s, 1, &kind);
            col_put(&s, 2, &kk);
            if (colset_row_done(&s) != 0)
                goto done;
        }
        first += st_net_count(ns->net[k]);
    }
    rc = colset_flush(&s);
done:
    if (rc != 0 && s.nomem)
        rc = -2;
    colset_free(&s);
    if (sub >= 0)
        H5Gclose(sub);
    if (g >= 0)
        H5Gclose(g);
    return rc;
}

static int write_provenance(hid_t f, const ex_h5_meta *m, const writer *w)
{
    hid_t g = H5Gcreate2(f, "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    char h5v[64];
    int rc = 0;

    if (g < 0)
        return -1;
    ex_h5_version(h5v, sizeof h5v);
    rc |= attr_str(f, "format", FORMAT_NAME);
    rc |= attr_i32(f, "format_version", FORMAT_VERSION);
    rc |= attr_i32(f, "complete", m->complete);
    rc |= attr_str(f, "name", m->sw->name);
    rc |= attr_u64(f, "points", w->row);
    rc |= attr_u64(f, "failed", w->failed);
    rc |= attr_u64(f, "rejected", w->rejected);
    rc |= attr_u64(f, "candidates", m->candidates);
    rc |= attr_u64(f, "excluded", m->excluded);
    rc |= attr_u64(f, "duplicates", m->duplicates);
    rc |= attr_str(g, "program", "stexplore");
    rc |= attr_str(g, "version", m->version);
    rc |= attr_str(g, "git_revision", m->git_revision);
    rc |= attr_str(g, "lua_version", m->lua_version);
    rc |= attr_str(g, "hdf5_version", h5v);
    rc |= attr_str(g, "script_path", m->script_path);
    rc |= attr_str(g, "script", m->script);
    rc |= attr_str(g, "space", m->space);
    rc |= attr_str(g, "command", m->command);
    rc |= attr_str(g, "hosts", m->hosts);
    rc |= attr_i32(g, "ranks", m->ranks > 0 ? m->ranks : 1);
    rc |= attr_u64(g, "seed", m->sw->seed);
    rc |= attr_str(g, "started_utc", m->started);
    rc |= attr_str(g, "finished_utc", m->finished);
    rc |= attr_f64(g, "elapsed_s", m->elapsed_s);
    rc |= attr_i32(g, "sessions", m->sessions);
    if (m->reused_from)
        rc |= attr_str(g, "reused_from", m->reused_from);
    H5Gclose(g);
    return rc ? -1 : 0;
}

static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY), rc = -1;

    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    return rc;
}

int ex_h5_save(const char *path, const ex_h5_meta *m, ex_journal *j, st_err *err)
{
    writer w;
    char tmp[4096], dir[4096], why[256];
    hid_t f = -1, fapl = -1;
    H5E_auto2_t old_fn;
    void *old_data;
    const char *slash;
    int rc = ST_OK, ret;

    memset(&w, 0, sizeof w);
    w.m = m;
    w.tmp = tmp;
    w.detail = m->sw->detail;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fapl = fapl_make();
    errno = 0;
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) {
        h5_reason(errno, why, sizeof why);
        rc = st_err_set(err, ST_EIO, "cannot create %s: %s", tmp, why);
        goto done;
    }
    errno = 0;
    if ((ret = writer_columns(&w, f)) != 0 || (ret = write_network(f, m)) != 0) {
        if (ret == -2 || w.pts.nomem || w.fail.nomem || w.det.nomem) {
            rc = st_err_set(err, ST_ENOMEM, "cannot lay out %s: out of memory", tmp);
            goto done;
        }
        h5_reason(errno, why, sizeof why);
        rc = st_err_set(err, ST_EIO, "cannot lay out %s: %s", tmp, why);
        goto done;
    }
    if ((rc = ex_journal_each(j, writer_record, &w, err)) != 0)
        goto done;
    errno = 0;
    if (colset_flush(&w.pts) != 0 || colset_flush(&w.fail) != 0 || colset_flush(&w.det) != 0 ||
        write_provenance(f, m, &w) != 0) {
        if (w.pts.nomem || w.fail.nomem || w.det.nomem) {
            rc = st_err_set(err, ST_ENOMEM, "cannot write %s: out of memory", tmp);
            goto done;
        }
        h5_reason(errno, why, sizeof why);
        rc = st_err_set(err, ST_EIO, "cannot write %s: %s", tmp, why);
        goto done;
    }
    colset_free(&w.pts);
    colset_free(&w.fail);
    colset_free(&w.det);
    /* Metadata goes to disk here, and a full disk shows here first: flush, so that a
     * failure leaves the file open for abandon() rather than half-closed. */
    errno = 0;
    if (H5Fflush(f, H5F_SCOPE_LOCAL) < 0) {
        h5_reason(errno, why, sizeof why);
        rc = st_err_set(err, ST_EIO, "cannot write %s: %s", tmp, why);
        goto done;
    }
    if (H5Fclose(f) < 0) {
        f = -1;
        h5_reason(errno, why, sizeof why);
        rc = st_err_set(err, ST_EIO, "cannot close %s: %s", tmp, why);
        goto done;
    }
    f = -1;
    /* Durable contents, then an atomic switch: a reader sees the old file or the new. */
    if (sync_path(tmp) != 0 || rename(tmp, path) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot move %s to %s: %s", tmp, path, strerror(errno));
        goto done;
    }
    slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    sync_path(dir);
done:
    colset_free(&w.pts);
    colset_free(&w.fail);
    colset_free(&w.det);
    if (f >= 0)
        abandon(f);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rc != ST_OK)
        unlink(tmp);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}

/* ------------------------------------------------------------------- probe */

int ex_h5_attr_single(hid_t a)
{
    hid_t sp = H5Aget_space(a);
    H5S_class_t cls = sp >= 0 ? H5Sget_simple_extent_type(sp) : H5S_NO_CLASS;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;

    if (sp >= 0)
        H5Sclose(sp);
    return (cls == H5S_SCALAR || cls == H5S_SIMPLE) && n == 1;
}

char *ex_h5_attr_str(hid_t obj, const char *name)
{
    char *v = NULL;

    ex_h5_attr_text(obj, name, &v);
    return v;
}

int ex_h5_attr_text(hid_t obj, const char *name, char **out)
{
    hid_t a = -1, t = -1, mt = -1;
    char *v = NULL, *copy = NULL;
    size_t size;
    int rc = 1;

    *out = NULL;
    if (H5Aexists(obj, name) <= 0 || (a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 ||
        !ex_h5_attr_single(a) || (t = H5Aget_type(a)) < 0 || H5Tget_class(t) != H5T_STRING)
        goto done;
    mt = H5Tcopy(H5T_C_S1);
    if (H5Tis_variable_str(t) > 0) {
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, &v) >= 0 && v) {
            rc = (copy = strdup(v)) ? 0 : ST_ENOMEM;
            H5free_memory(v);
        }
    } else {
        size = H5Tget_size(t);
        H5Tset_size(mt, size + 1);
        H5Tset_cset(mt, H5Tget_cset(t));
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        if (!(copy = calloc(size + 2, 1)))
            rc = ST_ENOMEM;
        else if (H5Aread(a, mt, copy) < 0) {
            free(copy);
            copy = NULL;
        } else
            rc = 0;
    }
done:
    if (mt >= 0)
        H5Tclose(mt);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    *out = copy;
    return rc;
}

long long ex_h5_ds_length(hid_t f, const char *path)
{
    hid_t d = -1, sp = -1;
    hsize_t dim = 0;
    long long n = -1;

    if (H5Lexists(f, path, H5P_DEFAULT) > 0 && (d = H5Dopen2(f, path, H5P_DEFAULT)) >= 0 &&
        (sp = H5Dget_space(d)) >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
        H5Sget_simple_extent_dims(sp, &dim, NULL) == 1)
        n = (long long)dim;
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return n;
}

int ex_h5_attr_num(hid_t obj, const char *name, hid_t mtype, void *v)
{
    hid_t a = -1, t = -1;
    int rc = -1;

    if (H5Aexists(obj, name) > 0 && (a = H5Aopen(obj, name, H5P_DEFAULT)) >= 0 &&
        ex_h5_attr_single(a) && (t = H5Aget_type(a)) >= 0 &&
        (H5Tget_class(t) == H5T_INTEGER || H5Tget_class(t) == H5T_FLOAT))
        rc = H5Aread(a, mtype, v) < 0 ? -1 : 0;
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

void ex_h5_info_fini(ex_h5_info *info)
{
    if (!info)
        return;
    free(info->script);
    free(info->space);
    memset(info, 0, sizeof *info);
}

int ex_h5_probe(const char *path, ex_h5_info *info, st_err *err)
{
    hid_t f = -1, g = -1, fapl = -1;
    H5E_auto2_t old_fn;
    void *old_data;
    char *format = NULL;
    int rc = ST_OK, version = 0, ret = 0;

    memset(info, 0, sizeof *info);
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    fapl = fapl_make();
    if (H5Fis_hdf5(path) <= 0 || (f = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s is not an HDF5 file (or it is damaged)", path);
        goto done;
    }
    if (ex_h5_attr_text(f, "format", &format) == ST_ENOMEM) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (!format || strcmp(format, FORMAT_NAME) != 0 ||
        ex_h5_attr_num(f, "format_version", H5T_NATIVE_INT, &version) != 0) {
        rc = st_err_set(err, ST_EFORMAT,
                        "%s is an HDF5 file but not a stexplore result (no format = '%s')", path,
                        FORMAT_NAME);
        goto done;
    }
    if (version != FORMAT_VERSION) {
        rc = st_err_set(err, ST_EFORMAT, "%s: result format version %d, this stexplore reads %d",
                        path, version, FORMAT_VERSION);
        goto done;
    }
    if (ex_h5_attr_num(f, "complete", H5T_NATIVE_INT, &info->complete) != 0 ||
        ex_h5_attr_num(f, "points", H5T_NATIVE_UINT64, &info->points) != 0 ||
        (g = H5Gopen2(f, "provenance", H5P_DEFAULT)) < 0 ||
        (ret = ex_h5_attr_text(g, "script", &info->script)) != 0 ||
        (ret = ex_h5_attr_text(g, "space", &info->space)) != 0) {
        if (ret == ST_ENOMEM) {
            rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        rc = st_err_set(err, ST_EFORMAT, "%s: a stexplore result with missing attributes", path);
        goto done;
    }
done:
    free(format);
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0)
        H5Fclose(f);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rc != ST_OK)
        ex_h5_info_fini(info);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}
