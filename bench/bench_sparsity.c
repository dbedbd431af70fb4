/*
 * bench_sparsity.c - time st_sparsity_layer over every compute layer of built-in networks
 * for one image. Prints the best and the median of several repetitions per network, and
 * the mean densities so that a change of speed can be told from a change of output.
 * Measures only; correctness lives in tests/core/t_sparsity.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st.h"

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

/* One pass over every compute layer of net: seconds, and the summed densities. */
static int run_once(const st_net *net, const st_sparsity_cfg *cfg, st_layer_masks *m, double *secs,
                    double *act, double *grad, int *layers, st_err *err)
{
    double t0 = now_s();
    int i, rc = ST_OK;

    *act = *grad = 0.0;
    *layers = 0;
    for (i = 0; i < st_net_count(net) && !rc; i++) {
        if (!st_kind_is_compute(st_net_layer(net, i)->kind))
            continue;
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

static int bench_net(const char *name, const st_sparsity_cfg *cfg, int reps, st_err *err)
{
    static double t[REPS_MAX];
    st_net *net = NULL;
    st_layer_masks m;
    double act = 0, grad = 0;
    int r, layers = 0, rc;

    st_layer_masks_init(&m);
    rc = st_net_builtin(name, &net, err);
    for (r = 0; r < reps && !rc; r++)
        rc = run_once(net, cfg, &m, &t[r], &act, &grad, &layers, err);
    if (!rc) {
        qsort(t, (size_t)reps, sizeof t[0], cmp_double);
        printf("%-14s %3d layers  best %8.4f s  median %8.4f s  mean act %.4f  mean grad %.4f\n",
               name, layers, t[0], t[reps / 2], act / layers, grad / layers);
    }
    st_layer_masks_fini(&m);
    st_net_destroy(&net);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_sparsity [-r reps] [-p rate] [network ...]\n"
            "  Time st_sparsity_layer over every compute layer of each built-in network\n"
            "  (default: resnet50 alexnet), image 0, default configuration but p.\n"
            "  -r reps  repetitions, best and median reported (default 5, max %d)\n"
            "  -p rate  pruning rate p (default 0.9)\n",
            REPS_MAX);
}

int main(int argc, char **argv)
{
    static const char *const defaults[] = {"resnet50", "alexnet"};
    st_sparsity_cfg cfg;
    st_err err;
    double v;
    int i, reps = 5, first = 1, rc = ST_OK;

    st_err_clear(&err);
    st_sparsity_cfg_init(&cfg);
    cfg.prune.p = 0.9;
    for (; first < argc && argv[first][0] == '-' && !rc; first++) {
        if (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[first], "-r")) {
            rc = parse_num("-r", argv[first + 1], 1, REPS_MAX, &v, &err);
            reps = (int)v;
            first++;
        } else if (!strcmp(argv[first], "-p")) {
            rc = parse_num("-p", argv[first + 1], 0, 0.999999, &v, &err);
            cfg.prune.p = v;
            first++;
        } else {
            rc = st_err_set(&err, ST_EINVAL, "unknown option '%s'", argv[first]);
        }
    }
    if (first == argc)
        for (i = 0; i < 2 && !rc; i++)
            rc = bench_net(defaults[i], &cfg, reps, &err);
    for (i = first; i < argc && !rc; i++)
        rc = bench_net(argv[i], &cfg, reps, &err);
    if (rc)
        fprintf(stderr, "bench_sparsity: %s (-h for help)\n", err.msg);
    return rc ? 2 : 0;
}
