/*
 * map.c - the "simple compiler": how a layer's phase is laid on the PE array
 * and into the three buffers (tile sizes, channels per round) and what each
 * tile moves to and from DRAM. The timing of the tiles lives in sim.c.
 */
#include <stdio.h>

#include "engine.h"

void st_geom_of(const st_layer *l, int batch, st_geom *g)
{
    if (l->kind == ST_FC) {
        /* One row per image: the batch shares the array's PE rows. */
        g->fc = 1;
        g->groups = 1;
        g->C = 1, g->IH = batch, g->IW = l->in_c * l->in_h * l->in_w;
        g->M = l->out_c, g->OH = batch, g->OW = 1;
        g->KH = 1, g->KW = g->IW, g->SH = 1, g->SW = 1, g->PT = 0, g->PL = 0;
        g->passes = 1;
        return;
    }
    g->fc = 0;
    g->groups = l->groups;
    g->C = l->in_c / l->groups, g->IH = l->in_h, g->IW = l->in_w;
    g->M = l->out_c / l->groups, g->OH = l->out_h, g->OW = l->out_w;
    g->KH = l->k_h, g->KW = l->k_w, g->SH = l->stride_h, g->SW = l->stride_w;
    g->PT = l->pad_t, g->PL = l->pad_l;
    g->passes = batch;
}

double st_store_bits(const st_point *pt, st_store s, uint64_t n, uint64_t z)
{
    if (s == ST_STORE_OFFSET)
        return (double)z * (pt->data_bits + pt->index_bits);
    if (s == ST_STORE_BITMAP)
        return (double)n + (double)z * pt->data_bits;
    return (double)n * pt->data_bits;
}

uint64_t st_store_words(st_store s, uint64_t n, uint64_t z)
{
    return s == ST_STORE_DENSE ? n : z;
}

st_store st_store_pick(const st_point *pt, int compressed, uint64_t n, uint64_t z)
{
    st_store best = ST_STORE_DENSE;

    if (!compressed)
        return ST_STORE_DENSE;
    if (pt->format == ST_FMT_OFFSET)
        return ST_STORE_OFFSET;
    if (pt->format == ST_FMT_BITMAP)
        return ST_STORE_BITMAP;
    for (st_store s = ST_STORE_OFFSET; s <= ST_STORE_BITMAP; s++)
        if (st_store_bits(pt, s, n, z) < st_store_bits(pt, best, n, z))
            best = s;
    return best;
}

/* Bits that n stored positions may take, whatever their zeros: what a buffer
 * must be able to hold for a step, since the density of the next one is not
 * known. Under format = auto a tensor is compressed only when that is
 * smaller than dense, and a step of it never exceeds its dense size. */
static double worst_bits(const st_point *pt, uint64_t n, int compressed)
{
    st_store s = !compressed || pt->format == ST_FMT_AUTO ? ST_STORE_DENSE
                 : pt->format == ST_FMT_OFFSET            ? ST_STORE_OFFSET
                                                          : ST_STORE_BITMAP;
    return st_store_bits(pt, s, n, n);
}

static int too_small(st_err *err, const st_layer *l, st_phase ph, const char *buf, double kib,
                     double need_bits, const char *what)
{
    return st_err_set(err, ST_EINVAL,
                      "layer '%s' (%s): buffer %s_kib = %g is too small: %s need %.2f KiB "
                      "(double-buffered: half the buffer is filled while the other half is used)",
                      l->name, st_phase_name(ph), buf, kib, what, need_bits / 8192.0 * 2);
}

/*
 * What must fit, per phase. A step needs, double-buffered, the streamed row
 * piece of every PE row (ch0) and the second operand of every PE column or
 * row (ch1); partial sums of a tile stay in the PE registers and leave
 * through ch2 at the end of the tile. Beyond that minimum, the streamed
 * window of one channel (all the rows its kernel rows touch, m->win
 * positions) should stay in half of ch0 while its kernel rows are applied;
 * when it does not (the cost module decides, from its size as stored),
 * every step fetches its rows again and the traffic grows by m->spill.
 */
int st_map_plan(const st_layer *l, const st_geom *g, const st_point *pt, st_phase ph,
                int compressed, st_map *m, st_err *err)
{
    double half0 = pt->ch0_kib * 8192.0 / 2, half1 = pt->ch1_kib * 8192.0 / 2;
    double ch2 = pt->ch2_kib * 8192.0;
    int R = pt->pe_rows, Cc = pt->pe_cols;
    double step0, step1, psum;
    int rows, win_rows, cols, used;

    m->pieces = (g->KW + pt->kreg_len - 1) / pt->kreg_len;
    m->taps = g->KW < pt->kreg_len ? g->KW : pt->kreg_len;
    m->win = 0;
    m->spill = 1;
    if (ph == ST_WG) {
        /* one dZ row per PE column, one activation row piece per PE row */
        int apiece = (g->OW - 1) * g->SW + m->taps;
        m->seg = g->OW;
        step0 = worst_bits(pt, (uint64_t)g->OW, compressed) * (Cc < g->M ? Cc : g->M);
        step1 = worst_bits(pt, (uint64_t)(apiece < g->IW ? apiece : g->IW), compressed) * R;
        if (step0 > half0)
            return too_small(err, l, ph, "ch0", pt->ch0_kib, step0, "the dZ rows of one step");
        if (step1 > half1)
            return too_small(err, l, ph, "ch1", pt->ch1_kib, step1,
                             "the activation rows of one step");
        psum = (double)R * Cc * m->taps * pt->psum_bits;
        if (psum > ch2)
            return st_err_set(err, ST_EINVAL,
                              "layer '%s' (%s): buffer ch2_kib = %g is too small: the weight "
                              "gradient rows of one tile need %.2f KiB",
                              l->name, st_phase_name(ph), pt->ch2_kib, psum / 8192.0);
        return 0;
    }
    if (ph == ST_FP) {
        m->seg = g->OW < pt->oreg_len ? g->OW : pt->oreg_len;
        rows = (R - 1) * g->SH + g->KH;
        cols = (m->seg - 1) * g->SW + m->taps;
        win_rows = rows < g->IH ? rows : g->IH;
        used = R < g->OH ? R : g->OH; /* PE rows in use */
        m->win = (uint64_t)win_rows * (uint64_t)((m->seg - 1) * g->SW + g->KW);
        step1 = (double)(Cc < g->M ? Cc : g->M) * m->taps * pt->data_bits;
    } else {
        m->seg = g->IW < pt->oreg_len ? g->IW : pt->oreg_len;
        rows = (R + g->KH - 2) / g->SH + 1;
        cols = (m->seg + m->taps - 2) / g->SW + 1;
        win_rows = rows < g->OH ? rows : g->OH;
        used = R < g->IH ? R : g->IH;
        m->win = (uint64_t)win_rows * (uint64_t)((m->seg + g->KW - 2) / g->SW + 1);
        step1 = (double)(Cc < g->C ? Cc : g->C) * m->taps * pt->data_bits;
    }
    step0 = worst_bits(pt, (uint64_t)R * (uint64_t)cols, compressed);
    psum = (double)R * Cc * m->seg * pt->psum_bits;
    if (step0 > half0)
        return too_small(err, l, ph, "ch0", pt->ch0_kib, step0, "the streamed rows of one step");
    if (step1 > half1)
        return too_small(err, l, ph, "ch1", pt->ch1_kib, step1, "the kernel rows of one step");
    if (psum > ch2)
        return st_err_set(err, ST_EINVAL,
                          "layer '%s' (%s): buffer ch2_kib = %g is too small: the partial sums "
                          "of one tile need %.2f KiB",
                          l->name, st_phase_name(ph), pt->ch2_kib, psum / 8192.0);
    /* Each step fetches, for the rows in use, the rows of one kernel row:
     * used x KH rows per channel (BP: one in SH of them exists) instead of
     * the win_rows of its window. */
    m->spill = (double)used * g->KH / (ph == ST_BP ? g->SH : 1) / win_rows;
    if (m->spill < 1)
        m->spill = 1;
    return 0;
}
