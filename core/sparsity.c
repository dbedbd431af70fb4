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

/* ReLU masks kept for the rest of one call: the gradient through a ReLU followed by a max
 * pool needs the ReLU's mask twice (the pool's arg-max and the ReLU's own backward), and it is
 * drawn once. */
#define RELU_CACHE 4

/* Everything the recursive mask functions read, and where they report; and the ReLU masks
 * drawn so far in this call (owned, freed at the end of st_sparsity_layer). Masks are kept
 * only while `keep` is set: during the gradient search, where they can be asked for again.
 * The input activations' ReLU lies before the layer, where that search never goes. */
typedef struct ctx {
    const st_net *net;
    const st_sparsity_cfg *cfg;
    int image;
    int count;
    st_err *err;
    int keep;
    int ncached;
    int cached_layer[RELU_CACHE];
    uint8_t *cached[RELU_CACHE];
} ctx;

/* Random numbers of one stream, read position by position but drawn DRAW_CHUNK at a time
 * (st_rng_bytes, st_rng_words or st_rng_normals), which is what makes them cheap. A position
 * outside the run held starts a new run there, so positions may be skipped; reading them in
 * increasing order draws each one once. */
#define DRAW_CHUNK 256

/* What a draws reader holds: st_rng_bytes, st_rng_words or st_rng_normals of its stream. */
enum { DRAW_BYTES, DRAW_WORDS, DRAW_NORMALS };

typedef struct draws {
    uint64_t seed, stream;
    uint64_t end;   /* positions are below end: no run goes past it */
    int kind;       /* DRAW_* */
    uint64_t start; /* position of the run's first entry */
    size_t len;     /* entries in the run; 0 before the first */
    uint8_t b[DRAW_CHUNK];
    uint32_t w[DRAW_CHUNK];
    double z[DRAW_CHUNK];
} draws;

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

static void draws_init(draws *d, uint64_t seed, uint64_t stream, uint64_t end, int kind)
{
    d->seed = seed;
    d->stream = stream;
    d->end = end;
    d->kind = kind;
    d->start = 0;
    d->len = 0;
}

/* Make the run start at position pos (< d->end). */
static void draws_fill(draws *d, uint64_t pos)
{
    d->start = pos;
    d->len = d->end - pos < DRAW_CHUNK ? (size_t)(d->end - pos) : DRAW_CHUNK;
    if (d->kind == DRAW_BYTES)
        st_rng_bytes(d->seed, d->stream, pos, d->len, d->b);
    else if (d->kind == DRAW_WORDS)
        st_rng_words(d->seed, d->stream, pos, d->len, d->w);
    else
        st_rng_normals(d->seed, d->stream, pos, d->len, d->z);
}

/* The bytes of positions pos .. pos + *len - 1 (*len > 0), or of fewer: *len is cut to what
 * the run holds from pos. */
static const uint8_t *draw_bytes(draws *d, uint64_t pos, size_t *len)
{
    size_t avail;

    if (pos - d->start >= d->len)
        draws_fill(d, pos);
    avail = (size_t)(d->start + d->len - pos);
    *len = *len < avail ? *len : avail;
    return d->b + (pos - d->start);
}

/* The word, or the normal deviate, of position pos. */
static uint32_t draw_word(draws *d, uint64_t pos)
{
    if (pos - d->start >= d->len)
        draws_fill(d, pos);
    return d->w[pos - d->start];
}

static double draw_normal(draws *d, uint64_t pos)
{
    if (pos - d->start >= d->len)
        draws_fill(d, pos);
    return d->z[pos - d->start];
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
 * latent correlation rho). With rho = 0 this is u_i < d_c, which needs one uniform only:
 * the element's byte, refined by st_rng_tie when the byte is floor(256 d_c), so that u_i lies
 * on a grid of 2^-40 and the density is d_c to within 2^-40 (st.h, st_rng_bytes). Elements
 * and blocks are visited in increasing position order (row by row), which is what the draws
 * readers need to draw each number once. */
static int relu_draw(const ctx *x, int r, uint8_t *out)
{
    const st_layer *l = st_net_layer(x->net, r);
    const st_sparsity_cfg *cfg = x->cfg;
    uint64_t seed = cfg->seed;
    uint64_t s_chan = ST_RNG_STREAM(r, 0, WHAT_CHANNEL);
    uint64_t s_elem = ST_RNG_STREAM(r, x->image, WHAT_RELU_ELEM);
    double rho = cfg->spatial_corr, a = sqrt(rho), b = sqrt(1.0 - rho);
    int h = l->out_h, w = l->out_w, bs = cfg->spatial_block;
    uint64_t bh = (uint64_t)(h + bs - 1) / bs, bw = (uint64_t)(w + bs - 1) / bs;
    size_t plane = (size_t)h * w, i, k, len;
    const uint8_t *bytes;
    uint64_t base, blk;
    draws de, db;
    double d, dc, q, zb, t, rest;
    unsigned tb;
    int rc, c, y, x0, x1, xx;

    rc = relu_base_density(x, r, &d);
    if (rc)
        goto done;
    draws_init(&de, seed, s_elem, plane * l->out_c, rho > 0 ? DRAW_NORMALS : DRAW_BYTES);
    draws_init(&db, seed, ST_RNG_STREAM(r, x->image, WHAT_RELU_BLOCK), l->out_c * bh * bw,
               DRAW_NORMALS);
    for (c = 0; c < l->out_c; c++) {
        uint8_t *p = out + (size_t)c * plane;

        base = (uint64_t)c * plane;
        dc = d;
        if (cfg->channel_cv > 0) {
            dc = d * (1.0 + cfg->channel_cv * st_rng_normal(seed, s_chan, (uint64_t)c));
            dc = dc < 0 ? 0 : dc > 1 ? 1 : dc;
        }
        if (dc <= 0 || dc >= 1) {
            memset(p, dc >= 1, plane);
        } else if (rho == 0) {
            t = dc * 256.0;
            tb = (unsigned)t;
            rest = (t - tb) * 0x1p32;
            for (i = 0; i < plane; i += len) {
                len = plane - i;
                bytes = draw_bytes(&de, base + i, &len);
                for (k = 0; k < len; k++) {
                    p[i + k] = bytes[k] < tb;
                    if (bytes[k] == tb && rest > 0.0)
                        p[i + k] = (double)st_rng_tie(seed, s_elem, base + i + k) < rest;
                }
            }
        } else {
            q = st_norm_quantile(dc);
            for (y = 0; y < h; y++) {
                blk = ((uint64_t)c * bh + (uint64_t)(y / bs)) * bw;
                for (x0 = 0; x0 < w; x0 = x1, blk++) {
                    x1 = w - x0 > bs ? x0 + bs : w;
                    zb = a * draw_normal(&db, blk);
                    for (xx = x0; xx < x1; xx++) {
                        i = (size_t)y * w + xx;
                        p[i] = zb + b * draw_normal(&de, base + i) < q;
                    }
                }
            }
        }
    }
done:
    return rc;
}

/* The mask of ReLU layer r into out: drawn once while x->keep is set, copied after that. A
 * copy that cannot be kept (the cache is full, or out of memory) only costs a later draw. */
static int relu_mask(ctx *x, int r, uint8_t *out)
{
    size_t n = out_elems(st_net_layer(x->net, r));
    uint8_t *copy;
    int j, rc = ST_OK;

    for (j = 0; j < x->ncached; j++) {
        if (x->cached_layer[j] == r) {
            memcpy(out, x->cached[j], n);
            goto done;
        }
    }
    rc = relu_draw(x, r, out);
    if (!rc && x->keep && x->ncached < RELU_CACHE) {
        copy = mask_alloc(n);
        if (copy) {
            memcpy(copy, out, n);
            x->cached_layer[x->ncached] = r;
            x->cached[x->ncached++] = copy;
        }
    }
done:
    return rc;
}

/* dst[i] = dst[i] | src[i] (or &), eight bytes at a time through 64-bit words: the byte
 * loops are a large part of the gradient search on networks of ReLUs and pools. */
static void mask_or(uint8_t *dst, const uint8_t *src, size_t n)
{
    uint64_t a, b;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&a, dst + i, sizeof a);
        memcpy(&b, src + i, sizeof b);
        a |= b;
        memcpy(dst + i, &a, sizeof a);
    }
    for (; i < n; i++)
        dst[i] |= src[i];
}

static void mask_and(uint8_t *dst, const uint8_t *src, size_t n)
{
    uint64_t a, b;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&a, dst + i, sizeof a);
        memcpy(&b, src + i, sizeof b);
        a &= b;
        memcpy(dst + i, &a, sizeof a);
    }
    for (; i < n; i++)
        dst[i] &= src[i];
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
                /* The whole window, without stopping at the first non-zero: on random
                 * masks an early exit is a mispredicted branch, dearer than the few bytes. */
                any = 0;
                for (y = y0; y < y1; y++)
                    for (xx = x0; xx < x1; xx++)
                        any |= plane[(size_t)y * p->in_w + xx];
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
static int fwd_mask(ctx *x, int t, int user, size_t n, uint8_t *out)
{
    const st_layer *l;
    uint8_t *a = NULL, *b = NULL;
    size_t na;
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
        memcpy(out, a, n);
        mask_or(out, b, n);
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
    int c, oy, ox, y, xx, y0, y1, x0, x1, nz, m, k, cand;
    size_t o, at;
    draws d;

    draws_init(&d, x->cfg->seed, ST_RNG_STREAM(pi, x->image, WHAT_ARGMAX), out_elems(p),
               DRAW_WORDS);

    for (c = 0; c < p->out_c; c++) {
        const uint8_t *plane = in + (size_t)c * p->in_h * p->in_w;
        uint8_t *dst = part + (size_t)c * p->in_h * p->in_w;
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
                /* The k-th candidate, k = floor(u m) for u = w / 2^32 (exact in integers);
                 * candidates are the non-zero positions, or all of them when none is. The
                 * scan runs over the whole window and counts k down without branching on the
                 * mask, which is random. */
                m = nz ? nz : (y1 - y0) * (x1 - x0);
                k = (int)(((uint64_t)draw_word(&d, o) * (uint64_t)m) >> 32);
                for (y = y0; y < y1; y++) {
                    for (xx = x0; xx < x1; xx++) {
                        at = (size_t)y * p->in_w + xx;
                        cand = (plane[at] != 0) | (nz == 0);
                        dst[at] |= (uint8_t)(cand & (k == 0));
                        k -= cand;
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
static int bwd_mask(ctx *x, int t, uint8_t *out)
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
            mask_and(part, g, n);
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
        mask_or(out, part, n);
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

/* Raw dZ values of the n elements of compute layer `layer`, image `image`, into v: drawn from
 * the configured law where mask is non-zero, exact zeros elsewhere. All laws are symmetric
 * about 0. Element i takes position i of the value stream (a normal deviate, or a word for
 * Laplace) and of the sign stream (a word); runs of DRAW_CHUNK elements are drawn together,
 * and a run whose mask is all zero draws nothing.
 * Laplace, unit scale, by its inverse distribution function: F^-1(u) = ln(2u) for u < 1/2,
 * -ln(2 - 2u) above, with u = (w + 1/2) / 2^32, the middle of the word's cell, which lies in
 * (0, 1) so that both logarithms are finite (|value| < 22.2). It is written as
 * +-ln(1 - |2u - 1|), whose arithmetic is exact for u on that grid, so that the sign
 * multiplies instead of choosing between two branches on a coin flip. Lognormal: magnitude
 * exp(sigma N) with a fair random sign, the top bit of the sign word. */
/* f where keep is non-zero, +0 elsewhere, through the bits: a select on a ReLU mask, which is
 * random, would become a branch mispredicted half the time. */
static float masked(float f, uint8_t keep)
{
    uint32_t bits;

    memcpy(&bits, &f, sizeof bits);
    bits &= -(uint32_t)(keep != 0);
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void grad_values(const st_sparsity_cfg *cfg, int layer, int image, const uint8_t *mask,
                        size_t n, float *v)
{
    static const double sign[2] = {1.0, -1.0};
    uint64_t sv = ST_RNG_STREAM(layer, image, WHAT_GRAD_VALUE);
    uint64_t ss = ST_RNG_STREAM(layer, image, WHAT_GRAD_SIGN);
    uint32_t w[DRAW_CHUNK], sw[DRAW_CHUNK];
    double z[DRAW_CHUNK], u, g;
    size_t i, k, len;
    int any;

    for (i = 0; i < n; i += len) {
        len = n - i < DRAW_CHUNK ? n - i : DRAW_CHUNK;
        any = 0;
        for (k = 0; k < len; k++)
            any |= mask[i + k];
        if (!any) {
            memset(v + i, 0, len * sizeof *v);
            continue;
        }
        switch (cfg->grad_law) {
        case ST_LAW_LAPLACE:
            st_rng_words(cfg->seed, sv, i, len, w);
            for (k = 0; k < len; k++) {
                u = ((double)w[k] + 0.5) * 0x1p-32;
                g = sign[u >= 0.5] * log(1.0 - fabs(2.0 * u - 1.0));
                v[i + k] = masked((float)g, mask[i + k]);
            }
            break;
        case ST_LAW_LOGNORMAL:
            st_rng_normals(cfg->seed, sv, i, len, z);
            st_rng_words(cfg->seed, ss, i, len, sw);
            for (k = 0; k < len; k++) {
                g = sign[sw[k] >> 31] * exp(cfg->lognormal_sigma * z[k]);
                v[i + k] = masked((float)g, mask[i + k]);
            }
            break;
        default:
            st_rng_normals(cfg->seed, sv, i, len, z);
            for (k = 0; k < len; k++)
                v[i + k] = masked((float)z[k], mask[i + k]);
            break;
        }
    }
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

/* The fraction of ones in mask[0..n), which holds 0 and 1 only (every function above stores
 * a comparison, a copy or an OR of such bytes, or memsets 0 or 1). Eight bytes at a time:
 * multiplying their word by 0x0101010101010101 adds all eight into the top byte, and the sum
 * (at most 8) cannot carry out of it. */
static double density(const uint8_t *mask, size_t n)
{
    uint64_t word, nz = 0;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&word, mask + i, sizeof word);
        nz += (word * 0x0101010101010101u) >> 56;
    }
    for (; i < n; i++)
        nz += mask[i];
    return n ? (double)nz / (double)n : 0.0;
}

int st_sparsity_layer(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                      st_layer_masks *m, st_err *err)
{
    ctx x = {0};
    const st_layer *l;
    st_prune_stats ps;
    float *v = NULL;
    uint8_t *grad;
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
    x.keep = 1;
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
    grad = m->grad;
    grad_values(cfg, layer, image, grad, ng, v);
    rc = st_prune(v, v, ng, &cfg->prune, cfg->seed, ST_RNG_STREAM(layer, image, WHAT_PRUNE), &ps,
                  err);
    if (rc)
        goto done;
    for (i = 0; i < ng; i++)
        grad[i] = v[i] != 0.0f;
    m->grad_density = ng ? (double)(ng - ps.zeros) / (double)ng : 0.0;
    m->tau = ps.tau;
done:
    free(v);
    for (i = 0; i < (size_t)x.ncached; i++)
        free(x.cached[i]);
    if (rc && m) {
        m->layer = -1;
        m->act_density = m->grad_density_natural = m->grad_density = m->tau = 0.0;
    }
    return rc;
}
