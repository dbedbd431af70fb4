/*
 * param.c - the table of design-point parameters, and everything that reads or writes an
 * st_point by name: defaults, parsing from text, range checks, formatting. What a
 * parameter does to the simulation is the simulator's business, not this file's.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

/* ------------------------------------------------------------ technology defaults
 * Derivations in docs/energy-area.md. Published figures are 45 nm, 0.9 V (M. Horowitz,
 * "Computing's energy problem (and what we can do about it)", ISSCC 2014); they are
 * brought to 14 nm by one stated rule: dynamic energy ~ C V^2 with C ~ feature size and
 * V from 0.9 V to 0.8 V, area ~ feature size squared. */
#define K_ENERGY ((14.0 / 45.0) * (0.8 / 0.9) * (0.8 / 0.9)) /* 0.2458 */
#define K_AREA   ((14.0 / 45.0) * (14.0 / 45.0))             /* 0.0968 */

/* One MAC = FP16 multiply (1.1 pJ) + FP32 add (0.9 pJ), Horowitz 2014, mixed precision
 * with 32-bit partial sums. */
#define DEF_E_MAC ((1.1 + 0.9) * K_ENERGY)
/* A PE register-file access costs about one MAC: Chen, Emer, Sze, "Eyeriss", ISCA 2016,
 * Table IV (RF of 0.5 kB: 1x the energy of a MAC). */
#define DEF_E_REG DEF_E_MAC
/* Least-squares power law, in log space, through Horowitz's 64-bit SRAM reads: 10 pJ at
 * 8 KB, 20 pJ at 32 KB, 100 pJ at 1 MB. Exponent 0.47260, value 10.1595 pJ at 8 KiB;
 * largest misfit -2.2 % (32 KB). */
#define DEF_SRAM_EXP     0.47260432229036
#define DEF_SRAM_REF_KIB 8.0
#define DEF_E_SRAM_REF   (10.159502322696 * K_ENERGY)
/* DRAM: 1.3 nJ per 64-bit access, the low end of Horowitz's 1.3-2.6 nJ; not scaled with
 * the logic node (a separate chip whose energy is row activation and off-chip I/O). */
#define DEF_E_DRAM_BIT (1300.0 / 64.0)
/* SRAM area: Intel 14 nm high-density 6T cell, 0.0588 um^2 (Natarajan et al., IEDM 2014),
 * over an assumed array efficiency of 50 % (decoders, sense amplifiers, I/O). */
#define DEF_AREA_SRAM_KIB (8192.0 * 0.0588e-6 / 0.5)
/* PE: the MAC's 45 nm area (FP16 multiplier 1640 um^2 + FP32 adder 4184 um^2, Horowitz's
 * figures as reproduced by Gholami et al., 2021, Fig. 15) scaled by K_AREA, and its
 * registers (16 x 16 + 64 x 32 = 2304 bits by default) at an assumed 0.56 um^2 per
 * flip-flop bit. */
#define DEF_AREA_MAC ((1640.0 + 4184.0) * K_AREA * 1e-6)
#define DEF_AREA_REG_BIT (0.56e-6)
/* Leakage, assumed (no published 14/16 nm figure was confirmed): 50 pA per SRAM cell at
 * 0.8 V, and logic leaking as much per mm^2 as that SRAM array. */
#define DEF_LEAK_KIB (8192.0 * 50e-12 * 0.8 * 1e3)
#define DEF_LEAK_MM2 (DEF_LEAK_KIB / DEF_AREA_SRAM_KIB)

#define DEF_SQRT_PI_2 1.2533141373155002512 /* sqrt(pi/2) = sigma / E|g| for a normal law */

/* ------------------------------------------------------------------------ the table */

static const char *const fmt_names[] = {"offset", "bitmap", "auto", NULL};
static const char *const sync_names[] = {"lockstep", "fifo", NULL};
/* The laws' names, in st_law order: st_law_name and st_law_parse read them too. */
static const char *const law_names[ST_LAW_COUNT + 1] = {"normal", "laplace", "lognormal", NULL};
static const char *const fid_names[] = {"exact", "sampled", NULL};
static const char *const sparsity_names[] = {"default", "calibrated", NULL};

/* Row builders: the name is the field's own name, so they cannot drift apart. */
#define P_INT(f, unit, lo, hi, d, grp, help)                                                       \
    {                                                                                              \
#f, ST_PT_INT, unit, lo, hi, d, NULL, offsetof(st_point, f), grp, help, 0, 0               \
    }
#define P_REAL(f, unit, lo_open, lo, hi, hi_open, d, grp, help)                                    \
    {                                                                                              \
#f, ST_PT_REAL, unit, lo, hi, d, NULL, offsetof(st_point, f), grp, help, lo_open, hi_open  \
    }
#define P_BOOL(f, d, grp, help)                                                                    \
    {                                                                                              \
#f, ST_PT_BOOL, "", 0, 1, d, NULL, offsetof(st_point, f), grp, help, 0, 0                  \
    }
#define P_ENUM(f, names, n, d, grp, help)                                                          \
    {                                                                                              \
#f, ST_PT_ENUM, "", 0, (n)-1, d, names, offsetof(st_point, f), grp, help, 0, 0             \
    }

/* Bound markers for P_REAL, so a row reads like its interval. */
#define CLOSED 0
#define OPEN   1

static const st_param param_table[] = {
    /* workload */
    P_INT(batch, "images", 1, 65536, 1, "workload", "images per training iteration"),
    /* PE array. The paper's PE count and clock are not published: 16 x 16 PEs with one
     * MAC each at 1 GHz is our choice, a mid-size array for a 14 nm design. */
    P_INT(pe_rows, "PEs", 1, 4096, 16, "array",
          "PE rows; each takes an output row (forward loop nest); paper's figure unpublished"),
    P_INT(pe_cols, "PEs", 1, 4096, 16, "array",
          "PE columns; each takes an output channel; paper's figure unpublished"),
    P_INT(macs_per_pe, "MACs", 1, 64, 1, "array",
          "MAC units per PE, each fed by its own zero-skipping unit"),
    P_INT(kreg_len, "entries", 1, 1024, 16, "array",
          "kernel-row register length; 16 holds AlexNet's 11-wide conv1 rows"),
    P_INT(oreg_len, "entries", 1, 4096, 64, "array",
          "output-row segment register length (partial sums per PE)"),
    P_REAL(clock_mhz, "MHz", CLOSED, 1, 10000, CLOSED, 1000, "array",
           "clock frequency; paper's figure unpublished"),
    P_BOOL(pe_subarrays, 0, "array",
           "the mapper may leave PEs idle: per layer and phase it also tries the tiles of the "
           "arrays of pe_rows and pe_cols halved while even, and keeps the fewest DRAM bytes "
           "(docs/engine.md, PEs in use)"),
    /* on-chip buffers. The paper's sizes are not published. */
    P_REAL(ch0_kib, "KiB", OPEN, 0, 65536, CLOSED, 64, "buffers",
           "sparse SRAM of the streamed operand (ch0); paper's size unpublished"),
    P_REAL(ch1_kib, "KiB", OPEN, 0, 65536, CLOSED, 64, "buffers",
           "sparse SRAM of the second operand (ch1); paper's size unpublished"),
    P_REAL(ch2_kib, "KiB", OPEN, 0, 65536, CLOSED, 64, "buffers",
           "dense SRAM of partial sums (ch2); paper's size unpublished"),
    /* DRAM: one DDR4-3200 channel, 3200 MT/s x 8 bytes = 25.6 GB/s (JEDEC JESD79-4). */
    P_REAL(dram_gbps, "GB/s", CLOSED, 0.01, 10000, CLOSED, 25.6, "dram",
           "DRAM bandwidth; default one DDR4-3200 64-bit channel, 3200 MT/s x 8 B (JEDEC "
           "JESD79-4); paper's figure unpublished"),
    P_REAL(dram_latency_ns, "ns", CLOSED, 0, 100000, CLOSED, 100, "dram",
           "latency of a DRAM transfer before its first byte arrives"),
    /* formats */
    P_INT(data_bits, "bits", 1, 64, 16, "format", "width of activations, weights, gradients"),
    P_INT(index_bits, "bits", 1, 32, 8, "format", "width of an offset in the compressed format"),
    P_INT(psum_bits, "bits", 1, 64, 32, "format", "width of a partial sum (ch2, output segment)"),
    P_ENUM(format, fmt_names, 3, ST_FMT_AUTO, "format",
           "storage of sparse tensors: (value, offset) pairs, a bitmap and values, or auto: "
           "per tensor and phase the cheapest of dense, offset and bitmap"),
    /* synchronisation: how the paper synchronised its PEs is not known. */
    P_ENUM(sync, sync_names, 2, ST_SYNC_LOCKSTEP, "sync",
           "PE synchronisation: lock-step per row step, or decoupled PEs with FIFOs"),
    P_INT(fifo_depth, "entries", 1, 1024, 4, "sync", "FIFO depth between decoupled PEs (fifo)"),
    P_INT(step_overhead, "cycles", 0, 1000, 1, "sync", "fixed cycles added to every row step"),
    /* zero skipping, per phase and kind of operand */
    P_BOOL(skip_fp_stream, 1, "skipping", "FP: skip zeros of the streamed activation row"),
    P_BOOL(skip_bp_stream, 1, "skipping", "BP: skip zeros of the streamed gradient row"),
    P_BOOL(skip_bp_output, 1, "skipping", "BP: skip outputs known zero from the output bitmap"),
    P_BOOL(skip_wg_stream, 1, "skipping", "WG: skip zeros of the streamed gradient row"),
    P_BOOL(skip_wg_operand, 1, "skipping", "WG: skip zeros of the activation row via its bitmap"),
    /* pruning; st_sparsity_cfg_init and st_prune_opts_init take their defaults from here */
    P_REAL(p, "", CLOSED, 0, 1, OPEN, 0, "pruning",
           "target gradient pruning rate p; 0 prunes nothing"),
    P_REAL(prune_sigma_scale, "", OPEN, 0, 1000, CLOSED, DEF_SQRT_PI_2, "pruning",
           "sigma = prune_sigma_scale * mean|g|; sqrt(pi/2) for a normal law"),
    P_BOOL(prune_skip_zeros, 0, "pruning", "leave exact zeros out of mean|g|"),
    P_BOOL(prune_first, 1, "pruning", "prune dZ of layers fed by the network input"),
    P_BOOL(prune_fc, 1, "pruning", "prune dZ of fully connected layers"),
    /* statistical sparsity model */
    P_ENUM(grad_law, law_names, ST_LAW_COUNT, ST_LAW_NORMAL, "sparsity", "law of raw dZ values"),
    /* capped so that exp(sigma * N) stays a finite float for every deviate the generator
     * can return (|N| < 9, exp(90) < FLT_MAX = 3.4e38): st_prune rejects infinite input */
    P_REAL(lognormal_sigma, "", OPEN, 0, 10, CLOSED, 1.0, "sparsity",
           "shape of the lognormal magnitude law"),
    P_REAL(relu_density, "", OPEN, 0, 1, CLOSED, 0.5, "sparsity",
           "non-zero fraction of every ReLU output"),
    P_REAL(channel_cv, "", CLOSED, 0, 100, CLOSED, 0.0, "sparsity",
           "coefficient of variation of per-channel density"),
    P_REAL(spatial_corr, "", CLOSED, 0, 1, OPEN, 0.0, "sparsity",
           "correlation of zeros inside a spatial block"),
    P_INT(spatial_block, "elements", 1, 1024, 4, "sparsity", "edge of a correlated block"),
    P_INT(seed, "", 0, 2147483647, 1, "sparsity", "key of every random number of the point"),
    P_ENUM(sparsity, sparsity_names, 2, ST_SPARSITY_DEFAULT, "sparsity",
           "default: relu_density, grad_law and lognormal_sigma as given; calibrated: per-layer "
           "ReLU densities and lognormal dZ fitted on training traces (calib/fmnist.calib, "
           "docs/sparsity.md), which replace those three"),
    /* fidelity */
    P_ENUM(fidelity, fid_names, 2, ST_FID_EXACT, "fidelity",
           "simulate every row step, or a sample of channels"),
    P_REAL(sample_fraction, "", OPEN, 0, 1, CLOSED, 0.05, "fidelity",
           "fraction of the full PE-column tiles of input and of output channels simulated "
           "when fidelity = sampled (at least one of each per layer, group and image)"),
    /* energy (14 nm; docs/energy-area.md) */
    P_REAL(e_mac_pj, "pJ", CLOSED, 0, 1000, CLOSED, DEF_E_MAC, "energy",
           "one 16-bit MAC: Horowitz 45 nm FP16 mult 1.1 + FP32 add 0.9 pJ, x0.2458 to 14 nm"),
    P_REAL(e_reg_pj, "pJ", CLOSED, 0, 1000, CLOSED, DEF_E_REG, "energy",
           "one 16-bit PE register access: 1 MAC (Eyeriss, ISCA 2016, Table IV)"),
    P_REAL(e_sram_ref_pj, "pJ", CLOSED, 0, 10000, CLOSED, DEF_E_SRAM_REF, "energy",
           "one 64-bit access to an SRAM of sram_ref_kib: Horowitz fit 10.16 pJ, x0.2458"),
    P_REAL(sram_ref_kib, "KiB", CLOSED, 0.0625, 65536, CLOSED, DEF_SRAM_REF_KIB, "energy",
           "capacity at which e_sram_ref_pj holds; 64 bytes at least (a smaller array is a "
           "register file, and the ratio to it would overflow the power law)"),
    P_REAL(sram_exp, "", CLOSED, 0, 2, CLOSED, DEF_SRAM_EXP, "energy",
           "SRAM energy ~ capacity^sram_exp; fit to Horowitz's 8 KB, 32 KB, 1 MB reads"),
    P_REAL(e_dram_pj_per_bit, "pJ/bit", CLOSED, 0, 10000, CLOSED, DEF_E_DRAM_BIT, "energy",
           "DRAM energy per bit: Horowitz 1.3 nJ per 64-bit access; not node-scaled"),
    P_REAL(leak_mw_per_kib, "mW/KiB", CLOSED, 0, 1000, CLOSED, DEF_LEAK_KIB, "energy",
           "SRAM leakage: assumed 50 pA per cell at 0.8 V"),
    P_REAL(leak_mw_per_mm2, "mW/mm^2", CLOSED, 0, 1000, CLOSED, DEF_LEAK_MM2, "energy",
           "PE leakage per mm^2 of PE area: assumed that of the SRAM array"),
    /* area (14 nm; docs/energy-area.md) */
    P_REAL(area_mac_mm2, "mm^2", CLOSED, 0, 1000, CLOSED, DEF_AREA_MAC, "area",
           "one MAC unit: Horowitz 45 nm FP16 mult 1640 + FP32 add 4184 um^2, x0.0968"),
    P_REAL(area_reg_bit_mm2, "mm^2", CLOSED, 0, 1, CLOSED, DEF_AREA_REG_BIT, "area",
           "one bit of a PE register (kernel row, output segment): assumed 0.56 um^2"),
    P_REAL(area_sram_mm2_per_kib, "mm^2/KiB", CLOSED, 0, 1000, CLOSED, DEF_AREA_SRAM_KIB, "area",
           "SRAM: 14 nm 0.0588 um^2 cell (Intel, IEDM 2014) at 50 % array efficiency"),
};

#define PARAM_COUNT ((int)(sizeof param_table / sizeof param_table[0]))

/* --------------------------------------------------------------------- small helpers */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Does the n characters at s equal the NUL-terminated word, ignoring case? */
static int word_eq(const char *s, size_t n, const char *word)
{
    size_t i;
    int eq = strlen(word) == n;

    for (i = 0; eq && i < n; i++)
        eq = lower(s[i]) == lower(word[i]);
    return eq;
}

static int choice_count(const st_param *row)
{
    int n = 0;

    while (row->choices && row->choices[n])
        n++;
    return n;
}

/* The shortest "%.Ng" (N >= 6) that reads back to v, as the table's values print. */
static void real_format(double v, char *buf, size_t size)
{
    char tmp[40];
    int prec;

    if (!isfinite(v))
        snprintf(tmp, sizeof tmp, "%g", v);
    else
        for (prec = 6; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
    snprintf(buf, size, "%s", tmp);
}

/* Levenshtein distance of a and b, or cap + 1 once it is known to exceed cap (names
 * longer than the work rows also count as too far). */
static int edit_distance(const char *a, const char *b, int cap)
{
    enum { W = 64 };
    int prev[W + 1], cur[W + 1];
    size_t la = strlen(a), lb = strlen(b), i, j;
    int d = cap + 1, best;

    if (la > W || lb > W)
        goto done;
    for (j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (i = 1; i <= la; i++) {
        cur[0] = (int)i;
        best = cur[0];
        for (j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (cur[j] < best)
                best = cur[j];
        }
        if (best > cap)
            goto done;
        memcpy(prev, cur, sizeof prev);
    }
    if (prev[lb] <= cap)
        d = prev[lb];
done:
    return d;
}

/* Find the row or say which name was meant. */
static const st_param *row_lookup(const char *name, st_err *err)
{
    const st_param *row = NULL, *near = NULL;
    int i, d, best = 3;

    if (!name) {
        st_err_set(err, ST_EINVAL, "parameter name is NULL");
        goto done;
    }
    row = st_param_find(name);
    if (row)
        goto done;
    /* A suggestion must keep part of what was typed: "q" is one edit from "p" but is not
     * a misspelling of it. */
    for (i = 0; i < PARAM_COUNT; i++) {
        d = edit_distance(name, param_table[i].name, 2);
        if (d < best && (size_t)d < strlen(name)) {
            best = d;
            near = &param_table[i];
        }
    }
    if (near)
        st_err_set(err, ST_EINVAL, "unknown parameter '%s'; did you mean '%s'?", name, near->name);
    else
        st_err_set(err, ST_EINVAL, "unknown parameter '%s'", name);
done:
    return row;
}

static double field_read(const st_point *pt, const st_param *row)
{
    const char *base = (const char *)pt + row->offset;
    double v;

    if (row->type == ST_PT_REAL)
        memcpy(&v, base, sizeof v);
    else {
        int iv;
        memcpy(&iv, base, sizeof iv);
        v = iv;
    }
    return v;
}

/* v has passed value_check, so an int field receives an exact integer in range. */
static void field_write(st_point *pt, const st_param *row, double v)
{
    char *base = (char *)pt + row->offset;

    if (row->type == ST_PT_REAL)
        memcpy(base, &v, sizeof v);
    else {
        int iv = (int)v;
        memcpy(base, &iv, sizeof iv);
    }
}

static int in_bounds(const st_param *row, double v)
{
    int lo = row->min_open ? v > row->min : v >= row->min;
    int hi = row->max_open ? v < row->max : v <= row->max;
    return lo && hi;
}

/* "one of lockstep (0), fifo (1)": the choices with the numbers that select them. */
static void choices_numbered(const st_param *row, char *buf, size_t size)
{
    size_t used = 0;
    int i, n = choice_count(row);

    buf[0] = '\0';
    for (i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s (%d)", i ? ", " : "", row->choices[i], i);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* Check a numeric value against its row: the kind of number the type needs, then the
 * bounds. `shown` is how the message quotes the value. */
static int value_check(const st_param *row, double v, const char *shown, st_err *err)
{
    char range[160];
    int rc = ST_OK;

    if (row->type == ST_PT_REAL && !isfinite(v))
        rc = st_err_set(err, ST_EINVAL, "%s = %s: must be a finite number", row->name, shown);
    else if (row->type == ST_PT_BOOL && !(v == 0 || v == 1))
        rc = st_err_set(err, ST_EINVAL, "%s = %s: must be 0 or 1", row->name, shown);
    else if (row->type == ST_PT_ENUM && !(v == floor(v) && in_bounds(row, v))) {
        choices_numbered(row, range, sizeof range);
        rc = st_err_set(err, ST_EINVAL, "%s = %s: must be one of %s", row->name, shown, range);
    } else if (row->type == ST_PT_INT && v != floor(v))
        rc = st_err_set(err, ST_EINVAL, "%s = %s: must be a whole number", row->name, shown);
    else if (!in_bounds(row, v)) {
        st_param_format_range(row, range, sizeof range);
        rc = st_err_set(err, ST_EINVAL, "%s = %s: must be in %s", row->name, shown, range);
    }
    return rc;
}

/* Parse the n characters at s (already trimmed) as a value of row. Type errors are
 * reported here; bounds are left to value_check. */
static int text_parse(const st_param *row, const char *s, size_t n, double *v, st_err *err)
{
    char range[160];
    char *end = NULL;
    int rc = ST_OK, i, count;

    switch (row->type) {
    case ST_PT_INT: {
        long lv;
        errno = 0;
        lv = n ? strtol(s, &end, 10) : 0;
        if (n && end != s + n) {
            /* 1e9 or 16.0: a number written otherwise is a whole number or not by its value,
             * and a whole one gets the range check (so 1e9 hears about the range). */
            char *dend = NULL;
            double dv = strtod(s, &dend);
            if (dend == s + n && (isinf(dv) || dv == floor(dv))) {
                *v = isinf(dv) ? (dv > 0 ? HUGE_VAL : -HUGE_VAL) : dv;
                break;
            }
        }
        if (!n || end != s + n)
            rc = st_err_set(err, ST_EINVAL, "%s = '%.*s': must be a whole number", row->name,
                            (int)n, s);
        else if (errno == ERANGE) {
            /* A whole number too large for a long is outside every int row's bounds. */
            st_param_format_range(row, range, sizeof range);
            rc =
                st_err_set(err, ST_EINVAL, "%s = %.*s: must be in %s", row->name, (int)n, s, range);
        } else
            *v = (double)lv;
        break;
    }
    case ST_PT_REAL:
        *v = n ? strtod(s, &end) : 0;
        if (!n || end != s + n)
            rc = st_err_set(err, ST_EINVAL, "%s = '%.*s': must be a number", row->name, (int)n, s);
        else if (!isfinite(*v))
            rc = st_err_set(err, ST_EINVAL, "%s = '%.*s': must be a finite number", row->name,
                            (int)n, s);
        break;
    case ST_PT_BOOL:
        if (word_eq(s, n, "true") || word_eq(s, n, "1") || word_eq(s, n, "yes") ||
            word_eq(s, n, "on"))
            *v = 1;
        else if (word_eq(s, n, "false") || word_eq(s, n, "0") || word_eq(s, n, "no") ||
                 word_eq(s, n, "off"))
            *v = 0;
        else
            rc = st_err_set(err, ST_EINVAL,
                            "%s = '%.*s': must be true or false (or 1/0, yes/no, on/off)",
                            row->name, (int)n, s);
        break;
    case ST_PT_ENUM:
        count = choice_count(row);
        for (i = 0; i < count && !word_eq(s, n, row->choices[i]); i++)
            ;
        if (i < count)
            *v = i;
        else {
            st_param_format_range(row, range, sizeof range);
            rc = st_err_set(err, ST_EINVAL, "%s = '%.*s': must be one of %s", row->name, (int)n, s,
                            range);
        }
        break;
    default:
        rc = st_err_set(err, ST_EINVAL, "%s: unknown parameter type %d", row->name, (int)row->type);
        break;
    }
    return rc;
}

/* ------------------------------------------------------------------------ public API */

const st_param *st_params(int *count)
{
    if (count)
        *count = PARAM_COUNT;
    return param_table;
}

const st_param *st_param_find(const char *name)
{
    const st_param *row = NULL;
    int i;

    for (i = 0; name && !row && i < PARAM_COUNT; i++)
        if (strcmp(name, param_table[i].name) == 0)
            row = &param_table[i];
    return row;
}

void st_point_init(st_point *pt)
{
    int i;

    if (pt) {
        memset(pt, 0, sizeof *pt);
        for (i = 0; i < PARAM_COUNT; i++)
            field_write(pt, &param_table[i], param_table[i].def);
    }
}

int st_point_set(st_point *pt, const char *name, const char *value, st_err *err)
{
    const st_param *row;
    const char *s, *e;
    double v = 0;
    int rc;

    row = row_lookup(name, err);
    if (!row) {
        rc = ST_EINVAL;
        goto done;
    }
    if (!pt || !value) {
        rc = st_err_set(err, ST_EINVAL, "%s: %s is NULL", row->name, pt ? "value" : "point");
        goto done;
    }
    /* Surrounding white space is not part of the value. */
    for (s = value; is_space(*s); s++)
        ;
    for (e = s + strlen(s); e > s && is_space(e[-1]); e--)
        ;
    rc = text_parse(row, s, (size_t)(e - s), &v, err);
    if (rc == ST_OK) {
        /* Range messages quote the value as the user wrote it. */
        char shown[80];
        snprintf(shown, sizeof shown, "%.*s", (int)(e - s), s);
        rc = value_check(row, v, shown, err);
    }
    if (rc == ST_OK)
        field_write(pt, row, v);
done:
    return rc;
}

int st_point_set_num(st_point *pt, const char *name, double value, st_err *err)
{
    const st_param *row;
    char shown[40];
    int rc;

    row = row_lookup(name, err);
    if (!row)
        rc = ST_EINVAL;
    else if (!pt)
        rc = st_err_set(err, ST_EINVAL, "%s: point is NULL", row->name);
    else {
        real_format(value, shown, sizeof shown);
        rc = value_check(row, value, shown, err);
        if (rc == ST_OK)
            field_write(pt, row, value);
    }
    return rc;
}

int st_point_get(const st_point *pt, const char *name, double *value, st_err *err)
{
    const st_param *row;
    int rc = ST_OK;

    row = row_lookup(name, err);
    if (!row)
        rc = ST_EINVAL;
    else if (!pt || !value)
        rc = st_err_set(err, ST_EINVAL, "%s: %s is NULL", row->name, pt ? "value" : "point");
    else
        *value = field_read(pt, row);
    return rc;
}

int st_point_check(const st_point *pt, st_err *err)
{
    char shown[40];
    int rc = ST_OK, i;

    if (!pt) {
        rc = st_err_set(err, ST_EINVAL, "design point is NULL");
        goto done;
    }
    for (i = 0; i < PARAM_COUNT; i++) {
        const st_param *row = &param_table[i];
        double v = field_read(pt, row);
        real_format(v, shown, sizeof shown);
        rc = value_check(row, v, shown, err);
        if (rc != ST_OK)
            goto done;
    }
    /* A partial sum narrower than the products it accumulates would truncate them. */
    if (pt->psum_bits < pt->data_bits)
        rc = st_err_set(err, ST_EINVAL, "psum_bits = %d: must be >= data_bits (%d)", pt->psum_bits,
                        pt->data_bits);
done:
    return rc;
}

void st_point_format(const st_point *pt, const st_param *row, char *buf, size_t size)
{
    double v;

    if (buf && size > 0) {
        buf[0] = '\0';
        if (pt && row) {
            v = field_read(pt, row);
            if (row->type == ST_PT_BOOL && (v == 0 || v == 1))
                snprintf(buf, size, "%s", v != 0 ? "true" : "false");
            else if (row->type == ST_PT_ENUM && v >= 0 && v < choice_count(row))
                snprintf(buf, size, "%s", row->choices[(int)v]);
            else if (row->type == ST_PT_REAL)
                real_format(v, buf, size);
            else
                snprintf(buf, size, "%d", (int)v);
        }
    }
}

void st_param_format_range(const st_param *row, char *buf, size_t size)
{
    char lo[40], hi[40];
    size_t used = 0;
    int i, n;

    if (buf && size > 0) {
        buf[0] = '\0';
        if (row && row->type == ST_PT_BOOL)
            snprintf(buf, size, "true, false");
        else if (row && row->type == ST_PT_ENUM) {
            n = choice_count(row);
            for (i = 0; i < n && used < size; i++) {
                int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", row->choices[i]);
                used += w > 0 ? (size_t)w : 0;
            }
        } else if (row) {
            real_format(row->min, lo, sizeof lo);
            real_format(row->max, hi, sizeof hi);
            snprintf(buf, size, "%c%s, %s%c", row->min_open ? '(' : '[', lo, hi,
                     row->max_open ? ')' : ']');
        }
    }
}

int st_param_check(const st_param *row, double value, st_err *err)
{
    char shown[40];
    int rc;

    if (!row)
        rc = st_err_set(err, ST_EINVAL, "parameter row is NULL");
    else {
        real_format(value, shown, sizeof shown);
        rc = value_check(row, value, shown, err);
    }
    return rc;
}

/* ------------------------------------------------------------ the sparsity model's view
 * The fields of st_sparsity_cfg that are parameters, each with its row: the one place
 * that pairs them, so defaults, bounds and messages come from the table. */

enum { CF_REAL, CF_INT, CF_LAW, CF_U64 };

typedef struct cfg_field {
    const char *name; /* the row */
    size_t offset;    /* of the field in st_sparsity_cfg */
    int kind;         /* CF_*: how the field is stored */
} cfg_field;

static const cfg_field cfg_fields[] = {
    {"p", offsetof(st_sparsity_cfg, prune.p), CF_REAL},
    {"prune_sigma_scale", offsetof(st_sparsity_cfg, prune.sigma_scale), CF_REAL},
    {"prune_skip_zeros", offsetof(st_sparsity_cfg, prune.skip_zeros), CF_INT},
    {"prune_first", offsetof(st_sparsity_cfg, prune_first), CF_INT},
    {"prune_fc", offsetof(st_sparsity_cfg, prune_fc), CF_INT},
    {"grad_law", offsetof(st_sparsity_cfg, grad_law), CF_LAW},
    {"lognormal_sigma", offsetof(st_sparsity_cfg, lognormal_sigma), CF_REAL},
    {"relu_density", offsetof(st_sparsity_cfg, relu_density), CF_REAL},
    {"channel_cv", offsetof(st_sparsity_cfg, channel_cv), CF_REAL},
    {"spatial_corr", offsetof(st_sparsity_cfg, spatial_corr), CF_REAL},
    {"spatial_block", offsetof(st_sparsity_cfg, spatial_block), CF_INT},
    {"seed", offsetof(st_sparsity_cfg, seed), CF_U64},
};

#define CFG_FIELD_COUNT ((int)(sizeof cfg_fields / sizeof cfg_fields[0]))

static double cfg_read(const st_sparsity_cfg *cfg, const cfg_field *f)
{
    const char *base = (const char *)cfg + f->offset;
    double v = 0;
    int iv;
    uint64_t uv;
    st_law law;

    switch (f->kind) {
    case CF_REAL:
        memcpy(&v, base, sizeof v);
        break;
    case CF_INT:
        memcpy(&iv, base, sizeof iv);
        v = iv;
        break;
    case CF_LAW:
        memcpy(&law, base, sizeof law);
        v = (int)law;
        break;
    default:
        memcpy(&uv, base, sizeof uv);
        v = (double)uv;
        break;
    }
    return v;
}

/* v comes from an st_point field, which holds a value of the row's type. */
static void cfg_write(st_sparsity_cfg *cfg, const cfg_field *f, double v)
{
    char *base = (char *)cfg + f->offset;
    int iv = (int)v;
    uint64_t uv = (uint64_t)v;
    st_law law = (st_law)iv;

    if (f->kind == CF_REAL)
        memcpy(base, &v, sizeof v);
    else if (f->kind == CF_INT)
        memcpy(base, &iv, sizeof iv);
    else if (f->kind == CF_LAW)
        memcpy(base, &law, sizeof law);
    else
        memcpy(base, &uv, sizeof uv);
}

void st_point_sparsity(const st_point *pt, st_sparsity_cfg *cfg)
{
    int i;

    if (pt && cfg) {
        memset(cfg, 0, sizeof *cfg);
        for (i = 0; i < CFG_FIELD_COUNT; i++)
            cfg_write(cfg, &cfg_fields[i], field_read(pt, st_param_find(cfg_fields[i].name)));
        cfg->relu_density_by_layer = NULL;
        cfg->lognormal_sigma_by_layer = NULL;
    }
}

void st_sparsity_cfg_init(st_sparsity_cfg *cfg)
{
    st_point pt;

    st_point_init(&pt);
    st_point_sparsity(&pt, cfg);
}

/* A 64-bit seed above the row's bound reads as a double that still exceeds it, so the
 * range check cannot be fooled by the conversion. */
int st_sparsity_cfg_check(const st_sparsity_cfg *cfg, st_err *err)
{
    int rc = ST_OK, i;

    if (!cfg)
        rc = st_err_set(err, ST_EINVAL, "sparsity configuration is NULL");
    for (i = 0; cfg && rc == ST_OK && i < CFG_FIELD_COUNT; i++)
        rc = st_param_check(st_param_find(cfg_fields[i].name), cfg_read(cfg, &cfg_fields[i]), err);
    return rc;
}

const char *st_law_name(st_law law)
{
    const char *name = "unknown";

    if ((int)law >= 0 && law < ST_LAW_COUNT)
        name = law_names[law];
    return name;
}

int st_law_parse(const char *name)
{
    int law = -1, i;

    for (i = 0; name && i < ST_LAW_COUNT; i++)
        if (strcmp(name, law_names[i]) == 0)
            law = i;
    return law;
}
