/*
 * t_stats.c - TAP tests of the normal distribution function and its inverse.
 * Checked against published tables, 40-digit reference values, round trips
 * with tolerances from the condition number, monotonicity and symmetry.
 */
#include <float.h>
#include <stdio.h>

#include "st.h"
#include "tap.h"

#define EPS DBL_EPSILON

/* Published quantiles. Phi^-1(0.975), Phi^-1(0.95), Phi^-1(0.995): the 5%, 10%
 * and 1% two-sided points (A&S Table 26.5 to fewer digits; 16 digits as
 * scipy.special.ndtri prints them); Phi^-1(1e-10) and
 * Phi^-1(1e-300) likewise. All confirmed by solving Phi(x) = q with mpmath at
 * 40 digits. The tolerance, 2e-15 relative (about 9 ulps), covers the
 * rounding of the printed 16th digit, the rounding of q itself to double (up
 * to 2 ulps of x here: 0.95 is not a double) and a few ulps of our own. */
static void test_published_quantiles(void)
{
    static const struct {
        double q, x;
        const char *what;
    } v[] = {
        {0.975, 1.959963984540054, "Phi^-1(0.975) = 1.959963984540054"},
        {0.95, 1.6448536269514722, "Phi^-1(0.95) = 1.6448536269514722"},
        {0.995, 2.5758293035489004, "Phi^-1(0.995) = 2.5758293035489004"},
        {0.025, -1.959963984540054, "Phi^-1(0.025) = -1.959963984540054"},
        {0.5, 0.0, "Phi^-1(0.5) = 0"},
        {1e-10, -6.361340902404056, "Phi^-1(1e-10) = -6.361340902404056"},
        {1e-300, -37.0470962993612, "Phi^-1(1e-300) = -37.0470962993612"},
    };
    size_t i;

    for (i = 0; i < sizeof v / sizeof v[0]; i++)
        ok_near(st_norm_quantile(v[i].q), v[i].x, 2e-15 * fabs(v[i].x),
                "stats-1.%zu %s within 2e-15 relative", i + 1, v[i].what);
    /* Subnormal q: the smallest normal double keeps full accuracy (40-digit
     * value -37.519379347144499820); at the smallest subnormal the Halley
     * steps are refused and the start, within 4.5e-4 (A&S 26.2.23), stands
     * (40-digit value -38.467405617144346). */
    ok_near(st_norm_quantile(DBL_MIN), -37.51937934714449982, 4.0 * EPS * 37.52,
            "stats-1.8 Phi^-1(DBL_MIN) = -37.519379347144500 within 4 ulps");
    ok_near(st_norm_quantile(4.9406564584124654e-324), -38.467405617144346, 4.5e-4,
            "stats-1.9 Phi^-1(smallest subnormal) finite, within 4.5e-4 of -38.4674056");
}

/* Phi values. A&S Table 26.1 gives P(x) to 15 decimals: P(1.96) =
 * 0.975002104851780, P(1) = 0.841344746068543 (so Phi(-1) = 0.158655253931457).
 * Tail values from a 40-digit mpmath evaluation of erfc(-x/sqrt 2)/2, checked
 * to 4 ulps relative (erfc's own error is about 1 ulp). */
static void test_cdf_values(void)
{
    static const struct {
        double x, p;
    } tail[] = {
        {-10.0, 7.619853024160526066e-24},
        {-20.0, 2.7536241186062336951e-89},
        {-37.5, 4.6053530095819548438e-308},
    };
    size_t i;
    int sym_ok = 1;
    double x, worst = 0.0;

    ok(st_norm_cdf(0.0) == 0.5, "stats-2.1 Phi(0) = 1/2 exactly");
    ok_near(st_norm_cdf(1.96), 0.975002104851780, 1e-15,
            "stats-2.2 Phi(1.96) = 0.975002104851780 (A&S 26.1) within 1e-15");
    ok_near(st_norm_cdf(-1.0), 1.0 - 0.841344746068543, 1e-15,
            "stats-2.3 Phi(-1) = 1 - 0.841344746068543 (A&S 26.1) within 1e-15");
    for (i = 0; i < sizeof tail / sizeof tail[0]; i++)
        ok_near(st_norm_cdf(tail[i].x) / tail[i].p, 1.0, 4.0 * EPS,
                "stats-2.%zu Phi(%g) = %.17g within 4 ulps relative", i + 4, tail[i].x, tail[i].p);
    ok(st_norm_cdf(INFINITY) == 1.0 && st_norm_cdf(-INFINITY) == 0.0 && isnan(st_norm_cdf(NAN)),
       "stats-2.7 Phi(+inf) = 1, Phi(-inf) = 0, Phi(nan) is nan");
    /* Phi(x) + Phi(-x) = 1: each term within about an ulp of 1. */
    for (x = 0.0; x <= 8.0; x += 1.0 / 64.0) {
        double s = st_norm_cdf(x) + st_norm_cdf(-x);
        if (fabs(s - 1.0) > worst)
            worst = fabs(s - 1.0);
        sym_ok = sym_ok && fabs(s - 1.0) <= 2.0 * EPS;
    }
    if (!ok(sym_ok, "stats-2.8 Phi(x) + Phi(-x) = 1 within 2 eps for x in [0, 8]"))
        diag("  worst |Phi(x) + Phi(-x) - 1| = %g", worst);
}

/* Relative change of Phi caused by an error of k ulps in x (x <= 0):
 * d ln Phi = phi / Phi dx, phi / Phi <= |x| + 1 for x <= 0. Plus 4 eps for
 * Phi's own evaluation. */
static double roundtrip_tol(double x)
{
    double ax = fabs(x);
    return EPS * (4.0 * ax * (ax + 1.0) + 4.0);
}

/* cdf(quantile(q)) = q, where the lower tail is compared on q and the upper
 * tail on 1 - q (exact for q >= 1/2), i.e. always on the small side. */
static void test_roundtrip_q(void)
{
    int k, bad = 0, n = 0;
    double q, x, got, want, rel, worst = 0.0, worst_q = 0.0;

    for (k = -3000; k <= 3000; k++) {
        /* log grid down to 1e-300 on both sides, plus a linear grid */
        if (k < 0)
            q = pow(10.0, k / 10.0);
        else if (k == 0)
            q = 0.5;
        else if (k <= 160)
            q = 1.0 - pow(10.0, -k / 10.0); /* down to 1 - 1e-16 */
        else if (k <= 1160)
            q = (k - 160) / 1001.0;
        else
            continue;
        if (!(q > 0.0 && q < 1.0))
            continue;
        x = st_norm_quantile(q);
        if (q <= 0.5) {
            got = st_norm_cdf(x);
            want = q;
        } else {
            got = st_norm_cdf(-x);
            want = 1.0 - q;
        }
        rel = fabs(got - want) / want;
        n++;
        if (rel > roundtrip_tol(x)) {
            bad++;
            if (rel > worst) {
                worst = rel;
                worst_q = q;
            }
        }
    }
    if (!ok(bad == 0, "stats-3.1 Phi(Phi^-1(q)) = q on %d points from 1e-300 to 1 - 1e-16", n))
        diag("  %d failures; worst relative error %g at q = %.17g", bad, worst, worst_q);
}

/* quantile(cdf(x)) = x for x <= 0: Phi's relative error of about 2 eps moves
 * x by 2 eps Phi / phi, plus 2 ulps of the quantile itself. */
static void test_roundtrip_x(void)
{
    int bad = 0, n = 0;
    double x, got, tol, worst = 0.0, worst_x = 0.0;

    for (x = -37.5; x <= 0.0; x += 1.0 / 128.0) {
        double phi = exp(-0.5 * x * x) / sqrt(2.0 * 3.14159265358979323846);
        double cdf = 0.5 * erfc(-x / sqrt(2.0));
        got = st_norm_quantile(st_norm_cdf(x));
        tol = 4.0 * EPS * (fabs(x) + cdf / phi);
        n++;
        if (fabs(got - x) > tol) {
            bad++;
            if (fabs(got - x) > worst) {
                worst = fabs(got - x);
                worst_x = x;
            }
        }
    }
    if (!ok(bad == 0, "stats-3.2 Phi^-1(Phi(x)) = x on %d points of [-37.5, 0]", n))
        diag("  %d failures; worst error %g at x = %.17g", bad, worst, worst_x);
}

static void test_monotone(void)
{
    int k, j, up = 1;
    double prev, x, q;

    /* The linear grid: x steps of at least 3.8e-5, far above any ulp. */
    prev = -INFINITY;
    for (k = 1; k < 65536; k++) {
        x = st_norm_quantile(k / 65536.0);
        up = up && x > prev;
        prev = x;
    }
    ok(up, "stats-4.1 Phi^-1 strictly increases on k / 65536");
    up = 1;
    prev = -INFINITY;
    for (k = 3000; k >= 3; k--) {
        x = st_norm_quantile(pow(10.0, -k / 10.0));
        up = up && x > prev;
        prev = x;
    }
    ok(up, "stats-4.2 Phi^-1 strictly increases on 10^(-k/10), 1e-300 to 0.5");
    /* Across the joins of the three regions (0.25 and 0.75): steps of 1e-13
     * in q move x by 3e-13, a thousand ulps. */
    up = 1;
    for (j = 0; j < 2; j++) {
        prev = -INFINITY;
        for (k = -20; k <= 20; k++) {
            q = (j == 0 ? 0.25 : 0.75) + k * 1e-13;
            x = st_norm_quantile(q);
            up = up && x > prev;
            prev = x;
        }
    }
    ok(up, "stats-4.3 Phi^-1 strictly increases across the region joins at 0.25 and 0.75");
}

static void test_symmetry(void)
{
    int k, same = 1;

    /* k / 1024 and 1 - k / 1024 are both exact: the quantiles must be exact
     * negatives of each other. */
    for (k = 1; k < 1024; k++)
        same = same && st_norm_quantile(1.0 - k / 1024.0) == -st_norm_quantile(k / 1024.0);
    ok(same, "stats-5.1 Phi^-1(1 - q) = -Phi^-1(q) exactly for q = k / 1024");
}

static void test_outside(void)
{
    static const double bad[] = {0.0, -0.0, 1.0, -0.5, 1.5, NAN, INFINITY, -INFINITY};
    size_t i;
    int all = 1;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        all = all && isnan(st_norm_quantile(bad[i]));
    ok(all, "stats-6.1 Phi^-1 is nan for 0, -0, 1, -0.5, 1.5, nan, inf, -inf");
    ok(!isnan(st_norm_quantile(nextafter(1.0, 0.0))) &&
           !isnan(st_norm_quantile(nextafter(0.0, 1.0))),
       "stats-6.2 Phi^-1 is a number next to both ends of (0, 1)");
}

int main(void)
{
    /* tap.h helpers this test has no use for: referenced so that
     * -Wunused-function stays quiet under -Werror. */
    (void)skip;
    (void)tap_has_all;

    tap_plan(25);
    test_published_quantiles();
    test_cdf_values();
    test_roundtrip_q();
    test_roundtrip_x();
    test_monotone();
    test_symmetry();
    test_outside();
    return tap_done();
}
