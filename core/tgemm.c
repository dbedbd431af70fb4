/*
 * tgemm.c - the trainer's matrix product for a convolution's forward pass (tgemm.h):
 * register tiles of 8 rows x 32 columns in 16-float vectors (GCC's vector extension), one
 * version per instruction set picked when the program loads (target_clones: AVX-512, AVX2
 * with FMA, or the x86-64 baseline). The operands are read where they lie; no copies.
 */
#include <string.h>

#include "tgemm.h"

typedef float v16 __attribute__((vector_size(64)));

#define AI static inline __attribute__((always_inline))

AI v16 ld(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The first n (at most 16) floats of p, zeros after them: reads nothing past p[n - 1]. */
AI v16 ld_n(const float *p, int n)
{
    float t[16] = {0};
    v16 v;
    if (n >= 16)
        return ld(p);
    for (int i = 0; i < n; i++)
        t[i] = p[i];
    memcpy(&v, t, sizeof v);
    return v;
}

/* Store the first n (at most 16) lanes of v. */
AI void st_n(float *p, v16 v, int n)
{
    float t[16];
    if (n >= 16) {
        memcpy(p, &v, sizeof v);
        return;
    }
    memcpy(t, &v, sizeof v);
    for (int i = 0; i < n; i++)
        p[i] = t[i];
}

/* ------------------------------------------------------------------- NN */

#define NN_MR 8

/* Rows [0, mr) and columns [0, nc) of C, nc <= 16 nv: per k, nv vectors of B's row k and
 * one broadcast of A(r, k) per row. */
AI void nn_tile(int mr, int nv, int k, const float *a, ptrdiff_t sai, ptrdiff_t sak, const float *b,
                ptrdiff_t ldb, float *c, ptrdiff_t ldc, int nc, int acc)
{
    v16 s0[NN_MR], s1[NN_MR];

    for (int r = 0; r < mr; r++) {
        s0[r] = (v16){0};
        s1[r] = (v16){0};
    }
    for (int q = 0; q < k; q++) {
        const float *bq = b + q * ldb, *aq = a + q * sak;
        v16 b0 = ld(bq), b1 = nv > 1 ? ld(bq + 16) : (v16){0};
        for (int r = 0; r < mr; r++) {
            float x = aq[r * sai];
            s0[r] += x * b0;
            if (nv > 1)
                s1[r] += x * b1;
        }
    }
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        int n0 = nc < 16 ? nc : 16, n1 = nc - n0;
        if (acc) {
            s0[r] = ld_n(cr, n0) + s0[r];
            if (nv > 1)
                s1[r] = ld_n(cr + 16, n1) + s1[r];
        }
        st_n(cr, s0[r], n0);
        if (nv > 1)
            st_n(cr + 16, s1[r], n1);
    }
}

#define NN_CASE(MR)                                                                                \
    case MR:                                                                                       \
        if (nv == 2)                                                                               \
            nn_tile(MR, 2, k, a + i0 * sai, sai, sak, b + j0, ldb, c + i0 * ldc + j0, ldc, nc,     \
                    acc);                                                                          \
        else                                                                                       \
            nn_tile(MR, 1, k, a + i0 * sai, sai, sak, b + j0, ldb, c + i0 * ldc + j0, ldc, nc,     \
                    acc);                                                                          \
        break;

ST_CLONES void st_mm_nn(int m, int n, int k, const float *a, ptrdiff_t sai, ptrdiff_t sak,
                        const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int acc)
{
    for (int j0 = 0; j0 < n; j0 += 32) {
        int nc = n - j0 < 32 ? n - j0 : 32, nv = nc > 16 ? 2 : 1;
        for (int i0 = 0; i0 < m; i0 += NN_MR) {
            switch (m - i0 < NN_MR ? m - i0 : NN_MR) {
                NN_CASE(1)
                NN_CASE(2)
                NN_CASE(3)
                NN_CASE(4)
                NN_CASE(5)
                NN_CASE(6)
                NN_CASE(7)
                NN_CASE(8)
            default:
                break;
            }
        }
    }
}
