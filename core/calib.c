/*
 * calib.c - the calibration of the statistical sparsity model from training traces: the
 * file that holds it (parse, load, the copy built into the library), how a network takes
 * its values (family, group, relative depth), and the fits themselves (ReLU densities
 * through the model, the lognormal shape of dZ in closed form). Reading traces is the
 * explorer's (stcalib, which links HDF5); drawing masks is sparsity.c's.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

#define CALIB_MAGIC    "sparsetrain-calibration"
#define CALIB_FORMAT   1
#define LINE_MAX_CHARS 512
#define FILE_MAX_BYTES (1 << 20)
#define SIGMA_MAX      10.0 /* the bound of the row lognormal_sigma */

/* The calibration file made by stcalib from calib/fmnist.calib at build time
 * (core/CMakeLists.txt writes it into the build tree). */
extern const char st_calib_builtin_text[];

static const char *const family_names[ST_CALIB_FAMILY_COUNT] = {"plain", "bn"};
static const char *const group_words[ST_CALIB_GROUP_COUNT][2] = {
    {"relu", "conv"}, {"relu", "fc"}, {"sigma", "conv"}, {"sigma", "fc"}};

const char *st_calib_family_name(int family)
{
    return family >= 0 && family < ST_CALIB_FAMILY_COUNT ? family_names[family] : "unknown";
}

/* ------------------------------------------------------------------ the file */

/* Split line into at most max whitespace-separated words, a '#' ending it; the count, or
 * max + 1 when there are more. */
static int split(char *line, char **w, int max)
{
    int n = 0;
    char *p = line, *hash = strchr(line, '#');

    if (hash)
        *hash = '\0';
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            break;
        if (n == max)
            return max + 1;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int parse_num(const char *s, double *v)
{
    char *end;

    errno = 0;
    *v = strtod(s, &end);
    return end == s || *end || errno == ERANGE || !isfinite(*v) ? -1 : 0;
}

/* One line of a section: "relu|sigma conv|fc DEPTH VALUE". */
static int parse_row(st_calib *c, st_calib_section *sec, char **w, int nw, int line, st_err *err)
{
    int g = -1, k;
    double depth, value, hi;

    for (k = 0; k < ST_CALIB_GROUP_COUNT; k++)
        if (nw >= 2 && !strcmp(w[0], group_words[k][0]) && !strcmp(w[1], group_words[k][1]))
            g = k;
    if (g < 0)
        return st_err_set(err, ST_EINVAL,
                          "%s:%d: '%s %s': the groups are relu conv, relu fc, "
                          "sigma conv, sigma fc",
                          c->name, line, w[0], nw >= 2 ? w[1] : "");
    if (nw != 4)
        return st_err_set(err, ST_EINVAL, "%s:%d: '%s %s' needs a depth and a value", c->name, line,
                          w[0], w[1]);
    if (parse_num(w[2], &depth) || depth < 0 || depth > 1)
        return st_err_set(err, ST_EINVAL, "%s:%d: depth '%s': must be a number in [0, 1]", c->name,
                          line, w[2]);
    hi = g <= ST_CALIB_RELU_FC ? 1.0 : SIGMA_MAX;
    if (parse_num(w[3], &value) || value <= 0 || value > hi)
        return st_err_set(err, ST_EINVAL, "%s:%d: %s '%s': must be a number in (0, %g]", c->name,
                          line, g <= ST_CALIB_RELU_FC ? "density" : "sigma", w[3], hi);
    k = sec->n[g];
    if (k > 0 && depth <= sec->depth[g][k - 1])
        return st_err_set(err, ST_EINVAL, "%s:%d: depth %s: the depths of '%s %s' must increase",
                          c->name, line, w[2], w[0], w[1]);
    if (k == ST_CALIB_POINTS)
        return st_err_set(err, ST_EINVAL, "%s:%d: more than %d rows of '%s %s'", c->name, line,
                          ST_CALIB_POINTS, w[0], w[1]);
    sec->depth[g][k] = depth;
    sec->value[g][k] = value;
    sec->n[g] = k + 1;
    return ST_OK;
}

static int parse_lines(const char *text, st_calib *c, st_err *err)
{
    char buf[LINE_MAX_CHARS], *w[8];
    st_calib_section *sec = NULL;
    const char *p = text, *nl;
    int line = 0, nw, f, magic = 0, rc = ST_OK;
    size_t len;

    while (rc == ST_OK && *p) {
        line++;
        nl = strchr(p, '\n');
        len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= sizeof buf)
            return st_err_set(err, ST_EINVAL, "%s:%d: longer than %d characters", c->name, line,
                              LINE_MAX_CHARS - 1);
        memcpy(buf, p, len);
        buf[len] = '\0';
        p += len + (nl != NULL);
        nw = split(buf, w, 6);
        if (nw == 0)
            continue;
        if (!magic) {
            if (nw != 2 || strcmp(w[0], CALIB_MAGIC) || strcmp(w[1], "1"))
                return st_err_set(err, ST_EINVAL,
                                  "%s:%d: not a calibration file (the first line must be '%s %d', "
                                  "as stcalib writes it)",
                                  c->name, line, CALIB_MAGIC, CALIB_FORMAT);
            magic = 1;
        } else if (!strcmp(w[0], "family")) {
            for (f = 0; f < ST_CALIB_FAMILY_COUNT && (nw < 2 || strcmp(w[1], family_names[f]));)
                f++;
            if (nw != 3 || f == ST_CALIB_FAMILY_COUNT)
                return st_err_set(err, ST_EINVAL,
                                  "%s:%d: 'family' needs a family (plain or bn) and the network "
                                  "it was fitted on",
                                  c->name, line);
            if (c->fam[f].present)
                return st_err_set(err, ST_EINVAL, "%s:%d: a second section of family %s", c->name,
                                  line, w[1]);
            sec = &c->fam[f];
            sec->present = 1;
            snprintf(sec->source, sizeof sec->source, "%s", w[2]);
        } else if (!sec) {
            return st_err_set(err, ST_EINVAL, "%s:%d: '%s' before any 'family' line", c->name, line,
                              w[0]);
        } else {
            rc = parse_row(c, sec, w, nw > 5 ? 5 : nw, line, err);
        }
    }
    if (rc == ST_OK && !magic)
        rc = st_err_set(err, ST_EINVAL, "%s: empty, not a calibration file", c->name);
    if (rc == ST_OK && !c->fam[0].present && !c->fam[1].present)
        rc = st_err_set(err, ST_EINVAL, "%s: no 'family' section", c->name);
    return rc;
}

int st_calib_parse(const char *text, const char *name, st_calib *c, st_err *err)
{
    int rc;

    if (!c)
        return st_err_set(err, ST_EINVAL, "st_calib_parse: calibration is NULL");
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name ? name : "calibration");
    if (!text)
        return st_err_set(err, ST_EINVAL, "%s: no text", c->name);
    rc = parse_lines(text, c, err);
    if (rc)
        memset(c->fam, 0, sizeof c->fam);
    return rc;
}

int st_calib_load(const char *path, st_calib *c, st_err *err)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t n;
    int rc = ST_OK;

    if (c)
        memset(c, 0, sizeof *c);
    if (!path || !c)
        return st_err_set(err, ST_EINVAL, "st_calib_load: %s is NULL", !path ? "path" : "c");
    errno = 0;
    if (!(f = fopen(path, "rb"))) {
        rc = st_err_set(err, ST_EIO, "%s: cannot open the calibration: %s", path,
                        errno ? strerror(errno) : "unknown error");
        goto done;
    }
    if (!(text = malloc(FILE_MAX_BYTES + 1))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    n = fread(text, 1, FILE_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = st_err_set(err, ST_EIO, "%s: cannot read the calibration", path);
        goto done;
    }
    if (n > FILE_MAX_BYTES || memchr(text, '\0', n)) {
        rc = st_err_set(err, ST_EINVAL, "%s: not a calibration file (%s)", path,
                        n > FILE_MAX_BYTES ? "larger than 1 MiB" : "it holds a NUL byte");
        goto done;
    }
    text[n] = '\0';
    rc = st_calib_parse(text, path, c, err);
done:
    if (f)
        fclose(f);
    free(text);
    return rc;
}

int st_calib_builtin(st_calib *c, st_err *err)
{
    return st_calib_parse(st_calib_builtin_text, "calib/fmnist.calib (built in)", c, err);
}

/* ------------------------------------------------- how a network takes them */

int st_calib_family(const st_net *net)
{
    for (int i = 0; i < st_net_count(net); i++)
        if (st_net_layer(net, i)->kind == ST_BN)
            return ST_CALIB_FAMILY_BN;
    return ST_CALIB_FAMILY_PLAIN;
}

/* The group of layer i alone, or -1. A ReLU's producer is the compute layer found by
 * following first sources back through the other kinds (BN, add, pooling). */
static int group_of(const st_net *net, int i)
{
    const st_layer *l = st_net_layer(net, i);
    int s;

    if (l->kind == ST_CONV)
        return ST_CALIB_SIGMA_CONV;
    if (l->kind == ST_FC)
        return ST_CALIB_SIGMA_FC;
    if (l->kind != ST_RELU)
        return -1;
    for (s = l->src[0]; s >= 0 && !st_kind_is_compute(st_net_layer(net, s)->kind);)
        s = st_net_layer(net, s)->src[0];
    return s >= 0 && st_net_layer(net, s)->kind == ST_FC ? ST_CALIB_RELU_FC : ST_CALIB_RELU_CONV;
}

int st_calib_group(const st_net *net, int i, double *depth)
{
    int g = group_of(net, i), k = 0, n = 0;

    *depth = 0.0;
    if (g < 0)
        return -1;
    for (int j = 0; j < st_net_count(net); j++)
        if (group_of(net, j) == g) {
            k += j < i;
            n++;
        }
    *depth = n > 1 ? (double)k / (double)(n - 1) : 0.0;
    return g;
}

/* The value of group g of sec at depth x: linear between the points, the end values
 * beyond them. */
static double interp(const st_calib_section *sec, int g, double x)
{
    const double *d = sec->depth[g], *v = sec->value[g];
    int n = sec->n[g], k;

    if (x <= d[0])
        return v[0];
    if (x >= d[n - 1])
        return v[n - 1];
    for (k = 1; d[k] < x; k++)
        ;
    return v[k - 1] + (v[k] - v[k - 1]) * (x - d[k - 1]) / (d[k] - d[k - 1]);
}

int st_calib_apply(const st_calib *c, const st_net *net, st_sparsity_cfg *cfg, double *relu,
                   double *sigma, st_err *err)
{
    int f, g, other;
    const st_calib_section *sec;
    double x;

    if (!c || !net || !cfg || !relu || !sigma)
        return st_err_set(err, ST_EINVAL, "st_calib_apply: an argument is NULL");
    f = st_calib_family(net);
    sec = &c->fam[f];
    if (!sec->present) {
        other = 1 - f;
        return st_err_set(err, ST_EINVAL,
                          "%s holds no calibration of the family '%s' (networks %s batch norm), "
                          "which network '%s' needs; it has family '%s' (fitted on %s) only",
                          c->name, family_names[f], f == ST_CALIB_FAMILY_BN ? "with" : "without",
                          st_net_name(net), family_names[other],
                          c->fam[other].present ? c->fam[other].source : "nothing");
    }
    for (int i = 0; i < st_net_count(net); i++) {
        relu[i] = sigma[i] = 0.0;
        if ((g = st_calib_group(net, i, &x)) < 0)
            continue;
        if (sec->n[g] == 0)
            return st_err_set(err, ST_EINVAL,
                              "%s: family '%s' (fitted on %s) has no '%s %s' rows, which layer "
                              "'%s' of network '%s' needs",
                              c->name, family_names[f], sec->source, group_words[g][0],
                              group_words[g][1], st_net_layer(net, i)->name, st_net_name(net));
        if (g <= ST_CALIB_RELU_FC)
            relu[i] = interp(sec, g, x);
        else
            sigma[i] = interp(sec, g, x);
    }
    cfg->relu_density_by_layer = relu;
    cfg->lognormal_sigma_by_layer = sigma;
    cfg->grad_law = ST_LAW_LOGNORMAL;
    return ST_OK;
}

int st_calib_cfg(const st_point *pt, const st_net *net, const st_calib *calib, st_sparsity_cfg *cfg,
                 st_calib_own *own, st_err *err)
{
    st_calib *builtin = NULL;
    size_t n;
    int rc = ST_OK;

    own->relu = own->sigma = NULL;
    st_point_sparsity(pt, cfg);
    if (pt->sparsity != ST_SPARSITY_CALIBRATED)
        return ST_OK;
    n = (size_t)st_net_count(net);
    own->relu = calloc(n ? n : 1, sizeof *own->relu);
    own->sigma = calloc(n ? n : 1, sizeof *own->sigma);
    if (!own->relu || !own->sigma) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the calibration of '%s'",
                        st_net_name(net));
        goto done;
    }
    if (!calib) {
        if (!(builtin = malloc(sizeof *builtin))) {
            rc = st_err_set(err, ST_ENOMEM, "out of memory for the calibration");
            goto done;
        }
        if ((rc = st_calib_builtin(builtin, err)) != 0)
            goto done;
        calib = builtin;
    }
    rc = st_calib_apply(calib, net, cfg, own->relu, own->sigma, err);
done:
    free(builtin);
    if (rc)
        st_calib_own_fini(own);
    return rc;
}

void st_calib_own_fini(st_calib_own *own)
{
    if (own) {
        free(own->relu);
        free(own->sigma);
        own->relu = own->sigma = NULL;
    }
}

/* ------------------------------------------------------------------- the fits */

double st_calib_retention(double sigma, double k)
{
    double a;

    if (k <= 0)
        return 1.0; /* tau = 0: nothing is pruned */
    a = log(k) / sigma;
    return 1.0 - st_norm_cdf(a + sigma / 2) + st_norm_cdf(a - sigma / 2) / k;
}

/* The retention falls from its peak to 0 as sigma grows: find the peak on a grid, then
 * bisect on [peak, SIGMA_MAX]. */
int st_calib_fit_sigma(double r, double k, double *sigma)
{
    double lo = 1e-3, hi = SIGMA_MAX, best = lo, rbest = -1, s, v;
    int i;

    for (i = 0; i <= 1000; i++) {
        s = 1e-3 + (SIGMA_MAX - 1e-3) * i / 1000.0;
        v = st_calib_retention(s, k);
        if (v > rbest) {
            rbest = v;
            best = s;
        }
    }
    if (r >= rbest) {
        *sigma = best;
        return r > rbest + 1e-9;
    }
    if (r <= st_calib_retention(hi, k)) {
        *sigma = hi;
        return 1;
    }
    lo = best;
    for (i = 0; i < 200 && hi - lo > 1e-12; i++) {
        s = 0.5 * (lo + hi);
        if (st_calib_retention(s, k) > r)
            lo = s;
        else
            hi = s;
    }
    *sigma = 0.5 * (lo + hi);
    return 0;
}

/* The ReLU that compute layer c reads directly or through max or average pooling only,
 * or -1. */
static int relu_read_by(const st_net *net, int c)
{
    int s = st_net_layer(net, c)->src[0];

    while (s >= 0 &&
           (st_net_layer(net, s)->kind == ST_MAXPOOL || st_net_layer(net, s)->kind == ST_AVGPOOL))
        s = st_net_layer(net, s)->src[0];
    return s >= 0 && st_net_layer(net, s)->kind == ST_RELU ? s : -1;
}

/* The model's mean act_density of layer c over `images` images, ReLU r at density d. */
static int model_act(const st_net *net, st_sparsity_cfg *cfg, double *by, int r, double d, int c,
                     int images, st_layer_masks *m, double *out, st_err *err)
{
    double sum = 0.0;
    int rc = ST_OK;

    by[r] = d;
    for (int i = 0; rc == ST_OK && i < images; i++) {
        rc = st_sparsity_layer(net, cfg, c, i, m, err);
        sum += m->act_density;
    }
    *out = sum / images;
    return rc;
}

int st_calib_fit_relu(const st_net *net, const double *act, int images, double *relu, st_err *err)
{
    st_sparsity_cfg cfg;
    st_layer_masks m;
    double *by = NULL, lo, hi, mid, got;
    int n = st_net_count(net), r, rc = ST_OK;

    if (images < 1)
        return st_err_set(err, ST_EINVAL, "images = %d: must be at least 1", images);
    st_layer_masks_init(&m);
    st_sparsity_cfg_init(&cfg);
    if (!(by = calloc((size_t)(n ? n : 1), sizeof *by))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for %d densities", n);
        goto done;
    }
    cfg.relu_density_by_layer = by;
    for (int i = 0; i < n; i++)
        relu[i] = 0.0;
    for (int c = 0; rc == ST_OK && c < n; c++) {
        if (!st_kind_is_compute(st_net_layer(net, c)->kind) || !(act[c] >= 0) ||
            (r = relu_read_by(net, c)) < 0 || relu[r] > 0)
            continue;
        /* the model's density rises with d (the same uniforms, u < d): bisect */
        lo = 1e-6, hi = 1.0;
        for (int it = 0; rc == ST_OK && it < 40; it++) {
            mid = 0.5 * (lo + hi);
            rc = model_act(net, &cfg, by, r, mid, c, images, &m, &got, err);
            if (got < act[c])
                lo = mid;
            else
                hi = mid;
        }
        relu[r] = 0.5 * (lo + hi);
        by[r] = 0.0;
    }
done:
    st_layer_masks_fini(&m);
    free(by);
    return rc;
}
