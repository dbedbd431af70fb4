/*
 * stquery.c - the query program for stexplore's result files: information, listings with
 * filters and sorting, Pareto fronts, non-dominated ranks, the hypervolume, CSV and JSON
 * export, plots, per-layer detail, and Lua scripts with the module `an`. Argument parsing,
 * the choice of columns, and exit statuses live here; the work is in the an_ modules.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "an.h"
#include "ex.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */
#ifndef AN_PLOT_PY
#define AN_PLOT_PY "analysis/plot.py"
#endif
#ifndef AN_LUA_LIB_DIR
#define AN_LUA_LIB_DIR "lua_scripts"
#endif
#define PYTHON      "/usr/bin/python3"
#define WHERE_MAX   16
#define COLUMNS_MAX 1024
#define FILES_MAX   4096

/* Exit statuses: 0 done, 1 the machine failed (memory, I/O, the plot renderer), 2 bad
 * input (arguments, files, names, values). */
enum { EXIT_INFRA = 1, EXIT_USAGE = 2 };

typedef enum cmd {
    C_INFO = 0,
    C_LIST,
    C_FRONT,
    C_RANKS,
    C_HV,
    C_EXPORT,
    C_PLOT,
    C_LAYERS,
    C_PLOT_LAYERS,
    C_LUA,
    C_MERGE,
    C_DIFF,
    C_PLOT_SWEEP,
    C_PLOT_ENERGY,
    C_COUNT
} cmd;

static const char *const cmd_names[C_COUNT] = {"info",   "list", "front",      "ranks",       "hv",
                                               "export", "plot", "layers",     "plot-layers", "lua",
                                               "merge",  "diff", "plot-sweep", "plot-energy"};

static void usage(FILE *f)
{
    fputs("usage: stquery COMMAND FILE [options]\n"
          "\n"
          "Inspect and analyse a result file of stexplore (results/README.md describes it).\n"
          "Columns are the file's parameters and metrics by name (`info` lists them), and\n"
          "row, id, index and status. Only successful points (status ok) enter fronts, ranks\n"
          "and hypervolumes.\n"
          "\n"
          "commands:\n"
          "  info FILE                 the sweep, counts by status, swept and fixed parameters,\n"
          "                            metric ranges, failure reasons, provenance (--script:\n"
          "                            print the sweep script kept in the file)\n"
          "  list FILE                 points as a table: --where, --status, --sort, --limit,\n"
          "                            --columns\n"
          "  front FILE --min M ...    the Pareto front over the objectives given by --min and\n"
          "                            --max (any number, in that order); --plot OUT.png draws it\n"
          "  ranks FILE --min M ...    the non-dominated rank of every point (1 = the front);\n"
          "                            --counts: the number of points per rank\n"
          "  hv FILE --min M ... --ref X,Y[,Z]\n"
          "                            the hypervolume (2 or 3 objectives) against a reference\n"
          "                            point, given in the objectives' order\n"
          "  export FILE               every column of the points as CSV (default) or JSON\n"
          "                            (--json); with --min/--max, the front only\n"
          "  plot FILE --min A --min B -o OUT.png\n"
          "                            every point and the front over two objectives, as a PNG\n"
          "  layers FILE --row N | --point ID\n"
          "                            cycles and energy per layer and phase of one point next to\n"
          "                            the dense baseline (needs a sweep run with detail = true)\n"
          "  plot-layers FILE --row N | --point ID -o OUT.png\n"
          "                            the same as a PNG\n"
          "  plot-sweep FILE --x P --y M[,M...] [--by Q] -o OUT.png\n"
          "                            metrics against a parameter, one line per metric and per\n"
          "                            value of Q (--agg mean|min|max over the points that share\n"
          "                            an x; default mean)\n"
          "  plot-energy FILE -o OUT.png\n"
          "                            energy per component of each point (--where, --sort,\n"
          "                            --limit choose them; at most 40), sparse next to dense\n"
          "  lua SCRIPT.lua [ARG ...]  run a Lua script with the module `an` (docs/analysis.md);\n"
          "                            sandboxed unless --trust is given before the script\n"
          "  merge A.h5 B.h5 ... -o C.h5\n"
          "                            the files of one sweep (shards, reruns) as one: each point\n"
          "                            once, in the sweep's order; files of other sweeps refused;\n"
          "                            C.h5 is never replaced unless --force is given\n"
          "  diff A.h5 B.h5            the points only in one file, and the values that differ\n"
          "                            in the points of both (--rtol R: only beyond R); exit\n"
          "                            status 0 the same, 1 different, 2 trouble\n"
          "\n"
          "options:\n"
          "  --min NAME, --max NAME    an objective to minimise or maximise\n"
          "  --where EXPR              keep the points where EXPR holds, e.g. 'p >= 0.5',\n"
          "                            'sync = fifo and pe_rows * pe_cols <= 256' (repeatable)\n"
          "  --status S                list and export: ok, failed, rejected or all (default all)\n"
          "  --sort KEY[,KEY...]       KEY is NAME, NAME:asc or NAME:desc\n"
          "  --limit N                 at most N rows\n"
          "  --columns A,B,...         the columns shown; +A,B adds to the default ones; all\n"
          "  --format F                table (default), csv or json; --csv and --json for short\n"
          "  -o, --output PATH         write there instead of stdout (the PNG for plots)\n"
          "  --ref X,Y[,Z]             the reference point of hv\n"
          "  --row N, --point ID       one point, by row (as list prints it) or by id (a unique\n"
          "                            prefix of at least 4 hexadecimal digits is enough)\n"
          "  --title TEXT              the title of a plot\n"
          "  --color-by NAME           plot, front --plot: colour the points by a column\n"
          "  --force                   merge: replace the output if it exists\n"
          "  --trust, --max-instructions N, --max-memory MIB\n"
          "                            lua: the sandbox, as for stexplore\n"
          "  -h, --help                this text;  --version  version and libraries\n"
          "\n"
          "environment: ST_PYTHON (default " PYTHON "), ST_PLOT_PY (default\n"
          "  " AN_PLOT_PY ")\n"
          "\n"
          "exit status: 0 done, 1 the machine failed (memory, I/O, Python or matplotlib\n"
          "missing), 2 bad input (a missing file, not HDF5, not a result file, an unknown\n"
          "column, no successful points, a reference point that dominates nothing, ...).\n",
          f);
}

/* ------------------------------------------------------------------ arguments */

typedef struct args {
    cmd cmd;
    const char *file;
    const char *where[WHERE_MAX];
    int nwhere;
    const char *obj[AN_K_MAX];
    an_sense sense[AN_K_MAX];
    int nobj;
    const char *sort, *columns, *ref, *out, *title, *plot, *point, *status;
    const char *x, *y, *by, *agg, *color_by; /* plot-sweep, plot */
    long long row;                           /* -1: none */
    long long limit;                         /* -1: none */
    an_format fmt;
    int counts, script, force;
    double rtol;                  /* diff */
    const char *files[FILES_MAX]; /* merge: the inputs */
    int nfiles;
    ex_lua_opts lua;
    int lua_argc; /* lua: the script's arguments */
    char **lua_argv;
} args;

/* Which commands take an option: a bit per command. */
#define ALL_TABLES ((1u << C_LIST) | (1u << C_FRONT) | (1u << C_RANKS) | (1u << C_EXPORT))
#define OBJECTIVES                                                                                 \
    ((1u << C_FRONT) | (1u << C_RANKS) | (1u << C_HV) | (1u << C_EXPORT) | (1u << C_PLOT))
#define ONE_POINT ((1u << C_LAYERS) | (1u << C_PLOT_LAYERS))
#define NEW_PLOTS ((1u << C_PLOT_SWEEP) | (1u << C_PLOT_ENERGY))

static const struct opt {
    const char *name;
    int value;     /* takes a value */
    unsigned cmds; /* commands that accept it */
} opts[] = {
    {"--where", 1, ALL_TABLES | OBJECTIVES | NEW_PLOTS},
    {"--min", 1, OBJECTIVES},
    {"--max", 1, OBJECTIVES},
    {"--status", 1, (1u << C_LIST) | (1u << C_EXPORT)},
    {"--sort", 1, ALL_TABLES | (1u << C_PLOT_ENERGY)},
    {"--limit", 1, ALL_TABLES | (1u << C_DIFF) | (1u << C_PLOT_ENERGY)},
    {"--columns", 1, ALL_TABLES | (1u << C_LAYERS)},
    {"--format", 1, ALL_TABLES | (1u << C_LAYERS) | (1u << C_HV)},
    {"--csv", 0, ALL_TABLES | (1u << C_LAYERS) | (1u << C_HV) | (1u << C_DIFF)},
    {"--json", 0, ALL_TABLES | (1u << C_LAYERS) | (1u << C_HV)},
    {"-o", 1, ~(1u << C_INFO) & ~(1u << C_LUA)},
    {"--output", 1, ~(1u << C_INFO) & ~(1u << C_LUA)},
    {"--ref", 1, 1u << C_HV},
    {"--counts", 0, 1u << C_RANKS},
    {"--row", 1, ONE_POINT},
    {"--point", 1, ONE_POINT},
    {"--title", 1, (1u << C_PLOT) | (1u << C_PLOT_LAYERS) | (1u << C_FRONT) | NEW_PLOTS},
    {"--x", 1, 1u << C_PLOT_SWEEP},
    {"--y", 1, 1u << C_PLOT_SWEEP},
    {"--by", 1, 1u << C_PLOT_SWEEP},
    {"--agg", 1, 1u << C_PLOT_SWEEP},
    {"--color-by", 1, (1u << C_PLOT) | (1u << C_FRONT)},
    {"--plot", 1, 1u << C_FRONT},
    {"--script", 0, 1u << C_INFO},
    {"--force", 0, 1u << C_MERGE},
    {"--rtol", 1, 1u << C_DIFF},
    {"--trust", 0, 1u << C_LUA},
    {"--max-instructions", 1, 1u << C_LUA},
    {"--max-memory", 1, 1u << C_LUA},
};

/* A whole number argument in [lo, hi]. */
static int arg_int(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "stquery: %s %s: must be a whole number in [%lld, %lld]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Apply option o with value v to a. -1 after a message. */
static int set_opt(args *a, const struct opt *o, const char *v)
{
    long long n;

    if (!strcmp(o->name, "--where")) {
        if (a->nwhere == WHERE_MAX) {
            fprintf(stderr, "stquery: more than %d --where\n", WHERE_MAX);
            return -1;
        }
        a->where[a->nwhere++] = v;
    } else if (!strcmp(o->name, "--min") || !strcmp(o->name, "--max")) {
        if (a->nobj == AN_K_MAX) {
            fprintf(stderr, "stquery: more than %d objectives\n", AN_K_MAX);
            return -1;
        }
        a->sense[a->nobj] = !strcmp(o->name, "--max") ? AN_MAX : AN_MIN;
        a->obj[a->nobj++] = v;
    } else if (!strcmp(o->name, "--status")) {
        if (strcmp(v, "ok") && strcmp(v, "failed") && strcmp(v, "rejected") && strcmp(v, "all")) {
            fprintf(stderr, "stquery: --status %s: must be ok, failed, rejected or all\n", v);
            return -1;
        }
        a->status = v;
    } else if (!strcmp(o->name, "--sort")) {
        a->sort = v;
    } else if (!strcmp(o->name, "--limit")) {
        if (arg_int(o->name, v, 0, (long long)1 << 62, &a->limit) != 0)
            return -1;
    } else if (!strcmp(o->name, "--columns")) {
        a->columns = v;
    } else if (!strcmp(o->name, "--format")) {
        if (!strcmp(v, "table"))
            a->fmt = AN_FMT_TABLE;
        else if (!strcmp(v, "csv"))
            a->fmt = AN_FMT_CSV;
        else if (!strcmp(v, "json"))
            a->fmt = AN_FMT_JSON;
        else {
            fprintf(stderr, "stquery: --format %s: must be table, csv or json\n", v);
            return -1;
        }
    } else if (!strcmp(o->name, "--csv")) {
        a->fmt = AN_FMT_CSV;
    } else if (!strcmp(o->name, "--json")) {
        a->fmt = AN_FMT_JSON;
    } else if (!strcmp(o->name, "-o") || !strcmp(o->name, "--output")) {
        a->out = v;
    } else if (!strcmp(o->name, "--ref")) {
        a->ref = v;
    } else if (!strcmp(o->name, "--counts")) {
        a->counts = 1;
    } else if (!strcmp(o->name, "--row")) {
        if (arg_int(o->name, v, 0, (long long)1 << 62, &a->row) != 0)
            return -1;
    } else if (!strcmp(o->name, "--point")) {
        a->point = v;
    } else if (!strcmp(o->name, "--title")) {
        a->title = v;
    } else if (!strcmp(o->name, "--plot")) {
        a->plot = v;
    } else if (!strcmp(o->name, "--script")) {
        a->script = 1;
    } else if (!strcmp(o->name, "--x")) {
        a->x = v;
    } else if (!strcmp(o->name, "--y")) {
        a->y = v;
    } else if (!strcmp(o->name, "--by")) {
        a->by = v;
    } else if (!strcmp(o->name, "--agg")) {
        a->agg = v;
    } else if (!strcmp(o->name, "--color-by")) {
        a->color_by = v;
    } else if (!strcmp(o->name, "--force")) {
        a->force = 1;
    } else if (!strcmp(o->name, "--rtol")) {
        char *end = NULL;
        a->rtol = strtod(v, &end);
        if (end == v || *end || !(a->rtol >= 0 && a->rtol < 1e300)) {
            fprintf(stderr, "stquery diff: --rtol %s: must be a number >= 0\n", v);
            return -1;
        }
    } else if (!strcmp(o->name, "--trust")) {
        a->lua.trusted = 1;
    } else if (!strcmp(o->name, "--max-instructions")) {
        if (arg_int(o->name, v, 1000, (long long)1 << 50, &n) != 0)
            return -1;
        a->lua.budget = (uint64_t)n;
    } else if (!strcmp(o->name, "--max-memory")) {
        if (arg_int(o->name, v, 1, 1 << 20, &n) != 0)
            return -1;
        a->lua.mem_cap = (size_t)n << 20;
    }
    return 0;
}

/* Read the command line into a. Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, args *a)
{
    int i;

    memset(a, 0, sizeof *a);
    a->row = -1;
    a->limit = -1;
    ex_lua_opts_init(&a->lua);
    a->lua.lib_dir = AN_LUA_LIB_DIR;
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        char h5[64];
        an_h5_version(h5, sizeof h5);
        printf("stquery %s (git %s), %s, %s\n", EX_VERSION, EX_GIT_REVISION, h5, LUA_RELEASE);
        return 0;
    }
    for (a->cmd = 0; a->cmd < C_COUNT && strcmp(argv[1], cmd_names[a->cmd]); a->cmd++)
        ;
    if (a->cmd == C_COUNT) {
        fprintf(stderr, "stquery: unknown command '%s' (see stquery --help)\n", argv[1]);
        return EXIT_USAGE;
    }
    for (i = 2; i < argc; i++) {
        const char *s = argv[i];
        const struct opt *o = NULL;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout);
            return 0;
        }
        if ((s[0] != '-' || !s[1]) && (a->cmd == C_MERGE || a->cmd == C_DIFF)) {
            if (a->nfiles == FILES_MAX) {
                fprintf(stderr, "stquery %s: more than %d files\n", argv[1], FILES_MAX);
                return EXIT_USAGE;
            }
            a->file = a->file ? a->file : s;
            a->files[a->nfiles++] = s;
            continue;
        }
        if (s[0] != '-' || !s[1]) {
            if (a->file) {
                fprintf(stderr, "stquery %s: one file only: '%s' and '%s'\n", argv[1], a->file, s);
                return EXIT_USAGE;
            }
            a->file = s;
            /* lua: what follows the script belongs to it */
            if (a->cmd == C_LUA) {
                a->lua_argc = argc - i - 1;
                a->lua_argv = argv + i + 1;
                break;
            }
            continue;
        }
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !o; k++)
            if (!strcmp(s, opts[k].name))
                o = &opts[k];
        if (!o || !(o->cmds & (1u << a->cmd))) {
            fprintf(stderr, "stquery %s: %s option '%s' (see stquery --help)\n", argv[1],
                    o ? "no" : "unknown", s);
            return EXIT_USAGE;
        }
        if (o->value && i + 1 >= argc) {
            fprintf(stderr, "stquery %s: option %s needs a value\n", argv[1], s);
            return EXIT_USAGE;
        }
        if (set_opt(a, o, o->value ? argv[i + 1] : NULL) != 0)
            return EXIT_USAGE;
        i += o->value;
    }
    if (!a->file) {
        fprintf(stderr, "stquery %s: no %s given (see stquery --help)\n", argv[1],
                a->cmd == C_LUA ? "script" : "result file");
        return EXIT_USAGE;
    }
    return -1;
}

/* The checks that need the whole command line. -1 to go on, or the exit status. */
static int check_args(const args *a)
{
    const char *name = cmd_names[a->cmd];

    if ((a->cmd == C_FRONT || a->cmd == C_RANKS || a->cmd == C_HV || a->cmd == C_PLOT) &&
        a->nobj == 0) {
        fprintf(stderr, "stquery %s: no objectives: give --min NAME and/or --max NAME\n", name);
        return EXIT_USAGE;
    }
    if (a->cmd == C_PLOT && a->nobj != 2) {
        fprintf(stderr, "stquery plot: %d objectives: a plot has two, one per axis\n", a->nobj);
        return EXIT_USAGE;
    }
    if (a->plot && a->nobj != 2) {
        fprintf(stderr, "stquery front --plot: %d objectives: a plot has two, one per axis\n",
                a->nobj);
        return EXIT_USAGE;
    }
    if (a->cmd == C_HV && !a->ref) {
        fprintf(stderr, "stquery hv: no reference point: give --ref with %d values\n", a->nobj);
        return EXIT_USAGE;
    }
    if (a->cmd == C_PLOT_SWEEP && (!a->x || !a->y)) {
        fprintf(stderr, "stquery plot-sweep: give --x PARAMETER and --y METRIC[,METRIC...]\n");
        return EXIT_USAGE;
    }
    if ((a->cmd == C_PLOT || a->cmd == C_PLOT_LAYERS || a->cmd == C_PLOT_SWEEP ||
         a->cmd == C_PLOT_ENERGY) &&
        !a->out) {
        fprintf(stderr, "stquery %s: no output: give -o FILE.png\n", name);
        return EXIT_USAGE;
    }
    if (a->color_by && a->cmd == C_FRONT && !a->plot) {
        fprintf(stderr, "stquery front: --color-by colours a plot: give --plot OUT.png too\n");
        return EXIT_USAGE;
    }
    if (a->cmd == C_DIFF && a->nfiles != 2) {
        fprintf(stderr, "stquery diff: %d files: give two, A.h5 B.h5\n", a->nfiles);
        return EXIT_USAGE;
    }
    if (a->cmd == C_MERGE && !a->out) {
        fprintf(stderr, "stquery merge: no output: give -o FILE.h5\n");
        return EXIT_USAGE;
    }
    if ((a->cmd == C_LAYERS || a->cmd == C_PLOT_LAYERS) && (a->row >= 0) == (a->point != NULL)) {
        fprintf(stderr, "stquery %s: give one point: --row N or --point ID\n", name);
        return EXIT_USAGE;
    }
    return -1;
}

/* ------------------------------------------------------------------- columns */

/* Append column c unless it is there already. */
static void col_push(int *cols, int *n, int c)
{
    for (int i = 0; i < *n; i++)
        if (cols[i] == c)
            return;
    if (c >= 0 && *n < COLUMNS_MAX)
        cols[(*n)++] = c;
}

/* The columns a command shows by default. */
static void default_columns(const an_table *t, const args *a, const an_query *q, int *cols, int *n)
{
    static const char *const key_metrics[] = {"cycles", "energy_pj", "speedup", "energy_gain",
                                              "area_mm2"};

    *n = 0;
    if (a->cmd == C_EXPORT) {
        for (int c = 0; c < t->ncol; c++)
            col_push(cols, n, c);
        return;
    }
    if (a->cmd == C_RANKS)
        col_push(cols, n, an_table_find(t, "rank"));
    col_push(cols, n, an_table_find(t, "row"));
    col_push(cols, n, an_table_find(t, "id"));
    if (a->cmd == C_LIST)
        col_push(cols, n, t->status_col);
    for (int c = 0; c < t->ncol; c++)
        if (t->col[c].group == AN_G_PARAM &&
            (!strcmp(t->col[c].role, "swept") || !strcmp(t->col[c].role, "derived")))
            col_push(cols, n, c);
    for (int j = 0; j < q->nobj; j++)
        col_push(cols, n, q->col[j]);
    for (size_t k = 0; k < sizeof key_metrics / sizeof key_metrics[0]; k++)
        col_push(cols, n, an_table_find(t, key_metrics[k]));
    /* Failed points: why, rather than their empty metrics. */
    if (a->cmd == C_LIST && a->status && !strcmp(a->status, "failed"))
        col_push(cols, n, an_table_find(t, "message"));
}

/* The columns to show: --columns (a list, +list to add to the defaults, or all), or the
 * defaults. */
static int pick_columns(an_table *t, const args *a, const an_query *q, int *cols, int *n,
                        st_err *err)
{
    const char *s = a->columns;
    char name[128];
    int c, rc;

    if (!s || s[0] == '+') {
        default_columns(t, a, q, cols, n);
        if (!s)
            return ST_OK;
        s++;
    } else if (!strcmp(s, "all")) {
        *n = 0;
        for (c = 0; c < t->ncol; c++)
            col_push(cols, n, c);
        return ST_OK;
    } else {
        *n = 0;
    }
    while (*s) {
        size_t len = strcspn(s, ",");
        snprintf(name, sizeof name, "%.*s", (int)len, s);
        if ((rc = an_table_column(t, name, "--columns", &c, err)) != ST_OK)
            return rc;
        col_push(cols, n, c);
        s += len + (s[len] == ',');
    }
    return ST_OK;
}

/* ------------------------------------------------------------------ commands */

/* What every command over a table shares; freed at the end of main. */
typedef struct session {
    args a;
    an_table *t, *aux;
    an_expr *where[WHERE_MAX];
    an_query q;
    size_t *rows, count;
    double *x;
    size_t *idx;
    an_detail detail;
    FILE *out;
    an_plot_opts plot;
    int cols[COLUMNS_MAX], ncols;
    char where_text[1024]; /* the filters, joined for a plot's title */
} session;

/* Resolve the objectives and filters and select the rows. ok_only: only status 0. */
static int select_rows(session *s, int ok_only, st_err *err)
{
    char what[32];
    int rc;

    s->q.ok_only = ok_only;
    for (int j = 0; j < s->a.nobj; j++) {
        snprintf(what, sizeof what, "%s", s->a.sense[j] == AN_MAX ? "--max" : "--min");
        if ((rc = an_table_column(s->t, s->a.obj[j], what, &s->q.col[j], err)) != ST_OK)
            return rc;
        s->q.sense[j] = s->a.sense[j];
    }
    s->q.nobj = s->a.nobj;
    for (int w = 0; w < s->a.nwhere; w++) {
        if ((rc = an_expr_compile(s->t, s->a.where[w], &s->where[w], err)) != ST_OK) {
            /* "filter 'p > x': ..." becomes "--where 'p > x': ...": the option it came from. */
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return st_err_set(err, rc, "--where %s", strncmp(msg, "filter ", 7) ? msg : msg + 7);
        }
    }
    s->q.nwhere = s->a.nwhere;
    s->q.where = s->where;
    if (!(s->rows = malloc(s->t->n ? s->t->n * sizeof *s->rows : 1)) ||
        !(s->idx = malloc(s->t->n ? s->t->n * sizeof *s->idx : 1)) ||
        !(s->x = malloc(s->t->n && s->q.nobj ? s->t->n * (size_t)s->q.nobj * sizeof *s->x : 1)))
        return st_err_set(err, ST_ENOMEM, "%s: out of memory for %zu points", s->t->path, s->t->n);
    return an_query_rows(s->t, &s->q, s->rows, &s->count, err);
}

/* Keep the rows whose status is a->status (list, export). */
static int filter_status(session *s, st_err *err)
{
    static const char *const names[] = {"ok", "failed", "rejected"};
    const double *st;
    size_t m = 0;
    int want = -1, rc;

    if (!s->a.status || !strcmp(s->a.status, "all"))
        return ST_OK;
    if ((rc = an_table_load_col(s->t, s->t->status_col, err)) != ST_OK)
        return rc;
    st = s->t->col[s->t->status_col].v;
    for (int k = 0; k < 3; k++)
        if (!strcmp(s->a.status, names[k]))
            want = k;
    for (size_t r = 0; r < s->count; r++)
        if (st[s->rows[r]] == want)
            s->rows[m++] = s->rows[r];
    s->count = m;
    return ST_OK;
}

/* Sort by --sort, or by the keys given, then cut at --limit. */
static int order_rows(session *s, const int *col, const int *desc, int nkeys, st_err *err)
{
    int kc[64], kd[64], nk = 0, rc;
    const char *p = s->a.sort;
    char key[160];

    if (p) {
        while (*p && nk < 64) {
            size_t len = strcspn(p, ",");
            snprintf(key, sizeof key, "%.*s", (int)len, p);
            if ((rc = an_sort_key(s->t, key, &kc[nk], &kd[nk], err)) != ST_OK)
                return rc;
            nk++;
            p += len + (p[len] == ',');
        }
        col = kc;
        desc = kd;
        nkeys = nk;
    }
    if ((rc = an_rows_sort(s->t, s->rows, s->count, col, desc, nkeys, err)) != ST_OK)
        return rc;
    if (s->a.limit >= 0 && (size_t)s->a.limit < s->count)
        s->count = (size_t)s->a.limit;
    return ST_OK;
}

/* What the plots share: the title, the filters for it, the column of --color-by. */
static int plot_setup(session *s, st_err *err)
{
    size_t used = 0;
    int rc;

    s->plot.title = s->a.title;
    s->where_text[0] = '\0';
    for (int w = 0; w < s->a.nwhere; w++)
        used = an_appendf(s->where_text, sizeof s->where_text, used, "%s%s", w ? " and " : "",
                          s->a.where[w]);
    s->plot.where = s->a.nwhere ? s->where_text : NULL;
    if (s->a.color_by &&
        (rc = an_table_column(s->t, s->a.color_by, "--color-by", &s->plot.color, err)) != ST_OK)
        return rc;
    return ST_OK;
}

/* "min cycles [cycles], max speedup" */
static void describe_objectives(const session *s, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int j = 0; j < s->q.nobj; j++) {
        const an_col *c = &s->t->col[s->q.col[j]];
        used = an_appendf(buf, size, used, c->unit[0] ? "%s%s %s [%s]" : "%s%s %s", j ? ", " : "",
                          s->q.sense[j] == AN_MAX ? "max" : "min", c->name, c->unit);
    }
}

static int write_rows(session *s, const char *title, st_err *err)
{
    int rc = pick_columns(s->t, &s->a, &s->q, s->cols, &s->ncols, err);

    if (rc != ST_OK)
        return rc;
    return an_out_rows(s->out, s->a.fmt, s->t, s->rows, s->count, s->cols, s->ncols,
                       s->a.fmt == AN_FMT_CSV ? NULL : title, err);
}

static int cmd_list(session *s, st_err *err)
{
    int row = an_table_find(s->t, "row"), asc = 0, rc;

    if ((rc = select_rows(s, 0, err)) != ST_OK || (rc = filter_status(s, err)) != ST_OK ||
        (rc = order_rows(s, &row, &asc, 1, err)) != ST_OK)
        return rc;
    return write_rows(s, NULL, err);
}

/* The front of the selected rows: s->idx[0 .. *nf) index s->rows. */
static int compute_front(session *s, size_t *nf, st_err *err)
{
    const char *names[AN_K_MAX];
    an_points p;

    an_query_points(s->t, &s->q, s->rows, s->count, s->x, names, &p);
    return an_front(&p, s->idx, nf, err);
}

static int cmd_front(session *s, st_err *err)
{
    char objs[512], title[1024];
    int desc[AN_K_MAX], rc;
    size_t nf = 0, ok;

    if ((rc = select_rows(s, 1, err)) != ST_OK || (rc = compute_front(s, &nf, err)) != ST_OK)
        return rc;
    ok = s->count;
    if (s->a.plot) {
        if ((rc = plot_setup(s, err)) != ST_OK)
            return rc;
        if ((rc = an_plot_front(s->t, &s->q, s->rows, s->count, s->x, s->idx, nf, s->a.plot,
                                &s->plot, err)) != ST_OK)
            return rc;
    }
    for (size_t i = 0; i < nf; i++)
        s->rows[i] = s->rows[s->idx[i]];
    s->count = nf;
    for (int j = 0; j < s->q.nobj; j++)
        desc[j] = s->q.sense[j] == AN_MAX;
    if ((rc = order_rows(s, s->q.col, desc, s->q.nobj, err)) != ST_OK)
        return rc;
    describe_objectives(s, objs, sizeof objs);
    snprintf(title, sizeof title, "Pareto front of %s (%s): %zu of %zu successful points%s",
             s->t->path, objs, nf, ok, s->a.nwhere ? " that pass the filters" : "");
    if ((rc = write_rows(s, title, err)) != ST_OK)
        return rc;
    if (s->a.plot)
        fprintf(stderr, "stquery: wrote %s\n", s->a.plot);
    return ST_OK;
}

/* --counts: a small table of its own, rank -> points. */
static int rank_counts(session *s, const size_t *rank, size_t nranks, const char *title,
                       st_err *err)
{
    int c_rank, c_n, cols[2], rc;
    size_t *rows = NULL;

    if ((rc = an_table_create(s->t->path, nranks, &s->aux, err)) != ST_OK ||
        (rc = an_table_add(s->aux, "rank", "", AN_G_COMPUTED, AN_T_INT, &c_rank, err)) != ST_OK ||
        (rc = an_table_add(s->aux, "points", "", AN_G_COMPUTED, AN_T_INT, &c_n, err)) != ST_OK)
        return rc;
    s->aux->col[c_rank].v = calloc(nranks ? nranks : 1, sizeof(double));
    s->aux->col[c_n].v = calloc(nranks ? nranks : 1, sizeof(double));
    rows = malloc((nranks ? nranks : 1) * sizeof *rows);
    if (!s->aux->col[c_rank].v || !s->aux->col[c_n].v || !rows) {
        free(rows);
        return st_err_set(err, ST_ENOMEM, "out of memory for %zu ranks", nranks);
    }
    for (size_t r = 0; r < nranks; r++) {
        s->aux->col[c_rank].v[r] = (double)(r + 1);
        rows[r] = r;
    }
    for (size_t i = 0; i < s->count; i++)
        s->aux->col[c_n].v[rank[i]] += 1;
    cols[0] = c_rank;
    cols[1] = c_n;
    if (s->a.limit >= 0 && (size_t)s->a.limit < nranks)
        nranks = (size_t)s->a.limit;
    rc = an_out_rows(s->out, s->a.fmt, s->aux, rows, nranks, cols, 2,
                     s->a.fmt == AN_FMT_CSV ? NULL : title, err);
    free(rows);
    return rc;
}

static int cmd_ranks(session *s, st_err *err)
{
    const char *names[AN_K_MAX];
    char objs[512], title[1024];
    int c, keys[AN_K_MAX + 1], desc[AN_K_MAX + 1], rc;
    size_t nranks = 0;
    an_points p;

    if ((rc = select_rows(s, 1, err)) != ST_OK)
        return rc;
    an_query_points(s->t, &s->q, s->rows, s->count, s->x, names, &p);
    if ((rc = an_ranks(&p, s->idx, &nranks, err)) != ST_OK)
        return rc;
    describe_objectives(s, objs, sizeof objs);
    snprintf(title, sizeof title,
             "Non-dominated ranks in %s (%s): %zu successful points%s, %zu "
             "ranks (1 = the front)",
             s->t->path, objs, s->count, s->a.nwhere ? " that pass the filters" : "", nranks);
    if (s->a.counts)
        return rank_counts(s, s->idx, nranks, title, err);
    /* The ranks become a column; rows not ranked have none. */
    if ((rc = an_table_add(s->t, "rank", "", AN_G_COMPUTED, AN_T_INT, &c, err)) != ST_OK)
        return rc;
    if (!(s->t->col[c].v = malloc(s->t->n ? s->t->n * sizeof(double) : 1)))
        return st_err_set(err, ST_ENOMEM, "out of memory for %zu ranks", s->t->n);
    for (size_t i = 0; i < s->t->n; i++)
        s->t->col[c].v[i] = NAN;
    for (size_t i = 0; i < s->count; i++)
        s->t->col[c].v[s->rows[i]] = (double)(s->idx[i] + 1);
    keys[0] = c;
    desc[0] = 0;
    for (int j = 0; j < s->q.nobj; j++) {
        keys[j + 1] = s->q.col[j];
        desc[j + 1] = s->q.sense[j] == AN_MAX;
    }
    if ((rc = order_rows(s, keys, desc, s->q.nobj + 1, err)) != ST_OK)
        return rc;
    return write_rows(s, title, err);
}

static int cmd_hv(session *s, st_err *err)
{
    const char *names[AN_K_MAX], *p = s->a.ref;
    double ref[AN_K_MAX], hv = 0;
    char objs[512], buf[64], units[256] = "";
    size_t nf = 0, better = 0, used = 0;
    int n = 0, rc;
    an_points pts;

    if ((rc = select_rows(s, 1, err)) != ST_OK)
        return rc;
    while (*p) {
        char *end;
        size_t len = strcspn(p, ",");
        if (n == AN_K_MAX)
            break;
        ref[n] = strtod(p, &end);
        if (end == p || (size_t)(end - p) != len)
            return st_err_set(err, ST_EINVAL, "--ref %s: value %d ('%.*s') is not a number",
                              s->a.ref, n + 1, (int)len, p);
        n++;
        p += len + (p[len] == ',');
    }
    if (n != s->q.nobj)
        return st_err_set(err, ST_EINVAL,
                          "--ref %s: %d values for %d objectives (one each, in "
                          "the order of --min and --max)",
                          s->a.ref, n, s->q.nobj);
    an_query_points(s->t, &s->q, s->rows, s->count, s->x, names, &pts);
    if ((rc = an_hypervolume(&pts, ref, &hv, err)) != ST_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return st_err_set(err, rc, "%s: --ref %s: %s", s->t->path, s->a.ref, msg);
    }
    if ((rc = an_front(&pts, s->idx, &nf, err)) != ST_OK)
        return rc;
    for (size_t i = 0; i < s->count; i++) {
        int all = 1;
        for (int j = 0; j < n && all; j++) {
            double v = s->x[i * (size_t)n + (size_t)j];
            all = s->q.sense[j] == AN_MAX ? v > ref[j] : v < ref[j];
        }
        better += (size_t)all;
    }
    for (int j = 0; j < n; j++) {
        const char *u = s->t->col[s->q.col[j]].unit;
        if (u[0])
            used = an_appendf(units, sizeof units, used, "%s%s", used ? " x " : "", u);
    }
    describe_objectives(s, objs, sizeof objs);
    if (s->a.fmt == AN_FMT_JSON) {
        fputs("{\"file\": ", s->out);
        an_json_string(s->out, s->t->path);
        fputs(", \"hypervolume\": ", s->out);
        an_json_number(s->out, hv);
        fputs(", \"objectives\": [", s->out);
        for (int j = 0; j < n; j++) {
            fputs(j ? ", {\"name\": " : "{\"name\": ", s->out);
            an_json_string(s->out, s->t->col[s->q.col[j]].name);
            fprintf(s->out, ", \"sense\": \"%s\"}", s->q.sense[j] == AN_MAX ? "max" : "min");
        }
        fputs("], \"ref\": [", s->out);
        for (int j = 0; j < n; j++) {
            fputs(j ? ", " : "", s->out);
            an_json_number(s->out, ref[j]);
        }
        fprintf(s->out, "], \"points\": %zu, \"front\": %zu, \"better_than_ref\": %zu}\n", s->count,
                nf, better);
    } else if (s->a.fmt == AN_FMT_CSV) {
        an_fmt_exact(hv, buf, sizeof buf);
        fprintf(s->out, "hypervolume,points,front,better_than_ref\n%s,%zu,%zu,%zu\n", buf, s->count,
                nf, better);
    } else {
        an_fmt_exact(hv, buf, sizeof buf);
        fprintf(s->out, "hypervolume  %s%s%s%s\n", buf, units[0] ? " [" : "", units,
                units[0] ? "]" : "");
        fprintf(s->out, "objectives   %s\n", objs);
        fprintf(s->out, "reference    %s\n", s->a.ref);
        fprintf(s->out,
                "points       %zu successful%s, %zu on the front, %zu better than the reference "
                "in every objective\n",
                s->count, s->a.nwhere ? " that pass the filters" : "", nf, better);
    }
    if (fflush(s->out) != 0 || ferror(s->out))
        return st_err_set(err, ST_EIO, "cannot write the output: %s", strerror(errno));
    return ST_OK;
}

static int cmd_export(session *s, st_err *err)
{
    int row = an_table_find(s->t, "row"), asc = 0, rc;
    size_t nf = 0;

    if (s->a.fmt == AN_FMT_TABLE)
        s->a.fmt = AN_FMT_CSV;
    if ((rc = select_rows(s, s->a.nobj > 0, err)) != ST_OK)
        return rc;
    if (s->a.nobj > 0) {
        if ((rc = compute_front(s, &nf, err)) != ST_OK)
            return rc;
        for (size_t i = 0; i < nf; i++)
            s->rows[i] = s->rows[s->idx[i]];
        s->count = nf;
    } else if ((rc = filter_status(s, err)) != ST_OK) {
        return rc;
    }
    if ((rc = order_rows(s, &row, &asc, 1, err)) != ST_OK)
        return rc;
    return write_rows(s, NULL, err);
}

static int cmd_plot(session *s, st_err *err)
{
    size_t nf = 0;
    int rc;

    if ((rc = select_rows(s, 1, err)) != ST_OK || (rc = compute_front(s, &nf, err)) != ST_OK ||
        (rc = plot_setup(s, err)) != ST_OK)
        return rc;
    if ((rc = an_plot_front(s->t, &s->q, s->rows, s->count, s->x, s->idx, nf, s->a.out, &s->plot,
                            err)) != ST_OK)
        return rc;
    printf("stquery: wrote %s: %zu points, %zu on the front\n", s->a.out, s->count, nf);
    return ST_OK;
}

static int cmd_plot_sweep(session *s, st_err *err)
{
    int x, by = -1, y[16], ny = 0, rc;
    const char *p = s->a.y;
    char name[256];

    if ((rc = select_rows(s, 1, err)) != ST_OK || (rc = plot_setup(s, err)) != ST_OK ||
        (rc = an_table_column(s->t, s->a.x, "--x", &x, err)) != ST_OK ||
        (s->a.by && (rc = an_table_column(s->t, s->a.by, "--by", &by, err)) != ST_OK))
        return rc;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (ny == 16)
            return st_err_set(err, ST_EINVAL, "--y %s: at most 16 metrics", s->a.y);
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        if ((rc = an_table_column(s->t, name, "--y", &y[ny++], err)) != ST_OK)
            return rc;
        p += len + (p[len] == ',');
    }
    if (ny == 0)
        return st_err_set(err, ST_EINVAL, "--y '%s': no metric named", s->a.y);
    if ((rc = an_table_load_col(s->t, x, err)) != ST_OK ||
        (by >= 0 && (rc = an_table_load_col(s->t, by, err)) != ST_OK))
        return rc;
    if ((rc = an_plot_sweep(s->t, s->rows, s->count, x, y, ny, by, s->a.agg ? s->a.agg : "mean",
                            s->a.out, &s->plot, err)) != ST_OK)
        return rc;
    printf("stquery: wrote %s: %zu points\n", s->a.out, s->count);
    return ST_OK;
}

static int cmd_plot_energy(session *s, st_err *err)
{
    int row = an_table_find(s->t, "row"), asc = 0, rc;

    if ((rc = select_rows(s, 1, err)) != ST_OK || (rc = plot_setup(s, err)) != ST_OK ||
        (rc = order_rows(s, &row, &asc, 1, err)) != ST_OK ||
        (rc = an_plot_energy(s->t, s->rows, s->count, s->a.out, &s->plot, err)) != ST_OK)
        return rc;
    printf("stquery: wrote %s: %zu points\n", s->a.out, s->count);
    return ST_OK;
}

/* The row of --row or --point. */
static int one_row(session *s, size_t *row, st_err *err)
{
    if (s->a.point)
        return an_table_row_of_id(s->t, s->a.point, row, err);
    if ((size_t)s->a.row >= s->t->n)
        return st_err_set(err, ST_EINVAL, "--row %lld: %s has rows 0 to %zu", s->a.row, s->t->path,
                          s->t->n ? s->t->n - 1 : 0);
    *row = (size_t)s->a.row;
    return ST_OK;
}

/* The detail of one point as a table of its own: a row per layer and phase. */
static int cmd_layers(session *s, st_err *err)
{
    static const char *const phases[AN_PHASES] = {"fp", "bp", "wg"};
    static const char *const shown[] = {"cycles",      "dense_cycles",    "stall_cycles",
                                        "energy_pj",   "dense_energy_pj", "act_density",
                                        "grad_density"};
    const char *lnames[4096];
    const an_detail *d = &s->detail;
    char title[512];
    size_t row, n = 0, *rows = NULL;
    int c_layer, c_phase, c_speed, c_gain, fc[16], rc;

    if ((rc = one_row(s, &row, err)) != ST_OK ||
        (rc = an_h5_detail(s->t, row, &s->detail, err)) != ST_OK)
        return rc;
    if (d->nlayer > 4096)
        return st_err_set(err, ST_EINVAL, "%s: %d layers: at most 4096 shown", s->t->path,
                          d->nlayer);
    for (int i = 0; i < d->nlayer; i++)
        lnames[i] = s->t->layer_name[d->layer[i]];
    if ((rc = an_table_create(s->t->path, (size_t)d->nlayer * AN_PHASES, &s->aux, err)) != ST_OK ||
        (rc = an_table_add(s->aux, "layer", "", AN_G_COMPUTED, AN_T_ENUM, &c_layer, err)) !=
            ST_OK ||
        (rc = an_table_set_choice_list(s->aux, c_layer, lnames, d->nlayer, err)) != ST_OK ||
        (rc = an_table_add(s->aux, "phase", "", AN_G_COMPUTED, AN_T_ENUM, &c_phase, err)) !=
            ST_OK ||
        (rc = an_table_set_choice_list(s->aux, c_phase, phases, AN_PHASES, err)) != ST_OK)
        return rc;
    s->ncols = 0;
    s->cols[s->ncols++] = c_layer;
    s->cols[s->ncols++] = c_phase;
    for (size_t k = 0; k < sizeof shown / sizeof shown[0]; k++) {
        int f = an_detail_field(d, shown[k]);
        if (f < 0)
            continue;
        if ((rc = an_table_add(s->aux, shown[k], d->unit[f], AN_G_COMPUTED, AN_T_REAL,
                               &s->cols[s->ncols], err)) != ST_OK)
            return rc;
        fc[s->ncols++] = f;
        if (!strcmp(shown[k], "dense_cycles") || !strcmp(shown[k], "dense_energy_pj")) {
            int is_cyc = !strcmp(shown[k], "dense_cycles");
            if ((rc = an_table_add(s->aux, is_cyc ? "speedup" : "energy_gain", "", AN_G_COMPUTED,
                                   AN_T_REAL, is_cyc ? &c_speed : &c_gain, err)) != ST_OK)
                return rc;
            fc[s->ncols] = -1 - is_cyc; /* -2: speedup, -1: energy gain */
            s->cols[s->ncols] = is_cyc ? c_speed : c_gain;
            s->ncols++;
        }
    }
    for (int j = 0; j < s->ncols; j++)
        if (!(s->aux->col[s->cols[j]].v = malloc(s->aux->n * sizeof(double) + 1)))
            return st_err_set(err, ST_ENOMEM, "out of memory");
    if (!(rows = malloc(s->aux->n * sizeof *rows + 1)))
        return st_err_set(err, ST_ENOMEM, "out of memory");
    for (int i = 0; i < d->nlayer; i++)
        for (int p = 0; p < AN_PHASES; p++) {
            size_t r = (size_t)i * AN_PHASES + (size_t)p;
            const double *v = d->v + r * (size_t)d->nfield;
            int cyc = an_detail_field(d, "cycles"), en = an_detail_field(d, "energy_pj");
            int present = 0;
            for (int f = 0; f < d->nfield; f++)
                present |= v[f] == v[f];
            s->aux->col[c_layer].v[r] = i;
            s->aux->col[c_phase].v[r] = p;
            for (int j = 2; j < s->ncols; j++) {
                double *out = &s->aux->col[s->cols[j]].v[r];
                if (fc[j] >= 0)
                    *out = v[fc[j]];
                else if (fc[j] == -2 && cyc >= 0)
                    *out = v[fc[j - 1]] / v[cyc];
                else if (fc[j] == -1 && en >= 0)
                    *out = v[fc[j - 1]] / v[en];
            }
            if (present)
                rows[n++] = r;
        }
    snprintf(title, sizeof title,
             "%s, row %zu: per layer and phase (dense: the same hardware "
             "with every zero-skipping switch off)",
             s->t->path, row);
    rc = an_out_rows(s->out, s->a.fmt, s->aux, rows, n, s->cols, s->ncols,
                     s->a.fmt == AN_FMT_CSV ? NULL : title, err);
    free(rows);
    return rc;
}

static int cmd_plot_layers(session *s, st_err *err)
{
    size_t row;
    int rc;

    if ((rc = one_row(s, &row, err)) != ST_OK ||
        (rc = an_h5_detail(s->t, row, &s->detail, err)) != ST_OK)
        return rc;
    s->plot.title = s->a.title;
    if ((rc = an_plot_layers(s->t, row, &s->detail, s->a.out, &s->plot, err)) != ST_OK)
        return rc;
    printf("stquery: wrote %s: row %zu, %d layers\n", s->a.out, row, s->detail.nlayer);
    return ST_OK;
}

/* ----------------------------------------------------------------------- Lua */

/* print() writes to stdout: a script's output is what stquery lua is run for. */
static int l_print(lua_State *L)
{
    int n = lua_gettop(L);

    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', stdout);
        fwrite(s, 1, len, stdout);
        lua_pop(L, 1);
    }
    fputc('\n', stdout);
    return 0;
}

/* The sandbox's refusals name the option that lifts them for this program. */
static int l_denied(lua_State *L)
{
    return luaL_error(L, "%s is not available in the sandbox (stquery lua --trust lifts it)",
                      lua_tostring(L, lua_upvalueindex(1)));
}

static int l_denied_index(lua_State *L)
{
    const char *key = luaL_tolstring(L, 2, NULL);

    return luaL_error(L, "%s.%s is not available in the sandbox (stquery lua --trust lifts it)",
                      lua_tostring(L, lua_upvalueindex(1)), key);
}

static void name_sandbox(lua_State *L)
{
    static const char *const fns[] = {"dofile", "loadfile"};
    static const char *const libs[] = {"io", "os", "package"};

    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushstring(L, fns[i]);
        lua_pushcclosure(L, l_denied, 1);
        lua_setglobal(L, fns[i]);
    }
    /* Each library the sandbox leaves out, or cuts down, is a table whose metatable refuses
     * what it lacks. */
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        if (lua_getglobal(L, libs[i]) == LUA_TTABLE && lua_getmetatable(L, -1)) {
            lua_pushstring(L, libs[i]);
            lua_pushcclosure(L, l_denied_index, 1);
            lua_setfield(L, -2, "__index");
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

static int cmd_lua(const args *a, st_err *err)
{
    const char *slash = strrchr(a->file, '/');
    char dir[4096];
    ex_lua *lua = NULL;
    lua_State *L;
    int rc;

    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - a->file) + (slash == a->file) : 1,
             slash ? a->file : ".");
    if ((rc = ex_lua_create(&a->lua, &lua, err)) != ST_OK ||
        (rc = ex_lua_set_dir(lua, dir, err)) != ST_OK)
        goto done;
    L = ex_lua_state(lua);
    if (!a->lua.trusted)
        name_sandbox(L);
    an_lua_open(L);
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    /* arg[0] is the script, arg[1 ..] what follows it, as for the lua interpreter. */
    lua_createtable(L, a->lua_argc, 1);
    lua_pushstring(L, a->file);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < a->lua_argc; i++) {
        lua_pushstring(L, a->lua_argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    if (luaL_loadfilex(L, a->file, "t") != LUA_OK) {
        rc = st_err_set(err, ST_EINVAL, "%s", lua_tostring(L, -1));
        goto done;
    }
    for (int i = 0; i < a->lua_argc; i++)
        lua_pushstring(L, a->lua_argv[i]);
    rc = ex_lua_call(lua, a->lua_argc, 0, err);
done:
    fflush(stdout);
    ex_lua_destroy(&lua);
    return rc;
}

/* --------------------------------------------------------------------- merge */

static int cmd_merge(const args *a, st_err *err)
{
    an_merge_info mi;
    int rc = an_merge(a->files, a->nfiles, a->out, a->force, &mi, err);

    if (rc == ST_OK)
        printf("stquery: wrote %s: %zu points (%llu failed, %llu rejected) from %d files, %zu "
               "repeated points written once\n",
               a->out, mi.points, (unsigned long long)mi.failed, (unsigned long long)mi.rejected,
               a->nfiles, mi.repeated);
    return rc;
}

/* diff's exit status is diff(1)'s: 0 the same, 1 different, 2 trouble of any kind. */
static int cmd_diff(const args *a)
{
    an_diff_opts o = {a->rtol, a->limit, a->fmt == AN_FMT_CSV};
    an_diff_info di;
    FILE *out = stdout;
    st_err err;
    int rc;

    st_err_clear(&err);
    if (a->out && !(out = fopen(a->out, "w"))) {
        fprintf(stderr, "stquery: -o %s: cannot write it: %s\n", a->out, strerror(errno));
        return 2;
    }
    rc = an_diff(a->files[0], a->files[1], &o, out, &di, &err);
    if (out != stdout && fclose(out) != 0 && rc == ST_OK)
        rc = st_err_set(&err, ST_EIO, "cannot write %s: %s", a->out, strerror(errno));
    if (rc != ST_OK) {
        fprintf(stderr, "stquery: %s\n", err.msg);
        return 2;
    }
    return di.only_a || di.only_b || di.values ? 1 : 0;
}

/* ---------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    session s;
    st_err err;
    int status, rc = ST_OK;

    memset(&s, 0, sizeof s);
    st_err_clear(&err);
    if ((status = parse_args(argc, argv, &s.a)) >= 0 || (status = check_args(&s.a)) >= 0)
        return status;
    s.out = stdout;
    s.plot.color = -1;
    s.plot.python = getenv("ST_PYTHON") && *getenv("ST_PYTHON") ? getenv("ST_PYTHON") : PYTHON;
    s.plot.script =
        getenv("ST_PLOT_PY") && *getenv("ST_PLOT_PY") ? getenv("ST_PLOT_PY") : AN_PLOT_PY;
    if (s.a.cmd == C_LUA) {
        rc = cmd_lua(&s.a, &err);
        goto done;
    }
    if (s.a.cmd == C_MERGE) {
        rc = cmd_merge(&s.a, &err);
        goto done;
    }
    if (s.a.cmd == C_DIFF)
        return cmd_diff(&s.a);
    if ((rc = an_h5_load(s.a.file, &s.t, &err)) != ST_OK)
        goto done;
    if (s.a.out && s.a.cmd != C_PLOT && s.a.cmd != C_PLOT_LAYERS && s.a.cmd != C_PLOT_SWEEP &&
        s.a.cmd != C_PLOT_ENERGY && !(s.out = fopen(s.a.out, "w"))) {
        s.out = stdout;
        rc = st_err_set(&err, ST_EINVAL, "-o %s: cannot write it: %s", s.a.out, strerror(errno));
        goto done;
    }
    switch (s.a.cmd) {
    case C_INFO:
        if (s.a.script) {
            const char *text = an_table_prov(s.t, "script");
            if (!text) {
                rc = st_err_set(&err, ST_EINVAL, "%s keeps no script", s.t->path);
                break;
            }
            fputs(text, s.out);
            if (text[0] && text[strlen(text) - 1] != '\n')
                fputc('\n', s.out);
            break;
        }
        rc = an_info(s.out, s.t, &err);
        break;
    case C_LIST:
        rc = cmd_list(&s, &err);
        break;
    case C_FRONT:
        rc = cmd_front(&s, &err);
        break;
    case C_RANKS:
        rc = cmd_ranks(&s, &err);
        break;
    case C_HV:
        rc = cmd_hv(&s, &err);
        break;
    case C_EXPORT:
        rc = cmd_export(&s, &err);
        break;
    case C_PLOT:
        rc = cmd_plot(&s, &err);
        break;
    case C_LAYERS:
        rc = cmd_layers(&s, &err);
        break;
    case C_PLOT_LAYERS:
        rc = cmd_plot_layers(&s, &err);
        break;
    case C_PLOT_SWEEP:
        rc = cmd_plot_sweep(&s, &err);
        break;
    case C_PLOT_ENERGY:
        rc = cmd_plot_energy(&s, &err);
        break;
    default:
        break;
    }
done:
    if (s.out && s.out != stdout && fclose(s.out) != 0 && rc == ST_OK)
        rc = st_err_set(&err, ST_EIO, "cannot write %s: %s", s.a.out, strerror(errno));
    for (int w = 0; w < WHERE_MAX; w++)
        an_expr_destroy(&s.where[w]);
    an_detail_fini(&s.detail);
    an_table_destroy(&s.aux);
    an_table_destroy(&s.t);
    free(s.rows);
    free(s.idx);
    free(s.x);
    if (rc == ST_OK)
        return 0;
    fprintf(stderr, "stquery: %s\n", err.msg);
    return rc == ST_ENOMEM || rc == ST_EIO ? EXIT_INFRA : EXIT_USAGE;
}
