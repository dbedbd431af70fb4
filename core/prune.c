/*
 * prune.c - the stochastic pruning of activation gradients (SparseTrain,
 * Dai et al., DAC 2020; docs/pruning.md) on one float array. Which
 * tensors are pruned, and what the zeros then cost, is decided elsewhere.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "engine.h"
#include "st.h"

#define PRUNE_SQRT_2_PI 0.7978845608028653559 /* sqrt(2/pi) */

/* Elements whose random bytes are drawn in one st_rng_bytes call. */
#define PRUNE_CHUNK 256

/* The defaults are the parameter table's: one source for them. */
void st_prune_opts_init(st_prune_opts *opts)
{
    if (opts) {
        opts->p = st_param_find("p")->def;
        opts->sigma_scale = st_param_find("prune_sigma_scale")->def;
        opts->skip_zeros = st_param_find("prune_skip_zeros")->def != 0;
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
    else if ((rc = st_param_check(st_param_find("p"), opts->p, err)) == ST_OK)
        rc = st_param_check(st_param_find("prune_sigma_scale"), opts->sigma_scale, err);
    return rc;
}

/* Pass 1 of st_prune: sum |g| in double into *sum and count the exact zeros
 * into *zeros; return the index of the first NaN or infinite element, or n
 * when there is none. Four partial sums, element i into s[i % 4], added in
 * a fixed order at the end: one sum would be a chain of additions, each
 * waiting for the last. A zero adds 0. */
static size_t prune_scan(const float *g, size_t n, double *sum, uint64_t *zeros)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    uint64_t z = 0;
    size_t i, j, bad = n;
    int finite = 1;
    float v;

    for (i = 0; i + 4 <= n; i += 4) {
        for (j = 0; j < 4; j++) {
            v = g[i + j];
            finite &= isfinite(v) != 0;
            z += v == 0.0f;
            s[j] += fabs((double)v);
        }
    }
    for (j = 0; i + j < n; j++) {
        v = g[i + j];
        finite &= isfinite(v) != 0;
        z += v == 0.0f;
        s[j] += fabs((double)v);
    }
    if (!finite)
        for (bad = 0; isfinite(g[bad]); bad++)
            ;
    *sum = (s[0] + s[1]) + (s[2] + s[3]);
    *zeros = z;
    return bad;
}

/* Prepare the rule for the threshold tau_f >= 0. edge[b] = b tau / 256 is exact in double
 * (a 9-bit times a 24-bit integer, scaled by a power of two), which st_prune_apply relies on. */
void st_prune_rule_init(st_prune_rule *r, float tau_f)
{
    int k;

    r->tau = tau_f;
    r->scale = tau_f > 0.0f ? 256.0 / (double)tau_f : 0.0;
    for (k = 0; k <= 256; k++)
        r->edge[k] = (double)k * (double)tau_f * 0x1p-8;
}

/* Pass 2 of st_prune: the rule r on g[0..n), into out[0..n) (which may be g); returns the
 * zeros of out. Element i is position first + i of the stream: st_prune passes 0, and a
 * caller that prunes a tensor run by run passes each run's offset, so that every element
 * meets the draw it would meet in one call.
 *
 * |g| >= tau is kept; otherwise tau * sign(g) with probability |g| / tau,
 * else 0. Element i's uniform u is position first + i of the bytes of
 * (seed, stream) (st.h, st_rng_bytes): its byte b puts u in [b / 256, (b + 1) / 256),
 * and as edge[b] = b tau / 256 is exact, |g| >= edge[b + 1] means
 * u < |g| / tau exactly, |g| <= edge[b] means u >= |g| / tau, and only
 * between the two, once in 256 elements, does st_rng_tie decide, on
 * (256 |g| / tau - b) 2^32 in double. The probability of tau * sign(g) is
 * |g| / tau to within 2^-40 (and the rounding of that quotient), so the
 * expectation of the output is g to within tau 2^-40. Elements with
 * |g| >= tau are above every edge and g = 0 is at or below every edge:
 * neither needs its byte, and bytes are drawn only for runs that hold an
 * element 0 < |g| < tau. The selects go through bit masks, and the test for
 * the st_rng_tie case is one xor, without a branch on the data: a compiler
 * turns a select on a coin flip into a branch, mispredicted half the time.
 * With tau = 0 (p = 0) every element is kept as it is: the input is
 * copied bit for bit. */
uint64_t st_prune_apply(const st_prune_rule *r, const float *g, float *out, size_t n, uint64_t seed,
                        uint64_t stream, uint64_t first)
{
    const double *edge = r->edge;
    float tau_f = r->tau;
    uint8_t b[PRUNE_CHUNK] = {0};
    uint32_t bits, tau_bits, self, drawn, keep;
    double rest;
    uint64_t zeros = 0;
    size_t i, k, len;
    float a;
    int need;

    for (i = 0; tau_f == 0.0f && i < n; i++) {
        out[i] = g[i];
        zeros += out[i] == 0.0f;
    }
    memcpy(&tau_bits, &tau_f, sizeof tau_bits);
    for (i = 0; tau_f > 0.0f && i < n; i += len) {
        len = n - i < PRUNE_CHUNK ? n - i : PRUNE_CHUNK;
        need = 0;
        for (k = 0; k < len && !need; k++) {
            a = fabsf(g[i + k]);
            need = a < tau_f && a > 0.0f;
        }
        if (need)
            st_rng_bytes(seed, stream, first + (uint64_t)i, len, b);
        for (k = 0; k < len; k++) {
            a = fabsf(g[i + k]);
            memcpy(&bits, &g[i + k], sizeof bits);
            keep = (double)a >= edge[b[k] + 1];
            if (((double)a > edge[b[k]]) ^ keep) {
                rest = ((double)a * r->scale - b[k]) * 0x1p32;
                keep = (double)st_rng_tie(seed, stream, first + (uint64_t)(i + k)) < rest;
            }
            self = -(uint32_t)(a >= tau_f);
            drawn = (tau_bits | (bits & 0x80000000u)) & -keep;
            bits = (bits & self) | (drawn & ~self);
            zeros += (bits & 0x7fffffffu) == 0;
            memcpy(&out[i + k], &bits, sizeof bits);
        }
    }
    return zeros;
}

/* docs/pruning.md: sigma = sigma_scale * mean|g|, and tau = Phi^-1((1 + p) / 2) * sigma,
 * rounded to float once (see st_prune below for why that float is what the rule uses). */
int st_prune_threshold(const st_prune_opts *opts, double mean_abs, float *tau_f, st_err *err)
{
    double tau = 0.0;
    int rc;

    rc = prune_check(NULL, NULL, 0, opts, err);
    if (rc)
        goto done;
    if (!(mean_abs >= 0.0)) {
        rc = st_err_set(err, ST_EINVAL, "mean|g| = %g: must be >= 0", mean_abs);
        goto done;
    }
    tau = prune_z(opts->p) * opts->sigma_scale * mean_abs;
    if (!(tau <= FLT_MAX))
        rc = st_err_set(err, ST_EINVAL,
                        "tau = %g: exceeds the float range (p = %g, sigma_scale = %g, "
                        "mean|g| = %g)",
                        tau, opts->p, opts->sigma_scale, mean_abs);
    else
        *tau_f = (float)tau;
done:
    return rc;
}

/* Contract (st.h) in full: fails with ST_EINVAL, writing neither out nor
 * stats, when opts is NULL, g or out is NULL with n > 0, p is not in [0, 1),
 * sigma_scale is not finite and > 0, an element is NaN or infinite, or tau
 * does not fit in a float. stats->tau is the threshold as used: rounded to
 * float. out may equal g; other overlaps are not supported.
 *
 * Pass 1 gathers sum |g| in double and counts the exact zeros, so that the
 * statistic does not depend on float rounding of a long sum; a NaN or an
 * infinity is reported at its first index. Pass 2 applies the rule. The
 * threshold is rounded to float once, and that float value is used for the
 * comparison, the probability |g| / tau and the output: the expectation of
 * the output is then g up to tau 2^-40, the grid of the random numbers,
 * which is the point of the rule. */
int st_prune(const float *g, float *out, size_t n, const st_prune_opts *opts, uint64_t seed,
             uint64_t stream, st_prune_stats *stats, st_err *err)
{
    double sum, mean = 0.0;
    uint64_t zeros_in = 0, zeros = 0, counted;
    st_prune_rule rule;
    float tau_f;
    size_t bad;
    int rc;

    rc = prune_check(g, out, n, opts, err);
    if (rc)
        goto done;

    bad = prune_scan(g, n, &sum, &zeros_in);
    if (bad < n) {
        rc = st_err_set(err, ST_EINVAL, "element %zu is %s", bad,
                        isnan(g[bad]) ? "nan" : (g[bad] > 0 ? "inf" : "-inf"));
        goto done;
    }

    /* With no element to average over, mean = 0 and tau = 0, which keeps everything. */
    counted = opts->skip_zeros ? (uint64_t)n - zeros_in : (uint64_t)n;
    if (counted > 0)
        mean = sum / (double)counted;
    rc = st_prune_threshold(opts, mean, &tau_f, err);
    if (rc)
        goto done;

    st_prune_rule_init(&rule, tau_f);
    zeros = st_prune_apply(&rule, g, out, n, seed, stream, 0);

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
 * so the zeros are p - sqrt(2/pi) (1 - e^{-z^2/2}) / z (docs/pruning.md).
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
