/*
 * rng.c - Philox4x32-10 and the uniform and normal deviates built on it.
 * Stateless on purpose: every value is a pure function of (key, counter), so
 * results never depend on rank, thread or visiting order. No streams live here.
 */
#include <math.h>

#include "st.h"

/* Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11, section 3.3: the two round multipliers of Philox4x32 and the Weyl
 * increments of its key schedule (golden ratio, sqrt(3) - 1). */
#define PHILOX_M0     0xD2511F53u
#define PHILOX_M1     0xCD9E8D57u
#define PHILOX_W0     0x9E3779B9u
#define PHILOX_W1     0xBB67AE85u
#define PHILOX_ROUNDS 10

#define RNG_TWO_PI 6.283185307179586476925

void st_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    int r;

    for (r = 0; r < PHILOX_ROUNDS; r++) {
        /* One Philox round (SC'11, section 3.3): two 32x32 -> 64-bit
         * products; the high halves are xored with the other two words and
         * the round key, the low halves pass on, and the words are permuted.
         * The key is bumped after every round (the last bump is unused). */
        uint64_t p0 = (uint64_t)PHILOX_M0 * x0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * x2;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
        uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;

        x1 = (uint32_t)p1;
        x3 = (uint32_t)p0;
        x0 = y0;
        x2 = y2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* The four words for (seed, a, b): key = (seed low, seed high), counter =
 * (a low, a high, b low, b high). */
static void rng_block(uint64_t seed, uint64_t a, uint64_t b, uint32_t w[4])
{
    uint32_t key[2], ctr[4];

    key[0] = (uint32_t)seed;
    key[1] = (uint32_t)(seed >> 32);
    ctr[0] = (uint32_t)a;
    ctr[1] = (uint32_t)(a >> 32);
    ctr[2] = (uint32_t)b;
    ctr[3] = (uint32_t)(b >> 32);
    st_philox4x32(ctr, key, w);
}

/* The top 53 bits of the 64-bit word (hi, lo), as an integer k < 2^53. */
static uint64_t rng_bits53(uint32_t hi, uint32_t lo)
{
    return ((uint64_t)hi << 21) | (lo >> 11);
}

/* Words 0 and 1 give k; the value is k / 2^53, so every double of the grid
 * {0, 2^-53, ..., 1 - 2^-53} has probability 2^-53 and 1 is never returned. */
double st_rng_uniform(uint64_t seed, uint64_t a, uint64_t b)
{
    uint32_t w[4];

    rng_block(seed, a, b, w);
    return (double)rng_bits53(w[0], w[1]) * 0x1p-53;
}

/* Box and Muller, "A note on the generation of random normal deviates", Ann.
 * Math. Statist. 29 (1958) 610: z = sqrt(-2 ln u1) cos(2 pi u2). u1 is taken
 * at the midpoint of its 2^-53 cell, (k + 1/2) / 2^53, which lies in (0, 1):
 * ln(u1) is finite and |z| <= sqrt(108 ln 2) < 8.7. Only the cosine of the
 * pair is used: one deviate per counter. */
double st_rng_normal(uint64_t seed, uint64_t a, uint64_t b)
{
    uint32_t w[4];
    double u1, u2;

    rng_block(seed, a, b, w);
    u1 = ((double)rng_bits53(w[0], w[1]) + 0.5) * 0x1p-53;
    u2 = (double)rng_bits53(w[2], w[3]) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(RNG_TWO_PI * u2);
}
