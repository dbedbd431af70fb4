/*
 * sample.c - the sampling estimator of fidelity = sampled: which channel
 * tiles and slices of a layer are simulated, and how the units of a phase
 * that are not simulated are estimated from those that are. What a slice
 * computes is the kernels' (sim.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

void st_sample_free(st_sample *sm)
{
    free(sm->cin), free(sm->cout), free(sm->ct), free(sm->mt), free(sm->tt);
    memset(sm, 0, sizeof *sm);
}

/* Flag with 1 a systematic sample, from a seeded offset, of fraction f (at
 * least one) of the full ones of n tiles, and with 2 the last tile when it
 * is partial: it is always simulated, and stands for itself alone. */
void st_sample_pick(uint8_t *on, int n, double f, int partial_last, uint64_t seed, uint64_t stream)
{
    int nf = n - (partial_last != 0), k = (int)ceil(f * nf);

    memset(on, 0, (size_t)n);
    if (nf > 0) {
        double step, off;
        k = k < 1 ? 1 : k > nf ? nf : k;
        step = (double)nf / k;
        off = st_rng_uniform(seed, stream, 0) * step;
        for (int j = 0; j < k; j++) {
            int i = (int)(off + j * step);
            on[i < nf ? i : nf - 1] = 1;
        }
    }
    if (partial_last)
        on[n - 1] = 2;
}

/* The sample of group gi of the layer r runs, for its current pass. */
int st_sample_make(st_run *r, int gi, st_sample *sm)
{
    const st_point *pt = r->pt;
    const st_geom *g = &r->g;
    int R = pt->pe_rows, Cc = pt->pe_cols, rc;
    int nct = st_ceildiv(g->C, Cc), nmt = st_ceildiv(g->M, Cc), pieces, khp, ntrip, ntt;
    uint64_t seed = (uint64_t)pt->seed;
    uint8_t *seen;

    if ((rc = st_map_plan(r->l, g, pt, ST_WG, 0, &r->map, NULL)) != 0)
        return rc;
    pieces = r->map.pieces, khp = g->KH * pieces, ntrip = g->C * khp, ntt = st_ceildiv(ntrip, R);
    st_sample_free(sm);
    sm->cin = calloc((size_t)g->C, 1), sm->cout = calloc((size_t)g->M, 1);
    sm->ct = malloc((size_t)nct), sm->mt = malloc((size_t)nmt);
    sm->tt = calloc((size_t)ntt, 1);
    seen = calloc((size_t)khp * 2, 1); /* kinds of triple tile covered */
    if (!sm->cin || !sm->cout || !sm->ct || !sm->mt || !sm->tt || !seen) {
        free(seen);
        return ST_ENOMEM;
    }
    st_sample_pick(sm->ct, nct, pt->sample_fraction, g->C % Cc != 0, seed,
                   ST_RNG_STREAM(r->li, r->pass, 0x60 + 2 * gi));
    st_sample_pick(sm->mt, nmt, pt->sample_fraction, g->M % Cc != 0, seed,
                   ST_RNG_STREAM(r->li, r->pass, 0x61 + 2 * gi));
    for (int c = 0; c < g->C; c++)
        sm->cin[c] = sm->ct[c / Cc];
    for (int m = 0; m < g->M; m++)
        sm->cout[m] = sm->mt[m / Cc];
    /* Triple tiles inside the sampled channels, then one of each kind
     * still missing, searched from the first sampled channel on. A triple
     * tile t holds triples [t R, min((t + 1) R, ntrip)), of channels
     * [t R / khp, (min((t + 1) R, ntrip) - 1) / khp]. */
    for (int round = 0; round < 2; round++) {
        int start = 0;
        while (round == 1 && start < nct && !sm->ct[start])
            start++;
        start = round == 1 ? start * Cc * khp / R : 0;
        for (int j = 0; j < ntt; j++) {
            int t = (start + j) % ntt, last = st_imin((t + 1) * R, ntrip) - 1;
            int kind = (t * R) % khp * 2 + (last < (t + 1) * R - 1), inside = 1;
            for (int c = t * R / khp; c <= last / khp && inside; c++)
                inside = sm->cin[c];
            if (round == 0 ? !inside : seen[kind])
                continue;
            seen[kind] = 1;
            sm->tt[t] = 1;
            for (int c = t * R / khp; c <= last / khp; c++)
                sm->cin[c] = sm->cin[c] ? sm->cin[c] : 1;
        }
    }
    free(seen);
    return 0;
}

/* (uint64_t)llround(x), without the library call where 0 <= x < 2^63: x less
 * its whole part is exact, so the half rounds up exactly as llround does. */
static inline uint64_t round_u64(double x)
{
    uint64_t t;

    if (!(x >= 0 && x < 0x1p63))
        return (uint64_t)llround(x);
    t = (uint64_t)x;
    return t + (x - (double)t >= 0.5);
}

/* Per stratum: simulated units and the sums of their estimates. */
typedef struct stratum {
    double sampled, c, w, r0, r1, p0, p1, ax;
    st_unit mean; /* the estimate of a unit not simulated (its MACs by count) */
} stratum;

/* Add b to a. */
static void unit_add(st_unit *a, const st_unit *b)
{
    a->cycles += b->cycles, a->work += b->work;
    a->rd0 += b->rd0, a->rd1 += b->rd1;
    a->pos0 += b->pos0, a->pos1 += b->pos1;
}

/*
 * Run the units of a phase. Exact fidelity (or no plan) simulates every
 * unit's whole reduction loop. Otherwise a unit that is simulated has its
 * flagged slices run in order, each timed as what it adds to the unit's
 * time (the timing state goes on across the slices not simulated). A slice
 * flagged 2 stands for itself alone; the n_s slices flagged 1 or not
 * flagged are estimated as n_s times the mean of those flagged 1 (their
 * MACs by ratio to the slices' s_aux when there is one). Lock-step time is
 * a sum over steps, so this is unbiased. With FIFO-decoupled PEs work
 * carries over between slices and the unit starts with empty FIFOs: its
 * first slices, until 4 x fifo_depth steps have run (at most half of
 * them), stand for the first slices of the tile, each for itself. A unit
 * not simulated takes the mean of the simulated units of its stratum (its
 * MACs by ratio to u_aux when there is one).
 */
int st_drive(st_run *r, size_t n, int n_slices, st_slice_fn fn, const void *ctx, const st_plan *pl)
{
    size_t nk;
    stratum *sk;
    double s_aux_all = 0;
    int n_flag = 0, n_s = n_slices, nsl = 0, *sl;

    if (!r->sm || !pl || (!pl->u_on && !pl->s_on)) {
        int once = pl && pl->slices_same && !r->tm.fifo && n_slices > 0;
        for (size_t u = 0; u < n; u++) {
            st_unit *un = &r->units[u];
            if (pl && pl->same && pl->same[u] < u) {
                *un = r->units[pl->same[u]];
            } else if (once) {
                /* lock-step time is a sum over steps: one slice, n times */
                fn(r, ctx, u, 0, 1, un);
                un->cycles *= (uint64_t)n_slices, un->work *= (uint64_t)n_slices;
                un->rd0 *= (uint64_t)n_slices, un->pos0 *= (uint64_t)n_slices;
                un->rd1 *= (uint64_t)n_slices, un->pos1 *= (uint64_t)n_slices;
            } else
                fn(r, ctx, u, 0, n_slices, un);
        }
        return 0;
    }
    for (int s = 0; s < n_slices; s++) {
        n_flag += !pl->s_on || pl->s_on[s] == 1;
        n_s -= pl->s_on && pl->s_on[s] == 2;
        if (pl->s_aux && !(pl->s_on && pl->s_on[s] == 2))
            s_aux_all += pl->s_aux[s];
    }
    nk = pl->key ? pl->nkeys : 1;
    sk = calloc(nk, sizeof *sk);
    sl = malloc((n_slices > 0 ? (size_t)n_slices : 1) * sizeof *sl);
    if (!sk || !sl) {
        free(sk);
        free(sl);
        return ST_ENOMEM;
    }
    /* the slices simulated, listed once for every unit */
    for (int s = 0; s < n_slices; s++)
        if (!pl->s_on || pl->s_on[s])
            sl[nsl++] = s;
    for (size_t u = 0; u < n; u++) {
        stratum *h;
        st_unit *un = &r->units[u], fix = {0}, smp = {0}; /* fix: slices for themselves */
        int cnt = 0, nw = 0, cap = r->tm.fifo ? n_flag / 2 : 0;
        double f, fw, a_warm = 0, a_cnt = 0;

        if (pl->u_on && !pl->u_on[u])
            continue;
        h = &sk[pl->key ? pl->key(r, u) : 0];
        r->tm_keep = 0;
        for (int q = 0; q < nsl; q++) {
            int s = sl[q];
            st_unit one = {0};
            fn(r, ctx, u, s, s + 1, &one);
            r->tm_keep = 1;
            if (pl->s_on && pl->s_on[s] == 2) {
                unit_add(&fix, &one);
            } else if (nw < cap && r->tm.step < 4L * r->tm.depth) {
                unit_add(&fix, &one); /* warm-up */
                nw++;
                a_warm += pl->s_aux ? pl->s_aux[s] : 0;
            } else {
                unit_add(&smp, &one);
                a_cnt += pl->s_aux ? pl->s_aux[s] : 0;
                cnt++;
            }
        }
        r->tm_keep = 0;
        f = cnt ? (double)(n_s - nw) / cnt : 0;
        /* MACs follow the densities of the slices: a ratio to them */
        fw = pl->s_aux && a_cnt > 0 ? (s_aux_all - a_warm) / a_cnt : f;
        un->cycles = fix.cycles + round_u64((double)smp.cycles * f);
        un->work = fix.work + round_u64((double)smp.work * fw);
        un->rd0 = fix.rd0 + round_u64((double)smp.rd0 * f);
        un->rd1 = fix.rd1 + round_u64((double)smp.rd1 * f);
        un->pos0 = fix.pos0 + round_u64((double)smp.pos0 * f);
        un->pos1 = fix.pos1 + round_u64((double)smp.pos1 * f);
        h->sampled++;
        h->c += (double)un->cycles;
        h->w += (double)un->work, h->r0 += (double)un->rd0, h->r1 += (double)un->rd1;
        h->ax += pl->u_aux ? pl->u_aux[u] : 0;
        h->p0 += (double)un->pos0, h->p1 += (double)un->pos1;
    }
    /* Units not simulated: the sample gives every stratum a simulated unit,
     * whose means are taken once per stratum. */
    for (size_t k = 0; k < nk; k++) {
        stratum *h = &sk[k];
        if (h->sampled == 0)
            continue;
        h->mean.cycles = round_u64(h->c / h->sampled);
        h->mean.work = round_u64(h->w / h->sampled);
        h->mean.rd0 = round_u64(h->r0 / h->sampled);
        h->mean.rd1 = round_u64(h->r1 / h->sampled);
        h->mean.pos0 = round_u64(h->p0 / h->sampled);
        h->mean.pos1 = round_u64(h->p1 / h->sampled);
    }
    for (size_t u = 0; pl->u_on && u < n; u++) {
        const stratum *h;
        st_unit *un = &r->units[u];
        if (pl->u_on[u] || (h = &sk[pl->key ? pl->key(r, u) : 0])->sampled == 0)
            continue;
        *un = h->mean;
        if (pl->u_aux && h->ax > 0)
            un->work = round_u64(h->w * pl->u_aux[u] / h->ax);
    }
    free(sk);
    free(sl);
    return 0;
}
