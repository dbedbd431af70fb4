/*
 * stats.c - the standard normal distribution function Phi and its inverse.
 * Only what the pruning threshold and the sparsity model need: no other laws,
 * no sampling (that is rng.c).
 */
#include <math.h>

#include "st.h"

#define STATS_SQRT1_2      0.70710678118654752440    /* 1/sqrt(2), rounded to double */
#define STATS_SQRT1_2_LO   (-4.8336466567264565e-17) /* 1/sqrt(2) - STATS_SQRT1_2 */
#define STATS_INV_SQRT_PI  0.56418958354775628695    /* 1/sqrt(pi) */
#define STATS_INV_SQRT_2PI 0.39894228040143267794    /* 1/sqrt(2 pi) */

/* Halley steps converge cubically from the 4.5e-4 start below: three are
 * enough everywhere; the cap only guards against a pathological input. */
#define QUANTILE_MAX_STEPS 8

/* Phi(x) = erfc(-x / sqrt 2) / 2 (Abramowitz and Stegun, section 26.2).
 * Working from erfc keeps full relative accuracy in the lower tail, where
 * Phi is tiny. Rounding t = -x / sqrt 2 to double would still cost a relative
 * error of about 2 t^2 eps there (d ln erfc / dt ~ -2t), so the part of t the
 * rounding lost, r, is added back to first order:
 * erfc(t + r) / 2 ~ erfc(t) / 2 - r exp(-t^2) / sqrt(pi). */
double st_norm_cdf(double x)
{
    double t, r, c;

    if (isnan(x) || isinf(x)) {
        c = isnan(x) ? x : x > 0 ? 1.0 : 0.0;
    } else {
        t = -x * STATS_SQRT1_2;
        r = fma(-x, STATS_SQRT1_2, -t) - x * STATS_SQRT1_2_LO;
        c = 0.5 * erfc(t);
        c -= r * STATS_INV_SQRT_PI * exp(-t * t);
    }
    return c;
}

/* A starting value for Phi^-1(q), 0 < q <= 0.5: Abramowitz and Stegun 26.2.23,
 * x = -(t - (c0 + c1 t + c2 t^2) / (1 + d1 t + d2 t^2 + d3 t^3)),
 * t = sqrt(-2 ln q), with absolute error below 4.5e-4. */
static double quantile_start(double q)
{
    double t = sqrt(-2.0 * log(q));
    double num = 2.515517 + t * (0.802853 + t * 0.010328);
    double den = 1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308));

    return -(t - num / den);
}

/* One Halley step for F(x) = target, where F' = phi and F'' = -x phi (true of
 * Phi and of erf(x / sqrt 2) / 2): with u = (F(x) - target) / phi(x), the step
 * is u / (1 + x u / 2). Returns 0 when no step can be taken (phi underflows,
 * which only happens for subnormal q, where the start is kept). */
static double quantile_halley_step(double x, double f)
{
    double phi = STATS_INV_SQRT_2PI * exp(-0.5 * x * x);
    double u, dx = 0.0;

    if (phi > 0.0) {
        u = f / phi;
        dx = u / (1.0 + 0.5 * x * u);
        /* The start is within 4.5e-4, so a larger step can only come from
         * the rounding noise of subnormal values: refuse it. */
        if (!(fabs(dx) < 1e-3))
            dx = 0.0;
    }
    return dx;
}

/* Phi^-1(q) for 0 < q < 0.25, solving Phi(x) = q where Phi is evaluated
 * through erfc, i.e. with relative accuracy however small q is. */
static double quantile_lower(double q)
{
    double x = quantile_start(q), dx;
    int i;

    for (i = 0; i < QUANTILE_MAX_STEPS; i++) {
        dx = quantile_halley_step(x, st_norm_cdf(x) - q);
        x -= dx;
        if (fabs(dx) <= 0x1p-52 * fabs(x))
            break;
    }
    return x;
}

/* The y >= 0 with Phi(y) - 1/2 = a, for 0 <= a <= 0.25, solving
 * erf(y / sqrt 2) / 2 = a: near the median this keeps relative accuracy in y,
 * which Phi(y) - q (both close to 1/2) would lose. */
static double quantile_central(double a)
{
    double y = 0.0, dy;
    int i;

    if (a > 0.0)
        y = -quantile_start(0.5 - a); /* 0.5 - a is exact for a in [0, 0.25] */
    for (i = 0; a > 0.0 && i < QUANTILE_MAX_STEPS; i++) {
        dy = quantile_halley_step(y, 0.5 * erf(y * STATS_SQRT1_2) - a);
        y -= dy;
        if (fabs(dy) <= 0x1p-52 * fabs(y))
            break;
    }
    return y;
}

/* Three regions, each solved where its arithmetic is exact: q - 1/2 is exact
 * for q in [0.25, 1] and 1 - q for q in [0.5, 1] (Sterbenz), so the upper
 * tail is the exact mirror of the lower one and the centre is odd in q - 1/2. */
double st_norm_quantile(double q)
{
    double d, x;

    if (!(q > 0.0 && q < 1.0)) {
        x = NAN;
    } else if (q < 0.25) {
        x = quantile_lower(q);
    } else if (q > 0.75) {
        x = -quantile_lower(1.0 - q);
    } else {
        d = q - 0.5;
        x = d < 0 ? -quantile_central(-d) : quantile_central(d);
    }
    return x;
}
