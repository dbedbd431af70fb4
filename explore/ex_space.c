/*
 * ex_space.c - design spaces: the swept dimensions, the number of candidate points, and
 * candidate i as a pure function of i (mixed-radix digits for a grid, counter-based
 * random numbers for the samplers), so a space of 10^12 points is never materialised.
 * Derived parameters, constraints and ids are the plan's business (ex_plan.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

void ex_space_init(ex_space *s)
{
    memset(s, 0, sizeof *s);
}

void ex_space_fini(ex_space *s)
{
    if (!s)
        return;
    for (int d = 0; d < s->ndim; d++)
        free(s->dims[d].v);
    free(s->dims);
    memset(s, 0, sizeof *s);
}

int ex_space_add(ex_space *s, ex_dim *dim, st_err *err)
{
    ex_dim *grown = realloc(s->dims, (size_t)(s->ndim + 1) * sizeof *grown);
    int rc = ST_OK;

    if (!grown) {
        free(dim->v);
        rc = st_err_set(err, ST_ENOMEM, "design space: out of memory");
        goto done;
    }
    s->dims = grown;
    s->dims[s->ndim++] = *dim;
done:
    dim->v = NULL;
    return rc;
}

int ex_space_count(const ex_space *s, uint64_t *count, st_err *err)
{
    uint64_t total = 1;
    int rc = ST_OK;

    *count = 0;
    if (s->sampler != EX_GRID) {
        if (s->count == 0 || s->count > EX_SPACE_MAX)
            rc = st_err_set(err, ST_EINVAL, "count = %llu: must be in [1, %llu]",
                            (unsigned long long)s->count, (unsigned long long)EX_SPACE_MAX);
        else
            *count = s->count;
        goto done;
    }
    for (int d = 0; d < s->ndim; d++) {
        const ex_dim *dim = &s->dims[d];
        if (dim->kind != EX_DOM_LIST) {
            rc = st_err_set(err, ST_EINVAL,
                            "a continuous range has no grid: draw its points with "
                            "sample = st.random{...} or st.lhs{...}");
            goto done;
        }
        if (dim->n == 0) {
            rc = st_err_set(err, ST_EINVAL, "the space is empty (a parameter has no values)");
            goto done;
        }
        if (total > EX_SPACE_MAX / dim->n) {
            rc = st_err_set(err, ST_EINVAL, "the grid has more than %llu points",
                            (unsigned long long)EX_SPACE_MAX);
            goto done;
        }
        total *= dim->n;
    }
    *count = total;
done:
    return rc;
}

/* Map u in [0, 1) into a dimension's domain. */
static double dom_value(const ex_dim *dim, double u)
{
    double v = 0;

    switch (dim->kind) {
    case EX_DOM_LIST: {
        uint64_t k = (uint64_t)(u * (double)dim->n);
        v = dim->v[k < dim->n ? k : dim->n - 1];
        break;
    }
    case EX_DOM_UNIFORM:
        v = dim->lo + u * (dim->hi - dim->lo);
        break;
    case EX_DOM_LOGUNIFORM:
        v = exp(log(dim->lo) + u * (log(dim->hi) - log(dim->lo)));
        break;
    case EX_DOM_INTUNIFORM:
        v = dim->lo + floor(u * (dim->hi - dim->lo + 1));
        break;
    }
    /* Rounding may step past the upper end; the domain is closed there. */
    if (dim->kind != EX_DOM_LIST && v > dim->hi)
        v = dim->hi;
    return v;
}

/* The key of a dimension's permutation: one per (seed, dimension). */
static uint64_t perm_key(uint64_t seed, int d)
{
    return ex_mix64(seed ^ ex_mix64(UINT64_C(0x4c48532d7065726d) + (uint64_t)d));
}

void ex_space_point(const ex_space *s, uint64_t index, double *vals)
{
    uint64_t rest = index;

    for (int d = s->ndim - 1; d >= 0; d--) {
        const ex_dim *dim = &s->dims[d];
        double u;

        switch (s->sampler) {
        case EX_GRID:
            vals[dim->param] = dim->v[rest % dim->n];
            rest /= dim->n;
            break;
        case EX_RANDOM:
            vals[dim->param] = dom_value(dim, st_rng_uniform(s->seed, index, (uint64_t)d));
            break;
        case EX_LHS:
            /* Latin hypercube (McKay, Beckman, Conover, Technometrics 1979): in each
             * dimension point i falls in stratum perm_d(i) of count equal strata, at a
             * uniform position inside it. */
            u = ((double)ex_perm(s->count, perm_key(s->seed, d), index) +
                 st_rng_uniform(s->seed, index, (uint64_t)d)) /
                (double)s->count;
            vals[dim->param] = dom_value(dim, u < 1 ? u : nextafter(1.0, 0.0));
            break;
        }
    }
}
