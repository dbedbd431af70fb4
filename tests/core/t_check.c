/*
 * t_check.c - st_result_check: a simulation's result with a figure that is not a finite
 * number is refused with the figure's name and value, a finite one passes, and the
 * parameter range that made the example of the hostile test (sram_ref_kib = 5e-324,
 * whose power law overflowed to NaN energies) is closed.
 */
#include <math.h>
#include <string.h>

#include "../tap.h"
#include "st.h"

int main(void)
{
    st_net *net = NULL;
    st_point pt;
    st_result res;
    st_err err;
    char want[200];
    int rc;

    st_err_clear(&err);
    st_point_init(&pt);
    st_result_init(&res);
    st_net_builtin("fmnist-cnn", &net, &err);
    rc = st_sim_run(net, &pt, &res, &err);
    ok(rc == 0 && st_result_check(&res, &pt, &err) == ST_OK,
       "check-1.1 the default point's result is all finite");

    res.run.energy_pj[ST_E_CH1] = NAN;
    ok(st_result_check(&res, &pt, &err) == ST_EINVAL &&
           strstr(err.msg, "ch1 of energy of the run is nan, not a finite number") &&
           strstr(err.msg, "sram_ref_kib = 8"),
       "check-1.2 a NaN energy of the run is named, with the energy model's parameters: %s",
       err.msg);
    res.run.energy_pj[ST_E_CH1] = 1;
    res.layers[1].dense[ST_WG].energy_pj[ST_E_DRAM] = INFINITY;
    snprintf(want, sizeof want, "dram of energy of layer %d is inf, not a finite number",
             res.layers[1].layer);
    ok(st_result_check(&res, NULL, &err) == ST_EINVAL && !strcmp(err.msg, want),
       "check-1.3 an infinite energy of one layer and phase is named: %s", err.msg);
    res.layers[1].dense[ST_WG].energy_pj[ST_E_DRAM] = 1;
    res.images_per_s = INFINITY;
    ok(st_result_check(&res, NULL, &err) == ST_EINVAL && strstr(err.msg, "images_per_s"),
       "check-1.4 an infinite throughput: %s", err.msg);
    res.images_per_s = 1;
    res.layers[0].grad_density = NAN;
    ok(st_result_check(&res, NULL, &err) == ST_EINVAL && strstr(err.msg, "grad_density of layer"),
       "check-1.5 a NaN density: %s", err.msg);
    res.layers[0].grad_density = 0.5;
    res.run_phase[ST_BP].energy_pj[ST_E_MAC] = -INFINITY;
    ok(st_result_check(&res, NULL, &err) == ST_EINVAL && strstr(err.msg, "mac of energy of phase bp"),
       "check-1.6 an infinite energy of one phase: %s", err.msg);
    res.run_phase[ST_BP].energy_pj[ST_E_MAC] = 1;
    for (int e = 0; e < ST_E_COUNT; e++)
        res.run.energy_pj[e] = 0;
    res.energy_gain = NAN;
    ok(st_result_check(&res, NULL, &err) == ST_EINVAL &&
           strstr(err.msg, "energy_gain is 0/0: the point's energy is 0"),
       "check-1.7 0/0 for the gain says the energy is 0: %s", err.msg);
    ok(st_result_check(NULL, NULL, &err) == ST_EINVAL && strstr(err.msg, "no result"),
       "check-1.8 no result: %s", err.msg);

    ok(st_point_set(&pt, "sram_ref_kib", "5e-324", &err) == ST_EINVAL &&
           !strcmp(err.msg, "sram_ref_kib = 5e-324: must be in [0.0625, 65536]"),
       "check-2.1 sram_ref_kib below 64 bytes is refused: %s", err.msg);
    ok(st_point_set(&pt, "sram_ref_kib", "0.0625", &err) == ST_OK,
       "check-2.2 64 bytes is accepted");
    /* The extreme corner of the power law: (65536 / 0.0625)^2 * 10000 pJ per access. */
    st_point_set(&pt, "sram_exp", "2", &err);
    st_point_set(&pt, "e_sram_ref_pj", "10000", &err);
    st_point_set(&pt, "ch0_kib", "65536", &err);
    rc = st_sim_run(net, &pt, &res, &err);
    ok(rc == 0 && st_result_check(&res, &pt, &err) == ST_OK,
       "check-2.3 the extreme corner of the SRAM power law stays finite: %s", rc ? err.msg : "");
    ok(st_point_set(&pt, "pe_rows", "1e9", &err) == ST_EINVAL &&
           !strcmp(err.msg, "pe_rows = 1e9: must be in [1, 4096]"),
       "check-3.1 pe_rows = 1e9 names the range: %s", err.msg);
    ok(st_point_set(&pt, "pe_rows", "16.5", &err) == ST_EINVAL &&
           !strcmp(err.msg, "pe_rows = '16.5': must be a whole number"),
       "check-3.2 pe_rows = 16.5 is not a whole number: %s", err.msg);
    ok(st_point_set(&pt, "pe_rows", "3.2e1", &err) == ST_OK && pt.pe_rows == 32,
       "check-3.3 pe_rows = 3.2e1 is 32");
    ok(st_point_set(&pt, "pe_rows", "-1e400", &err) == ST_EINVAL && strstr(err.msg, "must be in"),
       "check-3.4 -1e400 names the range: %s", err.msg);
    st_result_fini(&res);
    st_net_destroy(&net);
    return tap_done();
}
