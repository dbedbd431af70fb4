/*
 * topo.c - import of SCALE-Sim layer lists (CSV) as a chain of convolutions, each but the
 * last followed by a ReLU. Only the file format, SCALE-Sim's output-size rule and how rows
 * are chained live here; shapes, validation of layers and MAC counts belong to net.c.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

/* Longest line accepted, line ending excluded. The real files stay under 120. */
#define TOPO_LINE_MAX 1024

/* Columns of a row: the name, seven numbers, and an optional stride width. */
enum {
    TOPO_NAME = 0,
    TOPO_IFMAP_H,
    TOPO_IFMAP_W,
    TOPO_FILTER_H,
    TOPO_FILTER_W,
    TOPO_CHANNELS,
    TOPO_FILTERS,
    TOPO_STRIDE_H,
    TOPO_STRIDE_W,
    TOPO_COLS
};

/* Field names used in messages: those of SCALE-Sim's own header. */
static const char *const topo_col_name[TOPO_COLS] = {
    "Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
    "Channels",   "Num Filter",   "Strides",     "Stride Width"};

/* One parsed row, with the line it came from for later messages. */
typedef struct topo_row {
    char name[ST_NAME_MAX];
    int line;
    int v[TOPO_COLS]; /* v[TOPO_NAME] is unused */
} topo_row;

/* The text being read, one line at a time. */
typedef struct topo_reader {
    const char *p, *end; /* what is left of the text */
    const char *path;
    int line; /* 1-based number of the line in buf */
    char buf[TOPO_LINE_MAX + 2];
} topo_reader;

/* Read the next line into rd->buf without its ending ("\n" or "\r\n") and without a UTF-8
 * byte-order mark on line 1. *got is 0 at the end of the text. Fails with ST_EFORMAT on a
 * line over TOPO_LINE_MAX characters or holding a NUL byte. */
static int topo_getline(topo_reader *rd, int *got, st_err *err)
{
    int rc = ST_OK;
    char c;
    size_t n = 0;

    *got = 0;
    if (rd->p == rd->end)
        goto done;
    while (rd->p < rd->end && (c = *rd->p++) != '\n') {
        /* One extra byte of room keeps a '\r' of a full-length CRLF line. */
        if (n == TOPO_LINE_MAX + 1) {
            rc = st_err_set(err, ST_EFORMAT, "%s:%d: line longer than %d characters", rd->path,
                            rd->line + 1, TOPO_LINE_MAX);
            goto done;
        }
        if (c == '\0') {
            rc = st_err_set(err, ST_EFORMAT, "%s:%d: NUL byte in column %zu: not a text file",
                            rd->path, rd->line + 1, n + 1);
            goto done;
        }
        rd->buf[n++] = c;
    }
    rd->line++;
    if (n > 0 && rd->buf[n - 1] == '\r')
        n--;
    if (n > TOPO_LINE_MAX) {
        rc = st_err_set(err, ST_EFORMAT, "%s:%d: line longer than %d characters", rd->path,
                        rd->line, TOPO_LINE_MAX);
        goto done;
    }
    rd->buf[n] = '\0';
    if (rd->line == 1 && n >= 3 && memcmp(rd->buf, "\xEF\xBB\xBF", 3) == 0)
        memmove(rd->buf, rd->buf + 3, n - 3 + 1);
    *got = 1;
done:
    return rc;
}

/* Return s without leading and trailing white space (s is modified in place). */
static char *topo_trim(char *s)
{
    size_t n;

    while (isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Split line in place at its commas into trimmed fields; keep the first TOPO_COLS in f.
 * Return the number of fields (a trailing comma adds an empty one) and set *blank when
 * every field is empty. */
static int topo_split(char *line, char *f[TOPO_COLS], int *blank)
{
    int n = 0;
    char *p = line;
    char *comma;

    *blank = 1;
    for (;;) {
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        p = topo_trim(p);
        if (*p)
            *blank = 0;
        if (n < TOPO_COLS)
            f[n] = p;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return n;
}

/* Does s start with prefix, ignoring case? */
static int topo_starts_with_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (tolower((unsigned char)*s) != tolower((unsigned char)*prefix))
            return 0;
    return 1;
}

/* Parse a whole field as a positive int into *out. Fails with ST_EFORMAT naming the line,
 * the field and the bad text or value. */
static int topo_int(const char *path, int line, int col, const char *s, int *out, st_err *err)
{
    int rc = ST_OK;
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0') {
        rc = st_err_set(err, ST_EFORMAT, "%s:%d: field '%s': '%s' is not a whole number", path,
                        line, topo_col_name[col], s);
        goto done;
    }
    if (errno == ERANGE || v > INT_MAX || v < INT_MIN) {
        rc = st_err_set(err, ST_EFORMAT, "%s:%d: field '%s': '%s' does not fit in an int", path,
                        line, topo_col_name[col], s);
        goto done;
    }
    if (v < 1) {
        rc = st_err_set(err, ST_EFORMAT, "%s:%d: field '%s' = %ld: must be at least 1", path, line,
                        topo_col_name[col], v);
        goto done;
    }
    *out = (int)v;
done:
    return rc;
}

/* Fill row from the nf fields f of line `line`. The stride width comes from the 9th column
 * when the header named it (stride_w_col) and the row fills it; otherwise it equals the
 * stride height, as in SCALE-Sim. */
static int topo_parse_row(const char *path, int line, char *f[TOPO_COLS], int nf, int stride_w_col,
                          topo_row *row, st_err *err)
{
    int rc = ST_OK;
    int col;
    size_t len;

    /* With the usual trailing comma an absent column shows up as an empty field. */
    for (col = TOPO_NAME; col <= TOPO_STRIDE_H; col++)
        if (col >= nf || f[col][0] == '\0') {
            rc = st_err_set(err, ST_EFORMAT, "%s:%d: field '%s' missing", path, line,
                            topo_col_name[col]);
            goto done;
        }
    len = strlen(f[TOPO_NAME]);
    if (len >= ST_NAME_MAX) {
        rc = st_err_set(err, ST_EFORMAT, "%s:%d: field '%s': '%s' is longer than %d characters",
                        path, line, topo_col_name[TOPO_NAME], f[TOPO_NAME], ST_NAME_MAX - 1);
        goto done;
    }
    memcpy(row->name, f[TOPO_NAME], len + 1);
    row->line = line;
    row->v[TOPO_NAME] = 0;
    for (col = TOPO_IFMAP_H; col <= TOPO_STRIDE_H; col++)
        if ((rc = topo_int(path, line, col, f[col], &row->v[col], err)) != ST_OK)
            goto done;
    row->v[TOPO_STRIDE_W] = row->v[TOPO_STRIDE_H];
    if (stride_w_col && nf > TOPO_STRIDE_W && f[TOPO_STRIDE_W][0] != '\0')
        if ((rc = topo_int(path, line, TOPO_STRIDE_W, f[TOPO_STRIDE_W], &row->v[TOPO_STRIDE_W],
                           err)) != ST_OK)
            goto done;
    /* SCALE-Sim asserts the same (topology_utils.py, "ISSUE #9 Fix"). */
    for (col = TOPO_FILTER_H; col <= TOPO_FILTER_W; col++) {
        int in_col = col - TOPO_FILTER_H + TOPO_IFMAP_H;
        if (row->v[col] > row->v[in_col]) {
            rc = st_err_set(err, ST_EFORMAT, "%s:%d: field '%s' = %d is larger than '%s' = %d",
                            path, line, topo_col_name[col], row->v[col], topo_col_name[in_col],
                            row->v[in_col]);
            goto done;
        }
    }
done:
    return rc;
}

/* Read the header and every row of rd into a new array *rows of *n entries (the caller
 * frees it). Fails on an empty file, a first line that is a layer, a malformed row, and a
 * header with no row after it. */
static int topo_read(topo_reader *rd, topo_row **rows, int *n, st_err *err)
{
    int rc = ST_OK;
    topo_row *all = NULL, *grown;
    int count = 0, cap = 0;
    int got = 0, blank = 1, nf = 0, header_line = 0, stride_w_col = 0, probe;
    char *f[TOPO_COLS];

    *rows = NULL;
    *n = 0;
    /* The header is the first line that is not blank. */
    while (blank) {
        if ((rc = topo_getline(rd, &got, err)) != ST_OK)
            goto done;
        if (!got) {
            rc = st_err_set(err, ST_EFORMAT,
                            "%s: empty file: expected a header line and layer rows", rd->path);
            goto done;
        }
        nf = topo_split(rd->buf, f, &blank);
    }
    header_line = rd->line;
    /* A number in the IFMAP Height column means the header was left out: SCALE-Sim would
     * silently drop that layer, so say it. */
    if (nf > TOPO_IFMAP_H &&
        topo_int(rd->path, rd->line, TOPO_IFMAP_H, f[TOPO_IFMAP_H], &probe, NULL) == ST_OK) {
        rc =
            st_err_set(err, ST_EFORMAT, "%s:%d: expected the header line, found a layer row ('%s')",
                       rd->path, rd->line, f[TOPO_NAME]);
        goto done;
    }
    stride_w_col = nf > TOPO_STRIDE_W && topo_starts_with_nocase(f[TOPO_STRIDE_W], "stride");

    for (;;) {
        if ((rc = topo_getline(rd, &got, err)) != ST_OK)
            goto done;
        if (!got)
            break;
        nf = topo_split(rd->buf, f, &blank);
        if (blank)
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            grown = realloc(all, (size_t)cap * sizeof *all);
            if (!grown) {
                rc = st_err_set(err, ST_ENOMEM, "%s:%d: out of memory for %d layers", rd->path,
                                rd->line, cap);
                goto done;
            }
            all = grown;
        }
        if ((rc = topo_parse_row(rd->path, rd->line, f, nf, stride_w_col, &all[count], err)) !=
            ST_OK)
            goto done;
        count++;
    }
    if (count == 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s:%d: header but no layer row after it", rd->path,
                        header_line);
        goto done;
    }
    *rows = all;
    *n = count;
    all = NULL;
done:
    free(all);
    return rc;
}

/* Append row r (index i of n) to net: its input, the convolution, and the ReLU after it.
 * *relu is the index of the previous row's ReLU (-1 before the first row) and becomes this
 * row's (-1 after the last). The input is:
 *   - the network input for the first row (dense image data; no BP);
 *   - the previous row's ReLU when its output shape is this row's input shape;
 *   - otherwise a ReLU of this row's input shape fed from upstream (st_net_relu_at): the
 *     list has layers, not edges, and what stands between two rows that do not chain
 *     (pooling, a shortcut, a branch) is not in it.
 * So every row but the first has BP, and its input activations are a ReLU output of
 * density relu_density, as in the built-in networks; every row but the last has its dZ
 * masked by its own ReLU; the last row's output feeds the loss.
 * SCALE-Sim v2 (scalesim/topology_utils.py, topo_calc_hyperparams) takes, per dimension,
 *     ofmap = ceil((ifmap - filter + stride) / stride)
 * and MACs = ofmap_h * ofmap_w * filter_h * filter_w * channels * num_filters. With no
 * padding a convolution would give floor((ifmap - filter) / stride) + 1, one row or column
 * less when (ifmap - filter) % stride != 0; the bottom/right padding
 *     pad = (ofmap - 1) * stride + filter - ifmap,   0 <= pad < stride,
 * is the smallest that brings it to SCALE-Sim's size, and makes the conventional MAC count
 * (every tap, padding included) equal SCALE-Sim's. */
static int topo_append(st_net *net, const char *path, const topo_row *r, int i, int n, int *relu,
                       st_err *err)
{
    int rc = ST_OK;
    int pad[2], d, src = -1;
    long long out;
    char name[ST_NAME_MAX];
    const st_layer *prev = *relu >= 0 ? st_net_layer(net, *relu) : NULL;
    st_err sub;

    for (d = 0; d < 2; d++) {
        long long in = r->v[TOPO_IFMAP_H + d], k = r->v[TOPO_FILTER_H + d];
        long long s = r->v[TOPO_STRIDE_H + d];
        out = (in - k + s - 1) / s + 1; /* ceil((in - k) / s) + 1, in - k >= 0 */
        pad[d] = (int)((out - 1) * s + k - in);
    }
    st_err_clear(&sub);
    if (i == 0)
        rc = st_net_conv_at(net, r->name, r->v[TOPO_CHANNELS], r->v[TOPO_IFMAP_H],
                            r->v[TOPO_IFMAP_W], r->v[TOPO_FILTERS], r->v[TOPO_FILTER_H],
                            r->v[TOPO_FILTER_W], r->v[TOPO_STRIDE_H], r->v[TOPO_STRIDE_W], 0,
                            pad[0], 0, pad[1], &sub);
    else {
        if (prev && prev->out_c == r->v[TOPO_CHANNELS] && prev->out_h == r->v[TOPO_IFMAP_H] &&
            prev->out_w == r->v[TOPO_IFMAP_W])
            src = *relu;
        else {
            snprintf(name, sizeof name, "input.%d", r->line);
            src = st_net_relu_at(net, name, r->v[TOPO_CHANNELS], r->v[TOPO_IFMAP_H],
                                 r->v[TOPO_IFMAP_W], &sub);
        }
        if (src >= 0)
            rc = st_net_conv_ex(net, r->name, src, r->v[TOPO_FILTERS], r->v[TOPO_FILTER_H],
                                r->v[TOPO_FILTER_W], r->v[TOPO_STRIDE_H], r->v[TOPO_STRIDE_W], 0,
                                pad[0], 0, pad[1], 1, &sub);
        else
            rc = src;
    }
    *relu = -1;
    if (rc >= 0 && i < n - 1) {
        snprintf(name, sizeof name, "relu.%d", r->line);
        rc = st_net_relu(net, name, ST_PREV, &sub);
        *relu = rc;
    }
    if (rc < 0) {
        /* net.c's ST_EINVAL (say, a name used twice) is a fault of the file's content. */
        if (rc == ST_EINVAL)
            rc = ST_EFORMAT;
        st_err_set(err, rc, "%s:%d: %s", path, r->line, sub.msg);
    } else {
        rc = ST_OK;
    }
    return rc;
}

/* Write into name (of size cap) the base name of path without a final ".csv". */
static void topo_net_name(const char *path, char *name, size_t cap)
{
    const char *base = strrchr(path, '/');
    size_t len;

    base = base ? base + 1 : path;
    len = strlen(base);
    if (len > 4 && topo_starts_with_nocase(base + len - 4, ".csv"))
        len -= 4;
    snprintf(name, cap, "%.*s", (int)len, base);
}

int st_topo_read_file(const char *path, char **text, size_t *len, st_err *err)
{
    int rc = ST_OK;
    FILE *f = NULL;
    char *buf = NULL, *grown;
    size_t n = 0, cap = 0, got;

    if (text)
        *text = NULL;
    if (len)
        *len = 0;
    if (!path || !text || !len) {
        rc = st_err_set(err, ST_EINVAL, "st_topo_read_file: %s is NULL",
                        !path   ? "path"
                        : !text ? "text"
                                : "len");
        goto done;
    }
    f = fopen(path, "rb");
    if (!f) {
        rc = st_err_set(err, ST_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            grown = realloc(buf, cap + 1);
            if (!grown) {
                rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for %zu bytes", path, cap);
                goto done;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        rc = st_err_set(err, ST_EIO, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    buf = NULL;
done:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

int st_topo_parse(const char *path, const char *text, size_t len, st_net **out, st_err *err)
{
    int rc = ST_OK;
    topo_reader *rd = NULL;
    topo_row *rows = NULL;
    st_net *net = NULL;
    int n = 0, i, relu;
    char name[256];
    st_err sub;

    if (out)
        *out = NULL;
    if (!path || !out || (!text && len > 0)) {
        rc = st_err_set(err, ST_EINVAL, "st_topo_parse: %s is NULL",
                        !path  ? "path"
                        : !out ? "out"
                               : "text");
        goto done;
    }
    rd = calloc(1, sizeof *rd);
    if (!rd) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for a reader", path);
        goto done;
    }
    rd->path = path;
    rd->p = text;
    rd->end = text + len;
    if ((rc = topo_read(rd, &rows, &n, err)) != ST_OK)
        goto done;

    /* The network input is the first row's; the rows form a chain (topo_append). */
    topo_net_name(path, name, sizeof name);
    st_err_clear(&sub);
    rc = st_net_create(name, rows[0].v[TOPO_CHANNELS], rows[0].v[TOPO_IFMAP_H],
                       rows[0].v[TOPO_IFMAP_W], &net, &sub);
    if (rc != ST_OK) {
        if (rc == ST_EINVAL)
            rc = ST_EFORMAT;
        st_err_set(err, rc, "%s:%d: %s", path, rows[0].line, sub.msg);
        goto done;
    }
    for (i = 0, relu = -1; i < n; i++)
        if ((rc = topo_append(net, path, &rows[i], i, n, &relu, err)) != ST_OK)
            goto done;
    if ((rc = st_net_finish(net, &sub)) != ST_OK) {
        st_err_set(err, rc, "%s: %s", path, sub.msg);
        goto done;
    }
    *out = net;
    net = NULL;
done:
    st_net_destroy(&net);
    free(rows);
    free(rd);
    return rc;
}

int st_topo_load(const char *path, st_net **out, st_err *err)
{
    int rc;
    char *text = NULL;
    size_t len = 0;

    if (out)
        *out = NULL;
    if (!path || !out)
        rc = st_err_set(err, ST_EINVAL, "st_topo_load: %s is NULL", path ? "out" : "path");
    else if ((rc = st_topo_read_file(path, &text, &len, err)) == ST_OK)
        rc = st_topo_parse(path, text, len, out, err);
    free(text);
    return rc;
}
