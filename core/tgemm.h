/*
 * tgemm.h - the trainer's own matrix product for a convolution's forward pass (tens of
 * output channels, hundreds of pixels and taps): B is read in place, without the copy into
 * a panel layout that a BLAS makes of its operands on every call. Internal to sttraincore.
 *
 * Matrices are float, row-major. st_mm_nn reads up to 15 floats past the end of every row
 * of B: the caller keeps ST_MM_SLACK readable floats after B's last row. On a given machine
 * the result depends on the shapes and the data only (a fixed order of the sums, with fused
 * multiply-adds where the instruction set has them), not on where the matrices are.
 */
#ifndef ST_TGEMM_H
#define ST_TGEMM_H

#include <stddef.h>

#define ST_MM_SLACK 16

/* A function whose loops over blocks of 16 floats get a version per instruction set,
 * picked when the program loads (with AVX-512, a block is one instruction); one version
 * under the sanitizers and other compilers. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define ST_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ST_CLONES
#endif

/* C (M x N, leading dimension ldc) = A B, or += when acc: A(i, k) = A[i sai + k sak]
 * (row-major A: sai = lda, sak = 1; A transposed: sai = 1, sak = lda); B is K x N with
 * leading dimension ldb. */
void st_mm_nn(int m, int n, int k, const float *a, ptrdiff_t sai, ptrdiff_t sak, const float *b,
              ptrdiff_t ldb, float *c, ptrdiff_t ldc, int acc);

#endif
