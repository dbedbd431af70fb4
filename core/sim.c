/*
 * sim.c - the cycle-level engine's phase kernels: steps every tile of every
 * phase through the PE array, one row step at a time, counts the useful
 * MACs each PE issues from the actual zero positions and applies the
 * synchronisation policy (lock-step or FIFO-decoupled PEs); each tile
 * visit's events go into a ledger. What the visits move and cost is
 * cost.c's, which tiles a sampled run simulates sample.c's, the tiling
 * map.c's, bit counting bitrow.c's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* -------------------------------------------------------------- row sets */

/* The bit rows of one tensor of a pass, nch channels of `per` rows each,
 * split by stride phase: phase ph of a row holds positions ph, ph + S,
 * ph + 2S, ... so that a strided tap is a plain shift. A NULL mask gives all
 * ones on the real positions. Only the channels wanted are stored; the
 * others share one slot of zero rows. */
typedef struct rowset {
    int nch, per, len, S, plen;
    int nslot; /* slots stored: the channels wanted, then the zero slot */
    size_t words;
    int *slot; /* nch: where a channel's rows are stored */
    uint64_t *bits;
    uint32_t *cnt;      /* non-zeros of each whole row, by slot */
    uint64_t ones, pos; /* non-zeros and positions of the rows built */
} rowset;

static inline size_t rs_index(const rowset *rs, int c, int row)
{
    return (size_t)rs->slot[c] * rs->per + row;
}

static inline const uint64_t *rs_row(const rowset *rs, int c, int row, int ph)
{
    return rs->bits + (rs_index(rs, c, row) * rs->S + ph) * rs->words;
}

/* Bits of row `len` bytes m (0/1) into phase rows out[ph * words], counting
 * the ones. */
static uint32_t rs_fill(const rowset *rs, const uint8_t *m, uint64_t *out)
{
    int len = rs->len, S = rs->S;
    uint32_t c = 0;

    for (int ph = 0; ph < S; ph++) {
        uint64_t *row = out + (size_t)ph * rs->words;
        int n_ph = (len - ph + S - 1) / S;
        if (!m) {
            /* all ones on the real positions */
            for (int w = 0; w < n_ph / 64; w++)
                row[w] = ~(uint64_t)0;
            if (n_ph % 64)
                row[n_ph / 64] = ((uint64_t)1 << (n_ph % 64)) - 1;
            c += (uint32_t)n_ph;
        } else if (S == 1) {
            int x = 0;
            /* eight 0/1 bytes to eight bits at a time: the multiply
             * gathers the low bit of each byte into the top byte */
            for (; x + 8 <= len; x += 8) {
                uint64_t v;
                memcpy(&v, m + x, 8);
                v = ((v & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56;
                row[x >> 6] |= v << (x & 63);
                c += (uint32_t)__builtin_popcountll(v);
            }
            for (; x < len; x++)
                if (m[x]) {
                    row[x >> 6] |= (uint64_t)1 << (x & 63);
                    c++;
                }
        } else {
            /* without a branch: the bits are random */
            for (int x = ph, u = 0; x < len; x += S, u++) {
                uint64_t b = m[x] != 0;
                row[u >> 6] |= b << (u & 63);
                c += (uint32_t)b;
            }
        }
    }
    return c;
}

/* Build the rows of the channels flagged in want (NULL: all) from mask
 * (nch x per rows of len bytes, 0/1; NULL: all ones). */
static int rs_build(rowset *rs, const uint8_t *mask, int nch, int per, int len, int S,
                    const uint8_t *want)
{
    int nslot = 0;
    size_t n, rows;

    rs->nch = nch, rs->per = per, rs->len = len, rs->S = S;
    rs->plen = (len + S - 1) / S;
    rs->words = ST_BITS_WORDS(rs->plen);
    free(rs->slot);
    free(rs->bits);
    free(rs->cnt);
    rs->bits = NULL, rs->cnt = NULL;
    if (!(rs->slot = malloc((nch ? (size_t)nch : 1) * sizeof *rs->slot)))
        return ST_ENOMEM;
    for (int c = 0; c < nch; c++)
        if (!want || want[c])
            rs->slot[c] = nslot++;
    for (int c = 0; c < nch; c++)
        if (want && !want[c])
            rs->slot[c] = nslot; /* the zero slot */
    rs->nslot = nslot + 1;
    rows = (size_t)(nslot + 1) * per;
    n = rows * S * rs->words;
    rs->bits = calloc(n ? n : 1, sizeof *rs->bits);
    rs->cnt = calloc(rows ? rows : 1, sizeof *rs->cnt);
    if (!rs->bits || !rs->cnt)
        return ST_ENOMEM;
    rs->ones = rs->pos = 0;
    for (int c = 0; c < nch; c++) {
        if (want && !want[c])
            continue;
        for (int y = 0; y < per; y++) {
            size_t i = rs_index(rs, c, y);
            const uint8_t *m = mask ? mask + ((size_t)c * per + y) * len : NULL;
            rs->cnt[i] = rs_fill(rs, m, rs->bits + i * S * rs->words);
            rs->ones += rs->cnt[i];
            rs->pos += (uint64_t)len;
        }
    }
    return 0;
}

/* Density of the rows that were built: what a sampled run knows of the
 * tensor, and uses to estimate what a tile moves. */
static double rs_density(const rowset *rs)
{
    return rs->pos ? (double)rs->ones / (double)rs->pos : 1;
}

static void rs_free(rowset *rs)
{
    free(rs->slot);
    free(rs->bits);
    free(rs->cnt);
    rs->slot = NULL;
    rs->bits = NULL;
    rs->cnt = NULL;
}

/* rs_count of part of a row: its stride phases' bits counted. */
static uint64_t rs_count_part(const rowset *rs, int c, int row, int lo, int hi)
{
    uint64_t n = 0;

    for (int ph = 0; ph < rs->S; ph++) {
        int a = lo - ph, b = hi - ph;
        /* u with lo <= u*S + ph < hi */
        a = a <= 0 ? 0 : (a + rs->S - 1) / rs->S;
        b = b <= 0 ? 0 : (b + rs->S - 1) / rs->S;
        n += st_bits_count(rs_row(rs, c, row, ph), rs->plen, a, b);
    }
    return n;
}

/* Non-zeros of row `row` of channel c in positions [lo, hi) of the unsplit
 * row: a whole row's were counted when it was built (the kernels ask at every
 * step). */
static inline uint64_t rs_count(const rowset *rs, int c, int row, int lo, int hi)
{
    if (lo <= 0 && hi >= rs->len)
        return rs->cnt[rs_index(rs, c, row)];
    return rs_count_part(rs, c, row, lo, hi);
}

/* The bit planes of the per-bit sum of words v[0..n): bit b of P[k] is bit k
 * of the number of v[q] with bit b set. Then the sum over q of
 * popcount(x & v[q]) is the sum over k of popcount(x & P[k]) << k, which
 * costs fewer popcounts when many x meet the same v. Returns the number of
 * planes: at most 16, for n < 65536. */
static int bit_planes(const uint64_t *v, int n, uint64_t *P)
{
    int np = 0;

    for (int q = 0; q < n; q++) {
        uint64_t carry = v[q];
        for (int k = 0; carry; k++) {
            uint64_t t;
            if (k == np)
                P[np++] = 0;
            t = P[k] & carry;
            P[k] ^= carry;
            carry = t;
        }
    }
    return np;
}

static inline uint64_t planes_and_count(const uint64_t *P, int np, uint64_t x)
{
    uint64_t w = 0;

    for (int k = 0; k < np; k++)
        w += (uint64_t)__builtin_popcountll(x & P[k]) << k;
    return w;
}

/* Bits needed to count to n: the most planes bit_planes makes of n words. */
static int planes_max(int n)
{
    int b = 0;

    while (n >> b)
        b++;
    return b;
}

/* ---------------------------------------------------------------- timing */

static inline uint32_t pe_cycles(const st_point *pt, uint64_t work)
{
    /* the work of one PE in one step fits 32 bits (taps x segment) */
    uint32_t w = (uint32_t)work, m = (uint32_t)pt->macs_per_pe;
    return (m == 1 ? w : (w + m - 1) / m) + (uint32_t)pt->step_overhead;
}

/* planes_row for FIFO timing (each PE's cycles into cyc) or many planes. */
static void planes_row_all(const st_point *pt, const uint64_t *P, int np, const uint64_t *x, int n,
                           uint64_t *sum, uint64_t *max, uint32_t *cyc)
{
    uint64_t s = 0, m = *max;

    for (int j = 0; j < n; j++) {
        uint64_t w = planes_and_count(P, np, x[j]);
        s += w;
        m = w > m ? w : m;
        if (cyc)
            cyc[j] = pe_cycles(pt, w);
    }
    *sum += s;
    *max = m;
}

#define PC(v) ((uint64_t)__builtin_popcountll(v))

/* The work of the n PEs of a row whose words are x[0..n), against the bit
 * planes P[0..np) of their step's shared taps: added to *sum, the largest
 * to *max, and each PE's cycles into cyc when it is not NULL (FIFO). */
static inline __attribute__((always_inline)) void planes_row(const st_point *pt, const uint64_t *P,
                                                             int np, const uint64_t *x, int n,
                                                             uint64_t *sum, uint64_t *max,
                                                             uint32_t *cyc)
{
    uint64_t s = 0, m = *max, m1 = 0;
    int j = 0;

    /* Lock-step needs the sum and the largest alone: a loop per plane
     * count keeps the planes in registers (most kernel rows have 1 or 2),
     * two PEs at a time. */
    if (cyc || np > 2) {
        planes_row_all(pt, P, np, x, n, sum, max, cyc);
        return;
    }
    if (np == 1) {
        uint64_t p0 = P[0];
        for (; j + 2 <= n; j += 2) {
            uint64_t w = PC(x[j] & p0), v = PC(x[j + 1] & p0);
            s += w + v;
            m = w > m ? w : m;
            m1 = v > m1 ? v : m1;
        }
        for (; j < n; j++) {
            uint64_t w = PC(x[j] & p0);
            s += w;
            m = w > m ? w : m;
        }
    } else if (np == 2) {
        uint64_t p0 = P[0], p1 = P[1];
        for (; j + 2 <= n; j += 2) {
            uint64_t w = PC(x[j] & p0) + (PC(x[j] & p1) << 1);
            uint64_t v = PC(x[j + 1] & p0) + (PC(x[j + 1] & p1) << 1);
            s += w + v;
            m = w > m ? w : m;
            m1 = v > m1 ? v : m1;
        }
        for (; j < n; j++) {
            uint64_t w = PC(x[j] & p0) + (PC(x[j] & p1) << 1);
            s += w;
            m = w > m ? w : m;
        }
    }
    *sum += s;
    *max = m > m1 ? m : m1;
}

/* planes_row for a strided kernel row: each PE has a word per stride phase
 * (x[j nph + ph]), each phase its taps' planes (P + ph maxp, np[ph] of them). */
static inline void planes_row_ph(const st_point *pt, const uint64_t *P, const uint8_t *np, int nph,
                                 int maxp, const uint64_t *x, int n, uint64_t *sum, uint64_t *max,
                                 uint32_t *cyc)
{
    uint64_t s = 0, m = *max;

    for (int j = 0; j < n; j++) {
        uint64_t w = 0;
        for (int ph = 0; ph < nph; ph++)
            w += planes_and_count(P + (size_t)ph * maxp, np[ph], x[(size_t)j * nph + ph]);
        s += w;
        m = w > m ? w : m;
        if (cyc)
            cyc[j] = pe_cycles(pt, w);
    }
    *sum += s;
    *max = m;
}

static int tm_init(st_timing *t, const st_point *pt, int max_pe)
{
    memset(t, 0, sizeof *t);
    t->fifo = pt->sync == ST_SYNC_FIFO;
    t->depth = pt->fifo_depth;
    t->fin = calloc((size_t)max_pe, sizeof *t->fin);
    t->hist = t->fifo ? calloc((size_t)max_pe * t->depth, sizeof *t->hist) : NULL;
    return (!t->fin || (t->fifo && !t->hist)) ? ST_ENOMEM : 0;
}

static void tm_fini(st_timing *t)
{
    free(t->fin);
    free(t->hist);
    t->fin = t->hist = NULL;
}

static void tm_begin(st_timing *t, int npe)
{
    t->npe = npe;
    t->step = 0;
    t->now = t->arrive = 0;
    memset(t->fin, 0, (size_t)npe * sizeof *t->fin);
    if (t->fifo)
        memset(t->hist, 0, (size_t)npe * t->depth * sizeof *t->hist);
}

/* One row step of the tile: cyc holds each PE's cycles, mx their maximum
 * (which lock-step needs alone). */
static void tm_step(st_timing *t, const uint32_t *cyc, uint32_t mx)
{
    if (!t->fifo) {
        t->now += mx;
        return;
    }
    uint64_t *slot = t->hist + (size_t)(t->step % t->depth) * t->npe;
    if (t->step >= t->depth)
        for (int i = 0; i < t->npe; i++)
            if (slot[i] > t->arrive)
                t->arrive = slot[i];
    for (int i = 0; i < t->npe; i++) {
        uint64_t start = t->fin[i] > t->arrive ? t->fin[i] : t->arrive;
        t->fin[i] = start + cyc[i];
        slot[i] = t->fin[i];
    }
    t->step++;
}

static uint64_t tm_end(const st_timing *t)
{
    uint64_t mx = 0;

    if (!t->fifo)
        return t->now;
    for (int i = 0; i < t->npe; i++)
        if (t->fin[i] > mx)
            mx = t->fin[i];
    return mx;
}

/* The masks of every image of a pass gathered as rows: conv passes hold one
 * image; an FC pass holds the whole batch, one row per image. */
typedef struct pass_masks {
    uint8_t *act, *grad; /* act: C_total x IH x IW rows; grad: M_total x OH x OW */
} pass_masks;

/* --------------------------------------------------------- the run state */

/* A slice function starts timing a tile of npe PEs, unless r->tm_keep says
 * that it goes on from the slices before (the same tile, the next slice),
 * and ends with what its steps added to the tile's time. */
static void tm_open(st_run *r, int npe)
{
    if (!r->tm_keep) {
        tm_begin(&r->tm, npe);
        r->tm_base = 0;
    }
}

static uint64_t tm_close(st_run *r)
{
    uint64_t end = tm_end(&r->tm), add = end - r->tm_base;

    r->tm_base = end;
    return add;
}

static int words_reserve(uint64_t **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        uint64_t *p = realloc(*buf, n * sizeof *p);
        if (!p)
            return ST_ENOMEM;
        *buf = p;
        *cap = n;
    }
    return 0;
}

static inline uint64_t and_count(const uint64_t *a, const uint64_t *b, int nw)
{
    uint64_t n = 0;
    for (int w = 0; w < nw; w++)
        n += (uint64_t)__builtin_popcountll(a[w] & b[w]);
    return n;
}

static int units_reserve(st_run *r, size_t n)
{
    if (n > r->units_cap) {
        st_unit *u = realloc(r->units, n * sizeof *u);
        if (!u)
            return ST_ENOMEM;
        r->units = u;
        r->units_cap = n;
    }
    memset(r->units, 0, n * sizeof *r->units);
    return 0;
}

/* Work of one kernel-row piece in FP: taps [k0, k1) of output positions
 * [lo, hi) against input row `row` of X. */
static uint64_t fp_work(const st_run *r, const rowset *X, int c, int ih, int k0, int k1, int lo,
                        int hi)
{
    uint64_t w = 0;

    for (int kw = k0; kw < k1; kw++) {
        int d = kw - r->g.PL, t = st_floordiv(d, r->g.SW), ph = d - t * r->g.SW;
        w += st_bits_count(rs_row(X, c, ih, ph), X->plen, lo + t, hi + t);
    }
    return w;
}

/* The ledger of the phase being run (r->lg), allocated at its first image
 * for visits of nct channel tiles x nsp spatial tiles. */
static int ledger_open(st_run *r, int wg, int nct, int nsp, int nred)
{
    int rc;

    if (r->lg->n0)
        return 0;
    rc = st_ledger_alloc(r->lg, wg, r->g.fc ? 1 : r->g.passes, nct, nsp, !r->bytes_only);
    r->lg->nred = nred;
    return rc;
}

/* Record unit u as the visit (r->b, c, s); its work and second-operand
 * reads count `mul` times (FP: the same tile for every output channel of
 * the channel tile). A ledger of what the visits move only has no visits. */
static void visit_set(st_run *r, int c, int s, size_t u, uint64_t mul)
{
    st_ledger *lg = r->lg;
    const st_unit *un;
    st_visit *v;

    if (!lg->v)
        return;
    un = &r->units[u];
    v = &lg->v[((size_t)r->b * lg->nct + c) * lg->nsp + s];
    v->cycles = un->cycles;
    v->work = un->work * mul;
    v->rd0 = un->rd0, v->pos0 = un->pos0;
    v->rd1 = un->rd1 * mul, v->pos1 = un->pos1 * mul;
}

/* Non-zeros of a tensor of n positions whose rows were built into rs: all
 * of them counted, or, for a sampled run, estimated from the rows built. */
static uint64_t tensor_nz(const st_run *r, const rowset *rs, uint64_t n)
{
    return r->sampled ? (uint64_t)llround((double)n * rs_density(rs)) : rs->ones;
}

/* The positions i of [0, len) that o S + k - P reaches for some o in
 * [o_lo, o_hi) and k in [k0, k1), as maximal intervals iv[2j], iv[2j + 1]
 * (at most o_hi - o_lo of them); returns how many, and their positions in
 * *npos. A stride wider than the taps leaves gaps that are not read. */
static int reach(int o_lo, int o_hi, int S, int k0, int k1, int P, int len, int *iv, uint64_t *npos)
{
    int n = 0;

    *npos = 0;
    for (int o = o_lo; o < o_hi && k1 > k0; o++) {
        int lo = st_imax(o * S + k0 - P, 0), hi = st_imin(o * S + k1 - P, len);
        if (S <= k1 - k0) /* the intervals touch: one from the first to the last */
            hi = st_imin((o_hi - 1) * S + k1 - P, len), o = o_hi;
        if (hi <= lo)
            continue;
        if (n > 0 && lo <= iv[2 * n - 1])
            iv[2 * n - 1] = hi;
        else
            iv[2 * n] = lo, iv[2 * n + 1] = hi, n++;
    }
    for (int j = 0; j < n; j++)
        *npos += (uint64_t)(iv[2 * j + 1] - iv[2 * j]);
    return n;
}

/* Non-zeros of channel c of rs on the rows in the nr intervals ri and the
 * columns in the nc intervals ci. */
static uint64_t reach_count(const rowset *rs, int c, const int *ri, int nr, const int *ci, int nc)
{
    uint64_t z = 0;

    for (int a = 0; a < nr; a++)
        for (int y = ri[2 * a]; y < ri[2 * a + 1]; y++)
            for (int b = 0; b < nc; b++)
                z += rs_count(rs, c, y, ci[2 * b], ci[2 * b + 1]);
    return z;
}

/* ------------------------------------------------------------------- FP */

/* FP steps of input channels [c_lo, c_hi) in tile unit u (a block of
 * output rows and a segment; the same for every output-channel tile). */
static void slice_fp(st_run *r, const void *ctx, size_t u, int c_lo, int c_hi, st_unit *un)
{
    const rowset *X = ctx;
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int R = pt->pe_rows, seg = r->map.seg, taps = r->map.taps, nseg = st_ceildiv(g->OW, seg);
    int oh0 = (int)(u / nseg) * R, o_lo = (int)(u % nseg) * seg;
    int Ract = st_imin(R, g->OH - oh0), o_hi = st_imin(o_lo + seg, g->OW);
    int iw_lo = o_lo * g->SW - g->PL, iw_hi = (o_hi - 1) * g->SW - g->PL + g->KW;

    tm_open(r, Ract);
    for (int c = c_lo; c < c_hi; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int p = 0; p < r->map.pieces; p++) {
                int k0 = p * taps, k1 = st_imin(k0 + taps, g->KW);
                uint64_t wmax = 0;
                for (int i = 0; i < Ract; i++) {
                    int ih = (oh0 + i) * g->SH + kh - g->PT;
                    uint64_t w = 0;
                    if (ih >= 0 && ih < g->IH) {
                        int lo = st_imax(iw_lo + k0, 0), hi = st_imin(iw_hi - (g->KW - k1), g->IW);
                        w = fp_work(r, X, c, ih, k0, k1, o_lo, o_hi);
                        un->rd0 += rs_count(X, c, ih, lo, hi);
                        un->pos0 += (uint64_t)st_imax(hi - lo, 0);
                    }
                    un->work += w;
                    wmax = w > wmax ? w : wmax;
                    r->cyc[i] = pe_cycles(pt, w);
                }
                tm_step(&r->tm, r->cyc, pe_cycles(pt, wmax));
                un->rd1 += (uint64_t)(k1 - k0);
                un->pos1 += (uint64_t)(k1 - k0);
            }
    un->cycles += tm_close(r);
}

/* Forward phase of one pass and group. PE rows take successive output
 * rows, PE columns output channels; an input row is broadcast along a PE
 * row, so in FP the work of a step is the same for every column. */
static int run_fp(st_run *r, const rowset *X, int compressed)
{
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int R = pt->pe_rows, Cc = pt->pe_cols, seg = r->map.seg;
    int nrt = st_ceildiv(g->OH, R), nseg = st_ceildiv(g->OW, seg), nmt = st_ceildiv(g->M, Cc);
    size_t n = (size_t)nrt * nseg;
    st_ledger *lg = r->lg;
    int rc, *iv;

    st_plan pl = {NULL, r->sm ? r->sm->cin : NULL,
                  NULL, 0,
                  NULL, compressed && r->aux_act ? r->aux_act + (size_t)r->gi * g->C : NULL,
                  NULL, !compressed}; /* all-ones rows: every input channel steps alike */

    if ((!r->bytes_only && (rc = units_reserve(r, n)) != 0) ||
        (rc = ledger_open(r, 0, nmt, (int)n, g->C)) != 0 ||
        (!r->bytes_only && (rc = st_drive(r, n, g->C, slice_fp, X, &pl)) != 0))
        return rc;
    lg->skip0 = compressed;
    lg->skip_out = compressed && (r->l->post & ST_OP_RELU);
    lg->out_density = lg->skip_out ? pt->relu_density : 1;
    lg->win = r->map.win, lg->spill = r->map.spill;
    lg->img_n0[r->b] = (uint64_t)g->C * g->IH * g->IW;
    lg->img_z0[r->b] = tensor_nz(r, X, lg->img_n0[r->b]);
    if (!(iv = malloc(2 * (size_t)(R + seg) * sizeof *iv)))
        return ST_ENOMEM;
    /* Each tile's streamed window: the positions of every input channel its
     * outputs read, the same for every output-channel tile. */
    for (size_t u = 0; u < n; u++) {
        int oh0 = (int)(u / nseg) * R, o_lo = (int)(u % nseg) * seg;
        int Ract = st_imin(R, g->OH - oh0), o_hi = st_imin(o_lo + seg, g->OW);
        int *ri = iv, *ci = iv + 2 * R, nr, nc;
        uint64_t rows, cols;
        size_t bs = (size_t)r->b * n + u;

        nr = reach(oh0, oh0 + Ract, g->SH, 0, g->KH, g->PT, g->IH, ri, &rows);
        nc = reach(o_lo, o_hi, g->SW, 0, g->KW, g->PL, g->IW, ci, &cols);
        lg->n0[bs] = (uint64_t)g->C * rows * cols;
        if (r->sampled)
            lg->z0[bs] = (uint64_t)llround((double)lg->n0[bs] * rs_density(X));
        else
            for (int c = 0; c < g->C; c++)
                lg->z0[bs] += reach_count(X, c, ri, nr, ci, nc);
        for (int mt = 0; lg->v && mt < nmt; mt++)
            visit_set(r, mt, (int)u, u, (uint64_t)st_imin(Cc, g->M - mt * Cc));
        lg->outsp[u] = (uint64_t)Ract * (o_hi - o_lo);
    }
    for (int mt = 0; mt < nmt; mt++) {
        lg->n1[mt] = (uint64_t)st_imin(Cc, g->M - mt * Cc) * g->C * g->KH * g->KW;
        lg->outc[mt] = (uint64_t)st_imin(Cc, g->M - mt * Cc);
    }
    free(iv);
    return 0;
}

/* ------------------------------------------------------------------- BP */

/* The taps' bit planes of every dZ row for BP, made once per phase: the
 * words of a dZ row under the taps of a kernel-row piece, for a segment of
 * one word per stride phase, depend on the row, the piece and the segment
 * only, not on the tile or the step that reads them. Entry (row, piece,
 * segment) holds, per stride phase, the planes of the taps of that phase;
 * rd the non-zeros of each (row, segment) window. Rows are indexed by slot
 * (rs_index), so channels not generated share the zero slot's. */
typedef struct bp_tab {
    int maxp, nseg;
    /* With a stride, the phases of a segment packed into one word when they
     * fit, phase ph at bit ph fw (fw > 0), planes and output bitmaps alike:
     * the bits of different phases never meet, so the work is the same.
     * nph: the phases of an entry, 1 when packed (or without a stride). */
    int fw, nph;
    uint64_t *pl; /* entry e, phase ph: pl + (e nph + ph) maxp */
    uint8_t *np;  /* planes of each: np[e nph + ph] */
    uint64_t *rd; /* (row, segment) */
} bp_tab;

typedef struct bp_ctx {
    const rowset *DZ, *OM;
    int out_skip, nw;
    int *tap_ph;
    bp_tab tab; /* pl NULL: segments of more than one word, slice_bp steps them */
} bp_ctx;

/* The dZ columns [*ow_lo, *ow_hi) that reach dA columns [i_lo, i_hi). */
static void bp_cols(const st_geom *g, int i_lo, int i_hi, int *ow_lo, int *ow_hi)
{
    *ow_lo = st_imax(st_ceildiv(i_lo + g->PL - g->KW + 1, g->SW), 0);
    *ow_hi = st_imin(st_floordiv(i_hi - 1 + g->PL, g->SW) + 1, g->OW);
}

static void bp_tab_free(bp_tab *t)
{
    free(t->pl);
    free(t->np);
    free(t->rd);
    memset(t, 0, sizeof *t);
}

/* Make cx->tab from the rows of DZ; 0 or ST_ENOMEM. */
static int bp_tab_make(const st_run *r, bp_ctx *cx)
{
    const rowset *DZ = cx->DZ;
    const st_geom *g = &r->g;
    bp_tab *t = &cx->tab;
    int taps = r->map.taps, pieces = r->map.pieces, seg = r->map.seg, SW = g->SW;
    size_t rows = (size_t)DZ->nslot * DZ->per, ne, npl;
    uint64_t *wb = r->wb, P[16];

    t->maxp = planes_max(taps);
    t->nseg = st_ceildiv(g->IW, seg);
    /* a phase of a segment holds at most ceil(seg / SW) positions */
    t->fw = SW > 1 && st_ceildiv(seg, SW) <= 64 / SW ? 64 / SW : 0;
    t->nph = t->fw ? 1 : SW;
    ne = rows * pieces * t->nseg * t->nph; /* entries x phases */
    npl = ne * t->maxp;
    t->pl = malloc((npl ? npl : 1) * sizeof *t->pl);
    t->np = malloc(ne ? ne : 1);
    t->rd = malloc((rows ? rows * t->nseg : 1) * sizeof *t->rd);
    if (!t->pl || !t->np || !t->rd) {
        bp_tab_free(t);
        return ST_ENOMEM;
    }
    for (size_t row = 0; row < rows; row++)
        for (int sg = 0; sg < t->nseg; sg++) {
            int i_lo = sg * seg, i_hi = st_imin(i_lo + seg, g->IW), ow_lo, ow_hi;
            bp_cols(g, i_lo, i_hi, &ow_lo, &ow_hi);
            t->rd[row * t->nseg + sg] =
                ow_lo <= 0 && ow_hi >= DZ->len
                    ? DZ->cnt[row]
                    : st_bits_count(DZ->bits + row * DZ->words, DZ->plen, ow_lo, ow_hi);
            for (int p = 0; p < pieces; p++) {
                int k0 = p * taps, k1 = st_imin(k0 + taps, g->KW);
                size_t e = (row * pieces + p) * t->nseg + sg;
                uint64_t *pk = t->pl + e * t->maxp; /* packed */
                if (t->fw) {
                    memset(pk, 0, (size_t)t->maxp * sizeof *pk);
                    t->np[e] = 0;
                }
                for (int ph = 0; ph < SW; ph++) {
                    int n = 0, np;
                    /* dZ shifted under each tap of this phase (slice_bp's words) */
                    for (int kw = k0; kw < k1; kw++) {
                        int d = kw - g->PL, tt = st_floordiv(d, SW);
                        int u_lo = st_ceildiv(i_lo - ph, SW), u_hi = st_ceildiv(i_hi - ph, SW);
                        if (cx->tap_ph[kw] != ph)
                            continue;
                        wb[n] = 0;
                        if (u_hi > u_lo)
                            st_bits_extract(DZ->bits + row * DZ->words, DZ->plen, u_lo - tt,
                                            u_hi - u_lo, &wb[n]);
                        n++;
                    }
                    np = bit_planes(wb, n, P);
                    if (t->fw) {
                        for (int k = 0; k < np; k++)
                            pk[k] |= P[k] << (ph * t->fw);
                        t->np[e] = (uint8_t)st_imax(t->np[e], np);
                        continue;
                    }
                    t->np[e * SW + ph] = (uint8_t)np;
                    memcpy(t->pl + (e * SW + ph) * t->maxp, P, (size_t)np * sizeof *P);
                }
            }
        }
    return 0;
}

/* slice_bp with the table: every segment of one word per stride phase. */
static void slice_bp_tab(st_run *r, const bp_ctx *cx, st_unit *un, int m_lo, int m_hi, int sg,
                         int ih0, int Ract, int ncol, int Cact, int ow_lo, int ow_hi)
{
    const rowset *DZ = cx->DZ;
    const bp_tab *t = &cx->tab;
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int taps = r->map.taps, pieces = r->map.pieces, fifo = r->tm.fifo, SW = g->SW;
    uint64_t wsum = 0, npos = (uint64_t)st_imax(ow_hi - ow_lo, 0);

    for (int m = m_lo; m < m_hi; m++) {
        size_t row0 = (size_t)DZ->slot[m] * DZ->per;
        for (int kh = 0; kh < g->KH; kh++)
            for (int p = 0; p < pieces; p++) {
                int k0 = p * taps, k1 = st_imin(k0 + taps, g->KW);
                uint64_t wmax = 0;
                for (int i = 0; i < Ract; i++) {
                    int num = ih0 + i + g->PT - kh, oh = num / g->SH;
                    size_t row, e;
                    if (num < 0 || num % g->SH != 0 || oh >= g->OH) {
                        for (int j = 0; fifo && j < ncol; j++)
                            r->cyc[i * ncol + j] = pe_cycles(pt, 0);
                        continue;
                    }
                    row = row0 + (size_t)oh;
                    e = (row * pieces + p) * t->nseg + sg;
                    un->rd0 += t->rd[row * t->nseg + sg];
                    un->pos0 += npos;
                    if (t->nph == 1)
                        planes_row(pt, t->pl + e * t->maxp, t->np[e], r->wa + (size_t)i * ncol,
                                   ncol, &wsum, &wmax, fifo ? r->cyc + (size_t)i * ncol : NULL);
                    else
                        planes_row_ph(pt, t->pl + e * SW * t->maxp, t->np + e * SW, SW, t->maxp,
                                      r->wa + (size_t)i * ncol * SW, ncol, &wsum, &wmax,
                                      fifo ? r->cyc + (size_t)i * ncol : NULL);
                }
                tm_step(&r->tm, r->cyc, pe_cycles(pt, wmax));
                un->rd1 += (uint64_t)(k1 - k0) * Cact;
                un->pos1 += (uint64_t)(k1 - k0) * Cact;
            }
    }
    un->work += cx->out_skip ? wsum : wsum * (uint64_t)Cact;
    un->cycles += tm_close(r);
}

/* BP steps of dZ channels [m_lo, m_hi) in tile unit u (dA channels x dA
 * rows x a segment). */
static void slice_bp(st_run *r, const void *ctx, size_t u, int m_lo, int m_hi, st_unit *un)
{
    const bp_ctx *cx = ctx;
    const rowset *DZ = cx->DZ, *OM = cx->OM;
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int R = pt->pe_rows, Cc = pt->pe_cols, seg = r->map.seg, taps = r->map.taps;
    int nrt = st_ceildiv(g->IH, R), nseg = st_ceildiv(g->IW, seg), nw = cx->nw, SW = g->SW;
    int c0 = (int)(u / ((size_t)nrt * nseg)) * Cc;
    int ih0 = (int)(u / nseg % nrt) * R, i_lo = (int)(u % nseg) * seg;
    int Cact = st_imin(Cc, g->C - c0), Ract = st_imin(R, g->IH - ih0),
        i_hi = st_imin(i_lo + seg, g->IW);
    int ncol = cx->out_skip ? Cact : 1;
    int ow_lo, ow_hi;
    uint64_t wsum = 0;

    bp_cols(g, i_lo, i_hi, &ow_lo, &ow_hi);

    /* The output bitmap of every PE, per stride phase, for the tile (still
     * in r->wa when this call goes on with the tile). */
    for (int i = 0; i < Ract && !r->tm_keep && cx->tab.fw; i++)
        for (int j = 0; j < ncol; j++) {
            uint64_t v = 0; /* the phases packed (bp_tab) */
            for (int ph = 0; ph < SW; ph++) {
                int u_lo = st_ceildiv(i_lo - ph, SW), u_hi = st_ceildiv(i_hi - ph, SW);
                uint64_t w;
                if (u_hi <= u_lo)
                    continue;
                st_bits_extract(rs_row(OM, c0 + j, ih0 + i, ph), OM->plen, u_lo, u_hi - u_lo, &w);
                v |= w << (ph * cx->tab.fw);
            }
            r->wa[(size_t)i * ncol + j] = v;
        }
    for (int i = 0; i < Ract && !r->tm_keep && !cx->tab.fw; i++)
        for (int j = 0; j < ncol; j++)
            for (int ph = 0; ph < SW; ph++) {
                int u_lo = st_ceildiv(i_lo - ph, SW), u_hi = st_ceildiv(i_hi - ph, SW);
                uint64_t *dst = r->wa + (((size_t)i * ncol + j) * SW + ph) * nw;
                /* a short last segment leaves words of its own to clear */
                memset(dst, 0, nw * sizeof *dst);
                if (u_hi > u_lo)
                    st_bits_extract(rs_row(OM, c0 + j, ih0 + i, ph), OM->plen, u_lo, u_hi - u_lo,
                                    dst);
            }
    tm_open(r, Ract * ncol);
    if (cx->tab.pl) {
        slice_bp_tab(r, cx, un, m_lo, m_hi, (int)(u % nseg), ih0, Ract, ncol, Cact, ow_lo, ow_hi);
        return;
    }
    for (int m = m_lo; m < m_hi; m++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int p = 0; p < r->map.pieces; p++) {
                int k0 = p * taps, k1 = st_imin(k0 + taps, g->KW);
                uint64_t wmax = 0;
                for (int i = 0; i < Ract; i++) {
                    int num = ih0 + i + g->PT - kh, oh = num / g->SH;
                    int ok = num >= 0 && num % g->SH == 0 && oh < g->OH;
                    const uint64_t *dz;
                    if (!ok) {
                        for (int j = 0; j < ncol; j++)
                            r->cyc[i * ncol + j] = pe_cycles(pt, 0);
                        continue;
                    }
                    dz = rs_row(DZ, m, oh, 0);
                    un->rd0 += rs_count(DZ, m, oh, ow_lo, ow_hi);
                    un->pos0 += (uint64_t)st_imax(ow_hi - ow_lo, 0);
                    /* dZ shifted under each tap of the piece */
                    for (int kw = k0; kw < k1; kw++) {
                        int d = kw - g->PL, t = st_floordiv(d, SW), ph = d - t * SW;
                        int u_lo = st_ceildiv(i_lo - ph, SW), u_hi = st_ceildiv(i_hi - ph, SW);
                        uint64_t *dst = r->wb + (size_t)(kw - k0) * nw;
                        memset(dst, 0, nw * sizeof *dst);
                        if (u_hi > u_lo)
                            st_bits_extract(dz, DZ->plen, u_lo - t, u_hi - u_lo, dst);
                    }
                    for (int j = 0; j < ncol; j++) {
                        const uint64_t *om = r->wa + ((size_t)i * ncol + j) * SW * nw;
                        uint64_t w = 0;
                        for (int kw = k0; kw < k1; kw++)
                            w += and_count(om + (size_t)cx->tap_ph[kw] * nw,
                                           r->wb + (size_t)(kw - k0) * nw, nw);
                        wsum += w;
                        wmax = w > wmax ? w : wmax;
                        r->cyc[i * ncol + j] = pe_cycles(pt, w);
                    }
                }
                tm_step(&r->tm, r->cyc, pe_cycles(pt, wmax));
                un->rd1 += (uint64_t)(k1 - k0) * Cact;
                un->pos1 += (uint64_t)(k1 - k0) * Cact;
            }
    un->work += cx->out_skip ? wsum : wsum * (uint64_t)Cact;
    un->cycles += tm_close(r);
}

/* Stratum of BP unit u: its rows and segment, and whether its channel
 * tile is partial. */
static size_t bp_key(const st_run *r, size_t u)
{
    const st_geom *g = &r->g;
    size_t rs = (size_t)st_ceildiv(g->IH, r->pt->pe_rows) * st_ceildiv(g->IW, r->map.seg);
    int c0 = (int)(u / rs) * r->pt->pe_cols;

    return u % rs + (g->C - c0 < r->pt->pe_cols ? rs : 0);
}

/* Input-gradient phase: dA = rot180(W) * dZ in scatter form. PE rows take
 * successive dA rows, PE columns dA channels; a dZ row is broadcast along a
 * PE row. With the output bitmap, a PE skips the dA positions whose
 * activation was zero, so columns differ. */
static int run_bp(st_run *r, const rowset *DZ, const rowset *OM, int compressed, int out_skip)
{
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int R = pt->pe_rows, Cc = pt->pe_cols, seg = r->map.seg, taps = r->map.taps;
    int nct = st_ceildiv(g->C, Cc), nrt = st_ceildiv(g->IH, R), nseg = st_ceildiv(g->IW, seg);
    size_t n = (size_t)nct * nrt * nseg, nsp = (size_t)nrt * nseg;
    st_ledger *lg = r->lg;
    int rc;
    uint8_t *u_on = NULL;
    double *u_aux = NULL;
    size_t *same = NULL;

    bp_ctx cx = {DZ, OM, out_skip, ((seg + g->SW - 1) / g->SW + 63) / 64, NULL, {0}};
    int once = !r->sm && !compressed && !out_skip && !r->tm.fifo; /* st_drive: one slice */

    if ((!r->bytes_only && (rc = units_reserve(r, n)) != 0) ||
        (rc = ledger_open(r, 0, nct, (int)nsp, g->M)) != 0)
        return rc;
    if (r->bytes_only)
        goto fill;
    /* Words of one phase of a segment: the segment [i_lo, i_hi) of a dA row
     * holds, in stride phase ph, the positions u in [u_lo, u_hi). */
    cx.tap_ph = malloc((size_t)g->KW * sizeof *cx.tap_ph); /* stride phase of each tap */
    if (!cx.tap_ph)
        return ST_ENOMEM;
    for (int kw = 0; kw < g->KW; kw++)
        cx.tap_ph[kw] = (kw - g->PL) - st_floordiv(kw - g->PL, g->SW) * g->SW;
    if ((rc = words_reserve(&r->wa, &r->wa_cap, (size_t)R * Cc * g->SW * cx.nw)) != 0 ||
        (rc = words_reserve(&r->wb, &r->wb_cap, (size_t)taps * cx.nw)) != 0) {
        free(cx.tap_ph);
        return rc;
    }
    /* The table, unless every unit runs one slice (then it would cost more
     * than the few steps that read it) */
    if (cx.nw == 1 && !once && (rc = bp_tab_make(r, &cx)) != 0) {
        free(cx.tap_ph);
        return rc;
    }
    if (r->sm) {
        const double *aa = out_skip && r->aux_act ? r->aux_act + (size_t)r->gi * g->C : NULL;
        if (!(u_on = malloc(n)) || (aa && !(u_aux = calloc(n, sizeof *u_aux)))) {
            free(cx.tap_ph);
            bp_tab_free(&cx.tab);
            free(u_on);
            return ST_ENOMEM;
        }
        for (size_t u = 0; u < n; u++) {
            int c0 = (int)(u / nsp) * Cc;
            u_on[u] = r->sm->ct[u / nsp];
            /* what the output bitmap lets through: the tile's channel densities */
            for (int c = c0; aa && c < st_imin(c0 + Cc, g->C); c++)
                u_aux[u] += aa[c];
        }
    }
    /* Without the output bitmap every full channel tile does what the first
     * does at the same rows and segment. */
    if (!r->sm && !out_skip && (same = malloc(n * sizeof *same)) != NULL)
        for (size_t u = 0; u < n; u++)
            same[u] = g->C - (int)(u / nsp) * Cc >= Cc ? u % nsp : u;
    {
        st_plan pl = {u_on,   r->sm ? r->sm->cout : NULL,
                      bp_key, 2 * (size_t)nrt * nseg,
                      u_aux,  compressed && r->aux_grad ? r->aux_grad + (size_t)r->gi * g->M : NULL,
                      same,   !compressed && !out_skip};
        rc = st_drive(r, n, g->M, slice_bp, &cx, &pl);
    }
    free(same);
    free(cx.tap_ph);
    free(u_on);
    free(u_aux);
    if (rc != 0) {
        bp_tab_free(&cx.tab);
        return rc;
    }

fill:
    lg->skip0 = compressed;
    lg->out_bitmap = out_skip;
    lg->win = r->map.win, lg->spill = r->map.spill;
    lg->img_n0[r->b] = (uint64_t)g->M * g->OH * g->OW;
    lg->img_z0[r->b] = tensor_nz(r, DZ, lg->img_n0[r->b]);
    for (size_t u = 0; u < n; u++) {
        int ct = (int)(u / nsp), c0 = ct * Cc, sp = (int)(u % nsp);
        if (!lg->v && ct > 0 && sp > 0) /* nothing of it is counted */
            continue;
        int ih0 = (int)(u / nseg % nrt) * R, i_lo = (int)(u % nseg) * seg;
        int Cact = st_imin(Cc, g->C - c0), Ract = st_imin(R, g->IH - ih0),
            i_hi = st_imin(i_lo + seg, g->IW);
        size_t bs = (size_t)r->b * nsp + sp;

        visit_set(r, ct, sp, u, 1);
        if (ct == 0)
            lg->outsp[sp] = (uint64_t)Ract * (i_hi - i_lo);
        if (sp == 0) {
            lg->n1[ct] = (uint64_t)Cact * g->M * g->KH * g->KW;
            lg->outc[ct] = (uint64_t)Cact;
        }
        if (ct != 0)
            continue;
        /* the dZ window of the spatial tile, every dZ channel */
        {
            int oh_lo = st_imax(st_ceildiv(ih0 + g->PT - g->KH + 1, g->SH), 0);
            int oh_hi = st_imin(st_floordiv(ih0 + Ract - 1 + g->PT, g->SH) + 1, g->OH);
            int ow_lo, ow_hi, sg = sp % nseg;
            bp_cols(g, i_lo, i_hi, &ow_lo, &ow_hi);
            lg->n0[bs] = (uint64_t)g->M * (uint64_t)st_imax(oh_hi - oh_lo, 0) *
                         (uint64_t)st_imax(ow_hi - ow_lo, 0);
            if (r->sampled)
                lg->z0[bs] = (uint64_t)llround((double)lg->n0[bs] * rs_density(DZ));
            else if (cx.tab.rd) /* the windows' counts, made already */
                for (int m = 0; m < g->M; m++)
                    for (int oh = oh_lo; oh < oh_hi; oh++)
                        lg->z0[bs] += cx.tab.rd[(rs_index(DZ, m, oh)) * cx.tab.nseg + sg];
            else
                for (int m = 0; m < g->M; m++)
                    for (int oh = oh_lo; oh < oh_hi; oh++)
                        lg->z0[bs] += rs_count(DZ, m, oh, ow_lo, ow_hi);
        }
    }
    bp_tab_free(&cx.tab);
    return 0;
}

typedef struct fcbp_ctx {
    const rowset *DZ;
    const uint8_t *act;
    int out_skip, taps;
} fcbp_ctx;

/* FC input-gradient steps of dZ pieces [p_lo, p_hi) in tile unit u (a block
 * of dA positions x a block of images). */
static void slice_fc_bp(st_run *r, const void *ctx, size_t u, int p_lo, int p_hi, st_unit *un)
{
    const fcbp_ctx *cx = ctx;
    const st_point *pt = r->pt;
    int B = r->g.IH, N = r->g.IW, M = r->g.M, R = pt->pe_rows, Cc = pt->pe_cols;
    int nrt = st_ceildiv(B, R), q0 = (int)(u / nrt) * Cc, b0 = (int)(u % nrt) * R;
    int Qc = st_imin(Cc, N - q0), Ract = st_imin(R, B - b0);

    tm_open(r, Ract * Qc);
    for (int p = p_lo; p < p_hi; p++) {
        int k0 = p * cx->taps, k1 = st_imin(k0 + cx->taps, M);
        uint64_t wmax = 0;
        for (int i = 0; i < Ract; i++) {
            uint64_t z = st_bits_count(rs_row(cx->DZ, 0, b0 + i, 0), cx->DZ->plen, k0, k1);
            const uint8_t *act = cx->act + (size_t)(b0 + i) * N;
            un->rd0 += z;
            un->pos0 += (uint64_t)(k1 - k0);
            for (int j = 0; j < Qc; j++) {
                uint64_t w = (!cx->out_skip || act[q0 + j]) ? z : 0;
                un->work += w;
                wmax = w > wmax ? w : wmax;
                r->cyc[i * Qc + j] = pe_cycles(pt, w);
            }
        }
        tm_step(&r->tm, r->cyc, pe_cycles(pt, wmax));
        un->rd1 += (uint64_t)(k1 - k0) * Qc;
        un->pos1 += (uint64_t)(k1 - k0) * Qc;
    }
    un->cycles += tm_close(r);
}

/* Stratum of FC input-gradient unit u: whether its tile of dA positions is
 * partial, whether its tile of images is. */
static size_t fcbp_key(const st_run *r, size_t u)
{
    int N = r->g.IW, B = r->g.IH, R = r->pt->pe_rows, Cc = r->pt->pe_cols, nrt = st_ceildiv(B, R);
    int q0 = (int)(u / nrt) * Cc, b0 = (int)(u % nrt) * R;

    return (size_t)(N - q0 < Cc) + 2 * (size_t)(B - b0 < R);
}

/* Input gradient of an FC layer: dA = W^T dZ is itself a fully connected
 * product, so it maps like the forward one: PE columns take dA positions,
 * PE rows images, one step per kreg-long piece of the dZ vector. With the
 * output bitmap a PE skips a dA position whose activation was zero. */
static int run_fc_bp(st_run *r, const pass_masks *pm, int s_bp, int s_out)
{
    const st_point *pt = r->pt;
    int B = r->g.IH, N = r->g.IW, M = r->g.M;
    int R = pt->pe_rows, Cc = pt->pe_cols, taps = st_imin(M, pt->kreg_len);
    int pieces = st_ceildiv(M, taps), nqt = st_ceildiv(N, Cc), nrt = st_ceildiv(B, R);
    size_t n = (size_t)nqt * nrt;
    uint8_t *dzt = malloc((size_t)B * M), *u_on = NULL, *s_on = NULL;
    rowset DZ = {0};
    st_ledger *lg = r->lg;
    int rc;

    if (!dzt)
        return ST_ENOMEM;
    /* dZ gathered per image: row b holds dZ[b][0..M) */
    for (int b = 0; b < B; b++)
        for (int m = 0; m < M; m++)
            dzt[(size_t)b * M + m] = s_bp ? pm->grad[(size_t)m * B + b] : 1;
    if ((rc = rs_build(&DZ, dzt, 1, B, M, 1, NULL)) != 0 ||
        (!r->bytes_only && (rc = units_reserve(r, n)) != 0) ||
        (rc = ledger_open(r, 0, nqt, nrt, 1)) != 0)
        goto done;
    if (!r->bytes_only) {
        fcbp_ctx cx = {&DZ, pm->act, s_out, taps};
        st_plan pl = {NULL, NULL, fcbp_key, 4, NULL, NULL, NULL, 0};
        if (r->sm) {
            /* a sample of the tiles of dA positions and of the dZ pieces */
            if (!(u_on = malloc(n)) || !(s_on = malloc((size_t)pieces))) {
                rc = ST_ENOMEM;
                goto done;
            }
            st_sample_pick(u_on, (int)nqt, pt->sample_fraction, N % Cc != 0, (uint64_t)pt->seed,
                           ST_RNG_STREAM(r->li, r->pass, 0x5e));
            for (size_t u = n; u-- > 0;) /* from tiles of dA positions to units */
                u_on[u] = u_on[u / nrt];
            st_sample_pick(s_on, pieces, pt->sample_fraction, M % taps != 0, (uint64_t)pt->seed,
                           ST_RNG_STREAM(r->li, r->pass, 0x5f));
            pl.u_on = u_on, pl.s_on = s_on;
        }
        if ((rc = st_drive(r, n, pieces, slice_fc_bp, &cx, &pl)) != 0)
            goto done;
    }

    lg->skip0 = s_bp;
    lg->out_bitmap = s_out;
    lg->img_n0[0] = (uint64_t)B * M;
    lg->img_z0[0] = DZ.ones;
    for (size_t u = 0; u < n; u++) {
        int qt = (int)(u / nrt), rt = (int)(u % nrt), q0 = qt * Cc, b0 = rt * R;
        int Qc = st_imin(Cc, N - q0), Ract = st_imin(R, B - b0);

        visit_set(r, qt, rt, u, 1);
        lg->outc[qt] = (uint64_t)Qc;
        lg->n1[qt] = (uint64_t)Qc * M;
        if (qt == 0) {
            lg->outsp[rt] = (uint64_t)Ract;
            lg->n0[rt] = (uint64_t)Ract * M;
            for (int i = 0; i < Ract; i++)
                lg->z0[rt] += rs_count(&DZ, 0, b0 + i, 0, M);
        }
    }
done:
    rs_free(&DZ);
    free(dzt);
    free(u_on);
    free(s_on);
    return rc;
}

/* ------------------------------------------------------------------- WG */

typedef struct wg_ctx {
    const rowset *DZ, *A;
    int uni; /* without dZ skipping every column does the same work: compute one */
    int nw;
    /* The bit planes of the activation row under the taps of each piece,
     * made once per phase for every row of A: entry e = rs_index(A, c, ih)
     * x pieces + piece has np[e] planes of nw words, plane k of it at
     * pl + (e maxp + k) nw (the planes of each word; a word with fewer has
     * zeros in the others). */
    int maxp;
    uint64_t *pl;
    uint8_t *np;
} wg_ctx;

/* Make cx's planes from the rows of A; 0 or ST_ENOMEM. */
static int wg_planes_make(const st_run *r, wg_ctx *cx)
{
    const rowset *A = cx->A;
    const st_geom *g = &r->g;
    int taps = r->map.taps, pieces = r->map.pieces, nw = cx->nw;
    size_t ne = (size_t)A->nslot * A->per * pieces, npl;
    uint64_t P[16], *v;

    cx->maxp = planes_max(taps);
    npl = ne * cx->maxp * nw;
    cx->pl = calloc(npl ? npl : 1, sizeof *cx->pl);
    cx->np = malloc(ne ? ne : 1);
    if (!(v = malloc((size_t)taps * sizeof *v)) || !cx->pl || !cx->np) {
        free(v);
        return ST_ENOMEM;
    }
    for (size_t row = 0; row < (size_t)A->nslot * A->per; row++)
        for (int p = 0; p < pieces; p++) {
            int k0 = p * taps, k1 = st_imin(k0 + taps, g->KW), npm = 0;
            size_t e = row * pieces + p;
            /* the activation row under each tap: A[ow * S + kw - P] */
            for (int kw = k0; kw < k1; kw++) {
                int d = kw - g->PL, tt = st_floordiv(d, g->SW), ph = d - tt * g->SW;
                st_bits_extract(A->bits + (row * A->S + ph) * A->words, A->plen, tt, g->OW,
                                r->wb + (size_t)(kw - k0) * nw);
            }
            for (int w = 0; w < nw; w++) {
                int np;
                for (int k = 0; k < k1 - k0; k++)
                    v[k] = r->wb[(size_t)k * nw + w];
                np = bit_planes(v, k1 - k0, P);
                for (int k = 0; k < np; k++)
                    cx->pl[(e * cx->maxp + k) * nw + w] = P[k];
                npm = st_imax(npm, np);
            }
            cx->np[e] = (uint8_t)npm;
        }
    free(v);
    return 0;
}

/* planes_row for rows of nw words: PE j's words x[j nw ..], plane k's
 * P[k nw ..]. */
static void planes_row_w(const st_point *pt, const uint64_t *P, int np, int nw, const uint64_t *x,
                         int n, uint64_t *sum, uint64_t *max, uint32_t *cyc)
{
    uint64_t s = 0, m = *max;

    for (int j = 0; j < n; j++) {
        uint64_t w = 0;
        for (int k = 0; k < np; k++)
            w += and_count(x + (size_t)j * nw, P + (size_t)k * nw, nw) << k;
        s += w;
        m = w > m ? w : m;
        if (cyc)
            cyc[j] = pe_cycles(pt, w);
    }
    *sum += s;
    *max = m;
}

/* WG steps of dZ rows [oh_lo, oh_hi) in tile unit u (a block of output
 * channels x a block of (channel, kernel row, piece) triples). */
static void slice_wg(st_run *r, const void *ctx, size_t u, int oh_lo, int oh_hi, st_unit *un)
{
    const wg_ctx *cx = ctx;
    const rowset *DZ = cx->DZ, *A = cx->A;
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int R = pt->pe_rows, Cc = pt->pe_cols, pieces = r->map.pieces;
    int ntrip = g->C * g->KH * pieces, nrt = st_ceildiv(ntrip, R), nw = cx->nw, uni = cx->uni;
    int m0 = (int)(u / nrt) * Cc, t0 = (int)(u % nrt) * R;
    int Mc = st_imin(Cc, g->M - m0), Ract = st_imin(R, ntrip - t0);
    int ncol = uni ? 1 : Mc, fifo = r->tm.fifo;
    int *tr = r->tri;

    /* each PE row's triple, decoded once for the tile (still in r->tri when
     * this call goes on with the tile) */
    for (int i = 0; i < Ract && !r->tm_keep; i++) {
        int t = t0 + i;
        tr[3 * i] = t / pieces % g->KH, tr[3 * i + 1] = t % pieces;
        tr[3 * i + 2] = (int)rs_index(A, t / pieces / g->KH, 0);
    }
    tm_open(r, Ract * ncol);
    for (int oh = oh_lo; oh < oh_hi; oh++) {
        uint64_t wmax = 0;
        for (int j = 0; j < ncol; j++) {
            uint64_t *dzw = r->wa + (size_t)j * nw;
            st_bits_extract(rs_row(DZ, m0 + j, oh, 0), DZ->plen, 0, g->OW, dzw);
            un->rd0 += rs_count(DZ, m0 + j, oh, 0, g->OW) * (uni ? (uint64_t)Mc : 1);
            un->pos0 += (uint64_t)g->OW * (uni ? (uint64_t)Mc : 1);
        }
        for (int i = 0; i < Ract; i++) {
            /* kernel row, piece, first row of A */
            const int *q = tr + 3 * i;
            int ih = oh * g->SH + q[0] - g->PT;
            size_t row = (size_t)q[2] + (size_t)ih, e;
            uint64_t ws = 0;
            if (ih < 0 || ih >= g->IH) {
                for (int j = 0; fifo && j < ncol; j++)
                    r->cyc[i * ncol + j] = pe_cycles(pt, 0);
                continue;
            }
            un->rd1 += A->cnt[row]; /* the whole row */
            un->pos1 += (uint64_t)g->IW;
            e = row * pieces + (size_t)q[1];
            if (nw == 1)
                planes_row(pt, cx->pl + e * cx->maxp, cx->np[e], r->wa, ncol, &ws, &wmax,
                           fifo ? r->cyc + (size_t)i * ncol : NULL);
            else
                planes_row_w(pt, cx->pl + e * cx->maxp * nw, cx->np[e], nw, r->wa, ncol, &ws, &wmax,
                             fifo ? r->cyc + (size_t)i * ncol : NULL);
            un->work += uni ? ws * (uint64_t)Mc : ws;
        }
        tm_step(&r->tm, r->cyc, pe_cycles(pt, wmax));
    }
    un->cycles += tm_close(r);
}

/* Stratum of WG unit u: the first kernel row and piece of its triple tile,
 * whether that tile is partial, whether its output-channel tile is. */
static size_t wg_key(const st_run *r, size_t u)
{
    const st_geom *g = &r->g;
    int R = r->pt->pe_rows, Cc = r->pt->pe_cols, khp = g->KH * r->map.pieces;
    int ntrip = g->C * khp, nrt = st_ceildiv(ntrip, R);
    int m0 = (int)(u / nrt) * Cc, t0 = (int)(u % nrt) * R;

    return (size_t)(t0 % khp) * 2 + (t0 + R > ntrip) + (g->M - m0 < Cc ? 2 * (size_t)khp : 0);
}

/* Weight-gradient phase: dW[m][c][kh] = sum over rows of dZ[m][oh] (x)
 * A[c][oh*S + kh - P]. PE rows take (input channel, kernel row, piece)
 * triples, PE columns output channels; a dZ row is broadcast along a PE
 * column, an activation row along a PE row; one step per dZ row. */
static int run_wg(st_run *r, const rowset *DZ, const rowset *A, int comp_dz, int comp_a)
{
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int R = pt->pe_rows, Cc = pt->pe_cols, taps = r->map.taps, pieces = r->map.pieces;
    int ntrip = g->C * g->KH * pieces;
    int nmt = st_ceildiv(g->M, Cc), nrt = st_ceildiv(ntrip, R);
    size_t n = (size_t)nmt * nrt;
    int rc;
    uint8_t *u_on = NULL;
    double *u_aux = NULL;
    size_t *same = NULL;
    st_ledger *lg = r->lg;
    uint64_t *zdz_m, *na_t, *za_t;
    int *civ;

    wg_ctx cx = {DZ, A, !comp_dz, (g->OW + 63) / 64, 0, NULL, NULL};

    if ((!r->bytes_only && (rc = units_reserve(r, n)) != 0) ||
        (rc = ledger_open(r, 1, nmt, nrt, g->OH)) != 0 ||
        (rc = words_reserve(&r->wa, &r->wa_cap, (size_t)Cc * cx.nw)) != 0 ||
        (rc = words_reserve(&r->wb, &r->wb_cap, (size_t)taps * cx.nw)) != 0)
        return rc;
    if (r->bytes_only)
        goto fill;
    if ((rc = wg_planes_make(r, &cx)) != 0) {
        free(cx.pl);
        free(cx.np);
        return rc;
    }
    if (r->sm) {
        const double *ag = comp_dz && r->aux_grad ? r->aux_grad + (size_t)r->gi * g->M : NULL;
        const double *aa = comp_a && r->aux_act ? r->aux_act + (size_t)r->gi * g->C : NULL;
        if (!(u_on = malloc(n)) ||
            ((ag || aa) && !(u_aux = malloc((n + nmt + nrt) * sizeof *u_aux)))) {
            free(u_on);
            free(cx.pl);
            free(cx.np);
            return ST_ENOMEM;
        }
        for (size_t u = 0; u < n; u++)
            u_on[u] = r->sm->mt[u / nrt] && r->sm->tt[u % nrt];
        /* the work of a tile follows the densities of its dZ channels
         * times those of its triples' activation channels: per channel
         * tile, per triple tile, then their products */
        for (size_t i = 0; u_aux && i < (size_t)nmt + nrt; i++) {
            int m0 = (int)i * Cc, m1 = st_imin(m0 + Cc, g->M);
            int t0 = (int)(i - nmt) * R, t1 = st_imin(t0 + R, ntrip);
            double x = i < (size_t)nmt ? (ag ? 0 : m1 - m0) : (aa ? 0 : t1 - t0);
            for (int m = m0; i < (size_t)nmt && ag && m < m1; m++)
                x += ag[m];
            for (int t = t0; i >= (size_t)nmt && aa && t < t1; t++)
                x += aa[t / pieces / g->KH];
            u_aux[i < (size_t)nmt ? n + i : n + nmt + (i - nmt)] = x;
        }
        for (size_t u = 0; u_aux && u < n; u++)
            u_aux[u] = u_aux[n + u / nrt] * u_aux[n + nmt + u % nrt];
    }
    /* With all-ones dZ rows every full output-channel tile does what the
     * first does with the same triples. */
    if (!r->sm && !comp_dz && (same = malloc(n * sizeof *same)) != NULL)
        for (size_t u = 0; u < n; u++)
            same[u] = g->M - (int)(u / nrt) * Cc >= Cc ? u % nrt : u;
    {
        st_plan pl = {u_on, NULL, wg_key, 4 * (size_t)g->KH * pieces, u_aux, NULL, same, 0};
        rc = st_drive(r, n, g->OH, slice_wg, &cx, &pl);
        free(u_on);
        free(u_aux);
        free(same);
        free(cx.pl);
        free(cx.np);
        if (rc != 0)
            return rc;
    }

    /* What each output-channel tile and each triple tile moves, for every
     * tile it meets: dZ rows of the channel tile; activation columns of the
     * tile's (channel, piece) pairs (kernel rows of one channel share them). */
fill:
    zdz_m = calloc((size_t)nmt + 2 * (size_t)nrt, sizeof *zdz_m);
    civ = malloc(2 * (size_t)g->OW * sizeof *civ);
    if (!zdz_m || !civ) {
        free(zdz_m);
        free(civ);
        return ST_ENOMEM;
    }
    na_t = zdz_m + nmt, za_t = na_t + nrt;
    for (int mt = 0; mt < nmt; mt++) {
        int m0 = mt * Cc, Mc = st_imin(Cc, g->M - m0);
        uint64_t ndz = (uint64_t)Mc * g->OH * g->OW;
        if (r->sampled)
            zdz_m[mt] = (uint64_t)llround((double)ndz * rs_density(DZ));
        else
            for (int j = 0; j < Mc; j++)
                for (int oh = 0; oh < g->OH; oh++)
                    zdz_m[mt] += rs_count(DZ, m0 + j, oh, 0, g->OW);
    }
    for (int tt = 0; tt < nrt; tt++) {
        int t0 = tt * R, Ract = st_imin(R, ntrip - t0);
        for (int t = t0; t < t0 + Ract; t++) {
            int p = t % pieces, kh = t / pieces % g->KH, c = t / pieces / g->KH, nc;
            int rows[2] = {0, g->IH};
            uint64_t cols;
            /* each (channel, piece) of the tile once: at its first kernel
             * row in the tile; its columns, every row */
            if (kh != 0 && t - pieces >= t0)
                continue;
            nc = reach(0, g->OW, g->SW, p * taps, st_imin(p * taps + taps, g->KW), g->PL, g->IW,
                       civ, &cols);
            if (!r->sampled)
                za_t[tt] += reach_count(A, c, rows, 1, civ, nc);
            na_t[tt] += (uint64_t)g->IH * cols;
        }
        if (r->sampled)
            za_t[tt] = (uint64_t)llround((double)na_t[tt] * rs_density(A));
    }
    lg->skip0 = comp_dz, lg->skip1 = comp_a;
    lg->img_n0[r->b] = (uint64_t)g->M * g->OH * g->OW;
    lg->img_z0[r->b] = tensor_nz(r, DZ, lg->img_n0[r->b]);
    lg->img_n1[r->b] = (uint64_t)g->C * g->IH * g->IW;
    lg->img_z1[r->b] = tensor_nz(r, A, lg->img_n1[r->b]);
    for (int mt = 0; mt < nmt; mt++) {
        lg->n0[(size_t)r->b * nmt + mt] = (uint64_t)st_imin(Cc, g->M - mt * Cc) * g->OH * g->OW;
        lg->z0[(size_t)r->b * nmt + mt] = zdz_m[mt];
    }
    for (int tt = 0; tt < nrt; tt++) {
        lg->n1[(size_t)r->b * nrt + tt] = na_t[tt];
        lg->z1[(size_t)r->b * nrt + tt] = za_t[tt];
    }
    for (size_t u = 0; lg->v && u < n; u++)
        visit_set(r, (int)(u / nrt), (int)(u % nrt), u, 1);
    /* dW values: each triple's taps (a last piece may be short), each column */
    for (int mt = 0; mt < nmt; mt++)
        lg->outc[mt] = (uint64_t)st_imin(Cc, g->M - mt * Cc);
    for (int tt = 0; tt < nrt; tt++) {
        int t0 = tt * R, Ract = st_imin(R, ntrip - t0), ntap = 0;
        for (int t = t0; t < t0 + Ract; t++)
            ntap += st_imin(t % pieces * taps + taps, g->KW) - t % pieces * taps;
        lg->outsp[tt] = (uint64_t)ntap;
    }
    free(zdz_m);
    free(civ);
    return 0;
}

/* ------------------------------------------------------------- a layer */

/* Mark the rows the sample of group gi reads: every row of its sampled
 * input and output channels. */
static void mark_wants(st_run *r, int gi)
{
    const st_geom *g = &r->g;
    const st_sample *sm = &r->samples[gi];
    uint8_t *aw = r->act_want + (size_t)gi * g->C * g->IH;
    uint8_t *gw = r->grad_want + (size_t)gi * g->M * g->OH;

    for (int c = 0; c < g->C; c++)
        memset(aw + (size_t)c * g->IH, sm->cin[c], (size_t)g->IH);
    for (int m = 0; m < g->M; m++)
        memset(gw + (size_t)m * g->OH, sm->cout[m], (size_t)g->OH);
}

/* The ledger of group gi, variant dense (0: the design point, 1: the dense
 * baseline) and phase ph of the layer being run. */
static st_ledger *phase_ledger(st_run *r, int gi, int dense, st_phase ph)
{
    return &r->lgs[((size_t)gi * 2 + dense) * ST_PHASE_COUNT + ph];
}

/* The rows of group gi's activations (rows[0], S = SW) or gradients (rows[2],
 * S = 1) as the masks have them, or all ones (rows[1], rows[3]): built at
 * their first use, then shared by the phases and both variants. */
static int group_rows(st_run *r, const pass_masks *pm, int gi, rowset *rows, int grad, int masked,
                      const rowset **out)
{
    const st_geom *g = &r->g;
    rowset *rs = &rows[2 * grad + !masked];
    int rc = 0;

    if (!rs->slot) {
        size_t sz = grad ? (size_t)g->M * g->OH * g->OW : (size_t)g->C * g->IH * g->IW;
        const uint8_t *m = masked ? (grad ? pm->grad : pm->act) + (size_t)gi * sz : NULL;
        const uint8_t *want = !r->sampled ? NULL : grad ? r->sm->cout : r->sm->cin;
        rc = grad ? rs_build(rs, m, g->M, g->OH, g->OW, 1, want)
                  : rs_build(rs, m, g->C, g->IH, g->IW, g->SW, want);
    }
    *out = rs;
    return rc;
}

/* Run phase ph on r->pt and r->map (BP of an FC layer: its input
 * gradient), from the rowsets a, b or the masks pm, with switches s1, s2. */
static int run_phase(st_run *r, st_phase ph, const rowset *a, const rowset *b, const pass_masks *pm,
                     int s1, int s2)
{
    if (ph == ST_FP)
        return run_fp(r, a, s1);
    if (ph == ST_BP)
        return r->g.fc ? run_fc_bp(r, pm, s1, s2) : run_bp(r, a, b, s1, s2);
    return run_wg(r, a, b, s1, s2);
}

/* Run phase ph of group gi (variant dense) on the array into its ledger,
 * then count what its visits would move on each smaller array the mapper
 * may use (r->shapes, tiles of their own shape) into the ledgers of what
 * the visits move, r->sub; a shape whose tiles cannot be planned is left
 * out. In a run again on a smaller array (r->redo), only the first. */
static int run_shapes(st_run *r, int gi, int dense, st_phase ph, const rowset *a, const rowset *b,
                      const pass_masks *pm, int s1, int s2)
{
    const st_point *pt = r->pt;
    st_map map = r->map;
    size_t i = ((size_t)gi * 2 + dense) * ST_PHASE_COUNT + ph;
    int rc;

    if ((rc = run_phase(r, ph, a, b, pm, s1, s2)) != 0 || r->redo)
        return rc;
    r->bytes_only = 1;
    for (int k = 0; k < r->nshapes && rc == 0; k++) {
        r->pt = &r->shapes[k];
        r->lg = &r->sub[i * (size_t)r->nshapes + k];
        if ((ph == ST_BP && r->g.fc) || st_map_plan(r->l, &r->g, r->pt, ph, s1, &r->map, NULL) == 0)
            rc = run_phase(r, ph, a, b, pm, s1, s2);
    }
    r->bytes_only = 0;
    r->pt = pt;
    r->map = map;
    return rc;
}

/* Run the phases flagged in want (bit ph) of group gi of a pass on its
 * rows (group_rows). */
static int run_group(st_run *r, const pass_masks *pm, int gi, int dense, int want,
                     st_phase_stats *out, rowset *rows)
{
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    const rowset *X, *DZ, *B;
    int s_fp = !dense && pt->skip_fp_stream, s_bp = !dense && pt->skip_bp_stream;
    int s_out = !dense && pt->skip_bp_output, s_wg = !dense && pt->skip_wg_stream;
    int s_op = !dense && pt->skip_wg_operand;
    int rc = 0;

    r->sm = r->samples ? &r->samples[gi] : NULL;
    r->gi = gi;
    /* FP */
    if (want & 1 << ST_FP) {
        if ((rc = st_map_plan(r->l, g, pt, ST_FP, s_fp, &r->map, NULL)) != 0 ||
            (rc = group_rows(r, pm, gi, rows, 0, s_fp, &X)) != 0)
            return rc;
        r->st = &out[ST_FP];
        r->lg = phase_ledger(r, gi, dense, ST_FP);
        if ((rc = run_shapes(r, gi, dense, ST_FP, X, NULL, pm, s_fp, 0)) != 0)
            return rc;
    }
    /* BP: the first layer has no input gradient to compute */
    if (!r->l->first && g->fc && (want & 1 << ST_BP)) {
        r->st = &out[ST_BP];
        r->lg = phase_ledger(r, gi, dense, ST_BP);
        if ((rc = run_shapes(r, gi, dense, ST_BP, NULL, NULL, pm, s_bp, s_out)) != 0)
            return rc;
    } else if (!r->l->first && (want & 1 << ST_BP)) {
        if ((rc = st_map_plan(r->l, g, pt, ST_BP, s_bp, &r->map, NULL)) != 0 ||
            (rc = group_rows(r, pm, gi, rows, 1, s_bp, &DZ)) != 0 ||
            (rc = group_rows(r, pm, gi, rows, 0, s_out, &B)) != 0)
            return rc;
        r->st = &out[ST_BP];
        r->lg = phase_ledger(r, gi, dense, ST_BP);
        if ((rc = run_shapes(r, gi, dense, ST_BP, DZ, B, pm, s_bp, s_out)) != 0)
            return rc;
    }
    /* WG */
    if (want & 1 << ST_WG) {
        if ((rc = st_map_plan(r->l, g, pt, ST_WG, s_wg, &r->map, NULL)) != 0 ||
            (rc = group_rows(r, pm, gi, rows, 1, s_wg, &DZ)) != 0 ||
            (rc = group_rows(r, pm, gi, rows, 0, s_op, &B)) != 0)
            return rc;
        r->st = &out[ST_WG];
        r->lg = phase_ledger(r, gi, dense, ST_WG);
        rc = run_shapes(r, gi, dense, ST_WG, DZ, B, pm, s_wg, s_op);
    }
    return rc;
}

static void stats_add(st_phase_stats *a, const st_phase_stats *b)
{
    a->compute_cycles += b->compute_cycles;
    a->stall_cycles += b->stall_cycles;
    a->dense_macs += b->dense_macs;
    a->useful_macs += b->useful_macs;
    for (int i = 0; i < 3; i++) {
        a->sram_rd[i] += b->sram_rd[i];
        a->sram_wr[i] += b->sram_wr[i];
    }
    a->dram_bytes += b->dram_bytes;
    a->dram_floor_bytes += b->dram_floor_bytes;
    for (int i = 0; i < ST_E_COUNT; i++)
        a->energy_pj[i] += b->energy_pj[i];
}

/* The passes of the layer r runs (every image of the batch, or one for an
 * FC layer), on r->pt: for each, the masks of its images from fn, then the
 * phases flagged in want[gi * 2 + dense] of every group and variant. The
 * masks' densities add up into ls unless it is NULL. */
static int run_passes(st_run *r, const st_net *net, st_mask_fn fn, void *ctx, st_layer_masks *m,
                      pass_masks *own, const int *want, st_layer_stats *ls, st_phase_stats *run,
                      st_phase_stats *dense, st_err *err)
{
    const st_point *pt = r->pt;
    const st_layer *l = r->l;
    size_t act_sz = st_layer_in_elems(l), grad_sz = st_layer_out_elems(l);
    int per_pass = r->g.fc ? pt->batch : 1, rc;
    pass_masks pm;

    for (int pass = 0; pass < r->g.passes; pass++) {
        r->pass = pass;
        r->b = r->g.fc ? 0 : pass;
        for (int gi = 0; r->samples && gi < r->g.groups; gi++)
            if ((rc = st_sample_make(r, gi, &r->samples[gi])) != 0)
                return rc;
        for (int gi = 0; r->sampled && gi < r->g.groups; gi++)
            mark_wants(r, gi);
        for (int b = 0; b < per_pass; b++) {
            int image = r->g.fc ? b : pass;
            if ((rc = fn(ctx, net, r->li, image, r->act_want, r->grad_want, m, err)) != 0)
                return rc;
            /* FC rows are images: gather dZ as [m][image]. */
            if (r->g.fc) {
                memcpy(own->act + act_sz * b, m->act_in, act_sz);
                for (size_t j = 0; j < grad_sz; j++)
                    own->grad[j * per_pass + b] = m->grad[j];
            }
            if (ls) {
                ls->act_density += m->act_density / pt->batch;
                ls->grad_density += m->grad_density / pt->batch;
            }
        }
        if (r->g.fc)
            pm = *own;
        else
            pm.act = m->act_in, pm.grad = m->grad;
        r->aux_act = r->sampled && m->chan_known ? m->act_chan : NULL;
        r->aux_grad = r->sampled && m->chan_known ? m->grad_chan : NULL;
        rc = 0;
        for (int gi = 0; gi < r->g.groups; gi++) {
            rowset rows[4] = {{0}}; /* shared by both variants (group_rows) */
            for (int d = 0; d < 2 && rc == 0; d++)
                if (want[gi * 2 + d])
                    rc = run_group(r, &pm, gi, d, want[gi * 2 + d], d ? dense : run, rows);
            for (int k = 0; k < 4; k++)
                rs_free(&rows[k]);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* The shapes of smaller arrays the mapper may use on pt (docs/engine.md,
 * "PEs in use"): pe_rows halved while it is even, times pe_cols halved
 * while it is even, the array itself left out, by PEs then rows, most
 * first; into r->shapes (points equal to pt but for the array). */
static int shapes_make(st_run *r, const st_point *pt)
{
    int rows[16], cols[16], nr = 0, nc = 0;

    for (int x = pt->pe_rows;; x /= 2) {
        rows[nr++] = x;
        if (x % 2 || nr == 16)
            break;
    }
    for (int x = pt->pe_cols;; x /= 2) {
        cols[nc++] = x;
        if (x % 2 || nc == 16)
            break;
    }
    r->nshapes = 0;
    if (!pt->pe_subarrays || nr * nc == 1)
        return 0;
    if (!(r->shapes = malloc((size_t)(nr * nc - 1) * sizeof *r->shapes)))
        return ST_ENOMEM;
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            st_point q = *pt;
            int k = r->nshapes;
            if (i == 0 && j == 0)
                continue;
            q.pe_rows = rows[i], q.pe_cols = cols[j];
            /* insertion: more PEs first, then more rows */
            while (k > 0 && ((long)r->shapes[k - 1].pe_rows * r->shapes[k - 1].pe_cols <
                                 (long)q.pe_rows * q.pe_cols ||
                             ((long)r->shapes[k - 1].pe_rows * r->shapes[k - 1].pe_cols ==
                                  (long)q.pe_rows * q.pe_cols &&
                              r->shapes[k - 1].pe_rows < q.pe_rows))) {
                r->shapes[k] = r->shapes[k - 1];
                k--;
            }
            r->shapes[k] = q;
            r->nshapes++;
        }
    return 0;
}

/* Simulate compute layer li of net on pt, filling ls. */
static int run_layer(st_run *r, const st_net *net, st_mask_fn fn, void *ctx, int li,
                     st_layer_stats *ls, st_err *err)
{
    const st_point *pt = r->pt;
    const st_layer *l = st_net_layer(net, li);
    st_layer_masks m;
    pass_masks own = {NULL, NULL}; /* an FC layer's batch gathered */
    st_sample *sms = NULL;
    st_ledger *redo = NULL;
    size_t act_sz = st_layer_in_elems(l), grad_sz = st_layer_out_elems(l), nlg = 0;
    int per_pass, rc, *want = NULL, *shape = NULL;

    st_layer_masks_init(&m);
    memset(ls, 0, sizeof *ls);
    ls->layer = li;
    r->l = l;
    r->li = li;
    st_geom_of(l, pt->batch, &r->g);
    per_pass = r->g.fc ? pt->batch : 1;
    nlg = (size_t)r->g.groups * 2 * ST_PHASE_COUNT;
    if (!(r->lgs = calloc(nlg, sizeof *r->lgs)) ||
        !(r->sub = calloc(nlg * (size_t)(r->nshapes ? r->nshapes : 1), sizeof *r->sub)) ||
        !(redo = calloc(nlg, sizeof *redo)) ||
        !(want = malloc((size_t)r->g.groups * 2 * sizeof *want)) ||
        !(shape = malloc(nlg * sizeof *shape))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the ledgers of layer '%s'", l->name);
        goto done;
    }
    if (r->g.fc &&
        (!(own.act = malloc(act_sz * per_pass)) || !(own.grad = malloc(grad_sz * per_pass)))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the masks of layer '%s'", l->name);
        goto done;
    }
    /* Check the mapping once with messages, before any work. */
    for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
        int comp = ph == ST_FP   ? pt->skip_fp_stream
                   : ph == ST_BP ? pt->skip_bp_stream
                                 : pt->skip_wg_stream;
        if (ph == ST_BP && l->first)
            continue;
        for (int dense = 0; dense < 2; dense++)
            if ((rc = st_map_plan(l, &r->g, pt, (st_phase)ph, dense ? 0 : comp, &r->map, err)) != 0)
                goto done;
    }
    /* A sampled run asks the mask source only for the rows its sample reads
     * (FC layers, whose rows are whole images, are always complete). */
    r->sampled = pt->fidelity == ST_FID_SAMPLED && !r->g.fc;
    if (pt->fidelity == ST_FID_SAMPLED &&
        !(r->samples = sms = calloc((size_t)r->g.groups, sizeof *sms))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the sample of layer '%s'", l->name);
        goto done;
    }
    if (r->sampled) {
        r->act_want = calloc((size_t)l->in_c * l->in_h, 1);
        r->grad_want = calloc((size_t)l->out_c * l->out_h, 1);
        if (!r->act_want || !r->grad_want) {
            rc = st_err_set(err, ST_ENOMEM, "out of memory for the masks of layer '%s'", l->name);
            goto done;
        }
    }
    for (int i = 0; i < r->g.groups * 2; i++)
        want[i] = (1 << ST_PHASE_COUNT) - 1;
    if ((rc = run_passes(r, net, fn, ctx, &m, &own, want, ls, ls->run, ls->dense, err)) != 0)
        goto done;
    /* The mapper, once the batch has run: on the array, or on a smaller
     * one when that moves fewer bytes (docs/engine.md, "PEs in use"). A
     * shape is -1 for the array, else its index in r->shapes. */
    for (size_t i = 0; i < nlg; i++) {
        double least = INFINITY, bits;
        shape[i] = -1;
        if (!r->lgs[i].v || r->nshapes == 0)
            continue;
        if ((rc = st_cost_bits(&r->lgs[i], pt, &least)) != 0)
            goto done;
        for (int k = 0; k < r->nshapes; k++) {
            const st_ledger *sl = &r->sub[i * (size_t)r->nshapes + k];
            if (!sl->n0)
                continue;
            if ((rc = st_cost_bits(sl, pt, &bits)) != 0)
                goto done;
            /* fewer bytes, beyond the rounding of sums taken in another order */
            if (bits < least * (1 - 1e-12))
                least = bits, shape[i] = k;
        }
    }
    for (size_t i = 0; i < nlg * (size_t)r->nshapes; i++)
        st_ledger_free(&r->sub[i]);
    /* Run again on each smaller array chosen, the phases that chose it. */
    for (int k = 0; k < r->nshapes; k++) {
        int any = 0;
        for (int i = 0; i < r->g.groups * 2; i++) {
            want[i] = 0;
            for (int ph = 0; ph < ST_PHASE_COUNT; ph++)
                if (shape[(size_t)i * ST_PHASE_COUNT + ph] == k)
                    want[i] |= 1 << ph, any = 1;
        }
        if (!any)
            continue;
        r->pt = &r->shapes[k];
        r->redo = 1;
        {
            st_ledger *keep = r->lgs;
            r->lgs = redo;
            rc = run_passes(r, net, fn, ctx, &m, &own, want, NULL, ls->run, ls->dense, err);
            r->lgs = keep;
        }
        r->pt = pt;
        r->redo = 0;
        if (rc != 0)
            goto done;
    }
    /* The mapper and the memory model on the arrays chosen. A smaller
     * array's run again moves what its ledger said, but for a sampled run,
     * whose traffic is estimated from the rows its own sample generated:
     * the array is kept if the smaller one then moves more bytes. */
    for (size_t i = 0; i < nlg; i++) {
        st_phase ph = (st_phase)(i % ST_PHASE_COUNT);
        st_phase_stats *st = (i / ST_PHASE_COUNT % 2 ? ls->dense : ls->run) + ph;
        st_phase_stats on_array, on_sub;
        const st_point *on = pt;
        if (!r->lgs[i].v)
            continue;
        memset(&on_array, 0, sizeof on_array);
        memset(&on_sub, 0, sizeof on_sub);
        if ((rc = st_cost_phase(&r->lgs[i], pt, l, ph, &on_array, err)) != 0 ||
            (shape[i] >= 0 && (rc = st_cost_phase(&redo[i], pt, l, ph, &on_sub, err)) != 0))
            goto done;
        if (shape[i] >= 0 && on_sub.dram_bytes <= on_array.dram_bytes)
            on_array = on_sub, on = &r->shapes[shape[i]];
        stats_add(st, &on_array);
        st->order = on_array.order, st->rounds = on_array.rounds;
        memcpy(st->store, on_array.store, sizeof st->store);
        st->pe_rows = on->pe_rows, st->pe_cols = on->pe_cols;
    }
    for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
        uint64_t dm = st_layer_macs_valid(l, (st_phase)ph) * (uint64_t)pt->batch;
        ls->run[ph].dense_macs = ls->dense[ph].dense_macs = dm;
        st_cost_energy(pt, &ls->run[ph]);
        st_cost_energy(pt, &ls->dense[ph]);
    }
    rc = 0;
done:
    if (rc != 0 && err && err->code == ST_OK)
        st_err_set(err, rc, "out of memory simulating layer '%s'", l->name);
    r->pt = pt;
    r->redo = 0;
    free(own.act);
    free(own.grad);
    free(r->act_want);
    free(r->grad_want);
    r->act_want = r->grad_want = NULL;
    for (size_t i = 0; r->lgs && i < nlg; i++)
        st_ledger_free(&r->lgs[i]);
    for (size_t i = 0; redo && i < nlg; i++)
        st_ledger_free(&redo[i]);
    for (size_t i = 0; r->sub && i < nlg * (size_t)r->nshapes; i++)
        st_ledger_free(&r->sub[i]);
    free(r->lgs);
    free(r->sub);
    free(redo);
    free(want);
    free(shape);
    r->lgs = r->lg = r->sub = NULL;
    for (int gi = 0; sms && gi < r->g.groups; gi++)
        st_sample_free(&sms[gi]);
    free(sms);
    r->samples = r->sm = NULL;
    st_layer_masks_fini(&m);
    return rc;
}

/* ------------------------------------------------------------ the API */

uint64_t st_phase_cycles(const st_phase_stats *s)
{
    return s->compute_cycles + s->stall_cycles;
}

double st_phase_energy_pj(const st_phase_stats *s)
{
    double e = 0;

    for (int i = 0; i < ST_E_COUNT; i++)
        e += s->energy_pj[i];
    return e;
}

const char *st_ecomp_name(st_ecomp c)
{
    static const char *const names[ST_E_COUNT] = {"mac", "reg",  "ch0", "ch1",
                                                  "ch2", "dram", "leak"};
    return (unsigned)c < ST_E_COUNT ? names[c] : "?";
}

void st_result_init(st_result *r)
{
    memset(r, 0, sizeof *r);
}

void st_result_fini(st_result *r)
{
    free(r->layers);
    memset(r, 0, sizeof *r);
}

static int model_masks(void *ctx, const st_net *net, int layer, int image, const uint8_t *act_want,
                       const uint8_t *grad_want, st_layer_masks *m, st_err *err)
{
    return st_sparsity_rows(net, (const st_sparsity_cfg *)ctx, layer, image, act_want, grad_want, m,
                            err);
}

int st_sim_run_calib(const st_net *net, const st_point *pt, const st_calib *calib, st_result *res,
                     st_err *err)
{
    st_sparsity_cfg cfg;
    st_calib_own own = {NULL, NULL};
    int rc;

    st_result_fini(res);
    if ((rc = st_point_check(pt, err)) == 0 &&
        (rc = st_calib_cfg(pt, net, calib, &cfg, &own, err)) == 0 &&
        (rc = st_sparsity_cfg_check(&cfg, err)) == 0)
        rc = st_sim_run_src(net, pt, model_masks, &cfg, res, err);
    st_calib_own_fini(&own);
    return rc;
}

int st_sim_run(const st_net *net, const st_point *pt, st_result *res, st_err *err)
{
    return st_sim_run_calib(net, pt, NULL, res, err);
}

int st_sim_run_src(const st_net *net, const st_point *pt, st_mask_fn fn, void *ctx, st_result *res,
                   st_err *err)
{
    st_run r;
    int n = 0, k = 0, max_pe, rc;
    st_area area;

    st_result_fini(res);
    memset(&r, 0, sizeof r);
    if ((rc = st_point_check(pt, err)) != 0)
        return rc;
    for (int i = 0; i < st_net_count(net); i++)
        n += st_kind_is_compute(st_net_layer(net, i)->kind);
    if (n == 0)
        return st_err_set(err, ST_EINVAL, "network '%s' has no compute layer", st_net_name(net));
    r.pt = pt;
    max_pe = pt->pe_rows * pt->pe_cols;
    if (shapes_make(&r, pt) != 0) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the engine");
        goto done;
    }
    res->layers = calloc((size_t)n, sizeof *res->layers);
    r.cyc = calloc((size_t)max_pe, sizeof *r.cyc);
    r.tri = calloc((size_t)pt->pe_rows * 3, sizeof *r.tri);
    if (!res->layers || !r.cyc || !r.tri || (rc = tm_init(&r.tm, pt, max_pe)) != 0) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the engine");
        goto done;
    }
    res->nlayers = n;
    for (int i = 0; i < st_net_count(net); i++) {
        st_layer_stats *ls;
        if (!st_kind_is_compute(st_net_layer(net, i)->kind))
            continue;
        ls = &res->layers[k++];
        if ((rc = run_layer(&r, net, fn, ctx, i, ls, err)) != 0)
            goto done;
        for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
            stats_add(&res->run_phase[ph], &ls->run[ph]);
            stats_add(&res->dense_phase[ph], &ls->dense[ph]);
            stats_add(&res->run, &ls->run[ph]);
            stats_add(&res->dense, &ls->dense[ph]);
        }
    }
    res->speedup = (double)st_phase_cycles(&res->dense) / (double)st_phase_cycles(&res->run);
    res->energy_gain = st_phase_energy_pj(&res->dense) / st_phase_energy_pj(&res->run);
    st_area_get(pt, &area);
    res->area_mm2 = area.total_mm2;
    res->time_s = (double)st_phase_cycles(&res->run) / (pt->clock_mhz * 1e6);
    res->images_per_s = pt->batch / res->time_s;
done:
    tm_fini(&r.tm);
    free(r.shapes);
    free(r.cyc);
    free(r.tri);
    free(r.wa);
    free(r.wb);
    free(r.units);
    if (rc != 0)
        st_result_fini(res);
    return rc;
}
