/*
 * cost.c - the mapper and the memory model. From the events the phase
 * kernels counted per tile visit (sim.c), choose how each tensor is stored
 * and the loop order with the least DRAM traffic, then count DRAM bytes,
 * stalls, SRAM accesses and energy. What a visit computes is sim.c's; the
 * tiling and the buffer minimums are map.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Built with -DST_CHECK_BITS, the mapper walks every candidate in full and
 * prints to stderr any whose closed-form bits (reduce_bits, wg_bits) differ
 * from the walk's: a check of the closed forms, e.g. over ref_dump's cases. */
#ifdef ST_CHECK_BITS
#define CHECK_BITS 1
#else
#define CHECK_BITS 0
#endif

const char *st_order_name(int order)
{
    static const char *const names[ST_ORD_END] = {"-",  "stream", "weights",  "weights+batch",
                                                  "dz", "act",    "dz+batch", "act+batch"};
    return order > 0 && order < ST_ORD_END ? names[order] : "-";
}

const char *st_store_name(int store)
{
    static const char *const names[] = {"dense", "offset", "bitmap"};
    return store >= 0 && store <= ST_STORE_BITMAP ? names[store] : "-";
}

int st_ledger_alloc(st_ledger *lg, int wg, int B, int nct, int nsp, int visits)
{
    size_t nv = (size_t)B * nct * nsp, n0 = (size_t)B * (wg ? nct : nsp);
    size_t n1 = wg ? (size_t)B * nsp : (size_t)nct;

    memset(lg, 0, sizeof *lg);
    lg->wg = wg, lg->B = B, lg->nct = nct, lg->nsp = nsp;
    lg->out_density = 1;
    lg->spill = 1;
    lg->v = visits ? calloc(nv ? nv : 1, sizeof *lg->v) : NULL;
    lg->n0 = calloc(2 * n0 + 2 * (size_t)B + 2 * n1 + 2 * (size_t)B + (size_t)nct + nsp + 1,
                    sizeof *lg->n0);
    if ((visits && !lg->v) || !lg->n0) {
        st_ledger_free(lg);
        return ST_ENOMEM;
    }
    lg->z0 = lg->n0 + n0;
    lg->img_n0 = lg->z0 + n0;
    lg->img_z0 = lg->img_n0 + B;
    lg->n1 = lg->img_z0 + B;
    lg->z1 = lg->n1 + n1;
    lg->img_n1 = lg->z1 + n1;
    lg->img_z1 = lg->img_n1 + B;
    lg->outc = lg->img_z1 + B;
    lg->outsp = lg->outc + nct;
    return 0;
}

void st_ledger_free(st_ledger *lg)
{
    free(lg->v);
    free(lg->n0);
    memset(lg, 0, sizeof *lg);
}

/* ----------------------------------------------------------- one order */

/* The account of one loop order: the visits in the order it runs them,
 * each with the bytes it moves. A visit's transfer overlaps the previous
 * visit's compute (double buffering); what does not fit under it is stall.
 * The first visit of a phase has nothing to hide under. */
typedef struct tally {
    double cyc_per_byte, lat_cyc;
    uint64_t prev;
    int first, bad;
    double bound; /* the best order's bits so far: past them this one is out */
    int over;
    double bad_bytes;
    double bits;
    uint64_t compute, stall;
    double wr0, wr1;   /* values written into ch0, ch1 (from DRAM) */
    uint64_t io2;      /* accesses of ch2 (reads = writes) */
    uint64_t rd0, rd1; /* values read from ch0, ch1 */
    uint64_t work;
} tally;

static void tally_init(tally *t, const st_point *pt)
{
    memset(t, 0, sizeof *t);
    t->cyc_per_byte = pt->clock_mhz * 1e6 / (pt->dram_gbps * 1e9);
    t->lat_cyc = pt->dram_latency_ns * pt->clock_mhz / 1e3;
    t->first = 1;
    t->bound = INFINITY;
}

static inline void tally_visit(tally *t, const st_visit *v, double bits)
{
    uint64_t xfer = 0, hidden = t->first ? 0 : t->prev;

    if (bits > 0) {
        /* a whole number of cycles in decimal arithmetic may come out a hair
         * above it in binary: not a cycle more */
        double x = bits / 8 * t->cyc_per_byte + t->lat_cyc;
        x = x - 1e-9 * (x > 1 ? x : 1);
        /* hidden whole under the previous visit, ceil(x) <= hidden: no stall,
         * nothing to round (xfer stays 0) */
        if (!(x <= (double)hidden && hidden < (uint64_t)1 << 53)) {
            x = ceil(x);
            /* a transfer whose cycles do not fit a counter is an error of the point */
            if (!(x < 0x1p62)) {
                t->bad = 1;
                t->bad_bytes = bits / 8;
            } else
                xfer = (uint64_t)x;
        }
    }
    t->bits += bits;
    t->over = t->bits > t->bound;
    t->compute += v->cycles;
    t->stall += xfer > hidden ? xfer - hidden : 0;
    t->work += v->work;
    t->prev = v->cycles;
    t->first = 0;
}

/* Is (a.bytes, a.cycles) better than b's? */
static int tally_better(const tally *a, const tally *b)
{
    if (a->over)
        return 0;
    if (a->bits != b->bits)
        return a->bits < b->bits;
    return a->compute + a->stall < b->compute + b->stall;
}

/* ------------------------------------------------------------- rounds */

/*
 * Rounds: the reduction of every visit (input channels in FP, dZ channels in
 * BP, dZ rows in WG: lg->nred of them) split into nr parts of ceil(nred / nr)
 * each, the last one shorter. Round r takes [lo, hi) of it and, of every
 * quantity x of a visit (cycles, MACs, the bits and values of its operands),
 * floor(x hi / nred) - floor(x lo / nred): whole numbers that add up to x.
 */
typedef struct rounds {
    int n, len, nred;
} rounds;

static rounds rounds_of(int nred, int nr)
{
    rounds R;

    R.nred = nred > 1 ? nred : 1;
    nr = nr < 1 ? 1 : nr > R.nred ? R.nred : nr;
    R.len = (R.nred + nr - 1) / nr;
    R.n = (R.nred + R.len - 1) / R.len;
    return R;
}

/* floor(x k / n) for 0 <= k <= n, without overflow */
static inline uint64_t mulfloor(uint64_t x, int k, int n)
{
    return x / (uint64_t)n * (uint64_t)k + x % (uint64_t)n * (uint64_t)k / (uint64_t)n;
}

/* Round r's part of a whole number x. */
static inline uint64_t part_u(const rounds *R, int r, uint64_t x)
{
    int lo = r * R->len, hi = lo + R->len < R->nred ? lo + R->len : R->nred;

    if (R->n == 1)
        return x;
    if (x <= UINT32_MAX && R->nred <= UINT16_MAX) {
        /* the same in 32 bits, whose divisions are faster: with q = x / n,
         * m = x % n it is q (hi - lo) + floor(m hi / n) - floor(m lo / n),
         * m hi < n^2 and no partial sum exceeds x */
        uint32_t n = (uint32_t)R->nred, q = (uint32_t)x / n, m = (uint32_t)x % n;
        return q * (uint32_t)(hi - lo) + m * (uint32_t)hi / n - m * (uint32_t)lo / n;
    }
    return mulfloor(x, hi, R->nred) - mulfloor(x, lo, R->nred);
}

/* The same for bits and values, whole numbers held in doubles. */
static inline double part_d(const rounds *R, int r, double x)
{
    return R->n == 1 ? x : (double)part_u(R, r, (uint64_t)x);
}

/* No part of x is larger, ceil(x len / nred): what a buffer must hold. */
static inline double part_max(const rounds *R, double x)
{
    uint64_t u = (uint64_t)x, n = (uint64_t)R->nred, k = (uint64_t)R->len;

    if (R->n == 1)
        return x;
    if (u <= UINT32_MAX && n <= UINT16_MAX) { /* in 32 bits, as part_u */
        uint32_t u32 = (uint32_t)u, n32 = (uint32_t)n, k32 = (uint32_t)k;
        return (double)(u32 / n32 * k32 + (u32 % n32 * k32 + n32 - 1) / n32);
    }
    return (double)(u / n * k + (u % n * k + n - 1) / n);
}

/* Does no part of x exceed cap? Without a division where x itself fits. */
static inline int part_fits(const rounds *R, double x, double cap)
{
    return x <= cap || part_max(R, x) <= cap;
}

/* How many of the largest of some tiles fit in cap together (0: not one;
 * n: all of them). */
static int fit_count(double mx, double cap, int n)
{
    if (mx > cap)
        return 0;
    return mx > 0 ? (int)fmin(n, floor(cap / mx)) : n;
}

/* Rounds that make a tile of size mx fit in cap, when one round does not
 * and the reduction can be split that finely; 0 otherwise. */
static int rounds_needed(double mx, double cap, int nred)
{
    double nr;

    if (mx <= cap || nred < 2 || cap <= 0)
        return 0;
    for (nr = ceil(mx / cap); nr <= nred; nr++) {
        rounds R = rounds_of(nred, (int)nr);
        if (part_max(&R, mx) <= cap)
            return R.n;
    }
    return 0;
}

/* A visit's part in round r: its cycles, and its MACs, which the tally only
 * adds up: the parts of all rounds, counted whole at the last one. */
static inline st_visit visit_part(const rounds *R, int r, const st_visit *v)
{
    st_visit p = {0};

    p.cycles = part_u(R, r, v->cycles);
    p.work = r == R->n - 1 ? v->work : 0;
    return p;
}

/* ------------------------------------------------------ reduce phases */

/* What the orders of a reduce phase share: sizes as stored. */
typedef struct rsize {
    const st_ledger *lg;
    st_store s0, so;
    double h0, h1, ch2;
    double f;           /* traffic factor of a window fetch (the spill) */
    int spills;         /* the window of one channel does not stay in ch0 */
    double *win, *winw; /* B x nsp: bits and values of each window */
    double *img, *imgw; /* B: the whole streamed tensor of an image */
    double *wct;        /* nct: bits of each channel tile's weights */
    double *out;        /* nct x nsp: bits of each visit's outputs */
    double outsum;      /* bits of every visit's outputs, one image */
    double wsum, imgsum, wmax, winmax;
} rsize;

/*
 * One order of a reduce phase, in nr rounds. Weights held (ST_ORD_WEIGHTS,
 * _B): blocks of kb channel tiles whose weights fit in half of ch1 together;
 * per block, every spatial tile visits the block's channel tiles, per image
 * (the weights are fetched again for every image) or with the images inside
 * the block (once per batch). Stream held (ST_ORD_STREAM): blocks of ks
 * spatial tiles whose windows fit in half of ch0 together; per block, every
 * channel tile visits them, its weights held across the block. An image
 * whose whole streamed tensor fits in half of ch0 is fetched once (with the
 * batch inside: when the whole batch fits) when use_whole says so (its
 * windows may read less of it); all the weights, when they fit in half of
 * ch1, once per batch.
 *
 * With rounds, the visiting tiles of a held block go in blocks of kv whose
 * partial sums (with the held block's tiles; weights+batch: of every image)
 * fit in ch2 together, and each visiting block runs the rounds one after
 * the other (weights+batch: each round over the batch), a round fetching
 * its part of what is held and what visits. When the partial sums of one
 * visiting tile do not fit, the visiting block is all of them and the
 * partial sums go to DRAM and back between rounds (psum_bits a value).
 */
static tally reduce_order(const rsize *z, const st_point *pt, st_order o, int use_whole, int nr,
                          double bound, uint8_t *img_in, long *w_epoch)
{
    const st_ledger *lg = z->lg;
    int B = lg->B, nct = lg->nct, nsp = lg->nsp;
    rounds R = rounds_of(lg->nred, nr);
    int all_w = z->wsum <= z->h1, batch = o == ST_ORD_WEIGHTS_B, sh = o == ST_ORD_STREAM;
    int ks = z->spills ? 0 : fit_count(part_max(&R, z->winmax), z->h0, nsp);
    int k = sh ? ks : all_w ? nct : fit_count(part_max(&R, z->wmax), z->h1, nct);
    int n_h = sh ? nsp : nct, n_o = sh ? nct : nsp;
    int bs = k > 0 ? k : 1, nblk = (n_h + bs - 1) / bs;
    long epoch = 0;
    tally t;

    tally_init(&t, pt);
    t.bound = bound;
    memset(img_in, 0, (size_t)B);
    for (int c = 0; c < nct; c++)
        w_epoch[c] = -1;
    /* per image: image, held block, visiting block, round, visiting tile,
     * held tile; with the batch inside: held block, visiting block, round,
     * image, visiting tile, held tile */
    for (int i = 0; i < (batch ? nblk : B); i++)
        for (int blk = batch ? i : 0; blk < (batch ? i + 1 : nblk); blk++) {
            int h_lo = blk * bs, h_hi = h_lo + bs < n_h ? h_lo + bs : n_h;
            int kv = n_o, spill_ps = 0;
            if (R.n > 1) {
                /* the partial sums of a visiting tile with the held block */
                double mx = 0;
                for (int q = 0; q < n_o; q++) {
                    double ps = 0;
                    for (int h = h_lo; h < h_hi; h++)
                        ps +=
                            (double)(sh ? lg->outc[q] * lg->outsp[h] : lg->outc[h] * lg->outsp[q]);
                    mx = fmax(mx, ps * (batch ? B : 1) * pt->psum_bits);
                }
                kv = fit_count(mx, z->ch2, n_o);
                spill_ps = kv == 0;
                kv = kv ? kv : n_o;
            }
            for (int v_lo = 0; v_lo < n_o; v_lo += kv)
                for (int r = 0; r < R.n; r++)
                    for (int ib = 0; ib < (batch ? B : 1); ib++) {
                        int b = batch ? ib : i, last = r == R.n - 1;
                        int whole = use_whole && (batch ? z->imgsum <= z->h0 : z->img[b] <= z->h0);
                        /* one epoch per held block of weights, visiting block
                         * and round: per image, or per batch */
                        if (!batch || ib == 0)
                            epoch++;
                        for (int q = v_lo; q < v_lo + kv && q < n_o; q++)
                            for (int h = h_lo; h < h_hi; h++) {
                                int c = sh ? q : h, s = sh ? h : q;
                                size_t bsi = (size_t)b * nsp + s, cs = (size_t)c * nsp + s;
                                const st_visit *v = &lg->v[((size_t)b * nct + c) * nsp + s];
                                st_visit vp = visit_part(&R, r, v);
                                int fits = !z->spills && part_fits(&R, z->win[bsi], z->h0);
                                double bits = 0;
                                /* the streamed operand: the whole image, or the
                                 * window of the spatial tile, held across the
                                 * block's channel tiles (weights held) or for the
                                 * visiting block (stream held) */
                                if (whole) {
                                    if (!img_in[b]) {
                                        img_in[b] = 1;
                                        bits += z->img[b];
                                        t.wr0 += z->imgw[b];
                                    }
                                } else if (sh ? k == 0 || q == v_lo : !fits || h == h_lo) {
                                    bits += part_d(&R, r, z->win[bsi]) * z->f;
                                    t.wr0 += part_d(&R, r, z->winw[bsi]) * z->f;
                                }
                                /* the weights of channel tile c */
                                if (all_w ? w_epoch[c] < r
                                    : sh  ? !part_fits(&R, z->wct[c], z->h1) || h == h_lo
                                          : k == 0 || w_epoch[c] != epoch) {
                                    w_epoch[c] = all_w ? r : epoch;
                                    bits += part_d(&R, r, z->wct[c]);
                                    t.wr1 += part_d(&R, r, (double)lg->n1[c]);
                                }
                                /* the outputs leave at the last round; partial
                                 * sums wait in ch2, or in DRAM when they do not fit */
                                if (last)
                                    bits += z->out[cs];
                                if (spill_ps)
                                    bits += (double)(lg->outc[c] * lg->outsp[s]) * pt->psum_bits *
                                            (!last + (r > 0));
                                t.io2 += lg->outc[c] * lg->outsp[s];
                                if (last) {
                                    t.rd0 += z->s0 == ST_STORE_DENSE ? v->pos0 : v->rd0;
                                    t.rd1 += v->rd1;
                                }
                                tally_visit(&t, &vp, bits);
                                if (t.over)
                                    return t;
                            }
                    }
        }
    return t;
}

/*
 * The DRAM bits of reduce_order(z, pt, o, use_whole, nr) in closed form,
 * without walking the visits: every quantity a visit fetches comes in
 * round parts that add up to it, so each tensor counts as a whole times
 * how often its fetch condition holds. Equal to the walk's bits up to the
 * order of floating-point sums (the spill factor is not a whole number).
 */
static double reduce_bits(const rsize *z, const st_point *pt, st_order o, int use_whole, int nr)
{
    const st_ledger *lg = z->lg;
    int B = lg->B, nct = lg->nct, nsp = lg->nsp;
    rounds R = rounds_of(lg->nred, nr);
    int all_w = z->wsum <= z->h1, batch = o == ST_ORD_WEIGHTS_B, sh = o == ST_ORD_STREAM;
    int ks = z->spills ? 0 : fit_count(part_max(&R, z->winmax), z->h0, nsp);
    int k = sh ? ks : all_w ? nct : fit_count(part_max(&R, z->wmax), z->h1, nct);
    int n_h = sh ? nsp : nct, n_o = sh ? nct : nsp;
    int bs = k > 0 ? k : 1, nblk = (n_h + bs - 1) / bs;
    double bits = B * z->outsum;

    if (all_w)
        bits += z->wsum;
    else if (sh || k == 0)
        for (int c = 0; c < nct; c++)
            bits += B * z->wct[c] * (sh ? (part_max(&R, z->wct[c]) > z->h1 ? n_h : nblk) : n_o);
    /* what depends on the visiting blocks of each held block */
    for (int blk = 0; blk < nblk; blk++) {
        int h_lo = blk * bs, h_hi = h_lo + bs < n_h ? h_lo + bs : n_h, nvblk = 1;
        double hsum = 0;
        if (R.n > 1) {
            /* a visit's outputs are channels x positions: the held block's
             * sum of one factor times each visiting tile's other one */
            const uint64_t *vf = sh ? lg->outc : lg->outsp, *hf = sh ? lg->outsp : lg->outc;
            uint64_t hs = 0;
            double mx = 0, ps_all = 0;
            int kv;
            for (int h = h_lo; h < h_hi; h++)
                hs += hf[h];
            for (int q = 0; q < n_o; q++) {
                double ps = (double)(vf[q] * hs);
                mx = fmax(mx, ps * (batch ? B : 1) * pt->psum_bits);
                ps_all += ps;
            }
            kv = fit_count(mx, z->ch2, n_o);
            if (kv == 0) /* partial sums to DRAM and back between rounds */
                bits += B * ps_all * pt->psum_bits * 2 * (R.n - 1);
            else
                nvblk = (n_o + kv - 1) / kv;
        }
        if (!sh && !all_w && k > 0) {
            for (int c = h_lo; c < h_hi; c++)
                hsum += z->wct[c];
            bits += (batch ? 1 : B) * nvblk * hsum;
        }
        for (int b = 0; sh && b < B; b++) {
            if (use_whole && z->img[b] <= z->h0)
                continue;
            hsum = 0;
            for (int s = h_lo; s < h_hi; s++)
                hsum += z->win[(size_t)b * nsp + s];
            bits += (k == 0 ? n_o : nvblk) * hsum * z->f;
        }
    }
    /* the streamed operand: whole images, or windows */
    for (int b = 0; b < B; b++) {
        if (use_whole && (batch ? z->imgsum <= z->h0 : z->img[b] <= z->h0)) {
            bits += z->img[b];
            continue;
        }
        for (int s = 0; !sh && s < nsp; s++) {
            double w = z->win[(size_t)b * nsp + s];
            int fits = !z->spills && part_max(&R, w) <= z->h0;
            bits += w * z->f * (fits ? nblk : n_h);
        }
    }
    return bits;
}

/* Keep t if it is the first candidate or better than *best. */
static int keep_best(const tally *t, int first, tally *best)
{
    if (!first && !tally_better(t, best))
        return 0;
    *best = *t;
    return 1;
}

/* Bits of the o outputs of a visit stored as so (FP: with the expected
 * density; BP: with their bits of the output bitmap). */
static double out_bits(const st_point *pt, st_store so, const st_ledger *lg, uint64_t o)
{
    return st_store_bits(pt, so, o, (uint64_t)llround((double)o * lg->out_density)) +
           (lg->out_bitmap ? (double)o : 0);
}

/* The mapper of a reduce phase: the best candidate into *best (its order,
 * rounds and storage into st, its floor into *floor_bits); or, for a ledger
 * without visits, only the fewest bits of any candidate, into *least_bits. */
static int cost_reduce(const st_ledger *lg, const st_point *pt, st_phase_stats *st, tally *best,
                       st_order *best_o, double *floor_bits, double *least_bits)
{
    int B = lg->B, nct = lg->nct, nsp = lg->nsp, rc = 0, first = 1, walk = lg->v != NULL;
    size_t nbs = (size_t)B * nsp, ncs = (size_t)nct * nsp;
    uint64_t n = 0, zz = 0, on = 0, oc = 0, os = 0;
    double dens, row = 0;
    st_store pick;
    double least = INFINITY;
    rsize z;
    uint8_t *img_in = NULL;
    long *w_epoch = NULL;

    memset(&z, 0, sizeof z);
    z.lg = lg;
    z.h0 = pt->ch0_kib * 8192.0 / 2, z.h1 = pt->ch1_kib * 8192.0 / 2;
    z.ch2 = pt->ch2_kib * 8192.0;
    for (int b = 0; b < B; b++)
        n += lg->img_n0[b], zz += lg->img_z0[b];
    pick = st_store_pick(pt, lg->skip0, n, zz);
    for (int c = 0; c < nct; c++)
        oc += lg->outc[c];
    for (int s = 0; s < nsp; s++)
        os += lg->outsp[s];
    on = oc * os * (uint64_t)B;
    z.so = st_store_pick(pt, lg->skip_out, on, (uint64_t)llround((double)on * lg->out_density));
    z.win = malloc(nbs * 2 * sizeof *z.win);
    z.img = malloc((size_t)B * 2 * sizeof *z.img);
    z.wct = malloc(((size_t)nct + nsp + (walk ? ncs : 0)) * sizeof *z.wct);
    img_in = malloc((size_t)B);
    w_epoch = malloc((size_t)nct * sizeof *w_epoch);
    if (!z.win || !z.img || !z.wct || !img_in || !w_epoch) {
        rc = ST_ENOMEM;
        goto done;
    }
    z.winw = z.win + nbs, z.imgw = z.img + B, z.out = z.wct + nct + nsp;
    for (int c = 0; c < nct; c++) {
        z.wct[c] = (double)lg->n1[c] * pt->data_bits;
        z.wsum += z.wct[c];
        z.wmax = z.wct[c] > z.wmax ? z.wct[c] : z.wmax;
    }
    /* the outputs of each visit as stored, and their sum over the visits
     * of an image: channel tiles of the same width (all but a last partial
     * one) have the same row */
    for (int c = 0, row_c = -1; c < nct; c++) {
        if (row_c < 0 || lg->outc[c] != lg->outc[row_c]) {
            row_c = c;
            row = 0;
            for (int s = 0; s < nsp; s++)
                row += out_bits(pt, z.so, lg, lg->outc[c] * lg->outsp[s]);
        }
        z.outsum += row;
        for (int s = 0; walk && s < nsp; s++)
            z.out[(size_t)c * nsp + s] = out_bits(pt, z.so, lg, lg->outc[c] * lg->outsp[s]);
    }
    /* The streamed operand as the whole tensor asks (pick), or dense: its
     * windows may be denser than the tensor, and the mapper keeps the
     * storage that moves less. */
    dens = n ? (double)zz / (double)n : 1;
    /* Two passes over the candidates: the first counts each one's bits in
     * closed form, the second walks the visits of those that come within
     * rounding of the fewest (to count their cycles and accesses). */
    for (int pass = 0; pass < 2; pass++)
        for (int cand = 0; cand < 2; cand++) {
            st_store s0 = cand ? ST_STORE_DENSE : pick;
            int any_whole = 0; /* does holding whole tensors change anything? */
            int nr_c[ST_ORD_END][2] = {{0}};
            if (cand && pick == ST_STORE_DENSE)
                break;
            /* The window of one channel stays in half of ch0 at its size as
             * stored (at the tensor's density), or every step fetches its rows
             * again. */
            z.s0 = s0;
            z.spills =
                st_store_bits(pt, s0, lg->win, (uint64_t)llround((double)lg->win * dens)) > z.h0;
            z.f = z.spills ? lg->spill : 1;
            z.winmax = 0;
            for (size_t i = 0; i < nbs; i++) {
                z.win[i] = st_store_bits(pt, s0, lg->n0[i], lg->z0[i]);
                z.winw[i] = (double)st_store_words(s0, lg->n0[i], lg->z0[i]);
                z.winmax = z.win[i] > z.winmax ? z.win[i] : z.winmax;
            }
            z.imgsum = 0;
            for (int b = 0; b < B; b++) {
                z.img[b] = st_store_bits(pt, s0, lg->img_n0[b], lg->img_z0[b]);
                z.imgw[b] = (double)st_store_words(s0, lg->img_n0[b], lg->img_z0[b]);
                z.imgsum += z.img[b];
            }
            for (int b = 0; b < B; b++)
                any_whole |= z.img[b] <= z.h0;
            /* rounds, where the held operand's tile does not fit without them:
             * the fewest that make a block of one tile fit, and the fewest that
             * make all of them fit together */
            if (!z.spills) {
                nr_c[ST_ORD_STREAM][0] = rounds_needed(z.winmax, z.h0, lg->nred);
                nr_c[ST_ORD_STREAM][1] = rounds_needed(z.winmax, z.h0 / nsp, lg->nred);
            }
            if (z.wsum > z.h1)
                for (st_order o = ST_ORD_WEIGHTS; o <= ST_ORD_WEIGHTS_B; o++) {
                    nr_c[o][0] = rounds_needed(z.wmax, z.h1, lg->nred);
                    nr_c[o][1] = rounds_needed(z.wmax, z.h1 / nct, lg->nred);
                }
            for (int whole = 0; whole < 1 + any_whole; whole++)
                for (st_order o = ST_ORD_STREAM; o <= ST_ORD_WEIGHTS_B; o++)
                    for (int ri = 0; ri < (whole ? 1 : 3); ri++) {
                        int nr = ri ? nr_c[o][ri - 1] : 1;
                        tally t;
                        double bits;
                        if (nr == 0 || (ri == 2 && nr == nr_c[o][0]))
                            continue; /* no such split, or tried already */
                        bits = reduce_bits(&z, pt, o, whole, nr);
                        if (pass == 0 || !walk) {
                            least = fmin(least, bits);
                            continue;
                        }
                        if (bits > least * (1 + 1e-9) && !CHECK_BITS)
                            continue;
                        t = reduce_order(&z, pt, o, whole, nr,
                                         first || CHECK_BITS ? INFINITY : best->bits, img_in,
                                         w_epoch);
#ifdef ST_CHECK_BITS
                        if (!t.over && fabs(t.bits - bits) > 1e-9 * fmax(1, t.bits))
                            fprintf(stderr,
                                    "reduce_bits %s %d whole %d nr %d: walk %.17g closed %.17g\n",
                                    st_order_name(o), cand, whole, nr, t.bits, bits);
#endif
                        if (keep_best(&t, first, best)) {
                            *best_o = o;
                            st->rounds = rounds_of(lg->nred, nr).n;
                            st->store[0] = s0;
                            *floor_bits = z.imgsum + z.wsum + z.outsum * B;
                        }
                        first = 0;
                    }
        }
    *least_bits = least;
    st->store[1] = ST_STORE_DENSE;
    st->store[2] = z.so;
done:
    free(z.win);
    free(z.img);
    free(z.wct);
    free(img_in);
    free(w_epoch);
    return rc;
}

/* ------------------------------------------------------------------ WG */

typedef struct wsize {
    const st_ledger *lg;
    st_store s0, s1;
    double h0, h1, ch2;
    /* operand 0 (dZ, over channel tiles) and 1 (activations, over triple
     * tiles): bits and values of each fetch, B x tiles, then per tile the
     * sum over the images; whole tensors per image, and their sums */
    double *sz[2], *szw[2], *img[2], *imgw[2], imgsum[2];
    double dwn, dwsum; /* dW values, and their bits as partial sums */
} wsize;

/*
 * One order of the weight-gradient phase, in nr rounds (bands of dZ rows).
 * The held operand h (0: dZ rows of output-channel tiles, ST_ORD_DZ*; 1:
 * activation columns of triple tiles, ST_ORD_ACT*) is taken in blocks of
 * tiles that fit in half of its buffer together; per block every tile of
 * the other operand visits the block's tiles, which it stays on chip for
 * when it fits. Per image (dW adds up in ch2 when it fits there, else in
 * DRAM, read back from its second part on), or with the images inside each
 * tile (ST_ORD_*_B: dW stays in the PE registers, the held block and the
 * visiting tile hold every image). A whole tensor that fits (for the batch:
 * all of it) is fetched once, when bit `op` of use_whole says so (its tiles
 * may read less of it). With rounds, each block runs its rounds one after
 * the other, a round fetching its band of what the block holds and visits;
 * dW of a tile then comes in parts (per image and round, or per round),
 * which add up as the images' do.
 */
static tally wg_order(const wsize *z, const st_point *pt, st_order o, int use_whole, int nr,
                      double bound, uint8_t *in)
{
    const st_ledger *lg = z->lg;
    int B = lg->B, nct = lg->nct, nsp = lg->nsp;
    rounds R = rounds_of(lg->nred, nr);
    int batch = o == ST_ORD_DZ_B || o == ST_ORD_ACT_B,
        h = o == ST_ORD_DZ || o == ST_ORD_DZ_B ? 0 : 1;
    int n_h = h ? nsp : nct, n_o = h ? nct : nsp;
    int onchip = z->dwsum <= z->ch2, nparts = (batch ? 1 : B) * R.n;
    double cap[2] = {z->h0, z->h1}, mx = 0;
    int k, bs;
    tally t;

    /* the block: tiles of the held operand whose largest fetch (per image,
     * or summed over the batch) fits, k of them together */
    for (int i = 0; i < n_h; i++)
        if (batch)
            mx = fmax(mx, z->sz[h][(size_t)B * n_h + i]);
        else
            for (int b = 0; b < B; b++)
                mx = fmax(mx, z->sz[h][(size_t)b * n_h + i]);
    k = fit_count(part_max(&R, mx), cap[h], n_h);
    bs = k > 0 ? k : 1;
    tally_init(&t, pt);
    t.bound = bound;
    memset(in, 0, 2 * (size_t)B);
    /* per image: image b, block, round, other tile q, held tile i of the
     * block; with the batch inside: block, round, q, i, b */
    for (int ob = 0; ob < (batch ? 1 : B); ob++)
        for (int lo = 0; lo < n_h; lo += bs)
            for (int r = 0; r < R.n; r++)
                for (int q = 0; q < n_o; q++)
                    for (int i = lo; i < lo + bs && i < n_h; i++)
                        for (int ib = 0; ib < (batch ? B : 1); ib++) {
                            int b = batch ? ib : ob, last = r == R.n - 1;
                            int c = h ? q : i, s = h ? i : q;
                            int part = (batch ? 0 : b * R.n) + r; /* of dW's parts */
                            const st_visit *v = &lg->v[((size_t)b * nct + c) * nsp + s];
                            st_visit vp = visit_part(&R, r, v);
                            double bits = 0,
                                   outb = (double)(lg->outc[c] * lg->outsp[s]) * pt->data_bits;
                            for (int op = 0; op < 2; op++) {
                                int held = op == h, tile = op ? s : c, nt = op ? nsp : nct;
                                size_t bt = (size_t)b * nt + tile;
                                int whole =
                                    (use_whole >> op & 1) &&
                                    (batch ? z->imgsum[op] <= cap[op] : z->img[op][b] <= cap[op]);
                                int fetch;
                                if (whole) {
                                    fetch = 0;
                                    if (!in[op * B + b]) {
                                        in[op * B + b] = 1;
                                        bits += z->img[op][b];
                                        op ? (t.wr1 += z->imgw[op][b]) : (t.wr0 += z->imgw[op][b]);
                                    }
                                } else if (held)
                                    fetch = k == 0 || q == 0; /* at the block's first visit */
                                else
                                    /* the visiting tile stays across the block's held tiles */
                                    fetch = i == lo ||
                                            !part_fits(&R,
                                                       batch ? z->sz[op][(size_t)B * nt + tile]
                                                             : z->sz[op][bt],
                                                       cap[op]);
                                if (fetch) {
                                    bits += part_d(&R, r, z->sz[op][bt]);
                                    if (op)
                                        t.wr1 += part_d(&R, r, z->szw[op][bt]);
                                    else
                                        t.wr0 += part_d(&R, r, z->szw[op][bt]);
                                }
                            }
                            /* a part of dW leaves the PE registers: per image, or
                             * at the batch's last image */
                            if (!batch || b == B - 1) {
                                if (onchip || nparts == 1) {
                                    t.io2 += lg->outc[c] * lg->outsp[s];
                                    if (part == nparts - 1)
                                        bits += outb;
                                } else {
                                    bits += outb + (part > 0 ? outb : 0);
                                    t.io2 += lg->outc[c] * lg->outsp[s] * (part > 0 ? 2 : 1);
                                }
                            }
                            if (last) {
                                t.rd0 += z->s0 == ST_STORE_DENSE ? v->pos0 : v->rd0;
                                t.rd1 += z->s1 == ST_STORE_DENSE ? v->pos1 : v->rd1;
                            }
                            tally_visit(&t, &vp, bits);
                            if (t.over)
                                return t;
                        }
    return t;
}

/* The DRAM bits of wg_order(z, pt, o, use_whole, nr) in closed form (see
 * reduce_bits). */
static double wg_bits(const wsize *z, const st_point *pt, st_order o, int use_whole, int nr)
{
    const st_ledger *lg = z->lg;
    int B = lg->B, nct = lg->nct, nsp = lg->nsp;
    rounds R = rounds_of(lg->nred, nr);
    int batch = o == ST_ORD_DZ_B || o == ST_ORD_ACT_B,
        h = o == ST_ORD_DZ || o == ST_ORD_DZ_B ? 0 : 1;
    int n_h = h ? nsp : nct, n_o = h ? nct : nsp;
    int onchip = z->dwsum <= z->ch2, nparts = (batch ? 1 : B) * R.n;
    double cap[2] = {z->h0, z->h1}, mx = 0, bits = 0;
    int k, bs, nblk;

    for (int i = 0; i < n_h; i++)
        if (batch)
            mx = fmax(mx, z->sz[h][(size_t)B * n_h + i]);
        else
            for (int b = 0; b < B; b++)
                mx = fmax(mx, z->sz[h][(size_t)b * n_h + i]);
    k = fit_count(part_max(&R, mx), cap[h], n_h);
    bs = k > 0 ? k : 1;
    nblk = (n_h + bs - 1) / bs;
    for (int op = 0; op < 2; op++) {
        int nt = op ? nsp : nct;
        for (int b = 0; b < B; b++) {
            if ((use_whole >> op & 1) &&
                (batch ? z->imgsum[op] <= cap[op] : z->img[op][b] <= cap[op])) {
                bits += z->img[op][b];
                continue;
            }
            for (int t = 0; t < nt; t++) {
                double x = z->sz[op][(size_t)b * nt + t];
                if (op == h) /* at the block's first visit, or every one */
                    bits += x * (k == 0 ? n_o : 1);
                else /* at the block's first held tile, or every one */
                    bits += x * (part_max(&R, batch ? z->sz[op][(size_t)B * nt + t] : x) > cap[op]
                                     ? n_h
                                     : nblk);
            }
        }
    }
    return bits + z->dwn * pt->data_bits * (onchip || nparts == 1 ? 1 : 2 * nparts - 1);
}

/* The mapper of the weight-gradient phase, as cost_reduce. */
static int cost_wg(const st_ledger *lg, const st_point *pt, st_phase_stats *st, tally *best,
                   st_order *best_o, double *floor_bits, double *least_bits)
{
    int B = lg->B, nt[2] = {lg->nct, lg->nsp};
    const uint64_t *n[2] = {lg->n0, lg->n1}, *zz[2] = {lg->z0, lg->z1};
    const uint64_t *in_[2] = {lg->img_n0, lg->img_n1}, *iz[2] = {lg->img_z0, lg->img_z1};
    st_store sto[2];
    wsize z;
    double *mem;
    uint8_t *in;
    size_t off = 0, need = 0;
    int fits = 0, first = 1, nr_c[2][2][2], walk = lg->v != NULL;
    uint64_t oc = 0, os = 0;
    double least = INFINITY;

    memset(&z, 0, sizeof z);
    z.lg = lg;
    z.h0 = pt->ch0_kib * 8192.0 / 2, z.h1 = pt->ch1_kib * 8192.0 / 2;
    z.ch2 = pt->ch2_kib * 8192.0;
    for (int op = 0; op < 2; op++) {
        uint64_t tn = 0, tz = 0;
        for (int b = 0; b < B; b++)
            tn += in_[op][b], tz += iz[op][b];
        sto[op] = st_store_pick(pt, op ? lg->skip1 : lg->skip0, tn, tz);
        need += 2 * ((size_t)B * nt[op] + nt[op]) + 2 * (size_t)B;
    }
    z.s0 = sto[0], z.s1 = sto[1];
    mem = calloc(need, sizeof *mem);
    in = malloc(2 * (size_t)B);
    if (!mem || !in) {
        free(mem);
        free(in);
        return ST_ENOMEM;
    }
    *floor_bits = 0;
    for (int op = 0; op < 2; op++) {
        size_t nbt = (size_t)B * nt[op];
        z.sz[op] = mem + off, off += nbt + nt[op];
        z.szw[op] = mem + off, off += nbt + nt[op];
        z.img[op] = mem + off, off += B;
        z.imgw[op] = mem + off, off += B;
        for (size_t i = 0; i < nbt; i++) {
            z.sz[op][i] = st_store_bits(pt, sto[op], n[op][i], zz[op][i]);
            z.szw[op][i] = (double)st_store_words(sto[op], n[op][i], zz[op][i]);
            z.sz[op][nbt + i % nt[op]] += z.sz[op][i];
        }
        for (int b = 0; b < B; b++) {
            z.img[op][b] = st_store_bits(pt, sto[op], in_[op][b], iz[op][b]);
            z.imgw[op][b] = (double)st_store_words(sto[op], in_[op][b], iz[op][b]);
            z.imgsum[op] += z.img[op][b];
        }
        *floor_bits += z.imgsum[op];
    }
    for (int c = 0; c < nt[0]; c++)
        oc += lg->outc[c];
    for (int s = 0; s < nt[1]; s++)
        os += lg->outsp[s];
    z.dwn = (double)(oc * os);
    z.dwsum = z.dwn * pt->psum_bits;
    *floor_bits += z.dwn * pt->data_bits;
    /* holding an operand's whole tensors is tried only where one fits */
    for (int op = 0; op < 2; op++)
        for (int b = 0; b < B; b++)
            fits |= (z.img[op][b] <= (op ? z.h1 : z.h0)) << op;
    /* rounds, where the held operand's largest tile does not fit without
     * them: the fewest that make a block of one tile fit, and the fewest
     * that make all of them fit together (per image, or over the batch) */
    for (int op = 0; op < 2; op++) {
        double mx = 0, mxb = 0, cap = op ? z.h1 : z.h0;
        size_t nbt = (size_t)B * nt[op];
        for (size_t i = 0; i < nbt; i++)
            mx = fmax(mx, z.sz[op][i]);
        for (int i = 0; i < nt[op]; i++)
            mxb = fmax(mxb, z.sz[op][nbt + i]);
        nr_c[op][0][0] = rounds_needed(mx, cap, lg->nred);
        nr_c[op][0][1] = rounds_needed(mx, cap / nt[op], lg->nred);
        nr_c[op][1][0] = rounds_needed(mxb, cap, lg->nred);
        nr_c[op][1][1] = rounds_needed(mxb, cap / nt[op], lg->nred);
    }
    /* as cost_reduce: closed-form bits first, then the walk of the least */
    for (int pass = 0; pass < 2; pass++)
        for (int whole = 0; whole < 4; whole++) {
            if (whole & ~fits)
                continue;
            for (st_order o = ST_ORD_DZ; o <= ST_ORD_ACT_B; o++) {
                int h = o == ST_ORD_DZ || o == ST_ORD_DZ_B ? 0 : 1;
                const int *nro = nr_c[h][o == ST_ORD_DZ_B || o == ST_ORD_ACT_B];
                for (int ri = 0; ri < (whole ? 1 : 3); ri++) {
                    int nr = ri ? nro[ri - 1] : 1;
                    tally t;
                    double bits;
                    if (nr == 0 || (ri == 2 && nr == nro[0]))
                        continue; /* no such split, or tried already */
                    bits = wg_bits(&z, pt, o, whole, nr);
                    if (pass == 0 || !walk) {
                        least = fmin(least, bits);
                        continue;
                    }
                    if (bits > least * (1 + 1e-9) && !CHECK_BITS)
                        continue;
                    t = wg_order(&z, pt, o, whole, nr, first || CHECK_BITS ? INFINITY : best->bits,
                                 in);
#ifdef ST_CHECK_BITS
                    if (!t.over && fabs(t.bits - bits) > 1e-9 * fmax(1, t.bits))
                        fprintf(stderr, "wg_bits %s whole %d nr %d: walk %.17g closed %.17g\n",
                                st_order_name(o), whole, nr, t.bits, bits);
#endif
                    if (keep_best(&t, first, best)) {
                        *best_o = o;
                        st->rounds = rounds_of(lg->nred, nr).n;
                    }
                    first = 0;
                }
            }
        }
    *least_bits = least;
    st->store[0] = z.s0;
    st->store[1] = z.s1;
    st->store[2] = ST_STORE_DENSE;
    free(mem);
    free(in);
    return 0;
}

int st_cost_phase(const st_ledger *lg, const st_point *pt, const st_layer *l, st_phase ph,
                  st_phase_stats *st, st_err *err)
{
    tally t;
    st_order o = 0;
    double floor_bits = 0, least;
    int rc;

    memset(&t, 0, sizeof t);
    rc = lg->wg ? cost_wg(lg, pt, st, &t, &o, &floor_bits, &least)
                : cost_reduce(lg, pt, st, &t, &o, &floor_bits, &least);
    if (rc != 0)
        return st_err_set(err, rc, "out of memory for the mapper of layer '%s'", l->name);
    if (t.bad)
        return st_err_set(err, ST_EINVAL,
                          "layer '%s' (%s): a DRAM transfer of %.6g bytes at dram_gbps = %g takes "
                          "more than 2^62 cycles",
                          l->name, st_phase_name(ph), t.bad_bytes, pt->dram_gbps);
    st->order = o;
    st->compute_cycles += t.compute;
    st->stall_cycles += t.stall;
    st->useful_macs += t.work;
    st->dram_bytes += (uint64_t)ceil(t.bits / 8);
    st->dram_floor_bytes += (uint64_t)ceil(floor_bits / 8);
    st->sram_rd[0] += t.rd0;
    st->sram_wr[0] += (uint64_t)llround(t.wr0);
    st->sram_rd[1] += t.rd1;
    st->sram_wr[1] += (uint64_t)llround(t.wr1);
    st->sram_rd[2] += t.io2;
    st->sram_wr[2] += t.io2;
    return 0;
}

int st_cost_bits(const st_ledger *lg, const st_point *pt, double *bits)
{
    st_phase_stats st;
    tally t;
    st_order o = 0;
    double floor_bits = 0;
    st_ledger bare = *lg;

    memset(&st, 0, sizeof st);
    memset(&t, 0, sizeof t);
    bare.v = NULL; /* no visits: only the fewest bits */
    return lg->wg ? cost_wg(&bare, pt, &st, &t, &o, &floor_bits, bits)
                  : cost_reduce(&bare, pt, &st, &t, &o, &floor_bits, bits);
}

void st_cost_energy(const st_point *pt, st_phase_stats *s)
{
    double t_s = (double)st_phase_cycles(s) / (pt->clock_mhz * 1e6);

    s->energy_pj[ST_E_MAC] = (double)s->useful_macs * st_energy_mac_pj(pt);
    /* per MAC: the kernel-row register is read, the output segment read and written */
    s->energy_pj[ST_E_REG] = (double)s->useful_macs * (st_energy_reg_pj(pt, pt->data_bits) +
                                                       2 * st_energy_reg_pj(pt, pt->psum_bits));
    s->energy_pj[ST_E_CH0] =
        (double)(s->sram_rd[0] + s->sram_wr[0]) * st_energy_sram_pj(pt, pt->ch0_kib, pt->data_bits);
    s->energy_pj[ST_E_CH1] =
        (double)(s->sram_rd[1] + s->sram_wr[1]) * st_energy_sram_pj(pt, pt->ch1_kib, pt->data_bits);
    s->energy_pj[ST_E_CH2] =
        (double)(s->sram_rd[2] + s->sram_wr[2]) * st_energy_sram_pj(pt, pt->ch2_kib, pt->psum_bits);
    s->energy_pj[ST_E_DRAM] = st_energy_dram_pj(pt, (double)s->dram_bytes);
    s->energy_pj[ST_E_LEAK] = st_leakage_mw(pt) * 1e9 * t_s;
}
