/*
 * t_table.c - TAP tests of tables (an_table), queries (an_query) and output (an_out):
 * exact number text against strtod, values as text per type, lookup with suggestions,
 * point ids by prefix, the sort against an insertion sort written here, the rows a query
 * selects and its messages, and the table, CSV and JSON output of a small table, byte for
 * byte.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"
#include "an_test.h"
#include "tap.h"

/* ------------------------------------------------------------- number text */

static void test_exact(void)
{
    static const struct {
        double v;
        const char *want;
    } fixed[] = {{0.1, "0.1"},       {0.30000000000000004, "0.30000000000000004"},
                 {1e300, "1e+300"},  {-0.0, "-0"},
                 {5e-324, "5e-324"}, {123456789, "123456789"},
                 {1000, "1000"},     {-2.5e16, "-25000000000000000"},
                 {1e17, "1e+17"},    {NAN, "nan"},
                 {INFINITY, "inf"},  {-INFINITY, "-inf"}};
    uint64_t seed = 7;
    size_t bad = 0, notmin = 0;
    char buf[64], shorter[64];

    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        an_fmt_exact(fixed[i].v, buf, sizeof buf);
        if (!ok(!strcmp(buf, fixed[i].want), "table-1.%zu exact text of %s", i + 1, fixed[i].want))
            diag("  got %s", buf);
    }
    /* Random bit patterns: the text reads back exactly, and one digit fewer would not. */
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = next_u64(&seed);
        double v;
        int digits;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        an_fmt_exact(v, buf, sizeof buf);
        if (strtod(buf, NULL) != v)
            bad++;
        for (digits = 1; digits <= 17; digits++) {
            snprintf(shorter, sizeof shorter, "%.*g", digits, v);
            if (strtod(shorter, NULL) == v)
                break;
        }
        /* Whole numbers below 1e17 are written in full, which can be longer. */
        if (strcmp(shorter, buf) != 0 && !(v == floor(v) && fabs(v) < 1e17))
            notmin++;
    }
    ok(bad == 0, "table-2.1 100000 random doubles read back exactly (%zu do not)", bad);
    ok(notmin == 0,
       "table-2.2 ... with the fewest significant digits, whole numbers below 1e17 in full (%zu "
       "longer)",
       notmin);
}

/* ------------------------------------------------------------------ a table */

enum { C_ROW = 0, C_ID, C_STATUS, C_P, C_SYNC, C_PRUNE, C_CYC, C_EN, NCOLS };

/* Six points: ids with a shared prefix, a failed point with NaN energy. */
static an_table *small_table(void)
{
    static const double p[6] = {0.3, 0.30000000000000004, 0.9, 0.5, 0.5, 0};
    static const double sync[6] = {0, 1, 1, 0, 1, 0};
    static const double prune[6] = {1, 0, 1, 1, 0, 1};
    static const uint64_t id[6] = {0x0123456789abcdefULL, 0x0123456700000000ULL,
                                   0xfedcba9876543210ULL, 0xaaaaaaaaaaaaaaaaULL,
                                   0x5555555555555555ULL, 0xffffffffffffffffULL};
    static const uint64_t cyc[6] = {100, 200, 50, 300, 120, 18446744073709551615ULL};
    static const double en[6] = {5, 2.5, 9, NAN, 1.25e9, 4};
    static const double status[6] = {0, 0, 0, 1, 0, 2};
    an_table *t = NULL;
    st_err err;
    int c;

    if (an_table_create("small.h5", 6, &t, &err) != ST_OK ||
        an_table_add(t, "row", "", AN_G_COMPUTED, AN_T_INT, &c, &err) != ST_OK ||
        an_table_add(t, "id", "", AN_G_POINT, AN_T_ID, &c, &err) != ST_OK ||
        an_table_add(t, "status", "", AN_G_POINT, AN_T_ENUM, &t->status_col, &err) != ST_OK ||
        an_table_add(t, "p", "", AN_G_PARAM, AN_T_REAL, &c, &err) != ST_OK ||
        an_table_add(t, "sync", "", AN_G_PARAM, AN_T_ENUM, &c, &err) != ST_OK ||
        an_table_add(t, "prune_fc", "", AN_G_PARAM, AN_T_BOOL, &c, &err) != ST_OK ||
        an_table_add(t, "cycles", "cycles", AN_G_METRIC, AN_T_U64, &c, &err) != ST_OK ||
        an_table_add(t, "energy_pj", "pJ", AN_G_METRIC, AN_T_REAL, &c, &err) != ST_OK ||
        an_table_set_choices(t, C_STATUS, "ok, failed, rejected", &err) != ST_OK ||
        an_table_set_choices(t, C_SYNC, "lockstep,fifo", &err) != ST_OK)
        return NULL;
    for (int j = 0; j < NCOLS; j++)
        t->col[j].v = malloc(6 * sizeof(double));
    t->col[C_ID].u = malloc(6 * sizeof(uint64_t));
    t->col[C_CYC].u = malloc(6 * sizeof(uint64_t));
    for (int i = 0; i < 6; i++) {
        t->col[C_ROW].v[i] = i;
        t->col[C_ID].u[i] = id[i];
        t->col[C_ID].v[i] = (double)id[i];
        t->col[C_STATUS].v[i] = status[i];
        t->col[C_P].v[i] = p[i];
        t->col[C_SYNC].v[i] = sync[i];
        t->col[C_PRUNE].v[i] = prune[i];
        t->col[C_CYC].u[i] = cyc[i];
        t->col[C_CYC].v[i] = (double)cyc[i];
        t->col[C_EN].v[i] = en[i];
    }
    return t;
}

static void test_format(an_table *t)
{
    static const struct {
        int col, row, exact;
        const char *want;
    } cases[] = {{C_ROW, 4, 0, "4"},
                 {C_ID, 1, 0, "0123456700000000"},
                 {C_STATUS, 3, 0, "failed"},
                 {C_P, 1, 0, "0.3"},
                 {C_P, 1, 1, "0.30000000000000004"},
                 {C_SYNC, 1, 0, "fifo"},
                 {C_PRUNE, 1, 0, "false"},
                 {C_PRUNE, 0, 0, "true"},
                 {C_CYC, 5, 0, "18446744073709551615"},
                 {C_EN, 4, 0, "1.25e+09"},
                 {C_EN, 3, 0, "nan"}};
    char buf[64];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        an_table_format(t, cases[i].col, (size_t)cases[i].row, cases[i].exact, buf, sizeof buf);
        if (!ok(!strcmp(buf, cases[i].want), "table-3.%zu %s at row %d as text: %s", i + 1,
                t->col[cases[i].col].name, cases[i].row, cases[i].want))
            diag("  got %s", buf);
    }
    ok(!strcmp(t->col[C_SYNC].choice[0], "lockstep") && !strcmp(t->col[C_SYNC].choice[1], "fifo"),
       "table-3.%zu choices are split at commas, blanks trimmed",
       sizeof cases / sizeof cases[0] + 1);
}

static void test_lookup(an_table *t)
{
    st_err err;
    int c = -7, rc;

    ok(an_table_find(t, "cycles") == C_CYC && an_table_find(t, "metrics/cycles") == C_CYC,
       "table-4.1 find by name and by group/name");
    ok(an_table_find(t, "params/cycles") == -1 && an_table_find(t, "nope") == -1,
       "table-4.2 the wrong group or an unknown name: -1");
    rc = an_table_lookup(t, "cycle", "--min", &c, &err);
    ok(rc == ST_EINVAL && !strcmp(err.msg, "--min: small.h5 has no column 'cycle'; did you mean "
                                           "'cycles'?"),
       "table-4.3 a near miss names the nearest column: %s", rc ? err.msg : "");
    rc = an_table_lookup(t, "energy", NULL, &c, &err);
    ok(rc == ST_EINVAL && strstr(err.msg, "did you mean 'energy_pj'?"),
       "table-4.4 a prefix suggests the column it starts: %s", rc ? err.msg : "");
    rc = an_table_lookup(t, "qqqqqq", NULL, &c, &err);
    ok(rc == ST_EINVAL && strstr(err.msg, "no column 'qqqqqq' (stquery info lists"),
       "table-4.5 no near name: says where to look: %s", rc ? err.msg : "");
    rc = an_table_lookup(t, "p", NULL, &c, &err);
    ok(rc == ST_OK && c == C_P, "table-4.6 lookup of a column that exists");
    rc = an_table_add(t, "p", "", AN_G_PARAM, AN_T_REAL, &c, &err);
    ok(rc == ST_EINVAL && strstr(err.msg, "two columns called 'p'"),
       "table-4.7 a second column of a group with the same name is refused");
}

static void test_ids(an_table *t)
{
    static const struct {
        const char *hex;
        int rc;
        size_t row;
        const char *want;
    } cases[] = {{"fedcba9876543210", ST_OK, 2, NULL},
                 {"FEDC", ST_OK, 2, NULL},
                 {"01234567", ST_EINVAL, 0, "ambiguous in small.h5: 2 points start with it"},
                 {"012345678", ST_OK, 0, NULL},
                 {"0124", ST_EINVAL, 0, "small.h5 has no point with id '0124'"},
                 {"012", ST_EINVAL, 0, "must be 4 to 16 hexadecimal digits"},
                 {"0123x", ST_EINVAL, 0, "must be 4 to 16 hexadecimal digits"},
                 {"0123456789abcdef0", ST_EINVAL, 0, "must be 4 to 16 hexadecimal digits"}};
    st_err err;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t row = 99;
        int rc = an_table_row_of_id(t, cases[i].hex, &row, &err);
        if (!ok(rc == cases[i].rc && (rc != ST_OK || row == cases[i].row) &&
                    (rc == ST_OK || strstr(err.msg, cases[i].want)),
                "table-5.%zu point id '%s'", i + 1, cases[i].hex))
            diag("  rc %d row %zu: %s", rc, row, rc ? err.msg : "");
    }
}

/* ------------------------------------------------------------------- sorting */

/* The order the sort must give, from its definition: keys in turn, NaN after numbers, ties
 * in the original order (an insertion sort that only moves a row past a greater one). */
static int before(const an_table *t, size_t a, size_t b, const int *col, const int *desc, int nk)
{
    for (int i = 0; i < nk; i++) {
        double x = t->col[col[i]].v[a], y = t->col[col[i]].v[b];
        if (isnan(x) != isnan(y))
            return isnan(y);
        if (isnan(x) || x == y)
            continue;
        return desc[i] ? x > y : x < y;
    }
    return 0;
}

static void test_sort(void)
{
    uint64_t seed = 99;
    an_table *t = NULL;
    st_err err;
    int c, col[3] = {0, 1, 2}, desc[3], bad = 0;
    size_t n = 3000, *rows = malloc(n * sizeof *rows), *want = malloc(n * sizeof *want);

    an_table_create("sort", n, &t, &err);
    for (int j = 0; j < 3; j++) {
        an_table_add(t, j == 0 ? "x" : j == 1 ? "y" : "z", "", AN_G_METRIC, AN_T_REAL, &c, &err);
        t->col[c].v = malloc(n * sizeof(double));
    }
    for (size_t i = 0; i < n; i++) {
        t->col[0].v[i] = next_u64(&seed) % 9 == 0 ? NAN : (double)(next_u64(&seed) % 5);
        t->col[1].v[i] = (double)(next_u64(&seed) % 4);
        t->col[2].v[i] = next_unit(&seed);
    }
    for (int trial = 0; trial < 8; trial++) {
        int nk = 1 + trial % 3;
        for (int i = 0; i < 3; i++)
            desc[i] = (trial >> i) & 1;
        for (size_t i = 0; i < n; i++)
            rows[i] = want[i] = i;
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && before(t, want[j], want[j - 1], col, desc, nk); j--) {
                size_t s = want[j];
                want[j] = want[j - 1];
                want[j - 1] = s;
            }
        if (an_rows_sort(t, rows, n, col, desc, nk, &err) != ST_OK ||
            memcmp(rows, want, n * sizeof *rows) != 0)
            bad++;
    }
    ok(bad == 0,
       "table-6.1 sorts of 3000 rows by 1 to 3 keys, each way, NaN last, stable: %d "
       "differ from an insertion sort",
       bad);
    an_table_destroy(&t);
    ok(t == NULL, "table-6.2 destroy sets NULL");
    free(rows);
    free(want);
}

/* ------------------------------------------------------------------ queries */

static void test_query(an_table *t)
{
    an_query q = {0};
    an_expr *w[1] = {NULL};
    size_t rows[6], n = 99;
    double x[12];
    const char *names[2];
    an_points pts;
    st_err err;
    int rc;

    q.ok_only = 1;
    rc = an_query_rows(t, &q, rows, &n, &err);
    ok(rc == ST_OK && n == 4 && rows[0] == 0 && rows[1] == 1 && rows[2] == 2 && rows[3] == 4,
       "query-1.1 only the points of status ok, in row order");
    q.nobj = 2;
    q.col[0] = C_CYC;
    q.col[1] = C_EN;
    q.sense[1] = AN_MAX;
    rc = an_query_rows(t, &q, rows, &n, &err);
    an_query_points(t, &q, rows, n, x, names, &pts);
    ok(rc == ST_OK && pts.n == 4 && pts.k == 2 && x[2] == 200 && x[3] == 2.5 &&
           !strcmp(names[1], "energy_pj") && pts.sense[1] == AN_MAX,
       "query-1.2 the objectives of the rows, with names and senses");
    an_expr_compile(t, "p > 0.95", &w[0], &err);
    q.nwhere = 1;
    q.where = w;
    rc = an_query_rows(t, &q, rows, &n, &err);
    ok(rc == ST_EINVAL && n == 0 &&
           !strcmp(err.msg, "small.h5: no point passes the filter 'p > 0.95' (of 4 successful "
                            "points)"),
       "query-1.3 a filter nothing passes: %s", rc ? err.msg : "");
    an_expr_destroy(&w[0]);
    q.nwhere = 0;
    q.ok_only = 0;
    rc = an_query_rows(t, &q, rows, &n, &err);
    ok(rc == ST_EINVAL && !strcmp(err.msg, "small.h5: row 3: energy_pj = nan: cannot compare it"),
       "query-1.4 a NaN objective of a point that counts is an error: %s", rc ? err.msg : "");
    for (int i = 0; i < 6; i++)
        t->col[C_STATUS].v[i] = i % 2 + 1;
    q.ok_only = 1;
    rc = an_query_rows(t, &q, rows, &n, &err);
    ok(rc == ST_EINVAL &&
           !strcmp(err.msg, "small.h5: no successful points (6 points: 3 failed, 3 rejected by "
                            "keep)"),
       "query-1.5 no successful points: %s", rc ? err.msg : "");
    q.nobj = 0;
    rc = an_query_rows(t, &q, rows, &n, &err);
    ok(rc == ST_OK && n == 0, "query-1.6 without objectives an empty selection is no error");
    for (int i = 0; i < 6; i++)
        t->col[C_STATUS].v[i] = i == 3 ? 1 : i == 5 ? 2 : 0;
}

/* ------------------------------------------------------------------- output */

static char *render(an_table *t, an_format fmt, const char *title)
{
    static const size_t rows[3] = {2, 0, 3};
    static const int cols[] = {C_ROW, C_ID, C_SYNC, C_PRUNE, C_P, C_CYC, C_EN};
    static char buf[4096];
    FILE *f = tmpfile();
    st_err err;
    size_t n;

    if (!f || an_out_rows(f, fmt, t, rows, 3, cols, 7, title, &err) != ST_OK)
        return NULL;
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_output(an_table *t)
{
    const char *table = "title line\n"
                        "row  id                sync      prune_fc    p    cycles  energy_pj\n"
                        "                                                [cycles]       [pJ]\n"
                        "  2  fedcba9876543210  fifo      true      0.9        50          9\n"
                        "  0  0123456789abcdef  lockstep  true      0.3       100          5\n"
                        "  3  aaaaaaaaaaaaaaaa  lockstep  true      0.5       300        nan\n";
    const char *csv = "row,id,sync,prune_fc,p,cycles,energy_pj\n"
                      "2,fedcba9876543210,fifo,true,0.9,50,9\n"
                      "0,0123456789abcdef,lockstep,true,0.3,100,5\n"
                      "3,aaaaaaaaaaaaaaaa,lockstep,true,0.5,300,\n";
    const char *json =
        "{\"file\": \"small.h5\", \"sweep\": \"\", \"title\": \"t \\\"q\\\"\",\n"
        " \"columns\": [{\"name\": \"row\", \"unit\": \"\"}, {\"name\": \"id\", \"unit\": \"\"}, "
        "{\"name\": \"sync\", \"unit\": \"\"}, {\"name\": \"prune_fc\", \"unit\": \"\"}, "
        "{\"name\": \"p\", \"unit\": \"\"}, {\"name\": \"cycles\", \"unit\": \"cycles\"}, "
        "{\"name\": \"energy_pj\", \"unit\": \"pJ\"}],\n"
        " \"rows\": [\n"
        "  {\"row\": 2, \"id\": \"fedcba9876543210\", \"sync\": \"fifo\", \"prune_fc\": true, "
        "\"p\": 0.9, \"cycles\": 50, \"energy_pj\": 9},\n"
        "  {\"row\": 0, \"id\": \"0123456789abcdef\", \"sync\": \"lockstep\", \"prune_fc\": true, "
        "\"p\": 0.3, \"cycles\": 100, \"energy_pj\": 5},\n"
        "  {\"row\": 3, \"id\": \"aaaaaaaaaaaaaaaa\", \"sync\": \"lockstep\", \"prune_fc\": true, "
        "\"p\": 0.5, \"cycles\": 300, \"energy_pj\": null}\n"
        " ]}\n";
    char *got;

    got = render(t, AN_FMT_TABLE, "title line");
    if (!ok(got && !strcmp(got, table), "out-1.1 an aligned table with units and a title"))
        diag("  got:\n%s", got ? got : "(nothing)");
    got = render(t, AN_FMT_CSV, NULL);
    if (!ok(got && !strcmp(got, csv), "out-1.2 CSV: exact values, an empty field for NaN"))
        diag("  got:\n%s", got ? got : "(nothing)");
    got = render(t, AN_FMT_JSON, "t \"q\"");
    if (!ok(got && !strcmp(got, json), "out-1.3 JSON: exact values, null for NaN, escaped text"))
        diag("  got:\n%s", got ? got : "(nothing)");
}

int main(void)
{
    an_table *t;

    test_exact();
    t = small_table();
    if (!t) {
        printf("Bail out! cannot make the test table\n");
        return 1;
    }
    test_format(t);
    test_lookup(t);
    test_ids(t);
    test_sort();
    test_query(t);
    test_output(t);
    an_table_destroy(&t);
    return tap_done();
}
