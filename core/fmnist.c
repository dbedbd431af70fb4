/*
 * fmnist.c - the Fashion-MNIST reader: IDX files (LeCun's format: a big-endian magic,
 * the dimensions, then unsigned bytes) compressed with gzip, read through zlib.
 * What the images are used for is train.c's business.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "train.h"

#define IDX_IMAGES     0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS     0x00000801u /* unsigned bytes, 1 dimension */
#define FMNIST_CLASSES 10
#define FMNIST_PACKAGE "dataset-fashion-mnist"

/* Read exactly n bytes; a short read is truncation (ST_EFORMAT) or an I/O error. */
static int read_all(gzFile f, const char *path, void *buf, size_t n, const char *what, st_err *err)
{
    unsigned char *p = buf;
    int got, zerr;

    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        got = gzread(f, p, chunk);
        if (got < 0) {
            const char *m = gzerror(f, &zerr);
            return st_err_set(err, zerr == Z_ERRNO ? ST_EIO : ST_EFORMAT, "%s: reading %s: %s",
                              path, what, zerr == Z_ERRNO ? strerror(errno) : m);
        }
        if (got == 0)
            return st_err_set(err, ST_EFORMAT, "%s: truncated: %zu bytes of %s missing", path, n,
                              what);
        p += got;
        n -= (size_t)got;
    }
    return ST_OK;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Open dir/name; a missing file names the package that provides it. */
static int open_gz(const char *dir, const char *name, char *path, size_t size, gzFile *f,
                   st_err *err)
{
    FILE *probe;

    snprintf(path, size, "%s/%s", dir, name);
    probe = fopen(path, "rb");
    if (!probe) {
        int e = errno;
        if (e == ENOENT)
            return st_err_set(err, ST_EIO,
                              "%s: %s (Fashion-MNIST comes with the Debian package %s: "
                              "apt-get install %s)",
                              path, strerror(e), FMNIST_PACKAGE, FMNIST_PACKAGE);
        return st_err_set(err, ST_EIO, "%s: %s", path, strerror(e));
    }
    fclose(probe);
    *f = gzopen(path, "rb");
    if (!*f)
        return st_err_set(err, ST_EIO, "%s: %s", path, errno ? strerror(errno) : "out of memory");
    return ST_OK;
}

int st_fmnist_load(const char *dir, const char *split, int limit, st_dataset *d, st_err *err)
{
    char path[4096], name[64];
    unsigned char hdr[16], *raw = NULL;
    gzFile f = NULL;
    st_dataset r = {0};
    uint32_t n_img, n_lab, rows, cols;
    size_t pix;
    int rc = ST_OK;

    if (d)
        memset(d, 0, sizeof *d);
    if (!d || !dir) {
        rc = st_err_set(err, ST_EINVAL, "st_fmnist_load: %s is NULL", d ? "dir" : "d");
        goto done;
    }
    if (!split || (strcmp(split, "train") && strcmp(split, "t10k"))) {
        rc = st_err_set(err, ST_EINVAL, "split '%s': must be 'train' or 't10k'",
                        split ? split : "(null)");
        goto done;
    }
    if (limit < 0) {
        rc = st_err_set(err, ST_EINVAL, "limit = %d: must be >= 0 (0: every image)", limit);
        goto done;
    }
    /* images */
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", split);
    if ((rc = open_gz(dir, name, path, sizeof path, &f, err)) != 0 ||
        (rc = read_all(f, path, hdr, 16, "the header", err)) != 0)
        goto done;
    if (be32(hdr) != IDX_IMAGES) {
        rc = st_err_set(err, ST_EFORMAT, "%s: magic 0x%08x: an IDX image file has 0x%08x", path,
                        be32(hdr), IDX_IMAGES);
        goto done;
    }
    n_img = be32(hdr + 4), rows = be32(hdr + 8), cols = be32(hdr + 12);
    if (n_img < 1 || n_img > (1u << 24) || rows < 1 || rows > 4096 || cols < 1 || cols > 4096) {
        rc = st_err_set(err, ST_EFORMAT, "%s: %u images of %ux%u: out of range", path, n_img, rows,
                        cols);
        goto done;
    }
    r.n = (int)n_img;
    if (limit > 0 && limit < r.n)
        r.n = limit;
    r.c = 1, r.h = (int)rows, r.w = (int)cols, r.classes = FMNIST_CLASSES;
    pix = (size_t)rows * cols;
    raw = malloc((size_t)r.n * pix);
    r.images = malloc((size_t)r.n * pix * sizeof *r.images);
    r.labels = malloc((size_t)r.n);
    if (!raw || !r.images || !r.labels) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for %d images", path, r.n);
        goto done;
    }
    if ((rc = read_all(f, path, raw, (size_t)r.n * pix, "pixels", err)) != 0)
        goto done;
    for (size_t i = 0; i < (size_t)r.n * pix; i++)
        r.images[i] = (float)raw[i] * (1.0f / 255.0f);
    gzclose(f);
    f = NULL;
    /* labels */
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", split);
    if ((rc = open_gz(dir, name, path, sizeof path, &f, err)) != 0 ||
        (rc = read_all(f, path, hdr, 8, "the header", err)) != 0)
        goto done;
    if (be32(hdr) != IDX_LABELS) {
        rc = st_err_set(err, ST_EFORMAT, "%s: magic 0x%08x: an IDX label file has 0x%08x", path,
                        be32(hdr), IDX_LABELS);
        goto done;
    }
    n_lab = be32(hdr + 4);
    if (n_lab != n_img) {
        rc = st_err_set(err, ST_EFORMAT, "%s: %u labels for %u images", path, n_lab, n_img);
        goto done;
    }
    if ((rc = read_all(f, path, r.labels, (size_t)r.n, "labels", err)) != 0)
        goto done;
    for (int i = 0; i < r.n; i++)
        if (r.labels[i] >= FMNIST_CLASSES) {
            rc = st_err_set(err, ST_EFORMAT, "%s: label %d of image %d: must be below %d", path,
                            r.labels[i], i, FMNIST_CLASSES);
            goto done;
        }
    *d = r;
    memset(&r, 0, sizeof r);
done:
    if (f)
        gzclose(f);
    free(raw);
    st_dataset_fini(&r);
    return rc;
}

void st_dataset_fini(st_dataset *d)
{
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
