/*
 * stcalib - fit the statistical sparsity model to training traces (sttrain --trace):
 * measure, per compute layer, the densities of the input activations and of dZ before
 * and after the pruning over every traced iteration; fit ReLU densities and the
 * lognormal shape of dZ (core/calib.c); write the calibration file that stsim and the
 * explorer read with sparsity=calibrated, and show the fit. docs/sparsity.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"
#include "ex_h5attr.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */
#include "st.h"

#define EXIT_USAGE 2
#define TRACES_MAX 8

/* What one trace holds, summed over its iterations, per layer index. */
typedef struct measured {
    const char *path;
    st_net *net;
    double p, sigma_scale;
    int64_t prune, skip_zeros, prune_first, prune_fc;
    int iterations;
    long images;
    double *act, *dz_in, *dz_out; /* densities; -1 where the layer has none */
} measured;

static void usage(FILE *f)
{
    fputs("usage: stcalib [-o FILE] [--images N] TRACE.h5 [TRACE.h5 ...]\n"
          "\n"
          "Fit the statistical sparsity model to training traces written by sttrain\n"
          "--trace at p > 0: per compute layer, the densities of the input activations\n"
          "and of dZ before and after the pruning, over every iteration of the trace;\n"
          "from them the density of each ReLU (through the model) and the lognormal\n"
          "shape of dZ (closed form). One trace per family of networks: plain\n"
          "(Conv-ReLU) and bn (with batch norm). Prints the fit, measured against the\n"
          "calibrated model and the default one, and writes the calibration to FILE,\n"
          "which stsim --calib FILE reads, and which, as calib/fmnist.calib, is built\n"
          "into the simulator for sparsity=calibrated.\n"
          "\n"
          "options:\n"
          "  -o FILE        the calibration file to write (default: none, print only)\n"
          "  --images N     images of the model per layer for the fit and the table\n"
          "                 (default 32)\n"
          "  --version      the version and git revision\n"
          "  -h, --help     this text\n"
          "\n"
          "Bad input exits with status 2, an unreadable file with status 1.\n",
          f);
}

static void measured_fini(measured *m)
{
    st_net_destroy(&m->net);
    free(m->act);
    free(m->dz_in);
    free(m->dz_out);
}

/* The ones of dataset name of group g, and its element count, added to *ones and *n. */
static int count_mask(const char *path, hid_t g, const char *where, const char *name,
                      uint64_t *ones, uint64_t *n, st_err *err)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), sp = -1;
    hsize_t dims[4];
    uint8_t *buf = NULL;
    size_t total = 0;
    int rc = ST_OK;

    if (d < 0 || (sp = H5Dget_space(d)) < 0 || H5Sget_simple_extent_ndims(sp) != 4 ||
        H5Sget_simple_extent_dims(sp, dims, NULL) != 4) {
        rc =
            st_err_set(err, ST_EINVAL, "%s: %s/%s is missing or not a 4-D mask", path, where, name);
        goto done;
    }
    total = (size_t)(dims[0] * dims[1] * dims[2] * dims[3]);
    if (!(buf = malloc(total ? total : 1))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for %s/%s", path, where, name);
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        rc = st_err_set(err, ST_EIO, "%s: cannot read %s/%s", path, where, name);
        goto done;
    }
    for (size_t i = 0; i < total; i++)
        *ones += buf[i] != 0;
    *n += total;
done:
    free(buf);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* Open the trace at m->path, check it, build its network and measure every layer. */
static int measure(measured *m, st_err *err)
{
    hid_t f = -1, gi = -1, gl = -1;
    char *kind = NULL, *name = NULL, gname[64], where[96];
    int64_t format = 0;
    uint64_t fp = 0, *ones = NULL, *tot = NULL;
    H5G_info_t info;
    int nl, rc = ST_OK;

    if ((f = H5Fopen(m->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        FILE *probe = fopen(m->path, "rb");
        rc = probe
                 ? st_err_set(err, ST_EINVAL,
                              "%s: not an HDF5 file (a trace that sttrain --trace wrote)", m->path)
                 : st_err_set(err, ST_EIO, "%s: cannot open: %s", m->path, strerror(errno));
        if (probe)
            fclose(probe);
        goto done;
    }
    kind = ex_h5_attr_str(f, "kind");
    if (!kind || strcmp(kind, "sparsetrain-trace") != 0) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: not a training trace (no attribute kind = 'sparsetrain-trace')",
                        m->path);
        goto done;
    }
    if (ex_h5_attr_num(f, "format", H5T_NATIVE_INT64, &format) != 0 || format != 1) {
        rc = st_err_set(err, ST_EINVAL, "%s: trace format %lld, this program reads format 1",
                        m->path, (long long)format);
        goto done;
    }
    name = ex_h5_attr_str(f, "network");
    if (!name || st_net_builtin(name, &m->net, err) != 0) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: a trace of network '%s', which is not a built-in network: stcalib "
                        "calibrates from traces of built-in networks",
                        m->path, name ? name : "?");
        goto done;
    }
    if (ex_h5_attr_num(f, "network_fingerprint", H5T_NATIVE_UINT64, &fp) != 0 ||
        fp != ex_net_fingerprint(m->net)) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: its network '%s' is not the built-in '%s' (their layers differ)",
                        m->path, name, name);
        goto done;
    }
    if (ex_h5_attr_num(f, "p", H5T_NATIVE_DOUBLE, &m->p) ||
        ex_h5_attr_num(f, "prune", H5T_NATIVE_INT64, &m->prune) ||
        ex_h5_attr_num(f, "prune_sigma_scale", H5T_NATIVE_DOUBLE, &m->sigma_scale) ||
        ex_h5_attr_num(f, "prune_skip_zeros", H5T_NATIVE_INT64, &m->skip_zeros) ||
        ex_h5_attr_num(f, "prune_first", H5T_NATIVE_INT64, &m->prune_first) ||
        ex_h5_attr_num(f, "prune_fc", H5T_NATIVE_INT64, &m->prune_fc)) {
        rc = st_err_set(err, ST_EINVAL, "%s: the trace lacks its pruning attributes", m->path);
        goto done;
    }
    if (!m->prune || !(m->p > 0)) {
        rc = st_err_set(err, ST_EINVAL,
                        "%s: a run with p = %g%s: the law of dZ is fitted on what the pruning "
                        "removes, so the trace must come from a run with p > 0",
                        m->path, m->p, m->prune ? "" : " and the pruning off");
        goto done;
    }
    nl = st_net_count(m->net);
    m->act = malloc((size_t)nl * sizeof *m->act);
    m->dz_in = malloc((size_t)nl * sizeof *m->dz_in);
    m->dz_out = malloc((size_t)nl * sizeof *m->dz_out);
    ones = calloc((size_t)nl * 3, sizeof *ones);
    tot = calloc((size_t)nl * 3, sizeof *tot);
    if (!m->act || !m->dz_in || !m->dz_out || !ones || !tot) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", m->path);
        goto done;
    }
    if (H5Gget_info(f, &info) < 0) {
        rc = st_err_set(err, ST_EIO, "%s: cannot list its groups", m->path);
        goto done;
    }
    for (hsize_t k = 0; k < info.nlinks; k++) {
        ssize_t len = H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, k, gname, sizeof gname,
                                         H5P_DEFAULT);
        if (len <= 0 || (size_t)len >= sizeof gname || strncmp(gname, "iter_", 5) != 0)
            continue;
        if ((gi = H5Gopen2(f, gname, H5P_DEFAULT)) < 0) {
            rc = st_err_set(err, ST_EIO, "%s: cannot open %s", m->path, gname);
            goto done;
        }
        for (int i = 0; i < nl; i++) {
            char lname[32];
            uint64_t n_act = 0;
            if (!st_kind_is_compute(st_net_layer(m->net, i)->kind))
                continue;
            snprintf(lname, sizeof lname, "layer_%03d", i);
            snprintf(where, sizeof where, "%s/%s", gname, lname);
            if ((gl = H5Gopen2(gi, lname, H5P_DEFAULT)) < 0) {
                rc = st_err_set(err, ST_EINVAL, "%s: %s has no group %s (layer '%s')", m->path,
                                gname, lname, st_net_layer(m->net, i)->name);
                goto done;
            }
            n_act = tot[3 * i];
            if ((rc = count_mask(m->path, gl, where, "act", &ones[3 * i], &tot[3 * i], err)) ||
                (rc = count_mask(m->path, gl, where, "dz_in", &ones[3 * i + 1], &tot[3 * i + 1],
                                 err)) ||
                (rc = count_mask(m->path, gl, where, "dz_out", &ones[3 * i + 2], &tot[3 * i + 2],
                                 err)))
                goto done;
            if (m->iterations == 0 && m->images == 0)
                m->images =
                    (long)((tot[3 * i] - n_act) / st_layer_in_elems(st_net_layer(m->net, i)));
            H5Gclose(gl);
            gl = -1;
        }
        H5Gclose(gi);
        gi = -1;
        m->iterations++;
    }
    if (m->iterations == 0) {
        rc = st_err_set(err, ST_EINVAL, "%s: the trace holds no iteration", m->path);
        goto done;
    }
    for (int i = 0; i < nl; i++) {
        int c = st_kind_is_compute(st_net_layer(m->net, i)->kind);
        m->act[i] = c && tot[3 * i] ? (double)ones[3 * i] / (double)tot[3 * i] : -1;
        m->dz_in[i] = c && tot[3 * i + 1] ? (double)ones[3 * i + 1] / (double)tot[3 * i + 1] : -1;
        m->dz_out[i] = c && tot[3 * i + 2] ? (double)ones[3 * i + 2] / (double)tot[3 * i + 2] : -1;
    }
done:
    free(ones);
    free(tot);
    free(kind);
    free(name);
    if (gl >= 0)
        H5Gclose(gl);
    if (gi >= 0)
        H5Gclose(gi);
    if (f >= 0)
        H5Fclose(f);
    return rc;
}

static int layer_pruned(const measured *m, const st_layer *l)
{
    return !((l->first && !m->prune_first) || (l->kind == ST_FC && !m->prune_fc));
}

/* The k of st_calib_retention for layer i of the trace. */
static double retention_k(const measured *m, int i)
{
    double z = st_norm_quantile((1 + m->p) / 2);
    return z * m->sigma_scale * (m->skip_zeros ? 1.0 : m->dz_in[i]);
}

/* A growing text buffer. */
typedef struct text {
    char *s;
    size_t len, cap;
    int oom;
} text;

static void put(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    int w;

    for (;;) {
        va_start(ap, fmt);
        w = t->oom ? -1
                   : vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0)
            return;
        if (t->s && t->len + (size_t)w < t->cap) {
            t->len += (size_t)w;
            return;
        }
        size_t cap = (t->cap ? 2 * t->cap : 4096) + (size_t)w;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* Fit one trace and append its section to out. */
static int fit_section(const measured *m, int images, text *out, st_err *err)
{
    const st_net *net = m->net;
    int nl = st_net_count(net), fam = st_calib_family(net), rc;
    double *relu = calloc((size_t)nl, sizeof *relu), depth, sigma, r;
    static const char *const gname[] = {"relu conv", "relu fc", "sigma conv", "sigma fc"};

    if (!relu)
        return st_err_set(err, ST_ENOMEM, "out of memory");
    rc = st_calib_fit_relu(net, m->act, images, relu, err);
    if (rc) {
        free(relu);
        return rc;
    }
    put(out, "\nfamily %s %s\n", st_calib_family_name(fam), st_net_name(net));
    put(out,
        "# from %s: %d iterations of %ld images, p = %g, prune_sigma_scale = %g, "
        "prune_skip_zeros = %d\n",
        m->path, m->iterations, m->images, m->p, m->sigma_scale, (int)m->skip_zeros);
    for (int g = 0; g < ST_CALIB_GROUP_COUNT; g++)
        for (int i = 0; i < nl; i++) {
            const st_layer *l = st_net_layer(net, i);
            if (st_calib_group(net, i, &depth) != g)
                continue;
            if (g <= ST_CALIB_RELU_FC) {
                if (!(relu[i] > 0))
                    continue;
                put(out, "%s %.6f %.6f  # %s\n", gname[g], depth, relu[i], l->name);
            } else {
                if (!layer_pruned(m, l) || !(m->dz_in[i] > 0))
                    continue;
                r = m->dz_out[i] / m->dz_in[i];
                int far = st_calib_fit_sigma(r, retention_k(m, i), &sigma);
                put(out, "%s %.6f %.6f  # %s: dZ kept %.4f of %.4f%s\n", gname[g], depth, sigma,
                    l->name, r, m->dz_in[i], far ? " (out of the law's reach: closest sigma)" : "");
            }
        }
    free(relu);
    return ST_OK;
}

/* The model's mean densities of layer i over `images` images under cfg. */
static int model_densities(const st_net *net, const st_sparsity_cfg *cfg, int i, int images,
                           st_layer_masks *lm, double d[3], st_err *err)
{
    int rc = ST_OK;

    d[0] = d[1] = d[2] = 0;
    for (int k = 0; rc == ST_OK && k < images; k++) {
        rc = st_sparsity_layer(net, cfg, i, k, lm, err);
        d[0] += lm->act_density / images;
        d[1] += lm->grad_density_natural / images;
        d[2] += lm->grad_density / images;
    }
    return rc;
}

/* Print, per compute layer of the trace's network, measured against the calibrated model
 * and the default one, at the trace's pruning settings. */
static int show_fit(const measured *m, const st_calib *c, int images, st_err *err)
{
    const st_net *net = m->net;
    int nl = st_net_count(net), rc;
    st_sparsity_cfg cal, def;
    st_layer_masks lm;
    double *relu = calloc((size_t)nl, sizeof *relu), *sig = calloc((size_t)nl, sizeof *sig);
    double dc[3], dd[3];

    st_layer_masks_init(&lm);
    if (!relu || !sig) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory");
        goto done;
    }
    st_sparsity_cfg_init(&def);
    def.prune.p = m->p;
    def.prune.sigma_scale = m->sigma_scale;
    def.prune.skip_zeros = (int)m->skip_zeros;
    def.prune_first = (int)m->prune_first;
    def.prune_fc = (int)m->prune_fc;
    cal = def;
    if ((rc = st_calib_apply(c, net, &cal, relu, sig, err)) != 0)
        goto done;
    printf("%s (%s, p = %g, skip_zeros %s): measured / calibrated model / default model, "
           "%d model images\n",
           st_net_name(net), m->path, m->p, m->skip_zeros ? "yes" : "no", images);
    printf("  %-22s %-26s %-26s %-26s\n", "layer", "act", "dZ before pruning", "dZ after pruning");
    for (int i = 0; i < nl; i++) {
        if (!st_kind_is_compute(st_net_layer(net, i)->kind))
            continue;
        if ((rc = model_densities(net, &cal, i, images, &lm, dc, err)) != 0 ||
            (rc = model_densities(net, &def, i, images, &lm, dd, err)) != 0)
            goto done;
        printf("  %-22s %.4f / %.4f / %.4f   %.4f / %.4f / %.4f   %.4f / %.4f / %.4f\n",
               st_net_layer(net, i)->name, m->act[i], dc[0], dd[0], m->dz_in[i], dc[1], dd[1],
               m->dz_out[i], dc[2], dd[2]);
    }
done:
    st_layer_masks_fini(&lm);
    free(relu);
    free(sig);
    return rc;
}

/* Write text to path through path.tmp, so that path is whole or untouched. */
static int save(const char *path, const char *s, size_t len, st_err *err)
{
    char tmp[4096];
    FILE *f;
    int rc = ST_OK;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return st_err_set(err, ST_EINVAL, "-o %.60s...: path too long", path);
    if (!(f = fopen(tmp, "w")))
        return st_err_set(err, ST_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    if (fwrite(s, 1, len, f) != len)
        rc = st_err_set(err, ST_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == ST_OK)
        rc = st_err_set(err, ST_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (rc == ST_OK && rename(tmp, path) != 0)
        rc = st_err_set(err, ST_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != ST_OK)
        remove(tmp);
    return rc;
}

int main(int argc, char **argv)
{
    measured m[TRACES_MAX];
    const char *out = NULL;
    long images = 32;
    int n = 0, rc = ST_OK, seen[ST_CALIB_FAMILY_COUNT] = {0};
    st_calib *calib = NULL;
    text t = {0};
    st_err err;

    st_err_clear(&err);
    memset(m, 0, sizeof m);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("stcalib %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--images")) {
            char *end;
            if (i + 1 == argc) {
                fprintf(stderr, "stcalib: %s needs a value\n", a);
                return EXIT_USAGE;
            }
            if (!strcmp(a, "-o")) {
                out = argv[++i];
                continue;
            }
            errno = 0;
            images = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || errno || images < 1 || images > 1024) {
                fprintf(stderr, "stcalib: --images %s: must be a whole number in [1, 1024]\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stcalib: unknown option '%s' (see stcalib --help)\n", a);
            return EXIT_USAGE;
        } else if (n == TRACES_MAX) {
            fprintf(stderr, "stcalib: more than %d traces\n", TRACES_MAX);
            return EXIT_USAGE;
        } else {
            m[n++].path = a;
        }
    }
    if (n == 0) {
        fputs("stcalib: no trace given (see stcalib --help)\n", stderr);
        return EXIT_USAGE;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    put(&t, "sparsetrain-calibration 1\n"
            "# The statistical sparsity model fitted on training traces by stcalib "
            "(docs/sparsity.md).\n"
            "# relu GROUP DEPTH DENSITY: density of the ReLUs of GROUP at relative depth DEPTH\n"
            "# sigma GROUP DEPTH SIGMA: lognormal shape of dZ of the compute layers of GROUP\n");
    for (int k = 0; k < n && rc == ST_OK; k++) {
        int fam;
        if ((rc = measure(&m[k], &err)) != 0)
            break;
        fam = st_calib_family(m[k].net);
        if (seen[fam]) {
            rc = st_err_set(&err, ST_EINVAL,
                            "%s: a second trace of the family '%s' (networks %s batch norm); "
                            "give one per family",
                            m[k].path, st_calib_family_name(fam),
                            fam == ST_CALIB_FAMILY_BN ? "with" : "without");
            break;
        }
        seen[fam] = 1;
        rc = fit_section(&m[k], (int)images, &t, &err);
    }
    if (rc == ST_OK && t.oom)
        rc = st_err_set(&err, ST_ENOMEM, "out of memory for the calibration's text");
    if (rc == ST_OK && !(calib = malloc(sizeof *calib)))
        rc = st_err_set(&err, ST_ENOMEM, "out of memory");
    /* what is written must read back */
    if (rc == ST_OK)
        rc = st_calib_parse(t.s, out ? out : "the calibration", calib, &err);
    for (int k = 0; k < n && rc == ST_OK; k++)
        rc = show_fit(&m[k], calib, (int)images, &err);
    if (rc == ST_OK && out)
        rc = save(out, t.s, t.len, &err);
    if (rc == ST_OK && !out)
        fputs(t.s, stdout);
    if (rc != ST_OK)
        fprintf(stderr, "stcalib: %s\n", err.msg);
    for (int k = 0; k < n; k++)
        measured_fini(&m[k]);
    free(calib);
    free(t.s);
    return rc == ST_OK ? 0 : rc == ST_EIO || rc == ST_ENOMEM ? 1 : EXIT_USAGE;
}
