/*
 * t_sim.c - the cycle-level engine against independent computations:
 * dense cycles against the closed form of the tiling (brute-force counts),
 * hand-built masks against hand-computed times, monotonicity in p,
 * energy bookkeeping, determinism and every validation error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "st.h"
#include "tap.h"

/* ------------------------------------------------------- mask sources */

static int grow(uint8_t **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        uint8_t *p = realloc(*buf, n);
        if (!p)
            return ST_ENOMEM;
        *buf = p;
        *cap = n;
    }
    return 0;
}

/* Every activation and gradient non-zero. */
static int ones_src(void *ctx, const st_net *net, int layer, int image, const uint8_t *aw,
                    const uint8_t *gw, st_layer_masks *m, st_err *err)
{
    const st_layer *l = st_net_layer(net, layer);
    size_t na = st_layer_in_elems(l), ng = st_layer_out_elems(l);

    (void)ctx, (void)image, (void)err, (void)aw, (void)gw;
    if (grow(&m->act_in, &m->act_cap, na) || grow(&m->grad, &m->grad_cap, ng))
        return ST_ENOMEM;
    memset(m->act_in, 1, na);
    memset(m->grad, 1, ng);
    m->layer = layer;
    m->act_density = m->grad_density = m->grad_density_natural = 1;
    m->tau = 0;
    return 0;
}

/* Activations of channel c non-zero only in row rows_of[c] (all columns). */
typedef struct rows_ctx {
    const int *row_of;
} rows_ctx;

static int rows_src(void *ctx, const st_net *net, int layer, int image, const uint8_t *aw,
                    const uint8_t *gw, st_layer_masks *m, st_err *err)
{
    const rows_ctx *rc = ctx;
    const st_layer *l = st_net_layer(net, layer);
    int rc2 = ones_src(NULL, net, layer, image, aw, gw, m, err);

    if (rc2)
        return rc2;
    memset(m->act_in, 0, st_layer_in_elems(l));
    for (int c = 0; c < l->in_c; c++)
        memset(m->act_in + ((size_t)c * l->in_h + rc->row_of[c]) * l->in_w, 1, (size_t)l->in_w);
    return 0;
}

/* ------------------------------------------------ closed forms of tiling */

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static uint64_t cdiv(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* Pairs (o in [o0, o1), k in [k0, k1)) whose input o*S + k - P lies in [0, n). */
static uint64_t pairs_fp(int o0, int o1, int k0, int k1, int S, int P, int n)
{
    uint64_t c = 0;
    for (int o = o0; o < o1; o++)
        for (int k = k0; k < k1; k++) {
            int q = o * S + k - P;
            c += q >= 0 && q < n;
        }
    return c;
}

/* Pairs (i in [i0, i1), k in [k0, k1)) where i receives from dZ position
 * (i + P - k) / S, which must be whole and inside [0, n). */
static uint64_t pairs_bp(int i0, int i1, int k0, int k1, int S, int P, int n)
{
    uint64_t c = 0;
    for (int i = i0; i < i1; i++)
        for (int k = k0; k < k1; k++) {
            int num = i + P - k;
            c += num >= 0 && num % S == 0 && num / S < n;
        }
    return c;
}

typedef struct shape {
    int C, H, W, M, K, S, P, groups;
} shape;

/* Dense compute cycles of FP, BP and WG of a conv layer (groups 1) with
 * lock-step PEs, from the loop nest of the mapping: tiles of pe_rows output
 * rows x pe_cols channels x oreg columns, one step per (channel, kernel
 * row, piece), each step as long as its slowest PE. */
static void closed_form(const st_layer *l, const st_point *pt, int batch, uint64_t cyc[3])
{
    int R = pt->pe_rows, Cc = pt->pe_cols, taps = imin(l->k_w, pt->kreg_len);
    int pieces = (l->k_w + pt->kreg_len - 1) / pt->kreg_len;
    int S = l->stride_h, P = l->pad_t, KH = l->k_h, KW = l->k_w;
    int C = l->in_c, IH = l->in_h, IW = l->in_w, M = l->out_c, OH = l->out_h, OW = l->out_w;
    uint64_t mpe = (uint64_t)pt->macs_per_pe, ovh = (uint64_t)pt->step_overhead;
    int seg;

    cyc[0] = cyc[1] = cyc[2] = 0;
    /* FP */
    seg = imin(OW, pt->oreg_len);
    for (int m0 = 0; m0 < M; m0 += Cc)
        for (int oh0 = 0; oh0 < OH; oh0 += R)
            for (int o0 = 0; o0 < OW; o0 += seg)
                for (int c = 0; c < C; c++)
                    for (int kh = 0; kh < KH; kh++)
                        for (int p = 0; p < pieces; p++) {
                            uint64_t mx = 0;
                            for (int r = 0; r < imin(R, OH - oh0); r++) {
                                int ih = (oh0 + r) * S + kh - P;
                                uint64_t w = (ih >= 0 && ih < IH)
                                                 ? pairs_fp(o0, imin(o0 + seg, OW), p * taps,
                                                            imin(p * taps + taps, KW), S, P, IW)
                                                 : 0;
                                uint64_t t = cdiv(w, mpe) + ovh;
                                mx = t > mx ? t : mx;
                            }
                            cyc[0] += mx;
                        }
    /* BP */
    seg = imin(IW, pt->oreg_len);
    if (!l->first)
        for (int c0 = 0; c0 < C; c0 += Cc)
            for (int ih0 = 0; ih0 < IH; ih0 += R)
                for (int i0 = 0; i0 < IW; i0 += seg)
                    for (int m = 0; m < M; m++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int p = 0; p < pieces; p++) {
                                uint64_t mx = 0;
                                for (int r = 0; r < imin(R, IH - ih0); r++) {
                                    int num = ih0 + r + P - kh;
                                    uint64_t w = (num >= 0 && num % S == 0 && num / S < OH)
                                                     ? pairs_bp(i0, imin(i0 + seg, IW), p * taps,
                                                                imin(p * taps + taps, KW), S, P, OW)
                                                     : 0;
                                    uint64_t t = cdiv(w, mpe) + ovh;
                                    mx = t > mx ? t : mx;
                                }
                                cyc[1] += mx;
                            }
    /* WG: PE rows take (channel, kernel row, piece) triples, one step per dZ row */
    {
        int ntrip = C * KH * pieces;
        for (int m0 = 0; m0 < M; m0 += Cc)
            for (int t0 = 0; t0 < ntrip; t0 += R)
                for (int oh = 0; oh < OH; oh++) {
                    uint64_t mx = 0;
                    for (int r = 0; r < imin(R, ntrip - t0); r++) {
                        int t = t0 + r, p = t % pieces, kh = t / pieces % KH;
                        int ih = oh * S + kh - P;
                        uint64_t w =
                            (ih >= 0 && ih < IH)
                                ? pairs_fp(0, OW, p * taps, imin(p * taps + taps, KW), S, P, IW)
                                : 0;
                        uint64_t tt = cdiv(w, mpe) + ovh;
                        mx = tt > mx ? tt : mx;
                    }
                    cyc[2] += mx;
                }
    }
    for (int i = 0; i < 3; i++)
        cyc[i] *= (uint64_t)batch;
}

/* A point that is compute-bound enough to compare compute cycles alone. */
static void small_point(st_point *pt)
{
    st_point_init(pt);
    pt->pe_rows = 4;
    pt->pe_cols = 3;
    pt->oreg_len = 5;
    pt->kreg_len = 4;
    pt->macs_per_pe = 2;
    pt->step_overhead = 1;
    pt->ch0_kib = pt->ch1_kib = pt->ch2_kib = 256;
}

static st_net *one_conv(const shape *s, int two)
{
    st_net *net = NULL;
    int prev;

    if (st_net_create("t", s->C, s->H, s->W, &net, NULL))
        return NULL;
    prev = st_net_conv(net, "a", -1, s->M, s->K, s->S, s->P, s->groups, NULL);
    if (prev >= 0 && two) {
        /* a second conv, which has a BP phase */
        prev = st_net_relu(net, "r", ST_PREV, NULL);
        prev =
            prev < 0 ? prev : st_net_conv(net, "b", ST_PREV, s->M + 1, s->K, s->S, s->P, 1, NULL);
    }
    if (prev < 0 || st_net_finish(net, NULL)) {
        st_net_destroy(&net);
        return NULL;
    }
    return net;
}

static void test_dense_closed_form(void)
{
    static const shape shapes[] = {
        {3, 13, 13, 7, 3, 1, 1, 1}, /* edge remainders in every tile dimension */
        {2, 17, 19, 5, 5, 2, 2, 1}, /* stride 2 with padding */
        {4, 9, 11, 6, 1, 2, 0, 1},  /* 1x1 stride 2 */
        {2, 23, 23, 4, 7, 3, 3, 1}, /* kernel rows longer than kreg: pieces */
        {3, 6, 8, 5, 3, 1, 0, 1},   /* no padding */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        st_net *net = one_conv(&shapes[i], 1);
        st_point pt;
        st_result res;
        st_err err;
        int ok_all = 1, macs_ok = 1;

        small_point(&pt);
        pt.batch = 2;
        st_result_init(&res);
        if (!net || st_sim_run_src(net, &pt, ones_src, NULL, &res, &err)) {
            ok(0, "sim-1.%zu dense run of shape %zu", i, i);
            diag("%s", net ? err.msg : "net");
            st_net_destroy(&net);
            continue;
        }
        for (int li = 0; li < res.nlayers; li++) {
            const st_layer *l = st_net_layer(net, res.layers[li].layer);
            uint64_t want[3];
            closed_form(l, &pt, pt.batch, want);
            for (int ph = 0; ph < 3; ph++) {
                if (res.layers[li].dense[ph].compute_cycles != want[ph]) {
                    ok_all = 0;
                    diag("shape %zu layer %s %s: got %llu want %llu", i, l->name,
                         st_phase_name((st_phase)ph),
                         (unsigned long long)res.layers[li].dense[ph].compute_cycles,
                         (unsigned long long)want[ph]);
                }
                if (res.layers[li].dense[ph].useful_macs !=
                    st_layer_macs_valid(l, (st_phase)ph) * (uint64_t)pt.batch)
                    macs_ok = 0;
            }
        }
        ok(ok_all,
           "sim-1.%zu dense compute cycles equal the closed form of the tiling "
           "(shape %dx%dx%d k%d s%d p%d)",
           i, shapes[i].C, shapes[i].H, shapes[i].W, shapes[i].K, shapes[i].S, shapes[i].P);
        ok(macs_ok, "sim-2.%zu dense MACs equal the exact valid MAC count in every phase", i);
        st_result_fini(&res);
        st_net_destroy(&net);
    }
}

static void test_density_one(void)
{
    shape s = {3, 12, 12, 6, 3, 1, 1, 1};
    st_net *net = one_conv(&s, 1);
    st_point pt;
    st_result res;
    st_err err;
    int same = 1;

    small_point(&pt);
    pt.dram_gbps = 10000; /* transfers hide behind compute: compare the array alone */
    pt.dram_latency_ns = 0;
    st_result_init(&res);
    if (!net || st_sim_run_src(net, &pt, ones_src, NULL, &res, &err)) {
        ok(0, "sim-3.1 density-1 run");
        st_net_destroy(&net);
        return;
    }
    for (int li = 0; li < res.nlayers; li++)
        for (int ph = 0; ph < 3; ph++)
            if (res.layers[li].run[ph].compute_cycles != res.layers[li].dense[ph].compute_cycles ||
                res.layers[li].run[ph].useful_macs != res.layers[li].dense[ph].useful_macs)
                same = 0;
    ok(same, "sim-3.1 with every value non-zero the run equals the dense baseline phase by phase");
    ok(res.speedup == 1.0, "sim-3.2 density 1 gives a speedup of exactly 1 (got %.17g)",
       res.speedup);
    st_result_fini(&res);
    st_net_destroy(&net);
}

/* 1x1 conv, 8 channels, 4 rows of 16: one step per channel; in each step
 * only PE row row_of[c] has work (16 MACs, 1 MAC per PE, no overhead). */
static uint64_t imbalance_fp(const int *row_of, int sync, int depth)
{
    st_net *net = NULL;
    st_point pt;
    st_result res;
    st_err err;
    rows_ctx ctx = {row_of};
    uint64_t cyc = 0;

    st_net_create("imb", 8, 4, 16, &net, NULL);
    st_net_conv(net, "c", -1, 1, 1, 1, 0, 1, NULL);
    st_net_finish(net, NULL);
    st_point_init(&pt);
    pt.pe_rows = 4, pt.pe_cols = 1, pt.macs_per_pe = 1, pt.step_overhead = 0;
    pt.oreg_len = 16;
    pt.sync = sync;
    pt.fifo_depth = depth;
    st_result_init(&res);
    if (st_sim_run_src(net, &pt, rows_src, &ctx, &res, &err) == 0)
        cyc = res.layers[0].run[ST_FP].compute_cycles;
    else
        diag("%s", err.msg);
    st_result_fini(&res);
    st_net_destroy(&net);
    return cyc;
}

static void test_imbalance(void)
{
    static const int one_row[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    static const int spread[8] = {0, 1, 2, 3, 0, 1, 2, 3};

    /* All non-zeros in PE row 0: that row does 8 steps of 16 MACs while the
     * others idle, whatever the synchronisation: 8 x 16 = 128 cycles, the
     * dense time, although only a quarter of the inputs are non-zero. */
    ok_eq_u64(imbalance_fp(one_row, ST_SYNC_LOCKSTEP, 1), 128,
              "sim-4.1 one PE row holding every non-zero takes 8 x 16 cycles in lock-step");
    ok_eq_u64(imbalance_fp(one_row, ST_SYNC_FIFO, 8), 128,
              "sim-4.2 ... and as long with decoupled PEs");
    /* Spread over the rows: lock-step still waits 16 cycles per step (128);
     * a FIFO of 8 lets every row run its own 2 steps: 32 cycles; a FIFO of
     * 2 releases step s when every PE finished step s - 2: 64 cycles (two
     * steps overlap at a time), and a FIFO of 1 is lock-step again. */
    ok_eq_u64(imbalance_fp(spread, ST_SYNC_LOCKSTEP, 1), 128,
              "sim-4.3 spread non-zeros, lock-step: 128 cycles");
    ok_eq_u64(imbalance_fp(spread, ST_SYNC_FIFO, 8), 32,
              "sim-4.4 spread non-zeros, FIFO depth 8: 32 cycles");
    ok_eq_u64(imbalance_fp(spread, ST_SYNC_FIFO, 2), 64,
              "sim-4.5 spread non-zeros, FIFO depth 2: 64 cycles");
    ok_eq_u64(imbalance_fp(spread, ST_SYNC_FIFO, 1), 128,
              "sim-4.6 spread non-zeros, FIFO depth 1 behaves as lock-step");
}

static int run_builtin(const char *name, st_point *pt, st_result *res)
{
    st_net *net = NULL;
    st_err err;
    int rc = st_net_builtin(name, &net, &err);

    if (rc == 0)
        rc = st_sim_run(net, pt, res, &err);
    if (rc)
        diag("%s: %s", name, err.msg);
    st_net_destroy(&net);
    return rc;
}

static void test_monotone_in_p(void)
{
    static const double ps[] = {0, 0.5, 0.9, 0.99};
    const char *nets[] = {"fmnist-cnn", "fmnist-resnet"};

    for (int n = 0; n < 2; n++) {
        uint64_t prev[3] = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
        int mono = 1, fp_same = 1;
        uint64_t fp0 = 0;
        for (int i = 0; i < 4; i++) {
            st_point pt;
            st_result res;
            st_point_init(&pt);
            pt.p = ps[i];
            pt.batch = 2;
            st_result_init(&res);
            if (run_builtin(nets[n], &pt, &res)) {
                mono = 0;
                break;
            }
            for (int ph = 0; ph < 3; ph++) {
                if (res.run_phase[ph].useful_macs > prev[ph])
                    mono = 0;
                prev[ph] = res.run_phase[ph].useful_macs;
            }
            if (i == 0)
                fp0 = res.run_phase[ST_FP].useful_macs;
            else if (res.run_phase[ST_FP].useful_macs != fp0)
                fp_same = 0;
            st_result_fini(&res);
        }
        ok(mono, "sim-5.%d %s: useful MACs of every phase never grow as p grows (0 .. 0.99)",
           2 * n + 1, nets[n]);
        ok(fp_same, "sim-5.%d %s: FP useful MACs do not depend on the gradient pruning", 2 * n + 2,
           nets[n]);
    }
}

/* Dense MACs issued by the engine equal the exact count on every layer of
 * networks with FC layers, pooling and residual blocks. */
static void test_dense_macs_networks(void)
{
    const char *nets[] = {"fmnist-cnn", "fmnist-resnet"};

    for (int n = 0; n < 2; n++) {
        st_net *net = NULL;
        st_point pt;
        st_result res;
        st_err err;
        int good = 1;

        st_point_init(&pt);
        pt.batch = 3;
        st_result_init(&res);
        if (st_net_builtin(nets[n], &net, &err) || st_sim_run(net, &pt, &res, &err)) {
            ok(0, "sim-2.%d %s runs", 10 + n, nets[n]);
            st_net_destroy(&net);
            continue;
        }
        for (int i = 0; i < res.nlayers; i++)
            for (int ph = 0; ph < 3; ph++) {
                const st_layer *l = st_net_layer(net, res.layers[i].layer);
                uint64_t want = st_layer_macs_valid(l, (st_phase)ph) * 3;
                if (res.layers[i].dense[ph].useful_macs != want ||
                    res.layers[i].run[ph].useful_macs > want) {
                    good = 0;
                    diag("%s %s %s: dense %llu run %llu want %llu", nets[n], l->name,
                         st_phase_name((st_phase)ph),
                         (unsigned long long)res.layers[i].dense[ph].useful_macs,
                         (unsigned long long)res.layers[i].run[ph].useful_macs,
                         (unsigned long long)want);
                }
            }
        ok(good,
           "sim-2.%d %s, batch 3: dense MACs equal the exact count on every layer and "
           "phase (FC included), and the run never issues more",
           10 + n, nets[n]);
        st_result_fini(&res);
        st_net_destroy(&net);
    }
}

static int same_stats(const st_phase_stats *a, const st_phase_stats *b)
{
    return !memcmp(a, b, sizeof *a);
}

static void test_energy_and_determinism(void)
{
    st_point a, b;
    st_result r1, r2, r3;
    int sums = 1, same = 1;

    st_point_init(&a);
    a.p = 0.9;
    b = a;
    b.pe_rows = 8, b.p = 0.5;
    st_result_init(&r1), st_result_init(&r2), st_result_init(&r3);
    if (run_builtin("fmnist-resnet", &a, &r1) || run_builtin("fmnist-resnet", &b, &r2) ||
        run_builtin("fmnist-resnet", &a, &r3)) {
        ok(0, "sim-6.1 runs");
        goto done;
    }
    for (int e = 0; e < ST_E_COUNT; e++) {
        double s = 0;
        for (int i = 0; i < r1.nlayers; i++)
            for (int ph = 0; ph < 3; ph++)
                s += r1.layers[i].run[ph].energy_pj[e];
        if (fabs(s - r1.run.energy_pj[e]) > 1e-9 * (fabs(s) + 1))
            sums = 0;
    }
    {
        double tot = 0, parts = 0;
        for (int e = 0; e < ST_E_COUNT; e++)
            parts += r1.run.energy_pj[e];
        for (int i = 0; i < r1.nlayers; i++)
            for (int ph = 0; ph < 3; ph++)
                tot += st_phase_energy_pj(&r1.layers[i].run[ph]);
        if (fabs(tot - parts) > 1e-9 * parts)
            sums = 0;
    }
    ok(sums, "sim-6.1 energy components of layers and phases add up to the totals");
    ok(r1.run.energy_pj[ST_E_MAC] > 0 && r1.run.energy_pj[ST_E_DRAM] > 0 &&
           r1.run.energy_pj[ST_E_LEAK] > 0,
       "sim-6.2 MAC, DRAM and leakage energy are all counted");
    same = r1.nlayers == r3.nlayers && same_stats(&r1.run, &r3.run) &&
           same_stats(&r1.dense, &r3.dense);
    for (int i = 0; same && i < r1.nlayers; i++)
        same = !memcmp(&r1.layers[i], &r3.layers[i], sizeof r1.layers[i]);
    ok(same, "sim-6.3 the same point gives identical results before and after another point");
    ok(r1.run.useful_macs != r2.run.useful_macs || r1.speedup != r2.speedup,
       "sim-6.4 a different point gives a different result");
    ok(r1.speedup > 1 && r1.energy_gain > 0,
       "sim-6.5 pruning at p = 0.9 makes the iteration faster than dense (speedup %.3f)",
       r1.speedup);
done:
    st_result_fini(&r1), st_result_fini(&r2), st_result_fini(&r3);
}

static void test_errors(void)
{
    st_net *net = NULL;
    st_point pt;
    st_result res;
    st_err err;
    int rc;

    st_result_init(&res);
    st_net_builtin("alexnet", &net, &err);
    st_point_init(&pt);
    pt.ch1_kib = 1;
    rc = st_sim_run(net, &pt, &res, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "conv", "ch1_kib", NULL),
       "sim-7.1 weights that do not fit name the layer and the buffer: %s", err.msg);
    st_point_init(&pt);
    pt.ch0_kib = 0.25;
    rc = st_sim_run(net, &pt, &res, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "ch0_kib", "too small", NULL),
       "sim-7.2 streamed rows that do not fit name ch0: %s", err.msg);
    st_point_init(&pt);
    pt.pe_rows = 0;
    rc = st_sim_run(net, &pt, &res, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "pe_rows", "0", NULL),
       "sim-7.3 an invalid point is refused: %s", err.msg);
    ok(res.layers == NULL && res.nlayers == 0, "sim-7.4 a failed run leaves the result empty");
    st_point_init(&pt);
    pt.ch2_kib = 0.5;
    rc = st_sim_run(net, &pt, &res, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "ch2_kib", "partial sums", NULL),
       "sim-7.6 partial sums that do not fit name ch2: %s", err.msg);
    /* The weight-gradient phase has buffer needs of its own: one dZ row per
     * PE column in ch0, one activation row piece per PE row in ch1, the dW
     * rows of a tile in ch2. A wide layer shows each. */
    {
        const st_layer *l;
        st_geom g;
        st_map m;
        st_net *wide = NULL;
        st_net_create("wide", 4, 8, 2000, &wide, NULL);
        st_net_conv(wide, "w", -1, 8, 3, 1, 1, 1, NULL);
        st_net_finish(wide, NULL);
        l = st_net_layer(wide, 0);
        st_geom_of(l, 1, &g);
        st_point_init(&pt);
        pt.ch0_kib = 8; /* 16 columns x 2000 dZ x 24 bits = 94 KiB > 4 KiB */
        rc = st_map_plan(l, &g, &pt, ST_WG, 1, &m, &err);
        ok(rc == ST_EINVAL && tap_has_all(err.msg, "'w'", "wg", "ch0_kib", "dZ rows", NULL),
           "sim-7.7 WG dZ rows that do not fit name the layer, the phase and ch0: %s", err.msg);
        st_point_init(&pt);
        pt.ch0_kib = 1024;
        pt.ch1_kib = 8; /* 16 rows x 2002 activations x 24 bits = 94 KiB > 4 KiB */
        rc = st_map_plan(l, &g, &pt, ST_WG, 1, &m, &err);
        ok(rc == ST_EINVAL && tap_has_all(err.msg, "ch1_kib", "activation rows", NULL),
           "sim-7.8 WG activation rows that do not fit name ch1: %s", err.msg);
        st_point_init(&pt);
        pt.ch0_kib = pt.ch1_kib = 1024;
        pt.ch2_kib = 0.5; /* 16 x 16 PEs x 3 taps x 32 bits = 3 KiB */
        rc = st_map_plan(l, &g, &pt, ST_WG, 1, &m, &err);
        ok(rc == ST_EINVAL && tap_has_all(err.msg, "ch2_kib", "weight gradient", NULL),
           "sim-7.9 WG gradient rows that do not fit name ch2: %s", err.msg);
        st_net_destroy(&wide);
        /* FP on 32 rows: one step needs 16 rows x 66 columns x 24 bits
         * = 3168 bytes, the window of one channel (15 + 3 = 18 rows) 3564
         * bytes; half of 6.8 KiB (3481 bytes) holds the first, not the
         * second, so every step fetches its 16 rows: 16 x 3 / 18 = 2.67. */
        st_net_create("tall", 4, 32, 100, &wide, NULL);
        st_net_conv(wide, "t", -1, 8, 3, 1, 1, 1, NULL);
        st_net_finish(wide, NULL);
        l = st_net_layer(wide, 0);
        st_geom_of(l, 1, &g);
        st_point_init(&pt);
        pt.ch0_kib = 6.8;
        rc = st_map_plan(l, &g, &pt, ST_FP, 1, &m, &err);
        ok(rc == 0 && fabs(m.spill - 16.0 * 3 / 18) < 1e-12 && m.win == 18 * 66,
           "sim-7.10 a channel window of 18 rows x 66 columns; when it does not fit half of ch0 "
           "every step fetches its 16 rows (spill %.4f, want 2.6667; window %llu)",
           m.spill, (unsigned long long)m.win);
        pt.ch0_kib = 7.0;
        rc = st_map_plan(l, &g, &pt, ST_FP, 1, &m, &err);
        ok(rc == 0 && m.win * 24 <= 7.0 * 8192 / 2, "sim-7.11 ... a window that fits half of 7 KiB");
        st_net_destroy(&wide);
    }
    st_net_destroy(&net);
    st_net_create("empty", 1, 4, 4, &net, NULL);
    st_net_relu(net, "r", -1, NULL);
    st_net_finish(net, NULL);
    st_point_init(&pt);
    rc = st_sim_run(net, &pt, &res, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "empty", "no compute layer", NULL),
       "sim-7.5 a network without compute layers: %s", err.msg);
    st_net_destroy(&net);
}

static void test_sampled(void)
{
    st_point pt;
    st_result ex, sa;
    double rel;

    st_point_init(&pt);
    pt.p = 0.9;
    st_result_init(&ex), st_result_init(&sa);
    if (run_builtin("resnet18", &pt, &ex)) {
        ok(0, "sim-8.1 exact run");
        return;
    }
    pt.fidelity = ST_FID_SAMPLED;
    if (run_builtin("resnet18", &pt, &sa)) {
        ok(0, "sim-8.1 sampled run");
        st_result_fini(&ex);
        return;
    }
    rel = fabs((double)st_phase_cycles(&sa.run) - (double)st_phase_cycles(&ex.run)) /
          (double)st_phase_cycles(&ex.run);
    ok(rel < 0.02, "sim-8.1 resnet18 p = 0.9: sampled total cycles within 2%% of exact (%.3f%%)",
       100 * rel);
    rel = fabs((double)sa.run.useful_macs - (double)ex.run.useful_macs) /
          (double)ex.run.useful_macs;
    ok(rel < 0.02, "sim-8.2 ... and useful MACs within 2%% (%.3f%%)", 100 * rel);
    ok(sa.run.dense_macs == ex.run.dense_macs, "sim-8.3 dense MACs are exact in both fidelities");
    st_result_fini(&ex), st_result_fini(&sa);
}

/* A sampled run simulates some channel tiles and estimates the others from
 * the tiles of the same geometry: in the dense baseline these are
 * identical, so the estimate must equal the closed form exactly, and the
 * MACs the exact count, whichever tiles the seed draws. */
static void test_sampled_dense(void)
{
    static const shape shapes[] = {
        {10, 13, 13, 11, 3, 1, 1, 1}, /* partial channel tiles, edge rows */
        {9, 17, 19, 12, 5, 2, 2, 1},  /* stride 2 with padding */
        {14, 9, 11, 7, 1, 1, 0, 1},   /* 1x1 */
        {8, 23, 23, 9, 7, 3, 3, 1},   /* pieces */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        st_net *net = one_conv(&shapes[i], 1);
        int ok_all = 1, macs_ok = 1, runs = 0;

        for (int seed = 1; net && seed <= 8; seed++) {
            st_point pt;
            st_result res;
            st_err err;
            small_point(&pt);
            pt.fidelity = ST_FID_SAMPLED;
            pt.sample_fraction = 0.01;
            pt.seed = seed;
            st_result_init(&res);
            if (st_sim_run_src(net, &pt, ones_src, NULL, &res, &err))
                break;
            runs++;
            for (int li = 0; li < res.nlayers; li++) {
                const st_layer *l = st_net_layer(net, res.layers[li].layer);
                uint64_t want[3];
                closed_form(l, &pt, pt.batch, want);
                for (int ph = 0; ph < 3; ph++) {
                    const st_phase_stats *d = &res.layers[li].dense[ph];
                    if (d->compute_cycles != want[ph]) {
                        ok_all = 0;
                        diag("shape %zu seed %d layer %s %s: got %llu want %llu", i, seed, l->name,
                             st_phase_name((st_phase)ph), (unsigned long long)d->compute_cycles,
                             (unsigned long long)want[ph]);
                    }
                    if (d->useful_macs != st_layer_macs_valid(l, (st_phase)ph) * (uint64_t)pt.batch)
                        macs_ok = 0;
                }
            }
            st_result_fini(&res);
        }
        ok(runs == 8 && ok_all,
           "sim-8.4.%zu sampled (1%% of tiles, seeds 1-8): dense compute cycles still equal the "
           "closed form (shape %dx%dx%d -> %d, k%d s%d)",
           i, shapes[i].C, shapes[i].H, shapes[i].W, shapes[i].M, shapes[i].K, shapes[i].S);
        ok(runs == 8 && macs_ok, "sim-8.4.%zu ... and dense MACs the exact valid MAC count", i);
        st_net_destroy(&net);
    }
}

/* The same for an FC layer whose input gradient samples tiles of dA
 * positions (37 of them in tiles of 4: the last holds 1) and dZ pieces (the
 * last of 19 holds 3 taps of kreg_len 4), at batch 3 on 2 PE rows: the
 * sampled dense baseline equals the exact one. */
static void test_sampled_fc(void)
{
    st_net *net = NULL;
    st_point pt;
    st_result ex, sa;
    st_err err;
    int same = 1, prev;

    if (st_net_create("f", 37, 1, 1, &net, NULL) ||
        (prev = st_net_conv(net, "c", -1, 37, 1, 1, 0, 1, NULL)) < 0 ||
        st_net_relu(net, "r", ST_PREV, NULL) < 0 || st_net_fc(net, "fc", ST_PREV, 75, NULL) < 0 ||
        st_net_finish(net, NULL)) {
        ok(0, "sim-8.7 FC network");
        st_net_destroy(&net);
        return;
    }
    small_point(&pt);
    pt.pe_rows = 2;
    pt.pe_cols = 4;
    pt.batch = 3;
    st_result_init(&ex), st_result_init(&sa);
    for (int seed = 1; seed <= 8 && same; seed++) {
        pt.seed = seed;
        pt.fidelity = ST_FID_EXACT;
        if (st_sim_run_src(net, &pt, ones_src, NULL, &ex, &err)) {
            same = 0;
            break;
        }
        pt.fidelity = ST_FID_SAMPLED;
        pt.sample_fraction = 0.01;
        if (st_sim_run_src(net, &pt, ones_src, NULL, &sa, &err)) {
            same = 0;
            break;
        }
        for (int li = 0; li < ex.nlayers; li++)
            for (int ph = 0; ph < 3; ph++) {
                const st_phase_stats *a = &ex.layers[li].dense[ph], *b = &sa.layers[li].dense[ph];
                if (a->compute_cycles != b->compute_cycles || a->useful_macs != b->useful_macs) {
                    same = 0;
                    diag("seed %d layer %d %s: cycles %llu / %llu, MACs %llu / %llu", seed, li,
                         st_phase_name((st_phase)ph), (unsigned long long)a->compute_cycles,
                         (unsigned long long)b->compute_cycles, (unsigned long long)a->useful_macs,
                         (unsigned long long)b->useful_macs);
                }
            }
    }
    ok(same,
       "sim-8.7 FC layer with partial tiles and a partial dZ piece, sampled at 1%%: the dense "
       "baseline equals exact fidelity's, cycles and MACs, seeds 1-8");
    st_result_fini(&ex), st_result_fini(&sa);
    st_net_destroy(&net);
}

/* With sample_fraction = 1 the sample is everything: the estimate must
 * reduce to the exact sums, phase by phase, in both synchronisations. */
static void test_sampled_all(void)
{
    for (int sync = 0; sync < 2; sync++) {
        st_point pt;
        st_result ex, sa;
        int same = 1;

        st_point_init(&pt);
        pt.p = 0.9;
        pt.sync = sync;
        st_result_init(&ex), st_result_init(&sa);
        if (run_builtin("fmnist-resnet", &pt, &ex)) {
            ok(0, "sim-8.5 exact run");
            continue;
        }
        pt.fidelity = ST_FID_SAMPLED;
        pt.sample_fraction = 1;
        if (run_builtin("fmnist-resnet", &pt, &sa)) {
            ok(0, "sim-8.5 sampled run");
            st_result_fini(&ex);
            continue;
        }
        for (int li = 0; li < ex.nlayers; li++)
            for (int ph = 0; ph < 3; ph++) {
                const st_phase_stats *a = &ex.layers[li].run[ph], *b = &sa.layers[li].run[ph];
                if (a->compute_cycles != b->compute_cycles || a->useful_macs != b->useful_macs ||
                    a->sram_rd[0] != b->sram_rd[0] || a->sram_rd[1] != b->sram_rd[1]) {
                    same = 0;
                    diag("layer %d %s: cycles %llu / %llu, MACs %llu / %llu", li,
                         st_phase_name((st_phase)ph), (unsigned long long)a->compute_cycles,
                         (unsigned long long)b->compute_cycles, (unsigned long long)a->useful_macs,
                         (unsigned long long)b->useful_macs);
                }
            }
        ok(same,
           "sim-8.5.%d sample_fraction = 1 (%s): compute cycles, useful MACs and operand reads "
           "equal exact fidelity in every layer and phase",
           sync, sync ? "fifo" : "lockstep");
        st_result_fini(&ex), st_result_fini(&sa);
    }
}

/* The rows a sampled run asks for: whole channels, one PE-column tile of
 * each tensor at a small fraction (1x1 kernels: no triple tile reaches
 * beyond the tile). */
typedef struct want_rec {
    int layer, bad, act_ch, grad_ch;
} want_rec;

static int count_channels(const uint8_t *w, int ch, int rows, int *bad)
{
    int n = 0;

    for (int c = 0; c < ch; c++) {
        int k = 0;
        for (int y = 0; y < rows; y++)
            k += w[(size_t)c * rows + y] != 0;
        *bad |= k != 0 && k != rows;
        n += k == rows;
    }
    return n;
}

static int want_src(void *ctx, const st_net *net, int layer, int image, const uint8_t *aw,
                    const uint8_t *gw, st_layer_masks *m, st_err *err)
{
    want_rec *wr = ctx;
    const st_layer *l = st_net_layer(net, layer);

    if (layer == wr->layer) {
        wr->act_ch = aw ? count_channels(aw, l->in_c, l->in_h, &wr->bad) : -1;
        wr->grad_ch = gw ? count_channels(gw, l->out_c, l->out_h, &wr->bad) : -1;
    }
    return ones_src(NULL, net, layer, image, aw, gw, m, err);
}

static void test_sampled_rows(void)
{
    shape s = {64, 20, 20, 64, 1, 1, 0, 1};
    st_net *net = one_conv(&s, 1);
    st_point pt;
    st_result res;
    st_err err;
    want_rec wr = {0, 0, 0, 0};

    st_point_init(&pt);
    pt.fidelity = ST_FID_SAMPLED;
    pt.sample_fraction = 0.05; /* of 4 tiles of 16 channels: one */
    st_result_init(&res);
    wr.layer = net ? st_net_count(net) - 1 : 0; /* the second conv */
    if (!net || st_sim_run_src(net, &pt, want_src, &wr, &res, &err)) {
        ok(0, "sim-8.6 sampled run");
        st_net_destroy(&net);
        return;
    }
    ok(!wr.bad && wr.act_ch == 16 && wr.grad_ch == 17,
       "sim-8.6 a sampled run asks for whole channels: one tile of 16 of the 64 input channels, "
       "one of 16 and the partial last (1) of the 65 output channels "
       "(got %d, %d%s)",
       wr.act_ch, wr.grad_ch, wr.bad ? ", some channels in part" : "");
    st_result_fini(&res);
    st_net_destroy(&net);
}

int main(void)
{
    test_dense_closed_form();
    test_density_one();
    test_imbalance();
    test_monotone_in_p();
    test_dense_macs_networks();
    test_energy_and_determinism();
    test_errors();
    test_sampled();
    test_sampled_dense();
    test_sampled_all();
    test_sampled_rows();
    test_sampled_fc();
    return tap_done();
}
