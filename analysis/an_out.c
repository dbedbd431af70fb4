/*
 * an_out.c - rows and columns of a table written for people (an aligned table with
 * units) or for programs (CSV, JSON). What to write, and in which order, the callers
 * decide.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define CELL 600 /* the longest text of one value (a failure message: 512), with room to spare */

size_t an_appendf(char *buf, size_t size, size_t used, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (size == 0)
        return 0;
    if (used >= size)
        return size - 1;
    va_start(ap, fmt);
    w = vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
    if (w < 0) {
        buf[used] = '\0';
        return used;
    }
    return (size_t)w >= size - used ? size - 1 : used + (size_t)w;
}

void an_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", f);
        else if (*c == '\t')
            fputs("\\t", f);
        else if (*c == '\r')
            fputs("\\r", f);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f); /* UTF-8 passes through */
    }
    fputc('"', f);
}

void an_json_number(FILE *f, double v)
{
    char buf[40];

    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    an_fmt_exact(v, buf, sizeof buf);
    fputs(buf, f);
}

/* Is the column printed as text (left-aligned, quoted in JSON)? */
static int is_text(const an_col *c)
{
    return c->type == AN_T_ENUM || c->type == AN_T_ID || c->type == AN_T_BOOL;
}

/* Write one CSV field, quoted when it needs to be (RFC 4180). */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* One cell of a table: two blanks before all but the first, numbers right-aligned, text
 * left-aligned and not padded at the end of a line. */
static void put_cell(FILE *f, const char *text, size_t width, int left, int first, int last)
{
    if (!first)
        fputs("  ", f);
    if (left && last)
        fputs(text, f);
    else if (left)
        fprintf(f, "%-*s", (int)width, text);
    else
        fprintf(f, "%*s", (int)width, text);
}

/* The text of the last value written in each column. Sweeps repeat values (a parameter
 * at its default has one value in every row), and writing a double exactly costs far more
 * than comparing its bits. */
typedef struct memo {
    int valid;
    uint64_t bits; /* of the value (64-bit columns: the value), so -0 and NaN stay apart */
    char text[CELL];
} memo;

static const char *cell_text(memo *m, const an_table *t, int col, size_t row, int exact)
{
    const an_col *c = &t->col[col];
    uint64_t bits;

    if (c->u)
        bits = c->u[row];
    else
        memcpy(&bits, &c->v[row], sizeof bits);
    if (!m->valid || m->bits != bits) {
        an_table_format(t, col, row, exact, m->text, sizeof m->text);
        m->bits = bits;
        m->valid = 1;
    }
    return m->text;
}

static void write_table(FILE *f, const an_table *t, const size_t *rows, size_t nrows,
                        const int *cols, int ncols, const char *title, size_t *width, memo *m)
{
    char unit[CELL];
    int units = 0;

    if (title)
        fprintf(f, "%s\n", title);
    for (int j = 0; j < ncols; j++)
        units |= t->col[cols[j]].unit[0] != '\0';
    /* Two passes: the widths, then the lines. */
    for (int j = 0; j < ncols; j++) {
        const an_col *c = &t->col[cols[j]];
        width[j] = strlen(c->name);
        if (c->unit[0] && strlen(c->unit) + 2 > width[j])
            width[j] = strlen(c->unit) + 2;
        for (size_t r = 0; r < nrows; r++) {
            size_t len = strlen(cell_text(&m[j], t, cols[j], rows[r], 0));
            if (len > width[j])
                width[j] = len;
        }
    }
    for (int line = 0; line < 1 + units; line++) {
        int last = ncols - 1;
        /* No trailing blanks: the units line ends at the last column that has a unit. */
        while (line == 1 && last > 0 && !t->col[cols[last]].unit[0])
            last--;
        for (int j = 0; j <= last; j++) {
            const an_col *c = &t->col[cols[j]];
            const char *text = c->name;
            if (line == 1) {
                snprintf(unit, sizeof unit, c->unit[0] ? "[%s]" : "%s", c->unit);
                text = unit;
            }
            put_cell(f, text, width[j], is_text(c), j == 0, j == last);
        }
        fputc('\n', f);
    }
    for (size_t r = 0; r < nrows; r++) {
        for (int j = 0; j < ncols; j++)
            put_cell(f, cell_text(&m[j], t, cols[j], rows[r], 0), width[j],
                     is_text(&t->col[cols[j]]), j == 0, j == ncols - 1);
        fputc('\n', f);
    }
}

static void write_csv(FILE *f, const an_table *t, const size_t *rows, size_t nrows, const int *cols,
                      int ncols, memo *m)
{
    for (int j = 0; j < ncols; j++) {
        fputs(j ? "," : "", f);
        csv_field(f, t->col[cols[j]].name);
    }
    fputc('\n', f);
    for (size_t r = 0; r < nrows; r++) {
        for (int j = 0; j < ncols; j++) {
            const an_col *c = &t->col[cols[j]];
            if (j)
                fputc(',', f);
            if (!c->u && isnan(c->v[rows[r]]))
                continue; /* an empty field: no value */
            csv_field(f, cell_text(&m[j], t, cols[j], rows[r], 1));
        }
        fputc('\n', f);
    }
}

static void write_json(FILE *f, const an_table *t, const size_t *rows, size_t nrows,
                       const int *cols, int ncols, const char *title, memo *m)
{
    fputs("{\"file\": ", f);
    an_json_string(f, t->path);
    fputs(", \"sweep\": ", f);
    an_json_string(f, t->name);
    if (title) {
        fputs(", \"title\": ", f);
        an_json_string(f, title);
    }
    fputs(",\n \"columns\": [", f);
    for (int j = 0; j < ncols; j++) {
        fputs(j ? ", {\"name\": " : "{\"name\": ", f);
        an_json_string(f, t->col[cols[j]].name);
        fputs(", \"unit\": ", f);
        an_json_string(f, t->col[cols[j]].unit);
        fputc('}', f);
    }
    fputs("],\n \"rows\": [", f);
    for (size_t r = 0; r < nrows; r++) {
        fputs(r ? ",\n  {" : "\n  {", f);
        for (int j = 0; j < ncols; j++) {
            const an_col *c = &t->col[cols[j]];
            double v = c->v[rows[r]];
            fputs(j ? ", " : "", f);
            an_json_string(f, c->name);
            fputs(": ", f);
            if (c->type == AN_T_ID || (c->type == AN_T_ENUM && !isnan(v)))
                an_json_string(f, cell_text(&m[j], t, cols[j], rows[r], 1));
            else if (c->type == AN_T_BOOL && !isnan(v))
                fputs(v != 0 ? "true" : "false", f);
            else if (c->type == AN_T_U64 || isfinite(v))
                fputs(cell_text(&m[j], t, cols[j], rows[r], 1), f);
            else
                fputs("null", f);
        }
        fputc('}', f);
    }
    fputs(nrows ? "\n ]}\n" : "]}\n", f);
}

int an_out_rows(FILE *f, an_format fmt, an_table *t, const size_t *rows, size_t nrows,
                const int *cols, int ncols, const char *title, st_err *err)
{
    size_t *width = NULL, nc = ncols > 0 ? (size_t)ncols : 1;
    memo *m = NULL;
    int rc = ST_OK;

    for (int j = 0; j < ncols && rc == ST_OK; j++)
        rc = an_table_load_col(t, cols[j], err);
    if (rc != ST_OK)
        goto done;
    if (!(m = calloc(nc, sizeof *m)) || !(width = malloc(nc * sizeof *width))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for a table of %d columns", ncols);
        goto done;
    }
    if (fmt == AN_FMT_CSV)
        write_csv(f, t, rows, nrows, cols, ncols, m);
    else if (fmt == AN_FMT_JSON)
        write_json(f, t, rows, nrows, cols, ncols, title, m);
    else
        write_table(f, t, rows, nrows, cols, ncols, title, width, m);
    if (fflush(f) != 0 || ferror(f))
        rc = st_err_set(err, ST_EIO, "cannot write the output: %s", strerror(errno));
done:
    free(width);
    free(m);
    return rc;
}
