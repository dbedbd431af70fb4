/*
 * an_merge.c - several result files of one sweep made into one (stquery merge): the
 * shards of a job array, a sweep run again with more points, files that overlap. Points
 * are deduplicated by id and ordered as the sweep enumerates them, so merged shards equal
 * the file one run would have written. Files of different sweeps are refused. Nothing here
 * evaluates points; every column is copied as stored, whatever columns the files have.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "an.h"
#include "an_h5int.h"
#include "ex_h5attr.h"

/* One input: its table (ids, indices, statuses, failures, already checked by an_h5_load)
 * and its file, opened again for the raw columns. */
typedef struct input {
    const char *path;
    an_table *t;
    hid_t f;
    const uint64_t *id, *index; /* borrowed from t */
    const double *status;
    size_t ndet;       /* rows of /detail */
    size_t *det_first; /* n + 1 entries: the detail rows of point r are */
    size_t *det_order; /* det_order[det_first[r] .. det_first[r + 1]) */
    const char **fmsg; /* n entries: the failure message of row r, or NULL; borrowed */
} input;

/* A point of some input: where it is and what orders it. */
typedef struct pick {
    uint64_t id, index;
    int k;    /* the input */
    size_t r; /* its row there */
} pick;

typedef struct merge {
    input *in;
    int nin;
    const char *out, *tmp;
    pick *all; /* every point of every input */
    size_t nall;
    pick *keep; /* the points of the output, in order */
    size_t nkeep;
    pick *dup; /* pairs (kept, repeated): dup[2 i] kept, dup[2 i + 1] the repeat */
    size_t ndup;
    uint64_t failed, rejected;
} merge;

/* File access as an_h5_load opens the inputs (HDF5 refuses a second opening with other
 * properties): no file locks, which shared file systems refuse, unless
 * HDF5_USE_FILE_LOCKING says otherwise. */
static hid_t fapl_make(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

    if (fapl >= 0 && !getenv("HDF5_USE_FILE_LOCKING"))
        H5Pset_file_locking(fapl, 0, 1);
    return fapl;
}

/* ---------------------------------------------------------------- ordering */

static int by_id(const void *a, const void *b)
{
    const pick *x = a, *y = b;

    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    return x->r < y->r ? -1 : x->r > y->r;
}

/* The sweep's enumeration order; the id breaks ties between points that files of the
 * same sweep cannot disagree on. */
static int by_index(const void *a, const void *b)
{
    const pick *x = a, *y = b;

    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ------------------------------------------------------------- attributes */

typedef struct attr_copy {
    hid_t dst;
    int fail;
} attr_copy;

/* Copy one attribute, whatever its type: read and written in the file's own type, which
 * for variable-length strings yields pointers that are reclaimed after. */
static herr_t copy_one_attr(hid_t obj, const char *name, const H5A_info_t *info, void *ctx)
{
    attr_copy *c = ctx;
    hid_t a = -1, t = -1, sp = -1, b = -1;
    hssize_t n;
    void *buf = NULL;

    (void)info;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (t = H5Aget_type(a)) < 0 ||
        (sp = H5Aget_space(a)) < 0 || (n = H5Sget_simple_extent_npoints(sp)) < 0 ||
        !(buf = calloc((size_t)n + 1, H5Tget_size(t))) || H5Aread(a, t, buf) < 0) {
        c->fail = 1;
        goto done;
    }
    if (H5Aexists(c->dst, name) > 0)
        H5Adelete(c->dst, name);
    if ((b = H5Acreate2(c->dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(b, t, buf) < 0)
        c->fail = 1;
    if (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0)
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(t, sp, H5P_DEFAULT, buf);
#else
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
#endif
done:
    free(buf);
    if (b >= 0)
        H5Aclose(b);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return 0;
}

static int copy_attrs(hid_t src, hid_t dst)
{
    attr_copy c = {dst, 0};
    hsize_t at = 0;

    if (H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &at, copy_one_attr, &c) < 0)
        return -1;
    return c.fail ? -1 : 0;
}

/* Replace attribute name of obj by a scalar of type ftype holding *v (memory type mtype). */
static int set_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;

    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    if (sp >= 0 && (a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
        H5Awrite(a, mtype, v) >= 0)
        rc = 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

static int set_u64(hid_t obj, const char *name, uint64_t v)
{
    return set_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

static int set_str(hid_t obj, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    int rc;

    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    rc = set_attr(obj, name, t, t, &v);
    H5Tclose(t);
    return rc;
}

/* A text attribute of the object at path (NULL when absent); the caller frees it. */
static char *text_at(hid_t f, const char *path, const char *name)
{
    hid_t o = H5Oopen(f, path, H5P_DEFAULT);
    char *v = NULL;

    if (o >= 0) {
        v = ex_h5_attr_str(o, name);
        H5Oclose(o);
    }
    return v;
}

/* ---------------------------------------------------------- compatibility */

/* The design space as resume compares it, less the lines that say which shard of it a
 * file holds: the shards of one sweep share the rest. */
static int space_same(const char *a, const char *b, char *diff, size_t size)
{
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (!strncmp(a, "shard", 5)) {
            a += la + (a[la] == '\n');
            continue;
        }
        if (!strncmp(b, "shard", 5)) {
            b += lb + (b[lb] == '\n');
            continue;
        }
        if (la != lb || memcmp(a, b, la)) {
            snprintf(diff, size, "'%.*s' against '%.*s'", (int)(la > 80 ? 80 : la), a,
                     (int)(lb > 80 ? 80 : lb), b);
            return 0;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    return 1;
}

/* The datasets of group path (none when it is absent), in name order. -1 when it cannot
 * be read. */
static int list_group(hid_t f, const char *path, an_names *l)
{
    memset(l, 0, sizeof *l);
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0)
        return 0;
    return an_h5_list_links(f, path, l);
}

/* The class and size of the dataset's type, as one number for comparisons. */
static long type_key(hid_t f, const char *path)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT), t = d >= 0 ? H5Dget_type(d) : -1;
    long key = -1;

    if (t >= 0) {
        key = (long)H5Tget_class(t) * 1000 + (long)H5Tget_size(t) * 10 +
              (H5Tget_class(t) == H5T_INTEGER ? (long)H5Tget_sign(t) : 0);
        H5Tclose(t);
    }
    if (d >= 0)
        H5Dclose(d);
    return key;
}

static const char *const groups[] = {"points", "params", "metrics", "detail"};
#define NGROUPS (sizeof groups / sizeof groups[0])

/* The columns of b must be those of a, with the same types. */
static int same_columns(const input *a, const input *b, st_err *err)
{
    int rc = ST_OK;

    for (size_t g = 0; g < NGROUPS && rc == ST_OK; g++) {
        an_names la, lb;
        char path[320];
        if (list_group(a->f, groups[g], &la) != 0 || list_group(b->f, groups[g], &lb) != 0) {
            an_names_fini(&la);
            an_names_fini(&lb);
            return st_err_set(err, ST_ENOMEM, "out of memory");
        }
        for (size_t i = 0, j = 0; (i < la.n || j < lb.n) && rc == ST_OK;) {
            int c = i == la.n ? 1 : j == lb.n ? -1 : strcmp(la.s[i], lb.s[j]);
            if (c != 0) {
                const input *has = c < 0 ? a : b, *lacks = c < 0 ? b : a;
                rc = st_err_set(err, ST_EINVAL,
                                "%s has the column /%s/%s and %s has not: files written by "
                                "different versions of stexplore (or with and without "
                                "detail) are not merged",
                                has->path, groups[g], c < 0 ? la.s[i] : lb.s[j], lacks->path);
                break;
            }
            snprintf(path, sizeof path, "/%s/%s", groups[g], la.s[i]);
            if (type_key(a->f, path) != type_key(b->f, path))
                rc = st_err_set(err, ST_EINVAL, "%s and %s store %s with different types", a->path,
                                b->path, path);
            i++;
            j++;
        }
        an_names_fini(&la);
        an_names_fini(&lb);
    }
    return rc;
}

/* Files of one sweep only: the same script, design space, seed and network. */
static int same_sweep(const input *a, const input *b, st_err *err)
{
    static const struct {
        const char *obj, *attr, *what;
    } facts[] = {
        {"/network", "fingerprint", "their networks differ (fingerprint"},
        {"/provenance", "script", "their scripts differ (stquery info --script prints each"},
        {"/provenance", "space", "their design spaces differ ("},
        {"/provenance", "seed", "seed"},
    };
    char diff[256];
    int rc = ST_OK;

    for (size_t i = 0; i < sizeof facts / sizeof facts[0] && rc == ST_OK; i++) {
        const char *name = facts[i].attr;
        char *x, *y;
        int same;
        if (!strcmp(name, "seed")) {
            uint64_t sa = 0, sb = 0;
            hid_t ga = H5Oopen(a->f, facts[i].obj, H5P_DEFAULT);
            hid_t gb = H5Oopen(b->f, facts[i].obj, H5P_DEFAULT);
            int ra = ga >= 0 ? ex_h5_attr_num(ga, name, H5T_NATIVE_UINT64, &sa) : -1;
            int rb = gb >= 0 ? ex_h5_attr_num(gb, name, H5T_NATIVE_UINT64, &sb) : -1;
            if (ga >= 0)
                H5Oclose(ga);
            if (gb >= 0)
                H5Oclose(gb);
            if (ra != rb || sa != sb)
                rc = st_err_set(err, ST_EINVAL,
                                "%s (seed %llu) and %s (seed %llu) are not of the same sweep: "
                                "their seeds differ; merge refuses to mix sweeps",
                                a->path, (unsigned long long)sa, b->path, (unsigned long long)sb);
            continue;
        }
        x = text_at(a->f, facts[i].obj, name);
        y = text_at(b->f, facts[i].obj, name);
        diff[0] = '\0';
        if (!strcmp(name, "space"))
            same = x && y ? space_same(x, y, diff, sizeof diff) : x == y;
        else
            same = x && y ? !strcmp(x, y) : x == y;
        if (!same && !strcmp(name, "fingerprint"))
            snprintf(diff, sizeof diff, " %s against %s", x ? x : "none", y ? y : "none");
        if (!same)
            rc = st_err_set(err, ST_EINVAL,
                            "%s and %s are not of the same sweep: %s%s); merge refuses to mix "
                            "sweeps",
                            a->path, b->path, facts[i].what, diff);
        free(x);
        free(y);
    }
    return rc;
}

/* ------------------------------------------------------------------ inputs */

static void input_fini(input *in)
{
    an_h5_quiet q;

    an_h5_quiet_on(&q);
    if (in->f >= 0)
        H5Fclose(in->f);
    an_h5_quiet_off(&q);
    an_table_destroy(&in->t);
    free(in->det_first);
    free(in->det_order);
    free(in->fmsg);
    memset(in, 0, sizeof *in);
    in->f = -1;
}

/* Read a whole 1-D dataset as mtype: n elements into a malloc'ed buffer (at least 1 byte). */
static void *read_all(hid_t f, const char *path, hid_t mtype, size_t *n)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dim = 0;
    void *buf = NULL;

    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
        H5Sget_simple_extent_dims(sp, &dim, NULL) == 1 &&
        (buf = malloc(dim ? (size_t)dim * H5Tget_size(mtype) : 1)) && dim > 0 &&
        H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    *n = (size_t)dim;
    return buf;
}

/* Which rows of /detail belong to each point: a counting sort on /detail/row that keeps
 * the file's order within a point. */
static int index_detail(input *in, st_err *err)
{
    uint64_t *row;
    size_t n = in->t->n, nd = 0;
    int rc = ST_OK;

    if (H5Lexists(in->f, "/detail", H5P_DEFAULT) <= 0)
        return ST_OK;
    if (!(row = read_all(in->f, "/detail/row", H5T_NATIVE_UINT64, &nd)))
        return st_err_set(err, ST_EFORMAT, "%s: cannot read /detail/row (a damaged file?)",
                          in->path);
    in->ndet = nd;
    in->det_first = calloc(n + 2, sizeof *in->det_first);
    in->det_order = malloc((nd ? nd : 1) * sizeof *in->det_order);
    if (!in->det_first || !in->det_order) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for its detail", in->path);
        goto done;
    }
    for (size_t i = 0; i < nd; i++) {
        if (row[i] >= n) {
            rc = st_err_set(err, ST_EFORMAT,
                            "%s: /detail/row holds row %llu; the file has %zu points (a "
                            "damaged file?)",
                            in->path, (unsigned long long)row[i], n);
            goto done;
        }
        in->det_first[row[i] + 2]++;
    }
    for (size_t r = 0; r < n; r++)
        in->det_first[r + 2] += in->det_first[r + 1];
    for (size_t i = 0; i < nd; i++)
        in->det_order[in->det_first[row[i] + 1]++] = i;
done:
    free(row);
    return rc;
}

static int input_open(input *in, const char *path, st_err *err)
{
    int rc, c;
    hid_t fapl;
    an_h5_quiet q;

    memset(in, 0, sizeof *in);
    in->f = -1;
    in->path = path;
    if ((rc = an_h5_load(path, &in->t, err)) != ST_OK)
        return rc;
    if ((c = an_table_find(in->t, "id")) < 0 || (rc = an_table_load_col(in->t, c, err)) != ST_OK)
        return rc;
    in->id = in->t->col[c].u;
    if ((c = an_table_find(in->t, "index")) < 0 || (rc = an_table_load_col(in->t, c, err)) != ST_OK)
        return rc;
    in->index = in->t->col[c].u;
    if ((rc = an_table_load_col(in->t, in->t->status_col, err)) != ST_OK)
        return rc;
    in->status = in->t->col[in->t->status_col].v;
    if (!(in->fmsg = calloc(in->t->n + 1, sizeof *in->fmsg)))
        return st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < in->t->nfail; i++)
        in->fmsg[in->t->fail_row[i]] = in->t->fail_msg[i];
    an_h5_quiet_on(&q);
    fapl = fapl_make();
    in->f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    rc = in->f < 0 ? st_err_set(err, ST_EFORMAT, "%s: HDF5 cannot open it", path)
                   : index_detail(in, err);
    an_h5_quiet_off(&q);
    return rc;
}

/* ------------------------------------------------------------------ points */

/* Every point once: the first input that has an id gives it; the others' copies are kept
 * aside to be compared column by column as the columns are written. */
static int choose_points(merge *m, st_err *err)
{
    size_t total = 0, j = 0;

    for (int k = 0; k < m->nin; k++)
        total += m->in[k].t->n;
    m->all = malloc((total ? total : 1) * sizeof *m->all);
    m->keep = malloc((total ? total : 1) * sizeof *m->keep);
    m->dup = malloc((total ? 2 * total : 1) * sizeof *m->dup);
    if (!m->all || !m->keep || !m->dup)
        return st_err_set(err, ST_ENOMEM, "out of memory for %zu points", total);
    for (int k = 0; k < m->nin; k++)
        for (size_t r = 0; r < m->in[k].t->n; r++) {
            pick *p = &m->all[j++];
            p->id = m->in[k].id[r];
            p->index = m->in[k].index[r];
            p->k = k;
            p->r = r;
        }
    m->nall = total;
    qsort(m->all, total, sizeof *m->all, by_id);
    for (size_t i = 0; i < total; i++) {
        if (i > 0 && m->all[i].id == m->keep[m->nkeep - 1].id) {
            m->dup[2 * m->ndup] = m->keep[m->nkeep - 1];
            m->dup[2 * m->ndup + 1] = m->all[i];
            m->ndup++;
            continue;
        }
        m->keep[m->nkeep++] = m->all[i];
    }
    qsort(m->keep, m->nkeep, sizeof *m->keep, by_index);
    for (size_t i = 0; i < m->nkeep; i++) {
        double s = m->in[m->keep[i].k].status[m->keep[i].r];
        m->failed += s == 1;
        m->rejected += s == 2;
    }
    return ST_OK;
}

/* The value of element r of a column read as native type t, as text for a message. */
static void value_text(hid_t t, const unsigned char *buf, size_t r, char *out, size_t size)
{
    size_t es = H5Tget_size(t);
    unsigned char tmp[64];
    double d = 0;

    memset(tmp, 0, sizeof tmp);
    memcpy(tmp, buf + r * es, es < sizeof tmp ? es : sizeof tmp);
    if (H5Tconvert(t, H5T_NATIVE_DOUBLE, 1, tmp, NULL, H5P_DEFAULT) >= 0)
        memcpy(&d, tmp, sizeof d);
    an_fmt_exact(d, out, size);
}

/* Create dataset name under dst like the 1-D dataset src (type, chunks, filters,
 * attributes), of n elements written from buf (memory type mtype). */
static int write_like(hid_t dst, const char *name, hid_t src, hid_t mtype, size_t n,
                      const void *buf)
{
    hsize_t dim = n, maxdim = H5S_UNLIMITED;
    hid_t ft = H5Dget_type(src), dcpl = H5Dget_create_plist(src);
    hid_t sp = H5Screate_simple(1, &dim, &maxdim), d = -1;
    int rc = -1;

    if (ft >= 0 && dcpl >= 0 && sp >= 0 &&
        (d = H5Dcreate2(dst, name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) >= 0 &&
        (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) &&
        copy_attrs(src, d) == 0)
        rc = 0;
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (ft >= 0)
        H5Tclose(ft);
    return rc;
}

/* Where each row of the output comes from, for one group: the points (a row per kept
 * point) or the detail (a row per detail row of each kept point, in the file's order). */
typedef struct gather {
    size_t n;
    int *k;
    size_t *r;
} gather;

/* Copy the column group/name of every input into the output in the order of g; for the
 * point axis, also check that repeated points agree in it. */
static int copy_column(merge *m, hid_t out, const char *group, const char *name, const gather *g,
                       int check, st_err *err)
{
    char path[320];
    unsigned char **data = calloc((size_t)m->nin, sizeof *data), *res = NULL;
    hid_t src = -1, ft = -1, mt = -1;
    size_t es = 0, n;
    int rc = ST_OK;

    snprintf(path, sizeof path, "/%s/%s", group, name);
    if (!data)
        return st_err_set(err, ST_ENOMEM, "out of memory");
    if ((src = H5Dopen2(m->in[0].f, path, H5P_DEFAULT)) < 0 || (ft = H5Dget_type(src)) < 0 ||
        (H5Tget_class(ft) != H5T_INTEGER && H5Tget_class(ft) != H5T_FLOAT) ||
        (mt = H5Tget_native_type(ft, H5T_DIR_ASCEND)) < 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s: %s is not a numeric column (a damaged file?)",
                        m->in[0].path, path);
        goto done;
    }
    es = H5Tget_size(mt);
    for (int k = 0; k < m->nin; k++)
        if (!(data[k] = read_all(m->in[k].f, path, mt, &n))) {
            rc = st_err_set(err, ST_EFORMAT, "%s: cannot read %s (a damaged file?)", m->in[k].path,
                            path);
            goto done;
        }
    for (size_t i = 0; check && i < m->ndup; i++) {
        const pick *a = &m->dup[2 * i], *b = &m->dup[2 * i + 1];
        char va[40], vb[40];
        if (!memcmp(data[a->k] + a->r * es, data[b->k] + b->r * es, es))
            continue;
        value_text(mt, data[a->k], a->r, va, sizeof va);
        value_text(mt, data[b->k], b->r, vb, sizeof vb);
        rc = st_err_set(err, ST_EINVAL,
                        "the point %016llx is in %s (row %zu) and in %s (row %zu) with "
                        "different %s: %s against %s; merge keeps a point once and will not "
                        "choose (files from different versions of the simulator?)",
                        (unsigned long long)a->id, m->in[a->k].path, a->r, m->in[b->k].path, b->r,
                        path, va, vb);
        goto done;
    }
    if (!(res = malloc(g->n ? g->n * es : 1))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for %s", path);
        goto done;
    }
    for (size_t i = 0; i < g->n; i++)
        memcpy(res + i * es, data[g->k[i]] + g->r[i] * es, es);
    if (write_like(out, name, src, mt, g->n, res) != 0)
        rc = st_err_set(err, ST_EIO, "cannot write %s in %s", path, m->tmp);
done:
    for (int k = 0; k < m->nin; k++)
        free(data[k]);
    free(data);
    free(res);
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    if (src >= 0)
        H5Dclose(src);
    return rc;
}

/* Write every column of group (as the first input has them) in the order of g. */
static int copy_group(merge *m, hid_t f, const char *group, const gather *g, int check, st_err *err)
{
    an_names l;
    hid_t src = -1, dst = -1;
    int rc = ST_OK;

    if (list_group(m->in[0].f, group, &l) != 0)
        return st_err_set(err, ST_ENOMEM, "out of memory");
    if ((src = H5Gopen2(m->in[0].f, group, H5P_DEFAULT)) < 0 ||
        (dst = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        copy_attrs(src, dst) != 0)
        rc = st_err_set(err, ST_EIO, "cannot write /%s in %s", group, m->tmp);
    for (size_t i = 0; i < l.n && rc == ST_OK; i++)
        rc = copy_column(m, dst, group, l.s[i], g, check, err);
    if (dst >= 0)
        H5Gclose(dst);
    if (src >= 0)
        H5Gclose(src);
    an_names_fini(&l);
    return rc;
}

/* /detail: the kept points' rows, with /detail/row renumbered to the output's rows. */
static int write_detail(merge *m, hid_t f, st_err *err)
{
    gather g = {0, NULL, NULL};
    uint64_t *row = NULL;
    size_t total = 0;
    hid_t src = -1, dst = -1;
    an_names l = {0, 0, NULL, 0};
    int rc = ST_OK;

    for (size_t i = 0; i < m->nkeep; i++) {
        const input *in = &m->in[m->keep[i].k];
        total += in->det_first[m->keep[i].r + 1] - in->det_first[m->keep[i].r];
    }
    g.k = malloc((total ? total : 1) * sizeof *g.k);
    g.r = malloc((total ? total : 1) * sizeof *g.r);
    row = malloc((total ? total : 1) * sizeof *row);
    if (!g.k || !g.r || !row || list_group(m->in[0].f, "detail", &l) != 0) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the detail");
        goto done;
    }
    for (size_t i = 0; i < m->nkeep; i++) {
        const input *in = &m->in[m->keep[i].k];
        for (size_t j = in->det_first[m->keep[i].r]; j < in->det_first[m->keep[i].r + 1]; j++) {
            g.k[g.n] = m->keep[i].k;
            g.r[g.n] = in->det_order[j];
            row[g.n++] = i;
        }
    }
    if ((src = H5Gopen2(m->in[0].f, "detail", H5P_DEFAULT)) < 0 ||
        (dst = H5Gcreate2(f, "detail", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        copy_attrs(src, dst) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot write /detail in %s", m->tmp);
        goto done;
    }
    for (size_t i = 0; i < l.n && rc == ST_OK; i++) {
        if (strcmp(l.s[i], "row") != 0) {
            rc = copy_column(m, dst, "detail", l.s[i], &g, 0, err);
            continue;
        }
        hid_t d = H5Dopen2(src, "row", H5P_DEFAULT);
        if (d < 0 || write_like(dst, "row", d, H5T_NATIVE_UINT64, g.n, row) != 0)
            rc = st_err_set(err, ST_EIO, "cannot write /detail/row in %s", m->tmp);
        if (d >= 0)
            H5Dclose(d);
    }
done:
    an_names_fini(&l);
    if (dst >= 0)
        H5Gclose(dst);
    if (src >= 0)
        H5Gclose(src);
    free(g.k);
    free(g.r);
    free(row);
    return rc;
}

/* /failures: one row per kept failed point, with its message from the input it came from. */
static int write_failures(merge *m, hid_t f, st_err *err)
{
    uint64_t *row = malloc((m->failed ? m->failed : 1) * sizeof *row);
    uint64_t *id = malloc((m->failed ? m->failed : 1) * sizeof *id);
    const char **msg = malloc((m->failed ? m->failed : 1) * sizeof *msg);
    hid_t src = -1, dst = -1, d = -1, st = H5Tcopy(H5T_C_S1);
    size_t n = 0;
    int rc = ST_OK;

    H5Tset_size(st, H5T_VARIABLE);
    H5Tset_cset(st, H5T_CSET_UTF8);
    if (!row || !id || !msg) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the failures");
        goto done;
    }
    for (size_t i = 0; i < m->nkeep; i++) {
        const input *in = &m->in[m->keep[i].k];
        if (in->status[m->keep[i].r] != 1)
            continue;
        row[n] = i;
        id[n] = m->keep[i].id;
        msg[n] = in->fmsg[m->keep[i].r] ? in->fmsg[m->keep[i].r] : "";
        n++;
    }
    if ((src = H5Gopen2(m->in[0].f, "failures", H5P_DEFAULT)) < 0 ||
        (dst = H5Gcreate2(f, "failures", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        rc = st_err_set(err, ST_EIO, "cannot write /failures in %s", m->tmp);
        goto done;
    }
    if ((d = H5Dopen2(src, "row", H5P_DEFAULT)) < 0 ||
        write_like(dst, "row", d, H5T_NATIVE_UINT64, n, row) != 0)
        rc = ST_EIO;
    if (d >= 0)
        H5Dclose(d);
    if (rc == ST_OK && ((d = H5Dopen2(src, "id", H5P_DEFAULT)) < 0 ||
                        write_like(dst, "id", d, H5T_NATIVE_UINT64, n, id) != 0))
        rc = ST_EIO;
    if (d >= 0)
        H5Dclose(d);
    d = -1;
    if (rc == ST_OK && ((d = H5Dopen2(src, "message", H5P_DEFAULT)) < 0 ||
                        write_like(dst, "message", d, st, n, msg) != 0))
        rc = ST_EIO;
    if (rc != ST_OK)
        rc = st_err_set(err, ST_EIO, "cannot write /failures in %s", m->tmp);
done:
    if (d >= 0)
        H5Dclose(d);
    if (dst >= 0)
        H5Gclose(dst);
    if (src >= 0)
        H5Gclose(src);
    H5Tclose(st);
    free(row);
    free(id);
    free(msg);
    return rc;
}

/* The file's own attributes and /network, /provenance of the first input, then what the
 * merge changes: the counts, complete only when every input is, and merged_from. */
static int write_meta(merge *m, hid_t f, st_err *err)
{
    uint64_t cand = 0, excl = 0, dups = 0;
    int complete = 1;
    char *from = NULL;
    size_t size = 256, used = 0;
    hid_t root = -1, prov = -1;
    int rc = ST_OK;

    for (int k = 0; k < m->nin; k++) {
        const an_table *t = m->in[k].t;
        /* These describe the sweep's space, which the inputs share: the largest is the
         * one of an input that saw all of it. */
        cand = t->candidates > cand ? t->candidates : cand;
        excl = t->excluded > excl ? t->excluded : excl;
        dups = t->duplicates > dups ? t->duplicates : dups;
        complete &= t->complete != 0;
        size += strlen(m->in[k].path) + 160;
    }
    if (!(from = malloc(size)))
        return st_err_set(err, ST_ENOMEM, "out of memory");
    from[0] = '\0';
    for (int k = 0; k < m->nin; k++) {
        const char *rev = an_table_prov(m->in[k].t, "git_revision");
        used = an_appendf(from, size, used, "%s: %zu points, git_revision %s\n", m->in[k].path,
                          m->in[k].t->n, rev ? rev : "unknown");
    }
    if ((root = H5Gopen2(m->in[0].f, "/", H5P_DEFAULT)) < 0 || copy_attrs(root, f) != 0 ||
        set_u64(f, "points", m->nkeep) != 0 || set_u64(f, "failed", m->failed) != 0 ||
        set_u64(f, "rejected", m->rejected) != 0 || set_u64(f, "candidates", cand) != 0 ||
        set_u64(f, "excluded", excl) != 0 || set_u64(f, "duplicates", dups) != 0 ||
        set_attr(f, "complete", H5T_STD_I32LE, H5T_NATIVE_INT, &complete) != 0 ||
        H5Ocopy(m->in[0].f, "network", f, "network", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
        H5Ocopy(m->in[0].f, "provenance", f, "provenance", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
        (prov = H5Gopen2(f, "provenance", H5P_DEFAULT)) < 0 ||
        set_str(prov, "merged_from", from) != 0)
        rc = st_err_set(err, ST_EIO, "cannot write the attributes of %s", m->tmp);
    /* Which part of a sweep an input held is not what the merge holds. */
    if (rc == ST_OK && H5Aexists(f, "shard") > 0)
        H5Adelete(f, "shard");
    if (rc == ST_OK && prov >= 0 && H5Aexists(prov, "shard") > 0)
        H5Adelete(prov, "shard");
    if (prov >= 0)
        H5Gclose(prov);
    if (root >= 0)
        H5Gclose(root);
    free(from);
    return rc;
}

static int write_output(merge *m, st_err *err)
{
    hid_t f = -1, fapl = fapl_make();
    gather g = {m->nkeep, malloc((m->nkeep ? m->nkeep : 1) * sizeof(int)),
                malloc((m->nkeep ? m->nkeep : 1) * sizeof(size_t))};
    int rc = ST_OK;

    if (!g.k || !g.r) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m->nkeep; i++) {
        g.k[i] = m->keep[i].k;
        g.r[i] = m->keep[i].r;
    }
    if ((f = H5Fcreate(m->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        rc = st_err_set(err, ST_EIO, "cannot create %s: %s", m->tmp, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < 3 && rc == ST_OK; i++)
        rc = copy_group(m, f, groups[i], &g, 1, err);
    if (rc == ST_OK)
        rc = write_failures(m, f, err);
    if (rc == ST_OK && m->in[0].det_first)
        rc = write_detail(m, f, err);
    if (rc == ST_OK)
        rc = write_meta(m, f, err);
    if (rc == ST_OK && H5Fflush(f, H5F_SCOPE_LOCAL) < 0)
        rc = st_err_set(err, ST_EIO, "cannot write %s: %s", m->tmp, strerror(errno));
done:
    if (f >= 0 && H5Fclose(f) < 0 && rc == ST_OK)
        rc = st_err_set(err, ST_EIO, "cannot close %s", m->tmp);
    H5Pclose(fapl);
    free(g.k);
    free(g.r);
    return rc;
}

/* ------------------------------------------------------------------ checks */

/* The paths themselves: every input there and distinct, the output none of them, and
 * absent unless force. */
static int check_paths(const char *const *in, int nin, const char *out, int force, st_err *err)
{
    struct stat so, *s = calloc((size_t)nin + 1, sizeof *s);
    int have_out, rc = ST_OK;

    if (!s)
        return st_err_set(err, ST_ENOMEM, "out of memory");
    for (int k = 0; k < nin && rc == ST_OK; k++) {
        if (stat(in[k], &s[k]) != 0)
            rc = st_err_set(err, ST_EINVAL, "%s: %s", in[k], strerror(errno));
        for (int j = 0; j < k && rc == ST_OK; j++)
            if (s[j].st_dev == s[k].st_dev && s[j].st_ino == s[k].st_ino)
                rc = st_err_set(err, ST_EINVAL, "%s and %s are the same file: give each input once",
                                in[j], in[k]);
    }
    have_out = stat(out, &so) == 0;
    for (int k = 0; k < nin && rc == ST_OK && have_out; k++)
        if (s[k].st_dev == so.st_dev && s[k].st_ino == so.st_ino)
            rc = st_err_set(err, ST_EINVAL,
                            "-o %s is the input %s: merge writes a new file and never "
                            "replaces an input",
                            out, in[k]);
    if (rc == ST_OK && have_out && !force)
        rc = st_err_set(err, ST_EINVAL, "-o %s exists: --force replaces it", out);
    free(s);
    return rc;
}

int an_merge(const char *const *paths, int nin, const char *out, int force, an_merge_info *info,
             st_err *err)
{
    merge m;
    an_h5_quiet q;
    char tmp[4096];
    int rc = ST_OK;

    memset(&m, 0, sizeof m);
    memset(info, 0, sizeof *info);
    if (nin < 1)
        return st_err_set(err, ST_EINVAL, "merge: no input files");
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.merge-%ld.tmp", out, (long)getpid()) >= sizeof tmp)
        return st_err_set(err, ST_EINVAL, "-o %s: the path is too long", out);
    if ((rc = check_paths(paths, nin, out, force, err)) != ST_OK)
        return rc;
    an_h5_quiet_on(&q);
    m.nin = nin;
    m.out = out;
    m.tmp = tmp;
    if (!(m.in = calloc((size_t)nin, sizeof *m.in))) {
        an_h5_quiet_off(&q);
        return st_err_set(err, ST_ENOMEM, "out of memory");
    }
    for (int k = 0; k < nin; k++)
        m.in[k].f = -1;
    for (int k = 0; k < nin && rc == ST_OK; k++)
        rc = input_open(&m.in[k], paths[k], err);
    for (int k = 1; k < nin && rc == ST_OK; k++)
        if ((rc = same_sweep(&m.in[0], &m.in[k], err)) == ST_OK)
            rc = same_columns(&m.in[0], &m.in[k], err);
    if (rc == ST_OK)
        rc = choose_points(&m, err);
    if (rc == ST_OK)
        rc = write_output(&m, err);
    /* The output appears whole or not at all; without force, link() refuses to replace a
     * file that appeared meanwhile. */
    if (rc == ST_OK && force && rename(tmp, out) != 0)
        rc = st_err_set(err, ST_EIO, "cannot move %s to %s: %s", tmp, out, strerror(errno));
    if (rc == ST_OK && !force && link(tmp, out) != 0)
        rc = st_err_set(err, errno == EEXIST ? ST_EINVAL : ST_EIO, "cannot write -o %s: %s%s", out,
                        strerror(errno), errno == EEXIST ? " (--force replaces it)" : "");
    if (rc == ST_OK) {
        info->points = m.nkeep;
        info->repeated = m.ndup;
        info->failed = m.failed;
        info->rejected = m.rejected;
    }
    unlink(tmp);
    for (int k = 0; k < nin; k++)
        input_fini(&m.in[k]);
    free(m.in);
    free(m.all);
    free(m.keep);
    free(m.dup);
    an_h5_quiet_off(&q);
    return rc;
}
