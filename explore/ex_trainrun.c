/*
 * ex_trainrun.c - the trainings a sweep asks for (its `train` field), before its points
 * are evaluated: the distinct training settings of its points, each trained once by
 * sttrain (spread over the ranks by the farm), kept in a cache beside the result file
 * (<output>.train/<key>.h5, so that a resume, or a run with --force, trains only what is
 * missing), and read back as traces the points replay. The setting's key and running the
 * trainer are ex_train.c's.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ex.h"

#define TRAIN_CANDIDATES_MAX 10000000 /* a sweep with training enumerates its points first */

typedef struct setting {
    uint64_t key;
    int net;
    double *vals; /* of the first point that has it */
} setting;

typedef struct prep {
    ex_sweep *sw;
    const ex_ptab *t;
    setting *set;
    int n, cap;
    ex_trainjob *jobs;
    int njob;
    char dir[4096];
} prep;

static void prep_fini(prep *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->set[i].vals);
    free(p->set);
    ex_trainjobs_free(p->jobs, p->njob);
}

/* Walk every point of the sweep and keep each distinct training setting once. */
static int settings_find(prep *p, const ex_hooks *hooks, st_err *err)
{
    ex_plan plan;
    ex_batch b;
    uint64_t first, span;
    int rc;

    ex_batch_init(&b);
    if ((rc = ex_plan_init(&plan, p->sw, p->t, hooks, err)) != 0)
        goto done;
    if (plan.total > TRAIN_CANDIDATES_MAX) {
        rc = st_err_set(err, ST_EINVAL,
                        "train: the sweep's %llu candidates are more than the %d a sweep with "
                        "training may have (its settings are found by enumerating them)",
                        (unsigned long long)plan.total, TRAIN_CANDIDATES_MAX);
        goto done;
    }
    if ((rc = ex_batch_reserve(&b, 4096, p->t->n, err)) != 0)
        goto done;
    while ((rc = ex_plan_next(&plan, &b, 4096, &first, &span, err)) == 0 && span > 0) {
        for (int i = 0; i < b.n; i++) {
            const double *v = b.recs[i].vals;
            uint64_t key = ex_train_key(p->sw, p->t, v);
            int k = 0;
            while (k < p->n && p->set[k].key != key)
                k++;
            if (k < p->n)
                continue;
            if (p->n == p->cap) {
                int cap = p->cap ? 2 * p->cap : 16;
                setting *grown = realloc(p->set, (size_t)cap * sizeof *grown);
                if (!grown) {
                    rc = st_err_set(err, ST_ENOMEM, "train: out of memory");
                    goto done;
                }
                p->set = grown;
                p->cap = cap;
            }
            if (!(p->set[p->n].vals = malloc((size_t)p->t->n * sizeof *v))) {
                rc = st_err_set(err, ST_ENOMEM, "train: out of memory");
                goto done;
            }
            memcpy(p->set[p->n].vals, v, (size_t)p->t->n * sizeof *v);
            p->set[p->n].key = key;
            p->set[p->n].net = (int)v[p->t->net_row];
            p->n++;
        }
    }
done:
    ex_plan_fini(&plan);
    ex_batch_fini(&b);
    return rc;
}

/* Write the network of spec as a Lua file that returns st.network{...}: how sttrain reads
 * a network that is not built in. */
static int net_lua_write(const ex_netspec *s, const char *path, st_err *err)
{
    static const char *const fn[] = {
        [ST_CONV] = "conv", [ST_FC] = "fc", [ST_MAXPOOL] = "maxpool", [ST_AVGPOOL] = "avgpool",
        [ST_RELU] = "relu", [ST_BN] = "bn", [ST_ADD] = "add",         [ST_GAP] = "gap"};
    FILE *f = fopen(path, "w");
    int rc = ST_OK;

    if (!f)
        return st_err_set(err, ST_EIO, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "return st.network {\n    name = \"%s\", input = {%d, %d, %d},\n", s->name, s->c,
            s->h, s->w);
    for (int i = 0; i < s->n; i++) {
        const ex_netop *op = &s->ops[i];
        fprintf(f, "    st.%s{name = \"%s\"", fn[op->kind], op->name);
        if (op->kind == ST_CONV || op->kind == ST_FC)
            fprintf(f, ", out = %d", op->out);
        if (op->kind == ST_CONV || op->kind == ST_MAXPOOL || op->kind == ST_AVGPOOL)
            fprintf(f, ", k = %d, stride = %d, pad = %d", op->k, op->stride, op->pad);
        if (op->kind == ST_CONV)
            fprintf(f, ", groups = %d", op->groups);
        if (op->src[0] != ST_PREV) {
            fprintf(f, ", src = {");
            for (int q = 0; q < 2 && op->src[q] != ST_PREV; q++)
                fprintf(f, "%s\"%s\"", q ? ", " : "",
                        op->src[q] < 0 ? "input" : s->ops[op->src[q]].name);
            fprintf(f, "}");
        }
        fprintf(f, "},\n");
    }
    fprintf(f, "}\n");
    if (ferror(f) | (fclose(f) != 0))
        rc = st_err_set(err, ST_EIO, "cannot write %s", path);
    return rc;
}

/* Why the trainer cannot take network net (into why), or 0 when it can. */
static int untrainable(const ex_netspec *net, char *why, size_t size)
{
    if (!net->csv)
        return 0;
    snprintf(why, size,
             "train: network '%s' is a layer list: sttrain trains built-in networks and "
             "st.network{...} ones",
             net->name);
    return 1;
}

/* The trainer's command line for setting s: sttrain's options and the pruning parameters,
 * tracing the last whole batch into path. No job for a network the trainer cannot take. */
static int job_make(prep *p, const setting *s, const char *trainer, const char *path, st_err *err)
{
    const ex_train *tr = &p->sw->train;
    const ex_netspec *net = &p->sw->nets[s->net];
    char a[16][64], netpath[4200], log[4200], why[256];
    const char *argv[32];
    int argc = 0, k = 0;
    double *v = s->vals;

    snprintf(log, sizeof log, "%s/%016llx.log", p->dir, (unsigned long long)s->key);
    if (untrainable(net, why, sizeof why))
        return ST_OK;
    if (net->builtin)
        snprintf(netpath, sizeof netpath, "%s", net->name);
    else {
        int rc;
        snprintf(netpath, sizeof netpath, "%s/%016llx.net.lua", p->dir, (unsigned long long)s->key);
        if ((rc = net_lua_write(net, netpath, err)) != 0)
            return rc;
    }
#define ARG(...) (snprintf(a[k], sizeof a[k], __VA_ARGS__), argv[argc++] = a[k++])
    argv[argc++] = trainer;
    argv[argc++] = netpath;
    argv[argc++] = "--epochs";
    ARG("%ld", tr->epochs);
    argv[argc++] = "--batch";
    ARG("%d", tr->batch);
    argv[argc++] = "--lr";
    ARG("%.17g", tr->lr);
    argv[argc++] = "--momentum";
    ARG("%.17g", tr->momentum);
    argv[argc++] = "--weight-decay";
    ARG("%.17g", tr->weight_decay);
    argv[argc++] = "--seed";
    ARG("%llu", (unsigned long long)tr->seed);
    argv[argc++] = "--train-images";
    ARG("%ld", tr->train_images);
    argv[argc++] = "--test-images";
    ARG("%ld", tr->test_images);
    argv[argc++] = "--trace";
    argv[argc++] = path;
    argv[argc++] = "--trace-iters";
    ARG("%ld", ex_train_iter(tr));
    argv[argc++] = "--quiet";
    ARG("p=%.17g", v[ex_ptab_find(p->t, "p")]);
    ARG("prune_sigma_scale=%.17g", v[ex_ptab_find(p->t, "prune_sigma_scale")]);
    ARG("prune_skip_zeros=%s", v[ex_ptab_find(p->t, "prune_skip_zeros")] != 0 ? "true" : "false");
    ARG("prune_first=%s", v[ex_ptab_find(p->t, "prune_first")] != 0 ? "true" : "false");
    ARG("prune_fc=%s", v[ex_ptab_find(p->t, "prune_fc")] != 0 ? "true" : "false");
#undef ARG
    return ex_trainjob_args(&p->jobs[p->njob++], log, argc, argv, err);
}

/* The last line of the trainer's log, without "sttrain: ". */
static void log_tail(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    char line[1024];

    snprintf(buf, size, "the trainer left no message in %.900s", path);
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = '\0';
        if (n > 0)
            snprintf(buf, size, "%s", strncmp(line, "sttrain: ", 9) ? line : line + 9);
    }
    fclose(f);
}

/* Name the trace of each setting of p (found by settings_find) before it is trained: a
 * trace that fails its points until the training replaces it, so that the plan can point
 * every point at its setting's (and give it its id) from the start. */
static int stubs_add(prep *p, ex_ptab *t, st_err *err)
{
    ex_sweep *sw = p->sw;
    ex_tracemem **traces;
    const char **names = NULL;
    uint64_t *fps = NULL;
    int rc = ST_OK;

    traces = realloc(sw->traces, ((size_t)sw->ntrace + (size_t)p->n + 1) * sizeof *traces);
    if (traces)
        sw->traces = traces;
    names = calloc((size_t)sw->ntrace + (size_t)p->n + 2, sizeof *names);
    fps = calloc((size_t)sw->ntrace + (size_t)p->n + 2, sizeof *fps);
    if (!traces || !names || !fps) {
        rc = st_err_set(err, ST_ENOMEM, "train: out of memory");
        goto done;
    }
    for (int i = 0; i < p->n; i++) {
        ex_tracemem *tm = NULL;
        char label[40];
        snprintf(label, sizeof label, "train-%016llx", (unsigned long long)p->set[i].key);
        if ((rc = ex_tracemem_create(label, 0, &tm, err)) != 0)
            goto done;
        if (!(tm->fail = strdup("training not run"))) {
            ex_tracemem_destroy(&tm);
            rc = st_err_set(err, ST_ENOMEM, "train: out of memory");
            goto done;
        }
        tm->key = p->set[i].key;
        tm->net = p->set[i].net;
        sw->traces[sw->ntrace++] = tm;
    }
    names[0] = "none";
    for (int i = 0; i < sw->ntrace; i++) {
        names[i + 1] = sw->traces[i]->path;
        /* A training's trace stands in ids for its setting, which made it. */
        fps[i + 1] = sw->traces[i]->key ? sw->traces[i]->key : sw->traces[i]->fp;
    }
    if ((rc = ex_ptab_set_labels(t, t->trace_row, names, fps, sw->ntrace + 1, err)) != 0)
        goto done;
    sw->train.ready = 1;
done:
    free(names);
    free(fps);
    return rc;
}

int ex_train_plan(ex_sweep *sw, ex_ptab *t, const ex_hooks *hooks, int *settings, st_err *err)
{
    prep p;
    int rc = ST_OK;

    memset(&p, 0, sizeof p);
    p.sw = sw;
    p.t = t;
    if (!sw->train.ready && (rc = settings_find(&p, hooks, err)) == 0)
        rc = stubs_add(&p, t, err);
    if (settings)
        *settings = 0;
    for (int i = 0; settings && i < sw->ntrace; i++)
        *settings += sw->traces[i]->key != 0;
    prep_fini(&p);
    return rc;
}

int ex_train_prepare(ex_sweep *sw, ex_ptab *t, const ex_hooks *hooks, const char *out,
                     const char *trainer, const ex_farm *farm, FILE *log, const void *stop,
                     st_err *err)
{
    prep p;
    ex_nets ns;
    char path[4200], why[1024];
    int bad_net, bad_op, rc, cached = 0;

    memset(&p, 0, sizeof p);
    memset(&ns, 0, sizeof ns);
    p.sw = sw;
    p.t = t;
    if ((rc = settings_find(&p, hooks, err)) != 0 ||
        (!sw->train.ready && (rc = stubs_add(&p, t, err)) != 0))
        goto done;
    snprintf(p.dir, sizeof p.dir, "%s.train", out);
    if (mkdir(p.dir, 0777) != 0 && errno != EEXIST) {
        rc = st_err_set(err, ST_EINVAL, "cannot make %s: %s", p.dir, strerror(errno));
        goto done;
    }
    if (!(p.jobs = calloc((size_t)p.n + 1, sizeof *p.jobs))) {
        rc = st_err_set(err, ST_ENOMEM, "train: out of memory");
        goto done;
    }
    for (int i = 0; i < p.n; i++) {
        snprintf(path, sizeof path, "%s/%016llx.h5", p.dir, (unsigned long long)p.set[i].key);
        if (access(path, F_OK) == 0)
            cached++;
        else if ((rc = job_make(&p, &p.set[i], trainer, path, err)) != 0)
            goto done;
    }
    if (log)
        fprintf(log, "stexplore: %d training settings: %d in %s, %d to train\n", p.n, cached, p.dir,
                p.njob);
    if (p.njob > 0) {
        rc = farm && farm->train ? farm->train(farm->ctx, p.jobs, p.njob, log, stop, err)
                                 : ex_trainjobs_run_share(p.jobs, p.njob, 0, 1, log, stop, err);
        if (rc != 0)
            goto done;
    }

    /* Read every setting's trace into its place; a setting whose training failed fails its
     * points with the trainer's message. */
    if ((rc = ex_nets_build(&ns, sw->nets, sw->nnet, &bad_net, &bad_op, err)) != 0)
        goto done;
    for (int i = 0; i < p.n; i++) {
        ex_tracemem *tm = NULL, **slot = NULL;
        char logp[4200], msg[1100];
        for (int k = 0; k < sw->ntrace && !slot; k++)
            if (sw->traces[k]->key == p.set[i].key)
                slot = &sw->traces[k];
        snprintf(path, sizeof path, "%s/%016llx.h5", p.dir, (unsigned long long)p.set[i].key);
        snprintf(logp, sizeof logp, "%s/%016llx.log", p.dir, (unsigned long long)p.set[i].key);
        if (!slot) { /* cannot be: every setting has its stub */
            rc = st_err_set(err, ST_EINVAL, "train: no trace for setting %016llx",
                            (unsigned long long)p.set[i].key);
            goto done;
        }
        if (access(path, F_OK) != 0) {
            char *fail;
            if (!untrainable(&sw->nets[p.set[i].net], why, sizeof why))
                log_tail(logp, why, sizeof why);
            snprintf(msg, sizeof msg, "training failed: %s", why);
            if (!(fail = strdup(msg))) {
                rc = st_err_set(err, ST_ENOMEM, "train: out of memory");
                goto done;
            }
            free((*slot)->fail);
            (*slot)->fail = fail;
            continue;
        }
        if ((rc = ex_trace_load(path, ns.net[p.set[i].net], -1, &tm, err)) != 0)
            goto done;
        /* The loaded masks take the stub's place, its label and key. */
        free(tm->path);
        tm->path = (*slot)->path;
        (*slot)->path = NULL;
        tm->key = p.set[i].key;
        tm->net = p.set[i].net;
        ex_tracemem_destroy(slot);
        *slot = tm;
    }
done:
    ex_nets_fini(&ns);
    prep_fini(&p);
    return rc;
}
