/*
 * ex_wire.c - the byte encodings of what processes of a sweep exchange: the evaluator's
 * static data, batches of points, and their records. How the bytes travel (MPI) is
 * ex_master.c's and ex_worker.c's business; decoders here check every length.
 *
 *   setup:   u32 "STW1" i32 mode i32 detail i32 nparam i32 nmetric
 *            i32 nnet, nnet x netspec, i32 ntrace, ntrace x trace
 *   netspec: name[ST_NAME_MAX] i32 builtin i32 c h w i32 nops
 *            nops x (i32 kind name[ST_NAME_MAX] i32 src0 src1 out k stride pad groups line)
 *            u64 plen path u64 tlen text (a layer list; 0 and 0 otherwise)
 *   trace:   u64 plen path u64 fp u64 bytes net_name[ST_NAME_MAX] i32 net iter[32]
 *            i32 images i32 nlayer f64 accuracy test_loss train_loss u64 key
 *            u64 flen fail[flen] nlayer x (i32 layer u64 na u64 ng f64 tau
 *            u8 act[images][na] u8 dz[images][ng])
 *   points:  u32 "STP1" u32 n u64 seq u32 nparam u32 ncols f64 first[nparam]
 *            u32 cols[ncols] f64 values[n][ncols]
 *   records: u32 "STR1" u32 n u64 seq f64 eval_s u32 nmetric u32 0
 *            n x (i32 status u32 msg_len u32 ndetail u32 0 u64 metrics[nmetric] msg
 *                 ndetail x (i32 layer i32 phase u64 v[EX_D_COUNT]))
 */
#include <stdlib.h>
#include <string.h>

#include "ex.h"

#define W_SETUP   0x31575453u /* "STW1" little-endian */
#define W_POINTS  0x31505453u /* "STP1" */
#define W_RECORDS 0x31525453u /* "STR1" */

void ex_buf_init(ex_buf *b)
{
    memset(b, 0, sizeof *b);
}

void ex_buf_fini(ex_buf *b)
{
    if (!b)
        return;
    free(b->p);
    memset(b, 0, sizeof *b);
}

int ex_buf_reserve(ex_buf *b, size_t size, st_err *err)
{
    int rc = ST_OK;

    if (size > b->cap) {
        size_t cap = size < 256 ? 256 : size + size / 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            rc = st_err_set(err, ST_ENOMEM, "message buffer of %zu bytes: out of memory", size);
            goto done;
        }
        b->p = p;
        b->cap = cap;
    }
done:
    return rc;
}

/* Writing: the caller reserves the exact size first, so puts cannot fail. */
static void put(ex_buf *b, const void *v, size_t n)
{
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void put_u32(ex_buf *b, uint32_t v)
{
    put(b, &v, 4);
}
static void put_i32(ex_buf *b, int32_t v)
{
    put(b, &v, 4);
}
static void put_u64(ex_buf *b, uint64_t v)
{
    put(b, &v, 8);
}
static void put_f64(ex_buf *b, double v)
{
    put(b, &v, 8);
}

/* Reading: a cursor that turns a short message into a flag rather than an overrun. */
typedef struct cursor {
    const unsigned char *p, *end;
    int short_read;
} cursor;

static int get(cursor *c, void *v, size_t n)
{
    if (c->short_read || (size_t)(c->end - c->p) < n) {
        c->short_read = 1;
        memset(v, 0, n);
        return -1;
    }
    memcpy(v, c->p, n);
    c->p += n;
    return 0;
}
static uint32_t get_u32(cursor *c)
{
    uint32_t v;
    get(c, &v, 4);
    return v;
}
static int32_t get_i32(cursor *c)
{
    int32_t v;
    get(c, &v, 4);
    return v;
}
static uint64_t get_u64(cursor *c)
{
    uint64_t v;
    get(c, &v, 8);
    return v;
}
static double get_f64(cursor *c)
{
    double v;
    get(c, &v, 8);
    return v;
}

/* ------------------------------------------------------------------- setup */

#define OP_SIZE     (4 + ST_NAME_MAX + 8 * 4)
#define NET_MIN     (ST_NAME_MAX + 5 * 4 + 16)
#define TRACE_MIN   (8 * 3 + ST_NAME_MAX + 4 + 32 + 4 * 2 + 8 * 5)
#define TLAYER_SIZE (4 + 8 * 3)

static size_t net_size(const ex_netspec *net)
{
    size_t plen = net->csv ? strlen(net->csv_path) : 0, tlen = net->csv ? net->csv_len : 0;
    return NET_MIN + (size_t)net->n * OP_SIZE + plen + tlen;
}

/* A layer list travels as its path and text, each a 64-bit length and the bytes (lengths
 * 0 when the network is not a layer list). */
static void put_net(ex_buf *out, const ex_netspec *net)
{
    size_t plen = net->csv ? strlen(net->csv_path) : 0, tlen = net->csv ? net->csv_len : 0;

    put(out, net->name, ST_NAME_MAX);
    put_i32(out, net->builtin);
    put_i32(out, net->c);
    put_i32(out, net->h);
    put_i32(out, net->w);
    put_i32(out, net->n);
    for (int i = 0; i < net->n; i++) {
        const ex_netop *op = &net->ops[i];
        put_i32(out, (int32_t)op->kind);
        put(out, op->name, ST_NAME_MAX);
        put_i32(out, op->src[0]);
        put_i32(out, op->src[1]);
        put_i32(out, op->out);
        put_i32(out, op->k);
        put_i32(out, op->stride);
        put_i32(out, op->pad);
        put_i32(out, op->groups);
        put_i32(out, op->line);
    }
    put_u64(out, plen);
    put(out, net->csv_path ? net->csv_path : "", plen);
    put_u64(out, tlen);
    put(out, net->csv ? net->csv : "", tlen);
}

static size_t trace_size(const ex_tracemem *t)
{
    size_t size = TRACE_MIN + strlen(t->path) + (t->fail ? strlen(t->fail) : 0);

    for (int i = 0; i < t->n; i++)
        size += TLAYER_SIZE + (size_t)t->images * (t->layers[i].na + t->layers[i].ng);
    return size;
}

static void put_trace(ex_buf *out, const ex_tracemem *t)
{
    put_u64(out, strlen(t->path));
    put(out, t->path, strlen(t->path));
    put_u64(out, t->fp);
    put_u64(out, t->bytes);
    put(out, t->net_name, ST_NAME_MAX);
    put_i32(out, t->net);
    put(out, t->iter, sizeof t->iter);
    put_i32(out, t->images);
    put_i32(out, t->n);
    put_f64(out, t->accuracy);
    put_f64(out, t->test_loss);
    put_f64(out, t->train_loss);
    put_u64(out, t->key);
    put_u64(out, t->fail ? strlen(t->fail) : 0);
    put(out, t->fail ? t->fail : "", t->fail ? strlen(t->fail) : 0);
    for (int i = 0; i < t->n; i++) {
        const ex_tracelayer *l = &t->layers[i];
        put_i32(out, l->layer);
        put_u64(out, l->na);
        put_u64(out, l->ng);
        put_f64(out, l->tau);
        put(out, l->act, (size_t)t->images * l->na);
        put(out, l->dz, (size_t)t->images * l->ng);
    }
}

int ex_wire_put_setup(ex_buf *out, const ex_wire_setup *s, const ex_sweep *sw, st_err *err)
{
    size_t size = 7 * 4;
    int rc;

    for (int i = 0; i < sw->nnet; i++)
        size += net_size(&sw->nets[i]);
    for (int i = 0; i < sw->ntrace; i++)
        size += trace_size(sw->traces[i]);
    out->n = 0;
    if ((rc = ex_buf_reserve(out, size, err)) != 0)
        goto done;
    put_u32(out, W_SETUP);
    put_i32(out, (int32_t)s->mode);
    put_i32(out, s->detail);
    put_i32(out, s->nparam);
    put_i32(out, s->nmetric);
    put_i32(out, sw->nnet);
    for (int i = 0; i < sw->nnet; i++)
        put_net(out, &sw->nets[i]);
    put_i32(out, sw->ntrace);
    for (int i = 0; i < sw->ntrace; i++)
        put_trace(out, sw->traces[i]);
done:
    return rc;
}

/* Bytes of length len at the cursor, or NULL (short read flagged). */
static const unsigned char *get_bytes(cursor *c, uint64_t len)
{
    const unsigned char *p = c->p;

    if (c->short_read || len > (uint64_t)(c->end - c->p)) {
        c->short_read = 1;
        return NULL;
    }
    c->p += len;
    return p;
}

static int get_net(cursor *c, size_t n, ex_netspec *net, st_err *err)
{
    int nops, rc = ST_OK;
    uint64_t plen, tlen;
    const unsigned char *path, *text;
    ex_netop op;

    get(c, net->name, ST_NAME_MAX);
    net->name[ST_NAME_MAX - 1] = '\0';
    net->builtin = get_i32(c);
    net->c = get_i32(c);
    net->h = get_i32(c);
    net->w = get_i32(c);
    nops = get_i32(c);
    if (nops < 0 || (size_t)nops > (size_t)(c->end - c->p) / OP_SIZE) {
        rc = st_err_set(err, ST_EFORMAT, "setup: %d layer operations do not fit in %zu bytes", nops,
                        n);
        goto done;
    }
    for (int i = 0; i < nops; i++) {
        memset(&op, 0, sizeof op);
        op.kind = (st_kind)get_i32(c);
        get(c, op.name, ST_NAME_MAX);
        op.name[ST_NAME_MAX - 1] = '\0';
        op.src[0] = get_i32(c);
        op.src[1] = get_i32(c);
        op.out = get_i32(c);
        op.k = get_i32(c);
        op.stride = get_i32(c);
        op.pad = get_i32(c);
        op.groups = get_i32(c);
        op.line = get_i32(c);
        if ((rc = ex_netspec_push(net, &op, err)) != 0)
            goto done;
    }
    plen = get_u64(c);
    path = get_bytes(c, plen);
    tlen = get_u64(c);
    text = get_bytes(c, tlen);
    if (!c->short_read && (tlen > 0 || plen > 0)) {
        char *pathz = malloc((size_t)plen + 1);
        if (!pathz) {
            rc = st_err_set(err, ST_ENOMEM, "setup: out of memory for a %llu-byte path",
                            (unsigned long long)plen);
            goto done;
        }
        memcpy(pathz, path, (size_t)plen);
        pathz[plen] = '\0';
        rc = ex_netspec_set_csv(net, pathz, (const char *)text, (size_t)tlen, err);
        free(pathz);
    }
done:
    return rc;
}

static int get_trace(cursor *c, size_t n, int nnet, ex_tracemem **out, st_err *err)
{
    ex_tracemem *t = NULL;
    char path[4096];
    uint64_t plen = get_u64(c), fp, bytes, flen;
    const unsigned char *p = get_bytes(c, plen);
    int32_t images, nl;
    int rc = ST_OK;

    if (c->short_read || plen >= sizeof path)
        goto bad;
    memcpy(path, p, (size_t)plen);
    path[plen] = '\0';
    fp = get_u64(c);
    bytes = get_u64(c);
    if ((rc = ex_tracemem_create(path, 0, &t, err)) != 0)
        goto done;
    t->fp = fp;
    t->bytes = bytes;
    get(c, t->net_name, ST_NAME_MAX);
    t->net_name[ST_NAME_MAX - 1] = '\0';
    t->net = get_i32(c);
    get(c, t->iter, sizeof t->iter);
    t->iter[sizeof t->iter - 1] = '\0';
    images = get_i32(c);
    nl = get_i32(c);
    t->accuracy = get_f64(c);
    t->test_loss = get_f64(c);
    t->train_loss = get_f64(c);
    t->key = get_u64(c);
    flen = get_u64(c);
    p = get_bytes(c, flen);
    if (c->short_read || t->net < 0 || t->net >= nnet || images < 0 ||
        (images == 0 && (flen == 0 || nl > 0)) || nl < 0 ||
        (size_t)nl > (size_t)(c->end - c->p) / TLAYER_SIZE)
        goto bad;
    if (flen > 0) {
        if (!(t->fail = malloc((size_t)flen + 1))) {
            rc = st_err_set(err, ST_ENOMEM, "setup: out of memory for trace %s", path);
            goto done;
        }
        memcpy(t->fail, p, (size_t)flen);
        t->fail[flen] = '\0';
    }
    free(t->layers);
    if (!(t->layers = calloc((size_t)nl + 1, sizeof *t->layers))) {
        rc = st_err_set(err, ST_ENOMEM, "setup: out of memory for trace %s", path);
        goto done;
    }
    t->n = nl;
    t->images = images;
    for (int i = 0; i < nl; i++) {
        int32_t layer = get_i32(c);
        uint64_t na = get_u64(c), ng = get_u64(c);
        double tau = get_f64(c);
        size_t left = (size_t)(c->end - c->p);
        if (c->short_read || na > left / (size_t)images || ng > left / (size_t)images ||
            (size_t)images * (na + ng) > left)
            goto bad;
        if ((rc = ex_tracemem_layer_alloc(t, i, layer, (size_t)na, (size_t)ng, err)) != 0)
            goto done;
        t->layers[i].tau = tau;
        memcpy(t->layers[i].act, get_bytes(c, (uint64_t)images * na), (size_t)images * na);
        memcpy(t->layers[i].dz, get_bytes(c, (uint64_t)images * ng), (size_t)images * ng);
    }
    *out = t;
    t = NULL;
    goto done;
bad:
    rc = st_err_set(err, ST_EFORMAT, "setup message of %zu bytes: a malformed trace", n);
done:
    ex_tracemem_destroy(&t);
    return rc;
}

int ex_wire_get_setup(const void *p, size_t n, ex_wire_setup *s, ex_sweep *sw, st_err *err)
{
    cursor c = {p, (const unsigned char *)p + n, 0};
    int nmetric = 0, nnet, ntrace, rc = ST_OK;

    ex_metrics(&nmetric);
    if (get_u32(&c) != W_SETUP) {
        rc = st_err_set(err, ST_EFORMAT, "setup message of %zu bytes: not a setup", n);
        goto done;
    }
    s->mode = (ex_eval_mode)get_i32(&c);
    s->detail = get_i32(&c);
    s->nparam = get_i32(&c);
    s->nmetric = get_i32(&c);
    nnet = get_i32(&c);
    if (s->nmetric != nmetric) {
        rc = st_err_set(err, ST_EFORMAT,
                        "setup: the sender has %d metrics, this program %d: mixed versions?",
                        s->nmetric, nmetric);
        goto done;
    }
    if (nnet < 1 || (size_t)nnet > (size_t)(c.end - c.p) / NET_MIN) {
        rc = st_err_set(err, ST_EFORMAT, "setup: %d networks do not fit in %zu bytes", nnet, n);
        goto done;
    }
    if (!(sw->nets = calloc((size_t)nnet, sizeof *sw->nets))) {
        rc = st_err_set(err, ST_ENOMEM, "setup: out of memory for %d networks", nnet);
        goto done;
    }
    for (; sw->nnet < nnet; sw->nnet++)
        if ((rc = get_net(&c, n, &sw->nets[sw->nnet], err)) != 0) {
            sw->nnet++; /* what it holds is freed with the sweep */
            goto done;
        }
    ntrace = get_i32(&c);
    if (c.short_read || ntrace < 0 || (size_t)ntrace > (size_t)(c.end - c.p) / TRACE_MIN) {
        rc = st_err_set(err, ST_EFORMAT, "setup message of %zu bytes: malformed", n);
        goto done;
    }
    if (ntrace > 0 && !(sw->traces = calloc((size_t)ntrace, sizeof *sw->traces))) {
        rc = st_err_set(err, ST_ENOMEM, "setup: out of memory for %d traces", ntrace);
        goto done;
    }
    for (; sw->ntrace < ntrace; sw->ntrace++)
        if ((rc = get_trace(&c, n, nnet, &sw->traces[sw->ntrace], err)) != 0)
            goto done;
    if (c.short_read || c.p != c.end)
        rc = st_err_set(err, ST_EFORMAT, "setup message of %zu bytes: malformed", n);
done:
    return rc;
}

/* ------------------------------------------------------------------ points */

int ex_wire_put_points(ex_buf *out, uint64_t seq, const ex_batch *b, st_err *err)
{
    int np = b->nparam, ncols = 0, rc;
    uint32_t *cols = NULL;

    out->n = 0;
    if ((rc = ex_buf_reserve(out, 24 + (size_t)np * 12 + (size_t)b->n * (size_t)np * 8, err)) != 0)
        goto done;
    if (!(cols = malloc(((size_t)np + 1) * sizeof *cols))) {
        rc = st_err_set(err, ST_ENOMEM, "batch of %d points: out of memory", b->n);
        goto done;
    }
    /* The columns that vary within the batch. Bit patterns are compared, so that a NaN,
     * or -0 against 0, still travels exactly. */
    for (int k = 0; k < np && b->n > 0; k++) {
        int varies = 0;
        for (int i = 1; i < b->n && !varies; i++)
            varies = memcmp(&b->vals[(size_t)i * np + k], &b->vals[k], 8) != 0;
        if (varies)
            cols[ncols++] = (uint32_t)k;
    }
    put_u32(out, W_POINTS);
    put_u32(out, (uint32_t)b->n);
    put_u64(out, seq);
    put_u32(out, (uint32_t)np);
    put_u32(out, (uint32_t)ncols);
    if (b->n == 0)
        goto done;
    put(out, b->vals, (size_t)np * 8);
    put(out, cols, (size_t)ncols * 4);
    for (int i = 0; i < b->n; i++)
        for (int k = 0; k < ncols; k++)
            put_f64(out, b->vals[(size_t)i * np + cols[k]]);
done:
    free(cols);
    return rc;
}

int ex_wire_get_points(const void *p, size_t n, int nparam, uint64_t *seq, ex_batch *b, st_err *err)
{
    cursor c = {p, (const unsigned char *)p + n, 0};
    uint32_t npts, np, ncols, *cols = NULL;
    double *first = NULL;
    int rc = ST_OK;

    if (get_u32(&c) != W_POINTS) {
        rc = st_err_set(err, ST_EFORMAT, "points message of %zu bytes: not a batch", n);
        goto done;
    }
    npts = get_u32(&c);
    *seq = get_u64(&c);
    np = get_u32(&c);
    ncols = get_u32(&c);
    if (np != (uint32_t)nparam || ncols > np ||
        (npts > 0 &&
         (size_t)(c.end - c.p) != (size_t)np * 8 + (size_t)ncols * 4 + (size_t)npts * ncols * 8) ||
        (npts == 0 && c.p != c.end)) {
        rc = st_err_set(err, ST_EFORMAT,
                        "points message of %zu bytes: %u points of %u values (%u varying) do not "
                        "match it or this program's %d parameters",
                        n, npts, np, ncols, nparam);
        goto done;
    }
    if ((rc = ex_batch_reserve(b, npts ? (int)npts : 1, nparam, err)) != 0)
        goto done;
    if (npts == 0)
        goto done;
    first = malloc((size_t)np * sizeof *first);
    cols = malloc(((size_t)ncols + 1) * sizeof *cols);
    if (!first || !cols) {
        rc = st_err_set(err, ST_ENOMEM, "batch of %u points: out of memory", npts);
        goto done;
    }
    get(&c, first, (size_t)np * 8);
    for (uint32_t k = 0; k < ncols; k++) {
        cols[k] = get_u32(&c);
        if (cols[k] >= np) {
            rc = st_err_set(err, ST_EFORMAT, "points message: column %u of %u parameters", cols[k],
                            np);
            goto done;
        }
    }
    for (uint32_t i = 0; i < npts; i++) {
        double *v = ex_batch_add(b, 0, 0, first);
        for (uint32_t k = 0; k < ncols; k++)
            v[cols[k]] = get_f64(&c);
    }
done:
    free(first);
    free(cols);
    return rc;
}

/* ----------------------------------------------------------------- records */

#define DETAIL_BYTES (8 + 8 * EX_D_COUNT)

int ex_wire_put_records(ex_buf *out, uint64_t seq, double eval_s, const ex_batch *b, st_err *err)
{
    size_t size = 32;
    int rc;

    for (int i = 0; i < b->n; i++)
        size += 16 + (size_t)b->nmetric * 8 + strlen(b->recs[i].msg) +
                (size_t)b->recs[i].ndetail * DETAIL_BYTES;
    out->n = 0;
    if ((rc = ex_buf_reserve(out, size, err)) != 0)
        goto done;
    put_u32(out, W_RECORDS);
    put_u32(out, (uint32_t)b->n);
    put_u64(out, seq);
    put_f64(out, eval_s);
    put_u32(out, (uint32_t)b->nmetric);
    put_u32(out, 0);
    for (int i = 0; i < b->n; i++) {
        const ex_record *r = &b->recs[i];
        uint32_t ml = (uint32_t)strlen(r->msg);
        put_i32(out, r->status);
        put_u32(out, ml);
        put_u32(out, (uint32_t)r->ndetail);
        put_u32(out, 0);
        put(out, r->metrics, (size_t)b->nmetric * 8);
        put(out, r->msg, ml);
        for (int k = 0; k < r->ndetail; k++) {
            put_i32(out, r->detail[k].layer);
            put_i32(out, r->detail[k].phase);
            put(out, r->detail[k].v, 8 * EX_D_COUNT);
        }
    }
done:
    return rc;
}

int ex_wire_get_records(const void *p, size_t n, uint64_t seq, double *eval_s, ex_batch *b,
                        st_err *err)
{
    cursor c = {p, (const unsigned char *)p + n, 0};
    uint32_t nrec, nmetric;
    uint64_t got_seq;
    int rc = ST_OK;

    if (get_u32(&c) != W_RECORDS) {
        rc = st_err_set(err, ST_EFORMAT, "records message of %zu bytes: not records", n);
        goto done;
    }
    nrec = get_u32(&c);
    got_seq = get_u64(&c);
    *eval_s = get_f64(&c);
    nmetric = get_u32(&c);
    get_u32(&c);
    if (got_seq != seq || nrec != (uint32_t)b->n || nmetric != (uint32_t)b->nmetric) {
        rc = st_err_set(err, ST_EFORMAT,
                        "records of batch %llu (%u points, %u metrics) came for batch %llu (%d "
                        "points, %d metrics)",
                        (unsigned long long)got_seq, nrec, nmetric, (unsigned long long)seq, b->n,
                        b->nmetric);
        goto done;
    }
    for (int i = 0; i < b->n; i++) {
        ex_record *r = &b->recs[i];
        uint32_t ml, nd;
        r->status = get_i32(&c);
        ml = get_u32(&c);
        nd = get_u32(&c);
        get_u32(&c);
        get(&c, r->metrics, (size_t)nmetric * 8);
        if (ml >= EX_MSG_MAX || nd > (size_t)(c.end - c.p) / DETAIL_BYTES) {
            rc = st_err_set(err, ST_EFORMAT,
                            "records of batch %llu: point %d has a message of %u bytes and %u "
                            "detail rows",
                            (unsigned long long)seq, i, ml, nd);
            goto done;
        }
        get(&c, r->msg, ml);
        r->msg[ml] = '\0';
        free(r->detail);
        r->detail = NULL;
        r->ndetail = 0;
        if (nd > 0) {
            if (!(r->detail = malloc((size_t)nd * sizeof *r->detail))) {
                rc = st_err_set(err, ST_ENOMEM, "detail of %u rows: out of memory", nd);
                goto done;
            }
            r->ndetail = (int)nd;
            for (uint32_t k = 0; k < nd; k++) {
                r->detail[k].layer = get_i32(&c);
                r->detail[k].phase = get_i32(&c);
                get(&c, r->detail[k].v, 8 * EX_D_COUNT);
            }
        }
    }
    if (c.short_read || c.p != c.end)
        rc = st_err_set(err, ST_EFORMAT, "records of batch %llu: %zu bytes, malformed",
                        (unsigned long long)seq, n);
done:
    return rc;
}
