/*
 * t_cost.c - invariants of the memory model over random design points:
 * with every skip on and format = auto, no layer's phase of the design
 * point moves more DRAM bytes, takes more cycles or costs more energy than
 * its dense baseline (BP may exceed it by its output bitmap alone); a
 * bigger buffer never moves more bytes (one byte of rounding aside), with
 * any format; with pe_subarrays, neither does an array of twice the PE rows
 * or columns.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "st.h"
#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static int pick(int lo, int hi)
{
    return lo + (int)(next() % (uint64_t)(hi - lo + 1));
}

static double unif(double lo, double hi)
{
    return lo + (hi - lo) * (double)(next() >> 11) / 9007199254740992.0;
}

/* A random small network: convolutions with ReLU, a pool, an FC layer. */
static st_net *random_net(int id)
{
    st_net *net = NULL;
    char name[32];
    int n = pick(2, 4);

    snprintf(name, sizeof name, "rnd%d", id);
    if (st_net_create(name, pick(1, 8), pick(8, 24), pick(8, 24), &net, NULL) != 0)
        return NULL;
    for (int i = 0; i < n; i++) {
        char ln[16];
        int k = pick(1, 5), s = pick(1, 2);
        snprintf(ln, sizeof ln, "c%d", i);
        if (st_net_conv(net, ln, i ? ST_PREV : -1, pick(2, 40), k, s, k / 2, 1, NULL) < 0)
            break;
        snprintf(ln, sizeof ln, "r%d", i);
        st_net_relu(net, ln, ST_PREV, NULL);
        if (i == 0 && pick(0, 1)) {
            snprintf(ln, sizeof ln, "p%d", i);
            st_net_pool(net, ln, ST_PREV, ST_MAXPOOL, 2, 2, 0, NULL);
        }
    }
    st_net_fc(net, "fc", ST_PREV, pick(2, 20), NULL);
    if (st_net_finish(net, NULL) != 0)
        st_net_destroy(&net);
    return net;
}

static void random_point(st_point *pt)
{
    st_point_init(pt);
    pt->pe_rows = pick(1, 16), pt->pe_cols = pick(1, 16);
    pt->kreg_len = pick(2, 16), pt->oreg_len = pick(4, 64);
    pt->macs_per_pe = pick(1, 2), pt->step_overhead = pick(0, 2);
    pt->ch0_kib = unif(4, 96), pt->ch1_kib = unif(4, 96), pt->ch2_kib = unif(16, 96);
    pt->dram_gbps = unif(1, 50), pt->dram_latency_ns = unif(0, 200);
    pt->batch = pick(1, 3);
    pt->p = pick(0, 1) ? 0 : unif(0, 0.99);
    pt->relu_density = unif(0.05, 1);
    pt->sync = pick(0, 1) ? ST_SYNC_FIFO : ST_SYNC_LOCKSTEP;
    pt->fifo_depth = pick(1, 8);
    pt->seed = (int64_t)(next() % 100000);
    pt->format = ST_FMT_AUTO;
}

/* Bits of BP's output bitmap of layer ls, over the batch. */
static double bitmap_bytes(const st_net *net, const st_layer_stats *ls, int batch)
{
    const st_layer *l = st_net_layer(net, ls->layer);
    return (double)st_layer_in_elems(l) * batch / 8;
}

/* FC forward, dense, batch 4, 2304 inputs, 100 outputs, 16 PE columns: 7
 * channel tiles; the batch's input (9216 values, 147456 bits) is one
 * window when pe_rows >= 4, two of 73728 bits at pe_rows 2. The weights of
 * one channel tile (16 x 2304 x 16 bits) do not fit half of ch1, so they
 * stream through it at every tile: 3686400 bits per spatial tile.
 * Outputs 400 x 16 bits. At 64 KiB the input fits half of ch0 and is
 * fetched once: 480032 bytes (pe_rows >= 4), 922400 (pe_rows 2, weights
 * twice). At 8 KiB neither the input nor a window fits: every tile fetches
 * its window again: 590624 and 1051424 bytes. An FC step reads one row per
 * PE row in use, so pe_rows beyond the batch change nothing. */
static void test_fc_closed_form(void)
{
    st_net *net = NULL;
    int bad = 0;
    char msg[256] = "";

    st_net_create("fc", 64, 6, 6, &net, NULL);
    st_net_fc(net, "fc", -1, 100, NULL);
    st_net_finish(net, NULL);
    for (int k = 0; k < 2; k++)
        for (int rows = 2; rows <= 16; rows *= 2) {
            st_point pt;
            st_result r;
            st_err err;
            uint64_t want = rows >= 4 ? (k ? 590624 : 480032) : (k ? 1051424 : 922400);
            st_point_init(&pt);
            pt.batch = 4, pt.pe_rows = rows, pt.ch0_kib = k ? 8 : 64;
            st_result_init(&r);
            if (st_sim_run(net, &pt, &r, &err) != 0 ||
                r.layers[0].dense[ST_FP].dram_bytes != want) {
                if (!bad++)
                    snprintf(msg, sizeof msg, "pe_rows %d, ch0 %g KiB: %llu bytes, want %llu", rows,
                             pt.ch0_kib,
                             r.layers ? (unsigned long long)r.layers[0].dense[ST_FP].dram_bytes
                                      : 0ull,
                             (unsigned long long)want);
            }
            st_result_fini(&r);
        }
    ok(bad == 0,
       "cost-2.1 FC forward, dense: DRAM bytes of the closed form at pe_rows 2 to 16, ch0 64 and "
       "8 KiB %s",
       msg);
    st_net_destroy(&net);
}

/* Per-image traffic against the batch: a 3x3 convolution of 128 to 128
 * channels on 14x14 whose weights (295 KB) do not fit in ch1 (64 KiB, and
 * one channel tile's 36.9 KB not in its half), while ch0 and ch2 hold
 * everything else. The weights can then be fetched once per batch only in
 * rounds: dense FP moves, per image, the input and output once and the
 * weights once per batch, so its bytes per image fall as the batch grows,
 * to the floor (every tensor once). */
static void test_batch_weights(void)
{
    st_net *net = NULL;
    double prev = INFINITY;
    int bad = 0;
    char msg[256] = "";

    st_net_create("conv", 128, 14, 14, &net, NULL);
    st_net_conv(net, "c", -1, 128, 3, 1, 1, 1, NULL);
    st_net_finish(net, NULL);
    for (int b = 1; b <= 8; b *= 2) {
        st_point pt;
        st_result r;
        st_err err;
        double per, floor_per;
        st_point_init(&pt);
        pt.batch = b, pt.ch0_kib = 4096, pt.ch1_kib = 64, pt.ch2_kib = 4096;
        st_result_init(&r);
        if (st_sim_run(net, &pt, &r, &err) != 0) {
            snprintf(msg, sizeof msg, "batch %d: %.200s", b, err.msg);
            bad++;
            break;
        }
        per = (double)r.layers[0].dense[ST_FP].dram_bytes / b;
        floor_per = (double)r.layers[0].dense[ST_FP].dram_floor_bytes / b;
        /* input 128x14x14 and output 128x14x14 16-bit values, weights over the batch */
        if (!(per < prev) || per != floor_per ||
            per != 2.0 * 128 * 14 * 14 * 2 + ceil(128.0 * 128 * 9 * 2 / b)) {
            if (!bad++)
                snprintf(msg, sizeof msg,
                         "batch %d: %.1f bytes per image (floor %.1f, before %.1f)", b, per,
                         floor_per, prev);
        }
        prev = per;
        st_result_fini(&r);
    }
    ok(bad == 0,
       "cost-3.1 weights that fit only in rounds come once per batch: dense FP bytes per image "
       "are the floor, input + output + weights / batch, at batch 1 to 8 %s",
       msg);
    st_net_destroy(&net);
}

/* cost-4: an array of twice the PE rows or columns, same buffers, never
 * moves more DRAM bytes, in any layer's phase, design point or dense
 * baseline (one byte of rounding aside), when the mapper may leave PEs idle
 * (pe_subarrays): the bigger array may run any tiling of the smaller one.
 * Random networks and points as cost-1, arrays up to 8 x 8 doubled. */
static void test_more_pes(void)
{
    int points = 0, tried = 0, bad = 0, phases = 0, smaller = 0;
    char first[512] = "";

    while (points < 120 && tried < 1000) {
        st_net *net = random_net(1000 + tried);
        st_point pt, big;
        st_result r, rb;
        st_err err;
        int rows = pick(0, 1);

        tried++;
        if (!net)
            continue;
        random_point(&pt);
        pt.pe_rows = pick(1, 8), pt.pe_cols = pick(1, 8);
        pt.pe_subarrays = 1;
        big = pt;
        if (rows)
            big.pe_rows *= 2;
        else
            big.pe_cols *= 2;
        st_result_init(&r);
        st_result_init(&rb);
        if (st_sim_run(net, &big, &rb, &err) != 0 || st_sim_run(net, &pt, &r, &err) != 0) {
            st_result_fini(&r);
            st_result_fini(&rb);
            st_net_destroy(&net);
            continue; /* a design the buffers refuse: draw another */
        }
        points++;
        for (int i = 0; i < r.nlayers; i++)
            for (int ph = 0; ph < ST_PHASE_COUNT; ph++)
                for (int v = 0; v < 2; v++) {
                    const st_phase_stats *s = v ? &r.layers[i].dense[ph] : &r.layers[i].run[ph];
                    const st_phase_stats *b = v ? &rb.layers[i].dense[ph] : &rb.layers[i].run[ph];
                    if (!b->pe_rows)
                        continue;
                    phases++;
                    smaller += b->pe_rows != big.pe_rows || b->pe_cols != big.pe_cols;
                    if (b->dram_bytes > s->dram_bytes + 1 && !bad++)
                        snprintf(
                            first, sizeof first,
                            "%s layer %d %s %s: %dx%d moves %llu bytes (on %dx%d), %dx%d "
                            "%llu (on %dx%d); ch %g/%g/%g, batch %d",
                            st_net_name(net), i, st_phase_name((st_phase)ph), v ? "dense" : "run",
                            big.pe_rows, big.pe_cols, (unsigned long long)b->dram_bytes, b->pe_rows,
                            b->pe_cols, pt.pe_rows, pt.pe_cols, (unsigned long long)s->dram_bytes,
                            s->pe_rows, s->pe_cols, pt.ch0_kib, pt.ch1_kib, pt.ch2_kib, pt.batch);
                }
        st_result_fini(&r);
        st_result_fini(&rb);
        st_net_destroy(&net);
    }
    if (first[0])
        diag("first violation: %s", first);
    ok(points >= 120 && bad == 0,
       "cost-4.1 with pe_subarrays, twice the PE rows or columns never moves more DRAM bytes, "
       "design point or dense baseline, in any layer's phase (%d of %d phase-variants of %d "
       "points; the bigger array used a smaller one in %d)",
       bad, phases, points, smaller);
}

int main(void)
{
    int points = 0, tried = 0, bad_bytes = 0, bad_cyc = 0, bad_energy = 0, bad_buf = 0, strict = 0,
        traded = 0;
    double worst_trade = 1;
    char first[1024] = "";

    tap_plan(8);
    test_fc_closed_form();
    test_batch_weights();
    while (points < 200 && tried < 2000) {
        st_net *net = random_net(tried);
        st_point pt, big;
        st_result r, rb;
        st_err err;
        int which = pick(0, 2), fixed;

        tried++;
        if (!net)
            continue;
        random_point(&pt);
        /* fixed formats may cost more than dense; only buffer growth is checked */
        fixed = pick(0, 3) == 0;
        if (fixed)
            pt.format = pick(0, 1) ? ST_FMT_OFFSET : ST_FMT_BITMAP;
        st_result_init(&r);
        st_result_init(&rb);
        if (st_sim_run(net, &pt, &r, &err) != 0) {
            st_net_destroy(&net);
            continue; /* a design the buffers refuse: draw another */
        }
        points++;
        big = pt;
        if (which == 0)
            big.ch0_kib *= 2;
        else if (which == 1)
            big.ch1_kib *= 2;
        else
            big.ch2_kib *= 2;
        if (st_sim_run(net, &big, &rb, &err) != 0)
            bad_buf++;
        for (int i = 0; i < r.nlayers; i++)
            for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
                const st_phase_stats *s = &r.layers[i].run[ph], *d = &r.layers[i].dense[ph];
                double allow = ph == ST_BP ? bitmap_bytes(net, &r.layers[i], pt.batch) : 0;
                /* what the bitmap's bytes may add: their transfer time and
                 * their DRAM energy (a visit's rounding up: one byte each) */
                double cyc_allow = allow > 0 ? (allow + 1e4) * pt.clock_mhz / (pt.dram_gbps * 1e3) +
                                                   1e4 * pt.dram_latency_ns * pt.clock_mhz / 1e3
                                             : 0;
                double e_allow = allow > 0 ? st_energy_dram_pj(&pt, allow + 1e4) : 0;
                const st_phase_stats *sb = rb.layers ? &rb.layers[i].run[ph] : NULL;
                if (!fixed &&
                    (double)s->dram_bytes > (double)d->dram_bytes + allow + (allow > 0 ? 1e4 : 0)) {
                    if (!bad_bytes++)
                        snprintf(first, sizeof first,
                                 "%s layer %d %s: bytes %llu > dense %llu (pe %dx%d, ch %g/%g/%g)",
                                 st_net_name(net), i, st_phase_name((st_phase)ph),
                                 (unsigned long long)s->dram_bytes,
                                 (unsigned long long)d->dram_bytes, pt.pe_rows, pt.pe_cols,
                                 pt.ch0_kib, pt.ch1_kib, pt.ch2_kib);
                }
                /* the mapper minimises traffic first: a loop order that
                 * moves fewer bytes may hide them worse under compute. That
                 * may cost stall cycles: not more than 1%, unless the phase
                 * moves fewer bytes than dense (the mapper's trade, counted) */
                strict += !fixed && st_phase_cycles(s) > st_phase_cycles(d);
                if (!fixed &&
                    (double)st_phase_cycles(s) > (double)st_phase_cycles(d) * 1.01 + cyc_allow &&
                    s->dram_bytes < d->dram_bytes) {
                    traded++;
                    worst_trade =
                        fmax(worst_trade, (double)st_phase_cycles(s) / (double)st_phase_cycles(d));
                } else if (!fixed && (double)st_phase_cycles(s) >
                                         (double)st_phase_cycles(d) * 1.01 + cyc_allow) {
                    if (!bad_cyc++ && !first[0])
                        snprintf(first, sizeof first,
                                 "%s layer %d %s: cycles %llu (%s x%d, stall %llu) > dense %llu "
                                 "(%s x%d, stall %llu); pe %dx%d, ch %g/%g/%g, batch %d, "
                                 "%g GB/s, %g ns",
                                 st_net_name(net), i, st_phase_name((st_phase)ph),
                                 (unsigned long long)st_phase_cycles(s), st_order_name(s->order),
                                 s->rounds, (unsigned long long)s->stall_cycles,
                                 (unsigned long long)st_phase_cycles(d), st_order_name(d->order),
                                 d->rounds, (unsigned long long)d->stall_cycles, pt.pe_rows,
                                 pt.pe_cols, pt.ch0_kib, pt.ch1_kib, pt.ch2_kib, pt.batch,
                                 pt.dram_gbps, pt.dram_latency_ns);
                }
                if (!fixed &&
                    st_phase_energy_pj(s) > st_phase_energy_pj(d) * (1 + 1e-12) + e_allow) {
                    if (!bad_energy++ && !first[0])
                        snprintf(first, sizeof first, "%s layer %d %s: energy %g > dense %g",
                                 st_net_name(net), i, st_phase_name((st_phase)ph),
                                 st_phase_energy_pj(s), st_phase_energy_pj(d));
                }
                if (rb.layers && (sb->dram_bytes > s->dram_bytes + 1 ||
                                  rb.layers[i].dense[ph].dram_bytes > d->dram_bytes + 1)) {
                    if (!bad_buf++ && !first[0])
                        snprintf(first, sizeof first,
                                 "%s layer %d %s: ch%d x2 moves %llu bytes (%s, %s), was %llu "
                                 "(%s, %s); format %d, pe %dx%d, ch %g/%g/%g, batch %d",
                                 st_net_name(net), i, st_phase_name((st_phase)ph), which,
                                 (unsigned long long)sb->dram_bytes, st_order_name(sb->order),
                                 st_store_name(sb->store[0]), (unsigned long long)s->dram_bytes,
                                 st_order_name(s->order), st_store_name(s->store[0]), pt.format,
                                 pt.pe_rows, pt.pe_cols, pt.ch0_kib, pt.ch1_kib, pt.ch2_kib,
                                 pt.batch);
                }
            }
        st_result_fini(&r);
        st_result_fini(&rb);
        st_net_destroy(&net);
    }
    if (first[0])
        diag("first violation: %s", first);
    ok(points >= 200, "cost-1.1 200 random valid design points (%d drawn)", tried);
    ok(bad_bytes == 0, "cost-1.2 no phase moves more DRAM bytes than dense, BP's bitmap aside (%d)",
       bad_bytes);
    ok(bad_cyc == 0,
       "cost-1.3 no phase takes more than 1%% more cycles than dense unless it moves fewer bytes "
       "(%d; %d phases above dense, %d of them traded cycles for bytes, at most x%.3f)",
       bad_cyc, strict, traded, worst_trade);
    ok(bad_energy == 0, "cost-1.4 no phase costs more energy than dense (%d)", bad_energy);
    ok(bad_buf == 0, "cost-1.5 a buffer twice as big never moves more bytes (%d)", bad_buf);
    test_more_pes();
    return tap_done();
}
