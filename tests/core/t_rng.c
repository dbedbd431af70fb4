/*
 * t_rng.c - TAP tests of Philox4x32-10 and the uniform and normal deviates, one at a time
 * and in runs of positions. Known answers come from Random123's published vectors, the run
 * functions are checked word by word against st_philox4x32 itself, and the distributions
 * against closed forms with tolerances derived from the sample size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "st.h"
#include "tap.h"

#define N_DRAWS 1000000

/* Random123 (D. E. Shaw Research), tests/kat_vectors, the three
 * "philox4x32 10" lines: counter (4 words), key (2 words), expected output
 * (4 words). github.com/DEShawResearch/random123; Salmon et al., SC'11. */
static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6627e8d5, 0xe169c58d,
     0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
     0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
     0x5001e420, 0x24126ea1},
};

static void test_kat(void)
{
    uint32_t out[4];
    int v, w, same;

    for (v = 0; v < 3; v++) {
        st_philox4x32(&kat[v][0], &kat[v][4], out);
        same = 1;
        for (w = 0; w < 4; w++)
            same = same && out[w] == kat[v][6 + w];
        if (!ok(same, "rng-1.%d philox4x32-10 matches Random123 kat_vectors line %d", v + 1, v + 1))
            diag("  got %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    }
    /* The output may overwrite the counter. */
    {
        uint32_t io[4] = {kat[2][0], kat[2][1], kat[2][2], kat[2][3]};
        st_philox4x32(io, &kat[2][4], io);
        ok(io[0] == kat[2][6] && io[1] == kat[2][7] && io[2] == kat[2][8] && io[3] == kat[2][9],
           "rng-1.4 philox4x32-10 with out == ctr gives the same known answer");
    }
}

/* st_rng_uniform's layout (key = seed low, high; counter = a low, a high,
 * b low, b high; value = top 53 bits of words 0 and 1 over 2^53) checked on
 * the third known-answer vector: the expected value is built from the
 * published output words, not from our generator. */
static void test_uniform_layout(void)
{
    uint64_t seed = ((uint64_t)0x299f31d0 << 32) | 0xa4093822;
    uint64_t a = ((uint64_t)0x85a308d3 << 32) | 0x243f6a88;
    uint64_t b = ((uint64_t)0x03707344 << 32) | 0x13198a2e;
    uint64_t k = ((uint64_t)0xd16cfe09 << 21) | (0x94fdcceb >> 11);
    double want = (double)k / 9007199254740992.0; /* 2^53 */

    ok_near(st_rng_uniform(seed, a, b), want, 0.0,
            "rng-2.1 uniform takes key (seed lo, hi), counter (a lo, a hi, b lo, b hi), "
            "53 bits of words 0-1");
}

static void test_uniform_moments(void)
{
    double s = 0.0, s2 = 0.0, u, mean, var, se_mean, se_var;
    long in_range = 0, odd = 0, on_grid = 0;
    long i;

    for (i = 0; i < N_DRAWS; i++) {
        u = st_rng_uniform(12345u, 7u, (uint64_t)i);
        in_range += (u >= 0.0 && u < 1.0);
        /* u * 2^53 is an integer k < 2^53; its lowest bit is random too. */
        {
            double k = u * 9007199254740992.0;
            on_grid += (k == floor(k));
            odd += (fmod(k, 2.0) == 1.0);
        }
        s += u;
        s2 += (u - 0.5) * (u - 0.5);
    }
    mean = s / N_DRAWS;
    var = s2 / N_DRAWS - (mean - 0.5) * (mean - 0.5);
    /* U(0,1): mean 1/2, variance 1/12; the sample mean has standard error
     * sqrt(1/12 / n) = 2.9e-4, the sample variance sqrt((1/80 - 1/144) / n)
     * = 7.5e-5 (Var((U - 1/2)^2) = 1/180). Five standard errors. */
    se_mean = sqrt(1.0 / 12.0 / N_DRAWS);
    se_var = sqrt(1.0 / 180.0 / N_DRAWS);
    ok_eq_u64(in_range, N_DRAWS, "rng-2.2 every uniform draw lies in [0, 1)");
    ok_eq_u64(on_grid, N_DRAWS, "rng-2.3 every uniform draw is a multiple of 2^-53");
    ok_near((double)odd / N_DRAWS, 0.5, 5.0 * sqrt(0.25 / N_DRAWS),
            "rng-2.4 the 53rd bit is set in half the draws (5 standard errors)");
    ok_near(mean, 0.5, 5.0 * se_mean, "rng-2.5 uniform mean is 1/2 within 5 standard errors");
    ok_near(var, 1.0 / 12.0, 5.0 * se_var,
            "rng-2.6 uniform variance is 1/12 within 5 standard errors");
}

static void test_uniform_order(void)
{
    enum { M = 1000 };
    static double fwd[M];
    int i, same = 1;

    for (i = 0; i < M; i++)
        fwd[i] = st_rng_uniform(99u, (uint64_t)i * 3u, (uint64_t)i);
    for (i = M - 1; i >= 0; i--)
        same = same && st_rng_uniform(99u, (uint64_t)i * 3u, (uint64_t)i) == fwd[i];
    ok(same, "rng-3.1 the same (seed, a, b) gives the same value in any visiting order");
}

static void test_streams_differ(void)
{
    enum { M = 2000 };
    static double v[6][M];
    long equal = 0;
    int i, s, t;

    for (i = 0; i < M; i++) {
        v[0][i] = st_rng_uniform(1u, 5u, (uint64_t)i);
        v[1][i] = st_rng_uniform(2u, 5u, (uint64_t)i);                       /* seed */
        v[2][i] = st_rng_uniform(1u, 6u, (uint64_t)i);                       /* a */
        v[3][i] = st_rng_uniform(1u | ((uint64_t)1 << 32), 5u, (uint64_t)i); /* seed hi */
        v[4][i] = st_rng_uniform(1u, 5u | ((uint64_t)1 << 32), (uint64_t)i); /* a hi */
        v[5][i] = st_rng_uniform(1u, 5u, (uint64_t)i | ((uint64_t)1 << 32)); /* b hi */
    }
    /* Two independent 53-bit uniforms coincide with probability 2^-53: over
     * 15 pairs of 2000 draws any coincidence means the streams overlap. */
    for (s = 0; s < 6; s++)
        for (t = s + 1; t < 6; t++)
            for (i = 0; i < M; i++)
                equal += v[s][i] == v[t][i];
    ok_eq_u64(equal, 0, "rng-3.2 seeds, a and b (low and high words) all select different streams");
    equal = 0;
    for (i = 1; i < M; i++)
        equal += v[0][i] == v[0][i - 1];
    ok_eq_u64(equal, 0, "rng-3.3 successive b give different values");
}

static void test_normal(void)
{
    double s = 0.0, s2 = 0.0, s4 = 0.0, z, mean, var, m4;
    long inside = 0, finite = 0;
    long i;

    for (i = 0; i < N_DRAWS; i++) {
        z = st_rng_normal(2024u, 3u, (uint64_t)i);
        finite += isfinite(z) != 0;
        s += z;
        s2 += z * z;
        s4 += z * z * z * z;
        inside += fabs(z) < 1.959963984540054;
    }
    mean = s / N_DRAWS;
    var = s2 / N_DRAWS - mean * mean;
    m4 = s4 / N_DRAWS;
    ok_eq_u64(finite, N_DRAWS, "rng-4.1 every normal draw is finite");
    /* N(0,1): the sample mean has standard error 1/sqrt(n) = 1e-3, the sample
     * variance sqrt(2/n) = 1.4e-3, the fourth moment (3) sqrt((105 - 9)/n)
     * = 9.8e-3. Five standard errors each. */
    ok_near(mean, 0.0, 5.0 / sqrt(N_DRAWS), "rng-4.2 normal mean is 0 within 5 standard errors");
    ok_near(var, 1.0, 5.0 * sqrt(2.0 / N_DRAWS),
            "rng-4.3 normal variance is 1 within 5 standard errors");
    ok_near(m4, 3.0, 5.0 * sqrt(96.0 / N_DRAWS),
            "rng-4.4 normal fourth moment is 3 within 5 standard errors");
    /* P(|Z| < 1.959963984540054) = 0.95 (the 97.5% point, A&S Table 26.5);
     * binomial standard error sqrt(0.95 * 0.05 / n) = 2.2e-4. */
    ok_near((double)inside / N_DRAWS, 0.95, 5.0 * sqrt(0.95 * 0.05 / N_DRAWS),
            "rng-4.5 95%% of normal draws lie within 1.96 sigma (5 standard errors)");
    ok(st_rng_normal(2024u, 3u, 17u) == st_rng_normal(2024u, 3u, 17u) &&
           st_rng_normal(2024u, 3u, 17u) != st_rng_normal(2024u, 3u, 18u),
       "rng-4.6 normal is a function of (seed, a, b) and differs between counters");
}

/* ------------------------------------------------------- runs of positions */

#define RUN_N 1000 /* positions checked one by one; crosses several lane groups */

/* The block of (seed, a, b) computed by the test from st_philox4x32 and the documented
 * layout: key = (seed lo, seed hi), counter = (a lo, a hi, b lo, b hi). */
static void ref_block(uint64_t seed, uint64_t a, uint64_t b, uint32_t w[4])
{
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t ctr[4] = {(uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32)};

    st_philox4x32(ctr, key, w);
}

static void test_block_layout(void)
{
    uint64_t seed = ((uint64_t)0x299f31d0 << 32) | 0xa4093822;
    uint64_t a = ((uint64_t)0x85a308d3 << 32) | 0x243f6a88;
    uint64_t b = ((uint64_t)0x03707344 << 32) | 0x13198a2e;
    uint32_t w[4];

    st_rng_block(seed, a, b, w);
    ok(w[0] == kat[2][6] && w[1] == kat[2][7] && w[2] == kat[2][8] && w[3] == kat[2][9],
       "rng-5.1 st_rng_block takes key (seed lo, hi), counter (a lo, a hi, b lo, b hi): "
       "Random123 kat_vectors line 3");
}

/* st_rng_words and st_rng_bytes against the block of each position, for runs that start
 * aligned and not, that are shorter and longer than a lane group, and with a high counter
 * word so that b's upper half is exercised. */
static void test_words_bytes(void)
{
    static const uint64_t firsts[4] = {0, 1, 4093, ((uint64_t)1 << 34) + 7};
    static uint32_t w[RUN_N];
    static uint8_t by[RUN_N];
    uint32_t ref[4];
    uint64_t seed = 0x0123456789abcdefULL, a = 0xfedcba9876543210ULL, i;
    size_t n, k;
    int f, bad_w = 0, bad_b = 0;

    for (f = 0; f < 4; f++) {
        for (n = 1; n <= RUN_N; n += n < 80 ? 1 : 173) {
            st_rng_words(seed, a, firsts[f], n, w);
            st_rng_bytes(seed, a, firsts[f], n, by);
            for (k = 0; k < n; k++) {
                i = firsts[f] + k;
                ref_block(seed, a, i / 4, ref);
                bad_w += w[k] != ref[i % 4];
                ref_block(seed, a, i / 16, ref);
                bad_b += by[k] != (uint8_t)(ref[(i % 16) / 4] >> (8 * (i % 4)));
            }
        }
    }
    ok_eq_u64(bad_w, 0,
              "rng-5.2 st_rng_words: position i is word i %% 4 of st_philox4x32's block i / 4, "
              "for every start and length tried");
    ok_eq_u64(bad_b, 0,
              "rng-5.3 st_rng_bytes: position i is byte i %% 4 of word (i %% 16) / 4 of block "
              "i / 16");
    ref_block(seed, a, ~(uint64_t)12345, ref);
    ok(st_rng_tie(seed, a, 12345) == ref[0], "rng-5.4 st_rng_tie(i) is word 0 of block ~i");
}

/* Byte-and-tie Bernoulli draws (st.h, st_rng_bytes): u < p iff b < floor(256 p), or
 * b = floor(256 p) and w < frac(256 p) 2^32. Counted over n positions, the fraction is
 * binomial around p: 5 standard errors. p = 0.3 / 256 puts all the probability in the tie
 * (floor(256 p) = 0): bytes alone would give 0 or 1/256 = 0.0039. */
static double bernoulli_fraction(double p, size_t n)
{
    static uint8_t by[4096];
    double t = 256.0 * p, rest;
    unsigned tb = (unsigned)t, keep;
    size_t i, k, len, hits = 0;

    rest = (t - tb) * 4294967296.0;
    for (i = 0; i < n; i += len) {
        len = n - i < 4096 ? n - i : 4096;
        st_rng_bytes(77u, 5u, i, len, by);
        for (k = 0; k < len; k++) {
            keep = by[k] < tb;
            if (by[k] == tb)
                keep = (double)st_rng_tie(77u, 5u, i + k) < rest;
            hits += keep;
        }
    }
    return (double)hits / (double)n;
}

static void test_bernoulli(void)
{
    static const double ps[3] = {0.3, 0.5 + 0.5 / 256, 0.3 / 256};
    size_t n = (size_t)1 << 22;
    double f;
    int k;

    for (k = 0; k < 3; k++) {
        f = bernoulli_fraction(ps[k], n);
        ok_near(f, ps[k], 5.0 * sqrt(ps[k] * (1 - ps[k]) / n),
                "rng-6.%d byte-and-tie draws with p = %.6g: fraction %.6f within 5 SE", k + 1,
                ps[k], f);
    }
}

/* st_rng_normals: split invariance, moments, the 95% point, tail counts on both sides of
 * the ziggurat's edge r = 3.4426 (where its fast path ends and its tail begins), and a
 * chi-square over 1000 bins equiprobable under N(0, 1). */
static void test_normals(void)
{
    enum { NB = 1000 };
    static const size_t pieces[] = {1, 3, 64, 17, 5, 200, 63, 1, 646};
    size_t n = (size_t)1 << 22, i, k, at;
    double *z = malloc(n * sizeof *z), piece[1000], s = 0, s2 = 0, s4 = 0, chi = 0, e, mean, var;
    static long bins[NB];
    long beyond_r = 0, beyond_45 = 0, inside = 0, bounded = 0, same = 1;
    double p_r = 2 * 2.8805425619832079e-4, p_45 = 2 * 3.3976731247300535e-6;

    if (!z) {
        printf("Bail out! out of memory\n");
        exit(1);
    }
    st_rng_normals(4242u, 9u, 0, n, z);
    for (i = 0, at = 0; i < sizeof pieces / sizeof pieces[0]; at += pieces[i++]) {
        st_rng_normals(4242u, 9u, at + 100, pieces[i], piece);
        for (k = 0; k < pieces[i]; k++)
            same = same && piece[k] == z[at + 100 + k];
    }
    ok(same, "rng-7.1 st_rng_normals: a range split into pieces gives the same deviates");
    for (i = 0; i < n; i++) {
        s += z[i];
        s2 += z[i] * z[i];
        s4 += z[i] * z[i] * z[i] * z[i];
        inside += fabs(z[i]) < 1.959963984540054;
        beyond_r += fabs(z[i]) > 3.4426198558966523;
        beyond_45 += fabs(z[i]) > 4.5;
        bounded += fabs(z[i]) < 8.7 && z[i] != 0.0;
        k = (size_t)(st_norm_cdf(z[i]) * NB);
        bins[k < NB ? k : NB - 1]++;
    }
    mean = s / n;
    var = s2 / n - mean * mean;
    ok_eq_u64(bounded, n, "rng-7.2 every deviate is finite, |z| < 8.7 and z != 0");
    /* Standard errors as in rng-4: 1/sqrt(n), sqrt(2/n), sqrt(96/n); five of each. */
    ok_near(mean, 0.0, 5.0 / sqrt(n), "rng-7.3 normals: mean 0 within 5 SE");
    ok_near(var, 1.0, 5.0 * sqrt(2.0 / n), "rng-7.4 normals: variance 1 within 5 SE");
    ok_near(s4 / n, 3.0, 5.0 * sqrt(96.0 / n), "rng-7.5 normals: fourth moment 3 within 5 SE");
    ok_near((double)inside / n, 0.95, 5.0 * sqrt(0.95 * 0.05 / n),
            "rng-7.6 normals: 95%% within 1.96 (5 binomial SE)");
    /* P(|Z| > r) = 2 Phi(-r) and P(|Z| > 4.5) = 2 Phi(-4.5) = 6.795e-6 (mpmath, 20 digits);
     * counts are binomial, 5 standard errors. */
    ok_near((double)beyond_r, n * p_r, 5.0 * sqrt(n * p_r),
            "rng-7.7 normals: %ld beyond the ziggurat edge 3.4426, expected %.0f (5 SE)", beyond_r,
            n * p_r);
    ok_near((double)beyond_45, n * p_45, 5.0 * sqrt(n * p_45),
            "rng-7.8 normals: %ld beyond 4.5, expected %.1f (5 SE)", beyond_45, n * p_45);
    /* Chi-square with NB - 1 = 999 degrees of freedom: mean 999, standard deviation
     * sqrt(2 * 999) = 44.7; the bound is the mean plus 5 of them. */
    e = (double)n / NB;
    for (k = 0; k < NB; k++)
        chi += (bins[k] - e) * (bins[k] - e) / e;
    ok(chi < 999 + 5 * sqrt(2 * 999.0),
       "rng-7.9 normals: chi-square over 1000 equiprobable bins %.1f < %.1f", chi,
       999 + 5 * sqrt(2 * 999.0));
    free(z);
}

int main(void)
{
    /* tap.h helpers this test has no use for: referenced so that
     * -Wunused-function stays quiet under -Werror. */
    (void)skip;
    (void)tap_has_all;

    tap_plan(35);
    test_kat();
    test_uniform_layout();
    test_uniform_moments();
    test_uniform_order();
    test_streams_differ();
    test_normal();
    test_block_layout();
    test_words_bytes();
    test_bernoulli();
    test_normals();
    return tap_done();
}
