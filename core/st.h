/*
 * st.h - the public interface of the SparseTrain core library.
 * Workloads, the stochastic gradient pruning, and the sparsity model.
 * Plain C11 over libc and libm: no Lua, MPI or HDF5 may appear here.
 */
#ifndef ST_H
#define ST_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ errors */

/* Return codes of fallible functions: 0 is success, the rest are negative. */
enum {
    ST_OK = 0,
    ST_ENOMEM = -1, /* allocation failed */
    ST_EINVAL = -2, /* bad input: a parameter, a shape, a value */
    ST_EIO = -3,    /* a file could not be read or written */
    ST_EFORMAT = -4 /* a file was read but its content is malformed */
};

/* Where a fallible function leaves its message. The caller owns it and may
 * pass NULL when it does not care about the text. */
typedef struct st_err {
    int code;
    char msg[512];
} st_err;

/* Record code and a printf-style message in err (which may be NULL); return
 * code so that callers can write `return st_err_set(err, ST_EINVAL, ...)`.
 * The arguments may point into err->msg: "outer: %s", err->msg wraps a message. */
int st_err_set(st_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Reset err to "no error". NULL is accepted. */
void st_err_clear(st_err *err);

/* ------------------------------------------------------- random numbers */

/* Philox4x32-10, the counter-based generator of Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC'11. Pure function of key and
 * counter: the same (key, counter) gives the same four words on any rank,
 * in any order. */
void st_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A uniform double in [0, 1) with 53 random bits, from the 64-bit key `seed`
 * and the 128-bit counter (a, b). */
double st_rng_uniform(uint64_t seed, uint64_t a, uint64_t b);

/* A standard normal deviate from the same key and counter. */
double st_rng_normal(uint64_t seed, uint64_t a, uint64_t b);

/* The four words of Philox4x32-10 for the 64-bit key `seed` and the 128-bit
 * counter (a, b): key = (seed low, seed high), counter = (a low, a high,
 * b low, b high). st_rng_uniform and st_rng_normal are built on it. */
void st_rng_block(uint64_t seed, uint64_t a, uint64_t b, uint32_t out[4]);

/* Runs of positions of one stream (seed, a), for tensors: element i of a
 * tensor is position i, and out[k] belongs to position first + k. A value
 * depends on (seed, a, i) only, so any split of a range, computed in any
 * order, gives the same values. Positions must lie below 2^63. One stream
 * serves one of these functions only, and not st_rng_uniform or
 * st_rng_normal either: their blocks overlap.
 *
 * st_rng_words: position i is word i % 4 of st_rng_block(seed, a, i / 4).
 * As a uniform, w / 2^32 lies on the grid {0, 2^-32, ..., 1 - 2^-32}. */
void st_rng_words(uint64_t seed, uint64_t a, uint64_t first, size_t n, uint32_t *out);

/* st_rng_bytes: position i is byte i % 16 of st_rng_block(seed, a, i / 16),
 * bits 8 (i % 4) to 8 (i % 4) + 7 of word (i % 16) / 4. With st_rng_tie it
 * makes Bernoulli draws that read one byte per position: position i's
 * uniform is u = (b + w / 2^32) / 256, b its byte and w =
 * st_rng_tie(seed, a, i). For p in [0, 1] and t = 256 p, u < p iff
 * b < floor(t), or b = floor(t) and w < (t - floor(t)) 2^32, so w is needed
 * in one position of 256 only. u lies on a grid of step 2^-40:
 * P(u < p) = ceil(2^40 p) / 2^40, within 2^-40 of p. */
void st_rng_bytes(uint64_t seed, uint64_t a, uint64_t first, size_t n, uint8_t *out);

/* The word that refines position i's byte: word 0 of st_rng_block(seed, a,
 * ~i), a block that no position's bytes use (those are below 2^59). */
uint32_t st_rng_tie(uint64_t seed, uint64_t a, uint64_t i);

/* st_rng_normals: standard normal deviates, by a ziggurat (Marsaglia and
 * Tsang, 2000) on position i's word of st_rng_words; the 2.8% of positions
 * that need more also read the block st_rng_block(seed, a, ~i). Every
 * deviate has 0 < |z| < 8.7. */
void st_rng_normals(uint64_t seed, uint64_t a, uint64_t first, size_t n, double *out);

/* Compose a counter word from small identifiers: (layer, phase, kind) keys. */
#define ST_RNG_STREAM(layer, image, what) \
    (((uint64_t)(uint32_t)(layer) << 32) | ((uint64_t)(uint16_t)(image) << 16) | (uint16_t)(what))

/* ------------------------------------------------------------ statistics */

/* The standard normal distribution function Phi(x). */
double st_norm_cdf(double x);

/* Its inverse, Phi^-1(q), for q in (0, 1); accurate to a few ulps.
 * Returns NaN outside (0, 1). */
double st_norm_quantile(double q);

/* -------------------------------------------------------------- workloads */

typedef enum st_kind {
    ST_CONV = 0,
    ST_FC,
    ST_MAXPOOL,
    ST_AVGPOOL,
    ST_RELU,
    ST_BN,
    ST_ADD,
    ST_GAP,
    ST_KIND_COUNT
} st_kind;

/* The three phases of one training iteration. */
typedef enum st_phase { ST_FP = 0, ST_BP = 1, ST_WG = 2, ST_PHASE_COUNT = 3 } st_phase;

/* Operations that may stand between two compute layers (flags). A compute
 * layer's `pre` holds those between its producer and its input, its `post`
 * those after its output up to the next compute layer(s). They decide where
 * natural zeros appear: see st_sparsity below. */
enum {
    ST_OP_RELU = 1u << 0,
    ST_OP_BN = 1u << 1,
    ST_OP_MAXPOOL = 1u << 2,
    ST_OP_AVGPOOL = 1u << 3,
    ST_OP_GAP = 1u << 4,
    ST_OP_ADD = 1u << 5
};

#define ST_NAME_MAX 48
/* Layers of one network at most: every layer costs a row in each per-layer table of a
 * run, and a million is far beyond any CNN (ResNet-152 has under a thousand). */
#define ST_NET_LAYERS_MAX 1000000

/* One layer. Shapes are per image (batch is a property of the run).
 * in_* is the input tensor, out_* the output; for FC, in_h = in_w = 1 is not
 * required: an FC layer flattens in_c x in_h x in_w. Padding is given per
 * side (top, bottom, left, right) because imported layer lists need
 * asymmetric padding. src[0], src[1] are the producing layers (-1 is the
 * network input, ST_UPSTREAM a tensor computed by layers the network does
 * not describe; src[1] is only used by ST_ADD). */
typedef struct st_layer {
    char name[ST_NAME_MAX];
    st_kind kind;
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int k_h, k_w;
    int stride_h, stride_w;
    int pad_t, pad_b, pad_l, pad_r;
    int groups;
    int src[2];
    unsigned pre;  /* ops between the previous compute layer and this input */
    unsigned post; /* ops after this output, up to the next compute layer */
    int first;     /* 1 for a compute layer fed by the network input: no BP */
} st_layer;

typedef struct st_net st_net;

/* Create an empty network whose input is c x h x w. *out is set to NULL
 * first, then to the new network on success. */
int st_net_create(const char *name, int c, int h, int w, st_net **out, st_err *err);

/* Free a network; accepts NULL and sets *net to NULL. */
void st_net_destroy(st_net **net);

/* Append layers. `src` is the index of the producing layer, -1 for the
 * network input, or ST_PREV for the last layer appended. Each validates its
 * shapes and fails with a message naming the layer and the bad value; on
 * failure the network is unchanged. On success the new layer's index is
 * returned (>= 0). Convolutions use symmetric padding; st_net_conv_ex takes
 * it per side. */
#define ST_PREV (-2)
/* A source outside the description: see st_net_relu_at. */
#define ST_UPSTREAM (-3)
int st_net_conv(st_net *net, const char *name, int src, int out_c, int k, int stride, int pad,
                int groups, st_err *err);
int st_net_conv_ex(st_net *net, const char *name, int src, int out_c, int k_h, int k_w,
                   int stride_h, int stride_w, int pad_t, int pad_b, int pad_l, int pad_r,
                   int groups, st_err *err);
/* Append a convolution that reads its own input tensor of shape
 * in_c x in_h x in_w instead of another layer's output (its src is -1), as
 * the independent rows of an imported layer list do. Implemented in net.c. */
int st_net_conv_at(st_net *net, const char *name, int in_c, int in_h, int in_w, int out_c,
                   int k_h, int k_w, int stride_h, int stride_w, int pad_t, int pad_b, int pad_l,
                   int pad_r, st_err *err);
int st_net_fc(st_net *net, const char *name, int src, int out_features, st_err *err);
int st_net_pool(st_net *net, const char *name, int src, st_kind kind, int k, int stride, int pad,
                st_err *err);
int st_net_relu(st_net *net, const char *name, int src, st_err *err);
/* Append a ReLU whose input is a c x h x w tensor computed upstream by
 * layers the network does not list (its src[0] is ST_UPSTREAM): the input
 * of an imported row that the previous row's output does not chain into.
 * A compute layer fed through it is not `first` (upstream layers need its
 * input gradient), and its input zeros are this ReLU's. Implemented in
 * net.c; errors as for st_net_conv_at. */
int st_net_relu_at(st_net *net, const char *name, int c, int h, int w, st_err *err);
int st_net_bn(st_net *net, const char *name, int src, st_err *err);
int st_net_add(st_net *net, const char *name, int src0, int src1, st_err *err);
int st_net_gap(st_net *net, const char *name, int src, st_err *err);

/* Derive every compute layer's `pre`, `post` and `first` from the graph.
 * Called by the built-in constructors and the importer; call it after
 * building a network by hand. Idempotent. */
int st_net_finish(st_net *net, st_err *err);
/* The layers that read layer t's output (as src[0], or src[1] of an ADD), in increasing
 * order: their count, with *list pointing into net (valid until net changes). -1 (and
 * *list NULL) when t is out of range or layers were added since the last st_net_finish,
 * which builds the index: the caller then scans the later layers itself. */
int st_net_consumers(const st_net *net, int t, const int **list);

/* Accessors. Pointers are borrowed and stay valid until the next append or
 * st_net_destroy. */
const char *st_net_name(const st_net *net);
int st_net_count(const st_net *net);
const st_layer *st_net_layer(const st_net *net, int i);

/* Is this kind a compute layer (one that runs on the MAC array)? */
int st_kind_is_compute(st_kind kind);
const char *st_kind_name(st_kind kind);
const char *st_phase_name(st_phase phase);

/* Dense MAC counts for one image.
 * st_layer_macs: the conventional count (every kernel tap of every output,
 * padding included), the one published tables use; BP of a `first` layer and
 * every phase of a non-compute layer count 0.
 * st_layer_macs_valid: only the taps whose input lies inside the unpadded
 * tensor, which is what a zero-free 1-D engine must issue in dense mode. */
uint64_t st_layer_macs(const st_layer *l, st_phase phase);
uint64_t st_layer_macs_valid(const st_layer *l, st_phase phase);
uint64_t st_net_macs(const st_net *net, st_phase phase);
/* Elements (per image) of a layer's input and output tensors, and weights. */
uint64_t st_layer_in_elems(const st_layer *l);
uint64_t st_layer_out_elems(const st_layer *l);
uint64_t st_layer_weights(const st_layer *l);

/* Built-in networks: "alexnet", "vgg16", "resnet18", "resnet34", "resnet50",
 * and the two 28x28 one-channel networks "fmnist-cnn" (Conv-ReLU-Pool) and
 * "fmnist-resnet" (Conv-BN-ReLU with residual blocks). */
int st_net_builtin(const char *name, st_net **out, st_err *err);
/* The names, NULL-terminated; borrowed, static. */
const char *const *st_net_builtin_names(void);

/* Load a SCALE-Sim layer list (CSV). Each row becomes a convolution with the
 * output size SCALE-Sim computes, ceil((H - R) / S) + 1, so the MAC totals
 * match SCALE-Sim's; the padding that implies goes at the bottom and right.
 * The rows form a chain: the first reads the network input (dense, no BP);
 * every other row has BP and reads a ReLU output, the previous row's ReLU
 * when its output shape is this row's input shape, else a ReLU named
 * "input.<line>" fed from upstream (st_net_relu_at); every row but the last
 * is followed by a ReLU named "relu.<line>" (docs/lua-api.md, "Layer
 * lists", says what an import assumes). A 9th column whose header starts with "Stride" is the
 * stride width. The network is named after the
 * file without ".csv"; *out is set to NULL first and owned by the caller.
 * Malformed files fail with ST_EFORMAT naming the file, line and field, an
 * unreadable one with ST_EIO and the system's reason. */
int st_topo_load(const char *path, st_net **out, st_err *err);

/* st_topo_load's two halves, for a layer list that travels as text.
 * st_topo_read_file: read the file at path into *text (NUL-terminated, len
 * bytes without the NUL; the caller frees it); ST_EIO with the system's
 * reason, ST_ENOMEM. st_topo_parse: build the network from len bytes of
 * text as st_topo_load does, path naming it in messages and naming the
 * network; the same errors but ST_EIO. */
int st_topo_read_file(const char *path, char **text, size_t *len, st_err *err);
int st_topo_parse(const char *path, const char *text, size_t len, st_net **out, st_err *err);

/* ---------------------------------------------------------------- pruning */

/* The open choices of the stochastic pruning (docs/pruning.md). */
typedef struct st_prune_opts {
    double p;           /* target pruning rate, in [0, 1) */
    double sigma_scale; /* sigma = sigma_scale * mean|g|; sqrt(pi/2) for a normal law */
    int skip_zeros;     /* 1: exact zeros are left out of mean|g| */
} st_prune_opts;

/* Fill opts with the defaults of the parameter table's rows p, prune_sigma_scale and
 * prune_skip_zeros: p = 0, sigma_scale = sqrt(pi/2), skip_zeros = 0. */
void st_prune_opts_init(st_prune_opts *opts);

/* What one pruning call measured. */
typedef struct st_prune_stats {
    double tau;        /* the threshold used */
    double mean_abs;   /* the statistic it came from */
    uint64_t n;        /* elements */
    uint64_t zeros_in; /* exact zeros before */
    uint64_t zeros;    /* exact zeros after */
} st_prune_stats;

/* Prune g[0..n) into out[0..n) (out may equal g). Element i draws its random
 * number from position i of the stream (seed, stream), its byte of
 * st_rng_bytes refined by st_rng_tie, so the result does not depend on the
 * order in which elements are visited; the probability |g| / tau of the
 * rule is resolved to 2^-40. Fails with ST_EINVAL, leaving out
 * untouched, on NaN or infinite input, or p or sigma_scale outside the
 * bounds of their rows p and prune_sigma_scale in the parameter table (the
 * message is st_param_check's). stats may be NULL. */
int st_prune(const float *g, float *out, size_t n, const st_prune_opts *opts, uint64_t seed,
             uint64_t stream, st_prune_stats *stats, st_err *err);

/* The zero fraction the rule gives on an exactly normal tensor whose sigma
 * is known: p - sqrt(2/pi) (1 - exp(-z^2/2)) / z, z = Phi^-1((1+p)/2). */
double st_prune_zero_fraction_normal(double p);

/* -------------------------------------------------------------- sparsity */

/* Laws the statistical model draws raw gradient values from. */
typedef enum st_law { ST_LAW_NORMAL = 0, ST_LAW_LAPLACE, ST_LAW_LOGNORMAL, ST_LAW_COUNT } st_law;
/* The law's name ("normal", "laplace", "lognormal": the choices of the
 * parameter grad_law); "unknown" when out of range. Static storage.
 * Implemented in param.c, with st_law_parse. */
const char *st_law_name(st_law law);
/* Parse a law name; returns -1 when unknown. */
int st_law_parse(const char *name);

/* Parameters of the statistical sparsity model (docs/sparsity.md). */
typedef struct st_sparsity_cfg {
    uint64_t seed;
    st_prune_opts prune;
    int prune_first;       /* prune dZ of layers fed by the network input */
    int prune_fc;          /* prune dZ of fully connected layers */
    st_law grad_law;       /* law of raw dZ values */
    double lognormal_sigma;/* shape of the lognormal magnitude law */
    double relu_density;   /* density of every ReLU output, in (0, 1] */
    const double *relu_density_by_layer; /* optional, per layer index; <= 0 means default */
    /* optional, per layer index: lognormal_sigma of that compute layer's dZ when grad_law is
     * lognormal; <= 0 means lognormal_sigma (a calibration sets it, calib.c) */
    const double *lognormal_sigma_by_layer;
    double channel_cv;     /* coefficient of variation of per-channel density */
    double spatial_corr;   /* in [0, 1): correlation of zeros inside a block */
    int spatial_block;     /* block edge (elements) of that correlation */
} st_sparsity_cfg;

/* Fill cfg with the parameter table's defaults (st_point_init, st_point_sparsity);
 * relu_density_by_layer is NULL. Implemented in param.c. */
void st_sparsity_cfg_init(st_sparsity_cfg *cfg);

/* Check every field that is a parameter against its row of the table (st_param_check),
 * in table order; fail with the table's message naming the parameter and its value,
 * "relu_density = 0: must be in (0, 1]". Implemented in param.c. */
int st_sparsity_cfg_check(const st_sparsity_cfg *cfg, st_err *err);

/* The zero masks of one compute layer for one image: 1 marks a non-zero.
 * act_in: the layer's input activations (FP streamed operand, WG bitmap; its
 * zeros are also the BP output positions that need no computation).
 * grad: dZ after the natural mask and the pruning (BP streamed operand, WG
 * streamed operand). Buffers are owned by the struct. */
typedef struct st_layer_masks {
    int layer;
    uint8_t *act_in; /* in_c x in_h x in_w */
    uint8_t *grad;   /* out_c x out_h x out_w */
    size_t act_cap, grad_cap;
    double act_density, grad_density_natural, grad_density;
    double tau;
    /* What the source expects of each channel's density, relative to the
     * others (in_c of act_in, out_c of grad), without drawing it: a sampled
     * run weighs the channels it does not draw by it. chan_known = 0 when
     * the source has no such figure; a source leaves it 0 by default. */
    double *act_chan, *grad_chan;
    size_t achan_cap, gchan_cap;
    int chan_known;
} st_layer_masks;

/* init: no buffers, layer -1. fini: free the buffers and init again. Both
 * accept NULL. */
void st_layer_masks_init(st_layer_masks *m);
void st_layer_masks_fini(st_layer_masks *m);
/* Make room in m for act values of act_in and grad of grad (what a mask
 * source fills), keeping the buffers when they are large enough. Fails with
 * ST_ENOMEM, the buffers then as they were. */
int st_layer_masks_reserve(st_layer_masks *m, size_t act, size_t grad, st_err *err);

/* Compute the masks of compute layer `layer` for image `image` of the
 * batch. A pure function of (net, cfg, layer, image): any rank, any order,
 * gives the same masks. m's buffers grow as needed and are reused. Fails
 * with ST_EINVAL on a bad cfg, a layer out of range or not a compute
 * layer, an image outside [0, 65535], or a relu_density_by_layer entry
 * that is NaN or > 1 (that array, when given, needs an entry per layer of
 * net); ST_ENOMEM when out of memory. On failure m->layer is -1. */
int st_sparsity_layer(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                      st_layer_masks *m, st_err *err);

/* Compute st_sparsity_layer's masks on some rows only, for a sampled run
 * that reads a few rows of each tensor. act_want flags rows of act_in (in_c
 * x in_h rows of in_w), grad_want rows of grad (out_c x out_h rows of
 * out_w): one byte per row, any non-zero byte meaning wanted; NULL wants
 * every row. The arrays are read, not validated: they must hold that many
 * bytes. Only what the wanted rows depend on is drawn (through a pool, the
 * source rows of its windows; for the max-pool arg-max, the ReLU rows of the
 * windows that cover a wanted gradient row).
 * act_in: every wanted row is bit for bit st_sparsity_layer's.
 * grad: the generated rows are the wanted ones, plus, when the layer is
 * pruned with p > 0 and the wanted rows hold fewer than 4096 positions, the
 * rows floor(k R / need), k < need = ceil(4096 / out_w), R the rows of grad
 * (all of them when need >= R); and all R rows when that makes more than
 * half of them (the whole tensor then costs less). Their natural mask is
 * st_sparsity_layer's, and the pruning draws the same random number at each
 * position, but tau comes from mean|g| over the generated rows, an estimate
 * of the tensor's: unbiased when the rows are chosen without regard to the
 * values, with a relative standard error near cv / sqrt(n) for n generated
 * positions, cv being the coefficient of variation of |g| natural zeros
 * included (0.76 for a dense normal dZ, 1.46 behind a ReLU of density 0.5),
 * more when rows differ in density. A relative error e of tau moves the
 * density after pruning by at most about e (0.36 e for a dense normal dZ at
 * p = 0.9); the pruned rows are a subset of st_sparsity_layer's when tau
 * comes out larger, a superset when smaller (docs/sparsity.md).
 * Rows not generated are 0. act_density, grad_density_natural and
 * grad_density are measured over the generated rows, tau is the threshold
 * used. When every row of grad is generated (grad_want NULL, or the rules
 * above), grad, its densities and tau are st_sparsity_layer's exactly.
 * Errors, purity and ownership as for st_sparsity_layer; messages about
 * NULL arguments name st_sparsity_rows. */
int st_sparsity_rows(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                     const uint8_t *act_want, const uint8_t *grad_want, st_layer_masks *m,
                     st_err *err);

/* ------------------------------------------------------- design points */

/* Value types of design-point parameters. */
typedef enum st_ptype { ST_PT_INT = 0, ST_PT_REAL, ST_PT_BOOL, ST_PT_ENUM } st_ptype;

/* Every setting of one design point: the architecture, its technology
 * figures (energy, area), the workload run on it and the sparsity model.
 * Each field is one row of the parameter table (param.c); nothing else
 * reads or writes these fields by name. */
typedef struct st_point {
    /* workload */
    int batch;
    /* PE array */
    int pe_rows, pe_cols, macs_per_pe;
    int kreg_len, oreg_len;
    /* on-chip buffers */
    double ch0_kib, ch1_kib, ch2_kib;
    /* DRAM and clock */
    double dram_gbps, dram_latency_ns, clock_mhz;
    int pe_subarrays; /* the mapper may use a smaller array than pe_rows x pe_cols */
    /* formats */
    int data_bits, index_bits, psum_bits;
    int format; /* ST_FMT_* */
    /* synchronisation */
    int sync; /* ST_SYNC_* */
    int fifo_depth;
    int step_overhead;
    /* zero skipping, per phase and kind */
    int skip_fp_stream, skip_bp_stream, skip_bp_output, skip_wg_stream, skip_wg_operand;
    /* pruning and sparsity model */
    double p, prune_sigma_scale;
    int prune_skip_zeros, prune_first, prune_fc;
    int grad_law; /* st_law */
    double lognormal_sigma, relu_density, channel_cv, spatial_corr;
    int spatial_block;
    int seed;
    int sparsity; /* ST_SPARSITY_*: the parameters above, or the calibration */
    /* fidelity */
    int fidelity; /* ST_FID_* */
    double sample_fraction;
    /* energy (pJ) and power, area (mm^2) */
    double e_mac_pj, e_reg_pj, e_sram_ref_pj, sram_ref_kib, sram_exp;
    double e_dram_pj_per_bit, leak_mw_per_kib, leak_mw_per_mm2;
    double area_mac_mm2, area_reg_bit_mm2, area_sram_mm2_per_kib;
} st_point;

enum { ST_FMT_OFFSET = 0, ST_FMT_BITMAP = 1, ST_FMT_AUTO = 2 };
enum { ST_SYNC_LOCKSTEP = 0, ST_SYNC_FIFO = 1 };
enum { ST_FID_EXACT = 0, ST_FID_SAMPLED = 1 };
enum { ST_SPARSITY_DEFAULT = 0, ST_SPARSITY_CALIBRATED = 1 };

/* One row of the parameter table. */
typedef struct st_param {
    const char *name;
    st_ptype type;
    const char *unit;    /* "" when unitless */
    double min, max;     /* bounds, inclusive unless min_open/max_open; ENUM 0 .. count-1 */
    double def;          /* default */
    const char *const *choices; /* ENUM: NULL-terminated names */
    size_t offset;       /* of the field in st_point (int or double) */
    const char *group;   /* "array", "buffers", "energy", ... */
    const char *help;
    int min_open, max_open; /* 1: the bound itself is excluded, as in (0, 1] */
} st_param;

/* The table, and its length. Borrowed, static. */
const st_param *st_params(int *count);
/* The row called name, or NULL. */
const st_param *st_param_find(const char *name);
/* Fill pt with every default. */
void st_point_init(st_point *pt);
/* Set parameter `name` from text (a number, true/false, or an enum name).
 * Fails with ST_EINVAL naming the parameter and the value: unknown name,
 * wrong type, out of range. pt is unchanged on failure. */
int st_point_set(st_point *pt, const char *name, const char *value, st_err *err);
/* Set from a number (enums by index, bools 0/1); same checks. */
int st_point_set_num(st_point *pt, const char *name, double value, st_err *err);
/* Read a parameter as a double (ints, bools and enum indices convert). */
int st_point_get(const st_point *pt, const char *name, double *value, st_err *err);
/* Check every field against its row (so a point filled by code is checked
 * too), then the cross-field rules: psum_bits >= data_bits. */
int st_point_check(const st_point *pt, st_err *err);
/* Format a parameter's value as text (enum name, true/false, or the
 * shortest number that reads back to the same value). Always terminates
 * buf when size > 0; truncates to size - 1 characters. */
void st_point_format(const st_point *pt, const st_param *row, char *buf, size_t size);
/* Format a row's allowed values as text: "[1, 4096]", "[0, 1)",
 * "lockstep, fifo", "true, false". Same buffer contract as st_point_format. */
void st_param_format_range(const st_param *row, char *buf, size_t size);
/* Check value against row's type and bounds, as st_point_set_num does; the message
 * names the parameter and the value: "p = 1: must be in [0, 1)". */
int st_param_check(const st_param *row, double value, st_err *err);
/* Fill an st_sparsity_cfg from a point: the fields that are parameters (their rows pair
 * with the fields in param.c); relu_density_by_layer is NULL. */
void st_point_sparsity(const st_point *pt, st_sparsity_cfg *cfg);

/* ------------------------------------------------------------- simulation */

/* Energy components, in the order of st_phase_stats.energy_pj. */
typedef enum st_ecomp {
    ST_E_MAC = 0, /* multiply-accumulates issued */
    ST_E_REG,     /* PE register reads and writes (kernel row, output segment) */
    ST_E_CH0,     /* sparse buffer of the streamed operand */
    ST_E_CH1,     /* sparse buffer of the second operand */
    ST_E_CH2,     /* dense buffer of partial sums */
    ST_E_DRAM,    /* off-chip transfers */
    ST_E_LEAK,    /* leakage over the run time */
    ST_E_COUNT
} st_ecomp;
const char *st_ecomp_name(st_ecomp c);

/* What one phase of one layer (or a sum of them) cost. */
typedef struct st_phase_stats {
    uint64_t compute_cycles; /* cycles the array computes */
    uint64_t stall_cycles;   /* cycles it waits for DRAM */
    uint64_t dense_macs;     /* MACs of the dense computation (st_layer_macs_valid x batch) */
    uint64_t useful_macs;    /* MACs issued */
    uint64_t sram_rd[3];     /* accesses of ch0, ch1 (data words), ch2 (psum words) */
    uint64_t sram_wr[3];
    uint64_t dram_bytes;
    uint64_t dram_floor_bytes; /* compulsory traffic: every tensor of the phase read or
                                  written once, in the storage chosen for it */
    double energy_pj[ST_E_COUNT];
    /* One layer's phase only (0 in totals): the mapper's loop order (st_order_name) and
     * the storage of the streamed operand, the second operand and the output
     * (st_store_name), and the rounds it splits each visit's reduction into (1: none;
     * docs/engine.md, "Rounds"). */
    int order;
    int store[3];
    int rounds;
    /* The PEs in use, pe_rows x pe_cols of the array or of a smaller one the
     * mapper chose (docs/engine.md, "PEs in use"); 0 where the phase does not run. */
    int pe_rows, pe_cols;
} st_phase_stats;

/* Loop orders the mapper chooses from, per layer and phase (docs/engine.md,
 * "Memory model"). FP and BP: which operand stays on chip across the channel
 * tiles; WG: which operand is held, and whether the batch runs inside a tile. */
typedef enum st_order {
    ST_ORD_STREAM = 1, /* FP/BP: the streamed window held, every channel tile visits it */
    ST_ORD_WEIGHTS,    /* FP/BP: a block of weight tiles held, per image */
    ST_ORD_WEIGHTS_B,  /* FP/BP: a block of weight tiles held across the batch */
    ST_ORD_DZ,         /* WG: dZ rows of a channel tile held, per image */
    ST_ORD_ACT,        /* WG: activation rows of a triple tile held, per image */
    ST_ORD_DZ_B,       /* WG: the batch inside each tile, dZ rows held */
    ST_ORD_ACT_B,      /* WG: the batch inside each tile, activation rows held */
    ST_ORD_END
} st_order;
/* Storage of a tensor in a buffer and in DRAM. */
typedef enum st_store { ST_STORE_DENSE, ST_STORE_OFFSET, ST_STORE_BITMAP } st_store;
/* Names for reports: "stream", "weights", ...; "-" for 0 or out of range. */
const char *st_order_name(int order);
const char *st_store_name(int store);

/* Cycles of a phase: compute plus stall. */
uint64_t st_phase_cycles(const st_phase_stats *s);
/* Total energy of a phase, the sum of its components. */
double st_phase_energy_pj(const st_phase_stats *s);

/* One compute layer: each phase on the design point (run) and on the same
 * hardware with zero skipping switched off (dense). */
typedef struct st_layer_stats {
    int layer; /* index in the network */
    st_phase_stats run[ST_PHASE_COUNT], dense[ST_PHASE_COUNT];
    double act_density, grad_density; /* averaged over the batch */
} st_layer_stats;

typedef struct st_result {
    int nlayers; /* compute layers */
    st_layer_stats *layers;
    st_phase_stats run, dense; /* totals over layers and phases */
    st_phase_stats run_phase[ST_PHASE_COUNT], dense_phase[ST_PHASE_COUNT];
    double speedup;        /* dense cycles / run cycles */
    double energy_gain;    /* dense energy / run energy */
    double area_mm2;
    double time_s;         /* one iteration on the design point */
    double images_per_s;   /* training throughput at the clock */
} st_result;

void st_result_init(st_result *r);
void st_result_fini(st_result *r);

/* Simulate one training iteration (FP, BP and WG of every compute layer for
 * pt->batch images) of net on design point pt. Fills res (whose previous
 * content is released). Fails with ST_EINVAL on an invalid point or a
 * layer that cannot be mapped (the message names the layer and the buffer
 * that is too small), ST_ENOMEM on allocation failure. Deterministic: the
 * same inputs give the same result, in any order and on any rank. */
int st_sim_run(const st_net *net, const st_point *pt, st_result *res, st_err *err);

/* Check that every real-valued figure of res (totals, phases, layers: energies, ratios,
 * area, time, throughput, densities) is a finite number, so that no
 * program prints NaN or infinity where it promises a number. Fails with ST_EINVAL naming
 * the first figure that is not and its value; pt, when not NULL, is quoted in the message
 * for the parameters the energy model divides and raises to a power by. */
int st_result_check(const st_result *res, const st_point *pt, st_err *err);

/* Where the engine takes its zero masks from: fill m for compute layer
 * `layer` and image `image` (act_in, grad and the densities), or fail with a
 * message. act_want and grad_want, when not NULL, flag (one byte per row)
 * the rows of act_in (in_c x in_h rows of in_w) and of grad (out_c x out_h
 * rows of out_w) that a sampled run will read: a source may fill only those.
 * The statistical model is one source; traces recorded by the trainer and
 * hand-built masks in the tests are others. */
typedef int (*st_mask_fn)(void *ctx, const st_net *net, int layer, int image,
                          const uint8_t *act_want, const uint8_t *grad_want, st_layer_masks *m,
                          st_err *err);

/* st_sim_run with masks from fn(ctx, ...) instead of the statistical model
 * (whose parameters in pt are then ignored). */
int st_sim_run_src(const st_net *net, const st_point *pt, st_mask_fn fn, void *ctx,
                   st_result *res, st_err *err);

/* ------------------------------------------------------------ calibration */

/* A calibration of the statistical model, fitted from training traces (stcalib,
 * docs/sparsity.md): per family of networks (plain Conv-ReLU, or with batch norm), ReLU
 * output densities and the lognormal shape of dZ, each as points (relative depth, value)
 * of one group of layers. A network takes its family's values by relative depth within
 * each group, linearly interpolated (calib.c). */
enum { ST_CALIB_FAMILY_PLAIN = 0, ST_CALIB_FAMILY_BN = 1, ST_CALIB_FAMILY_COUNT };
/* The groups: ReLUs whose producer is a convolution (through BN or an add) or an FC
 * layer; and compute layers, convolutions or FC. */
enum {
    ST_CALIB_RELU_CONV = 0,
    ST_CALIB_RELU_FC,
    ST_CALIB_SIGMA_CONV,
    ST_CALIB_SIGMA_FC,
    ST_CALIB_GROUP_COUNT
};
#define ST_CALIB_POINTS 128

typedef struct st_calib_section {
    int present;
    char source[ST_NAME_MAX]; /* the network it was fitted on */
    int n[ST_CALIB_GROUP_COUNT];
    double depth[ST_CALIB_GROUP_COUNT][ST_CALIB_POINTS],
        value[ST_CALIB_GROUP_COUNT][ST_CALIB_POINTS];
} st_calib_section;

typedef struct st_calib {
    char name[256]; /* the file, for messages */
    st_calib_section fam[ST_CALIB_FAMILY_COUNT];
} st_calib;

/* Parse the text of a calibration file (format in docs/sparsity.md); name is used in the
 * messages, which give the line and the bad value. ST_EINVAL on any defect, c then
 * holds no section. */
int st_calib_parse(const char *text, const char *name, st_calib *c, st_err *err);
/* st_calib_parse of the file at path; ST_EIO when it cannot be read. */
int st_calib_load(const char *path, st_calib *c, st_err *err);
/* The calibration built into the library: calib/fmnist.calib of the source tree as it
 * was at build time. */
int st_calib_builtin(st_calib *c, st_err *err);

/* The family of net (ST_CALIB_FAMILY_BN when it has a batch-norm layer) and, for layer
 * i, its group (ST_CALIB_*, -1 for a layer of none) and its relative depth in [0, 1]
 * within the group (k / (n - 1) for the k-th of n; 0 when alone). */
int st_calib_family(const st_net *net);
int st_calib_group(const st_net *net, int i, double *depth);
const char *st_calib_family_name(int family);

/* Fill relu[] and sigma[] (st_net_count(net) entries each, 0 for layers of no group)
 * from c for net, and point cfg at them with grad_law lognormal. The caller keeps the
 * arrays alive while cfg is used. ST_EINVAL when c has no section for net's family or
 * lacks a group net needs (the message names the file, the family and the network). */
int st_calib_apply(const st_calib *c, const st_net *net, st_sparsity_cfg *cfg, double *relu,
                   double *sigma, st_err *err);

/* The fraction of the non-zeros of dZ that the pruning keeps, in expectation, when
 * their magnitudes are lognormal with shape sigma and tau = k E|g|:
 * 1 - Phi(ln k / sigma + sigma / 2) + Phi(ln k / sigma - sigma / 2) / k. With the
 * statistic over all entries, k = Phi^-1((1 + p) / 2) * sigma_scale * d, d the density
 * of dZ before pruning; over non-zeros, the same with d = 1. */
double st_calib_retention(double sigma, double k);
/* The sigma in (0, 10] whose retention is r (bisection on the decreasing branch). Returns
 * 0 with *sigma set; 1 when r is out of reach, *sigma then the closest end. */
int st_calib_fit_sigma(double r, double k, double *sigma);
/* The density of each ReLU layer r of net for which act[c] >= 0 is measured at a compute
 * layer c that reads r directly or through pooling only: the value that makes the
 * model's act_density of c (over `images` images, default parameters) equal act[c], by
 * bisection. relu[] gets it (st_net_count entries; 0 where nothing was measured). */
int st_calib_fit_relu(const st_net *net, const double *act, int images, double *relu, st_err *err);

/* The sparsity configuration of point pt for net: st_point_sparsity, and when
 * pt->sparsity is calibrated, st_calib_apply of calib (the built-in one when NULL), into
 * arrays held by *own. st_calib_own_fini frees them; cfg must not be used after. */
typedef struct st_calib_own {
    double *relu, *sigma;
} st_calib_own;
int st_calib_cfg(const st_point *pt, const st_net *net, const st_calib *calib, st_sparsity_cfg *cfg,
                 st_calib_own *own, st_err *err);
void st_calib_own_fini(st_calib_own *own);

/* st_sim_run with the calibration calib instead of the built-in one when pt->sparsity
 * is calibrated. */
int st_sim_run_calib(const st_net *net, const st_point *pt, const st_calib *calib, st_result *res,
                     st_err *err);

/* -------------------------------------------------------- energy and area */

/* Per-event energies, leakage power and area of a design point: pure
 * functions of the point's fields (defaults and their sources in
 * docs/energy-area.md). The simulator counts the events; these price them.
 * pt must pass st_point_check; the energy functions return NaN when pt is
 * NULL or an argument is out of its domain, so a misuse cannot pass for a
 * cost. */

/* Energy of one access of width_bits bits to an SRAM of kib KiB:
 * e_sram_ref_pj * (kib / sram_ref_kib)^sram_exp * width_bits / 64 (the law
 * fitted to Horowitz, ISSCC 2014). Needs kib > 0 and width_bits >= 0. */
double st_energy_sram_pj(const st_point *pt, double kib, int width_bits);
/* Energy of one multiply-accumulate: e_mac_pj * (data_bits / 16)^2, the
 * multiplier's quadratic growth applied to the whole MAC. */
double st_energy_mac_pj(const st_point *pt);
/* Energy of one access of width_bits bits to a PE register (kernel row or
 * output segment): e_reg_pj * width_bits / 16. Needs width_bits >= 0. */
double st_energy_reg_pj(const st_point *pt, int width_bits);
/* Energy of moving `bytes` bytes to or from DRAM: bytes * 8 *
 * e_dram_pj_per_bit. Needs bytes >= 0. */
double st_energy_dram_pj(const st_point *pt, double bytes);
/* Leakage power of the chip: leak_mw_per_kib * (ch0 + ch1 + ch2 KiB) +
 * leak_mw_per_mm2 * pe_rows * pe_cols * st_area_pe_mm2. */
double st_leakage_mw(const st_point *pt);

/* Silicon area of a design point, in mm^2. */
typedef struct st_area {
    double pe_mm2;    /* pe_rows * pe_cols * st_area_pe_mm2 (MACs and PE registers) */
    double sram_mm2;  /* (ch0 + ch1 + ch2 KiB) * area_sram_mm2_per_kib */
    double total_mm2; /* the sum of the two */
} st_area;

/* Fill *a with the area of pt. Fails with ST_EINVAL, leaving *a zeroed,
 * when pt or a is NULL or a part is negative or not finite (a point that
 * st_point_check rejects; call it for the message). */
int st_area_get(const st_point *pt, st_area *a);
/* The area of one PE: macs_per_pe * area_mac_mm2 plus its registers, kreg_len
 * entries of data_bits and oreg_len of psum_bits, at area_reg_bit_mm2 a bit.
 * NaN when pt is NULL. */
double st_area_pe_mm2(const st_point *pt);

#endif
