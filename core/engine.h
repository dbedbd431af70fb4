/*
 * engine.h - internal interface between the parts of the simulator: bit
 * rows (bitrow.c), the layer geometry and tiling (map.c), the engine
 * (sim.c), and the two halves of the pruning (prune.c) that the sparsity
 * model (sparsity.c) calls apart. Not installed, not part of the public API
 * in st.h.
 */
#ifndef ST_ENGINE_H
#define ST_ENGINE_H

#include <stdint.h>

#include "st.h"

/* ------------------------------------------------------------- bit rows */

/* A row of bits, packed 64 to a word, followed by one zero word so that an
 * unaligned 64-bit window starting anywhere inside the row can be read. */
#define ST_BITS_WORDS(n) ((size_t)(((n) + 63) / 64) + 1)

/* Ones of a in [lo, hi), clipped to [0, a_len). */
uint64_t st_bits_count(const uint64_t *a, int a_len, int lo, int hi);
/* Copy bits [pos, pos + len) of a into out[0 .. ceil(len / 64)), bit 0
 * first; positions outside [0, a_len) read as zero. pos may be negative. */
void st_bits_extract(const uint64_t *a, int a_len, int pos, int len, uint64_t *out);
/* Set bit i. */
static inline void st_bits_set(uint64_t *a, int i)
{
    a[i >> 6] |= (uint64_t)1 << (i & 63);
}

/* ------------------------------------------------------------- geometry */

/* A compute layer seen by the engine: one convolution per group. An FC
 * layer becomes a convolution of a 1 x batch x N_in "image" (one row per
 * image of the batch) with M kernels of 1 x N_in, so its images share the
 * array's rows instead of running one after another. */
typedef struct st_geom {
    int fc;
    int groups;
    int C, IH, IW; /* per group: input channels */
    int M, OH, OW; /* per group: output channels */
    int KH, KW, SH, SW, PT, PL;
    int passes; /* independent repetitions: batch for CONV, 1 for FC */
} st_geom;

void st_geom_of(const st_layer *l, int batch, st_geom *g);

/* How one phase of a layer is laid on the array and into the buffers. */
typedef struct st_map {
    int seg;        /* output positions per PE (FP, BP); OW for WG */
    int pieces;     /* kernel rows longer than kreg_len are split in pieces */
    int taps;       /* taps of a full piece */
    double refetch; /* DRAM traffic factor of the streamed operand (>= 1) */
} st_map;

/* Plan phase ph of layer l (geometry g) on pt. `compressed` says whether
 * the streamed operand is stored compressed (zero skipping on). Fails with
 * ST_EINVAL naming the layer and the buffer too small for the smallest tile. */
int st_map_plan(const st_layer *l, const st_geom *g, const st_point *pt, st_phase ph,
                int compressed, st_map *m, st_err *err);
/* Bits of n positions holding z non-zeros, stored compressed (the format of
 * pt) or dense. */
double st_map_bits(const st_point *pt, uint64_t n, uint64_t z, int compressed);

/* ------------------------------------------------------------- pruning */

/* st_prune in two halves, for a caller that prunes part of a tensor with a
 * threshold it estimated itself (sparsity.c, st_sparsity_rows).
 * st_prune_threshold: the threshold st_prune derives from the statistic
 * mean_abs (mean|g| over the counted elements), Phi^-1((1 + p) / 2) *
 * sigma_scale * mean_abs rounded to float, into *tau. Fails with ST_EINVAL
 * on the options st_prune rejects, a mean_abs that is NaN or negative, or a
 * threshold beyond the float range; *tau is then untouched. */
int st_prune_threshold(const st_prune_opts *opts, double mean_abs, float *tau, st_err *err);

/* The rule of st_prune for one threshold tau >= 0, prepared once for many
 * runs: st_prune_rule_init fills it. */
typedef struct st_prune_rule {
    float tau;
    double scale;     /* 256 / tau, 0 when tau = 0 */
    double edge[257]; /* edge[b] = b tau / 256 */
} st_prune_rule;
void st_prune_rule_init(st_prune_rule *r, float tau);

/* st_prune_apply: the rule r on g[0..n) (all finite) into out[0..n) (which
 * may be g), element k drawing position first + k of the stream (seed,
 * stream). Pruning the runs of a tensor, each with its offset and the same
 * rule, gives on every element what st_prune gives with that tau. Returns
 * the exact zeros of out. */
uint64_t st_prune_apply(const st_prune_rule *r, const float *g, float *out, size_t n, uint64_t seed,
                        uint64_t stream, uint64_t first);

#endif
