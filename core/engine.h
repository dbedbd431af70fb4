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

/* 64 bits of row a starting at bit pos (pos >= 0, inside the row or just
 * past it; the trailing zero word makes the second read safe). */
static inline uint64_t st_bits_window(const uint64_t *a, int pos)
{
    int w = pos >> 6, b = pos & 63;
    uint64_t lo = a[w] >> b;
    return b ? lo | (a[w + 1] << (64 - b)) : lo;
}

/* Ones of a in [lo, hi), clipped to [0, a_len). */
uint64_t st_bits_count(const uint64_t *a, int a_len, int lo, int hi);

/* Copy bits [pos, pos + len) of a into out[0 .. ceil(len / 64)), bit 0
 * first; positions outside [0, a_len) read as zero. pos may be negative.
 * Inline: the kernels call it for every row of every step. */
static inline void st_bits_extract(const uint64_t *a, int a_len, int pos, int len, uint64_t *out)
{
    int nw = (len + 63) / 64;

    for (int w = 0; w < nw; w++) {
        int p = pos + 64 * w;
        uint64_t v;
        if (p >= a_len || p <= -64)
            v = 0;
        else if (p < 0)
            v = st_bits_window(a, 0) << (-p);
        else
            v = st_bits_window(a, p);
        out[w] = v;
    }
    if (len & 63)
        out[nw - 1] &= ((uint64_t)1 << (len & 63)) - 1;
}
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
    int seg;      /* output positions per PE (FP, BP); OW for WG */
    int pieces;   /* kernel rows longer than kreg_len are split in pieces */
    int taps;     /* taps of a full piece */
    uint64_t win; /* FP, BP: positions of the streamed window of one channel */
    double spill; /* FP, BP: traffic factor of the streamed operand when that window
                     does not fit in half of ch0 (every step fetches its rows) */
} st_map;

/* Plan phase ph of layer l (geometry g) on pt. `compressed` says whether
 * the streamed operand may be stored compressed (zero skipping on): a step
 * must then fit in the worst case of the fixed format, or of dense storage
 * under format = auto (a tensor is stored compressed only where that is
 * smaller). Fails with ST_EINVAL naming the layer and the buffer too small
 * for the smallest tile. */
int st_map_plan(const st_layer *l, const st_geom *g, const st_point *pt, st_phase ph,
                int compressed, st_map *m, st_err *err);

/* ------------------------------------------------------------- storage */

/* Bits of n positions holding z non-zeros in storage s. */
double st_store_bits(const st_point *pt, st_store s, uint64_t n, uint64_t z);
/* Values a buffer holds of them: z when compressed, n when dense. */
uint64_t st_store_words(st_store s, uint64_t n, uint64_t z);
/* The storage of a tensor of n positions and z non-zeros: dense when it may
 * not be compressed, the format of pt when that is fixed, and under
 * format = auto the smallest of dense, offset and bitmap (dense on a tie). */
st_store st_store_pick(const st_point *pt, int compressed, uint64_t n, uint64_t z);

/* ---------------------------------------------------------------- cost */

/* The events of one tile visit, as the phase kernels count them: compute
 * cycles, MACs issued, and reads of the streamed operand (rd0: non-zeros,
 * pos0: positions) and of the second one (rd1, pos1; pos1 = rd1 for dense
 * weights). */
typedef struct st_visit {
    uint64_t cycles, work, rd0, pos0, rd1, pos1;
} st_visit;

/*
 * What a phase of one group of a layer did, for the cost module to turn
 * into traffic, stalls and energy. A phase is a set of visits (image b,
 * channel tile c, spatial tile s), B x nct x nsp, at index (b nct + c) nsp
 * + s. Two shapes:
 *   reduce (FP, BP, FC input gradient): every visit reduces over all input
 *     channels into its outputs. Operand 0 is the streamed tensor, one per
 *     image: n0/z0 the positions and non-zeros of the window of spatial
 *     tile s (B x nsp), img_n0/img_z0 of the whole tensor (B). Operand 1 is
 *     the weights, shared by the batch: n1 the weights of channel tile c
 *     (nct), dense.
 *   wg (WG): channel tile c is a tile of output channels, spatial tile s a
 *     tile of (input channel, kernel row, piece) triples; each visit
 *     reduces over the dZ rows of one image and the outputs add up over the
 *     batch. n0/z0 are the dZ rows of channel tile c (B x nct), n1/z1 the
 *     activation columns of triple tile s (B x nsp), img_* the whole tensors.
 * The output values of visit (c, s) are outc[c] x outsp[s] (channels times
 * positions; WG: output channels times the taps of the triples).
 */
typedef struct st_ledger {
    int wg;
    int B, nct, nsp;
    st_visit *v;
    uint64_t *n0, *z0, *img_n0, *img_z0;
    uint64_t *n1, *z1, *img_n1, *img_z1; /* z1, img_*1: wg only */
    /* visit (c, s) has outc[c] x outsp[s] output values */
    uint64_t *outc, *outsp;
    int skip0, skip1;   /* the operands may be stored compressed */
    int skip_out;       /* FP: the output may be (ReLU zeros) */
    double out_density; /* FP: expected density of the output */
    int out_bitmap;     /* BP: each output's bit of the output bitmap is read */
    uint64_t win;       /* reduce: streamed window of one channel, and its */
    double spill;       /* traffic factor when it does not fit in half of ch0 */
    int nred;           /* the length of a visit's reduction, which the mapper may split
                           into rounds: input channels (FP), dZ channels (BP), dZ rows
                           (WG); 1 where it may not be split (FC input gradient) */
} st_ledger;

/* Allocate lg's arrays for B x nct x nsp visits, zeroed; 0 or ST_ENOMEM.
 * With visits = 0 the visits' events (v) are left out (NULL): a ledger of
 * what the visits move only, for st_cost_bits. st_ledger_free frees them
 * and zeroes lg. */
int st_ledger_alloc(st_ledger *lg, int wg, int B, int nct, int nsp, int visits);
void st_ledger_free(st_ledger *lg);

/* The mapper and the memory model: choose the storage of each tensor and
 * the loop order with the least DRAM traffic (ties: fewer cycles), and add
 * the phase's compute and stall cycles, MACs, SRAM accesses, DRAM bytes
 * and its floor to *st (docs/engine.md, "Memory model"); order and store
 * are set. Fails with ST_EINVAL, naming the layer l and the phase, when a
 * transfer's time does not fit a cycle count. */
int st_cost_phase(const st_ledger *lg, const st_point *pt, const st_layer *l, st_phase ph,
                  st_phase_stats *st, st_err *err);
/* The fewest DRAM bits of any candidate of the mapper on lg (the bits
 * st_cost_phase would move, up to the order of floating-point sums), into
 * *bits, without walking the visits (lg->v is not read); 0 or ST_ENOMEM. */
int st_cost_bits(const st_ledger *lg, const st_point *pt, double *bits);
/* Fill the energy components of *s from its counts. */
void st_cost_energy(const st_point *pt, st_phase_stats *s);

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

/* ---------------------------------------------------- the engine's run */

/* Integer division rounding down, and up, for any sign of a (b > 0). */
static inline int st_floordiv(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static inline int st_ceildiv(int a, int b)
{
    return -st_floordiv(-a, b);
}

static inline int st_imin(int a, int b)
{
    return a < b ? a : b;
}

static inline int st_imax(int a, int b)
{
    return a > b ? a : b;
}

/* Step timing of one tile. Lock-step: every PE waits for the slowest at
 * every row step. FIFO: the operands of step s enter every PE's FIFO of
 * `depth` entries when all PEs have a free slot, i.e. have finished step
 * s - depth; a PE starts a step when it has finished the previous one and
 * the step has arrived. */
typedef struct st_timing {
    int fifo, depth, npe;
    long step;
    uint64_t now, arrive;
    uint64_t *fin;  /* npe */
    uint64_t *hist; /* depth x npe finish times */
} st_timing;

/* What the kernels count of one tile (a unit of work of a phase). */
typedef struct st_unit {
    uint64_t cycles, work, rd0, pos0, rd1, pos1;
} st_unit;

/* The state of one simulation: the layer, phase and group being run, and
 * the kernels' scratch space. */
typedef struct st_run {
    const st_point *pt;
    const st_layer *l;
    int li, pass;                  /* what is being run: for the sample's key */
    int sampled;                   /* only sampled rows exist: estimate tile traffic */
    int tm_keep;                   /* slices go on from the previous one's timing */
    uint64_t tm_base;              /* the tile's time when this call began */
    uint8_t *act_want, *grad_want; /* rows a sampled run needs, or NULL */
    struct st_sample *samples;     /* sampled fidelity: the sample of each group */
    struct st_sample *sm;          /* the sample of the group being run, or NULL */
    st_geom g;
    st_map map;
    st_timing tm;
    uint32_t *cyc;
    uint64_t *wa, *wb; /* scratch words of the inner loops */
    int *tri;          /* WG: (kernel row, piece, first row of its channel) of each PE row */
    size_t wa_cap, wb_cap;
    st_unit *units;
    size_t units_cap;
    st_phase_stats *st;
    st_ledger *lgs;                   /* per group, variant (run, dense) and phase */
    st_point *shapes;                 /* smaller arrays the mapper may use, nshapes of them */
    int nshapes;                      /* (pe_subarrays) */
    st_ledger *sub;                   /* per ledger of lgs, what its visits move on each shape */
    int bytes_only;                   /* fill a ledger of what the visits move, no kernels */
    int redo;                         /* a run again on a smaller array chosen */
    st_ledger *lg;                    /* the one being filled, at image b */
    int b, gi;                        /* and the group being run */
    const double *aux_act, *aux_grad; /* the source's channel densities, or NULL */
} st_run;

/*
 * The sample of a sampled layer. Its rows cost most (the sparsity model
 * draws them, the engine turns them into bit rows), so the three phases
 * share one sample of channels: a systematic sample of sample_fraction of
 * the PE-column tiles of input channels (at least one) and of output
 * channels (at least one), plus a partial last tile. Only the rows of the
 * sampled channels are generated.
 *   FP: every tile, the slices (input channels) of the sampled channels.
 *   BP: the tiles of the sampled input-channel tiles, the slices (dZ
 *       channels) of the sampled output channels.
 *   WG: the tiles of the sampled output-channel tiles crossed with the
 *       triple tiles (input channel, kernel row, piece) that lie inside the
 *       sampled input channels, every slice (dZ row); triple tiles are added
 *       (and their channels sampled) until every kind of triple tile (its
 *       first kernel row and piece, and whether it is full) has one.
 * A tile that is not simulated has the mean time of the simulated tiles of
 * its stratum: the tiles with the same geometry (the same rows, segment and
 * column count in BP, the same kind of triple tile and column count in WG).
 */
typedef struct st_sample {
    uint8_t *cin, *cout; /* C, M: channels simulated, whose rows are generated */
    uint8_t *ct, *mt;    /* tiles of Cc input, of Cc output channels simulated */
    uint8_t *tt;         /* WG triple tiles simulated */
} st_sample;

/* What st_drive() simulates of a phase: the units flagged in u_on (NULL: all)
 * and in each the slices flagged in s_on (NULL: all); a unit left out takes
 * the mean of the simulated units of its stratum key(u) < nkeys. */
typedef struct st_plan {
    const uint8_t *u_on, *s_on;
    size_t (*key)(const st_run *r, size_t u);
    size_t nkeys;
    /* What the work of each unit and slice is expected to be relative to
     * the others (from the source's channel densities), or NULL: then the
     * work of what is not simulated is estimated by ratio to it instead of
     * by count. */
    const double *u_aux, *s_aux;
    /* Shortcuts where the masks make work repeat (every run, both
     * fidelities): same[u] < u is a unit whose events unit u has too (its
     * operands are all ones where they differ), or NULL; slices_same says
     * that every slice of a unit does the same steps, so that under
     * lock-step one is simulated and counted n_slices times. */
    const size_t *same;
    int slices_same;
} st_plan;

/* Simulate slices [s_lo, s_hi) of the reduction loop of tile unit u,
 * adding cycles, work and reads to *acc. */
typedef void (*st_slice_fn)(st_run *r, const void *ctx, size_t u, int s_lo, int s_hi, st_unit *acc);

/* Free what a sample holds and zero it. */
void st_sample_free(st_sample *sm);
/* Flag with 1 a systematic sample, from a seeded offset (seed, stream), of
 * fraction f (at least one) of the full ones of n tiles, and with 2 the
 * last tile when partial_last says it is partial. */
void st_sample_pick(uint8_t *on, int n, double f, int partial_last, uint64_t seed, uint64_t stream);
/* Make the sample of group gi of the layer r runs, for its current pass;
 * 0 or ST_ENOMEM. */
int st_sample_make(st_run *r, int gi, st_sample *sm);
/* Run the n units of a phase, each a reduction over n_slices slices that
 * fn simulates, into r->units: all of them (exact fidelity, or no plan),
 * or what pl asks for, the rest estimated (sample.c). 0 or ST_ENOMEM. */
int st_drive(st_run *r, size_t n, int n_slices, st_slice_fn fn, const void *ctx, const st_plan *pl);

#endif
