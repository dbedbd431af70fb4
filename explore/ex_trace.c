/*
 * ex_trace.c - reading a training trace (written by sttrain, laid out as
 * docs/training.md says): one iteration's masks of every compute layer into an
 * ex_tracemem, the mask source that stsim and the explorer replay. What the
 * engine does with the masks is core's; how they were recorded is the trainer's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"
#include "ex_h5attr.h"

/* Open path and check that it is a trace: *f is the file (caller closes), its network's
 * name and fingerprint in name[size] and *fp. */
static int trace_file(const char *path, hid_t *f, char *name, size_t size, uint64_t *fp,
                      st_err *err)
{
    char *kind = NULL, *net = NULL;
    int64_t format = 0;
    int rc = ST_OK;

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if ((*f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        rc = st_err_set(err, ST_EIO,
                        "%s: cannot open it as an HDF5 file (a trace that sttrain --trace wrote)",
                        path);
        goto done;
    }
    kind = ex_h5_attr_str(*f, "kind");
    if (!kind || strcmp(kind, "sparsetrain-trace") != 0) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: not a training trace (no attribute kind = 'sparsetrain-trace')", path);
        goto done;
    }
    if (ex_h5_attr_num(*f, "format", H5T_NATIVE_INT64, &format) != 0 || format != 1) {
        rc = st_err_set(err, ST_EINVAL, "%s: trace format %lld, this program reads format 1", path,
                        (long long)format);
        goto done;
    }
    net = ex_h5_attr_str(*f, "network");
    if (!net || ex_h5_attr_num(*f, "network_fingerprint", H5T_NATIVE_UINT64, fp) != 0) {
        rc = st_err_set(err, ST_EINVAL, "%s: a trace without its network's name and fingerprint",
                        path);
        goto done;
    }
    snprintf(name, size, "%s", net);
done:
    if (rc != ST_OK && *f >= 0) {
        H5Fclose(*f);
        *f = -1;
    }
    free(kind);
    free(net);
    return rc;
}

int ex_trace_network(const char *path, char *name, size_t size, uint64_t *fp, st_err *err)
{
    hid_t f = -1;
    int rc = trace_file(path, &f, name, size, fp, err);

    if (f >= 0)
        H5Fclose(f);
    return rc;
}

/* Read dataset lname/name of group it (images x elems values) whole into buf. */
static int read_all(const ex_tracemem *t, hid_t it, const char *lname, const char *name,
                    size_t elems, uint8_t *buf, st_err *err)
{
    char path[64];
    hid_t d, sp = -1;
    hsize_t dims[4];
    int rc = ST_OK;

    snprintf(path, sizeof path, "%s/%s", lname, name);
    d = H5Dopen2(it, path, H5P_DEFAULT);
    if (d < 0 || (sp = H5Dget_space(d)) < 0 || H5Sget_simple_extent_ndims(sp) != 4 ||
        H5Sget_simple_extent_dims(sp, dims, NULL) != 4 ||
        (size_t)(dims[1] * dims[2] * dims[3]) != elems || dims[0] != (hsize_t)t->images) {
        rc = st_err_set(err, ST_EINVAL, "%s: %s/%s is missing, or is not %d images of %zu values",
                        t->path, t->iter, path, t->images, elems);
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = st_err_set(err, ST_EIO, "%s: cannot read %s/%s", t->path, t->iter, path);
done:
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* The first dimension of dataset name of group g (its images), or -1. */
static long images_of(hid_t g, const char *name)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), sp = -1;
    hsize_t dims[4];
    long n = -1;

    if (d >= 0 && (sp = H5Dget_space(d)) >= 0 && H5Sget_simple_extent_ndims(sp) == 4 &&
        H5Sget_simple_extent_dims(sp, dims, NULL) == 4)
        n = (long)dims[0];
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return n;
}

/* The size and SipHash of the file's bytes, read in pieces. */
static int file_hash(const char *path, uint64_t *bytes, uint64_t *fp, st_err *err)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[1 << 16];
    size_t n;
    int rc = ST_OK;

    *bytes = 0;
    *fp = 0x74726163u; /* "trac" */
    if (!f)
        return st_err_set(err, ST_EIO, "%s: cannot read it", path);
    /* Chained: the hash of each piece is keyed by the hash so far. */
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        *fp = ex_siphash(*fp, *bytes, buf, n);
        *bytes += n;
    }
    if (ferror(f))
        rc = st_err_set(err, ST_EIO, "%s: cannot read it", path);
    fclose(f);
    return rc;
}

int ex_trace_load(const char *path, const st_net *net, long iter, ex_tracemem **out, st_err *err)
{
    ex_tracemem *t = NULL;
    char name[ST_NAME_MAX], iname[32], lname[32];
    hid_t f = -1, it = -1, g = -1;
    uint64_t fp = 0;
    int rc, n = 0, k = 0, first = -1;

    *out = NULL;
    if ((rc = trace_file(path, &f, name, sizeof name, &fp, err)) != 0)
        goto done;
    if (fp != ex_net_fingerprint(net)) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: a trace of network '%s', not of '%s' (their layers differ)", path,
                        name, st_net_name(net));
        goto done;
    }
    if (iter >= 0) {
        snprintf(iname, sizeof iname, "iter_%06ld", iter);
    } else {
        /* the first iteration the trace holds */
        ssize_t len = H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, 0, iname, sizeof iname,
                                         H5P_DEFAULT);
        if (len <= 0 || strncmp(iname, "iter_", 5) != 0) {
            rc = st_err_set(err, ST_EINVAL, "%s: the trace holds no iteration", path);
            goto done;
        }
    }
    if ((it = H5Gopen2(f, iname, H5P_DEFAULT)) < 0) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: the trace holds no iteration %ld (sttrain --trace-iters chooses them)",
                        path, iter);
        goto done;
    }
    for (int i = 0; i < st_net_count(net); i++)
        if (st_kind_is_compute(st_net_layer(net, i)->kind) && n++ == 0)
            first = i;
    if ((rc = ex_tracemem_create(path, n, &t, err)) != 0)
        goto done;
    snprintf(t->net_name, sizeof t->net_name, "%s", st_net_name(net));
    snprintf(t->iter, sizeof t->iter, "%s", iname);
    snprintf(lname, sizeof lname, "layer_%03d/act", first);
    if (first < 0 || (t->images = (int)images_of(it, lname)) <= 0) {
        rc = st_err_set(err, ST_EINVAL, "%s: %s has no images of its first compute layer", path,
                        iname);
        goto done;
    }
    for (int i = 0; i < st_net_count(net); i++) {
        const st_layer *l = st_net_layer(net, i);
        if (!st_kind_is_compute(l->kind))
            continue;
        snprintf(lname, sizeof lname, "layer_%03d", i);
        if ((rc = ex_tracemem_layer_alloc(t, k, i, st_layer_in_elems(l), st_layer_out_elems(l),
                                          err)) != 0 ||
            (rc = read_all(t, it, lname, "act", t->layers[k].na, t->layers[k].act, err)) != 0 ||
            (rc = read_all(t, it, lname, "dz_out", t->layers[k].ng, t->layers[k].dz, err)) != 0)
            goto done;
        if ((g = H5Gopen2(it, lname, H5P_DEFAULT)) < 0 ||
            ex_h5_attr_num(g, "tau", H5T_NATIVE_DOUBLE, &t->layers[k].tau) != 0)
            t->layers[k].tau = 0;
        if (g >= 0)
            H5Gclose(g);
        g = -1;
        k++;
    }
    /* The training's own figures, when the trace has them (sttrain writes them). */
    if (ex_h5_attr_num(f, "test_accuracy", H5T_NATIVE_DOUBLE, &t->accuracy) != 0)
        t->accuracy = NAN;
    if (ex_h5_attr_num(f, "test_loss", H5T_NATIVE_DOUBLE, &t->test_loss) != 0)
        t->test_loss = NAN;
    if (ex_h5_attr_num(f, "train_loss", H5T_NATIVE_DOUBLE, &t->train_loss) != 0)
        t->train_loss = NAN;
    if ((rc = file_hash(path, &t->bytes, &t->fp, err)) != 0)
        goto done;
    *out = t;
    t = NULL;
done:
    if (it >= 0)
        H5Gclose(it);
    if (f >= 0)
        H5Fclose(f);
    ex_tracemem_destroy(&t);
    return rc;
}
