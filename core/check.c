/*
 * check.c - the check of a simulation's results: every real-valued figure is a finite
 * number. The figures themselves come from sim.c; ranges of the parameters are param.c's.
 */
#include <math.h>
#include <stdio.h>

#include "st.h"

/* Where the first figure that is not finite was found. */
typedef struct bad {
    const char *what;
    char where[128]; /* "energy of " and a where of up to 95 characters */
    double v;
} bad;

static int phase_ok(const st_phase_stats *s, const char *where, bad *b)
{
    for (int e = 0; e < ST_E_COUNT; e++)
        if (!isfinite(s->energy_pj[e])) {
            b->what = st_ecomp_name((st_ecomp)e);
            snprintf(b->where, sizeof b->where, "energy of %s", where);
            b->v = s->energy_pj[e];
            return 0;
        }
    return 1;
}

static int num_ok(double v, const char *what, bad *b)
{
    if (isfinite(v))
        return 1;
    b->what = what;
    snprintf(b->where, sizeof b->where, "the totals");
    b->v = v;
    return 0;
}

int st_result_check(const st_result *res, const st_point *pt, st_err *err)
{
    bad b;
    char where[96];
    int ok = 1;

    if (!res)
        return st_err_set(err, ST_EINVAL, "st_result_check: no result");
    if (st_phase_energy_pj(&res->run) == 0 && !isfinite(res->energy_gain))
        return st_err_set(err, ST_EINVAL,
                          "energy_gain is 0/0: the point's energy is 0 (every e_* and leak_* "
                          "figure 0?), so there is no gain to report");
    ok = num_ok(res->speedup, "speedup", &b) && num_ok(res->energy_gain, "energy_gain", &b) &&
         num_ok(res->area_mm2, "area_mm2", &b) && num_ok(res->time_s, "time_s", &b) &&
         num_ok(res->images_per_s, "images_per_s", &b) && phase_ok(&res->run, "the run", &b) &&
         phase_ok(&res->dense, "the dense baseline", &b);
    for (int ph = 0; ok && ph < ST_PHASE_COUNT; ph++) {
        snprintf(where, sizeof where, "phase %s", st_phase_name((st_phase)ph));
        ok = phase_ok(&res->run_phase[ph], where, &b) && phase_ok(&res->dense_phase[ph], where, &b);
    }
    for (int i = 0; ok && i < res->nlayers; i++) {
        const st_layer_stats *ls = &res->layers[i];
        snprintf(where, sizeof where, "layer %d", ls->layer);
        ok = num_ok(ls->act_density, "act_density", &b) &&
             num_ok(ls->grad_density, "grad_density", &b);
        for (int ph = 0; ok && ph < ST_PHASE_COUNT; ph++)
            ok = phase_ok(&ls->run[ph], where, &b) && phase_ok(&ls->dense[ph], where, &b);
        if (!ok && b.where[0] == 't')
            snprintf(b.where, sizeof b.where, "%s", where);
    }
    if (ok)
        return ST_OK;
    if (pt)
        return st_err_set(err, ST_EINVAL,
                          "%s of %s is %g, not a finite number: the design point's figures "
                          "overflow the model (sram_ref_kib = %g, sram_exp = %g, e_sram_ref_pj = "
                          "%g, e_mac_pj = %g, e_dram_pj_per_bit = %g, clock_mhz = %g)",
                          b.what, b.where, b.v, pt->sram_ref_kib, pt->sram_exp, pt->e_sram_ref_pj,
                          pt->e_mac_pj, pt->e_dram_pj_per_bit, pt->clock_mhz);
    return st_err_set(err, ST_EINVAL, "%s of %s is %g, not a finite number", b.what, b.where, b.v);
}
