/*
 * bench_sparsity.c - time st_sparsity_layer over every compute layer of built-in networks
 * for one image, or st_sparsity_rows on an evenly spread fraction of the rows of each
 * tensor (-f), as a sampled run asks for them. Prints the best and the median of several
 * repetitions per network, and the mean densities so that a change of speed can be told
 * from a change of output. Measures only; correctness lives in tests/core/t_sparsity.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */

#define REPS_MAX 1000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Parse a number in [lo, hi] from text; fail with a message naming the option. */
static int parse_num(const char *opt, const char *text, double lo, double hi, double *v,
                     st_err *err)
{
    char *end;
    int rc = ST_OK;

    errno = 0;
    *v = strtod(text ? text : "", &end);
    if (!text || end == text || *end || errno || !(*v >= lo && *v <= hi))
        rc = st_err_set(err, ST_EINVAL, "%s = '%s': must be a number in [%g, %g]", opt,
                        text ? text : "", lo, hi);
    return rc;
}

/* Row r of `rows` is in the sample of fraction f iff floor((r + 1) f) > floor(r f): a
 * systematic sample, evenly spread, of round(rows f) rows. */
static void rows_sample(uint8_t *want, size_t rows, double f)
{
    size_t r;

    for (r = 0; r < rows; r++)
        want[r] = floor((double)(r + 1) * f) > floor((double)r * f);
}

/* The wanted rows of act_in and grad of every layer of net (NULL when frac is 0, which means
 * whole tensors and st_sparsity_layer), allocated once so that the timing is the model's. */
typedef struct wants {
    uint8_t **act, **grad;
    int count;
} wants;

static void wants_free(wants *w)
{
    int i;

    for (i = 0; i < w->count && w->act; i++) {
        free(w->act[i]);
        free(w->grad[i]);
    }
    free(w->act);
    free(w->grad);
    memset(w, 0, sizeof *w);
}

static int wants_make(const st_net *net, double frac, wants *w, st_err *err)
{
    const st_layer *l;
    size_t ar, gr;
    int i, rc = ST_OK;

    memset(w, 0, sizeof *w);
    if (frac <= 0)
        goto done;
    w->count = st_net_count(net);
    w->act = calloc((size_t)w->count, sizeof *w->act);
    w->grad = calloc((size_t)w->count, sizeof *w->grad);
    for (i = 0; i < w->count && w->act && w->grad; i++) {
        l = st_net_layer(net, i);
        ar = (size_t)l->in_c * l->in_h;
        gr = (size_t)l->out_c * l->out_h;
        w->act[i] = malloc(ar ? ar : 1);
        w->grad[i] = malloc(gr ? gr : 1);
        if (!w->act[i] || !w->grad[i])
            break;
        rows_sample(w->act[i], ar, frac);
        rows_sample(w->grad[i], gr, frac);
    }
    if (!w->act || !w->grad || i < w->count) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for the row sets of '%s'", st_net_name(net));
        wants_free(w);
    }
done:
    return rc;
}

/* One pass over every compute layer of net: seconds, and the summed densities. */
static int run_once(const st_net *net, const st_sparsity_cfg *cfg, const wants *w,
                    st_layer_masks *m, double *secs, double *act, double *grad, int *layers,
                    st_err *err)
{
    double t0 = now_s();
    int i, rc = ST_OK;

    *act = *grad = 0.0;
    *layers = 0;
    for (i = 0; i < st_net_count(net) && !rc; i++) {
        if (!st_kind_is_compute(st_net_layer(net, i)->kind))
            continue;
        if (w->act)
            rc = st_sparsity_rows(net, cfg, i, 0, w->act[i], w->grad[i], m, err);
        else
            rc = st_sparsity_layer(net, cfg, i, 0, m, err);
        if (!rc) {
            *act += m->act_density;
            *grad += m->grad_density;
            ++*layers;
        }
    }
    *secs = now_s() - t0;
    return rc;
}

static int bench_net(const char *name, const st_sparsity_cfg *cfg, double frac, int reps,
                     st_err *err)
{
    static double t[REPS_MAX];
    st_net *net = NULL;
    st_layer_masks m;
    wants w = {0};
    char rows[32];
    double act = 0, grad = 0;
    int r, layers = 0, rc;

    st_layer_masks_init(&m);
    rc = st_net_builtin(name, &net, err);
    if (!rc)
        rc = wants_make(net, frac, &w, err);
    for (r = 0; r < reps && !rc; r++)
        rc = run_once(net, cfg, &w, &m, &t[r], &act, &grad, &layers, err);
    if (!rc) {
        qsort(t, (size_t)reps, sizeof t[0], cmp_double);
        if (frac > 0)
            snprintf(rows, sizeof rows, "%g", frac);
        printf("%-14s %3d layers  rows %-5s  best %8.4f s  median %8.4f s  mean act %.4f  "
               "mean grad %.4f\n",
               name, layers, frac > 0 ? rows : "all", t[0], t[reps / 2], act / layers,
               grad / layers);
    }
    wants_free(&w);
    st_layer_masks_fini(&m);
    st_net_destroy(&net);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_sparsity [-r reps] [-p rate] [-f fraction] [network ...]\n"
            "  Time st_sparsity_layer over every compute layer of each built-in network\n"
            "  (default: resnet50 alexnet), image 0, default configuration but p.\n"
            "  -r reps      repetitions, best and median reported (default 5, max %d)\n"
            "  -p rate      pruning rate p (default 0.9)\n"
            "  -f fraction  time st_sparsity_rows instead, asking for an evenly spread\n"
            "               fraction of the rows of act_in and of dZ (default 0: whole\n"
            "               tensors; a sampled run asks for a few percent)\n"
            "  --version    the version and git revision\n",
            REPS_MAX);
}

int main(int argc, char **argv)
{
    static const char *const defaults[] = {"resnet50", "alexnet"};
    st_sparsity_cfg cfg;
    st_err err;
    double v, frac = 0.0;
    int i, reps = 5, first = 1, rc = ST_OK;

    st_err_clear(&err);
    st_sparsity_cfg_init(&cfg);
    cfg.prune.p = 0.9;
    for (; first < argc && argv[first][0] == '-' && !rc; first++) {
        if (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[first], "--version")) {
            printf("bench_sparsity %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
            return 0;
        } else if (!strcmp(argv[first], "-r")) {
            rc = parse_num("-r", argv[first + 1], 1, REPS_MAX, &v, &err);
            reps = (int)v;
            first++;
        } else if (!strcmp(argv[first], "-p")) {
            rc = parse_num("-p", argv[first + 1], 0, 0.999999, &v, &err);
            cfg.prune.p = v;
            first++;
        } else if (!strcmp(argv[first], "-f")) {
            rc = parse_num("-f", argv[first + 1], 0, 1, &v, &err);
            frac = v;
            first++;
        } else {
            rc = st_err_set(&err, ST_EINVAL, "unknown option '%s'", argv[first]);
        }
    }
    if (first == argc)
        for (i = 0; i < 2 && !rc; i++)
            rc = bench_net(defaults[i], &cfg, frac, reps, &err);
    for (i = first; i < argc && !rc; i++)
        rc = bench_net(argv[i], &cfg, frac, reps, &err);
    if (rc)
        fprintf(stderr, "bench_sparsity: %s (-h for help)\n", err.msg);
    return rc ? 2 : 0;
}
