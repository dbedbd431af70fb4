/*
 * sparsity.c - the statistical sparsity model: zero masks of the input activations and of
 * the output gradient dZ of one compute layer, drawn from keyed random numbers, for the
 * whole tensors or for chosen rows of them. The pruning rule itself lives in prune.c;
 * replaying recorded traces lives elsewhere.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
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

/* When the wanted rows of dZ hold fewer positions than this, the pruning threshold is
 * estimated from more rows (see grad_rows): 4096 values put the relative standard error of
 * mean|g| near 1.2% for a dense normal dZ (docs/sparsity.md). */
#define TAU_MIN_POSITIONS 4096

/* ReLU masks kept for the rest of one call: the gradient through a ReLU followed by a max
 * pool needs the ReLU's mask twice (the pool's arg-max and the ReLU's own backward), and it is
 * drawn once. */
#define RELU_CACHE 4

/* The rows of one ReLU output drawn so far in this call: `done` flags them (one byte per row
 * of out_c x out_h), `mask` holds them; other rows of `mask` are undefined. */
typedef struct relu_kept {
    int layer;
    uint8_t *mask;
    uint8_t *done;
} relu_kept;

/* Everything the recursive mask functions read, and where they report; and the ReLU rows
 * drawn so far in this call (owned, freed at the end of sparsity_rows). Rows are kept only
 * while `keep` is set: during the gradient search, where they can be asked for again. The
 * input activations' ReLU lies before the layer, where that search never goes. */
typedef struct ctx {
    const st_net *net;
    const st_sparsity_cfg *cfg;
    int image;
    int count;
    st_err *err;
    int keep;
    int ncached;
    relu_kept cached[RELU_CACHE];
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
        free(m->act_chan);
        free(m->grad_chan);
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

/* The next layer that reads tensor t, from *k on: through the network's index of
 * consumers (cons, ncons) when it has one, else by a scan of the later layers; -1 when
 * there is none left. In increasing order either way. */
static int consumer_next(const ctx *x, int t, const int *cons, int ncons, int *k)
{
    if (ncons >= 0)
        return *k < ncons ? cons[(*k)++] : -1;
    for (int j = *k > t ? *k : t + 1; j < x->count; j++)
        if (consumes(st_net_layer(x->net, j), t)) {
            *k = j + 1;
            return j;
        }
    return -1;
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

/* ------------------------------------------------------------------ row sets */

/* A tensor of n elements is also seen as rows of w elements (a c x h x w tensor has c x h
 * rows). A row set flags some of them: one byte per row, any non-zero byte meaning "in the
 * set"; a NULL row set holds every row. A function given the set of the rows it is to
 * produce fills those rows and leaves the others as they were. */

/* The first row at or after r whose membership is not `in` (rows when there is none). Eight
 * bytes at a time while it can: the sets of a sampled run are mostly long runs of rows out,
 * and every function below walks its sets run by run. (word - 0x01...01) & ~word &
 * 0x80...80 is non-zero iff some byte of the word is zero: the usual test, exact about
 * whether such a byte exists (not about which one it is, which is not needed here). */
static size_t run_end(const uint8_t *set, size_t r, size_t rows, int in)
{
    uint64_t word;

    for (; r + 8 <= rows; r += 8) {
        memcpy(&word, set + r, sizeof word);
        if (in ? ((word - 0x0101010101010101u) & ~word & 0x8080808080808080u) != 0 : word != 0)
            break;
    }
    while (r < rows && (set[r] != 0) == in)
        r++;
    return r;
}

/* Find the first run of rows at or after *lo that are in the set (in = 1) or out of it
 * (in = 0): set [*lo, *hi) to it and return 1, or return 0 when there is none. */
static int next_run(const uint8_t *set, size_t rows, int in, size_t *lo, size_t *hi)
{
    int found;

    if (!set) {
        found = in && *lo < rows;
        *hi = rows;
    } else {
        *lo = run_end(set, *lo, rows, !in);
        found = *lo < rows;
        *hi = run_end(set, *lo, rows, in);
    }
    return found;
}

static int row_in(const uint8_t *set, size_t r)
{
    return !set || set[r] != 0;
}

/* A row set of `rows` rows, all out. NULL when out of memory (also for rows = 0, so that
 * NULL never means "every row" here). */
static uint8_t *rows_alloc(size_t rows)
{
    return calloc(rows ? rows : 1, 1);
}

static int rows_nomem(const ctx *x, int t, size_t rows)
{
    return st_err_set(x->err, ST_ENOMEM, "layer %d '%s': out of memory for a %zu-row set", t,
                      t >= 0 ? st_net_layer(x->net, t)->name : "input", rows);
}

/* a[i] = v on the rows of the set (in = 1) or on the others (in = 0). */
static void rows_fill(uint8_t *a, const uint8_t *set, size_t rows, size_t w, int in, int v)
{
    size_t lo, hi;

    for (lo = 0; next_run(set, rows, in, &lo, &hi); lo = hi)
        memset(a + lo * w, v, (hi - lo) * w);
}

static void rows_copy(uint8_t *dst, const uint8_t *src, const uint8_t *set, size_t rows, size_t w)
{
    size_t lo, hi;

    for (lo = 0; next_run(set, rows, 1, &lo, &hi); lo = hi)
        memcpy(dst + lo * w, src + lo * w, (hi - lo) * w);
}

/* The rows of the same n elements seen as rows of w_to that hold an element of a row in
 * `set` (rows of w_from), into `to` (n / w_to bytes): the set as another layout sees it, which
 * is a superset when the rows do not line up. */
static void rows_relayout(const uint8_t *set, size_t n, size_t w_from, size_t w_to, uint8_t *to)
{
    size_t lo, hi, first, last;

    memset(to, 0, n / w_to);
    for (lo = 0; next_run(set, n / w_from, 1, &lo, &hi); lo = hi) {
        first = lo * w_from / w_to;
        last = (hi * w_from - 1) / w_to;
        memset(to + first, 1, last - first + 1);
    }
}

/* The set `set` (rows of w) as seen by a tensor of the same n elements in rows of w_to:
 * the set itself when the layouts agree, or a new set into *own, which the caller frees. */
static int rows_as(const ctx *x, int t, const uint8_t *set, size_t n, size_t w, size_t w_to,
                   const uint8_t **out, uint8_t **own)
{
    int rc = ST_OK;

    *out = set;
    if (set && w != w_to) {
        *own = rows_alloc(n / w_to);
        if (!*own)
            rc = rows_nomem(x, t, n / w_to);
        else
            rows_relayout(set, n, w, w_to, *own);
        *out = *own;
    }
    return rc;
}

/* ------------------------------------------------------- activation masks */

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

/* Draw the rows in `want` of the zero mask of the output of ReLU layer r into out (out_elems
 * of r). Per channel c the density is d_c = clamp(d_R (1 + channel_cv n_c), 0, 1), n_c a
 * standard normal keyed by (r, c) only, so a channel keeps its character across images.
 * Inside a channel, element i is non-zero iff sqrt(rho) N_block + sqrt(1 - rho) N_i <
 * Phi^-1(d_c): a Gaussian copula whose latent variable is standard normal, so the marginal
 * density is exactly d_c while elements of one spatial block share the factor N_block
 * (pairwise latent correlation rho). With rho = 0 this is u_i < d_c, which needs one uniform
 * only: the element's byte, refined by st_rng_tie when the byte is floor(256 d_c), so that
 * u_i lies on a grid of 2^-40 and the density is d_c to within 2^-40 (st.h, st_rng_bytes).
 * Every number is read at its position, so a row comes out the same whatever other rows are
 * drawn. Runs of consecutive wanted rows are visited in increasing position order, with
 * readers that end where the run does: this draws each number of a run once, and with every
 * row wanted the whole tensor is one run. */
static int relu_draw(const ctx *x, int r, const uint8_t *want, uint8_t *out)
{
    const st_layer *l = st_net_layer(x->net, r);
    const st_sparsity_cfg *cfg = x->cfg;
    uint64_t seed = cfg->seed;
    uint64_t s_chan = ST_RNG_STREAM(r, 0, WHAT_CHANNEL);
    uint64_t s_elem = ST_RNG_STREAM(r, x->image, WHAT_RELU_ELEM);
    uint64_t s_blk = ST_RNG_STREAM(r, x->image, WHAT_RELU_BLOCK);
    double rho = cfg->spatial_corr, a = sqrt(rho), b = sqrt(1.0 - rho);
    size_t h = (size_t)l->out_h, w = (size_t)l->out_w, bs = (size_t)cfg->spatial_block;
    uint64_t bh = (h + bs - 1) / bs, bw = (w + bs - 1) / bs;
    size_t rows = (size_t)l->out_c * h, lo, hi, ra, rb, row, i, k, len, c, c_have = (size_t)-1;
    size_t x0, x1, xx, y;
    const uint8_t *bytes;
    uint64_t blk;
    draws de, db;
    double d, dc = 0.0, q = 0.0, zb, t, rest = 0.0;
    unsigned tb = 0;
    int rc;

    rc = relu_base_density(x, r, &d);
    for (lo = 0; !rc && next_run(want, rows, 1, &lo, &hi); lo = hi) {
        draws_init(&de, seed, s_elem, (uint64_t)hi * w, rho > 0 ? DRAW_NORMALS : DRAW_BYTES);
        /* the blocks of the run's rows end with the block row of its last row */
        draws_init(&db, seed, s_blk, ((uint64_t)((hi - 1) / h) * bh + ((hi - 1) % h) / bs + 1) * bw,
                   DRAW_NORMALS);
        for (ra = lo; ra < hi; ra = rb) {
            c = ra / h;
            rb = (c + 1) * h < hi ? (c + 1) * h : hi; /* the run's rows of channel c */
            if (c != c_have) {
                c_have = c;
                dc = d;
                if (cfg->channel_cv > 0) {
                    dc = d * (1.0 + cfg->channel_cv * st_rng_normal(seed, s_chan, (uint64_t)c));
                    dc = dc < 0 ? 0 : dc > 1 ? 1 : dc;
                }
                t = dc * 256.0;
                tb = (unsigned)t;
                rest = (t - tb) * 0x1p32;
                if (rho > 0 && dc > 0 && dc < 1)
                    q = st_norm_quantile(dc);
            }
            if (dc <= 0 || dc >= 1) {
                memset(out + ra * w, dc >= 1, (rb - ra) * w);
            } else if (rho == 0) {
                for (i = ra * w; i < rb * w; i += len) {
                    len = rb * w - i;
                    bytes = draw_bytes(&de, i, &len);
                    for (k = 0; k < len; k++) {
                        out[i + k] = bytes[k] < tb;
                        if (bytes[k] == tb && rest > 0.0)
                            out[i + k] = (double)st_rng_tie(seed, s_elem, i + k) < rest;
                    }
                }
            } else {
                for (row = ra; row < rb; row++) {
                    y = row - c * h;
                    blk = ((uint64_t)c * bh + y / bs) * bw;
                    for (x0 = 0; x0 < w; x0 = x1, blk++) {
                        x1 = w - x0 > bs ? x0 + bs : w;
                        zb = a * draw_normal(&db, blk);
                        for (xx = x0; xx < x1; xx++) {
                            i = row * w + xx;
                            out[i] = zb + b * draw_normal(&de, i) < q;
                        }
                    }
                }
            }
        }
    }
    return rc;
}

/* The density of channel c of ReLU layer r's output, from the parameters alone: d_c of
 * relu_draw. */
static double relu_chan_density(const ctx *x, int r, int c)
{
    double d;

    if (relu_base_density(x, r, &d) != ST_OK)
        return 1;
    if (x->cfg->channel_cv > 0) {
        d *= 1.0 + x->cfg->channel_cv *
                       st_rng_normal(x->cfg->seed, ST_RNG_STREAM(r, 0, WHAT_CHANNEL), (uint64_t)c);
        d = d < 0 ? 0 : d > 1 ? 1 : d;
    }
    return d;
}

/* The expected density of channel c of tensor t's forward mask (fwd_mask), from the
 * parameters alone: ReLU d_c; a pool or global pool passes a window of k positions that
 * are independent at density d as 1 - (1 - d)^k; an add is the union of its inputs;
 * the input image and every other layer dense. Spatial correlation is ignored: this only
 * weighs channels against each other. */
static double fwd_chan_density(const ctx *x, int t, int c)
{
    const st_layer *l;
    double d, e;

    if (t < 0 || t >= x->count)
        return 1;
    l = st_net_layer(x->net, t);
    switch (l->kind) {
    case ST_RELU:
        return relu_chan_density(x, t, c);
    case ST_MAXPOOL:
    case ST_AVGPOOL:
        d = fwd_chan_density(x, l->src[0], c);
        return 1 - pow(1 - d, (double)l->k_h * l->k_w);
    case ST_GAP:
        d = fwd_chan_density(x, l->src[0], c);
        return 1 - pow(1 - d, (double)l->in_h * l->in_w);
    case ST_ADD:
        d = fwd_chan_density(x, l->src[0], c);
        e = fwd_chan_density(x, l->src[1], c);
        return 1 - (1 - d) * (1 - e);
    default:
        return 1;
    }
}

/* The expected density of channel c of compute layer `layer`'s dZ, relative to its other
 * channels: the ReLU that reads the layer's output masks it; anything else (batch norm,
 * a pool, another layer) is taken as dense. The pruning keeps the same share of every
 * channel's values. */
static double grad_chan_density(const ctx *x, int layer, int c)
{
    for (int u = layer + 1; u < x->count; u++) {
        const st_layer *l = st_net_layer(x->net, u);
        if (l->src[0] == layer || (l->kind == ST_ADD && l->src[1] == layer))
            return l->kind == ST_RELU ? relu_chan_density(x, u, c) : 1;
    }
    return 1;
}

/* The rows in `want` of the mask of ReLU layer r into out: drawn once while x->keep is set,
 * copied after that. Rows that cannot be kept (the cache is full, or out of memory) only cost
 * a later draw. */
static int relu_mask(ctx *x, int r, const uint8_t *want, uint8_t *out)
{
    const st_layer *l = st_net_layer(x->net, r);
    size_t n = out_elems(l), rows = (size_t)l->out_c * l->out_h, i;
    relu_kept *e = NULL;
    uint8_t *missing = NULL;
    int j, any = 0, rc = ST_OK;

    for (j = 0; j < x->ncached; j++)
        if (x->cached[j].layer == r)
            e = &x->cached[j];
    if (!e && x->keep && x->ncached < RELU_CACHE) {
        e = &x->cached[x->ncached];
        e->layer = r;
        e->mask = mask_alloc(n);
        e->done = rows_alloc(rows);
        if (e->mask && e->done) {
            x->ncached++;
        } else {
            free(e->mask);
            free(e->done);
            e = NULL;
        }
    }
    if (e)
        missing = rows_alloc(rows);
    if (!e || !missing) {
        rc = relu_draw(x, r, want, out);
        goto done;
    }
    for (i = 0; i < rows; i++) {
        missing[i] = row_in(want, i) && !e->done[i];
        any |= missing[i];
    }
    if (any)
        rc = relu_draw(x, r, missing, e->mask);
    if (rc)
        goto done;
    for (i = 0; i < rows; i++)
        e->done[i] |= missing[i];
    rows_copy(out, e->mask, want, rows, (size_t)l->out_w);
done:
    free(missing);
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

/* mask_or or mask_and (and = 1) on the rows of the set. */
static void rows_combine(uint8_t *dst, const uint8_t *src, const uint8_t *set, size_t rows,
                         size_t w, int and)
{
    size_t lo, hi;

    for (lo = 0; next_run(set, rows, 1, &lo, &hi); lo = hi) {
        if (and)
            mask_and(dst + lo * w, src + lo * w, (hi - lo) * w);
        else
            mask_or(dst + lo * w, src + lo * w, (hi - lo) * w);
    }
}

/* The input rows of pool p that the windows of its output rows in `set` read, into in_set
 * (in_c x in_h bytes, all out on entry). GAP windows are whole planes. */
static void pool_rows_in(const st_layer *p, const uint8_t *set, uint8_t *in_set)
{
    int c, oy, y0, y1;

    for (c = 0; c < p->out_c; c++) {
        for (oy = 0; oy < p->out_h; oy++) {
            if (!row_in(set, (size_t)c * p->out_h + oy))
                continue;
            if (p->kind == ST_GAP) {
                y0 = 0;
                y1 = p->in_h;
            } else {
                window(oy, p->stride_h, p->pad_t, p->k_h, p->in_h, &y0, &y1);
            }
            if (y0 < y1)
                memset(in_set + (size_t)c * p->in_h + y0, 1, (size_t)(y1 - y0));
        }
    }
}

/* The output rows of pool p whose windows read an input row in in_set, into set (out_c x
 * out_h bytes, all out on entry): the windows whose gradient reaches those rows. */
static void pool_rows_out(const st_layer *p, const uint8_t *in_set, uint8_t *set)
{
    int c, oy, y, y0, y1;

    for (c = 0; c < p->out_c; c++) {
        for (oy = 0; oy < p->out_h; oy++) {
            if (p->kind == ST_GAP) {
                y0 = 0;
                y1 = p->in_h;
            } else {
                window(oy, p->stride_h, p->pad_t, p->k_h, p->in_h, &y0, &y1);
            }
            for (y = y0; y < y1; y++)
                set[(size_t)c * p->out_h + oy] |= row_in(in_set, (size_t)c * p->in_h + y);
        }
    }
}

/* Pooling output mask on the output rows in `set`: non-zero iff any valid input of its
 * window is (max and average of non-negative values are zero only when every input is).
 * Windows clipped to nothing give 0. */
static void pool_or(const st_layer *p, const uint8_t *set, const uint8_t *in, uint8_t *out)
{
    int c, oy, ox, y, xx, y0, y1, x0, x1;
    uint8_t any;

    for (c = 0; c < p->out_c; c++) {
        const uint8_t *plane = in + (size_t)c * p->in_h * p->in_w;
        for (oy = 0; oy < p->out_h; oy++) {
            if (!row_in(set, (size_t)c * p->out_h + oy))
                continue;
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

/* Global average pooling, on the channels in `set`: channel c is non-zero iff any element
 * of its plane is. */
static void gap_or(const st_layer *g, const uint8_t *set, const uint8_t *in, uint8_t *out)
{
    size_t plane = (size_t)g->in_h * g->in_w, i;
    int c;

    for (c = 0; c < g->in_c; c++) {
        if (!row_in(set, (size_t)c))
            continue;
        out[c] = 0;
        for (i = 0; i < plane && !out[c]; i++)
            out[c] = in[(size_t)c * plane + i] != 0;
    }
}

/* Fill the rows in `want` of out[0..n) with the zero mask of tensor t (the output of layer
 * t, or the network input when t = -1) as read by layer `user`, seen as rows of w elements.
 * Compute and BN outputs are dense; ReLU outputs are drawn; pooling and additions combine
 * their sources' masks, of which they draw only the rows their wanted windows read. When
 * t's own rows are not w long (an FC layer reads its source flattened), t computes the rows
 * of its own layout that hold the wanted elements: more than asked, never less. */
static int fwd_mask(ctx *x, int t, int user, size_t n, size_t w, const uint8_t *want, uint8_t *out)
{
    const st_layer *l;
    uint8_t *a = NULL, *b = NULL, *own = NULL, *src_set = NULL;
    size_t na, rows;
    int rc = ST_OK;

    if (t == -1) {
        rows_fill(out, want, n / w, w, 1, 1); /* the input image is dense */
        goto done;
    }
    rc = check_size(x, user, t, n);
    if (rc)
        goto done;
    l = st_net_layer(x->net, t);
    rc = rows_as(x, t, want, n, w, (size_t)l->out_w, &want, &own);
    if (rc)
        goto done;
    w = (size_t)l->out_w;
    rows = n / w;
    switch (l->kind) {
    case ST_RELU:
        rc = relu_mask(x, t, want, out);
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
        if (want) {
            src_set = rows_alloc((size_t)l->in_c * l->in_h);
            if (!src_set) {
                rc = rows_nomem(x, t, (size_t)l->in_c * l->in_h);
                goto done;
            }
            pool_rows_in(l, want, src_set);
        }
        rc = fwd_mask(x, l->src[0], t, na, (size_t)l->in_w, src_set, a);
        if (rc)
            goto done;
        if (l->kind == ST_GAP)
            gap_or(l, want, a, out);
        else
            pool_or(l, want, a, out);
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
        rc = fwd_mask(x, l->src[0], t, n, w, want, a);
        if (!rc)
            rc = fwd_mask(x, l->src[1], t, n, w, want, b);
        if (rc)
            goto done;
        rows_copy(out, a, want, rows, w);
        rows_combine(out, b, want, rows, w, 0);
        break;
    default:
        rows_fill(out, want, rows, w, 1, 1); /* compute layers and BN produce dense outputs */
        break;
    }
done:
    free(a);
    free(b);
    free(own);
    free(src_set);
    return rc;
}

/* ---------------------------------------------------------- gradient masks */

/* Max-pool backward, for the windows of the output rows in `gset`, into the input rows in
 * `want` of part (other rows are not written): each window whose output gradient is
 * non-zero sends it to its arg-max. Among the window's valid positions whose input is
 * non-zero the arg-max is one of them (ties have probability zero for continuous values),
 * chosen by a keyed uniform; when the whole window is zero any position may be the arg-max.
 * Overlapping windows add up, which for masks is a union. `in` must hold every input row the
 * windows of gset read. */
static void maxpool_back(const ctx *x, int pi, const uint8_t *in, const uint8_t *g,
                         const uint8_t *gset, const uint8_t *want, uint8_t *part)
{
    const st_layer *p = st_net_layer(x->net, pi);
    uint64_t stream = ST_RNG_STREAM(pi, x->image, WHAT_ARGMAX);
    size_t rows = (size_t)p->out_c * p->out_h, lo, hi, row, o, at;
    int c, oy, ox, y, xx, y0, y1, x0, x1, nz, m, k, cand;
    uint8_t keep_row;
    draws d;

    for (lo = 0; next_run(gset, rows, 1, &lo, &hi); lo = hi) {
        draws_init(&d, x->cfg->seed, stream, (uint64_t)hi * p->out_w, DRAW_WORDS);
        for (row = lo; row < hi; row++) {
            c = (int)(row / (size_t)p->out_h);
            oy = (int)(row % (size_t)p->out_h);
            const uint8_t *plane = in + (size_t)c * p->in_h * p->in_w;
            uint8_t *dst = part + (size_t)c * p->in_h * p->in_w;
            window(oy, p->stride_h, p->pad_t, p->k_h, p->in_h, &y0, &y1);
            for (ox = 0; ox < p->out_w; ox++) {
                window(ox, p->stride_w, p->pad_l, p->k_w, p->in_w, &x0, &x1);
                o = row * (size_t)p->out_w + (size_t)ox;
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
                    keep_row = (uint8_t)row_in(want, (size_t)c * p->in_h + (size_t)y);
                    for (xx = x0; xx < x1; xx++) {
                        at = (size_t)y * p->in_w + xx;
                        cand = (plane[at] != 0) | (nz == 0);
                        dst[at] |= (uint8_t)(cand & (k == 0) & keep_row);
                        k -= cand;
                    }
                }
            }
        }
    }
}

/* Average-pool backward, for the windows of the output rows in `gset`, into the input rows
 * in `want` of part: every valid position of a window with a non-zero output gradient
 * receives a share of it. */
static void avgpool_back(const st_layer *p, const uint8_t *g, const uint8_t *gset,
                         const uint8_t *want, uint8_t *part)
{
    int c, oy, ox, y, xx, y0, y1, x0, x1;

    for (c = 0; c < p->out_c; c++) {
        uint8_t *plane = part + (size_t)c * p->in_h * p->in_w;
        for (oy = 0; oy < p->out_h; oy++) {
            if (!row_in(gset, (size_t)c * p->out_h + oy))
                continue;
            window(oy, p->stride_h, p->pad_t, p->k_h, p->in_h, &y0, &y1);
            for (ox = 0; ox < p->out_w; ox++) {
                window(ox, p->stride_w, p->pad_l, p->k_w, p->in_w, &x0, &x1);
                if (!g[((size_t)c * p->out_h + oy) * p->out_w + ox])
                    continue;
                for (y = y0; y < y1; y++)
                    if (row_in(want, (size_t)c * p->in_h + (size_t)y))
                        for (xx = x0; xx < x1; xx++)
                            plane[(size_t)y * p->in_w + xx] = 1;
            }
        }
    }
}

/* Fill the rows in `want` (rows of t's output, out_c x out_h of out_w) of out (out_elems of
 * layer t) with the mask of the loss gradient with respect to the output of layer t: the
 * union, over the layers that read t, of what each sends back. A compute consumer (dA = W^T
 * dZ), a BN (its backward subtracts batch means over the whole plane) and the loss itself
 * (no consumer) send a dense gradient, and a union with a dense mask is dense, so these are
 * looked for first; that also stops the recursion early. Each consumer is asked for the
 * gradient rows that reach the wanted rows only: the same rows through a ReLU or an addition,
 * the windows that cover them through a pool. */
static int bwd_mask(ctx *x, int t, const uint8_t *want, uint8_t *out)
{
    const st_layer *l = st_net_layer(x->net, t), *u;
    size_t n = out_elems(l), w = (size_t)l->out_w, rows = n / w, i, uw, urows, plane;
    const uint8_t *uset;
    uint8_t *part = NULL, *g = NULL, *in = NULL, *own = NULL, *gset = NULL, *in_set = NULL;
    const int *cons = NULL;
    int j, k, ncons, found = 0, dense = 0, rc = ST_OK;

    ncons = st_net_consumers(x->net, t, &cons);
    for (k = 0; !dense && (j = consumer_next(x, t, cons, ncons, &k)) >= 0;) {
        u = st_net_layer(x->net, j);
        found = 1;
        dense = st_kind_is_compute(u->kind) || u->kind == ST_BN;
    }
    if (!found || dense) {
        rows_fill(out, want, rows, w, 1, 1);
        goto done;
    }
    rows_fill(out, want, rows, w, 1, 0);
    part = mask_alloc(n);
    if (!part)
        goto nomem;
    for (k = 0; (j = consumer_next(x, t, cons, ncons, &k)) >= 0;) {
        u = st_net_layer(x->net, j);
        rc = check_size(x, j, t, read_elems(u));
        if (rc)
            goto done;
        /* uset: the wanted rows as u sees its input, rows of uw; g: the gradient at u's
         * output, in u's output shape. */
        uw = (size_t)(is_elementwise(u->kind) ? u->out_w : u->in_w);
        urows = n / uw;
        rc = rows_as(x, j, want, n, w, uw, &uset, &own);
        if (rc)
            goto done;
        g = mask_alloc(out_elems(u));
        if (!g)
            goto nomem;
        switch (u->kind) {
        case ST_RELU: /* dX = dY where the output is positive */
        case ST_ADD:  /* dX = dY for both operands */
            rc = bwd_mask(x, j, uset, g);
            if (rc)
                goto done;
            if (u->kind == ST_RELU) {
                rc = relu_mask(x, j, uset, part);
                rows_combine(part, g, uset, urows, uw, 1);
            } else {
                rows_copy(part, g, uset, urows, uw);
            }
            break;
        default: /* pools: the gradient of the windows that cover the wanted rows */
            if (uset) {
                gset = rows_alloc((size_t)u->out_c * u->out_h);
                if (!gset)
                    goto nomem;
                pool_rows_out(u, uset, gset);
            }
            rc = bwd_mask(x, j, gset, g);
            if (rc)
                goto done;
            rows_fill(part, uset, urows, uw, 1, 0);
            if (u->kind == ST_MAXPOOL) {
                /* the arg-max needs every input row of those windows */
                if (gset) {
                    in_set = rows_alloc(urows);
                    if (!in_set)
                        goto nomem;
                    pool_rows_in(u, gset, in_set);
                }
                in = mask_alloc(n);
                if (!in)
                    goto nomem;
                rc = fwd_mask(x, t, j, n, uw, in_set, in);
                if (!rc)
                    maxpool_back(x, j, in, g, gset, uset, part);
            } else if (u->kind == ST_AVGPOOL) {
                avgpool_back(u, g, gset, uset, part);
            } else { /* ST_GAP: the whole plane shares the channel's gradient */
                plane = (size_t)u->in_h * u->in_w;
                for (i = 0; i < urows; i++)
                    if (row_in(uset, i))
                        memset(part + i * uw, g[i * uw / plane], uw);
            }
            break;
        }
        if (rc)
            goto done;
        rows_combine(out, part, want, rows, w, 0);
        free(g);
        free(in);
        free(own);
        free(gset);
        free(in_set);
        g = in = own = gset = in_set = NULL;
    }
    goto done;
nomem:
    rc = st_err_set(x->err, ST_ENOMEM, "layer %d '%s': out of memory for a %zu-element mask", t,
                    l->name, n);
done:
    free(part);
    free(g);
    free(in);
    free(own);
    free(gset);
    free(in_set);
    return rc;
}

/* ---------------------------------------------------------- gradient values */

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

/* Raw dZ values of the n elements of compute layer `layer`, image `image`, that start at
 * position `first` of the tensor, into v: drawn from the configured law where mask is
 * non-zero, exact zeros elsewhere. All laws are symmetric about 0. Element i takes position
 * first + i of the value stream (a normal deviate, or a word for Laplace) and of the sign
 * stream (a word), so a value does not depend on which other elements are drawn; runs of
 * DRAW_CHUNK elements are drawn together, and a run whose mask is all zero draws nothing.
 * Laplace, unit scale, by its inverse distribution function: F^-1(u) = ln(2u) for u < 1/2,
 * -ln(2 - 2u) above, with u = (w + 1/2) / 2^32, the middle of the word's cell, which lies in
 * (0, 1) so that both logarithms are finite (|value| < 22.2). It is written as
 * +-ln(1 - |2u - 1|), whose arithmetic is exact for u on that grid, so that the sign
 * multiplies instead of choosing between two branches on a coin flip. Lognormal: magnitude
 * exp(sigma N) with a fair random sign, the top bit of the sign word; sigma is the layer's
 * entry of lognormal_sigma_by_layer when that is given and > 0 (a calibration). */
static void grad_values(const st_sparsity_cfg *cfg, int layer, int image, const uint8_t *mask,
                        uint64_t first, size_t n, float *v)
{
    static const double sign[2] = {1.0, -1.0};
    uint64_t sv = ST_RNG_STREAM(layer, image, WHAT_GRAD_VALUE);
    uint64_t ss = ST_RNG_STREAM(layer, image, WHAT_GRAD_SIGN);
    uint32_t w[DRAW_CHUNK], sw[DRAW_CHUNK];
    double z[DRAW_CHUNK], u, g, sigma = cfg->lognormal_sigma;
    size_t i, k, len;
    int any;

    if (cfg->lognormal_sigma_by_layer && cfg->lognormal_sigma_by_layer[layer] > 0)
        sigma = cfg->lognormal_sigma_by_layer[layer];

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
            st_rng_words(cfg->seed, sv, first + i, len, w);
            for (k = 0; k < len; k++) {
                u = ((double)w[k] + 0.5) * 0x1p-32;
                g = sign[u >= 0.5] * log(1.0 - fabs(2.0 * u - 1.0));
                v[i + k] = masked((float)g, mask[i + k]);
            }
            break;
        case ST_LAW_LOGNORMAL:
            st_rng_normals(cfg->seed, sv, first + i, len, z);
            st_rng_words(cfg->seed, ss, first + i, len, sw);
            for (k = 0; k < len; k++) {
                g = sign[sw[k] >> 31] * exp(sigma * z[k]);
                v[i + k] = masked((float)g, mask[i + k]);
            }
            break;
        default:
            st_rng_normals(cfg->seed, sv, first + i, len, z);
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

/* The ones in mask[0..n), which holds 0 and 1 only (every function above stores a
 * comparison, a copy or an OR of such bytes, or memsets 0 or 1). Eight bytes at a time:
 * multiplying their word by 0x0101010101010101 adds all eight into the top byte, and the sum
 * (at most 8) cannot carry out of it. */
int st_layer_masks_reserve(st_layer_masks *m, size_t act, size_t grad, st_err *err)
{
    int rc = grow(&m->act_in, &m->act_cap, act, err);

    return rc ? rc : grow(&m->grad, &m->grad_cap, grad, err);
}

static int chan_grow(double **buf, size_t *cap, size_t n, st_err *err)
{
    if (n > *cap) {
        double *p = realloc(*buf, n * sizeof *p);
        if (!p)
            return st_err_set(err, ST_ENOMEM, "out of memory for %zu channel densities", n);
        *buf = p;
        *cap = n;
    }
    return 0;
}

static uint64_t ones(const uint8_t *mask, size_t n)
{
    uint64_t word, nz = 0;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&word, mask + i, sizeof word);
        nz += (word * 0x0101010101010101u) >> 56;
    }
    for (; i < n; i++)
        nz += mask[i];
    return nz;
}

/* The positions in the rows of the set, and the fraction of ones among them (0 when there
 * are none). */
static size_t rows_positions(const uint8_t *set, size_t rows, size_t w)
{
    size_t lo, hi, n = 0;

    for (lo = 0; next_run(set, rows, 1, &lo, &hi); lo = hi)
        n += (hi - lo) * w;
    return n;
}

static double rows_density(const uint8_t *mask, const uint8_t *set, size_t rows, size_t w)
{
    size_t lo, hi, n = rows_positions(set, rows, w);
    uint64_t nz = 0;

    for (lo = 0; next_run(set, rows, 1, &lo, &hi); lo = hi)
        nz += ones(mask + lo * w, (hi - lo) * w);
    return n ? (double)nz / (double)n : 0.0;
}

/* The rows of dZ (rows of w) to generate for the wanted rows `want`, into gen: the wanted
 * rows and, when `extend` is set (the threshold will be estimated from them) and they hold
 * fewer than TAU_MIN_POSITIONS positions, the systematic sample of rows floor(k rows / need),
 * k = 0 .. need - 1, need = ceil(TAU_MIN_POSITIONS / w): spread evenly over the channels, fixed
 * by the shape alone, and with the wanted rows at least TAU_MIN_POSITIONS positions (every
 * row when the tensor holds fewer). Returns 1 when every row is to be generated: when gen
 * holds them all, and also when it holds more than half of the positions, as the whole
 * tensor then costs less (it draws its numbers in long runs, where scattered rows cost
 * about twice as much per position) and gives st_sparsity_layer's threshold. */
static int grad_rows(const uint8_t *want, size_t rows, size_t w, int extend, uint8_t *gen)
{
    size_t r, k, have = 0, need;

    for (r = 0; r < rows; r++) {
        gen[r] = want[r] != 0;
        have += gen[r];
    }
    if (extend && have * w < TAU_MIN_POSITIONS) {
        need = (TAU_MIN_POSITIONS + w - 1) / w;
        if (need >= rows)
            memset(gen, 1, rows);
        else
            for (k = 0; k < need; k++)
                gen[k * rows / need] = 1;
        for (r = 0, have = 0; r < rows; r++)
            have += gen[r];
    }
    return 2 * have > rows;
}

/* Prune the generated rows `gen` (a proper subset of the rows of dZ, rows of w) of the
 * natural mask in grad: raw values on those rows, their mean|g| as the estimate of the
 * tensor's, the threshold st_prune would derive from it, and st_prune's rule at each
 * element's own position. Sets the density after pruning (over the generated positions)
 * and tau. */
static int prune_rows(const st_sparsity_cfg *cfg, int layer, int image, const uint8_t *gen,
                      size_t rows, size_t w, st_layer_masks *m, st_err *err)
{
    uint64_t stream = ST_RNG_STREAM(layer, image, WHAT_PRUNE), zeros = 0, counted;
    size_t n = rows_positions(gen, rows, w), lo, hi, k, len, i;
    double sum = 0.0, mean = 0.0;
    st_prune_rule rule;
    float *v = NULL, tau = 0.0f;
    int rc = ST_OK;

    v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        rc =
            st_err_set(err, ST_ENOMEM, "layer %d: out of memory for %zu gradient values", layer, n);
        goto done;
    }
    for (k = 0, lo = 0; next_run(gen, rows, 1, &lo, &hi); k += len, lo = hi) {
        len = (hi - lo) * w;
        grad_values(cfg, layer, image, m->grad + lo * w, (uint64_t)(lo * w), len, v + k);
    }
    for (i = 0; i < n; i++) {
        sum += fabs((double)v[i]);
        zeros += v[i] == 0.0f;
    }
    counted = cfg->prune.skip_zeros ? (uint64_t)n - zeros : (uint64_t)n;
    if (counted > 0)
        mean = sum / (double)counted;
    rc = st_prune_threshold(&cfg->prune, mean, &tau, err);
    if (rc)
        goto done;
    st_prune_rule_init(&rule, tau);
    zeros = 0;
    for (k = 0, lo = 0; next_run(gen, rows, 1, &lo, &hi); k += len, lo = hi) {
        len = (hi - lo) * w;
        zeros += st_prune_apply(&rule, v + k, v + k, len, cfg->seed, stream, (uint64_t)(lo * w));
        for (i = 0; i < len; i++)
            m->grad[lo * w + i] = v[k + i] != 0.0f;
    }
    m->grad_density = n ? (double)(n - zeros) / (double)n : 0.0;
    m->tau = (double)tau;
done:
    free(v);
    return rc;
}

/* st_sparsity_rows, with `who` naming the public function in the messages about its
 * arguments. */
static int sparsity_rows(const char *who, const st_net *net, const st_sparsity_cfg *cfg, int layer,
                         int image, const uint8_t *act_want, const uint8_t *grad_want,
                         st_layer_masks *m, st_err *err)
{
    ctx x = {0};
    const st_layer *l;
    st_prune_stats ps;
    float *v = NULL;
    uint8_t *gen_own = NULL;
    const uint8_t *gen = NULL;
    size_t na, ng, aw, gw, i;
    int rc, pruned;

    if (!net || !m) {
        rc = st_err_set(err, ST_EINVAL, "%s: %s is NULL", who, !net ? "net" : "masks");
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
    if (cfg->lognormal_sigma_by_layer && (isnan(cfg->lognormal_sigma_by_layer[layer]) ||
                                          cfg->lognormal_sigma_by_layer[layer] > 10)) {
        rc = st_err_set(err, ST_EINVAL,
                        "lognormal_sigma_by_layer[%d] = %g (layer '%s'): must be in (0, 10], or "
                        "<= 0 for lognormal_sigma",
                        layer, cfg->lognormal_sigma_by_layer[layer], l->name);
        goto done;
    }
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
    aw = (size_t)l->in_w;
    gw = (size_t)l->out_w;
    pruned = !((l->first && !cfg->prune_first) || (l->kind == ST_FC && !cfg->prune_fc));
    rc = st_layer_masks_reserve(m, na, ng, err);
    if (!rc)
        rc = check_src(&x, layer, l->src[0]);
    if (!rc)
        rc = fwd_mask(&x, l->src[0], layer, na, aw, act_want, m->act_in);
    if (rc)
        goto done;
    /* The rows of dZ to generate (grad_rows): the wanted ones, more when the threshold is
     * estimated from them (not with p = 0, where it is 0 whatever the estimate), and the
     * whole tensor, as st_sparsity_layer computes it, past half of its rows. */
    if (grad_want) {
        gen_own = rows_alloc(ng / gw);
        if (!gen_own) {
            rc = st_err_set(err, ST_ENOMEM, "layer %d '%s': out of memory for a %zu-row set", layer,
                            l->name, ng / gw);
            goto done;
        }
        if (!grad_rows(grad_want, ng / gw, gw, pruned && cfg->prune.p > 0, gen_own))
            gen = gen_own;
    }
    x.keep = 1;
    rc = bwd_mask(&x, layer, gen, m->grad);
    if (rc)
        goto done;
    /* Rows that were not generated are 0. */
    rows_fill(m->act_in, act_want, na / aw, aw, 0, 0);
    rows_fill(m->grad, gen, ng / gw, gw, 0, 0);
    m->layer = layer;
    rc = chan_grow(&m->act_chan, &m->achan_cap, (size_t)l->in_c, err);
    if (!rc)
        rc = chan_grow(&m->grad_chan, &m->gchan_cap, (size_t)l->out_c, err);
    if (rc)
        goto done;
    for (i = 0; i < (size_t)l->in_c; i++)
        m->act_chan[i] = fwd_chan_density(&x, l->src[0], (int)i);
    for (i = 0; i < (size_t)l->out_c; i++)
        m->grad_chan[i] = grad_chan_density(&x, layer, (int)i);
    m->chan_known = 1;
    m->act_density = rows_density(m->act_in, act_want, na / aw, aw);
    m->grad_density_natural = rows_density(m->grad, gen, ng / gw, gw);
    m->grad_density = m->grad_density_natural;
    m->tau = 0.0;
    if (!pruned)
        goto done;
    if (gen) {
        rc = prune_rows(cfg, layer, image, gen, ng / gw, gw, m, err);
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
    grad_values(cfg, layer, image, m->grad, 0, ng, v);
    rc = st_prune(v, v, ng, &cfg->prune, cfg->seed, ST_RNG_STREAM(layer, image, WHAT_PRUNE), &ps,
                  err);
    if (rc)
        goto done;
    for (i = 0; i < ng; i++)
        m->grad[i] = v[i] != 0.0f;
    m->grad_density = ng ? (double)(ng - ps.zeros) / (double)ng : 0.0;
    m->tau = ps.tau;
done:
    free(v);
    free(gen_own);
    for (i = 0; i < (size_t)x.ncached; i++) {
        free(x.cached[i].mask);
        free(x.cached[i].done);
    }
    if (rc && m) {
        m->layer = -1;
        m->act_density = m->grad_density_natural = m->grad_density = m->tau = 0.0;
    }
    return rc;
}

int st_sparsity_rows(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                     const uint8_t *act_want, const uint8_t *grad_want, st_layer_masks *m,
                     st_err *err)
{
    return sparsity_rows("st_sparsity_rows", net, cfg, layer, image, act_want, grad_want, m, err);
}

int st_sparsity_layer(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                      st_layer_masks *m, st_err *err)
{
    return sparsity_rows("st_sparsity_layer", net, cfg, layer, image, NULL, NULL, m, err);
}
