/*
 * area.c - the silicon area of a design point: its PE array and its three on-chip
 * buffers. Per-PE and per-KiB figures are parameters (param.c, docs/energy-area.md);
 * wiring, control and I/O pads are not modelled.
 */
#include <math.h>
#include <string.h>

#include "st.h"

double st_area_pe_mm2(const st_point *pt)
{
    if (!pt)
        return NAN;
    return (double)pt->macs_per_pe * pt->area_mac_mm2 +
           ((double)pt->kreg_len * pt->data_bits + (double)pt->oreg_len * pt->psum_bits) *
               pt->area_reg_bit_mm2;
}

int st_area_get(const st_point *pt, st_area *a)
{
    st_area r;
    int rc = ST_EINVAL;

    if (!a)
        goto done;
    memset(a, 0, sizeof *a);
    if (!pt)
        goto done;
    r.pe_mm2 = (double)pt->pe_rows * (double)pt->pe_cols * st_area_pe_mm2(pt);
    r.sram_mm2 = (pt->ch0_kib + pt->ch1_kib + pt->ch2_kib) * pt->area_sram_mm2_per_kib;
    r.total_mm2 = r.pe_mm2 + r.sram_mm2;
    /* Comparisons written so that NaN fails them. */
    if (!(r.pe_mm2 >= 0 && r.sram_mm2 >= 0 && isfinite(r.total_mm2)))
        goto done;
    *a = r;
    rc = ST_OK;
done:
    return rc;
}
