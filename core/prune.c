/*
 * prune.c - the stochastic pruning of activation gradients (SparseTrain,
 * Dai et al., DAC 2020; DESIGN.md section 1) on one float array. Which
 * tensors are pruned, and what the zeros then cost, is decided elsewhere.
 */
#include <float.h>
#include <math.h>

#include "st.h"

#define PRUNE_SQRT_PI_2 1.2533141373155002512 /* sqrt(pi/2) = sigma / E|g| for a normal law */
#define PRUNE_SQRT_2_PI 0.7978845608028653559 /* sqrt(2/pi) */

void st_prune_opts_init(st_prune_opts *opts)
{
    if (opts) {
        opts->p = 0.0;
        opts->sigma_scale = PRUNE_SQRT_PI_2;
        opts->skip_zeros = 0;
    }
}

/* z = Phi^-1((1 + p) / 2), computed as -Phi^-1((1 - p) / 2): 1 - p is exact
 * for p >= 1/2 and halving is exact, whereas (1 + p) / 2 rounds to 1 for p
 * within an ulp of 1. `0.0 -` turns the -0 of p = 0 into +0. */
static double prune_z(double p)
{
    return 0.0 - st_norm_quantile(0.5 * (1.0 - p));
}

/* Check the options and the pointers; the elements are checked while the
 * statistic is gathered. */
static int prune_check(const float *g, const float *out, size_t n, const st_prune_opts *opts,
                       st_err *err)
{
    int rc = ST_OK;

    if (!opts)
        rc = st_err_set(err, ST_EINVAL, "prune options are NULL");
    else if (n > 0 && !g)
        rc = st_err_set(err, ST_EINVAL, "input g is NULL with n = %zu", n);
    else if (n > 0 && !out)
        rc = st_err_set(err, ST_EINVAL, "output out is NULL with n = %zu", n);
    else if (!(opts->p >= 0.0 && opts->p < 1.0))
        rc = st_err_set(err, ST_EINVAL, "p = %g: must be in [0, 1)", opts->p);
    else if (!(opts->sigma_scale > 0.0 && isfinite(opts->sigma_scale)))
        rc = st_err_set(err, ST_EINVAL, "sigma_scale = %g: must be finite and > 0",
                        opts->sigma_scale);
    return rc;
}

/* Contract (st.h) in full: fails with ST_EINVAL, writing neither out nor
 * stats, when opts is NULL, g or out is NULL with n > 0, p is not in [0, 1),
 * sigma_scale is not finite and > 0, an element is NaN or infinite, or tau
 * does not fit in a float. stats->tau is the threshold as used: rounded to
 * float. out may equal g; other overlaps are not supported.
 *
 * Pass 1 gathers sum |g| in double and counts the exact zeros, so that the
 * statistic does not depend on float rounding of a long sum. Pass 2 applies
 * the rule. The threshold is rounded to float once, and that float value is
 * used for the comparison, the probability |g| / tau and the output: the
 * expectation of the output is then exactly g (up to the 2^-53 grid of u),
 * which is the point of the rule. */
int st_prune(const float *g, float *out, size_t n, const st_prune_opts *opts, uint64_t seed,
             uint64_t stream, st_prune_stats *stats, st_err *err)
{
    double sum = 0.0, mean = 0.0, tau = 0.0, u;
    uint64_t zeros_in = 0, zeros = 0, counted;
    float v, a, r, tau_f;
    size_t i;
    int rc;

    rc = prune_check(g, out, n, opts, err);
    if (rc)
        goto done;

    for (i = 0; i < n; i++) {
        v = g[i];
        if (!isfinite(v)) {
            rc = st_err_set(err, ST_EINVAL, "element %zu is %s", i,
                            isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
            goto done;
        }
        if (v == 0.0f)
            zeros_in++;
        else
            sum += fabs((double)v);
    }

    /* DESIGN.md section 1: sigma = sigma_scale * mean|g|, and
     * tau = Phi^-1((1 + p) / 2) * sigma. With no element to average over,
     * tau = 0, which keeps everything. */
    counted = opts->skip_zeros ? (uint64_t)n - zeros_in : (uint64_t)n;
    if (counted > 0)
        mean = sum / (double)counted;
    tau = prune_z(opts->p) * opts->sigma_scale * mean;
    if (!(tau <= FLT_MAX)) {
        rc = st_err_set(err, ST_EINVAL,
                        "tau = %g: exceeds the float range (p = %g, sigma_scale = %g, "
                        "mean|g| = %g)",
                        tau, opts->p, opts->sigma_scale, mean);
        goto done;
    }
    tau_f = (float)tau;

    /* The rule: |g| >= tau is kept; otherwise tau * sign(g) with probability
     * |g| / tau, else 0. Element i's u depends on (seed, stream, i) only.
     * With tau_f = 0 (p = 0) every element takes the first branch and is
     * copied bit for bit. */
    for (i = 0; i < n; i++) {
        v = g[i];
        a = fabsf(v);
        if (a >= tau_f) {
            r = v;
        } else if (v == 0.0f) {
            r = 0.0f;
        } else {
            u = st_rng_uniform(seed, stream, (uint64_t)i);
            r = u < (double)a / (double)tau_f ? (v > 0.0f ? tau_f : -tau_f) : 0.0f;
        }
        if (r == 0.0f)
            zeros++;
        out[i] = r;
    }

    if (stats) {
        stats->tau = (double)tau_f;
        stats->mean_abs = mean;
        stats->n = (uint64_t)n;
        stats->zeros_in = zeros_in;
        stats->zeros = zeros;
    }
done:
    return rc;
}

/* For g ~ N(0, sigma^2) and tau = z sigma: P(|g| < tau) = p, and the kept
 * fraction of those is E[|g| / tau; |g| < tau] = sqrt(2/pi) (1 - e^{-z^2/2}) / z,
 * so the zeros are p - sqrt(2/pi) (1 - e^{-z^2/2}) / z (DESIGN.md section 1).
 * 1 - e^{-z^2/2} is computed as -expm1(-z^2/2) for small p; at p = 0 the
 * limit is 0. NaN for p outside [0, 1). */
double st_prune_zero_fraction_normal(double p)
{
    double z, f = NAN;

    if (p >= 0.0 && p < 1.0) {
        z = prune_z(p);
        f = z > 0.0 ? p - PRUNE_SQRT_2_PI * -expm1(-0.5 * z * z) / z : 0.0;
    }
    return f;
}
