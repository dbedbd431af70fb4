/*
 * ex_trace.c - the zero masks of a training trace (written by sttrain, laid out
 * as docs/training.md says) as a mask source of the engine, so that stsim
 * replays the sparsity of real training. What the engine does with the masks
 * is core's; how they were recorded is the trainer's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"
#include "ex_h5attr.h"

struct ex_trace {
    hid_t f, it; /* the file, the iteration's group */
    char *path;
    char iter[32]; /* the iteration's group name */
    int images;    /* images of each layer in the iteration */
};

void ex_trace_close(ex_trace **tp)
{
    ex_trace *t = tp ? *tp : NULL;

    if (!t)
        return;
    if (t->it >= 0)
        H5Gclose(t->it);
    if (t->f >= 0)
        H5Fclose(t->f);
    free(t->path);
    free(t);
    *tp = NULL;
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

int ex_trace_open(const char *path, const st_net *net, long iter, ex_trace **out, st_err *err)
{
    ex_trace *t = NULL;
    char *kind = NULL, *name = NULL, lname[32];
    int64_t format = 0;
    uint64_t fp = 0;
    int rc = 0, first = -1;

    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!(t = calloc(1, sizeof *t)) || !(t->path = strdup(path))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    t->it = -1;
    if ((t->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        rc = st_err_set(err, ST_EIO,
                        "%s: cannot open it as an HDF5 file (a trace that sttrain "
                        "--trace wrote)",
                        path);
        goto done;
    }
    kind = ex_h5_attr_str(t->f, "kind");
    if (!kind || strcmp(kind, "sparsetrain-trace") != 0) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: not a training trace (no attribute kind = "
                        "'sparsetrain-trace')",
                        path);
        goto done;
    }
    if (ex_h5_attr_num(t->f, "format", H5T_NATIVE_INT64, &format) != 0 || format != 1) {
        rc = st_err_set(err, ST_EINVAL, "%s: trace format %lld, this program reads format 1", path,
                        (long long)format);
        goto done;
    }
    name = ex_h5_attr_str(t->f, "network");
    if (ex_h5_attr_num(t->f, "network_fingerprint", H5T_NATIVE_UINT64, &fp) != 0 ||
        fp != ex_net_fingerprint(net)) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: a trace of network '%s', not of '%s' (their layers "
                        "differ)",
                        path, name ? name : "?", st_net_name(net));
        goto done;
    }
    if (iter >= 0) {
        snprintf(t->iter, sizeof t->iter, "iter_%06ld", iter);
    } else {
        /* the first iteration the trace holds */
        ssize_t n = H5Lget_name_by_idx(t->f, ".", H5_INDEX_NAME, H5_ITER_INC, 0, t->iter,
                                       sizeof t->iter, H5P_DEFAULT);
        if (n <= 0 || strncmp(t->iter, "iter_", 5) != 0) {
            rc = st_err_set(err, ST_EINVAL, "%s: the trace holds no iteration", path);
            goto done;
        }
    }
    if ((t->it = H5Gopen2(t->f, t->iter, H5P_DEFAULT)) < 0) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: the trace holds no iteration %ld (sttrain "
                        "--trace-iters chooses them)",
                        path, iter);
        goto done;
    }
    for (int i = 0; i < st_net_count(net) && first < 0; i++)
        if (st_kind_is_compute(st_net_layer(net, i)->kind))
            first = i;
    snprintf(lname, sizeof lname, "layer_%03d/act", first);
    if (first < 0 || (t->images = (int)images_of(t->it, lname)) <= 0) {
        rc = st_err_set(err, ST_EINVAL, "%s: %s has no images of its first compute layer", path,
                        t->iter);
        goto done;
    }
    *out = t;
    t = NULL;
done:
    free(kind);
    free(name);
    ex_trace_close(&t);
    return rc;
}

int ex_trace_images(const ex_trace *t)
{
    return t->images;
}

const char *ex_trace_iteration(const ex_trace *t)
{
    return t->iter;
}

/* Read image `image` of dataset name (b x elems) of group g into buf. */
static int read_image(const ex_trace *t, hid_t g, const char *lname, const char *name, int image,
                      size_t elems, uint8_t *buf, st_err *err)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), sp = -1, ms = -1;
    hsize_t dims[4], start[4] = {0}, count[4];
    int rc = 0;

    if (d < 0 || (sp = H5Dget_space(d)) < 0 || H5Sget_simple_extent_ndims(sp) != 4 ||
        H5Sget_simple_extent_dims(sp, dims, NULL) != 4 ||
        (size_t)(dims[1] * dims[2] * dims[3]) != elems || (hsize_t)image >= dims[0]) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: %s/%s/%s is missing, or is not images of %zu "
                        "values",
                        t->path, t->iter, lname, name, elems);
        goto done;
    }
    start[0] = (hsize_t)image;
    count[0] = 1, count[1] = dims[1], count[2] = dims[2], count[3] = dims[3];
    if (H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (ms = H5Screate_simple(4, count, NULL)) < 0 ||
        H5Dread(d, H5T_NATIVE_UINT8, ms, sp, H5P_DEFAULT, buf) < 0)
        rc = st_err_set(err, ST_EIO, "%s: cannot read %s/%s/%s", t->path, t->iter, lname, name);
done:
    if (ms >= 0)
        H5Sclose(ms);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

static double density(const uint8_t *m, size_t n)
{
    size_t z = 0;

    for (size_t i = 0; i < n; i++)
        z += m[i] != 0;
    return n ? (double)z / (double)n : 0;
}

int ex_trace_masks(void *ctx, const st_net *net, int layer, int image, const uint8_t *act_want,
                   const uint8_t *grad_want, st_layer_masks *m, st_err *err)
{
    const ex_trace *t = ctx;
    const st_layer *l = st_net_layer(net, layer);
    size_t na = st_layer_in_elems(l), ng = st_layer_out_elems(l);
    char lname[32];
    hid_t g;
    int rc;

    (void)act_want, (void)grad_want; /* a trace holds whole tensors: every row */
    m->layer = -1;
    snprintf(lname, sizeof lname, "layer_%03d", layer);
    if (image >= t->images)
        return st_err_set(err, ST_EINVAL, "%s: image %d of layer '%s': %s holds %d images", t->path,
                          image, l->name, t->iter, t->images);
    if ((rc = st_layer_masks_reserve(m, na, ng, err)) != 0)
        return rc;
    if ((g = H5Gopen2(t->it, lname, H5P_DEFAULT)) < 0)
        return st_err_set(err, ST_EINVAL, "%s: %s has no group %s (layer '%s')", t->path, t->iter,
                          lname, l->name);
    rc = read_image(t, g, lname, "act", image, na, m->act_in, err);
    if (rc == 0)
        rc = read_image(t, g, lname, "dz_out", image, ng, m->grad, err);
    if (rc == 0 && ex_h5_attr_num(g, "tau", H5T_NATIVE_DOUBLE, &m->tau) != 0)
        m->tau = 0;
    H5Gclose(g);
    if (rc != 0)
        return rc;
    m->layer = layer;
    m->act_density = density(m->act_in, na);
    m->grad_density = m->grad_density_natural = density(m->grad, ng);
    m->chan_known = 0;
    return 0;
}
