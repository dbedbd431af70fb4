/*
 * t_h5.c - TAP tests of reading result files (an_h5): a small file written here with the
 * HDF5 library as results/README.md lays it out, read back column by column (types,
 * units, choices, 64-bit values, lazy loading), with its provenance, failures, network and
 * per-layer detail; and every kind of bad file with its message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "an.h"
#include "tap.h"

#define BIG ((1ULL << 60) + 1) /* a count that a double cannot hold exactly */

/* ------------------------------------------------------------------ writing */

static void attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a;

    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void attr_num(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR),
          a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);

    H5Awrite(a, mtype, v);
    H5Aclose(a);
    H5Sclose(sp);
}

static void attr_i32(hid_t obj, const char *name, int v)
{
    attr_num(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, &v);
}

static void attr_u64(hid_t obj, const char *name, uint64_t v)
{
    attr_num(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

/* A 1-D dataset of n values; returns it open (for attributes). */
static hid_t ds(hid_t f, const char *path, hid_t ftype, hid_t mtype, size_t n, const void *v)
{
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE), d;

    H5Pset_create_intermediate_group(lcpl, 1);
    d = H5Dcreate2(f, path, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (n)
        H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Pclose(lcpl);
    H5Sclose(sp);
    return d;
}

static void ds_close(hid_t d)
{
    H5Dclose(d);
}

static void ds_strs(hid_t f, const char *path, size_t n, const char **v)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    ds_close(ds(f, path, t, t, n, v));
    H5Tclose(t);
}

/* The variations of the file the tests need. */
typedef struct variant {
    int format_ok;   /* 0: no format attribute (a foreign file) */
    int version;     /* format_version */
    uint64_t points; /* the attribute points */
    int detail;      /* write /detail */
    int short_param; /* one parameter column with 2 rows instead of 3 */
} variant;

static int write_file(const char *path, const variant *v)
{
    static const uint64_t id[3] = {0x8000000000000001ULL, 2, 3}, idx[3] = {0, 1, 3};
    static const int32_t status[3] = {0, 1, 0}, sync[3] = {0, 1, 1}, prune[3] = {1, 0, 1},
                         rows_pe[3] = {4, 8, 16};
    static const double p[3] = {0.5, 0.25, 1e-3}, energy[3] = {1.5, NAN, 2.5};
    static const uint64_t cycles[3] = {BIG, 0, 7}, frow[1] = {1}, fid[1] = {2};
    static const char *fmsg[1] = {"buffer too small"};
    static const char *lname[3] = {"c1", "r1", "c2"}, *lkind[3] = {"conv", "relu", "conv"};
    static const uint64_t drow[5] = {0, 0, 0, 2, 2}, dcyc[5] = {10, 11, 12, 13, 14},
                          ddense[5] = {20, 21, 22, 23, 24};
    static const int32_t dlayer[5] = {0, 0, 2, 0, 2}, dphase[5] = {0, 2, 0, 1, 2};
    static const double den[5] = {1, 2, 3, 4, 5}, dden[5] = {6, 7, 8, 9, 10};
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), d, g;
    double elapsed = 0.25;

    if (f < 0)
        return -1;
    if (v->format_ok)
        attr_str(f, "format", "stexplore-result");
    attr_i32(f, "format_version", v->version);
    attr_i32(f, "complete", 1);
    attr_str(f, "name", "tiny");
    attr_u64(f, "points", v->points);
    attr_u64(f, "failed", 1);
    attr_u64(f, "rejected", 0);
    attr_u64(f, "candidates", 4);
    attr_u64(f, "excluded", 1);
    attr_u64(f, "duplicates", 0);
    ds_close(ds(f, "/points/id", H5T_STD_U64LE, H5T_NATIVE_UINT64, 3, id));
    ds_close(ds(f, "/points/index", H5T_STD_U64LE, H5T_NATIVE_UINT64, 3, idx));
    ds_close(ds(f, "/points/status", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, status));
    d = ds(f, "/params/p", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, p);
    attr_str(d, "unit", "");
    attr_str(d, "type", "real");
    attr_str(d, "role", "swept");
    ds_close(d);
    d = ds(f, "/params/sync", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, sync);
    attr_str(d, "type", "enum");
    attr_str(d, "range", "lockstep, fifo");
    attr_str(d, "role", "swept");
    ds_close(d);
    d = ds(f, "/params/prune_fc", H5T_STD_I32LE, H5T_NATIVE_INT32, v->short_param ? 2 : 3, prune);
    attr_str(d, "type", "bool");
    attr_str(d, "range", "true, false");
    attr_str(d, "role", "default");
    ds_close(d);
    d = ds(f, "/params/pe_rows", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, rows_pe);
    attr_str(d, "type", "int");
    attr_str(d, "unit", "PEs");
    attr_str(d, "help", "PE rows");
    attr_str(d, "role", "swept");
    ds_close(d);
    d = ds(f, "/metrics/cycles", H5T_STD_U64LE, H5T_NATIVE_UINT64, 3, cycles);
    attr_str(d, "unit", "cycles");
    ds_close(d);
    d = ds(f, "/metrics/energy_pj", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, energy);
    attr_str(d, "unit", "pJ");
    ds_close(d);
    ds_close(ds(f, "/failures/row", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, frow));
    ds_close(ds(f, "/failures/id", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, fid));
    ds_strs(f, "/failures/message", 1, fmsg);
    ds_strs(f, "/network/layer_name", 3, lname);
    ds_strs(f, "/network/layer_kind", 3, lkind);
    g = H5Gopen2(f, "network", H5P_DEFAULT);
    attr_str(g, "name", "net");
    attr_str(g, "source", "lua");
    H5Gclose(g);
    g = H5Gcreate2(f, "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    attr_str(g, "program", "stexplore");
    attr_i32(g, "ranks", 1);
    attr_u64(g, "seed", 7);
    attr_num(g, "elapsed_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &elapsed);
    H5Gclose(g);
    if (v->detail) {
        ds_close(ds(f, "/detail/row", H5T_STD_U64LE, H5T_NATIVE_UINT64, 5, drow));
        ds_close(ds(f, "/detail/layer", H5T_STD_I32LE, H5T_NATIVE_INT32, 5, dlayer));
        ds_close(ds(f, "/detail/phase", H5T_STD_I32LE, H5T_NATIVE_INT32, 5, dphase));
        d = ds(f, "/detail/cycles", H5T_STD_U64LE, H5T_NATIVE_UINT64, 5, dcyc);
        attr_str(d, "unit", "cycles");
        ds_close(d);
        ds_close(ds(f, "/detail/dense_cycles", H5T_STD_U64LE, H5T_NATIVE_UINT64, 5, ddense));
        ds_close(ds(f, "/detail/energy_pj", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 5, den));
        ds_close(ds(f, "/detail/dense_energy_pj", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 5, dden));
    }
    return H5Fclose(f) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ reading */

static void test_good(const char *dir)
{
    static const char *const names[] = {"row",     "id",       "index", "status", "p",
                                        "pe_rows", "prune_fc", "sync",  "cycles", "energy_pj",
                                        "message"};
    static const an_type types[] = {AN_T_INT, AN_T_ID,   AN_T_U64,  AN_T_ENUM, AN_T_REAL, AN_T_INT,
                                    AN_T_BOOL, AN_T_ENUM, AN_T_U64,  AN_T_REAL, AN_T_ENUM};
    variant v = {1, 1, 3, 1, 0};
    char path[512], buf[64];
    an_table *t = NULL;
    st_err err;
    int rc, same = 1, c;

    snprintf(path, sizeof path, "%s/good.h5", dir);
    write_file(path, &v);
    rc = an_h5_load(path, &t, &err);
    if (!ok(rc == ST_OK && t, "h5-1.1 a result file loads"))
        diag("  %s", err.msg);
    if (!t)
        return;
    ok(t->n == 3 && !strcmp(t->name, "tiny") && t->complete == 1 && t->candidates == 4 &&
           t->excluded == 1 && t->failed == 1,
       "h5-1.2 rows, name and counts from the file's attributes");
    same = t->ncol == 11;
    for (int i = 0; same && i < 11; i++)
        same = !strcmp(t->col[i].name, names[i]) && t->col[i].type == types[i];
    ok(same, "h5-1.3 columns row, id, index, status, then parameters and metrics by name, "
             "with their types, then the failed points' message");
    c = an_table_find(t, "pe_rows");
    ok(c >= 0 && !strcmp(t->col[c].unit, "PEs") && !strcmp(t->col[c].role, "swept") &&
           !strcmp(t->col[c].help, "PE rows"),
       "h5-1.4 unit, role and help from the attributes");
    c = an_table_find(t, "sync");
    ok(c >= 0 && t->col[c].nchoice == 2 && !strcmp(t->col[c].choice[1], "fifo"),
       "h5-1.5 an enum's choices from its range");
    c = an_table_find(t, "message");
    ok(c >= 0 && t->col[c].v && t->col[c].nchoice == 1 &&
           !strcmp(t->col[c].choice[0], "buffer too small") && isnan(t->col[c].v[0]) &&
           t->col[c].v[1] == 0 && isnan(t->col[c].v[2]),
       "h5-1.5b the column message: /failures/message on the failed row, NaN elsewhere");
    c = an_table_find(t, "cycles");
    ok(c >= 0 && t->col[c].v == NULL, "h5-1.6 a column is not read before it is needed");
    rc = an_table_load_col(t, c, &err);
    ok(rc == ST_OK && t->col[c].u && t->col[c].u[0] == BIG && t->col[c].v[2] == 7,
       "h5-1.7 ... and then read, 64-bit values exactly");
    c = an_table_find(t, "energy_pj");
    an_table_load_col(t, c, &err);
    ok(isnan(t->col[c].v[1]) && t->col[c].v[2] == 2.5, "h5-1.8 a failed point's NaN is kept");
    c = an_table_find(t, "id");
    an_table_load_col(t, c, &err);
    an_table_format(t, c, 0, 0, buf, sizeof buf);
    ok(!strcmp(buf, "8000000000000001"), "h5-1.9 ids exactly, in hexadecimal");
    c = t->status_col;
    an_table_load_col(t, c, &err);
    an_table_format(t, c, 1, 0, buf, sizeof buf);
    ok(!strcmp(buf, "failed"), "h5-1.10 status by name");
    ok(an_table_prov(t, "program") && !strcmp(an_table_prov(t, "program"), "stexplore") &&
           !strcmp(an_table_prov(t, "ranks"), "1") && !strcmp(an_table_prov(t, "seed"), "7") &&
           !strcmp(an_table_prov(t, "elapsed_s"), "0.25") && !an_table_prov(t, "nope"),
       "h5-1.11 provenance attributes as text, numbers exactly");
    ok(t->nfail == 1 && t->fail_row[0] == 1 && !strcmp(t->fail_msg[0], "buffer too small"),
       "h5-1.12 failures: row and message");
    ok(t->nlayer == 3 && !strcmp(t->layer_name[2], "c2") && !strcmp(t->layer_kind[1], "relu") &&
           !strcmp(t->net_name, "net") && !strcmp(t->net_source, "lua") && t->has_detail,
       "h5-1.13 the network's layers, and that the file has detail");

    /* detail */
    {
        an_detail d;
        int fc, fd;
        rc = an_h5_detail(t, 0, &d, &err);
        fc = rc == ST_OK ? an_detail_field(&d, "cycles") : -1;
        fd = rc == ST_OK ? an_detail_field(&d, "dense_energy_pj") : -1;
#define V(li, ph, f) d.v[((size_t)(li)*AN_PHASES + (ph)) * (size_t)d.nfield + (size_t)(f)]
        ok(rc == ST_OK && d.nlayer == 2 && d.layer[0] == 0 && d.layer[1] == 2 && d.nfield == 4 &&
               fc >= 0 && fd >= 0 && !strcmp(d.unit[fc], "cycles"),
           "h5-2.1 detail of row 0: the layers with rows, the fields and units");
        ok(rc == ST_OK && V(0, 0, fc) == 10 && V(0, 2, fc) == 11 && V(1, 0, fc) == 12 &&
               isnan(V(0, 1, fc)) && V(1, 0, fd) == 8,
           "h5-2.2 ... values by layer and phase, NaN for a phase without a row");
        an_detail_fini(&d);
        rc = an_h5_detail(t, 2, &d, &err);
        ok(rc == ST_OK && d.nlayer == 2 && V(0, 1, an_detail_field(&d, "cycles")) == 13 &&
               V(1, 2, an_detail_field(&d, "dense_cycles")) == 24,
           "h5-2.3 detail of the last row (found by binary search)");
        an_detail_fini(&d);
#undef V
        rc = an_h5_detail(t, 1, &d, &err);
        ok(rc == ST_EINVAL && strstr(err.msg, "row 1 failed and has no detail (buffer too small)"),
           "h5-2.4 a failed point has no detail: %s", rc ? err.msg : "");
        rc = an_h5_detail(t, 3, &d, &err);
        ok(rc == ST_EINVAL && strstr(err.msg, "row 3: ") && strstr(err.msg, "has rows 0 to 2"),
           "h5-2.5 a row beyond the file: %s", rc ? err.msg : "");
        ok(d.nlayer == 0 && d.v == NULL, "h5-2.6 on failure the detail is empty");
    }
    an_table_destroy(&t);
}

static void test_bad(const char *dir)
{
    static const struct {
        const char *file, *what;
        variant v;
        int rc;
        const char *want;
    } cases[] = {
        {"foreign.h5",
         "an HDF5 file that is not ours",
         {0, 1, 3, 0, 0},
         ST_EFORMAT,
         "is an HDF5 file but not a stexplore result file (it has no attribute format = "
         "'stexplore-result')"},
        {"v2.h5",
         "another format version",
         {1, 2, 3, 0, 0},
         ST_EFORMAT,
         "result format version 2; stquery reads version 1"},
        {"count.h5",
         "a points attribute that disagrees with the columns",
         {1, 1, 5, 0, 0},
         ST_EFORMAT,
         "the attribute points and /points/status disagree"},
        {"short.h5",
         "a column of the wrong length",
         {1, 1, 3, 0, 1},
         ST_EFORMAT,
         "/params/prune_fc is not a numeric column of 3 rows"},
    };
    char path[512];
    an_table *t = NULL;
    an_detail d;
    st_err err;
    FILE *f;
    int rc, n = 0;

    snprintf(path, sizeof path, "%s/nope.h5", dir);
    rc = an_h5_load(path, &t, &err);
    ok(rc == ST_EINVAL && !t && strstr(err.msg, "nope.h5: no such file"),
       "h5-3.%d a missing file: %s", ++n, rc ? err.msg : "");
    rc = an_h5_load(dir, &t, &err);
    ok(rc == ST_EINVAL && strstr(err.msg, "is a directory, not a result file"),
       "h5-3.%d a directory: %s", ++n, rc ? err.msg : "");
    snprintf(path, sizeof path, "%s/text.h5", dir);
    if ((f = fopen(path, "w"))) {
        fputs("name,cycles\na,1\n", f);
        fclose(f);
    }
    rc = an_h5_load(path, &t, &err);
    ok(rc == ST_EFORMAT && strstr(err.msg, "text.h5 is not an HDF5 file"),
       "h5-3.%d a text file: %s", ++n, rc ? err.msg : "");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        write_file(path, &cases[i].v);
        rc = an_h5_load(path, &t, &err);
        if (!ok(rc == cases[i].rc && !t && strstr(err.msg, cases[i].want) &&
                    strstr(err.msg, cases[i].file),
                "h5-3.%d %s: %s", ++n, cases[i].what, cases[i].want))
            diag("  rc %d: %s", rc, rc ? err.msg : "");
        an_table_destroy(&t);
    }
    /* A file without detail, and a table that is not a file. */
    {
        variant v = {1, 1, 3, 0, 0};
        snprintf(path, sizeof path, "%s/nodetail.h5", dir);
        write_file(path, &v);
        rc = an_h5_load(path, &t, &err);
        if (rc == ST_OK)
            rc = an_h5_detail(t, 0, &d, &err);
        ok(rc == ST_EINVAL && strstr(err.msg, "has no per-layer detail: its sweep did not set "
                                              "detail = true"),
           "h5-3.%d a file without detail: %s", ++n, rc ? err.msg : "");
        an_table_destroy(&t);
        an_table_create("made", 1, &t, &err);
        rc = an_h5_detail(t, 0, &d, &err);
        ok(rc == ST_EINVAL && strstr(err.msg, "not a result file"),
           "h5-3.%d detail of a table that is not a file: %s", ++n, rc ? err.msg : "");
        an_table_destroy(&t);
    }
}

int main(void)
{
    char dir[] = "/tmp/t_h5-XXXXXX";
    char cmd[600];

    if (!mkdtemp(dir)) {
        printf("Bail out! cannot make a temporary folder\n");
        return 1;
    }
    test_good(dir);
    test_bad(dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return tap_done();
}
