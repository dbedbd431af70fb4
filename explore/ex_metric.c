/*
 * ex_metric.c - the table of metrics a point's record holds, and of the fields of the
 * per-layer, per-phase detail: name, type, unit, meaning. The HDF5 columns, the Lua
 * `keep` constraint and the docs all read it; adding a metric is one row here and one
 * line in ex_metrics_fill.
 */
#include <math.h>
#include <string.h>

#include "ex.h"

enum {
    M_CYCLES = 0,
    M_DENSE_CYCLES,
    M_SPEEDUP,
    M_ENERGY_PJ,
    M_DENSE_ENERGY_PJ,
    M_ENERGY_GAIN,
    M_AREA_MM2,
    M_TIME_S,
    M_IMAGES_PER_S,
    M_USEFUL_MACS,
    M_DENSE_MACS,
    M_DRAM_BYTES,
    M_STALL_CYCLES,
    M_DENSE_DRAM_BYTES,
    M_DRAM_FLOOR_BYTES,
    M_CYCLES_FP,
    M_CYCLES_BP,
    M_CYCLES_WG,
    M_DENSE_CYCLES_FP,
    M_DENSE_CYCLES_BP,
    M_DENSE_CYCLES_WG,
    M_SPEEDUP_FP, /* per phase: speedup, energy, dense energy, energy gain (FP, BP, WG) */
    M_SPEEDUP_BP,
    M_SPEEDUP_WG,
    M_ENERGY_PJ_FP,
    M_ENERGY_PJ_BP,
    M_ENERGY_PJ_WG,
    M_DENSE_ENERGY_PJ_FP,
    M_DENSE_ENERGY_PJ_BP,
    M_DENSE_ENERGY_PJ_WG,
    M_ENERGY_GAIN_FP,
    M_ENERGY_GAIN_BP,
    M_ENERGY_GAIN_WG,
    M_ENERGY_PJ_MAC, /* per component, in the order of st_ecomp */
    M_ENERGY_PJ_REG,
    M_ENERGY_PJ_CH0,
    M_ENERGY_PJ_CH1,
    M_ENERGY_PJ_CH2,
    M_ENERGY_PJ_DRAM,
    M_ENERGY_PJ_LEAK,
    M_DENSE_ENERGY_PJ_MAC,
    M_DENSE_ENERGY_PJ_REG,
    M_DENSE_ENERGY_PJ_CH0,
    M_DENSE_ENERGY_PJ_CH1,
    M_DENSE_ENERGY_PJ_CH2,
    M_DENSE_ENERGY_PJ_DRAM,
    M_DENSE_ENERGY_PJ_LEAK,
    M_DRAM_OVER_FLOOR,
    M_TEST_ACCURACY,
    M_TEST_LOSS,
    M_TRAIN_LOSS,
    M_COUNT
};

/* The rows per component follow st_ecomp, and those per phase st_phase. */
_Static_assert(M_ENERGY_PJ_LEAK - M_ENERGY_PJ_MAC + 1 == ST_E_COUNT &&
                   M_DENSE_ENERGY_PJ_MAC - M_ENERGY_PJ_MAC == ST_E_COUNT,
               "one energy metric per st_ecomp");
_Static_assert(M_SPEEDUP_WG - M_SPEEDUP_FP + 1 == ST_PHASE_COUNT, "one metric per phase");

static const ex_metric metric_table[M_COUNT] = {
    {"cycles", EX_U64, "cycles", "cycles of one training iteration (compute + DRAM stalls)"},
    {"dense_cycles", EX_U64, "cycles", "the same on the same hardware with zero skipping off"},
    {"speedup", EX_F64, "", "dense_cycles / cycles"},
    {"energy_pj", EX_F64, "pJ", "energy of one training iteration"},
    {"dense_energy_pj", EX_F64, "pJ", "energy of the dense baseline"},
    {"energy_gain", EX_F64, "", "dense_energy_pj / energy_pj"},
    {"area_mm2", EX_F64, "mm^2", "silicon area of the design"},
    {"time_s", EX_F64, "s", "time of one training iteration at the clock"},
    {"images_per_s", EX_F64, "images/s", "training throughput"},
    {"useful_macs", EX_U64, "MACs", "multiply-accumulates issued"},
    {"dense_macs", EX_U64, "MACs", "multiply-accumulates of the dense computation"},
    {"dram_bytes", EX_U64, "bytes", "off-chip traffic"},
    {"stall_cycles", EX_U64, "cycles", "cycles spent waiting for DRAM"},
    {"dense_dram_bytes", EX_U64, "bytes", "off-chip traffic of the dense baseline"},
    {"dram_floor_bytes", EX_U64, "bytes",
     "compulsory traffic: every tensor moved once per phase, as stored"},
    {"cycles_fp", EX_U64, "cycles", "cycles of the forward phase"},
    {"cycles_bp", EX_U64, "cycles", "cycles of the input-gradient phase"},
    {"cycles_wg", EX_U64, "cycles", "cycles of the weight-gradient phase"},
    {"dense_cycles_fp", EX_U64, "cycles", "dense cycles of the forward phase"},
    {"dense_cycles_bp", EX_U64, "cycles", "dense cycles of the input-gradient phase"},
    {"dense_cycles_wg", EX_U64, "cycles", "dense cycles of the weight-gradient phase"},
    {"speedup_fp", EX_F64, "", "dense_cycles_fp / cycles_fp"},
    {"speedup_bp", EX_F64, "", "dense_cycles_bp / cycles_bp"},
    {"speedup_wg", EX_F64, "", "dense_cycles_wg / cycles_wg"},
    {"energy_pj_fp", EX_F64, "pJ", "energy of the forward phase"},
    {"energy_pj_bp", EX_F64, "pJ", "energy of the input-gradient phase"},
    {"energy_pj_wg", EX_F64, "pJ", "energy of the weight-gradient phase"},
    {"dense_energy_pj_fp", EX_F64, "pJ", "dense energy of the forward phase"},
    {"dense_energy_pj_bp", EX_F64, "pJ", "dense energy of the input-gradient phase"},
    {"dense_energy_pj_wg", EX_F64, "pJ", "dense energy of the weight-gradient phase"},
    {"energy_gain_fp", EX_F64, "", "dense_energy_pj_fp / energy_pj_fp"},
    {"energy_gain_bp", EX_F64, "", "dense_energy_pj_bp / energy_pj_bp"},
    {"energy_gain_wg", EX_F64, "", "dense_energy_pj_wg / energy_pj_wg"},
    {"energy_pj_mac", EX_F64, "pJ", "energy of the multiply-accumulates"},
    {"energy_pj_reg", EX_F64, "pJ", "energy of the PE registers (kernel row, output segment)"},
    {"energy_pj_ch0", EX_F64, "pJ", "energy of buffer ch0 (the streamed sparse operand)"},
    {"energy_pj_ch1", EX_F64, "pJ", "energy of buffer ch1 (the second operand)"},
    {"energy_pj_ch2", EX_F64, "pJ", "energy of buffer ch2 (partial sums)"},
    {"energy_pj_dram", EX_F64, "pJ", "energy of the off-chip transfers"},
    {"energy_pj_leak", EX_F64, "pJ", "leakage energy over the run time"},
    {"dense_energy_pj_mac", EX_F64, "pJ", "dense baseline: energy of the multiply-accumulates"},
    {"dense_energy_pj_reg", EX_F64, "pJ", "dense baseline: energy of the PE registers"},
    {"dense_energy_pj_ch0", EX_F64, "pJ", "dense baseline: energy of buffer ch0"},
    {"dense_energy_pj_ch1", EX_F64, "pJ", "dense baseline: energy of buffer ch1"},
    {"dense_energy_pj_ch2", EX_F64, "pJ", "dense baseline: energy of buffer ch2"},
    {"dense_energy_pj_dram", EX_F64, "pJ", "dense baseline: energy of the off-chip transfers"},
    {"dense_energy_pj_leak", EX_F64, "pJ", "dense baseline: leakage energy"},
    {"dram_over_floor", EX_F64, "",
     "dram_bytes / dram_floor_bytes: 1 when every tensor moves once per phase"},
    {"test_accuracy", EX_F64, "",
     "accuracy on the test images after the point's training (NaN without a trace that has it)"},
    {"test_loss", EX_F64, "", "mean loss on the test images after the point's training"},
    {"train_loss", EX_F64, "", "mean training loss of the last epoch of the point's training"},
};

static const ex_metric detail_table[EX_D_COUNT] = {
    {"cycles", EX_U64, "cycles", "cycles of the layer's phase"},
    {"dense_cycles", EX_U64, "cycles", "dense cycles of the layer's phase"},
    {"useful_macs", EX_U64, "MACs", "multiply-accumulates issued"},
    {"dense_macs", EX_U64, "MACs", "multiply-accumulates of the dense computation"},
    {"stall_cycles", EX_U64, "cycles", "cycles spent waiting for DRAM"},
    {"dram_bytes", EX_U64, "bytes", "off-chip traffic"},
    {"energy_pj", EX_F64, "pJ", "energy"},
    {"dense_energy_pj", EX_F64, "pJ", "energy of the dense baseline"},
    {"act_density", EX_F64, "", "non-zero fraction of the layer's input activations"},
    {"grad_density", EX_F64, "", "non-zero fraction of the layer's pruned output gradient"},
    {"dense_dram_bytes", EX_U64, "bytes", "off-chip traffic of the dense baseline"},
    {"dram_floor_bytes", EX_U64, "bytes",
     "compulsory traffic: every tensor of the phase moved once, as stored"},
    {"order", EX_U64, "",
     "loop order the mapper chose: 1 stream, 2 weights, 3 weights+batch (FP, BP); 4 dz, 5 act, "
     "6 dz+batch, 7 act+batch (WG)"},
    {"dense_order", EX_U64, "", "loop order of the dense baseline (codes of order)"},
    {"rounds", EX_U64, "",
     "rounds the mapper split each visit's reduction into (1: none; docs/engine.md, Rounds)"},
    {"dense_rounds", EX_U64, "", "rounds of the dense baseline"},
};

const ex_metric *ex_metrics(int *count)
{
    if (count)
        *count = M_COUNT;
    return metric_table;
}

const ex_metric *ex_detail_fields(void)
{
    return detail_table;
}

int ex_metric_find(const char *name)
{
    for (int i = 0; i < M_COUNT; i++)
        if (!strcmp(metric_table[i].name, name))
            return i;
    return -1;
}

/* a / b, NaN when b is 0 (a phase the network does not have, no traffic at all). */
static double ratio(double a, double b)
{
    return b != 0 ? a / b : NAN;
}

void ex_metrics_fill(const st_result *res, ex_num *out)
{
    out[M_CYCLES].u = st_phase_cycles(&res->run);
    out[M_DENSE_CYCLES].u = st_phase_cycles(&res->dense);
    out[M_SPEEDUP].f = res->speedup;
    out[M_ENERGY_PJ].f = st_phase_energy_pj(&res->run);
    out[M_DENSE_ENERGY_PJ].f = st_phase_energy_pj(&res->dense);
    out[M_ENERGY_GAIN].f = res->energy_gain;
    out[M_AREA_MM2].f = res->area_mm2;
    out[M_TIME_S].f = res->time_s;
    out[M_IMAGES_PER_S].f = res->images_per_s;
    out[M_USEFUL_MACS].u = res->run.useful_macs;
    out[M_DENSE_MACS].u = res->run.dense_macs;
    out[M_DRAM_BYTES].u = res->run.dram_bytes;
    out[M_STALL_CYCLES].u = res->run.stall_cycles;
    out[M_DENSE_DRAM_BYTES].u = res->dense.dram_bytes;
    out[M_DRAM_FLOOR_BYTES].u = res->run.dram_floor_bytes;
    for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
        out[M_CYCLES_FP + ph].u = st_phase_cycles(&res->run_phase[ph]);
        out[M_DENSE_CYCLES_FP + ph].u = st_phase_cycles(&res->dense_phase[ph]);
        out[M_SPEEDUP_FP + ph].f =
            ratio((double)out[M_DENSE_CYCLES_FP + ph].u, (double)out[M_CYCLES_FP + ph].u);
        out[M_ENERGY_PJ_FP + ph].f = st_phase_energy_pj(&res->run_phase[ph]);
        out[M_DENSE_ENERGY_PJ_FP + ph].f = st_phase_energy_pj(&res->dense_phase[ph]);
        out[M_ENERGY_GAIN_FP + ph].f =
            ratio(out[M_DENSE_ENERGY_PJ_FP + ph].f, out[M_ENERGY_PJ_FP + ph].f);
    }
    for (int c = 0; c < ST_E_COUNT; c++) {
        out[M_ENERGY_PJ_MAC + c].f = res->run.energy_pj[c];
        out[M_DENSE_ENERGY_PJ_MAC + c].f = res->dense.energy_pj[c];
    }
    out[M_DRAM_OVER_FLOOR].f =
        ratio((double)res->run.dram_bytes, (double)res->run.dram_floor_bytes);
    ex_metrics_training(out, NAN, NAN, NAN);
}

void ex_metrics_training(ex_num *out, double accuracy, double test_loss, double train_loss)
{
    out[M_TEST_ACCURACY].f = accuracy;
    out[M_TEST_LOSS].f = test_loss;
    out[M_TRAIN_LOSS].f = train_loss;
}

void ex_metrics_blank(ex_num *out)
{
    for (int i = 0; i < M_COUNT; i++) {
        if (metric_table[i].type == EX_U64)
            out[i].u = 0;
        else
            out[i].f = NAN;
    }
}
