/*
 * t_param.c - the design-point parameter table: one row per st_point field, defaults,
 * parsing, range checks, messages, formatting, and docs/parameters.md listing every name.
 * Energy and area pricing is tested in t_energy.c.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"
#include "tap.h"

/* Every field of st_point in declaration order, written out by hand: the table must
 * have exactly these rows, and this list must describe the struct's whole layout. */
typedef struct field {
    const char *name;
    size_t offset, size;
    st_ptype type;
} field;

#define F(f, t)                                                                                    \
    {                                                                                              \
#f, offsetof(st_point, f), sizeof(((st_point *)0)->f), t                                   \
    }

static const field fields[] = {
    F(batch, ST_PT_INT),
    F(pe_rows, ST_PT_INT),
    F(pe_cols, ST_PT_INT),
    F(macs_per_pe, ST_PT_INT),
    F(kreg_len, ST_PT_INT),
    F(oreg_len, ST_PT_INT),
    F(ch0_kib, ST_PT_REAL),
    F(ch1_kib, ST_PT_REAL),
    F(ch2_kib, ST_PT_REAL),
    F(dram_gbps, ST_PT_REAL),
    F(dram_latency_ns, ST_PT_REAL),
    F(clock_mhz, ST_PT_REAL),
    F(pe_subarrays, ST_PT_BOOL),
    F(data_bits, ST_PT_INT),
    F(index_bits, ST_PT_INT),
    F(psum_bits, ST_PT_INT),
    F(format, ST_PT_ENUM),
    F(sync, ST_PT_ENUM),
    F(fifo_depth, ST_PT_INT),
    F(step_overhead, ST_PT_INT),
    F(skip_fp_stream, ST_PT_BOOL),
    F(skip_bp_stream, ST_PT_BOOL),
    F(skip_bp_output, ST_PT_BOOL),
    F(skip_wg_stream, ST_PT_BOOL),
    F(skip_wg_operand, ST_PT_BOOL),
    F(p, ST_PT_REAL),
    F(prune_sigma_scale, ST_PT_REAL),
    F(prune_skip_zeros, ST_PT_BOOL),
    F(prune_first, ST_PT_BOOL),
    F(prune_fc, ST_PT_BOOL),
    F(grad_law, ST_PT_ENUM),
    F(lognormal_sigma, ST_PT_REAL),
    F(relu_density, ST_PT_REAL),
    F(channel_cv, ST_PT_REAL),
    F(spatial_corr, ST_PT_REAL),
    F(spatial_block, ST_PT_INT),
    F(seed, ST_PT_INT),
    F(sparsity, ST_PT_ENUM),
    F(fidelity, ST_PT_ENUM),
    F(sample_fraction, ST_PT_REAL),
    F(e_mac_pj, ST_PT_REAL),
    F(e_reg_pj, ST_PT_REAL),
    F(e_sram_ref_pj, ST_PT_REAL),
    F(sram_ref_kib, ST_PT_REAL),
    F(sram_exp, ST_PT_REAL),
    F(e_dram_pj_per_bit, ST_PT_REAL),
    F(leak_mw_per_kib, ST_PT_REAL),
    F(leak_mw_per_mm2, ST_PT_REAL),
    F(area_mac_mm2, ST_PT_REAL),
    F(area_reg_bit_mm2, ST_PT_REAL),
    F(area_sram_mm2_per_kib, ST_PT_REAL),
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))

/* ------------------------------------------------------------------------- helpers */

static double getv(const st_point *pt, const char *name)
{
    double v = NAN;
    st_point_get(pt, name, &v, NULL);
    return v;
}

/* st_point_set must fail with exactly `want` and leave the point untouched. */
static void set_fails(const char *id, const char *name, const char *value, const char *want)
{
    st_point pt, before;
    st_err err;
    int rc;

    st_point_init(&pt);
    memcpy(&before, &pt, sizeof pt);
    st_err_clear(&err);
    rc = st_point_set(&pt, name, value, &err);
    if (!ok(rc == ST_EINVAL && err.code == ST_EINVAL && strcmp(err.msg, want) == 0 &&
                memcmp(&pt, &before, sizeof pt) == 0,
            "%s", id))
        diag("  rc %d, message '%s', want '%s'", rc, err.msg, want);
}

static void set_num_fails(const char *id, const char *name, double value, const char *want)
{
    st_point pt, before;
    st_err err;
    int rc;

    st_point_init(&pt);
    memcpy(&before, &pt, sizeof pt);
    st_err_clear(&err);
    rc = st_point_set_num(&pt, name, value, &err);
    if (!ok(rc == ST_EINVAL && strcmp(err.msg, want) == 0 && memcmp(&pt, &before, sizeof pt) == 0,
            "%s", id))
        diag("  rc %d, message '%s', want '%s'", rc, err.msg, want);
}

/* st_point_check on pt must fail with exactly `want`. */
static void check_fails(const char *id, const st_point *pt, const char *want)
{
    st_err err;
    int rc;

    st_err_clear(&err);
    rc = st_point_check(pt, &err);
    if (!ok(rc == ST_EINVAL && strcmp(err.msg, want) == 0, "%s", id))
        diag("  rc %d, message '%s', want '%s'", rc, err.msg, want);
}

static void set_ok(const char *id, const char *name, const char *value, double want)
{
    st_point pt;
    st_err err;
    int rc;

    st_point_init(&pt);
    st_err_clear(&err);
    rc = st_point_set(&pt, name, value, &err);
    if (!ok(rc == ST_OK && getv(&pt, name) == want, "%s", id))
        diag("  rc %d (%s), %s = %.17g, want %.17g", rc, err.msg, name, getv(&pt, name), want);
}

static void format_is(const char *id, const st_point *pt, const char *name, const char *want)
{
    char buf[64];

    st_point_format(pt, st_param_find(name), buf, sizeof buf);
    if (!ok(strcmp(buf, want) == 0, "%s", id))
        diag("  got '%s', want '%s'", buf, want);
}

static void range_is(const char *id, const char *name, const char *want)
{
    char buf[64];

    st_param_format_range(st_param_find(name), buf, sizeof buf);
    if (!ok(strcmp(buf, want) == 0, "%s", id))
        diag("  got '%s', want '%s'", buf, want);
}

/* ----------------------------------------------------------------------- the table */

static void test_table(void)
{
    const st_param *rows;
    size_t off = 0;
    int n = -1, i, j, layout = 1, match = 1, unique = 1, sane = 1, found = 1;

    rows = st_params(&n);
    ok_eq_u64(n, NFIELDS, "param-1.1 one row per st_point field (%d fields)", NFIELDS);

    /* The list above describes st_point's whole layout: with natural alignment each
     * field sits right after the previous one, and the struct ends after the last. */
    for (i = 0; i < NFIELDS; i++) {
        off = (off + fields[i].size - 1) / fields[i].size * fields[i].size;
        if (fields[i].offset != off) {
            layout = 0;
            diag("  %s at %zu, expected %zu", fields[i].name, fields[i].offset, off);
        }
        off += fields[i].size;
    }
    off = (off + 7) / 8 * 8;
    ok(layout && off == sizeof(st_point),
       "param-1.2 the field list covers st_point exactly (%zu bytes)", sizeof(st_point));

    /* Each field has exactly one row, with its name, its offset and its type. */
    for (i = 0; i < NFIELDS; i++) {
        int hits = 0;
        for (j = 0; j < n; j++)
            if (rows[j].offset == fields[i].offset) {
                hits++;
                if (strcmp(rows[j].name, fields[i].name) != 0 || rows[j].type != fields[i].type)
                    match = 0;
            }
        if (hits != 1) {
            match = 0;
            diag("  field %s has %d rows", fields[i].name, hits);
        }
    }
    ok(match, "param-1.3 every field has exactly one row, named after it, of its type");

    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (strcmp(rows[i].name, rows[j].name) == 0) {
                unique = 0;
                diag("  duplicate name %s", rows[i].name);
            }
    ok(unique, "param-1.4 names are unique");

    /* Rows are self-consistent: the default is inside the bounds, enums count their
     * choices, bools are 0..1, int bounds are whole, text fields are filled. */
    for (i = 0; i < n; i++) {
        const st_param *r = &rows[i];
        int nc = 0, row_ok;
        while (r->choices && r->choices[nc])
            nc++;
        row_ok = r->min <= r->max && (r->min_open ? r->def > r->min : r->def >= r->min) &&
                 (r->max_open ? r->def < r->max : r->def <= r->max) && r->unit && r->group &&
                 r->help && r->help[0] != '\0';
        if (r->type == ST_PT_ENUM)
            row_ok =
                row_ok && nc >= 2 && r->min == 0 && r->max == nc - 1 && r->def == floor(r->def);
        else if (r->type == ST_PT_BOOL)
            row_ok = row_ok && r->min == 0 && r->max == 1 && (r->def == 0 || r->def == 1);
        else if (r->type == ST_PT_INT)
            row_ok = row_ok && r->min == floor(r->min) && r->max == floor(r->max) &&
                     r->def == floor(r->def) && r->max <= 2147483647.0 && !r->min_open &&
                     !r->max_open;
        if (!row_ok) {
            sane = 0;
            diag("  row %s is inconsistent", r->name);
        }
    }
    ok(sane, "param-1.5 every row's default lies in its range, enums and bools well formed");

    for (i = 0; i < n; i++)
        if (st_param_find(rows[i].name) != &rows[i])
            found = 0;
    ok(found, "param-1.6 st_param_find returns each row by its name");
    ok(st_param_find("pe_row") == NULL && st_param_find(NULL) == NULL && st_param_find("") == NULL,
       "param-1.7 st_param_find returns NULL for unknown, empty and NULL names");
    ok(st_params(NULL) == rows, "param-1.8 st_params accepts a NULL count");
}

/* ------------------------------------------------------------------------ defaults */

static void test_defaults(void)
{
    st_point pt;
    st_err err;
    int rc;

    st_point_init(&pt);
    st_err_clear(&err);
    rc = st_point_check(&pt, &err);
    if (!ok(rc == ST_OK, "param-2.1 the defaults pass st_point_check"))
        diag("  %s", err.msg);
    ok(pt.pe_rows == 16 && pt.pe_cols == 16 && pt.macs_per_pe == 1,
       "param-2.2 array defaults to 16 x 16 PEs with one MAC each");
    ok(pt.ch0_kib == 64 && pt.ch1_kib == 64 && pt.ch2_kib == 64 && pt.clock_mhz == 1000,
       "param-2.3 buffers default to 64/64/64 KiB, clock to 1000 MHz");
    /* JEDEC JESD79-4 (DDR4): DDR4-3200 moves 3200 MT/s over a 64-bit (8-byte) channel. */
    ok_near(pt.dram_gbps, 3200e6 * 8 / 1e9, 1e-12,
            "param-2.4 DRAM bandwidth is one DDR4-3200 channel, 3200 MT/s x 8 B");
    ok(pt.dram_latency_ns == 100, "param-2.5 DRAM latency defaults to 100 ns");
    /* AlexNet's conv1 kernel is 11 x 11 (Krizhevsky et al., NIPS 2012): a kernel row
     * must fit the kernel-row register. */
    ok(pt.kreg_len == 16 && pt.kreg_len >= 11 && pt.oreg_len == 64,
       "param-2.6 kreg_len 16 holds an 11-wide AlexNet kernel row, oreg_len 64");
    ok(pt.data_bits == 16 && pt.index_bits == 8 && pt.psum_bits == 32,
       "param-2.7 widths default to 16-bit data, 8-bit index, 32-bit partial sums");
    ok(pt.batch == 1 && pt.seed == 1 && pt.sample_fraction == 0.05 && pt.fifo_depth == 4 &&
           pt.step_overhead == 1 && pt.relu_density == 0.5,
       "param-2.8 batch 1, seed 1, sample_fraction 0.05, fifo_depth 4, step_overhead 1, "
       "relu_density 0.5");
    ok(pt.format == ST_FMT_AUTO && pt.sync == ST_SYNC_LOCKSTEP && pt.fidelity == ST_FID_EXACT &&
           pt.grad_law == ST_LAW_NORMAL,
       "param-2.9 enums default to auto, lockstep, exact, normal");
    ok(pt.skip_fp_stream && pt.skip_bp_stream && pt.skip_bp_output && pt.skip_wg_stream &&
           pt.skip_wg_operand,
       "param-2.10 every kind of zero skipping is on by default");
    /* sigma = sqrt(pi/2) E|g| for a normal law (docs/pruning.md). */
    ok(pt.p == 0 && fabs(pt.prune_sigma_scale - sqrt(acos(-1.0) / 2)) < 1e-15 &&
           !pt.prune_skip_zeros && pt.prune_first && pt.prune_fc,
       "param-2.11 pruning defaults: p 0, sigma scale sqrt(pi/2), zeros counted, first and "
       "FC layers pruned");
}

/* ------------------------------------------------------------------- setting by text */

static void test_set_text(void)
{
    set_ok("param-3.1 int from text", "pe_rows", "32", 32);
    set_ok("param-3.2 int bounds are inclusive (1)", "pe_rows", "1", 1);
    set_ok("param-3.3 int bounds are inclusive (4096)", "pe_rows", "4096", 4096);
    set_ok("param-3.4 real in exponent notation", "dram_gbps", "1.28e2", 128);
    set_ok("param-3.5 surrounding white space is ignored", "clock_mhz", "  800\t\n", 800);
    set_ok("param-3.6 real just below an open bound", "p", "0.999999", 0.999999);
    set_ok("param-3.7 real on a closed bound", "p", "0", 0);
    set_ok("param-3.8 bool 'off'", "skip_fp_stream", "off", 0);
    set_ok("param-3.9 bool 'YES', any case", "prune_skip_zeros", "YES", 1);
    set_ok("param-3.10 bool '0'", "prune_fc", "0", 0);
    set_ok("param-3.11 enum by name", "format", "bitmap", ST_FMT_BITMAP);
    set_ok("param-3.12 enum name in any case", "sync", "FIFO", ST_SYNC_FIFO);
    set_ok("param-3.13 law by name", "grad_law", "lognormal", ST_LAW_LOGNORMAL);
    set_ok("param-3.14 seed at its largest", "seed", "2147483647", 2147483647.0);

    set_fails("param-4.1 unknown name suggests the closest one", "pe_row", "4",
              "unknown parameter 'pe_row'; did you mean 'pe_rows'?");
    set_fails("param-4.2 two edits away still suggests", "dram_gpbs", "4",
              "unknown parameter 'dram_gpbs'; did you mean 'dram_gbps'?");
    set_fails("param-4.3 a far name gets no suggestion", "frobnicate", "4",
              "unknown parameter 'frobnicate'");
    set_fails("param-4.23 a one-letter name is not taken for a misspelling", "q", "4",
              "unknown parameter 'q'");
    set_fails("param-4.4 int below its range", "pe_rows", "0", "pe_rows = 0: must be in [1, 4096]");
    set_fails("param-4.5 int above its range", "pe_rows", "4097",
              "pe_rows = 4097: must be in [1, 4096]");
    set_fails("param-4.6 a fraction for an int is the wrong type", "pe_rows", "2.5",
              "pe_rows = '2.5': must be a whole number");
    set_fails("param-4.7 an empty int", "pe_rows", "  ", "pe_rows = '': must be a whole number");
    set_fails("param-4.8 an int beyond long", "pe_rows", "99999999999999999999",
              "pe_rows = 99999999999999999999: must be in [1, 4096]");
    set_fails("param-4.9 unknown enum name lists the choices", "sync", "fast",
              "sync = 'fast': must be one of lockstep, fifo");
    set_fails("param-4.10 p = 1 violates the open bound", "p", "1", "p = 1: must be in [0, 1)");
    set_fails("param-4.11 negative p", "p", "-0.1", "p = -0.1: must be in [0, 1)");
    set_fails("param-4.12 zero capacity violates the open lower bound", "ch0_kib", "0",
              "ch0_kib = 0: must be in (0, 65536]");
    set_fails("param-4.13 text for a real", "dram_gbps", "fast",
              "dram_gbps = 'fast': must be a number");
    set_fails("param-4.14 trailing garbage after a real", "dram_gbps", "25.6GB",
              "dram_gbps = '25.6GB': must be a number");
    set_fails("param-4.15 infinity for a real", "dram_gbps", "inf",
              "dram_gbps = 'inf': must be a finite number");
    set_fails("param-4.16 NaN for a real", "relu_density", "nan",
              "relu_density = 'nan': must be a finite number");
    set_fails("param-4.17 overflowing real", "dram_gbps", "1e999",
              "dram_gbps = '1e999': must be a finite number");
    set_fails("param-4.18 a bool that is neither", "skip_fp_stream", "maybe",
              "skip_fp_stream = 'maybe': must be true or false (or 1/0, yes/no, on/off)");
    set_fails("param-4.19 NULL name", NULL, "1", "parameter name is NULL");
    set_fails("param-4.20 NULL value", "pe_rows", NULL, "pe_rows: value is NULL");
    {
        st_err err;
        st_err_clear(&err);
        ok(st_point_set(NULL, "pe_rows", "4", &err) == ST_EINVAL &&
               strcmp(err.msg, "pe_rows: point is NULL") == 0,
           "param-4.21 NULL point");
        ok(st_point_set(NULL, "pe_rows", "4", NULL) == ST_EINVAL,
           "param-4.22 a NULL st_err is accepted");
    }
}

/* ----------------------------------------------------------------- setting by number */

static void test_set_num(void)
{
    st_point pt;
    st_err err;

    st_point_init(&pt);
    st_err_clear(&err);
    ok(st_point_set_num(&pt, "pe_cols", 8, &err) == ST_OK && pt.pe_cols == 8,
       "param-5.1 int from a number");
    ok(st_point_set_num(&pt, "sync", 1, &err) == ST_OK && pt.sync == ST_SYNC_FIFO,
       "param-5.2 enum by index");
    ok(st_point_set_num(&pt, "skip_bp_output", 0, &err) == ST_OK && pt.skip_bp_output == 0,
       "param-5.3 bool from 0");
    ok(st_point_set_num(&pt, "sram_exp", 0.25, &err) == ST_OK && pt.sram_exp == 0.25,
       "param-5.4 real from a number");
    set_num_fails("param-5.5 a fraction for an int", "pe_rows", 2.5,
                  "pe_rows = 2.5: must be a whole number");
    set_num_fails("param-5.6 enum index out of range names the choices", "sync", 2,
                  "sync = 2: must be one of lockstep (0), fifo (1)");
    set_num_fails("param-5.7 bool other than 0 or 1", "skip_bp_output", 0.5,
                  "skip_bp_output = 0.5: must be 0 or 1");
    set_num_fails("param-5.8 NaN for a real", "clock_mhz", NAN,
                  "clock_mhz = nan: must be a finite number");
    set_num_fails("param-5.9 real on an open bound", "p", 1.0, "p = 1: must be in [0, 1)");
    set_num_fails("param-5.10 huge int", "batch", 1e300, "batch = 1e+300: must be in [1, 65536]");
    set_num_fails("param-5.11 unknown name", "batches", 2,
                  "unknown parameter 'batches'; did you mean 'batch'?");
    st_err_clear(&err);
    ok(st_point_set_num(NULL, "pe_rows", 4, &err) == ST_EINVAL &&
           strcmp(err.msg, "pe_rows: point is NULL") == 0,
       "param-5.12 NULL point");
}

/* ------------------------------------------------------------------------- get */

static void test_get(void)
{
    st_point pt;
    st_err err;
    double v = -1;

    st_point_init(&pt);
    pt.oreg_len = 128;
    pt.fidelity = ST_FID_SAMPLED;
    pt.ch1_kib = 12.5;
    pt.prune_first = 0;
    ok(getv(&pt, "oreg_len") == 128 && getv(&pt, "fidelity") == ST_FID_SAMPLED &&
           getv(&pt, "ch1_kib") == 12.5 && getv(&pt, "prune_first") == 0,
       "param-6.1 get reads ints, enums, reals and bools as doubles");
    st_err_clear(&err);
    ok(st_point_get(&pt, "oreg", &v, &err) == ST_EINVAL &&
           strcmp(err.msg, "unknown parameter 'oreg'") == 0 && v == -1,
       "param-6.2 get of an unknown name fails and leaves the value");
    st_err_clear(&err);
    ok(st_point_get(&pt, "oreg_len", NULL, &err) == ST_EINVAL &&
           strcmp(err.msg, "oreg_len: value is NULL") == 0,
       "param-6.3 get into NULL fails");
    st_err_clear(&err);
    ok(st_point_get(NULL, "oreg_len", &v, &err) == ST_EINVAL &&
           strcmp(err.msg, "oreg_len: point is NULL") == 0,
       "param-6.4 get from a NULL point fails");
}

/* -------------------------------------------------------------------------- check */

static void test_check(void)
{
    const st_param *rows;
    st_point pt;
    st_err err;
    int n, i, edges = 1;

    st_point_init(&pt);
    pt.pe_rows = 0;
    check_fails("param-7.1 check rejects an int a program wrote out of range", &pt,
                "pe_rows = 0: must be in [1, 4096]");
    st_point_init(&pt);
    pt.relu_density = NAN;
    check_fails("param-7.2 check rejects a NaN real", &pt,
                "relu_density = nan: must be a finite number");
    st_point_init(&pt);
    pt.skip_wg_stream = 2;
    check_fails("param-7.3 check rejects a bool other than 0 or 1", &pt,
                "skip_wg_stream = 2: must be 0 or 1");
    st_point_init(&pt);
    pt.grad_law = 3;
    check_fails("param-7.4 check rejects an enum index out of range", &pt,
                "grad_law = 3: must be one of normal (0), laplace (1), lognormal (2)");
    st_point_init(&pt);
    pt.spatial_corr = 1.0;
    check_fails("param-7.5 check honours open bounds", &pt, "spatial_corr = 1: must be in [0, 1)");
    st_point_init(&pt);
    pt.psum_bits = 8;
    check_fails("param-7.6 partial sums narrower than the data are rejected", &pt,
                "psum_bits = 8: must be >= data_bits (16)");
    check_fails("param-7.7 check of a NULL point", NULL, "design point is NULL");

    /* Every numeric row: its closed bounds pass, a step past each bound fails and the
     * message names the parameter. */
    rows = st_params(&n);
    for (i = 0; i < n; i++) {
        const st_param *r = &rows[i];
        double lo, hi, below, above;
        if (r->type != ST_PT_INT && r->type != ST_PT_REAL)
            continue;
        lo = r->min_open ? (r->type == ST_PT_INT ? r->min + 1 : nextafter(r->min, INFINITY))
                         : r->min;
        hi = r->max_open ? (r->type == ST_PT_INT ? r->max - 1 : nextafter(r->max, -INFINITY))
                         : r->max;
        below = r->min_open ? r->min
                            : (r->type == ST_PT_INT ? r->min - 1 : nextafter(r->min, -INFINITY));
        above = r->max_open ? r->max
                            : (r->type == ST_PT_INT ? r->max + 1 : nextafter(r->max, INFINITY));
        st_point_init(&pt);
        /* data_bits at its top needs room in psum_bits, and psum_bits at its bottom
         * needs data_bits no wider. */
        pt.psum_bits = 64;
        pt.data_bits = 1;
        st_err_clear(&err);
        if (st_point_set_num(&pt, r->name, lo, &err) != ST_OK ||
            st_point_check(&pt, &err) != ST_OK ||
            st_point_set_num(&pt, r->name, hi, &err) != ST_OK ||
            st_point_check(&pt, &err) != ST_OK) {
            edges = 0;
            diag("  %s: bound rejected: %s", r->name, err.msg);
        }
        st_err_clear(&err);
        if (st_point_set_num(&pt, r->name, below, &err) != ST_EINVAL ||
            strncmp(err.msg, r->name, strlen(r->name)) != 0 ||
            st_point_set_num(&pt, r->name, above, &err) != ST_EINVAL ||
            strncmp(err.msg, r->name, strlen(r->name)) != 0) {
            edges = 0;
            diag("  %s: value past a bound accepted or message '%s'", r->name, err.msg);
        }
    }
    ok(edges, "param-7.8 every numeric row accepts its bounds and rejects one step past them");
}

/* ------------------------------------------------------------------------- format */

static void test_format(void)
{
    const st_param *rows;
    st_point pt, back;
    char buf[64];
    int n, i, trips = 1;

    st_point_init(&pt);
    format_is("param-8.1 int", &pt, "pe_rows", "16");
    format_is("param-8.2 real, exact in %g", &pt, "dram_gbps", "25.6");
    format_is("param-8.3 bool", &pt, "skip_fp_stream", "true");
    format_is("param-8.4 enum by name", &pt, "sync", "lockstep");
    format_is("param-8.5 zero", &pt, "p", "0");
    pt.channel_cv = 0.1 + 0.2;
    format_is("param-8.6 a real %g would round prints all 17 digits", &pt, "channel_cv",
              "0.30000000000000004");
    pt.channel_cv = 1e-3;
    format_is("param-8.7 a short real stays short", &pt, "channel_cv", "0.001");
    pt.prune_fc = 0;
    format_is("param-8.8 bool false", &pt, "prune_fc", "false");

    /* Whatever a row holds, its text sets the same value again. */
    rows = st_params(&n);
    st_point_init(&pt);
    for (i = 0; i < n; i++) {
        st_point_format(&pt, &rows[i], buf, sizeof buf);
        st_point_init(&back);
        if (st_point_set(&back, rows[i].name, buf, NULL) != ST_OK ||
            getv(&back, rows[i].name) != getv(&pt, rows[i].name)) {
            trips = 0;
            diag("  %s: '%s' does not read back", rows[i].name, buf);
        }
    }
    ok(trips, "param-8.9 every default formats to text that sets the same value");

    st_point_init(&pt);
    memset(buf, 'x', sizeof buf);
    st_point_format(&pt, st_param_find("sync"), buf, 3);
    ok(strcmp(buf, "lo") == 0, "param-8.10 format truncates to the buffer and terminates it");
    memset(buf, 'x', sizeof buf);
    st_point_format(&pt, NULL, buf, sizeof buf);
    ok(buf[0] == '\0', "param-8.11 format of a NULL row gives an empty string");

    range_is("param-8.12 int range", "pe_rows", "[1, 4096]");
    range_is("param-8.13 half-open real range", "p", "[0, 1)");
    range_is("param-8.14 range open below", "ch0_kib", "(0, 65536]");
    range_is("param-8.15 enum choices", "sync", "lockstep, fifo");
    range_is("param-8.16 bool choices", "prune_first", "true, false");
    range_is("param-8.17 a large int bound prints whole", "seed", "[0, 2147483647]");
}

/* -------------------------------------------------------------- sparsity config */

static void test_sparsity(void)
{
    st_point pt;
    st_sparsity_cfg cfg;

    st_point_init(&pt);
    pt.seed = 77;
    pt.p = 0.9;
    pt.prune_sigma_scale = 1.5;
    pt.prune_skip_zeros = 1;
    pt.prune_first = 0;
    pt.prune_fc = 0;
    pt.grad_law = ST_LAW_LAPLACE;
    pt.lognormal_sigma = 2.0;
    pt.relu_density = 0.3;
    pt.channel_cv = 0.4;
    pt.spatial_corr = 0.6;
    pt.spatial_block = 8;
    memset(&cfg, 0xA5, sizeof cfg);
    st_point_sparsity(&pt, &cfg);
    ok(cfg.seed == 77 && cfg.prune.p == 0.9 && cfg.prune.sigma_scale == 1.5 &&
           cfg.prune.skip_zeros == 1 && cfg.prune_first == 0 && cfg.prune_fc == 0 &&
           cfg.grad_law == ST_LAW_LAPLACE && cfg.lognormal_sigma == 2.0 &&
           cfg.relu_density == 0.3 && cfg.channel_cv == 0.4 && cfg.spatial_corr == 0.6 &&
           cfg.spatial_block == 8 && cfg.relu_density_by_layer == NULL,
       "param-9.1 st_point_sparsity copies every sparsity field");

    /* The point's defaults are the model's documented defaults (docs/sparsity.md). */
    st_point_init(&pt);
    st_point_sparsity(&pt, &cfg);
    ok(cfg.seed == 1 && cfg.prune.p == 0 && cfg.prune.skip_zeros == 0 && cfg.prune_first == 1 &&
           cfg.prune_fc == 1 && cfg.grad_law == ST_LAW_NORMAL && cfg.lognormal_sigma == 1.0 &&
           cfg.relu_density == 0.5 && cfg.channel_cv == 0 && cfg.spatial_corr == 0 &&
           cfg.spatial_block == 4,
       "param-9.2 default point gives the sparsity model's defaults");

    {
        st_err e;
        int rc;
        st_err_clear(&e);
        rc = st_param_check(st_param_find("pe_rows"), 0, &e);
        ok(rc == ST_EINVAL && !strcmp(e.msg, "pe_rows = 0: must be in [1, 4096]"),
           "param-9.3 st_param_check: \"%s\"", e.msg);
        st_err_clear(&e);
        rc = st_param_check(NULL, 1, &e);
        ok(rc == ST_EINVAL && !strcmp(e.msg, "parameter row is NULL"),
           "param-9.4 st_param_check of a NULL row: \"%s\"", e.msg);
        ok(st_param_check(st_param_find("sync"), 1, NULL) == ST_OK,
           "param-9.5 st_param_check accepts a value in range");
    }
}

/* --------------------------------------------------------------------------- docs */

static void test_docs(void)
{
    const st_param *rows;
    const char *src = getenv("ST_SRC");
    char path[1024], *text = NULL, key[80];
    FILE *f;
    long len;
    int n, i, all = 1;

    snprintf(path, sizeof path, "%s/docs/parameters.md", src && *src ? src : ".");
    f = fopen(path, "rb");
    if (!f) {
        skip("docs/parameters.md not found (set ST_SRC to the source tree)",
             "param-10.1 docs/parameters.md lists every parameter");
    } else {
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = len >= 0 ? calloc((size_t)len + 1, 1) : NULL;
        if (text && fread(text, 1, (size_t)len, f) != (size_t)len)
            text[0] = '\0';
        fclose(f);
        rows = st_params(&n);
        for (i = 0; i < n; i++) {
            snprintf(key, sizeof key, "`%s`", rows[i].name);
            if (!text || !strstr(text, key)) {
                all = 0;
                diag("  %s does not mention %s", path, key);
            }
        }
        ok(all, "param-10.1 docs/parameters.md lists every parameter");
    }
    free(text);
}

int main(void)
{
    test_table();
    test_defaults();
    test_set_text();
    test_set_num();
    test_get();
    test_check();
    test_format();
    test_sparsity();
    test_docs();
    return tap_done();
}
