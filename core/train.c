/*
 * train.c - the trainer: forward and backward passes over the layers of an st_net, the
 * softmax cross-entropy loss, the pruning of dZ, SGD with momentum, and the statistics per
 * compute layer. The data reader is fmnist.c; the program and its trace file are elsewhere.
 */
#include <cblas.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "tgemm.h"
#include "train.h"

#define BN_EPS      1e-5
#define BN_MOMENTUM 0.1
/* Counter-word tags of the random streams (st.h, ST_RNG_STREAM's `what`). */
#define TAG_INIT    0x7469u /* weights */
#define TAG_SHUFFLE 0x7368u /* permutation of an epoch */
/* Images per partial sum of a convolution's weight gradient, and per block of an FC
 * layer's GEMMs: fixed, so that results do not depend on the number of threads. */
#define WG_CHUNK 8
#define FC_BLOCK 16

/* One trainable tensor: a slice of the trainer's parameter, gradient and velocity arrays. */
typedef struct tparam {
    int layer;
    const char *name;
    size_t off, n;
    int decay; /* weight decay applies */
} tparam;

/* Per-layer state. Buffers hold cap images. */
typedef struct tlayer {
    st_layer l;
    size_t in_n, out_n; /* elements per image */
    float *out, *dout;  /* output and the gradient of the loss with respect to it */
    float *dz;          /* compute layers: dZ after the pruning (what BP and WG use): dzbuf, or dout
                         * itself where the layer is not pruned */
    float *dzbuf;       /* compute layers: the pruned dZ */
    int need;           /* dout is needed: some layer at or above has parameters */
    int fresh;          /* backward: nothing written to dout yet */
    float *w, *gw, *bias, *gbias; /* into the parameter arrays (conv, FC, BN gamma/beta) */
    int32_t *argmax;              /* max pooling: index into the source's output */
    float *xhat, *mean, *invstd, *run_mean, *run_var; /* BN */
    int stat;                                         /* index in stats, or -1 */
    double tau;                                       /* of the last backward pass */
} tlayer;

struct st_trainer {
    const st_net *net; /* borrowed */
    const float *x;    /* the input of the last backward pass (borrowed) */
    st_train_cfg cfg;
    int classes;
    int n, cap, b; /* layers, images per buffer, images of the last pass */
    tlayer *ly;
    size_t nw;
    float *w, *g, *v;
    tparam *params;
    int nparams;
    float *col; /* convolution workspace: per thread, one image's im2col and dcol matrices
                 * (col_n floats and a slack of COL_SLACK each) and a padded plane (pad_n) */
    size_t col_n, pad_n;
    int nthreads; /* threads of the parallel loops, fixed at creation */
    float *wpart; /* WG partial sums: one weight tensor (transposed) per chunk of WG_CHUNK
                   * images */
    size_t wpart_n;
    float *ones;  /* cap ones: FC bias gradients are GEMVs against it */
    double *prob; /* cap x classes */
    st_train_layer_stats *stats;
    int nstats;
    int ran; /* a backward pass has run */
    float *xbuf;
    uint8_t *ybuf;
    uint32_t *perm;
    int perm_n;
};

void st_train_cfg_init(st_train_cfg *cfg)
{
    cfg->batch = 64;
    cfg->lr = 0.01;
    cfg->momentum = 0.9;
    cfg->weight_decay = 5e-4;
    cfg->seed = 1;
    cfg->prune = 1;
    st_prune_opts_init(&cfg->prune_opts);
    cfg->prune_first = 1;
    cfg->prune_fc = 1;
}

int st_train_cfg_check(const st_train_cfg *cfg, st_err *err)
{
    int rc = ST_OK;

    if (!cfg)
        rc = st_err_set(err, ST_EINVAL, "training settings are NULL");
    else if (cfg->batch < 1 || cfg->batch > 65536)
        rc = st_err_set(err, ST_EINVAL, "batch = %d: must be in [1, 65536]", cfg->batch);
    else if (!(cfg->lr > 0 && cfg->lr <= 100))
        rc = st_err_set(err, ST_EINVAL, "lr = %g: must be in (0, 100]", cfg->lr);
    else if (!(cfg->momentum >= 0 && cfg->momentum < 1))
        rc = st_err_set(err, ST_EINVAL, "momentum = %g: must be in [0, 1)", cfg->momentum);
    else if (!(cfg->weight_decay >= 0 && cfg->weight_decay <= 1))
        rc = st_err_set(err, ST_EINVAL, "weight_decay = %g: must be in [0, 1]", cfg->weight_decay);
    else if (!(cfg->prune_opts.p >= 0 && cfg->prune_opts.p < 1))
        rc = st_err_set(err, ST_EINVAL, "p = %g: must be in [0, 1)", cfg->prune_opts.p);
    else if (!(cfg->prune_opts.sigma_scale > 0 && isfinite(cfg->prune_opts.sigma_scale)))
        rc = st_err_set(err, ST_EINVAL, "prune_sigma_scale = %g: must be finite and > 0",
                        cfg->prune_opts.sigma_scale);
    return rc;
}

int st_train_threads(int n)
{
    /* The trainer's threads are OpenMP's; each calls a single-threaded BLAS. */
    openblas_set_num_threads(1);
#ifdef _OPENMP
    if (n >= 1)
        omp_set_num_threads(n);
    return omp_get_max_threads();
#else
    (void)n;
    return 1;
#endif
}

/* ------------------------------------------------------------- creation */

/* 16 floats (or their bits) as one value: GCC's vector extension, which becomes whatever
 * vector instructions the target has. */
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

/* Floats past the end of an im2col matrix and of a padded plane that im2col may write or
 * read (it copies rows in whole blocks of 16), and that st_mm_nn may read past the im2col
 * matrix. */
#define COL_SLACK (16 > ST_MM_SLACK ? 16 : ST_MM_SLACK)

/* A convolution's input plane with its padding around it, for stride 1 along the rows:
 * pad_h x pad_w, the input's row iy at row iy + pad_t, column ix at ix + pad_l. */
static int pad_h(const st_layer *l)
{
    return (l->out_h - 1) * l->stride_h + l->k_h;
}

static int pad_w(const st_layer *l)
{
    return l->out_w - 1 + l->k_w;
}

static size_t pad_plane_n(const st_layer *l)
{
    return (size_t)pad_h(l) * (size_t)pad_w(l) + COL_SLACK;
}

/* Floats of one thread's convolution workspace. */
static size_t thread_col_n(const st_trainer *t)
{
    return 2 * (t->col_n + COL_SLACK) + t->pad_n;
}

static int has_params(st_kind k)
{
    return k == ST_CONV || k == ST_FC || k == ST_BN;
}

static void *zalloc(size_t n, size_t size, int *fail)
{
    void *p = n ? calloc(n, size) : NULL;
    if (n && !p)
        *fail = 1;
    return p;
}

/* Size the parameter arrays and the list of tensors. */
static int plan_params(st_trainer *t)
{
    int np = 0, fail = 0;
    size_t off = 0;

    for (int i = 0; i < t->n; i++)
        np += has_params(t->ly[i].l.kind) ? 2 : 0;
    t->params = zalloc((size_t)np, sizeof *t->params, &fail);
    if (fail)
        return ST_ENOMEM;
    for (int i = 0; i < t->n; i++) {
        const st_layer *l = &t->ly[i].l;
        size_t nw, nb;
        if (!has_params(l->kind))
            continue;
        nw = l->kind == ST_BN ? (size_t)l->in_c : (size_t)st_layer_weights(l);
        nb = (size_t)l->out_c;
        t->params[t->nparams++] =
            (tparam){i, l->kind == ST_BN ? "gamma" : "w", off, nw, l->kind != ST_BN};
        off += nw;
        t->params[t->nparams++] = (tparam){i, l->kind == ST_BN ? "beta" : "b", off, nb, 0};
        off += nb;
    }
    t->nw = off;
    return ST_OK;
}

/* He et al., ICCV 2015: weights ~ N(0, 2 / fan_in), fan_in = taps per output; element i
 * of layer L's weights is position i of the stream ST_RNG_STREAM(L, 0, TAG_INIT). */
static void init_params(st_trainer *t)
{
    double z[256];

    for (int k = 0; k < t->nparams; k++) {
        const tparam *p = &t->params[k];
        const st_layer *l = &t->ly[p->layer].l;
        float *w = t->w + p->off;
        if (!strcmp(p->name, "w")) {
            double sd = sqrt(2.0 / (double)(p->n / (size_t)l->out_c));
            for (size_t i = 0; i < p->n; i += 256) {
                size_t m = p->n - i < 256 ? p->n - i : 256;
                st_rng_normals(t->cfg.seed, ST_RNG_STREAM(p->layer, 0, TAG_INIT), i, m, z);
                for (size_t j = 0; j < m; j++)
                    w[i + j] = (float)(sd * z[j]);
            }
        } else if (!strcmp(p->name, "gamma")) {
            for (size_t i = 0; i < p->n; i++)
                w[i] = 1.0f;
        }
    }
}

int st_trainer_create(const st_net *net, const st_train_cfg *cfg, int classes, st_trainer **out,
                      st_err *err)
{
    st_trainer *t = NULL;
    int rc = ST_OK, fail = 0, cap;
    size_t in_max = 0;

    if (out)
        *out = NULL;
    if (!out || !net) {
        rc = st_err_set(err, ST_EINVAL, "st_trainer_create: %s is NULL", out ? "net" : "out");
        goto done;
    }
    if ((rc = st_train_cfg_check(cfg, err)) != 0)
        goto done;
    if (st_net_count(net) == 0) {
        rc = st_err_set(err, ST_EINVAL, "network '%s' has no layers", st_net_name(net));
        goto done;
    }
    if (classes < 2 || classes > 65536) {
        rc = st_err_set(err, ST_EINVAL, "classes = %d: must be in [2, 65536]", classes);
        goto done;
    }
    {
        const st_layer *last = st_net_layer(net, st_net_count(net) - 1);
        if (st_layer_out_elems(last) != (uint64_t)classes) {
            rc = st_err_set(err, ST_EINVAL,
                            "network '%s': last layer '%s' gives %llu outputs (%dx%dx%d): the "
                            "data has %d classes",
                            st_net_name(net), last->name,
                            (unsigned long long)st_layer_out_elems(last), last->out_c, last->out_h,
                            last->out_w, classes);
            goto done;
        }
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        rc = st_err_set(err, ST_ENOMEM, "trainer: out of memory");
        goto done;
    }
    t->cfg = *cfg;
    t->classes = classes;
    t->n = st_net_count(net);
    cap = t->cap = cfg->batch;
    t->net = net;
    t->ly = zalloc((size_t)t->n, sizeof *t->ly, &fail);
    if (fail)
        goto nomem;
    for (int i = 0; i < t->n; i++) {
        tlayer *y = &t->ly[i];
        y->l = *st_net_layer(net, i);
        y->in_n = (size_t)st_layer_in_elems(&y->l);
        y->out_n = (size_t)st_layer_out_elems(&y->l);
        y->stat = -1;
        if (y->in_n > in_max)
            in_max = y->in_n;
    }
    /* need: the gradient of layer i's output is used by someone with parameters */
    for (int i = 0; i < t->n; i++) {
        tlayer *y = &t->ly[i];
        y->need = has_params(y->l.kind);
        for (int s = 0; s < 2; s++)
            if (y->l.src[s] >= 0 && t->ly[y->l.src[s]].need)
                y->need = 1;
    }
    if ((rc = plan_params(t)) != 0)
        goto nomem;
    t->w = zalloc(t->nw, sizeof *t->w, &fail);
    t->g = zalloc(t->nw, sizeof *t->g, &fail);
    t->v = zalloc(t->nw, sizeof *t->v, &fail);
    if (fail)
        goto nomem;
    for (int k = 0; k < t->nparams; k++) {
        tlayer *y = &t->ly[t->params[k].layer];
        int is_w = !strcmp(t->params[k].name, "w") || !strcmp(t->params[k].name, "gamma");
        if (is_w) {
            y->w = t->w + t->params[k].off;
            y->gw = t->g + t->params[k].off;
        } else {
            y->bias = t->w + t->params[k].off;
            y->gbias = t->g + t->params[k].off;
        }
    }
    for (int i = 0; i < t->n; i++) {
        tlayer *y = &t->ly[i];
        const st_layer *l = &y->l;
        size_t bo = (size_t)cap * y->out_n;
        y->out = zalloc(bo, sizeof(float), &fail);
        y->dout = zalloc(bo, sizeof(float), &fail);
        if (st_kind_is_compute(l->kind)) {
            y->stat = t->nstats++;
            y->dzbuf = zalloc(bo, sizeof(float), &fail);
        }
        if (l->kind == ST_MAXPOOL)
            y->argmax = zalloc(bo, sizeof(int32_t), &fail);
        if (l->kind == ST_BN) {
            y->xhat = zalloc(bo, sizeof(float), &fail);
            y->mean = zalloc((size_t)l->in_c, sizeof(float), &fail);
            y->invstd = zalloc((size_t)l->in_c, sizeof(float), &fail);
            y->run_mean = zalloc((size_t)l->in_c, sizeof(float), &fail);
            y->run_var = zalloc((size_t)l->in_c, sizeof(float), &fail);
            for (int c = 0; !fail && c < l->in_c; c++)
                y->run_var[c] = 1.0f;
        }
        if (l->kind == ST_CONV) {
            size_t ohw = (size_t)l->out_h * (size_t)l->out_w;
            size_t kn = (size_t)l->in_c * (size_t)l->k_h * (size_t)l->k_w;
            if (kn * ohw > t->col_n)
                t->col_n = kn * ohw;
            if (l->stride_w == 1 && pad_plane_n(l) > t->pad_n)
                t->pad_n = pad_plane_n(l);
            if ((size_t)st_layer_weights(l) > t->wpart_n)
                t->wpart_n = (size_t)st_layer_weights(l);
        }
        if (fail)
            goto nomem;
    }
#ifdef _OPENMP
    t->nthreads = omp_get_max_threads();
#else
    t->nthreads = 1;
#endif
    /* the trainer's threads call BLAS, which must not start threads of its own */
    openblas_set_num_threads(1);
    t->col = zalloc((size_t)t->nthreads * thread_col_n(t), sizeof(float), &fail);
    t->wpart = zalloc((size_t)((cap + WG_CHUNK - 1) / WG_CHUNK) * t->wpart_n, sizeof(float), &fail);
    t->ones = zalloc((size_t)cap, sizeof(float), &fail);
    for (int q = 0; !fail && q < cap; q++)
        t->ones[q] = 1.0f;
    t->prob = zalloc((size_t)cap * (size_t)classes, sizeof(double), &fail);
    t->stats = zalloc((size_t)t->nstats, sizeof *t->stats, &fail);
    t->xbuf = zalloc((size_t)cap * in_max, sizeof(float), &fail);
    t->ybuf = zalloc((size_t)cap, 1, &fail);
    if (fail)
        goto nomem;
    st_trainer_stats_reset(t);
    init_params(t);
    *out = t;
    t = NULL;
    goto done;
nomem:
    rc = st_err_set(err, ST_ENOMEM, "network '%s': trainer: out of memory", st_net_name(net));
done:
    st_trainer_destroy(&t);
    return rc;
}

void st_trainer_destroy(st_trainer **tp)
{
    st_trainer *t;

    if (!tp || !*tp)
        return;
    t = *tp;
    for (int i = 0; t->ly && i < t->n; i++) {
        tlayer *y = &t->ly[i];
        free(y->out);
        free(y->dout);
        free(y->dzbuf);
        free(y->argmax);
        free(y->xhat);
        free(y->mean);
        free(y->invstd);
        free(y->run_mean);
        free(y->run_var);
    }
    free(t->ly);
    free(t->w);
    free(t->g);
    free(t->v);
    free(t->params);
    free(t->col);
    free(t->ones);
    free(t->wpart);
    free(t->prob);
    free(t->stats);
    free(t->xbuf);
    free(t->ybuf);
    free(t->perm);
    free(t);
    *tp = NULL;
}

const st_net *st_trainer_net(const st_trainer *t)
{
    return t ? t->net : NULL;
}

/* ------------------------------------------------------- layer kernels */

/* The source tensor of operand s of layer y (the network input for -1). */
static const float *src_out(const st_trainer *t, const tlayer *y, int s, const float *x)
{
    return y->l.src[s] < 0 ? x : t->ly[y->l.src[s]].out;
}

/* Its gradient buffer, or NULL when nobody needs it. *acc is 1 when the buffer already
 * holds a contribution (from another consumer) to add to, 0 when the caller is the first
 * writer and must overwrite all of it; the buffer counts as written from then on. */
static float *src_dout(st_trainer *t, const tlayer *y, int s, int *acc)
{
    int j = y->l.src[s];

    if (j < 0 || !t->ly[j].need)
        return NULL;
    *acc = !t->ly[j].fresh;
    t->ly[j].fresh = 0;
    return t->ly[j].dout;
}

/* The bits of v where keep, else +0: a select without a branch, which the compiler
 * vectorises (a branch on the sign of the data is mispredicted half the time). */
static inline float keep_if(float v, int keep)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    b &= 0u - (uint32_t)keep;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* din (+)= dout where the ReLU's output is positive: added when acc, else written. */
static void relu_backward(const float *restrict out, const float *restrict dout,
                          float *restrict din, int acc, size_t n)
{
    if (acc) {
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < n; q++)
            din[q] += keep_if(dout[q], out[q] > 0.0f);
    } else {
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < n; q++)
            din[q] = keep_if(dout[q], out[q] > 0.0f);
    }
}

static void add_to(float *restrict dst, const float *restrict src, int acc, size_t n)
{
    if (acc) {
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < n; q++)
            dst[q] += src[q];
    } else {
        memcpy(dst, src, n * sizeof *dst);
    }
}

/* Sums of v[0..n), of (v - c)^2 and of v w, in float over 8 lanes (element k into lane
 * k % 8, which the compiler can turn into vector adds) per block of 256, each block's
 * lanes added in a fixed order into a double: the result depends on n and the data only. */
#define LANES 8
#define BLOCK 256

static float lanes_sum(const float p[LANES])
{
    return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

static double sum_f(const float *restrict v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = n - i < BLOCK ? n - i : BLOCK, k = 0;
        float p[LANES] = {0};
        for (; k + LANES <= m; k += LANES)
            for (int j = 0; j < LANES; j++)
                p[j] += v[i + k + j];
        for (; k < m; k++)
            p[k % LANES] += v[i + k];
        s += lanes_sum(p);
    }
    return s;
}

static double sumsq_f(const float *restrict v, size_t n, float c)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = n - i < BLOCK ? n - i : BLOCK, k = 0;
        float p[LANES] = {0};
        for (; k + LANES <= m; k += LANES)
            for (int j = 0; j < LANES; j++)
                p[j] += (v[i + k + j] - c) * (v[i + k + j] - c);
        for (; k < m; k++)
            p[k % LANES] += (v[i + k] - c) * (v[i + k] - c);
        s += lanes_sum(p);
    }
    return s;
}

static double dot_f(const float *restrict v, const float *restrict w, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = n - i < BLOCK ? n - i : BLOCK, k = 0;
        float p[LANES] = {0};
        for (; k + LANES <= m; k += LANES)
            for (int j = 0; j < LANES; j++)
                p[j] += v[i + k + j] * w[i + k + j];
        for (; k < m; k++)
            p[k % LANES] += v[i + k] * w[i + k];
        s += lanes_sum(p);
    }
    return s;
}

/* The outputs o in [*lo, *hi) of a row of n_out whose input o s - pad + k lies in [0, n_in). */
static void valid_range(int n_in, int n_out, int s, int pad, int k, int *lo, int *hi)
{
    int a = pad - k, b = n_in - 1 + pad - k; /* o s >= a and o s <= b */

    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b < 0 ? 0 : b / s + 1;
    if (*hi > n_out)
        *hi = n_out;
    if (*lo > *hi)
        *lo = *hi;
}

/* Plane ci of the input into pad (pad_h x pad_w, zeros around it). */
static inline void fill_pad(const st_layer *l, const float *plane, float *restrict pad)
{
    int ph = pad_h(l), pw = pad_w(l);
    int x0 = l->pad_l, nx = l->in_w < pw - x0 ? l->in_w : pw - x0;

    for (int py = 0; py < ph; py++) {
        int iy = py - l->pad_t;
        float *restrict dst = pad + (size_t)py * (size_t)pw;
        if (iy < 0 || iy >= l->in_h) {
            for (int x = 0; x < pw; x++)
                dst[x] = 0.0f;
            continue;
        }
        const float *restrict src = plane + (size_t)iy * (size_t)l->in_w;
        for (int x = 0; x < x0; x++)
            dst[x] = 0.0f;
        for (int ix = 0; ix < nx; ix++)
            dst[x0 + ix] = src[ix];
        for (int x = x0 + nx; x < pw; x++)
            dst[x] = 0.0f;
    }
}

/* im2col for stride 1 along the rows: each input plane once into the padded buffer, then
 * every output row of every tap is a contiguous piece of it, copied in blocks of 16 floats
 * (fixed-size copies, which the compiler turns into a few vector moves): a block may run
 * past the row's end into the next one, which is written after it, and past the last row
 * into the slack (COL_SLACK) of the matrix. */
ST_CLONES static void im2col_s1(const st_layer *l, const float *in, float *col, float *pad)
{
    size_t ohw = (size_t)l->out_h * (size_t)l->out_w;
    size_t ihw = (size_t)l->in_h * (size_t)l->in_w;
    int pw = pad_w(l), ow = l->out_w;

    for (int ci = 0; ci < l->in_c; ci++) {
        fill_pad(l, in + (size_t)ci * ihw, pad);
        for (int ky = 0; ky < l->k_h; ky++)
            for (int kx = 0; kx < l->k_w; kx++) {
                float *r = col + ((size_t)(ci * l->k_h + ky) * (size_t)l->k_w + (size_t)kx) * ohw;
                for (int oy = 0; oy < l->out_h; oy++) {
                    const float *src = pad + (size_t)(oy * l->stride_h + ky) * (size_t)pw + kx;
                    float *dst = r + (size_t)oy * (size_t)ow;
                    for (int x = 0; x < ow; x += 16)
                        memcpy(dst + x, src + x, 16 * sizeof(float));
                }
            }
    }
}

/* One image's im2col matrix: col[r][q], r = (ci k_h + ky) k_w + kx over all input
 * channels, q an output pixel: the input under tap (ky, kx) of output pixel q, 0 in the
 * padding. Made per image into the thread's buffer right before the GEMMs that read it,
 * while it is in the cache (the whole batch's matrices, kept from the forward pass for the
 * weight gradient, were megabytes written to and read back from memory). */
static void im2col(const st_layer *l, const float *in, float *col, float *pad)
{
    size_t ohw = (size_t)l->out_h * (size_t)l->out_w;
    size_t ihw = (size_t)l->in_h * (size_t)l->in_w;

    if (l->stride_w == 1) {
        im2col_s1(l, in, col, pad);
        return;
    }
    for (int ci = 0; ci < l->in_c; ci++) {
        const float *plane = in + (size_t)ci * ihw;
        for (int ky = 0; ky < l->k_h; ky++)
            for (int kx = 0; kx < l->k_w; kx++) {
                float *r = col + ((size_t)(ci * l->k_h + ky) * (size_t)l->k_w + (size_t)kx) * ohw;
                int xlo, xhi, ylo, yhi, ix0 = kx - l->pad_l;
                valid_range(l->in_w, l->out_w, l->stride_w, l->pad_l, kx, &xlo, &xhi);
                valid_range(l->in_h, l->out_h, l->stride_h, l->pad_t, ky, &ylo, &yhi);
                for (int oy = 0; oy < l->out_h; oy++) {
                    float *ro = r + (size_t)oy * (size_t)l->out_w;
                    const float *pi;
                    if (oy < ylo || oy >= yhi) {
                        for (int ox = 0; ox < l->out_w; ox++)
                            ro[ox] = 0.0f;
                        continue;
                    }
                    /* input column of output ox: ox stride_w + ix0, >= 0 from xlo on */
                    pi = plane + (size_t)(oy * l->stride_h - l->pad_t + ky) * (size_t)l->in_w;
                    for (int ox = 0; ox < xlo; ox++)
                        ro[ox] = 0.0f;
                    /* rows are short (tens of floats): a loop, not a call to memcpy */
                    if (l->stride_w == 1)
                        for (int ox = xlo; ox < xhi; ox++)
                            ro[ox] = pi[ox + ix0];
                    else
                        for (int ox = xlo; ox < xhi; ox++)
                            ro[ox] = pi[ox * l->stride_w + ix0];
                    for (int ox = xhi; ox < l->out_w; ox++)
                        ro[ox] = 0.0f;
                }
            }
    }
}

/* The adjoint of im2col: add col's entries into the input positions they came from. */
static void col2im_add(const st_layer *l, const float *col, int b, float *din)
{
    size_t ohw = (size_t)l->out_h * (size_t)l->out_w, nq = (size_t)b * ohw;
    size_t ihw = (size_t)l->in_h * (size_t)l->in_w;

    for (int ci = 0; ci < l->in_c; ci++)
        for (int ky = 0; ky < l->k_h; ky++)
            for (int kx = 0; kx < l->k_w; kx++) {
                const float *row =
                    col + ((size_t)(ci * l->k_h + ky) * (size_t)l->k_w + (size_t)kx) * nq;
                int xlo, xhi, ylo, yhi, ix0 = kx - l->pad_l;
                valid_range(l->in_w, l->out_w, l->stride_w, l->pad_l, kx, &xlo, &xhi);
                valid_range(l->in_h, l->out_h, l->stride_h, l->pad_t, ky, &ylo, &yhi);
                for (int im = 0; im < b; im++) {
                    float *plane = din + ((size_t)im * (size_t)l->in_c + (size_t)ci) * ihw;
                    const float *r = row + (size_t)im * ohw;
                    for (int oy = ylo; oy < yhi; oy++) {
                        const float *ro = r + (size_t)oy * (size_t)l->out_w;
                        float *pi =
                            plane + (size_t)(oy * l->stride_h - l->pad_t + ky) * (size_t)l->in_w;
                        if (l->stride_w == 1)
                            for (int ox = xlo; ox < xhi; ox++)
                                pi[ox + ix0] += ro[ox];
                        else
                            for (int ox = xlo; ox < xhi; ox++)
                                pi[ox * l->stride_w + ix0] += ro[ox];
                    }
                }
            }
}

/* The thread's im2col buffer; its dcol buffer and padded plane follow (col_dcol, col_pad). */
static float *thread_col(const st_trainer *t)
{
    int th = 0;
#ifdef _OPENMP
    th = omp_get_thread_num();
#endif
    return t->col + (size_t)th * thread_col_n(t);
}

/* col2im_add of one image for stride 1 along the rows (a layer im2col_s1 serves): each
 * plane's taps added into a zeroed padded buffer, in blocks of 16 floats, the lanes past
 * the row's end adding +0 (which changes nothing: a sum that starts at +0 is never -0),
 * then the buffer's inside added into (acc) or written to
 * the image's gradient. The same additions in the same order as col2im_add when !acc. */
ST_CLONES static void col2im_s1(const st_layer *l, const float *col, float *din, int acc,
                                float *pad)
{
    const v16i lane16 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    v16i last = lane16 < (l->out_w - 1) % 16 + 1; /* the lanes of the row's last block */
    size_t ohw = (size_t)l->out_h * (size_t)l->out_w;
    size_t ihw = (size_t)l->in_h * (size_t)l->in_w;
    int ph = pad_h(l), pw = pad_w(l), ow = l->out_w;
    int x0 = l->pad_l, nx = l->in_w < pw - x0 ? l->in_w : pw - x0;

    for (int ci = 0; ci < l->in_c; ci++) {
        float *plane = din + (size_t)ci * ihw;
        for (int q = 0; q < ph * pw; q++)
            pad[q] = 0.0f;
        for (int ky = 0; ky < l->k_h; ky++)
            for (int kx = 0; kx < l->k_w; kx++) {
                const float *r =
                    col + ((size_t)(ci * l->k_h + ky) * (size_t)l->k_w + (size_t)kx) * ohw;
                /* even rows, then odd ones: a row's last block may reach into the next
                 * row's first, and reading what was just stored in part stalls */
                for (int i = 0; i < l->out_h; i++) {
                    int oy = 2 * i < l->out_h ? 2 * i : 2 * (i - (l->out_h + 1) / 2) + 1;
                    float *restrict dst = pad + (size_t)(oy * l->stride_h + ky) * (size_t)pw + kx;
                    const float *restrict src = r + (size_t)oy * (size_t)ow;
                    for (int x = 0; x < ow; x += 16) {
                        v16f a, c;
                        memcpy(&a, dst + x, sizeof a);
                        memcpy(&c, src + x, sizeof c);
                        if (x + 16 > ow)
                            c = (v16f)((v16i)c & last);
                        a += c;
                        memcpy(dst + x, &a, sizeof a);
                    }
                }
            }
        /* rows of the input the padded buffer covers: all but those no window reaches */
        for (int iy = 0; iy < l->in_h; iy++) {
            float *restrict d = plane + (size_t)iy * (size_t)l->in_w;
            const float *restrict sp = pad + (size_t)(iy + l->pad_t) * (size_t)pw + x0;
            int inside = iy + l->pad_t < ph;
            for (int ix = 0; ix < l->in_w; ix++) {
                float v = inside && ix < nx ? sp[ix] : 0.0f;
                d[ix] = acc ? d[ix] + v : v;
            }
        }
    }
}

/* Z = W * A + bias. Per image (images spread over the threads): its im2col matrix, then
 * per group one product, W_g (ocg x K_g) times col_g (K_g x pixels), added straight into
 * the image's output planes (which hold the bias). The product is st_mm_nn (tgemm.c), not
 * OpenBLAS: for these shapes (tens of rows, a few hundred columns) OpenBLAS spends more on
 * copying col_g into its panel layout than st_mm_nn, which reads it in place, loses
 * (docs/training.md, "BLAS and threads"). */
static void conv_forward(const st_trainer *t, tlayer *y, const float *in, int b)
{
    const st_layer *l = &y->l;
    int g = l->groups, ocg = l->out_c / g;
    int kg = (l->in_c / g) * l->k_h * l->k_w;
    size_t ohw = (size_t)l->out_h * (size_t)l->out_w;

#pragma omp parallel for schedule(static) num_threads(t->nthreads)
    for (int im = 0; im < b; im++) {
        float *o = y->out + (size_t)im * y->out_n, *col = thread_col(t);
        im2col(l, in + (size_t)im * y->in_n, col, col + 2 * (t->col_n + COL_SLACK));
        for (int oc = 0; oc < l->out_c; oc++)
            for (size_t q = 0; q < ohw; q++)
                o[(size_t)oc * ohw + q] = y->bias[oc];
        for (int gi = 0; gi < g; gi++)
            st_mm_nn(ocg, (int)ohw, kg, y->w + (size_t)gi * (size_t)ocg * (size_t)kg, kg, 1,
                     col + (size_t)gi * (size_t)kg * ohw, (ptrdiff_t)ohw,
                     o + (size_t)gi * (size_t)ocg * ohw, (ptrdiff_t)ohw, 1);
    }
}

/* dbias: the sums of dZ, one channel per iteration. Then per image, its im2col matrix made
 * again into the thread's buffer (cheaper than keeping the batch's from the forward pass:
 * see im2col), and with it, while it is in the cache, WG and BP. WG: dW_g^T = the sum
 * over images of col_g (K_g x pixels) times dZ_g,i^T (pixels x ocg): computed transposed,
 * as OpenBLAS does this shape (hundreds of rows, tens of columns) a quarter faster than
 * dZ_g,i col_g^T. Images are taken in chunks of WG_CHUNK, a chunk's images added in order
 * into its own partial tensor, the chunks in parallel, then the partials added in chunk
 * order into dW (transposed back): the result does not depend on the number of threads. BP, when
 * the input needs a gradient: dcol = W_g^T dZ_g,i (K_g x pixels) into the thread's second buffer,
 * scattered back into the image's input gradient by col2im_add. */
static void conv_backward(st_trainer *t, tlayer *y, const float *in, float *din, int acc, int b)
{
    const st_layer *l = &y->l;
    int g = l->groups, ocg = l->out_c / g;
    int kg = (l->in_c / g) * l->k_h * l->k_w;
    size_t ohw = (size_t)l->out_h * (size_t)l->out_w;
    size_t nw = (size_t)l->out_c * (size_t)kg;
    int chunks = (b + WG_CHUNK - 1) / WG_CHUNK;

#pragma omp parallel for schedule(static)
    for (int oc = 0; oc < l->out_c; oc++) {
        double s = 0.0;
        for (int im = 0; im < b; im++)
            s += sum_f(y->dz + (size_t)im * y->out_n + (size_t)oc * ohw, ohw);
        y->gbias[oc] = (float)s;
    }
#pragma omp parallel for schedule(static) num_threads(t->nthreads)
    for (int c = 0; c < chunks; c++) {
        float *part = t->wpart + (size_t)c * nw;
        float *col = thread_col(t), *dcol = col + t->col_n + COL_SLACK;
        float *pad = dcol + t->col_n + COL_SLACK;
        int end = (c + 1) * WG_CHUNK < b ? (c + 1) * WG_CHUNK : b;
        for (int im = c * WG_CHUNK; im < end; im++) {
            const float *dz = y->dz + (size_t)im * y->out_n;
            float *dimg = din ? din + (size_t)im * y->in_n : NULL;
            im2col(l, in + (size_t)im * y->in_n, col, pad);
            for (int gi = 0; gi < g; gi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kg, ocg, (int)ohw, 1.0f,
                            col + (size_t)gi * (size_t)kg * ohw, (int)ohw,
                            dz + (size_t)gi * (size_t)ocg * ohw, (int)ohw,
                            im > c * WG_CHUNK ? 1.0f : 0.0f,
                            part + (size_t)gi * (size_t)ocg * (size_t)kg, ocg);
            if (!dimg)
                continue;
            if (!acc && l->stride_w != 1)
                memset(dimg, 0, y->in_n * sizeof *dimg);
            for (int gi = 0; gi < g; gi++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, (int)ohw, ocg, 1.0f,
                            y->w + (size_t)gi * (size_t)ocg * (size_t)kg, kg,
                            dz + (size_t)gi * (size_t)ocg * ohw, (int)ohw, 0.0f,
                            dcol + (size_t)gi * (size_t)kg * ohw, (int)ohw);
            if (l->stride_w == 1)
                col2im_s1(l, dcol, dimg, acc, pad);
            else
                col2im_add(l, dcol, 1, dimg);
        }
    }
    /* dW[gi ocg + o][r] is element (r, o) of group gi's K_g x ocg partials */
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nw; k++) {
        size_t gi = k / ((size_t)ocg * (size_t)kg), o = k / (size_t)kg % (size_t)ocg;
        size_t at = gi * (size_t)ocg * (size_t)kg + (k % (size_t)kg) * (size_t)ocg + o;
        float s = t->wpart[at];
        for (int c = 1; c < chunks; c++)
            s += t->wpart[(size_t)c * nw + at];
        y->gw[k] = s;
    }
}

/* out (b x O) = in (b x I) W^T + bias, in blocks of FC_BLOCK images over the threads. */
static void fc_forward(tlayer *y, const float *in, int b)
{
    int ni = (int)y->in_n, no = (int)y->out_n;
    int blocks = (b + FC_BLOCK - 1) / FC_BLOCK;

#pragma omp parallel for schedule(static)
    for (int k = 0; k < blocks; k++) {
        int i0 = k * FC_BLOCK, nb = b - i0 < FC_BLOCK ? b - i0 : FC_BLOCK;
        float *o = y->out + (size_t)i0 * (size_t)no;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, no, ni, 1.0f,
                    in + (size_t)i0 * (size_t)ni, ni, y->w, ni, 0.0f, o, no);
        for (int im = 0; im < nb; im++)
            for (int j = 0; j < no; j++)
                o[(size_t)im * (size_t)no + (size_t)j] += y->bias[j];
    }
}

/* dW (O x I) = dZ^T in, in blocks of FC_BLOCK rows of dW; din (b x I) (+)= dZ W, in blocks
 * of FC_BLOCK images; dbias = the sums of dZ over the images. */
static void fc_backward(const st_trainer *t, tlayer *y, const float *in, float *din, int acc, int b)
{
    int ni = (int)y->in_n, no = (int)y->out_n;
    int oblocks = (no + FC_BLOCK - 1) / FC_BLOCK, iblocks = (b + FC_BLOCK - 1) / FC_BLOCK;

    cblas_sgemv(CblasRowMajor, CblasTrans, b, no, 1.0f, y->dz, no, t->ones, 1, 0.0f, y->gbias, 1);
#pragma omp parallel for schedule(static)
    for (int k = 0; k < oblocks; k++) {
        int o0 = k * FC_BLOCK, nb = no - o0 < FC_BLOCK ? no - o0 : FC_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nb, ni, b, 1.0f, y->dz + o0, no, in,
                    ni, 0.0f, y->gw + (size_t)o0 * (size_t)ni, ni);
    }
    if (!din)
        return;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < iblocks; k++) {
        int i0 = k * FC_BLOCK, nb = b - i0 < FC_BLOCK ? b - i0 : FC_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, ni, no, 1.0f,
                    y->dz + (size_t)i0 * (size_t)no, no, y->w, ni, acc ? 1.0f : 0.0f,
                    din + (size_t)i0 * (size_t)ni, ni);
    }
}

/* 2x2 windows at stride 2 without padding, every window inside the input. */
static int is_pool2(const st_layer *l)
{
    return l->k_h == 2 && l->k_w == 2 && l->stride_h == 2 && l->stride_w == 2 && l->pad_t == 0 &&
           l->pad_l == 0 && 2 * l->out_h <= l->in_h && 2 * l->out_w <= l->in_w;
}

/* One plane of pool_forward for 2x2 windows at stride 2 without padding, every window
 * inside the input: the general loop's result (the same comparisons and additions in the
 * same order) without its clipping. */
static void pool2_plane(const st_layer *l, const float *restrict ip, float *restrict op,
                        int32_t *restrict am, int is_max)
{
    int iw = l->in_w, ow = l->out_w;

    for (int oy = 0; oy < l->out_h; oy++) {
        const float *r0 = ip + (size_t)(2 * oy) * (size_t)iw, *r1 = r0 + iw;
        float *o = op + (size_t)oy * (size_t)ow;
        if (is_max) {
            int32_t *a = am + (size_t)oy * (size_t)ow, base = 2 * oy * iw;
            for (int ox = 0; ox < ow; ox++) {
                float best = r0[2 * ox], v;
                int32_t arg = base + 2 * ox, gt;
                v = r0[2 * ox + 1];
                gt = v > best;
                best = gt ? v : best;
                arg = gt ? base + 2 * ox + 1 : arg;
                v = r1[2 * ox];
                gt = v > best;
                best = gt ? v : best;
                arg = gt ? base + iw + 2 * ox : arg;
                v = r1[2 * ox + 1];
                gt = v > best;
                best = gt ? v : best;
                arg = gt ? base + iw + 2 * ox + 1 : arg;
                o[ox] = best;
                a[ox] = arg;
            }
        } else {
            for (int ox = 0; ox < ow; ox++)
                o[ox] = ((((0.0f + r0[2 * ox]) + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) *
                        0.25f;
        }
    }
}

/* Max or average pooling (GAP is average pooling over the whole plane). Windows clip at
 * the padding; the average divides by k_h k_w, padding counted, as PyTorch's default. The
 * window of output (oy, ox) covers input rows oy s - pad + [0, k_h) clipped to the input;
 * max pooling keeps the first position of the largest value. */
static void pool_forward(tlayer *y, const float *in, int b)
{
    const st_layer *l = &y->l;
    size_t ihw = (size_t)l->in_h * (size_t)l->in_w, ohw = (size_t)l->out_h * (size_t)l->out_w;
    int is_max = l->kind == ST_MAXPOOL;
    int pool2 = is_pool2(l);
    float inv = 1.0f / (float)(l->k_h * l->k_w);

#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < (size_t)b * (size_t)l->in_c; pl++) {
        const float *ip = in + pl * ihw;
        float *op = y->out + pl * ohw;
        int32_t *am = is_max ? y->argmax + pl * ohw : NULL;
        if (pool2)
            pool2_plane(l, ip, op, am, is_max);
        else
            for (int oy = 0; oy < l->out_h; oy++) {
                int y0 = oy * l->stride_h - l->pad_t;
                int ya = y0 < 0 ? 0 : y0, yb = y0 + l->k_h > l->in_h ? l->in_h : y0 + l->k_h;
                for (int ox = 0; ox < l->out_w; ox++) {
                    int x0 = ox * l->stride_w - l->pad_l;
                    int xa = x0 < 0 ? 0 : x0, xb = x0 + l->k_w > l->in_w ? l->in_w : x0 + l->k_w;
                    size_t o = (size_t)oy * (size_t)l->out_w + (size_t)ox;
                    if (is_max) {
                        int32_t arg = ya * l->in_w + xa;
                        float best = ip[arg];
                        for (int iy = ya; iy < yb; iy++)
                            for (int ix = xa; ix < xb; ix++) {
                                /* selects, not a branch on the data */
                                float v = ip[iy * l->in_w + ix];
                                int gt = v > best;
                                best = gt ? v : best;
                                arg = gt ? iy * l->in_w + ix : arg;
                            }
                        op[o] = best;
                        am[o] = arg;
                    } else {
                        float sum = 0.0f;
                        for (int iy = ya; iy < yb; iy++)
                            for (int ix = xa; ix < xb; ix++)
                                sum += ip[iy * l->in_w + ix];
                        op[o] = sum * inv;
                    }
                }
            }
    }
}

/* Max pooling's gradient for one plane, pool2 windows, written (not added): each window's
 * position the maximum came from gets 0 + the gradient (as added into a zeroed plane), the
 * others and the positions no window covers 0. */
static void pool2_backward_plane(const st_layer *l, const int32_t *restrict am,
                                 const float *restrict go, float *restrict dp)
{
    int iw = l->in_w, ow = l->out_w;

    for (int oy = 0; oy < l->out_h; oy++) {
        float *r0 = dp + (size_t)(2 * oy) * (size_t)iw, *r1 = r0 + iw;
        const int32_t *a = am + (size_t)oy * (size_t)ow;
        const float *g = go + (size_t)oy * (size_t)ow;
        int32_t base = 2 * oy * iw;
        for (int ox = 0; ox < ow; ox++) {
            int32_t p = a[ox] - base - 2 * ox; /* 0, 1, iw or iw + 1 */
            r0[2 * ox] = 0.0f + keep_if(g[ox], p == 0);
            r0[2 * ox + 1] = 0.0f + keep_if(g[ox], p == 1);
            r1[2 * ox] = 0.0f + keep_if(g[ox], p == iw);
            r1[2 * ox + 1] = 0.0f + keep_if(g[ox], p == iw + 1);
        }
        for (int ix = 2 * ow; ix < iw; ix++)
            r0[ix] = r1[ix] = 0.0f;
    }
    for (size_t q = (size_t)(2 * l->out_h) * (size_t)iw; q < (size_t)l->in_h * (size_t)iw; q++)
        dp[q] = 0.0f;
}

static void pool_backward(tlayer *y, float *din, int acc, int b)
{
    const st_layer *l = &y->l;
    size_t ihw = (size_t)l->in_h * (size_t)l->in_w, ohw = (size_t)l->out_h * (size_t)l->out_w;
    float inv = 1.0f / (float)(l->k_h * l->k_w);
    int pool2 = is_pool2(l);

#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < (size_t)b * (size_t)l->in_c; pl++) {
        float *dp = din + pl * ihw;
        if (!acc && !(pool2 && l->kind == ST_MAXPOOL))
            memset(dp, 0, ihw * sizeof *dp);
        const float *go = y->dout + pl * ohw;
        if (l->kind == ST_MAXPOOL && pool2 && !acc) {
            pool2_backward_plane(l, y->argmax + pl * ohw, go, dp);
            continue;
        }
        if (l->kind == ST_MAXPOOL) {
            const int32_t *am = y->argmax + pl * ohw;
            for (size_t o = 0; o < ohw; o++)
                dp[am[o]] += go[o];
            continue;
        }
        for (int oy = 0; oy < l->out_h; oy++) {
            int y0 = oy * l->stride_h - l->pad_t;
            int ya = y0 < 0 ? 0 : y0, yb = y0 + l->k_h > l->in_h ? l->in_h : y0 + l->k_h;
            for (int ox = 0; ox < l->out_w; ox++) {
                int x0 = ox * l->stride_w - l->pad_l;
                int xa = x0 < 0 ? 0 : x0, xb = x0 + l->k_w > l->in_w ? l->in_w : x0 + l->k_w;
                float v = go[(size_t)oy * (size_t)l->out_w + (size_t)ox] * inv;
                for (int iy = ya; iy < yb; iy++)
                    for (int ix = xa; ix < xb; ix++)
                        dp[iy * l->in_w + ix] += v;
            }
        }
    }
}

/* Batch norm (Ioffe and Szegedy, ICML 2015). Training: statistics of the batch over
 * images and pixels, biased variance; the running statistics move by BN_MOMENTUM with
 * the unbiased one (as PyTorch). Evaluation: the running statistics. */
static void bn_forward(tlayer *y, const float *in, int b, int mode)
{
    const st_layer *l = &y->l;
    size_t hw = (size_t)l->in_h * (size_t)l->in_w, m = (size_t)b * hw;

#pragma omp parallel for schedule(static)
    for (int c = 0; c < l->in_c; c++) {
        double mean, var, s = 0.0, s2 = 0.0;
        float inv;
        if (mode == 0) {
            mean = y->run_mean[c];
            var = y->run_var[c];
        } else {
            for (int im = 0; im < b; im++)
                s += sum_f(in + ((size_t)im * (size_t)l->in_c + (size_t)c) * hw, hw);
            mean = s / (double)m;
            /* around the float mean: the variance is shift-invariant, and this keeps the
             * terms small */
            for (int im = 0; im < b; im++)
                s2 +=
                    sumsq_f(in + ((size_t)im * (size_t)l->in_c + (size_t)c) * hw, hw, (float)mean);
            mean = (double)(float)mean;
            var = s2 / (double)m;
            if (mode == 2) {
                double unb = m > 1 ? s2 / (double)(m - 1) : var;
                y->run_mean[c] = (float)((1 - BN_MOMENTUM) * y->run_mean[c] + BN_MOMENTUM * mean);
                y->run_var[c] = (float)((1 - BN_MOMENTUM) * y->run_var[c] + BN_MOMENTUM * unb);
            }
        }
        inv = (float)(1.0 / sqrt(var + BN_EPS));
        y->mean[c] = (float)mean;
        y->invstd[c] = inv;
        for (int im = 0; im < b; im++) {
            size_t base = ((size_t)im * (size_t)l->in_c + (size_t)c) * hw;
            for (size_t q = 0; q < hw; q++) {
                float xh = (in[base + q] - (float)mean) * inv;
                y->xhat[base + q] = xh;
                y->out[base + q] = y->w[c] * xh + y->bias[c];
            }
        }
    }
}

/* dx = gamma invstd / m (m dy - sum dy - xhat sum(dy xhat)). */
static void bn_backward(tlayer *y, float *din, int acc, int b)
{
    const st_layer *l = &y->l;
    size_t hw = (size_t)l->in_h * (size_t)l->in_w, m = (size_t)b * hw;

#pragma omp parallel for schedule(static)
    for (int c = 0; c < l->in_c; c++) {
        double sd = 0.0, sdx = 0.0;
        for (int im = 0; im < b; im++) {
            size_t base = ((size_t)im * (size_t)l->in_c + (size_t)c) * hw;
            sd += sum_f(y->dout + base, hw);
            sdx += dot_f(y->dout + base, y->xhat + base, hw);
        }
        y->gw[c] = (float)sdx;
        y->gbias[c] = (float)sd;
        if (!din)
            continue;
        {
            float k = y->w[c] * y->invstd[c] / (float)m;
            float a = (float)sd, bb = (float)sdx, mf = (float)m;
            for (int im = 0; im < b; im++) {
                size_t base = ((size_t)im * (size_t)l->in_c + (size_t)c) * hw;
                if (acc)
                    for (size_t q = 0; q < hw; q++)
                        din[base + q] += k * (mf * y->dout[base + q] - a - y->xhat[base + q] * bb);
                else
                    for (size_t q = 0; q < hw; q++)
                        din[base + q] = k * (mf * y->dout[base + q] - a - y->xhat[base + q] * bb);
            }
        }
    }
}

/* --------------------------------------------------------------- passes */

/* The non-zeros of v[0..n), n below 2^32: in lanes of 32-bit counts. */
static size_t count_nz_piece(const float *restrict v, size_t n)
{
    uint32_t c[LANES] = {0};
    size_t nz = 0, i = 0;

    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            c[j] += v[i + j] != 0.0f;
    for (; i < n; i++)
        c[0] += v[i] != 0.0f;
    for (int j = 0; j < LANES; j++)
        nz += c[j];
    return nz;
}

/* The non-zeros of v[0..n), in pieces of NZ_PIECE elements spread over the threads (a
 * count: the same in any order). */
#define NZ_PIECE 65536

static size_t count_nz(const float *v, size_t n)
{
    size_t nz = 0;

#pragma omp parallel for schedule(static) reduction(+ : nz) if (n > NZ_PIECE)
    for (size_t i0 = 0; i0 < n; i0 += NZ_PIECE)
        nz += count_nz_piece(v + i0, n - i0 < NZ_PIECE ? n - i0 : NZ_PIECE);
    return nz;
}

/* mode 0: evaluation, 1: training without running-statistics updates, 2: training. */
static void forward(st_trainer *t, const float *x, int b, int mode)
{
    for (int i = 0; i < t->n; i++) {
        tlayer *y = &t->ly[i];
        const float *in = src_out(t, y, 0, x);
        size_t n = (size_t)b * y->out_n;
        switch (y->l.kind) {
        case ST_CONV:
            conv_forward(t, y, in, b);
            break;
        case ST_FC:
            fc_forward(y, in, b);
            break;
        case ST_MAXPOOL:
        case ST_AVGPOOL:
        case ST_GAP:
            pool_forward(y, in, b);
            break;
        case ST_RELU:
#pragma omp parallel for schedule(static)
            for (size_t q = 0; q < n; q++)
                y->out[q] = keep_if(in[q], in[q] > 0.0f);
            break;
        case ST_BN:
            bn_forward(y, in, b, mode);
            break;
        case ST_ADD: {
            const float *in1 = src_out(t, y, 1, x);
#pragma omp parallel for schedule(static)
            for (size_t q = 0; q < n; q++)
                y->out[q] = in[q] + in1[q];
            break;
        }
        default:
            break;
        }
    }
}

/* Softmax of the last layer's scores into t->prob (in double); the mean cross-entropy
 * and the number of correct arg-maxes. */
static double loss_of(st_trainer *t, const uint8_t *y, int b, int *correct)
{
    const float *z = t->ly[t->n - 1].out;
    int k = t->classes, good = 0;
    double total = 0.0;

    for (int im = 0; im < b; im++) {
        const float *zi = z + (size_t)im * (size_t)k;
        double *pi = t->prob + (size_t)im * (size_t)k, mx = zi[0], s = 0.0;
        int arg = 0;
        for (int c = 1; c < k; c++)
            if (zi[c] > mx) {
                mx = zi[c];
                arg = c;
            }
        for (int c = 0; c < k; c++) {
            pi[c] = exp((double)zi[c] - mx);
            s += pi[c];
        }
        for (int c = 0; c < k; c++)
            pi[c] /= s;
        total += -((double)zi[y[im]] - mx - log(s));
        good += arg == y[im];
    }
    if (correct)
        *correct = good;
    return total / b;
}

static int check_batch(const st_trainer *t, const float *x, const uint8_t *y, int b, st_err *err)
{
    int rc = ST_OK;

    if (!t || !x || !y)
        rc = st_err_set(err, ST_EINVAL, "trainer: %s is NULL", !t ? "trainer" : !x ? "x" : "y");
    else if (b < 1 || b > t->cap)
        rc = st_err_set(err, ST_EINVAL, "images = %d: must be in [1, batch = %d]", b, t->cap);
    for (int i = 0; rc == ST_OK && i < b; i++)
        if (y[i] >= t->classes)
            rc = st_err_set(err, ST_EINVAL, "label %d of image %d: must be below %d", y[i], i,
                            t->classes);
    return rc;
}

int st_trainer_forward(st_trainer *t, const float *x, const uint8_t *y, int b, int train,
                       double *loss, int *correct, st_err *err)
{
    int rc = check_batch(t, x, y, b, err);
    double l;

    if (rc)
        return rc;
    forward(t, x, b, train ? 1 : 0);
    l = loss_of(t, y, b, correct);
    if (loss)
        *loss = l;
    return ST_OK;
}

/* Is compute layer y's dZ pruned under cfg? */
static int layer_pruned(const st_trainer *t, const tlayer *y)
{
    if (!t->cfg.prune)
        return 0;
    if (y->l.first && !t->cfg.prune_first)
        return 0;
    if (y->l.kind == ST_FC && !t->cfg.prune_fc)
        return 0;
    return 1;
}

int st_trainer_grad(st_trainer *t, const float *x, const uint8_t *lab, int b, uint64_t iter,
                    double *loss, st_err *err)
{
    int rc = check_batch(t, x, lab, b, err);
    double l;

    if (rc)
        goto done;
    forward(t, x, b, 2);
    l = loss_of(t, lab, b, NULL);
    for (int i = 0; i < t->n; i++)
        t->ly[i].fresh = 1;
    {
        tlayer *last = &t->ly[t->n - 1];
        last->fresh = 0;
        size_t k = (size_t)t->classes;
        for (int im = 0; im < b; im++)
            for (size_t c = 0; c < k; c++)
                last->dout[(size_t)im * k + c] =
                    (float)((t->prob[(size_t)im * k + c] - (lab[im] == c ? 1.0 : 0.0)) / b);
    }
    for (int i = t->n - 1; i >= 0; i--) {
        tlayer *y = &t->ly[i];
        const float *in = src_out(t, y, 0, x);
        size_t n = (size_t)b * y->out_n;
        float *din;
        int acc = 0, acc1 = 0;
        if (!y->need)
            continue;
        /* an output nobody reads has a zero gradient */
        if (y->fresh)
            memset(y->dout, 0, n * sizeof(float));
        y->fresh = 0;
        din = src_dout(t, y, 0, &acc);
        if (st_kind_is_compute(y->l.kind)) {
            st_train_layer_stats *s = &t->stats[y->stat];
            y->tau = 0.0;
            if (layer_pruned(t, y)) {
                st_prune_stats ps;
                /* stream: the iteration and the layer; tag 0x70 ('p') keeps it apart from
                 * the initialisation and shuffling streams */
                uint64_t stream = ((uint64_t)0x70 << 56) | ((iter & 0xffffffffffull) << 16) |
                                  (uint64_t)(uint16_t)i;
                y->dz = y->dzbuf;
                if ((rc = st_prune(y->dout, y->dz, n, &t->cfg.prune_opts, t->cfg.seed, stream, &ps,
                                   err)) != 0) {
                    char msg[sizeof err->msg];
                    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
                    rc = st_err_set(err, rc, "layer '%s', iteration %llu: pruning dZ: %s",
                                    y->l.name, (unsigned long long)iter, msg);
                    goto done;
                }
                y->tau = ps.tau;
                s->dz_nz_in += ps.n - ps.zeros_in;
                s->dz_nz_out += ps.n - ps.zeros;
            } else {
                size_t nz = count_nz(y->dout, n);
                y->dz = y->dout;
                s->dz_nz_in += nz;
                s->dz_nz_out += nz;
            }
            s->iters++;
            s->tau_sum += y->tau;
            s->dz_n += n;
            s->act_n += (uint64_t)b * y->in_n;
            s->act_nz += count_nz(in, (size_t)b * y->in_n);
        }
        switch (y->l.kind) {
        case ST_CONV:
            conv_backward(t, y, in, din, acc, b);
            break;
        case ST_FC:
            fc_backward(t, y, in, din, acc, b);
            break;
        case ST_MAXPOOL:
        case ST_AVGPOOL:
        case ST_GAP:
            if (din)
                pool_backward(y, din, acc, b);
            break;
        case ST_RELU:
            if (din)
                relu_backward(y->out, y->dout, din, acc, n);
            break;
        case ST_BN:
            bn_backward(y, din, acc, b);
            break;
        case ST_ADD: {
            float *din1;
            if (din)
                add_to(din, y->dout, acc, n);
            din1 = src_dout(t, y, 1, &acc1);
            if (din1)
                add_to(din1, y->dout, acc1, n);
            break;
        }
        default:
            break;
        }
    }
    t->b = b;
    t->x = x;
    t->ran = 1;
    if (loss)
        *loss = l;
done:
    return rc;
}

int st_trainer_step(st_trainer *t, const float *x, const uint8_t *y, int b, uint64_t iter,
                    double *loss, st_err *err)
{
    int rc = st_trainer_grad(t, x, y, b, iter, loss, err);
    float lr = (float)t->cfg.lr, mu = (float)t->cfg.momentum, wd = (float)t->cfg.weight_decay;

    if (rc)
        return rc;
    /* v = mu v + g + wd w; w -= lr v (PyTorch's SGD with momentum and weight decay) */
    for (int k = 0; k < t->nparams; k++) {
        const tparam *p = &t->params[k];
        float *w = t->w + p->off, *g = t->g + p->off, *v = t->v + p->off;
        float d = p->decay ? wd : 0.0f;
#pragma omp parallel for schedule(static) if (p->n > 4096)
        for (size_t i = 0; i < p->n; i++) {
            v[i] = mu * v[i] + g[i] + d * w[i];
            w[i] -= lr * v[i];
        }
    }
    return ST_OK;
}

/* Copy images idx[0..b) of d into the trainer's batch buffers. */
static void gather(st_trainer *t, const st_dataset *d, const uint32_t *idx, int b)
{
    size_t n = (size_t)d->c * (size_t)d->h * (size_t)d->w;

    for (int i = 0; i < b; i++) {
        memcpy(t->xbuf + (size_t)i * n, d->images + (size_t)idx[i] * n, n * sizeof(float));
        t->ybuf[i] = d->labels[idx[i]];
    }
}

static int check_data(const st_trainer *t, const st_dataset *d, st_err *err)
{
    const st_layer *l0;
    int rc = ST_OK;

    if (!t || !d || !d->images || !d->labels || d->n < 1)
        return st_err_set(err, ST_EINVAL, "trainer: no data");
    /* every layer that reads the network input must read images of the data's shape (an
     * imported layer list may have several, of different shapes) */
    for (int i = 0; i < t->n && rc == ST_OK; i++) {
        l0 = &t->ly[i].l;
        if (l0->src[0] >= 0 && !(l0->kind == ST_ADD && l0->src[1] < 0))
            continue;
        if (l0->kind == ST_FC ? (uint64_t)l0->in_c != (uint64_t)d->c * d->h * d->w
                              : (l0->in_c != d->c || l0->in_h != d->h || l0->in_w != d->w)) {
            rc = st_err_set(err, ST_EINVAL,
                            "network '%s': layer '%s' reads %dx%dx%d inputs: the data has "
                            "%dx%dx%d images",
                            st_net_name(t->net), l0->name, l0->in_c, l0->in_h, l0->in_w, d->c, d->h,
                            d->w);
        }
    }
    return rc;
}

int st_trainer_epoch(st_trainer *t, const st_dataset *d, int epoch, uint64_t *iter, double *loss,
                     st_train_iter_fn fn, void *ctx, st_err *err)
{
    double total = 0.0, l;
    int rc;

    if ((rc = check_data(t, d, err)) != 0)
        goto done;
    if (t->perm_n < d->n) {
        uint32_t *p = realloc(t->perm, (size_t)d->n * sizeof *p);
        if (!p) {
            rc = st_err_set(err, ST_ENOMEM, "trainer: out of memory");
            goto done;
        }
        t->perm = p;
        t->perm_n = d->n;
    }
    /* Fisher-Yates with the uniforms of stream (seed, epoch) */
    for (int i = 0; i < d->n; i++)
        t->perm[i] = (uint32_t)i;
    for (int i = d->n - 1; i > 0; i--) {
        double u = st_rng_uniform(t->cfg.seed, ST_RNG_STREAM(epoch, 0, TAG_SHUFFLE), (uint64_t)i);
        int j = (int)(u * (i + 1));
        uint32_t s = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = s;
    }
    for (int at = 0; at < d->n; at += t->cap) {
        int b = d->n - at < t->cap ? d->n - at : t->cap;
        gather(t, d, t->perm + at, b);
        if ((rc = st_trainer_step(t, t->xbuf, t->ybuf, b, *iter, &l, err)) != 0 ||
            (fn && (rc = fn(ctx, t, *iter, err)) != 0))
            goto done;
        (*iter)++;
        total += l * b;
    }
    if (loss)
        *loss = total / d->n;
done:
    return rc;
}

int st_trainer_evaluate(st_trainer *t, const st_dataset *d, double *accuracy, double *loss,
                        st_err *err)
{
    double total = 0.0, l;
    long good = 0;
    int rc, c;
    size_t n;

    if ((rc = check_data(t, d, err)) != 0)
        return rc;
    n = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    for (int at = 0; at < d->n; at += t->cap) {
        int b = d->n - at < t->cap ? d->n - at : t->cap;
        if ((rc = st_trainer_forward(t, d->images + (size_t)at * n, d->labels + at, b, 0, &l, &c,
                                     err)) != 0)
            return rc;
        total += l * b;
        good += c;
    }
    if (accuracy)
        *accuracy = (double)good / d->n;
    if (loss)
        *loss = total / d->n;
    return ST_OK;
}

/* --------------------------------------------------------------- access */

const float *st_trainer_scores(const st_trainer *t)
{
    return t ? t->ly[t->n - 1].out : NULL;
}

int st_trainer_param_count(const st_trainer *t)
{
    return t ? t->nparams : 0;
}

int st_trainer_param(st_trainer *t, int i, int *layer, const char **name, float **value,
                     const float **grad, size_t *n)
{
    const tparam *p;

    if (!t || i < 0 || i >= t->nparams)
        return ST_EINVAL;
    p = &t->params[i];
    if (layer)
        *layer = p->layer;
    if (name)
        *name = p->name;
    if (value)
        *value = t->w + p->off;
    if (grad)
        *grad = t->g + p->off;
    if (n)
        *n = p->n;
    return ST_OK;
}

const st_train_layer_stats *st_trainer_stats(const st_trainer *t, int *n)
{
    if (n)
        *n = t ? t->nstats : 0;
    return t ? t->stats : NULL;
}

void st_trainer_stats_reset(st_trainer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++) {
        const tlayer *y = &t->ly[i];
        if (y->stat < 0)
            continue;
        memset(&t->stats[y->stat], 0, sizeof t->stats[y->stat]);
        t->stats[y->stat].layer = i;
        t->stats[y->stat].pruned = layer_pruned(t, y);
    }
}

int st_trainer_tensors(const st_trainer *t, int layer, st_train_tensors *out, st_err *err)
{
    const tlayer *y;

    if (!t || !out || layer < 0 || layer >= t->n || !st_kind_is_compute(t->ly[layer].l.kind))
        return st_err_set(err, ST_EINVAL, "layer %d: not a compute layer of the network", layer);
    if (!t->ran)
        return st_err_set(err, ST_EINVAL, "layer %d: no backward pass has run", layer);
    y = &t->ly[layer];
    out->b = t->b;
    out->act = y->l.src[0] < 0 ? t->x : t->ly[y->l.src[0]].out;
    out->dz_in = y->dout;
    out->dz_out = y->dz;
    out->act_n = y->in_n;
    out->dz_n = y->out_n;
    out->tau = y->tau;
    return ST_OK;
}
