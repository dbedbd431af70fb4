/*
 * sparsity.c - the statistical sparsity model: zero masks of the input activations and of
 * the output gradient dZ of one compute layer, drawn from keyed random numbers.
 * The pruning rule itself lives in prune.c; replaying recorded traces lives elsewhere.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

/* What a random number is for: the last word of ST_RNG_STREAM. Distinct values keep the
 * streams of one (layer, image) independent of each other. */
enum {
    WHAT_RELU_ELEM = 1, /* per element of a ReLU output */
    WHAT_RELU_BLOCK,    /* per spatial block of a ReLU output (the shared copula factor) */
    WHAT_CHANNEL,       /* per channel of a ReLU output, the same for every image */
    WHAT_GRAD_VALUE,    /* raw dZ value (normal deviate, or uniform for Laplace) */
    WHAT_GRAD_SIGN,     /* sign of a lognormal dZ value */
    WHAT_ARGMAX,        /* which position of a max-pool window receives the gradient */
    WHAT_PRUNE          /* the stream handed to st_prune */
};

/* The image field of ST_RNG_STREAM is 16 bits wide: larger indices would alias. */
#define IMAGE_MAX 65535

static const char *const law_names[ST_LAW_COUNT] = {"normal", "laplace", "lognormal"};

/* Everything the recursive mask functions read, and where they report. */
typedef struct ctx {
    const st_net *net;
    const st_sparsity_cfg *cfg;
    int image;
    int count;
    st_err *err;
} ctx;

const char *st_law_name(st_law law)
{
    const char *name = "unknown";

    if ((int)law >= 0 && law < ST_LAW_COUNT)
        name = law_names[law];
    return name;
}

int st_law_parse(const char *name)
{
    int law = -1, i;

    for (i = 0; name && i < ST_LAW_COUNT; i++)
        if (strcmp(name, law_names[i]) == 0)
            law = i;
    return law;
}

/* Defaults and their reasons are in docs/sparsity.md. */
void st_sparsity_cfg_init(st_sparsity_cfg *cfg)
{
    if (cfg) {
        memset(cfg, 0, sizeof *cfg);
        cfg->seed = 1;
        st_prune_opts_init(&cfg->prune); /* p = 0: the caller chooses the rate */
        cfg->prune_first = 1;
        cfg->prune_fc = 1;
        cfg->grad_law = ST_LAW_NORMAL;
        cfg->lognormal_sigma = 1.0;
        cfg->relu_density = 0.5;
        cfg->relu_density_by_layer = NULL;
        cfg->channel_cv = 0.0;
        cfg->spatial_corr = 0.0;
        cfg->spatial_block = 4;
    }
}

/* Comparisons are written so that NaN fails them. lognormal_sigma is capped so that
 * exp(sigma * N) stays a finite float for every deviate the generator can return (|N| < 9,
 * exp(90) < FLT_MAX = 3.4e38), since st_prune rejects infinite input. */
int st_sparsity_cfg_check(const st_sparsity_cfg *cfg, st_err *err)
{
    int rc = ST_OK;

    if (!cfg)
        rc = st_err_set(err, ST_EINVAL, "sparsity configuration is NULL");
    else if (!(cfg->relu_density > 0 && cfg->relu_density <= 1))
        rc = st_err_set(err, ST_EINVAL, "relu_density = %g: must be in (0, 1]", cfg->relu_density);
    else if (!(cfg->prune.p >= 0 && cfg->prune.p < 1))
        rc = st_err_set(err, ST_EINVAL, "prune.p = %g: must be in [0, 1)", cfg->prune.p);
    else if (!(cfg->prune.sigma_scale > 0 && isfinite(cfg->prune.sigma_scale)))
        rc = st_err_set(err, ST_EINVAL, "prune.sigma_scale = %g: must be finite and > 0",
                        cfg->prune.sigma_scale);
    else if (!(cfg->channel_cv >= 0 && isfinite(cfg->channel_cv)))
        rc =
            st_err_set(err, ST_EINVAL, "channel_cv = %g: must be finite and >= 0", cfg->channel_cv);
    else if (!(cfg->spatial_corr >= 0 && cfg->spatial_corr < 1))
        rc = st_err_set(err, ST_EINVAL, "spatial_corr = %g: must be in [0, 1)", cfg->spatial_corr);
    else if (cfg->spatial_block < 1)
        rc = st_err_set(err, ST_EINVAL, "spatial_block = %d: must be >= 1", cfg->spatial_block);
    else if (!(cfg->lognormal_sigma > 0 && cfg->lognormal_sigma <= 10))
        rc = st_err_set(err, ST_EINVAL, "lognormal_sigma = %g: must be in (0, 10]",
                        cfg->lognormal_sigma);
    else if ((int)cfg->grad_law < 0 || cfg->grad_law >= ST_LAW_COUNT)
        rc = st_err_set(err, ST_EINVAL,
                        "grad_law = %d: must be one of normal (0), laplace (1), lognormal (2)",
                        (int)cfg->grad_law);
    return rc;
}

void st_layer_masks_init(st_layer_masks *m)
{
    if (m) {
        memset(m, 0, sizeof *m);
        m->layer = -1;
    }
}

void st_layer_masks_fini(st_layer_masks *m)
{
    if (m) {
        free(m->act_in);
        free(m->grad);
        st_layer_masks_init(m);
    }
}

/* ------------------------------------------------------------ tensor shapes */

static size_t in_elems(const st_layer *l)
{
    return (size_t)l->in_c * (size_t)l->in_h * (size_t)l->in_w;
}

static size_t out_elems(const st_layer *l)
{
    return (size_t)l->out_c * (size_t)l->out_h * (size_t)l->out_w;
}

static int is_elementwise(st_kind kind)
{
    return kind == ST_RELU || kind == ST_BN || kind == ST_ADD;
}

/* How many elements layer l reads from each of its sources: an elementwise layer reads
 * exactly its output shape, the others their declared input (an FC layer flattens it). */
static size_t read_elems(const st_layer *l)
{
    return is_elementwise(l->kind) ? out_elems(l) : in_elems(l);
}

/* Does layer u read tensor t (the output of layer t)? */
static int consumes(const st_layer *u, int t)
{
    return u->src[0] == t || (u->kind == ST_ADD && u->src[1] == t);
}

/* A zero-length tensor still gets a buffer, so that NULL always means "out of memory". */
static uint8_t *mask_alloc(size_t n)
{
    return malloc(n ? n : 1);
}

/* Check that source `src` of layer `user` is the network input or an earlier layer: this
 * is what keeps the recursions below finite. */
static int check_src(const ctx *x, int user, int src)
{
    int rc = ST_OK;

    if (src < -1 || src >= user)
        rc = st_err_set(x->err, ST_EINVAL,
                        "layer %d '%s': source %d is neither the network input (-1) nor an "
                        "earlier layer",
                        user, st_net_layer(x->net, user)->name, src);
    return rc;
}

/* Check that layer `user`, which reads n elements, gets as many from layer t. */
static int check_size(const ctx *x, int user, int t, size_t n)
{
    const st_layer *u = st_net_layer(x->net, user), *l = st_net_layer(x->net, t);
    int rc = ST_OK;

    if (out_elems(l) != n)
        rc = st_err_set(x->err, ST_EINVAL,
                        "layer %d '%s' reads %zu elements but its source %d '%s' produces %zu",
                        user, u->name, n, t, l->name, out_elems(l));
    return rc;
}

/* The clipped window [*lo, *hi) of output coordinate o along one axis. */
static void window(int o, int stride, int pad, int k, int size, int *lo, int *hi)
{
    int start = o * stride - pad;

    *lo = start < 0 ? 0 : start;
    *hi = start + k > size ? size : start + k;
}

/* ---------------------------------------------------------- activation masks */

/* The density d_R of ReLU layer r: the per-layer override when it is given and > 0. */
static int relu_base_density(const ctx *x, int r, double *d)
{
    const double *by = x->cfg->relu_density_by_layer;
    int rc = ST_OK;

    *d = x->cfg->relu_density;
    if (by && (isnan(by[r]) || by[r] > 1))
        rc = st_err_set(x->err, ST_EINVAL,
                        "relu_density_by_layer[%d] = %g (layer '%s'): must be in (0, 1], or <= 0 "
                        "for relu_density",
                        r, by[r], st_net_layer(x->net, r)->name);
    else if (by && by[r] > 0)
        *d = by[r];
    return rc;
}

/* Draw the zero mask of the output of ReLU layer r into out (out_elems of r).
 * Per channel c the density is d_c = clamp(d_R (1 + channel_cv n_c), 0, 1), n_c a standard
 * normal keyed by (r, c) only, so a channel keeps its character across images. Inside a
 * channel, element i is non-zero iff sqrt(rho) N_block + sqrt(1 - rho) N_i < Phi^-1(d_c): a
 * Gaussian copula whose latent variable is standard normal, so the marginal density is
 * exactly d_c while elements of one spatial block share the factor N_block (pairwise
 * latent correlation rho). With rho = 0 this is u_i < d_c, which needs one uniform only. */
static int relu_mask(const ctx *x, int r, uint8_t *out)
{
    const st_layer *l = st_net_layer(x->net, r);
    const st_sparsity_cfg *cfg = x->cfg;
    uint64_t seed = cfg->seed;
    uint64_t s_elem = ST_RNG_STREAM(r, x->image, WHAT_RELU_ELEM);
    uint64_t s_block = ST_RNG_STREAM(r, x->image, WHAT_RELU_BLOCK);
    uint64_t s_chan = ST_RNG_STREAM(r, 0, WHAT_CHANNEL);
    double rho = cfg->spatial_corr, a = sqrt(rho), b = sqrt(1.0 - rho);
    int h = l->out_h, w = l->out_w, bs = cfg->spatial_block;
    int bh = (h + bs - 1) / bs, bw = (w + bs - 1) / bs;
    double d, dc, q, zb;
    uint64_t i, blk;
    int rc, c, by, bx, y, xx;

    rc = relu_base_density(x, r, &d);
    if (rc)
        goto done;
    for (c = 0; c < l->out_c; c++) {
        uint8_t *plane = out + (size_t)c * h * w;
        uint64_t base = (uint64_t)c * h * w;

        dc = d;
        if (cfg->channel_cv > 0) {
            dc = d * (1.0 + cfg->channel_cv * st_rng_normal(seed, s_chan, (uint64_t)c));
            dc = dc < 0 ? 0 : dc > 1 ? 1 : dc;
        }
        if (dc <= 0 || dc >= 1) {
            memset(plane, dc >= 1, (size_t)h * w);
        } else if (rho == 0) {
            for (i = 0; i < (uint64_t)h * w; i++)
                plane[i] = st_rng_uniform(seed, s_elem, base + i) < dc;
        } else {
            q = st_norm_quantile(dc);
            for (by = 0; by < bh; by++) {
                for (bx = 0; bx < bw; bx++) {
                    blk = ((uint64_t)c * bh + by) * bw + bx;
                    zb = a * st_rng_normal(seed, s_block, blk);
                    for (y = by * bs; y < h && y < (by + 1) * bs; y++) {
                        for (xx = bx * bs; xx < w && xx < (bx + 1) * bs; xx++) {
                            i = (uint64_t)y * w + xx;
                            plane[i] = zb + b * st_rng_normal(seed, s_elem, base + i) < q;
                        }
                    }
                }
            }
        }
    }
done:
    return rc;
}

/* Pooling output mask: non-zero iff any valid input of its window is (max and average of
 * non-negative values are zero only when every input is). Windows clipped to nothing give 0. */
static void pool_or(const st_layer *p, const uint8_t *in, uint8_t *out)
{
    int c, oy, ox, y, xx, y0, y1, x0, x1;
    uint8_t any;

    for (c = 0; c < p->out_c; c++) {
        const uint8_t *plane = in + (size_t)c * p->in_h * p->in_w;
        for (oy = 0; oy < p->out_h; oy++) {
            window(oy, p->stride_h, p->pad_t, p->k_h, p->in_h, &y0, &y1);
            for (ox = 0; ox < p->out_w; ox++) {
                window(ox, p->stride_w, p->pad_l, p->k_w, p->in_w, &x0, &x1);
                any = 0;
                for (y = y0; y < y1 && !any; y++)
                    for (xx = x0; xx < x1 && !any; xx++)
                        any = plane[(size_t)y * p->in_w + xx];
                out[((size_t)c * p->out_h + oy) * p->out_w + ox] = any != 0;
            }
        }
    }
}

/* Global average pooling: channel c is non-zero iff any element of its plane is. */
static void gap_or(const st_layer *g, const uint8_t *in, uint8_t *out)
{
    size_t plane = (size_t)g->in_h * g->in_w, i;
    int c;

    for (c = 0; c < g->in_c; c++) {
        out[c] = 0;
        for (i = 0; i < plane && !out[c]; i++)
            out[c] = in[(size_t)c * plane + i] != 0;
    }
}

/* Fill out[0..n) with the zero mask of tensor t (the output of layer t, or the network
 * input when t = -1) as read by layer `user`. Compute and BN outputs are dense; ReLU outputs
 * are drawn; pooling and additions combine their sources' masks. */
static int fwd_mask(const ctx *x, int t, int user, size_t n, uint8_t *out)
{
    const st_layer *l;
    uint8_t *a = NULL, *b = NULL;
    size_t na, i;
    int rc = ST_OK;

    if (t == -1) {
        memset(out, 1, n); /* the input image is dense */
        goto done;
    }
    rc = check_size(x, user, t, n);
    if (rc)
        goto done;
    l = st_net_layer(x->net, t);
    switch (l->kind) {
    case ST_RELU:
        rc = relu_mask(x, t, out);
        break;
    case ST_MAXPOOL:
    case ST_AVGPOOL:
    case ST_GAP:
        na = read_elems(l);
        rc = check_src(x, t, l->src[0]);
        if (rc)
            goto done;
        a = mask_alloc(na);
        if (!a) {
            rc = st_err_set(x->err, ST_ENOMEM,
                            "layer %d '%s': out of memory for a %zu-element mask", t, l->name, na);
            goto done;
        }
        rc = fwd_mask(x, l->src[0], t, na, a);
        if (rc)
            goto done;
        if (l->kind == ST_GAP)
            gap_or(l, a, out);
        else
            pool_or(l, a, out);
        break;
    case ST_ADD:
        rc = check_src(x, t, l->src[0]);
        if (!rc)
            rc = check_src(x, t, l->src[1]);
        if (rc)
            goto done;
        a = mask_alloc(n);
        b = mask_alloc(n);
        if (!a || !b) {
            rc = st_err_set(x->err, ST_ENOMEM,
                            "layer %d '%s': out of memory for a %zu-element mask", t, l->name, n);
            goto done;
        }
        rc = fwd_mask(x, l->src[0], t, n, a);
        if (!rc)
            rc = fwd_mask(x, l->src[1], t, n, b);
        if (rc)
            goto done;
        for (i = 0; i < n; i++)
            out[i] = a[i] | b[i];
        break;
    default:
        memset(out, 1, n); /* compute layers and BN produce dense outputs */
        break;
    }
done:
    free(a);
    free(b);
    return rc;
}

/* --------------------------------------------------------------- gradient masks */

/* Max-pool backward: each window whose output gradient is non-zero sends it to its arg-max.
 * Among the window's valid positions whose input is non-zero the arg-max is one of them
 * (ties have probability zero for continuous values), chosen by a keyed uniform; when the
 * whole window is zero any position may be the arg-max. Overlapping windows add up, which
 * for masks is a union. */
static void maxpool_back(const ctx *x, int pi, const uint8_t *in, const uint8_t *g, uint8_t *part)
{
    const st_layer *p = st_net_layer(x->net, pi);
    uint64_t stream = ST_RNG_STREAM(pi, x->image, WHAT_ARGMAX);
    int c, oy, ox, y, xx, y0, y1, x0, x1, nz, m, k;
    size_t o, at;

    for (c = 0; c < p->out_c; c++) {
        const uint8_t *plane = in + (size_t)c * p->in_h * p->in_w;
        for (oy = 0; oy < p->out_h; oy++) {
            window(oy, p->stride_h, p->pad_t, p->k_h, p->in_h, &y0, &y1);
            for (ox = 0; ox < p->out_w; ox++) {
                window(ox, p->stride_w, p->pad_l, p->k_w, p->in_w, &x0, &x1);
                o = ((size_t)c * p->out_h + oy) * p->out_w + ox;
                if (!g[o] || y0 >= y1 || x0 >= x1)
                    continue;
                nz = 0;
                for (y = y0; y < y1; y++)
                    for (xx = x0; xx < x1; xx++)
                        nz += plane[(size_t)y * p->in_w + xx] != 0;
                m = nz ? nz : (y1 - y0) * (x1 - x0);
                k = (int)(st_rng_uniform(x->cfg->seed, stream, o) * m);
                k = k < m ? k : m - 1;
                for (y = y0; y < y1 && k >= 0; y++) {
                    for (xx = x0; xx < x1 && k >= 0; xx++) {
                        at = (size_t)y * p->in_w + xx;
                        if (nz && !plane[at])
                            continue;
                        if (k-- == 0)
                            part[(size_t)c * p->in_h * p->in_w + at] = 1;
                    }
                }
            }
        }
    }
}

/* Average-pool backward: every valid position of a window with a non-zero output gradient
 * receives a share of it. */
static void avgpool_back(const st_layer *p, const uint8_t *g, uint8_t *part)
{
    int c, oy, ox, y, xx, y0, y1, x0, x1;

    for (c = 0; c < p->out_c; c++) {
        uint8_t *plane = part + (size_t)c * p->in_h * p->in_w;
        for (oy = 0; oy < p->out_h; oy++) {
            window(oy, p->stride_h, p->pad_t, p->k_h, p->in_h, &y0, &y1);
            for (ox = 0; ox < p->out_w; ox++) {
                window(ox, p->stride_w, p->pad_l, p->k_w, p->in_w, &x0, &x1);
                if (!g[((size_t)c * p->out_h + oy) * p->out_w + ox])
                    continue;
                for (y = y0; y < y1; y++)
                    for (xx = x0; xx < x1; xx++)
                        plane[(size_t)y * p->in_w + xx] = 1;
            }
        }
    }
}

/* Fill out (out_elems of layer t) with the mask of the loss gradient with respect to the
 * output of layer t: the union, over the layers that read t, of what each sends back. A
 * compute consumer (dA = W^T dZ), a BN (its backward subtracts batch means over the whole
 * plane) and the loss itself (no consumer) send a dense gradient, and a union with a dense
 * mask is dense, so these are looked for first; that also stops the recursion early. */
static int bwd_mask(const ctx *x, int t, uint8_t *out)
{
    const st_layer *l = st_net_layer(x->net, t), *u;
    size_t n = out_elems(l), i;
    uint8_t *part = NULL, *g = NULL, *in = NULL;
    int j, found = 0, dense = 0, rc = ST_OK;

    for (j = t + 1; j < x->count && !dense; j++) {
        u = st_net_layer(x->net, j);
        if (consumes(u, t)) {
            found = 1;
            dense = st_kind_is_compute(u->kind) || u->kind == ST_BN;
        }
    }
    if (!found || dense) {
        memset(out, 1, n);
        goto done;
    }
    memset(out, 0, n);
    part = mask_alloc(n);
    if (!part)
        goto nomem;
    for (j = t + 1; j < x->count; j++) {
        u = st_net_layer(x->net, j);
        if (!consumes(u, t))
            continue;
        rc = check_size(x, j, t, read_elems(u));
        if (rc)
            goto done;
        /* g: the gradient at u's output; it has u's output shape. */
        g = mask_alloc(out_elems(u));
        if (!g)
            goto nomem;
        rc = bwd_mask(x, j, g);
        if (rc)
            goto done;
        switch (u->kind) {
        case ST_RELU: /* dX = dY where the output is positive */
            rc = relu_mask(x, j, part);
            if (rc)
                goto done;
            for (i = 0; i < n; i++)
                part[i] &= g[i];
            break;
        case ST_ADD: /* dX = dY for both operands */
            memcpy(part, g, n);
            break;
        case ST_MAXPOOL:
            in = mask_alloc(n);
            if (!in)
                goto nomem;
            rc = fwd_mask(x, t, j, n, in);
            if (rc)
                goto done;
            memset(part, 0, n);
            maxpool_back(x, j, in, g, part);
            break;
        case ST_AVGPOOL:
            memset(part, 0, n);
            avgpool_back(u, g, part);
            break;
        default: /* ST_GAP: the whole plane shares the channel's gradient */
            for (i = 0; i < n; i++)
                part[i] = g[i / ((size_t)u->in_h * u->in_w)];
            break;
        }
        for (i = 0; i < n; i++)
            out[i] |= part[i];
        free(g);
        free(in);
        g = in = NULL;
    }
    goto done;
nomem:
    rc = st_err_set(x->err, ST_ENOMEM, "layer %d '%s': out of memory for a %zu-element mask", t,
                    l->name, n);
done:
    free(part);
    free(g);
    free(in);
    return rc;
}

/* ------------------------------------------------------------ gradient values */

/* Raw dZ value of element i from the configured law; all laws are symmetric about 0.
 * Laplace, unit scale, by its inverse distribution function: F^-1(u) = ln(2u) for u < 1/2,
 * -ln(2 - 2u) above; u + 2^-54 centres the 2^-53 grid of st_rng_uniform so that u = 0 does
 * not give -inf. Lognormal: magnitude exp(sigma N) with a fair random sign. */
static double grad_value(const st_sparsity_cfg *cfg, int layer, int image, uint64_t i)
{
    uint64_t sv = ST_RNG_STREAM(layer, image, WHAT_GRAD_VALUE);
    uint64_t ss = ST_RNG_STREAM(layer, image, WHAT_GRAD_SIGN);
    double u, v;

    switch (cfg->grad_law) {
    case ST_LAW_LAPLACE:
        u = st_rng_uniform(cfg->seed, sv, i);
        v = u < 0.5 ? log(2.0 * u + 0x1p-53) : -log(2.0 - 2.0 * u);
        break;
    case ST_LAW_LOGNORMAL:
        v = exp(cfg->lognormal_sigma * st_rng_normal(cfg->seed, sv, i));
        if (st_rng_uniform(cfg->seed, ss, i) < 0.5)
            v = -v;
        break;
    default:
        v = st_rng_normal(cfg->seed, sv, i);
        break;
    }
    return v;
}

/* Make *buf hold at least n bytes; on failure it keeps its old block. */
static int grow(uint8_t **buf, size_t *cap, size_t n, st_err *err)
{
    uint8_t *p;
    int rc = ST_OK;

    if (n > *cap || !*buf) {
        p = realloc(*buf, n ? n : 1);
        if (!p) {
            rc = st_err_set(err, ST_ENOMEM, "out of memory for a %zu-element mask", n);
        } else {
            *buf = p;
            *cap = n;
        }
    }
    return rc;
}

static double density(const uint8_t *mask, size_t n)
{
    size_t i, nz = 0;

    for (i = 0; i < n; i++)
        nz += mask[i] != 0;
    return n ? (double)nz / (double)n : 0.0;
}

int st_sparsity_layer(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                      st_layer_masks *m, st_err *err)
{
    ctx x;
    const st_layer *l;
    st_prune_stats ps;
    float *v = NULL;
    size_t na, ng, i;
    int rc;

    if (!net || !m) {
        rc = st_err_set(err, ST_EINVAL, "st_sparsity_layer: %s is NULL", !net ? "net" : "masks");
        goto done;
    }
    rc = st_sparsity_cfg_check(cfg, err);
    if (rc)
        goto done;
    x.net = net;
    x.cfg = cfg;
    x.image = image;
    x.count = st_net_count(net);
    x.err = err;
    if (layer < 0 || layer >= x.count) {
        rc = st_err_set(err, ST_EINVAL, "layer %d is out of range: network '%s' has %d layers",
                        layer, st_net_name(net), x.count);
        goto done;
    }
    l = st_net_layer(net, layer);
    if (!st_kind_is_compute(l->kind)) {
        rc = st_err_set(err, ST_EINVAL, "layer %d '%s' is not a compute layer (it is a %s)", layer,
                        l->name, st_kind_name(l->kind));
        goto done;
    }
    if (image < 0 || image > IMAGE_MAX) {
        rc = st_err_set(err, ST_EINVAL, "image = %d: must be in [0, %d]", image, IMAGE_MAX);
        goto done;
    }
    na = in_elems(l);
    ng = out_elems(l);
    rc = grow(&m->act_in, &m->act_cap, na, err);
    if (!rc)
        rc = grow(&m->grad, &m->grad_cap, ng, err);
    if (!rc)
        rc = check_src(&x, layer, l->src[0]);
    if (!rc)
        rc = fwd_mask(&x, l->src[0], layer, na, m->act_in);
    if (!rc)
        rc = bwd_mask(&x, layer, m->grad);
    if (rc)
        goto done;
    m->layer = layer;
    m->act_density = density(m->act_in, na);
    m->grad_density_natural = density(m->grad, ng);
    m->tau = 0.0;
    if ((l->first && !cfg->prune_first) || (l->kind == ST_FC && !cfg->prune_fc)) {
        m->grad_density = m->grad_density_natural;
        goto done;
    }
    /* Raw values where the natural mask lets gradient through, exact zeros elsewhere, then
     * the real pruning over the whole tensor, natural zeros included (whether they count in
     * mean|g| is cfg->prune.skip_zeros). */
    v = malloc((ng ? ng : 1) * sizeof *v);
    if (!v) {
        rc = st_err_set(err, ST_ENOMEM, "layer %d '%s': out of memory for %zu gradient values",
                        layer, l->name, ng);
        goto done;
    }
    for (i = 0; i < ng; i++)
        v[i] = m->grad[i] ? (float)grad_value(cfg, layer, image, i) : 0.0f;
    rc = st_prune(v, v, ng, &cfg->prune, cfg->seed, ST_RNG_STREAM(layer, image, WHAT_PRUNE), &ps,
                  err);
    if (rc)
        goto done;
    for (i = 0; i < ng; i++)
        m->grad[i] = v[i] != 0.0f;
    m->grad_density = density(m->grad, ng);
    m->tau = ps.tau;
done:
    free(v);
    if (rc && m) {
        m->layer = -1;
        m->act_density = m->grad_density_natural = m->grad_density = m->tau = 0.0;
    }
    return rc;
}
