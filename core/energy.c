/*
 * energy.c - the price of each event the simulator counts (a MAC, a register or SRAM
 * access, a DRAM byte) and the chip's leakage power, from a design point's fields.
 * Counting events is the simulator's job; the default figures and their sources are
 * in param.c and docs/energy-area.md.
 */
#include <math.h>

#include "st.h"

double st_energy_sram_pj(const st_point *pt, double kib, int width_bits)
{
    double e = NAN;

    /* E = E_ref (C / C_ref)^a * w / 64: the power law fitted to the 64-bit reads of
     * Horowitz, ISSCC 2014 (8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ); an access moves w
     * bits, and the bit lines it drives grow linearly with w. */
    if (pt && kib > 0 && width_bits >= 0)
        e = pt->e_sram_ref_pj * pow(kib / pt->sram_ref_kib, pt->sram_exp) * (width_bits / 64.0);
    return e;
}

double st_energy_mac_pj(const st_point *pt)
{
    double e = NAN, r;

    /* e_mac_pj holds for 16-bit data. An array multiplier has (bits)^2 partial-product
     * cells, so its energy grows with the square of the width; the adder's linear
     * growth is folded into the same factor, which overstates it for wider data. */
    if (pt) {
        r = pt->data_bits / 16.0;
        e = pt->e_mac_pj * r * r;
    }
    return e;
}

double st_energy_reg_pj(const st_point *pt, int width_bits)
{
    double e = NAN;

    /* A register access drives one flip-flop per bit: linear in the width, e_reg_pj for
     * a 16-bit entry. */
    if (pt && width_bits >= 0)
        e = pt->e_reg_pj * (width_bits / 16.0);
    return e;
}

double st_energy_dram_pj(const st_point *pt, double bytes)
{
    double e = NAN;

    if (pt && bytes >= 0)
        e = bytes * 8.0 * pt->e_dram_pj_per_bit;
    return e;
}

double st_leakage_mw(const st_point *pt)
{
    double p = NAN;

    if (pt)
        p = pt->leak_mw_per_kib * (pt->ch0_kib + pt->ch1_kib + pt->ch2_kib) +
            pt->leak_mw_per_mm2 * (double)pt->pe_rows * (double)pt->pe_cols * st_area_pe_mm2(pt);
    return p;
}
