/*
 * an.h - the public interface of the analysis layer. The first half (up to "result
 * tables") is the library stanalysis: Pareto fronts, non-dominated ranks and the
 * hypervolume of sets of points in objective space, plain C11 over the core's error
 * record. The second half is the library stanquery that stquery and the Lua module `an`
 * are made of: result files read into tables, filters, output, plots. It links HDF5 and
 * Lua, but hdf5.h and lua.h never appear here.
 */
#ifndef AN_H
#define AN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "st.h"

/* --------------------------------------------------------------------- points */

/* The largest number of objectives a point may have. */
#define AN_K_MAX 64

/* Whether an objective is better small or large. Zero-initialised senses minimise. */
typedef enum an_sense { AN_MIN = 0, AN_MAX = 1 } an_sense;

/* A borrowed view of n points of k objectives each; nothing here is copied or freed.
 * Point i's objective j is x[i * k + j]. Indices of points and objectives in messages
 * count from 0, as in x. Objectives are compared as numbers: -0.0 equals 0.0, infinities
 * are allowed where a function says so, NaN never is (an error naming the point and the
 * objective).
 *
 * Dominance (after turning every maximised objective into a minimised one): a dominates
 * b when a is no worse than b in every objective and better in at least one. Points
 * equal in every objective therefore do not dominate each other: duplicates share their
 * rank, and are all on the front or all off it. */
typedef struct an_points {
    const double *x;          /* n * k objectives, row-major; may be NULL when n = 0 */
    size_t n;                 /* number of points */
    int k;                    /* objectives per point, in [1, AN_K_MAX] */
    const an_sense *sense;    /* k senses, or NULL: minimise every objective */
    const char *const *names; /* k names used in messages, or NULL: "objective j" */
} an_points;

/* ---------------------------------------------------------------------- front */

/* Find the non-dominated points of p (the Pareto front). Writes their indices into idx
 * (room for p->n entries; may be NULL when p->n = 0) in increasing order and their
 * number into *count. Infinite objectives are allowed.
 * Points are taken in lexicographic order, where every dominator of a point comes before
 * it. Time O(n log n) for k <= 2 (then a running minimum of the second objective) and
 * expected O(n log n) for k = 3 (a staircase of the front's last two objectives in a
 * treap); O(n log n + n f k) for k > 3, f the size of the front (each point against the
 * front so far). Memory O(n k).
 * Fails with ST_EINVAL (bad view, NaN objective, NULL output) or ST_ENOMEM; on failure
 * *count = 0 and idx is unspecified. */
int an_front(const an_points *p, size_t *idx, size_t *count, st_err *err);

/* ---------------------------------------------------------------------- ranks */

/* Give every point its non-dominated rank: rank[i] = 0 on the front, and r for the points
 * on the front of what remains once every point of rank below r is removed; equivalently
 * 1 + the largest rank of the points that dominate it. rank has room for p->n entries;
 * *nranks (NULL allowed) receives 1 + the largest rank, 0 when n = 0. Infinite
 * objectives are allowed.
 * Points in lexicographic order, each point's rank by binary search over the ranks so far
 * (Zhang et al., ENS-BS, IEEE Trans. Evol. Comp. 19(2), 2015). Time O(n log n) for k <= 2
 * (Jensen, IEEE Trans. Evol. Comp. 7(5), 2003); expected O(n log n log r) for k = 3, r
 * ranks (one staircase treap per rank); for k > 3, O(n log n) plus O(n log(r) m k), m the
 * size of the largest rank, which is O(n^2 k) at worst. Memory O(n k).
 * Fails like an_front; on failure *nranks = 0 and rank is left as it was. */
int an_ranks(const an_points *p, size_t *rank, size_t *nranks, st_err *err);

/* ---------------------------------------------------------------- hypervolume */

/* Compute the hypervolume of p with respect to the reference point ref (k values, in the
 * same senses as the points): the measure of the region that the points dominate and that
 * dominates ref, i.e. of the union over points a of the boxes between a and ref. Points
 * that are not strictly better than ref in every objective add nothing. Every objective
 * and ref must be finite. k = 1, 2 or 3: a sort and a sum of intervals or rectangles for
 * k <= 2, O(n log n); for k = 3 the dimension sweep of Beume, Fonseca, Lopez-Ibanez,
 * Paquete and Vahrenhold, "On the complexity of computing the hypervolume indicator",
 * IEEE Trans. Evol. Comp. 13(5), 2009, O(n log n).
 * Fails with ST_EINVAL for k > 3 (not supported), for a non-finite objective or reference
 * value, and when no point is strictly better than ref in every objective (n = 0
 * included): the volume would be 0 and that usually means a misplaced reference point,
 * so the caller decides. ST_ENOMEM as above. *hv = 0 on failure. */
int an_hypervolume(const an_points *p, const double *ref, double *hv, st_err *err);

/* ============================================================== result tables */
/* The library stanquery. A table is the point axis of a result file (results/README.md):
 * one column per parameter and per metric, and the point's row, id, index and status.
 * Columns are loaded when first needed, so a question about two metrics of a million
 * points reads two columns. Messages name the file and the column. */

/* What a column's values are; every value is also kept as a double (v), the form that
 * filters and objectives use. */
typedef enum an_type {
    AN_T_INT = 0, /* whole numbers (int32 parameters, the row) */
    AN_T_REAL,    /* doubles; NaN where a failed point has no value */
    AN_T_BOOL,    /* 0 false, 1 true */
    AN_T_ENUM,    /* the index of a choice: choice[v] names it */
    AN_T_U64,     /* unsigned 64-bit counts, exact in u */
    AN_T_ID       /* 64-bit point ids, exact in u, printed in hexadecimal */
} an_type;

/* Where a column comes from. */
typedef enum an_group { AN_G_POINT = 0, AN_G_PARAM, AN_G_METRIC, AN_G_COMPUTED } an_group;

typedef struct an_col {
    char *name;
    char *unit; /* "" when the quantity has none */
    char *help; /* "" when unknown */
    char *role; /* parameters: swept, derived, fixed or default; "" for the rest */
    an_group group;
    an_type type;
    int nchoice;
    char **choice; /* AN_T_ENUM: the names of the values 0 .. nchoice - 1 */
    double *v;     /* the n values; NULL until loaded (an_table_load_col) */
    uint64_t *u;   /* AN_T_U64 and AN_T_ID: the exact values once loaded; else NULL */
} an_col;

typedef struct an_table an_table;

/* How a table fills a column that is not loaded yet (a result file reads a dataset, the
 * Lua module converts an array): set col->v (and col->u for 64-bit columns) to arrays of
 * t->n values allocated with malloc, which the table then owns. 0 or a negative code with
 * a message. close (NULL allowed) runs when the table is destroyed. */
typedef struct an_source {
    void *ctx;
    int (*load)(void *ctx, an_table *t, int col, st_err *err);
    void (*close)(void *ctx);
} an_source;

/* A text attribute. */
typedef struct an_kv {
    char *key, *value;
} an_kv;

/* The table of one result file (or of columns a Lua script made). Owned strings and
 * arrays throughout; an_table_destroy frees them. */
struct an_table {
    char *path; /* the file, or what the table was made from */
    char *name; /* the sweep's name; "" when unknown */
    size_t n;   /* rows: the points */
    int ncol, cap;
    an_col *col;
    int status_col; /* the column `status` (an enum: ok, failed, rejected), or -1 */
    /* What a result file says about itself; zeros and NULLs elsewhere. */
    int complete;
    uint64_t candidates, excluded, duplicates, failed, rejected;
    int nprov;
    an_kv *prov; /* the /provenance attributes as text, in name order */
    size_t nfail;
    uint64_t *fail_row; /* the row of each failed point, and why it failed */
    char **fail_msg;
    char *net_name, *net_source;
    int nlayer;
    char **layer_name, **layer_kind; /* every layer of /network, in order */
    int has_detail;                  /* the file has /detail (per layer and phase) */
    an_source src;
};

/* Make an empty table of n rows and no columns; *out is set to NULL first. ST_ENOMEM. */
int an_table_create(const char *path, size_t n, an_table **out, st_err *err);
/* Free t and everything it owns, closing its source; accepts NULL and *t == NULL. */
void an_table_destroy(an_table **t);
/* Append a column (values not loaded) and give its index in *col. unit and help may be
 * NULL. ST_EINVAL when the name is taken, ST_ENOMEM. */
int an_table_add(an_table *t, const char *name, const char *unit, an_group group, an_type type,
                 int *col, st_err *err);
/* Give column col the choices listed in text, separated by commas ("lockstep, fifo"); for
 * AN_T_ENUM columns. ST_ENOMEM. */
int an_table_set_choices(an_table *t, int col, const char *text, st_err *err);
/* Give column col the n choices names (copied); for AN_T_ENUM columns. ST_ENOMEM. */
int an_table_set_choice_list(an_table *t, int col, const char *const *names, int n, st_err *err);
/* The index of the column called name, or -1. "params/p" and "metrics/cycles" name a
 * column of that group only. */
int an_table_find(const an_table *t, const char *name);
/* an_table_find that fails with ST_EINVAL and a message naming the table, the name and
 * the nearest column names ("results/q.h5 has no column 'cycle'; did you mean 'cycles'?").
 * what (NULL allowed) says what the name was for: "--min". */
int an_table_lookup(const an_table *t, const char *name, const char *what, int *col, st_err *err);
/* Make sure column col has its values (a no-op once loaded). Errors of the source. */
int an_table_load_col(an_table *t, int col, st_err *err);
/* Write the value of column col at row as text: choices by name, booleans as true and
 * false, ids in 16 hexadecimal digits, whole numbers in decimal, reals with 6 significant
 * digits or, with exact, in the shortest form that reads back to the same double; "nan"
 * for NaN. The column must be loaded. */
void an_table_format(const an_table *t, int col, size_t row, int exact, char *buf, size_t size);
/* The value of provenance attribute key, or NULL. Borrowed from t. */
const char *an_table_prov(const an_table *t, const char *key);
/* The row of the point whose id is hex (16 hexadecimal digits, or a prefix of at least 4
 * that only one point has). ST_EINVAL naming the id when no point or several have it. */
int an_table_row_of_id(an_table *t, const char *hex, size_t *row, st_err *err);

/* Write v in the shortest decimal form that reads back to exactly v (at most 17 significant
 * digits); "nan", "inf", "-inf" for the non-finite. */
void an_fmt_exact(double v, char *buf, size_t size);
/* Append printf-style text to buf (size bytes, used of them taken), cutting it to fit;
 * return the new length, never more than size - 1. Texts read from files (units, names,
 * choices) can be any length: sums of snprintf's results would run past the buffer. */
size_t an_appendf(char *buf, size_t size, size_t used, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ------------------------------------------------------------- result files */

/* Open the stexplore result file at path as a table (columns load on first use; the file
 * stays open until the table is destroyed). Fails with ST_EINVAL for a path that does not
 * exist or cannot be read, ST_EFORMAT for a file that is not HDF5, an HDF5 file that is
 * not a stexplore result ("not a stexplore result file"), another format version, or a
 * damaged one; each message names the path. ST_ENOMEM. HDF5's own error printing is
 * silenced during the call. */
int an_h5_load(const char *path, an_table **out, st_err *err);

/* "HDF5 x.y.z", the library this program runs with. */
void an_h5_version(char *buf, size_t size);

/* Phases of the per-layer detail, in file order: 0 fp, 1 bp, 2 wg. */
#define AN_PHASES 3

/* The per-layer, per-phase detail of one point (/detail in the file). */
typedef struct an_detail {
    int nlayer; /* layers that have rows for the point */
    int *layer; /* their indices in the network (t->layer_name) */
    int nfield; /* the fields of /detail besides row, layer and phase */
    char **field, **unit;
    double *v; /* v[(i * AN_PHASES + phase) * nfield + f]; NaN where a phase has no row */
} an_detail;

/* Read the detail of row from a table of an_h5_load. ST_EINVAL when the file has no
 * detail (the sweep did not set detail = true) or the point has none (it failed), naming
 * the file and the row; ST_EFORMAT for a damaged /detail; ST_ENOMEM. d is zeroed first. */
int an_h5_detail(an_table *t, size_t row, an_detail *d, st_err *err);
void an_detail_fini(an_detail *d);
/* The index of field name in d, or -1. */
int an_detail_field(const an_detail *d, const char *name);

/* ------------------------------------------------------------- merge, diff */

/* What a merge wrote. */
typedef struct an_merge_info {
    size_t points;   /* points in the output */
    size_t repeated; /* points found in more than one input, written once */
    uint64_t failed, rejected;
} an_merge_info;

/* Merge the result files paths[0 .. nin) of one sweep into a new result file at out: every
 * point once (by id; a point in several inputs must have the same values in every column
 * of /points, /params and /metrics), in the sweep's enumeration order (index, then id),
 * with its failure message and its detail rows; /network and /provenance of the first
 * input, with the attribute merged_from naming every input. The output is written to a
 * temporary file beside out and moved there whole. Fails with ST_EINVAL, writing nothing,
 * for: a missing input, one that is not a result file, an input given twice, out equal to
 * an input, out existing without force, inputs of different sweeps (script, design space
 * apart from its shard lines, seed, network fingerprint) or with different columns, and a
 * repeated point whose values differ (naming the point, both files and the column). ST_EIO
 * when out cannot be written, ST_ENOMEM. */
int an_merge(const char *const *paths, int nin, const char *out, int force, an_merge_info *info,
             st_err *err);

/* How diff compares and writes. */
typedef struct an_diff_opts {
    double rtol;     /* values differ when |a - b| > rtol * max(|a|, |b|); 0: any change */
    long long limit; /* at most this many lines of points and values; -1: all */
    int csv;         /* CSV rows (id,row_a,row_b,column,a,b,abs_diff,rel_diff) */
} an_diff_opts;

/* What diff found. */
typedef struct an_diff_info {
    size_t only_a, only_b; /* points (by id) in one file only */
    size_t both;           /* points in both */
    size_t differ;         /* of those, points with a status, parameter or metric that differs */
    size_t values;         /* the values that differ */
} an_diff_info;

/* Compare the result files pa and pb point by point (matched by id) and write to out the
 * points only in one, and every status, parameter and metric of the points in both that
 * differs, with b - a and (b - a) / |a|; columns only in one file are named and not
 * compared. NaN equals NaN. Errors of an_h5_load; ST_EIO when out fails; ST_ENOMEM. */
int an_diff(const char *pa, const char *pb, const an_diff_opts *o, FILE *out,
            an_diff_info *info, st_err *err);

/* ---------------------------------------------------------------- filters */

/* A compiled filter over the columns of a table: comparisons (= == != ~= < <= > >=) of
 * arithmetic (+ - * /, parentheses, unary minus) over column names and numbers, joined by
 * and, or, not (also &&, ||, !) and by commas, which mean and. A choice or a boolean
 * compares with its name: sync = fifo, prune_fc = false, status = failed. Comparisons
 * with NaN are false. */
typedef struct an_expr an_expr;

/* Compile text against t and load the columns it reads. ST_EINVAL with a message that
 * quotes the text and names what is wrong (an unknown column with the nearest names, an
 * unknown choice with the valid ones, a syntax error with its position); ST_ENOMEM. */
int an_expr_compile(an_table *t, const char *text, an_expr **out, st_err *err);
void an_expr_destroy(an_expr **e);
/* Does row pass? The table must be the one the filter was compiled against. */
int an_expr_test(const an_expr *e, const an_table *t, size_t row);
/* The value of the filter's expression at row (comparisons give 0 or 1). */
double an_expr_eval(const an_expr *e, const an_table *t, size_t row);
/* The text the filter was compiled from. */
const char *an_expr_text(const an_expr *e);

/* The column text names, or else the column it computes: a name gives its column (as
 * an_table_lookup, with its message for an unknown one); an expression in the language of
 * filters ("energy_pj * cycles", "dense_cycles / cycles", "p >= 0.5") adds, once, a real
 * column named by the text, its value at every row (NaN where an operand is NaN; a
 * comparison gives 0 or 1). what names the option in messages ("--sort"). ST_EINVAL with
 * the filter's message for a bad expression, ST_ENOMEM. */
int an_table_column(an_table *t, const char *text, const char *what, int *col, st_err *err);

/* ---------------------------------------------------------------- queries */

/* What a question asks about a table: which rows, and which objectives. */
typedef struct an_query {
    int nobj; /* objectives, 0 for a plain selection */
    int col[AN_K_MAX];
    an_sense sense[AN_K_MAX];
    int nwhere;
    an_expr *const *where; /* borrowed; every filter must pass */
    int ok_only;           /* only points of status 0 (a table without status: all) */
} an_query;

/* Fill rows (room for t->n) with the rows that q selects, in increasing order, and their
 * number into *count. When q has objectives, no row is an error (ST_EINVAL): "no
 * successful points" with the counts by status, or "no point passes the filters".
 * Loads the columns of the objectives. ST_ENOMEM and the sources' errors. */
int an_query_rows(an_table *t, const an_query *q, size_t *rows, size_t *count, st_err *err);
/* Fill x (count * q->nobj, row-major) with the objectives of rows and point p at them
 * (names from the table, borrowed). */
void an_query_points(const an_table *t, const an_query *q, const size_t *rows, size_t count,
                     double *x, const char **names, an_points *p);
/* Read a sort key "name", "name:asc" or "name:desc" into *col and *desc (1 for
 * descending). ST_EINVAL for an unknown column or order, naming them. */
int an_sort_key(an_table *t, const char *text, int *col, int *desc, st_err *err);
/* Sort rows stably by the keys (NaN last whatever the order), loading the columns.
 * ST_ENOMEM. */
int an_rows_sort(an_table *t, size_t *rows, size_t n, const int *col, const int *desc, int nkeys,
                 st_err *err);

/* ----------------------------------------------------------------- output */

typedef enum an_format { AN_FMT_TABLE = 0, AN_FMT_CSV, AN_FMT_JSON } an_format;

/* Write the rows (in the order given) and columns of t to f: an aligned table with the
 * names and, beneath, the units in brackets (numbers right-aligned, text left-aligned,
 * reals with 6 significant digits; title, when not NULL, on a line of its own above);
 * CSV (RFC 4180, a header of names, exact values); or JSON, an object {"file", "sweep",
 * "title", "columns": [{"name", "unit"}], "rows": [{name: value}]} with exact numbers,
 * null for NaN, ids as strings. Loads the columns. ST_EIO when f fails, ST_ENOMEM. */
int an_out_rows(FILE *f, an_format fmt, an_table *t, const size_t *rows, size_t nrows,
                const int *cols, int ncols, const char *title, st_err *err);
/* Write s as a JSON string (quoted and escaped). */
void an_json_string(FILE *f, const char *s);
/* Write v as a JSON number: exact, null when not finite. */
void an_json_number(FILE *f, double v);

/* Describe the file behind t on f: the sweep, its network, the counts by status, the
 * swept and fixed parameters with their values, the metrics with units, the most frequent
 * failure messages and the provenance. Loads the parameter columns. */
int an_info(FILE *f, an_table *t, st_err *err);

/* ------------------------------------------------------------------ plots */

/* Where the renderer is: the Python interpreter and analysis/plot.py. */
typedef struct an_plot_opts {
    const char *python; /* /usr/bin/python3 */
    const char *script; /* analysis/plot.py */
    const char *title;  /* NULL: made from the table */
    const char *where;  /* the filters applied, for the title ("p >= 0.5 and ..."), or NULL */
    int color;          /* plot of a front: the column that colours the points, or -1 */
} an_plot_opts;

/* Draw every point of rows (objectives in x, as an_query_points fills them, 2 of them)
 * with the front (indices into rows) highlighted, axes named with units, as a PNG at out
 * (1000 x 600). ST_EINVAL when out does not end in .png or cannot be written, ST_EIO when
 * the renderer fails (its last message, or what to install when Python or matplotlib is
 * missing). */
int an_plot_front(an_table *t, const an_query *q, const size_t *rows, size_t count, const double *x,
                  const size_t *front, size_t nfront, const char *out, const an_plot_opts *o,
                  st_err *err);
/* Draw a metric against a parameter: for each column of ycol (ny of them) and each value
 * of the column bycol (-1: none), a line through the aggregate (agg: "mean", "min" or
 * "max") of the metric over the rows that share each value of xcol; NaN values are left
 * out. rows: the points to draw (n of them, e.g. the successful ones that pass the
 * filters). As a PNG at out (1000 x 600). ST_EINVAL when n is 0; errors as an_plot_front. */
int an_plot_sweep(an_table *t, const size_t *rows, size_t n, int xcol, const int *ycol, int ny,
                  int bycol, const char *agg, const char *out, const an_plot_opts *o,
                  st_err *err);
/* Draw the energy of each of the rows (n, at most 40) stacked by component (the metrics
 * energy_pj_mac ... energy_pj_leak), the sparse run next to its dense baseline, each pair
 * labelled with the point's swept parameters. ST_EINVAL when n is 0 or above 40, or the
 * file has no per-component metrics; errors as an_plot_front. */
int an_plot_energy(an_table *t, const size_t *rows, size_t n, const char *out,
                   const an_plot_opts *o, st_err *err);
/* Draw the cycles and energy of every layer and phase of one point next to the dense
 * baseline, from its detail d, as a PNG at out. Errors as an_plot_front. */
int an_plot_layers(an_table *t, size_t row, const an_detail *d, const char *out,
                   const an_plot_opts *o, st_err *err);

/* -------------------------------------------------------------------- Lua */

/* Open the module `an` into a Lua state as the global `an` (and package.loaded.an when
 * the state has a package library): an.read, an.front, an.ranks, an.hypervolume, an.row;
 * docs/analysis.md describes it. Errors are raised as Lua errors with the same messages
 * as stquery's. */
struct lua_State;
void an_lua_open(struct lua_State *L);

#endif
