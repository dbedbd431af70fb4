/*
 * t_tgemm.c - st_mm_nn (core/tgemm.c), the trainer's product for a convolution's forward
 * pass, against the product summed in double by three nested loops: every tile shape (1 to
 * 8 rows, partial and whole blocks of 16 and 32 columns), A read as stored and transposed,
 * C written and added to. The slack past B is NaN and C sits inside a larger matrix of
 * sentinels: what st_mm_nn reads past B's rows must not reach C, and nothing outside C may
 * change.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"
#include "tgemm.h"

#define SENTINEL 12345.0f

/* xorshift64*: the test's own numbers in [-1, 1). */
static float unif(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (float)((double)((*s * 0x2545F4914F6CDD1DULL) >> 11) * 0x1p-52 - 1.0);
}

/* One case; returns the largest error relative to the sum of |terms| over the elements
 * beyond the tolerance (0 when none: k float roundings bound the error by about k 2^-24,
 * under 2e-6 for k = 25), or -1 when a value outside C changed, -2 on no memory. */
static double one_case(int m, int n, int k, int trans, int acc, uint64_t *seed)
{
    int ldc = n + 3, rows_c = m + 2, ldb = n;
    float *a = malloc((size_t)m * (size_t)k * sizeof *a);
    float *b = malloc(((size_t)k * (size_t)ldb + ST_MM_SLACK) * sizeof *b);
    float *c = malloc((size_t)rows_c * (size_t)ldc * sizeof *c);
    float *c0 = malloc((size_t)rows_c * (size_t)ldc * sizeof *c0);
    double worst = 0.0;

    if (!a || !b || !c || !c0) {
        worst = -2.0;
        goto done;
    }
    for (int q = 0; q < m * k; q++)
        a[q] = unif(seed);
    for (int q = 0; q < k * ldb; q++)
        b[q] = unif(seed);
    for (int q = 0; q < ST_MM_SLACK; q++)
        b[k * ldb + q] = NAN;
    for (int q = 0; q < rows_c * ldc; q++)
        c[q] = c0[q] = SENTINEL;
    /* C is rows 1..m, columns 1..n of the larger matrix */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[(i + 1) * ldc + j + 1] = c0[(i + 1) * ldc + j + 1] = unif(seed);
    /* A(i, k) at a[i k + q] as stored (m x k), or at a[q m + i] transposed (k x m) */
    st_mm_nn(m, n, k, a, trans ? 1 : k, trans ? m : 1, b, ldb, c + ldc + 1, ldc, acc);
    for (int i = 0; i < rows_c; i++)
        for (int j = 0; j < ldc; j++) {
            int in_c = i >= 1 && i <= m && j >= 1 && j <= n;
            double want = 0.0, mag = 0.0, got = c[i * ldc + j];
            if (!in_c) {
                if (got != SENTINEL) {
                    worst = -1.0;
                    goto done;
                }
                continue;
            }
            for (int q = 0; q < k; q++) {
                double t = (double)(trans ? a[q * m + i - 1] : a[(i - 1) * k + q]) *
                           (double)b[q * ldb + j - 1];
                want += t;
                mag += fabs(t);
            }
            if (acc) {
                want += c0[i * ldc + j];
                mag += fabs(c0[i * ldc + j]);
            }
            if (!(fabs(got - want) <= 1e-5 * (mag + 1e-30)))
                worst = fmax(worst, isnan(got) ? INFINITY : fabs(got - want) / (mag + 1e-30));
        }
done:
    free(a);
    free(b);
    free(c);
    free(c0);
    return worst;
}

int main(void)
{
    static const int ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 32};
    static const int ns[] = {1, 5, 15, 16, 17, 31, 32, 33, 48, 196};
    static const int ks[] = {1, 3, 25};
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    int id = 0;

    tap_plan(4);
    for (int trans = 0; trans < 2; trans++)
        for (int acc = 0; acc < 2; acc++) {
            double worst = 0.0;
            int cases = 0;
            for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
                for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                        double w = one_case(ms[mi], ns[ni], ks[ki], trans, acc, &seed);
                        cases++;
                        if (w != 0.0) {
                            diag("m %d n %d k %d: %s %g", ms[mi], ns[ni], ks[ki],
                                 w == -1.0   ? "wrote outside C"
                                 : w == -2.0 ? "out of memory"
                                             : "relative error",
                                 w);
                            worst = w;
                        }
                    }
            ok(worst == 0.0,
               "tgemm-%d st_mm_nn, A %s, C %s: %d shapes within 1e-5 of the double sum "
               "(relative to the sum of |terms|), NaN past B unseen, nothing outside C written",
               ++id, trans ? "transposed" : "as stored", acc ? "added to" : "written", cases);
        }
    return tap_done();
}
