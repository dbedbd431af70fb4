/*
 * an_plot.c - plots as PNG files: the JSON description of a figure written to a temporary
 * file, and analysis/plot.py run on it by the system's Python with matplotlib. Everything
 * a figure shows is computed here in C; the renderer only draws.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "an.h"

extern char **environ;

static const char *const phase_names[AN_PHASES] = {"fp", "bp", "wg"};

/* Refuse an output that is not a .png in a folder we can write to. */
static int check_out(const char *out, st_err *err)
{
    size_t len = strlen(out);
    const char *slash = strrchr(out, '/');
    char dir[4096];

    if (len < 5 || strcmp(out + len - 4, ".png") != 0)
        return st_err_set(err, ST_EINVAL, "-o %s: plots are PNG files; the name must end in .png",
                          out);
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) + (slash == out) : 1,
             slash ? out : ".");
    if (access(dir, W_OK) != 0)
        return st_err_set(err, ST_EINVAL, "-o %s: cannot write in %s: %s", out, dir,
                          strerror(errno));
    return ST_OK;
}

/* A temporary file for the description (or the renderer's messages): its path in path,
 * the stream in *f. ST_EIO. */
static int temp_file(const char *what, char *path, size_t size, FILE **f, st_err *err)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    snprintf(path, size, "%s/stquery-%s-XXXXXX", dir && *dir ? dir : "/tmp", what);
    if ((fd = mkstemp(path)) < 0)
        return st_err_set(err, ST_EIO, "cannot create a temporary file %s: %s", path,
                          strerror(errno));
    if (!(*f = fdopen(fd, "w+"))) {
        close(fd);
        unlink(path);
        return st_err_set(err, ST_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    return ST_OK;
}

/* The last non-empty line the renderer wrote, in buf. */
static void last_line(FILE *f, char *buf, size_t size)
{
    char line[1024];

    buf[0] = '\0';
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(buf, size, "%s", line);
    }
}

/* Run `python script mode json out`; its output goes to a temporary file that explains a
 * failure. */
static int run_renderer(const an_plot_opts *o, const char *mode, const char *json, const char *out,
                        st_err *err)
{
    char *argv[] = {(char *)o->python, (char *)o->script, (char *)mode,
                    (char *)json,      (char *)out,       NULL};
    char log_path[4096], line[1024], text[4096];
    posix_spawn_file_actions_t fa;
    FILE *log = NULL;
    struct stat sb;
    pid_t pid;
    int status = 0, rc = ST_OK, fa_init = 0, e;
    size_t got;

    if (access(o->python, X_OK) != 0) {
        rc = st_err_set(err, ST_EIO,
                        "cannot run %s: %s (plots need Python 3 with matplotlib: apt-get install "
                        "python3 python3-matplotlib)",
                        o->python, strerror(errno));
        goto done;
    }
    if (access(o->script, R_OK) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot read the plot renderer %s: %s (ST_PLOT_PY names it)",
                        o->script, strerror(errno));
        goto done;
    }
    if ((rc = temp_file("log", log_path, sizeof log_path, &log, err)) != ST_OK)
        goto done;
    if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot run %s: %s", o->python, strerror(e));
        goto done;
    }
    fa_init = 1;
    if ((e = posix_spawn_file_actions_adddup2(&fa, fileno(log), 1)) != 0 ||
        (e = posix_spawn_file_actions_adddup2(&fa, fileno(log), 2)) != 0 ||
        (e = posix_spawn(&pid, o->python, &fa, NULL, argv, environ)) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot run %s: %s", o->python, strerror(e));
        goto done;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            rc = st_err_set(err, ST_EIO, "cannot wait for %s: %s", o->python, strerror(errno));
            goto done;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fflush(log);
        rewind(log);
        got = fread(text, 1, sizeof text - 1, log);
        text[got] = '\0';
        last_line(log, line, sizeof line);
        if (strstr(text, "No module named 'matplotlib'"))
            rc = st_err_set(err, ST_EIO,
                            "matplotlib is missing for %s (Debian: apt-get install "
                            "python3-matplotlib)",
                            o->python);
        else if (WIFSIGNALED(status))
            rc = st_err_set(err, ST_EIO, "the plot renderer %s was killed by signal %d", o->script,
                            WTERMSIG(status));
        else
            rc = st_err_set(err, ST_EIO, "the plot renderer %s failed (status %d): %s", o->script,
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                            line[0] ? line : "no message");
        goto done;
    }
    if (stat(out, &sb) != 0 || sb.st_size == 0)
        rc = st_err_set(err, ST_EIO, "the plot renderer %s wrote no %s", o->script, out);
done:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (log) {
        fclose(log);
        unlink(log_path);
    }
    return rc;
}

/* Write the description with fill into a temporary file and render it. */
static int render(const an_plot_opts *o, const char *mode, const char *out,
                  void (*fill)(FILE *f, const void *ctx), const void *ctx, st_err *err)
{
    char path[4096];
    FILE *f = NULL;
    int rc;

    if ((rc = check_out(out, err)) != ST_OK ||
        (rc = temp_file("plot", path, sizeof path, &f, err)) != ST_OK)
        return rc;
    fill(f, ctx);
    if (fflush(f) != 0 || ferror(f))
        rc = st_err_set(err, ST_EIO, "cannot write %s: %s", path, strerror(errno));
    else
        rc = run_renderer(o, mode, path, out, err);
    fclose(f);
    unlink(path);
    return rc;
}

/* ----------------------------------------------------------------- the front */

typedef struct front_fig {
    const an_table *t;
    const an_query *q;
    const size_t *rows;
    int color;
    size_t count, nfront;
    const double *x;
    const size_t *front;
    const char *title;
} front_fig;

static void fill_axis(FILE *f, const front_fig *g, int j)
{
    const an_col *c = &g->t->col[g->q->col[j]];

    fputs("{\"name\": ", f);
    an_json_string(f, c->name);
    fputs(", \"unit\": ", f);
    an_json_string(f, c->unit);
    fputs(", \"values\": [", f);
    for (size_t i = 0; i < g->count; i++) {
        fputs(i ? ", " : "", f);
        an_json_number(f, g->x[i * 2 + (size_t)j]);
    }
    fputs("]}", f);
}

/* The column that colours the points: its values, and the names of choices and booleans. */
static void fill_color(FILE *f, const an_table *t, const size_t *rows, size_t n, int col)
{
    const an_col *c = &t->col[col];
    char buf[256];

    fputs(",\n \"color\": {\"name\": ", f);
    an_json_string(f, c->name);
    fputs(", \"unit\": ", f);
    an_json_string(f, c->unit);
    fputs(", \"values\": [", f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        an_json_number(f, c->v[rows[i]]);
    }
    fputs("], \"labels\": [", f);
    for (size_t i = 0; i < n; i++) {
        an_table_format(t, col, rows[i], 0, buf, sizeof buf);
        fputs(i ? ", " : "", f);
        an_json_string(f, buf);
    }
    fprintf(f, "], \"discrete\": %s}",
            c->type == AN_T_ENUM || c->type == AN_T_BOOL ? "true" : "false");
}

static void fill_front(FILE *f, const void *ctx)
{
    const front_fig *g = ctx;

    fputs("{\"title\": ", f);
    an_json_string(f, g->title);
    if (g->color >= 0)
        fill_color(f, g->t, g->rows, g->count, g->color);
    fputs(",\n \"x\": ", f);
    fill_axis(f, g, 0);
    fputs(",\n \"y\": ", f);
    fill_axis(f, g, 1);
    fputs(",\n \"front\": [", f);
    for (size_t i = 0; i < g->nfront; i++)
        fprintf(f, "%s%zu", i ? ", " : "", g->front[i]);
    fputs("]}\n", f);
}

int an_plot_front(an_table *t, const an_query *q, const size_t *rows, size_t count, const double *x,
                  const size_t *front, size_t nfront, const char *out, const an_plot_opts *o,
                  st_err *err)
{
    front_fig g = {t, q, rows, o->color, count, nfront, x, front, o->title};
    char title[1024];
    size_t used;
    int rc;
    if (q->nobj != 2)
        return st_err_set(err, ST_EINVAL,
                          "a front plot has 2 objectives (one per axis), not %d: give two of "
                          "--min and --max",
                          q->nobj);
    if (!g.title) {
        used = an_appendf(title, sizeof title, 0,
                          "%s: Pareto front, %s %s and %s %s (%zu of %zu points)",
                          t->name[0] ? t->name : t->path, q->sense[0] == AN_MAX ? "max" : "min",
                          t->col[q->col[0]].name, q->sense[1] == AN_MAX ? "max" : "min",
                          t->col[q->col[1]].name, nfront, count);
        if (o->where)
            an_appendf(title, sizeof title, used, "\nwhere %s", o->where);
        g.title = title;
    }
    if (o->color >= 0 && (rc = an_table_load_col(t, o->color, err)) != ST_OK)
        return rc;
    return render(o, "front", out, fill_front, &g, err);
}

/* ---------------------------------------------------------------- the layers */

typedef struct layers_fig {
    const an_table *t;
    const an_detail *d;
    int f[4]; /* cycles, dense_cycles, energy_pj, dense_energy_pj */
    const char *title;
} layers_fig;

static void fill_series(FILE *f, const layers_fig *g, int field)
{
    const an_detail *d = g->d;

    fputc('[', f);
    for (int i = 0; i < d->nlayer; i++) {
        fputs(i ? ", [" : "[", f);
        for (int p = 0; p < AN_PHASES; p++) {
            double v =
                d->v[((size_t)i * AN_PHASES + (size_t)p) * (size_t)d->nfield + (size_t)field];
            fputs(p ? ", " : "", f);
            an_json_number(f, isnan(v) ? 0.0 : v); /* a phase the layer does not run */
        }
        fputc(']', f);
    }
    fputc(']', f);
}

static void fill_layers(FILE *f, const void *ctx)
{
    const layers_fig *g = ctx;

    fputs("{\"title\": ", f);
    an_json_string(f, g->title);
    fputs(",\n \"layers\": [", f);
    for (int i = 0; i < g->d->nlayer; i++) {
        fputs(i ? ", " : "", f);
        an_json_string(f, g->t->layer_name[g->d->layer[i]]);
    }
    fputs("],\n \"phases\": [", f);
    for (int p = 0; p < AN_PHASES; p++) {
        fputs(p ? ", " : "", f);
        an_json_string(f, phase_names[p]);
    }
    fputs("],\n \"cycles\": {\"run\": ", f);
    fill_series(f, g, g->f[0]);
    fputs(", \"dense\": ", f);
    fill_series(f, g, g->f[1]);
    fputs("},\n \"energy_pj\": {\"run\": ", f);
    fill_series(f, g, g->f[2]);
    fputs(", \"dense\": ", f);
    fill_series(f, g, g->f[3]);
    fputs("}}\n", f);
}

int an_plot_layers(an_table *t, size_t row, const an_detail *d, const char *out,
                   const an_plot_opts *o, st_err *err)
{
    static const char *const need[4] = {"cycles", "dense_cycles", "energy_pj", "dense_energy_pj"};
    layers_fig g = {t, d, {0, 0, 0, 0}, o->title};
    char title[512], val[96];
    size_t used;
    int rc, id = an_table_find(t, "id");

    for (int i = 0; i < 4; i++)
        if ((g.f[i] = an_detail_field(d, need[i])) < 0)
            return st_err_set(err, ST_EFORMAT, "%s: /detail has no field %s", t->path, need[i]);
    if (!g.title) {
        used =
            an_appendf(title, sizeof title, 0, "%s, row %zu", t->name[0] ? t->name : t->path, row);
        if (id >= 0 && an_table_load_col(t, id, err) == ST_OK) {
            an_table_format(t, id, row, 1, val, sizeof val);
            used = an_appendf(title, sizeof title, used, " (id %s)", val);
        }
        /* The swept parameters say which point this is. */
        for (int c = 0; c < t->ncol && used < sizeof title - 1; c++) {
            if (t->col[c].group != AN_G_PARAM || strcmp(t->col[c].role, "swept") != 0)
                continue;
            if ((rc = an_table_load_col(t, c, err)) != ST_OK)
                return rc;
            an_table_format(t, c, row, 0, val, sizeof val);
            used = an_appendf(title, sizeof title, used, "%s %s = %s",
                              used && title[used - 1] == ')' ? ":" : ",", t->col[c].name, val);
        }
        g.title = title;
    }
    return render(o, "layers", out, fill_layers, &g, err);
}

/* ----------------------------------------------------------------- the sweep */

typedef struct sweep_fig {
    const an_table *t;
    const size_t *rows; /* sorted by the by column, then x */
    size_t n;
    int x, by, ny;
    const int *y;
    int agg; /* 0 mean, 1 min, 2 max */
    const char *title, *ylabel;
} sweep_fig;

/* One line: rows [a, b) (one value of by) of metric y, aggregated per value of x. */
static void fill_line(FILE *f, const sweep_fig *g, int y, size_t a, size_t b, int first)
{
    const an_col *cx = &g->t->col[g->x], *cy = &g->t->col[y];
    char label[512], val[128];
    size_t used = 0;
    int any = 0;

    if (g->ny > 1)
        used = an_appendf(label, sizeof label, used, "%s", cy->name);
    if (g->by >= 0) {
        an_table_format(g->t, g->by, g->rows[a], 0, val, sizeof val);
        used = an_appendf(label, sizeof label, used, "%s%s = %s", used ? ", " : "",
                          g->t->col[g->by].name, val);
    }
    if (!used)
        an_appendf(label, sizeof label, 0, "%s", cy->name);
    fputs(first ? "{\"label\": " : ",\n  {\"label\": ", f);
    an_json_string(f, label);
    fputs(", \"points\": [", f);
    for (size_t i = a; i < b;) {
        double xv = cx->v[g->rows[i]], acc = 0;
        size_t j = i, k = 0;
        for (; j < b && cx->v[g->rows[j]] == xv; j++) {
            double v = cy->v[g->rows[j]];
            if (v != v)
                continue;
            acc = k == 0 ? v : g->agg == 0 ? acc + v : g->agg == 1 ? fmin(acc, v) : fmax(acc, v);
            k++;
        }
        if (k > 0) {
            fputs(any ? ", [" : "[", f);
            an_json_number(f, xv);
            fputs(", ", f);
            an_json_number(f, g->agg == 0 ? acc / (double)k : acc);
            fprintf(f, ", %zu]", k);
            any = 1;
        }
        i = j > i ? j : i + 1;
    }
    fputs("]}", f);
}

static void fill_sweep(FILE *f, const void *ctx)
{
    const sweep_fig *g = ctx;
    const an_col *cx = &g->t->col[g->x];
    int first = 1;

    fputs("{\"title\": ", f);
    an_json_string(f, g->title);
    fputs(",\n \"x\": {\"name\": ", f);
    an_json_string(f, cx->name);
    fputs(", \"unit\": ", f);
    an_json_string(f, cx->unit);
    /* Choices and booleans are named on the axis, not numbered. */
    if (cx->type == AN_T_ENUM || cx->type == AN_T_BOOL) {
        int n = cx->type == AN_T_BOOL ? 2 : cx->nchoice;
        fputs(", \"ticks\": [", f);
        for (int k = 0; k < n; k++) {
            fprintf(f, "%s[%d, ", k ? ", " : "", k);
            an_json_string(f, cx->type == AN_T_BOOL ? (k ? "true" : "false") : cx->choice[k]);
            fputc(']', f);
        }
        fputc(']', f);
    }
    fputs("},\n \"y\": {\"name\": ", f);
    an_json_string(f, g->ylabel);
    fputs(", \"unit\": ", f);
    an_json_string(f, g->t->col[g->y[0]].unit);
    fputs("},\n \"lines\": [", f);
    for (int k = 0; k < g->ny; k++)
        for (size_t a = 0; a < g->n;) {
            size_t b = a + 1;
            if (g->by >= 0)
                while (b < g->n && g->t->col[g->by].v[g->rows[b]] == g->t->col[g->by].v[g->rows[a]])
                    b++;
            else
                b = g->n;
            fill_line(f, g, g->y[k], a, b, first);
            first = 0;
            a = b;
        }
    fputs("]}\n", f);
}

int an_plot_sweep(an_table *t, const size_t *rows, size_t n, int xcol, const int *ycol, int ny,
                  int bycol, const char *agg, const char *out, const an_plot_opts *o, st_err *err)
{
    sweep_fig g = {t, NULL, n, xcol, bycol, ny, ycol, 0, o->title, NULL};
    int keys[2], desc[2] = {0, 0}, nk = 0, rc;
    char title[1024], ylabel[512];
    size_t *sorted = NULL, used = 0;

    if (!strcmp(agg, "min"))
        g.agg = 1;
    else if (!strcmp(agg, "max"))
        g.agg = 2;
    else if (strcmp(agg, "mean") != 0)
        return st_err_set(err, ST_EINVAL, "--agg %s: must be mean, min or max", agg);
    if (n == 0)
        return st_err_set(err, ST_EINVAL,
                          "%s: no successful point passes the filters: nothing "
                          "to plot",
                          t->path);
    for (int k = 0; k < ny; k++)
        if ((rc = an_table_load_col(t, ycol[k], err)) != ST_OK)
            return rc;
    if (bycol >= 0)
        keys[nk++] = bycol;
    keys[nk++] = xcol;
    if (!(sorted = malloc(n * sizeof *sorted)))
        return st_err_set(err, ST_ENOMEM, "out of memory");
    memcpy(sorted, rows, n * sizeof *sorted);
    if ((rc = an_rows_sort(t, sorted, n, keys, desc, nk, err)) != ST_OK)
        goto done;
    g.rows = sorted;
    for (int k = 0; k < ny; k++)
        used = an_appendf(ylabel, sizeof ylabel, used, "%s%s", k ? ", " : "", t->col[ycol[k]].name);
    g.ylabel = ylabel;
    if (!g.title) {
        used = an_appendf(title, sizeof title, 0, "%s: %s against %s",
                          t->name[0] ? t->name : t->path, ylabel, t->col[xcol].name);
        if (bycol >= 0)
            used = an_appendf(title, sizeof title, used, ", one line per %s", t->col[bycol].name);
        used = an_appendf(title, sizeof title, used, " (%s of the points at each %s)", agg,
                          t->col[xcol].name);
        if (o->where)
            an_appendf(title, sizeof title, used, "\nwhere %s", o->where);
        g.title = title;
    }
    rc = render(o, "sweep", out, fill_sweep, &g, err);
done:
    free(sorted);
    return rc;
}

/* ---------------------------------------------------------------- the energy */

#define ENERGY_MAX 40

static const char *const comp_names[] = {"mac", "reg", "ch0", "ch1", "ch2", "dram", "leak"};
#define NCOMP (sizeof comp_names / sizeof comp_names[0])

typedef struct energy_fig {
    an_table *t;
    const size_t *rows;
    size_t n;
    int run[NCOMP], dense[NCOMP];
    const char *title;
} energy_fig;

static void fill_energy(FILE *f, const void *ctx)
{
    const energy_fig *g = ctx;
    char label[512], val[128];

    fputs("{\"title\": ", f);
    an_json_string(f, g->title);
    fputs(",\n \"components\": [", f);
    for (size_t c = 0; c < NCOMP; c++) {
        fputs(c ? ", " : "", f);
        an_json_string(f, comp_names[c]);
    }
    fputs("],\n \"points\": [", f);
    for (size_t i = 0; i < g->n; i++) {
        size_t r = g->rows[i], used = an_appendf(label, sizeof label, 0, "row %zu", r);
        /* The swept parameters say which point each pair of bars is. */
        for (int c = 0; c < g->t->ncol; c++) {
            if (g->t->col[c].group != AN_G_PARAM || strcmp(g->t->col[c].role, "swept") != 0)
                continue;
            an_table_format(g->t, c, r, 0, val, sizeof val);
            used = an_appendf(label, sizeof label, used, "\n%s = %s", g->t->col[c].name, val);
        }
        fputs(i ? ",\n  {\"label\": " : "{\"label\": ", f);
        an_json_string(f, label);
        for (int k = 0; k < 2; k++) {
            fputs(k ? ", \"dense\": [" : ", \"run\": [", f);
            for (size_t c = 0; c < NCOMP; c++) {
                fputs(c ? ", " : "", f);
                an_json_number(f, g->t->col[k ? g->dense[c] : g->run[c]].v[r]);
            }
            fputc(']', f);
        }
        fputc('}', f);
    }
    fputs("]}\n", f);
}

int an_plot_energy(an_table *t, const size_t *rows, size_t n, const char *out,
                   const an_plot_opts *o, st_err *err)
{
    energy_fig g;
    char name[64], title[1024];
    size_t used;
    int rc;

    memset(&g, 0, sizeof g);
    g.t = t;
    g.rows = rows;
    g.n = n;
    g.title = o->title;
    if (n == 0)
        return st_err_set(err, ST_EINVAL,
                          "%s: no successful point passes the filters: nothing "
                          "to plot",
                          t->path);
    if (n > ENERGY_MAX)
        return st_err_set(err, ST_EINVAL,
                          "%s: %zu points: an energy breakdown shows at most %d (narrow them "
                          "with --where or --limit)",
                          t->path, n, ENERGY_MAX);
    for (size_t c = 0; c < NCOMP; c++)
        for (int k = 0; k < 2; k++) {
            int *col = k ? &g.dense[c] : &g.run[c];
            snprintf(name, sizeof name, "%senergy_pj_%s", k ? "dense_" : "", comp_names[c]);
            if ((*col = an_table_find(t, name)) < 0)
                return st_err_set(err, ST_EINVAL,
                                  "%s has no metric %s: it was written before the energy per "
                                  "component was recorded",
                                  t->path, name);
            if ((rc = an_table_load_col(t, *col, err)) != ST_OK)
                return rc;
        }
    for (int c = 0; c < t->ncol; c++)
        if (t->col[c].group == AN_G_PARAM && !strcmp(t->col[c].role, "swept") &&
            (rc = an_table_load_col(t, c, err)) != ST_OK)
            return rc;
    if (!g.title) {
        used = an_appendf(title, sizeof title, 0,
                          "%s: energy per component, sparse (left) and dense baseline (right)",
                          t->name[0] ? t->name : t->path);
        if (o->where)
            an_appendf(title, sizeof title, used, "\nwhere %s", o->where);
        g.title = title;
    }
    return render(o, "energy", out, fill_energy, &g, err);
}
