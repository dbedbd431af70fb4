/*
 * bench_front.c - time the analysis library on one core: the Pareto front of a million
 * random points in 2, 3 and 4 objectives (uniform, and on a surface where every point is
 * on the front), non-dominated ranks, and the hypervolume of large 2-D and 3-D fronts.
 * Prints the best and the median of several repetitions. Measures only; correctness
 * lives in tests/analysis.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "an.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */
#include "st.h"

#define REPS_MAX 100
#define SEED     20240601u

typedef enum what { FRONT, RANKS, HV } what;

/* Point sets: uniform in [0, 1)^k, or on the positive part of the unit sphere (every
 * point non-dominated: the worst case for the size of the front). */
typedef enum shape { UNIFORM, SPHERE } shape;

static const struct bench_case {
    what op;
    int k;
    shape sh;
    double scale; /* points = scale * n */
} cases[] = {
    {FRONT, 2, UNIFORM, 1.0}, {FRONT, 3, UNIFORM, 1.0}, {FRONT, 2, SPHERE, 1.0},
    {FRONT, 3, SPHERE, 1.0},  {FRONT, 4, UNIFORM, 1.0}, {RANKS, 2, UNIFORM, 1.0},
    {RANKS, 3, UNIFORM, 1.0}, {RANKS, 4, UNIFORM, 0.1}, {HV, 2, SPHERE, 1.0},
    {HV, 3, SPHERE, 1.0},     {HV, 3, UNIFORM, 1.0},
};

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

/* Fill x with n points of k objectives of the given shape, from the core's generator. */
static void fill(double *x, size_t n, int k, shape sh)
{
    size_t i;
    int j;
    double norm;

    for (i = 0; i < n; i++) {
        double *r = x + i * (size_t)k;
        for (j = 0, norm = 0.0; j < k; j++) {
            r[j] = sh == SPHERE ? fabs(st_rng_normal(SEED, i, (uint64_t)j)) + 1e-300
                                : st_rng_uniform(SEED, i, (uint64_t)j);
            norm += r[j] * r[j];
        }
        if (sh == SPHERE)
            for (j = 0; j < k; j++)
                r[j] /= sqrt(norm);
    }
}

/* One case, reps times: prints the best and the median time and what came out. */
static int run_case(const struct bench_case *c, size_t n0, int reps, st_err *err)
{
    static double t[REPS_MAX];
    static const double ref[] = {1.0, 1.0, 1.0};
    static const char *const op_name[] = {"front", "ranks", "hypervolume"};
    size_t n = (size_t)(c->scale * (double)n0), count = 0, *out = NULL;
    double *x = NULL, hv = 0.0, t0;
    an_points p;
    int r, rc = ST_OK;

    x = malloc((n ? n : 1) * (size_t)c->k * sizeof *x);
    out = malloc((n ? n : 1) * sizeof *out);
    if (!x || !out) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory for %zu points", n);
        goto done;
    }
    fill(x, n, c->k, c->sh);
    p = (an_points){x, n, c->k, NULL, NULL};
    for (r = 0; r < reps && !rc; r++) {
        t0 = now_s();
        if (c->op == FRONT)
            rc = an_front(&p, out, &count, err);
        else if (c->op == RANKS)
            rc = an_ranks(&p, out, &count, err);
        else
            rc = an_hypervolume(&p, ref, &hv, err);
        t[r] = now_s() - t0;
    }
    if (!rc) {
        qsort(t, (size_t)reps, sizeof t[0], cmp_double);
        printf("%-11s k = %d  %-7s %8zu points  best %7.3f s  median %7.3f s  ", op_name[c->op],
               c->k, c->sh == SPHERE ? "sphere" : "uniform", n, t[0], t[reps / 2]);
        if (c->op == FRONT)
            printf("front %zu\n", count);
        else if (c->op == RANKS)
            printf("%zu ranks\n", count);
        else
            printf("volume %.12f\n", hv);
    }
done:
    free(x);
    free(out);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_front [-n points] [-r reps]\n"
            "  Time an_front, an_ranks and an_hypervolume on random point sets, one core.\n"
            "  -n points  points per set (default 1000000; ranks in 3-D use a tenth)\n"
            "  -r reps    repetitions, best and median reported (default 3, max %d)\n"
            "  --version  the version and git revision\n",
            REPS_MAX);
}

int main(int argc, char **argv)
{
    st_err err;
    double v;
    size_t i, n = 1000000;
    int a, reps = 3, rc = ST_OK;

    st_err_clear(&err);
    for (a = 1; a < argc && !rc; a++) {
        if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[a], "--version")) {
            printf("bench_front %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
            return 0;
        } else if (!strcmp(argv[a], "-n")) {
            rc = parse_num("-n", argv[a + 1], 1, 1e8, &v, &err);
            n = (size_t)v;
            a++;
        } else if (!strcmp(argv[a], "-r")) {
            rc = parse_num("-r", argv[a + 1], 1, REPS_MAX, &v, &err);
            reps = (int)v;
            a++;
        } else {
            rc = st_err_set(&err, ST_EINVAL, "unknown option '%s'", argv[a]);
        }
    }
    for (i = 0; i < sizeof cases / sizeof cases[0] && !rc; i++)
        rc = run_case(&cases[i], n, reps, &err);
    if (rc)
        fprintf(stderr, "bench_front: %s (-h for help)\n", err.msg);
    return rc ? 2 : 0;
}
