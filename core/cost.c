/*
 * cost.c - the mapper and the memory model. From the events the phase
 * kernels counted per tile visit (sim.c), choose how each tensor is stored
 * and the loop order with the least DRAM traffic, then count DRAM bytes,
 * stalls, SRAM accesses and energy. What a visit computes is sim.c's; the
 * tiling and the buffer minimums are map.c's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

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

int st_ledger_alloc(st_ledger *lg, int wg, int B, int nct, int nsp)
{
    size_t nv = (size_t)B * nct * nsp, n0 = (size_t)B * (wg ? nct : nsp);
    size_t n1 = wg ? (size_t)B * nsp : (size_t)nct;

    memset(lg, 0, sizeof *lg);
    lg->wg = wg, lg->B = B, lg->nct = nct, lg->nsp = nsp;
    lg->out_density = 1;
    lg->spill = 1;
    lg->v = calloc(nv ? nv : 1, sizeof *lg->v);
    lg->n0 = calloc(2 * n0 + 2 * (size_t)B + 2 * n1 + 2 * (size_t)B + (size_t)nct * nsp + 1,
                    sizeof *lg->n0);
    if (!lg->v || !lg->n0) {
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
    lg->outs = lg->img_z1 + B;
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
        x = ceil(x - 1e-9 * (x > 1 ? x : 1));
        /* a transfer whose cycles do not fit a counter is an error of the point */
        if (!(x < 0x1p62)) {
            t->bad = 1;
            t->bad_bytes = bits / 8;
        } else
            xfer = (uint64_t)x;
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

/* ------------------------------------------------------ reduce phases */

/* What the orders of a reduce phase share: sizes as stored. */
typedef struct rsize {
    const st_ledger *lg;
    st_store s0, so;
    double h0, h1;
    double *win, *winw; /* B x nsp: bits and values of each window fetch, spill included */
    int *win_fits;      /* B x nsp: the window can stay while channel tiles visit it */
    double *img, *imgw; /* B: the whole streamed tensor of an image */
    double *wct;        /* nct: bits of each channel tile's weights */
    double *out;        /* nct x nsp: bits of each visit's outputs */
    double wsum, imgsum;
    int kb; /* channel tiles whose weights fit in half of ch1 together */
    int ks; /* spatial tiles whose windows fit in half of ch0 together */
} rsize;

/*
 * One order of a reduce phase. Weights held (ST_ORD_WEIGHTS, _B): blocks of
 * kb channel tiles whose weights fit in half of ch1 together; per block,
 * every spatial tile visits the block's channel tiles, per image (the
 * weights are fetched again for every image) or with the images inside
 * the block (once per batch). Stream held (ST_ORD_STREAM): blocks of ks
 * spatial tiles whose windows fit in half of ch0 together; per block,
 * every channel tile visits them, its weights held across the block. An
 * image whose whole streamed tensor fits in half of ch0 is fetched once
 * (with the batch inside: when the whole batch fits) when use_whole says
 * so (its windows may read less of it); all the weights, when they fit in
 * half of ch1, once per batch.
 */
static tally reduce_order(const rsize *z, const st_point *pt, st_order o, int use_whole,
                          double bound, uint8_t *img_in, long *w_epoch)
{
    const st_ledger *lg = z->lg;
    int B = lg->B, nct = lg->nct, nsp = lg->nsp;
    int all_w = z->wsum <= z->h1, batch = o == ST_ORD_WEIGHTS_B, sh = o == ST_ORD_STREAM;
    int k = sh ? z->ks : all_w ? nct : z->kb, n_h = sh ? nsp : nct, n_o = sh ? nct : nsp;
    int bs = k > 0 ? k : 1, nblk = (n_h + bs - 1) / bs;
    int nouter = batch ? nblk : B, ninner = batch ? B : nblk;
    long epoch = 0;
    tally t;

    tally_init(&t, pt);
    t.bound = bound;
    memset(img_in, 0, (size_t)B);
    for (int c = 0; c < nct; c++)
        w_epoch[c] = -1;
    for (int i = 0; i < nouter; i++)
        for (int j = 0; j < ninner; j++) {
            int b = batch ? j : i, blk = batch ? i : j;
            int h_lo = blk * bs, h_hi = h_lo + bs < n_h ? h_lo + bs : n_h;
            int whole = use_whole && (batch ? z->imgsum <= z->h0 : z->img[b] <= z->h0);
            /* one epoch per block of held weights: per image, or per batch */
            epoch = batch ? blk + 1 : (long)i * ninner + j + 1;
            for (int q = 0; q < n_o; q++)
                for (int h = h_lo; h < h_hi; h++) {
                    int c = sh ? q : h, s = sh ? h : q;
                    size_t bsi = (size_t)b * nsp + s, cs = (size_t)c * nsp + s;
                    const st_visit *v = &lg->v[((size_t)b * nct + c) * nsp + s];
                    double bits = 0;
                    /* the streamed operand: the whole image, or the window
                     * of the spatial tile, held across the block's channel
                     * tiles (weights held) or for the block (stream held) */
                    if (whole) {
                        if (!img_in[b]) {
                            img_in[b] = 1;
                            bits += z->img[b];
                            t.wr0 += z->imgw[b];
                        }
                    } else if (sh ? k == 0 || q == 0 : !z->win_fits[bsi] || h == h_lo) {
                        bits += z->win[bsi];
                        t.wr0 += z->winw[bsi];
                    }
                    /* the weights of channel tile c */
                    if (all_w ? w_epoch[c] < 0
                        : sh  ? z->wct[c] > z->h1 || h == h_lo
                              : k == 0 || w_epoch[c] != epoch) {
                        w_epoch[c] = epoch;
                        bits += z->wct[c];
                        t.wr1 += (double)lg->n1[c];
                    }
                    bits += z->out[cs];
                    t.io2 += lg->outs[cs];
                    t.rd0 += z->s0 == ST_STORE_DENSE ? v->pos0 : v->rd0;
                    t.rd1 += v->rd1;
                    tally_visit(&t, v, bits);
                    if (t.over)
                        return t;
                }
        }
    return t;
}

static int cost_reduce(const st_ledger *lg, const st_point *pt, st_phase_stats *st, tally *best,
                       st_order *best_o, double *floor_bits)
{
    int B = lg->B, nct = lg->nct, nsp = lg->nsp, rc = 0;
    size_t nbs = (size_t)B * nsp, ncs = (size_t)nct * nsp;
    uint64_t n = 0, zz = 0, on = 0;
    double dens, winb, wmax = 0;
    st_store pick;
    rsize z;
    uint8_t *img_in = NULL;
    long *w_epoch = NULL;

    memset(&z, 0, sizeof z);
    z.lg = lg;
    z.h0 = pt->ch0_kib * 8192.0 / 2, z.h1 = pt->ch1_kib * 8192.0 / 2;
    for (int b = 0; b < B; b++)
        n += lg->img_n0[b], zz += lg->img_z0[b];
    pick = st_store_pick(pt, lg->skip0, n, zz);
    for (size_t i = 0; i < ncs; i++)
        on += lg->outs[i];
    on *= (uint64_t)B;
    z.so = st_store_pick(pt, lg->skip_out, on, (uint64_t)llround((double)on * lg->out_density));
    z.win = malloc(nbs * 2 * sizeof *z.win);
    z.win_fits = malloc(nbs * sizeof *z.win_fits);
    z.img = malloc((size_t)B * 2 * sizeof *z.img);
    z.wct = malloc(((size_t)nct + ncs) * sizeof *z.wct);
    img_in = malloc((size_t)B);
    w_epoch = malloc((size_t)nct * sizeof *w_epoch);
    if (!z.win || !z.win_fits || !z.img || !z.wct || !img_in || !w_epoch) {
        rc = ST_ENOMEM;
        goto done;
    }
    z.winw = z.win + nbs, z.imgw = z.img + B, z.out = z.wct + nct;
    for (int c = 0; c < nct; c++) {
        z.wct[c] = (double)lg->n1[c] * pt->data_bits;
        z.wsum += z.wct[c];
        wmax = z.wct[c] > wmax ? z.wct[c] : wmax;
    }
    z.kb = wmax <= z.h1 ? (wmax > 0 ? (int)fmin(nct, floor(z.h1 / wmax)) : nct) : 0;
    for (size_t i = 0; i < ncs; i++) {
        uint64_t o = lg->outs[i];
        z.out[i] = st_store_bits(pt, z.so, o, (uint64_t)llround((double)o * lg->out_density)) +
                   (lg->out_bitmap ? (double)o : 0);
    }
    /* The streamed operand as the whole tensor asks (pick), or dense: its
     * windows may be denser than the tensor, and the mapper keeps the
     * storage that moves less. */
    dens = n ? (double)zz / (double)n : 1;
    for (int cand = 0; cand < 2; cand++) {
        st_store s0 = cand ? ST_STORE_DENSE : pick;
        double mx = 0;
        int any_whole = 0; /* does holding whole tensors change anything? */
        if (cand && pick == ST_STORE_DENSE)
            break;
        /* The window of one channel stays in half of ch0 at its size as
         * stored (at the tensor's density), or every step fetches its rows
         * again. */
        z.s0 = s0;
        winb = st_store_bits(pt, s0, lg->win, (uint64_t)llround((double)lg->win * dens));
        for (size_t i = 0; i < nbs; i++) {
            int spills = winb > z.h0; /* then never held, whatever the factor */
            double f = spills ? lg->spill : 1;
            double bits = st_store_bits(pt, s0, lg->n0[i], lg->z0[i]);
            z.win[i] = bits * f;
            z.winw[i] = (double)st_store_words(s0, lg->n0[i], lg->z0[i]) * f;
            z.win_fits[i] = !spills && bits <= z.h0;
        }
        z.imgsum = 0;
        for (int b = 0; b < B; b++) {
            z.img[b] = st_store_bits(pt, s0, lg->img_n0[b], lg->img_z0[b]);
            z.imgw[b] = (double)st_store_words(s0, lg->img_n0[b], lg->img_z0[b]);
            z.imgsum += z.img[b];
        }
        for (size_t i = 0; i < nbs; i++)
            mx = z.win_fits[i] && z.win[i] > mx ? z.win[i] : mx;
        for (size_t i = 0; i < nbs; i++)
            mx = z.win_fits[i] ? mx : INFINITY;
        z.ks = mx <= z.h0 ? (mx > 0 ? (int)fmin(nsp, floor(z.h0 / mx)) : nsp) : 0;
        for (int b = 0; b < B; b++)
            any_whole |= z.img[b] <= z.h0;
        for (int whole = 0; whole < 1 + any_whole; whole++)
            for (st_order o = ST_ORD_STREAM; o <= ST_ORD_WEIGHTS_B; o++) {
                int first = o == ST_ORD_STREAM && !whole && !cand;
                tally t =
                    reduce_order(&z, pt, o, whole, first ? INFINITY : best->bits, img_in, w_epoch);
                if (first || tally_better(&t, best)) {
                    *best = t, *best_o = o;
                    st->store[0] = s0;
                    *floor_bits = z.imgsum + z.wsum;
                    for (size_t i = 0; i < ncs; i++)
                        *floor_bits += z.out[i] * B;
                }
            }
    }
    st->store[1] = ST_STORE_DENSE;
    st->store[2] = z.so;
done:
    free(z.win);
    free(z.win_fits);
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
    double dwsum;
} wsize;

/*
 * One order of the weight-gradient phase. The held operand h (0: dZ rows
 * of output-channel tiles, ST_ORD_DZ*; 1: activation columns of triple
 * tiles, ST_ORD_ACT*) is taken in blocks of tiles that fit in half of its
 * buffer together; per block every tile of the other operand visits the
 * block's tiles, which it stays on chip for when it fits. Per image (dW
 * adds up in ch2 when it fits there, else in DRAM, read back from the
 * second image on), or with the images inside each tile (ST_ORD_*_B: dW
 * stays in the PE registers, the held block and the visiting tile hold
 * every image). A whole tensor that fits (for the batch: all of it) is
 * fetched once, when bit `op` of use_whole says so (its tiles may read
 * less of it).
 */
static tally wg_order(const wsize *z, const st_point *pt, st_order o, int use_whole, double bound,
                      uint8_t *in)
{
    const st_ledger *lg = z->lg;
    int B = lg->B, nct = lg->nct, nsp = lg->nsp;
    int batch = o == ST_ORD_DZ_B || o == ST_ORD_ACT_B,
        h = o == ST_ORD_DZ || o == ST_ORD_DZ_B ? 0 : 1;
    int n_h = h ? nsp : nct, n_o = h ? nct : nsp;
    int onchip = !batch && z->dwsum <= z->ch2;
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
    k = mx <= cap[h] ? (mx > 0 ? (int)fmin(n_h, floor(cap[h] / mx)) : n_h) : 0;
    bs = k > 0 ? k : 1;
    tally_init(&t, pt);
    t.bound = bound;
    memset(in, 0, 2 * (size_t)B);
    /* per image: image b, block, other tile q, held tile i of the block;
     * with the batch inside: block, q, i, b */
    for (int ob = 0; ob < (batch ? 1 : B); ob++)
        for (int lo = 0; lo < n_h; lo += bs)
            for (int q = 0; q < n_o; q++)
                for (int i = lo; i < lo + bs && i < n_h; i++)
                    for (int ib = 0; ib < (batch ? B : 1); ib++) {
                        int b = batch ? ib : ob;
                        int c = h ? q : i, s = h ? i : q;
                        size_t cs = (size_t)c * nsp + s;
                        const st_visit *v = &lg->v[((size_t)b * nct + c) * nsp + s];
                        double bits = 0, outb = (double)lg->outs[cs] * pt->data_bits;
                        for (int op = 0; op < 2; op++) {
                            int held = op == h, tile = op ? s : c, nt = op ? nsp : nct;
                            size_t bt = (size_t)b * nt + tile;
                            int whole = (use_whole >> op & 1) && (batch ? z->imgsum[op] <= cap[op]
                                                                        : z->img[op][b] <= cap[op]);
                            int fetch;
                            if (whole) {
                                fetch = 0;
                                if (!in[op * B + b]) {
                                    in[op * B + b] = 1;
                                    bits += z->img[op][b],
                                        op ? (t.wr1 += z->imgw[op][b]) : (t.wr0 += z->imgw[op][b]);
                                }
                            } else if (held)
                                fetch = k == 0 || q == 0; /* at the block's first visit */
                            else
                                /* the visiting tile stays across the block's held tiles */
                                fetch = i == lo || (batch ? z->sz[op][(size_t)B * nt + tile]
                                                          : z->sz[op][bt]) > cap[op];
                            if (fetch) {
                                bits += z->sz[op][bt];
                                if (op)
                                    t.wr1 += z->szw[op][bt];
                                else
                                    t.wr0 += z->szw[op][bt];
                            }
                        }
                        if (batch || onchip) {
                            if (b == B - 1 || !batch)
                                t.io2 += lg->outs[cs];
                            if (b == B - 1)
                                bits += outb;
                        } else {
                            bits += outb + (b > 0 ? outb : 0);
                            t.io2 += lg->outs[cs] * (b > 0 ? 2 : 1);
                        }
                        t.rd0 += z->s0 == ST_STORE_DENSE ? v->pos0 : v->rd0;
                        t.rd1 += z->s1 == ST_STORE_DENSE ? v->pos1 : v->rd1;
                        tally_visit(&t, v, bits);
                        if (t.over)
                            return t;
                    }
    return t;
}

static int cost_wg(const st_ledger *lg, const st_point *pt, st_phase_stats *st, tally *best,
                   st_order *best_o, double *floor_bits)
{
    int B = lg->B, nt[2] = {lg->nct, lg->nsp};
    const uint64_t *n[2] = {lg->n0, lg->n1}, *zz[2] = {lg->z0, lg->z1};
    const uint64_t *in_[2] = {lg->img_n0, lg->img_n1}, *iz[2] = {lg->img_z0, lg->img_z1};
    st_store sto[2];
    wsize z;
    double *mem;
    uint8_t *in;
    size_t off = 0, need = 0;
    int fits = 0;

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
    for (size_t i = 0; i < (size_t)nt[0] * nt[1]; i++) {
        z.dwsum += (double)lg->outs[i] * pt->psum_bits;
        *floor_bits += (double)lg->outs[i] * pt->data_bits;
    }
    /* holding an operand's whole tensors is tried only where one fits */
    for (int op = 0; op < 2; op++)
        for (int b = 0; b < B; b++)
            fits |= (z.img[op][b] <= (op ? z.h1 : z.h0)) << op;
    for (int whole = 0; whole < 4; whole++) {
        if (whole & ~fits)
            continue;
        for (st_order o = ST_ORD_DZ; o <= ST_ORD_ACT_B; o++) {
            int first = o == ST_ORD_DZ && !whole;
            tally t = wg_order(&z, pt, o, whole, first ? INFINITY : best->bits, in);
            if (first || tally_better(&t, best))
                *best = t, *best_o = o;
        }
    }
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
    double floor_bits = 0;
    int rc;

    memset(&t, 0, sizeof t);
    rc = lg->wg ? cost_wg(lg, pt, st, &t, &o, &floor_bits)
                : cost_reduce(lg, pt, st, &t, &o, &floor_bits);
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
