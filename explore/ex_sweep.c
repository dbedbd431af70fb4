/*
 * ex_sweep.c - the resolved sweep as plain data, and its canonical description: the text
 * that provenance records and that a resume compares, one fact per line. Reading a sweep
 * out of a Lua script is ex_script.c's business.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

void ex_sweep_init(ex_sweep *sw)
{
    memset(sw, 0, sizeof *sw);
    ex_space_init(&sw->space);
}

void ex_sweep_fini(ex_sweep *sw)
{
    if (!sw)
        return;
    for (int i = 0; i < sw->nnet; i++)
        ex_netspec_fini(&sw->nets[i]);
    free(sw->nets);
    for (int i = 0; i < sw->ntrace; i++)
        ex_tracemem_destroy(&sw->traces[i]);
    free(sw->traces);
    ex_space_fini(&sw->space);
    free(sw->base);
    free(sw->role);
    free(sw->deps);
    memset(sw, 0, sizeof *sw);
}

const char *ex_role_name(ex_role r)
{
    static const char *const names[] = {"default", "fixed", "swept", "derived"};
    return (unsigned)r < 4 ? names[r] : "unknown";
}

/* A growing string; on allocation failure it stops growing and remembers it. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (b->failed)
        return;
    va_start(ap, fmt);
    w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if (b->n + (size_t)w + 1 > b->cap) {
        size_t cap = 2 * (b->n + (size_t)w + 1);
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)w;
}

/* Lists longer than this are described by their ends, length and an exact hash. */
#define LIST_SHOWN 24

static void describe_dim(sbuf *b, const ex_ptab *t, const ex_dim *d)
{
    static const char *const kinds[] = {"list", "uniform", "loguniform", "intuniform"};
    char v[48], w[48];

    if (d->kind != EX_DOM_LIST) {
        ex_ptab_format(t, d->param, d->lo, v, sizeof v);
        ex_ptab_format(t, d->param, d->hi, w, sizeof w);
        sb_put(b, "%s [%s, %s]", kinds[d->kind], v, w);
        return;
    }
    sb_put(b, "%llu values:", (unsigned long long)d->n);
    for (uint64_t k = 0; k < d->n; k++) {
        if (d->n > LIST_SHOWN && k == LIST_SHOWN / 2) {
            uint64_t h = ex_siphash(0, 0, d->v, d->n * sizeof *d->v);
            sb_put(b, " ... (exact hash %016llx)", (unsigned long long)h);
            k = d->n - LIST_SHOWN / 2;
        }
        ex_ptab_format(t, d->param, d->v[k], v, sizeof v);
        sb_put(b, "%s %s", k ? "," : "", v);
    }
}

int ex_sweep_add_net(ex_sweep *sw, const ex_netspec *spec, int *index, st_err *err)
{
    ex_netspec *grown, *s;
    int rc = ST_OK;

    for (*index = 0; *index < sw->nnet; ++*index) {
        const ex_netspec *o = &sw->nets[*index];
        if (strcmp(o->name, spec->name) != 0)
            continue;
        /* A built-in named twice is one network; anything else would give two columns
         * values of the same name. */
        if (o->builtin && spec->builtin)
            goto done;
        rc =
            st_err_set(err, ST_EINVAL,
                       "network '%s' is listed twice (or two networks have that name)", spec->name);
        goto done;
    }
    if (!(grown = realloc(sw->nets, ((size_t)sw->nnet + 1) * sizeof *grown))) {
        rc = st_err_set(err, ST_ENOMEM, "network '%s': out of memory", spec->name);
        goto done;
    }
    sw->nets = grown;
    s = &sw->nets[sw->nnet];
    ex_netspec_init(s);
    snprintf(s->name, sizeof s->name, "%s", spec->name);
    s->builtin = spec->builtin;
    s->c = spec->c, s->h = spec->h, s->w = spec->w;
    for (int i = 0; rc == ST_OK && i < spec->n; i++)
        rc = ex_netspec_push(s, &spec->ops[i], err);
    if (rc == ST_OK && spec->csv)
        rc = ex_netspec_set_csv(s, spec->csv_path, spec->csv, spec->csv_len, err);
    if (rc != ST_OK) {
        ex_netspec_fini(s);
        goto done;
    }
    *index = sw->nnet++;
done:
    return rc;
}

char *ex_sweep_describe(const ex_sweep *sw, const ex_ptab *t)
{
    static const char *const samplers[] = {"grid", "random", "lhs"};
    sbuf b = {NULL, 0, 0, 0};
    char v[48];

    sb_put(&b, "name: %s\n", sw->name);
    for (int i = 0; i < sw->nnet; i++) {
        const ex_netspec *n = &sw->nets[i];
        sb_put(&b, "network: %s %s (fingerprint %016llx)\n", ex_netspec_source(n), n->name,
               (unsigned long long)ex_ptab_label_fp(t, t->net_row, i));
        if (n->csv)
            sb_put(&b, "layer list: %s\n", n->csv_path);
    }
    /* A trace's contents, not only its name: a resume refuses a changed file. */
    if (sw->train.on) {
        char lr[32], mom[32], wd[32];
        ex_real_text(sw->train.lr, lr, sizeof lr);
        ex_real_text(sw->train.momentum, mom, sizeof mom);
        ex_real_text(sw->train.weight_decay, wd, sizeof wd);
        sb_put(&b,
               "train: epochs %ld, batch %d, lr %s, momentum %s, weight_decay %s, seed %llu, "
               "train_images %ld, test_images %ld\n",
               sw->train.epochs, sw->train.batch, lr, mom, wd, (unsigned long long)sw->train.seed,
               sw->train.train_images, sw->train.test_images);
    }
    for (int i = 0; i < sw->ntrace; i++) {
        const ex_tracemem *m = sw->traces[i];
        if (m->key) /* a training's: the train line and the points say what made it */
            continue;
        sb_put(&b, "trace %s: %llu bytes, siphash %016llx, network %s, %s, %d images\n", m->path,
               (unsigned long long)m->bytes, (unsigned long long)m->fp, m->net_name, m->iter,
               m->images);
    }
    if (sw->space.sampler == EX_GRID)
        sb_put(&b, "sample: grid\n");
    else
        sb_put(&b, "sample: %s, count %llu, seed %llu\n", samplers[sw->space.sampler],
               (unsigned long long)sw->space.count, (unsigned long long)sw->space.seed);
    sb_put(&b, "seed: %llu, %s\n", (unsigned long long)sw->seed,
           sw->seed_given    ? "parameter seed set by the script"
           : sw->common_seed ? "common to every point"
                             : "per point, from the sweep seed and the point id");
    sb_put(&b, "eval: %s\n", sw->eval == EX_EVAL_SIM ? "sim" : "none");
    sb_put(&b, "detail: %s\n", sw->detail ? "yes" : "no");
    sb_put(&b, "where: %s\n", sw->has_where ? "yes" : "no");
    sb_put(&b, "keep: %s\n", sw->has_keep ? "yes" : "no");
    if (sw->deps)
        sb_put(&b, "%s", sw->deps);
    for (int i = 0; i < t->n; i++) {
        if (sw->role[i] == EX_ROLE_DEFAULT)
            continue;
        sb_put(&b, "param %s: %s", t->rows[i].name, ex_role_name((ex_role)sw->role[i]));
        if (sw->role[i] == EX_ROLE_FIXED) {
            ex_ptab_format(t, i, sw->base[i], v, sizeof v);
            sb_put(&b, " %s", v);
        }
        for (int d = 0; d < sw->space.ndim; d++)
            if (sw->space.dims[d].param == i) {
                sb_put(&b, " ");
                describe_dim(&b, t, &sw->space.dims[d]);
            }
        sb_put(&b, "\n");
    }
    if (b.failed) {
        free(b.s);
        b.s = NULL;
    }
    return b.s;
}
