/*
 * ex.h - the public interface of the explorer layer: design spaces, canonical point ids,
 * batch evaluation, the crash journal, the HDF5 result file and the Lua front end.
 * The first half (up to "Lua") needs only the core library: an MPI worker links that part
 * and nothing else. lua.h and hdf5.h never appear here.
 */
#ifndef EX_H
#define EX_H

#include <stdint.h>
#include <stdio.h>

#include "st.h"

struct ex_sweep; /* the resolved sweep, below */

/* ------------------------------------------------------------------- hashing */

/* SipHash-2-4 of data[0..len) under the 128-bit key (k0, k1): Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", INDOCRYPT 2012. 64-bit result. */
uint64_t ex_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

/* A bijective 64-bit mixer (the finalizer of SplitMix64, Steele et al., OOPSLA 2014). */
uint64_t ex_mix64(uint64_t x);

/* ------------------------------------------------------------ parameter table */

/* The core's parameter table with what the explorer needs beside it: the rows in name
 * order (ids must not depend on the table's order) and every default. Point vectors
 * are arrays of one double per row, in table order. */
typedef struct ex_ptab {
    int n;
    const st_param *rows; /* the core's rows, then the sweep's own (own[]) */
    int *by_name;         /* row indices sorted by name */
    double *def;          /* default of each row */
    int seed_row;         /* index of the row "seed" */
    /* Two rows that belong to the sweep, not to the engine, both choices whose names
     * the sweep sets (ex_ptab_set_labels): `network`, the index of the point's network
     * among the sweep's, and `trace`, 0 for none or 1 + the index of the point's trace.
     * Each choice has a fingerprint that stands for it in point ids. */
    int ncore;              /* rows of the core's table: the first ncore */
    int net_row, trace_row; /* n - 2 and n - 1 */
    st_param *own;          /* the rows, owned */
    char **label[2];        /* NULL-terminated choice names of net_row, trace_row */
    uint64_t *label_fp[2];  /* their fingerprints */
} ex_ptab;

/* Fill t from the core table, with the rows `network` and `trace` after it (one choice
 * each until the sweep names them). Fails with ST_ENOMEM. fini accepts a zeroed t. */
int ex_ptab_init(ex_ptab *t, st_err *err);
void ex_ptab_fini(ex_ptab *t);
/* Name the n choices of row net_row or trace_row (names copied; fps[i] stands for choice i
 * in point ids). ST_ENOMEM leaves t as it was. */
int ex_ptab_set_labels(ex_ptab *t, int row, const char *const *names, const uint64_t *fps, int n,
                       st_err *err);
/* The choices of row, joined by ", " (the caller frees it); NULL when out of memory. */
char *ex_ptab_labels_text(const ex_ptab *t, int row);
/* The fingerprint of choice v of row net_row or trace_row (0 when out of range). */
uint64_t ex_ptab_label_fp(const ex_ptab *t, int row, double v);
/* Index of the row called name, or -1. */
int ex_ptab_find(const ex_ptab *t, const char *name);
/* Format value v of row i as text: enum choice names, true/false, integers, and reals
 * in the shortest form that reads back exactly. */
void ex_ptab_format(const ex_ptab *t, int i, double v, char *buf, size_t size);
/* v in the shortest %g form that reads back to the same double. */
void ex_real_text(double v, char *buf, size_t size);
/* Check v for row i (type and bounds) with the core's rules; fails with ST_EINVAL and a
 * message "name = v: must be ...". */
int ex_ptab_check(const ex_ptab *t, int i, double v, st_err *err);

/* -------------------------------------------------------------- point ids */

/* The canonical text of a point: "net=<fingerprint>;" and then, for every parameter
 * whose value differs from the table default, in name order, "name=value;" with
 * integers in decimal, enum values by choice name and reals in C99 hexadecimal (%a),
 * so that the text, and the id, are exact functions of the values. The row `seed` is
 * left out when skip_seed is set (the seed is then derived from the id). The row
 * `network` is never written (net_fp, the point's network's, stands for it) and the row
 * `trace` is written as the fingerprint of the trace's contents. Returns the length the
 * full text needs (as snprintf). */
size_t ex_id_text(const ex_ptab *t, uint64_t net_fp, const double *vals, int skip_seed, char *buf,
                  size_t size);
/* The 64-bit id: SipHash-2-4 of the canonical text under a fixed key. */
uint64_t ex_id_of(const ex_ptab *t, uint64_t net_fp, const double *vals, int skip_seed);
/* The seed of the sparsity model for a point: a function of the sweep seed and the id,
 * in [0, 2^31 - 1] (the range of the parameter `seed`). */
int ex_seed_of(uint64_t sweep_seed, uint64_t id);

/* ----------------------------------------------------------------- networks */

/* A network as data that any process can rebuild without Lua: a built-in name, a list of
 * layer operations, or the text of a SCALE-Sim layer list (st_topo_parse). Layers
 * reference their sources by index (-1: the input). */
typedef struct ex_netop {
    st_kind kind;
    char name[ST_NAME_MAX];
    int src[2];
    int out;            /* conv: out channels; fc: out features */
    int k, stride, pad; /* conv and pooling */
    int groups;         /* conv */
    int line;           /* script line that defined it, 0 when unknown */
} ex_netop;

typedef struct ex_netspec {
    char name[ST_NAME_MAX];
    int builtin; /* 1: name is a built-in network; ops are unused */
    int c, h, w; /* input shape */
    int n, cap;
    ex_netop *ops;
    char *csv_path; /* a layer list: the path it was read from (names it in messages) */
    char *csv;      /* and its text, csv_len bytes and a NUL; both owned, NULL otherwise */
    size_t csv_len;
} ex_netspec;

void ex_netspec_init(ex_netspec *s);
/* Free what s owns (ops, csv_path, csv) and init it again. */
void ex_netspec_fini(ex_netspec *s);
/* Make s the layer list at path: read it (st_topo_read_file), check that it builds
 * (st_topo_parse), and keep copies of path and text; name is the network's. Fails with
 * the core's message (the file, line and field of a bad row); s is unchanged then. */
int ex_netspec_load_csv(ex_netspec *s, const char *path, st_err *err);
/* Make s the layer list of len bytes of text read from path (copies both); ST_ENOMEM
 * leaves s unchanged. The text is parsed when the network is built. */
int ex_netspec_set_csv(ex_netspec *s, const char *path, const char *text, size_t len, st_err *err);
/* Append a copy of op; ST_ENOMEM on failure. */
int ex_netspec_push(ex_netspec *s, const ex_netop *op, st_err *err);
/* Build the network: *out is set to NULL first, then to a finished network owned by the
 * caller. Errors are the core's (naming the layer). On failure *bad_op is the index of the
 * op that failed (-1 when none), so callers can point at its script line. */
int ex_netspec_build(const ex_netspec *s, st_net **out, int *bad_op, st_err *err);
/* Read a network from the Lua file at path (sandboxed): the file returns st.network{...},
 * or a table whose `network` field is one or a built-in name. out is emptied first and
 * filled on success. ST_EINVAL with "path:line: message" for every error of the file. */
int ex_netspec_load(const char *path, ex_netspec *out, st_err *err);
/* Where the network comes from: "built-in", "csv" (a layer list) or "lua". Static. */
const char *ex_netspec_source(const ex_netspec *s);
/* A fingerprint of the network's structure: equal for equal networks. */
uint64_t ex_net_fingerprint(const st_net *net);

/* The networks of a sweep, built: net[i] from the sweep's nets[i], with its fingerprint. */
typedef struct ex_nets {
    int n;
    st_net **net;
    uint64_t *fp;
} ex_nets;
/* Build the n networks of specs into ns (emptied first). On failure ns is empty, *bad_net
 * is the network that failed and *bad_op its op (as ex_netspec_build), -1 when none. */
int ex_nets_build(ex_nets *ns, const ex_netspec *specs, int n, int *bad_net, int *bad_op,
                  st_err *err);
void ex_nets_fini(ex_nets *ns);

/* ------------------------------------------------------------- program options */

/* The value of option argv[*i] (which starts with "--"), written "--NAME=VALUE"
 * or "--NAME VALUE" (then *i moves on to the value): NAME into name[size] and
 * the value into *value. 0, or -1 when the value is missing (name is set). */
int ex_opt_value(int argc, char **argv, int *i, char *name, size_t size, const char **value);

/* ----------------------------------------------------------- training traces */

/* The masks of one iteration of a trace, in memory: what a sweep evaluates with, on any
 * process, without HDF5 (ex_tracemem.c; ex_trace_load fills it from a file). */
typedef struct ex_tracelayer {
    int layer;     /* compute layer index in the network */
    size_t na, ng; /* input activations and dZ values per image */
    double tau;    /* the pruning threshold the trainer used */
    uint8_t *act;  /* images x na, 1 for a non-zero */
    uint8_t *dz;   /* images x ng: dZ after the pruning */
} ex_tracelayer;

typedef struct ex_tracemem {
    char *path;     /* as the script named it (the label of the choice) */
    uint64_t fp;    /* SipHash of the file's bytes */
    uint64_t bytes; /* the file's size */
    char net_name[ST_NAME_MAX];
    int net;       /* index of its network among the sweep's */
    char iter[32]; /* the iteration's group, "iter_000002" */
    int images;
    int n;
    ex_tracelayer *layers;
    /* What the training that wrote it measured at its end (NaN when the file does not
     * say): the points that replay it carry them as metrics. */
    double accuracy, test_loss, train_loss;
    uint64_t key; /* the training setting the sweep trained it for (ex_train_key), or 0 */
    char *fail;   /* why that training failed (its points fail with it), or NULL; owned */
} ex_tracemem;

/* An empty trace for path (copied) with n layers of images images of the given sizes
 * (zeroed masks); ST_ENOMEM. destroy accepts NULL and sets *t to NULL. */
int ex_tracemem_create(const char *path, int n, ex_tracemem **out, st_err *err);
int ex_tracemem_layer_alloc(ex_tracemem *t, int i, int layer, size_t na, size_t ng, st_err *err);
void ex_tracemem_destroy(ex_tracemem **t);
/* An st_mask_fn over an ex_tracemem (ctx): the masks of image `image` of compute layer
 * `layer`; fails naming the trace, the iteration and the layer when it lacks them. */
int ex_tracemem_masks(void *ctx, const st_net *net, int layer, int image, const uint8_t *act_want,
                      const uint8_t *grad_want, st_layer_masks *m, st_err *err);
/* Read iteration iter (the first when iter < 0) of the trace at path, which must be of
 * net, into *out (the whole iteration, every compute layer), with the file's size and
 * hash and the training's accuracy and losses when it records them. Fails with ST_EIO
 * when the file cannot be opened or read, ST_EINVAL naming the file when it is not a
 * trace, is of another format, of another network (by fingerprint: the message names
 * both networks) or lacks the iteration or a layer; *out is then NULL. In the library
 * that links HDF5. */
int ex_trace_load(const char *path, const st_net *net, long iter, ex_tracemem **out, st_err *err);
/* The network a trace file says it is of: its name (into name[size]) and fingerprint.
 * ST_EIO or ST_EINVAL (not a trace) naming the file. */
int ex_trace_network(const char *path, char *name, size_t size, uint64_t *fp, st_err *err);

/* ------------------------------------------------------------ design spaces */

/* How the values of one swept parameter are given. Lists are expanded at resolution
 * (their length is the sum over parameters, never their product); continuous domains
 * are only drawn from by the random and Latin-hypercube samplers. */
typedef enum ex_dom_kind {
    EX_DOM_LIST = 0,
    EX_DOM_UNIFORM,    /* real in [lo, hi] */
    EX_DOM_LOGUNIFORM, /* real in [lo, hi], uniform in log */
    EX_DOM_INTUNIFORM  /* whole number in [lo, hi] */
} ex_dom_kind;

typedef struct ex_dim {
    int param; /* row of the parameter table */
    ex_dom_kind kind;
    uint64_t n; /* list length */
    double *v;  /* list values, owned */
    double lo, hi;
} ex_dim;

typedef enum ex_sampler { EX_GRID = 0, EX_RANDOM, EX_LHS } ex_sampler;

typedef struct ex_space {
    int ndim;
    ex_dim *dims; /* in the order of the parameter table; the last varies fastest */
    ex_sampler sampler;
    uint64_t count; /* random and lhs: points to draw */
    uint64_t seed;  /* of the samplers */
} ex_space;

#define EX_SPACE_MAX (UINT64_C(1) << 62)

void ex_space_init(ex_space *s);
void ex_space_fini(ex_space *s);
/* Add a dimension, taking ownership of dim->v (even on failure). ST_ENOMEM. */
int ex_space_add(ex_space *s, ex_dim *dim, st_err *err);
/* The number of candidate points: the product of list lengths for a grid (fails with
 * ST_EINVAL when it exceeds EX_SPACE_MAX or a dimension is empty or continuous), count for
 * the samplers. */
int ex_space_count(const ex_space *s, uint64_t *count, st_err *err);
/* Write the swept values of candidate `index` into vals (other entries untouched). A pure
 * function of (space, index): nothing is materialised, any index can be asked for, in any
 * order. index must be below the count. */
void ex_space_point(const ex_space *s, uint64_t index, double *vals);

/* A pseudo-random permutation of [0, n), n >= 1: a balanced Feistel network on the
 * smallest even number of bits that covers n, restricted to [0, n) by cycle walking
 * (Black and Rogaway, "Ciphers with arbitrary finite domains", CT-RSA 2002). */
uint64_t ex_perm(uint64_t n, uint64_t key, uint64_t i);

/* ------------------------------------------------------------------ metrics */

typedef union ex_num {
    double f;
    uint64_t u;
} ex_num;

typedef enum ex_ntype { EX_U64 = 0, EX_F64 } ex_ntype;

/* One row of the metric table: what a point's record holds after evaluation. */
typedef struct ex_metric {
    const char *name;
    ex_ntype type;
    const char *unit;
    const char *help;
} ex_metric;

const ex_metric *ex_metrics(int *count);
/* Index of the metric called name, or -1. */
int ex_metric_find(const char *name);
/* Fill out[0..count) from a simulation result. */
void ex_metrics_fill(const st_result *res, ex_num *out);
/* Set the accuracy and losses of the training a point's trace came from (NaN: unknown). */
void ex_metrics_training(ex_num *out, double accuracy, double test_loss, double train_loss);
/* Fill out with the values a failed point carries: 0 and NaN. */
void ex_metrics_blank(ex_num *out);

/* Per-layer, per-phase detail rows, when a sweep asks for them. */
enum {
    EX_D_CYCLES = 0,
    EX_D_DENSE_CYCLES,
    EX_D_USEFUL_MACS,
    EX_D_DENSE_MACS,
    EX_D_STALL_CYCLES,
    EX_D_DRAM_BYTES,
    EX_D_ENERGY_PJ,
    EX_D_DENSE_ENERGY_PJ,
    EX_D_ACT_DENSITY,
    EX_D_GRAD_DENSITY,
    EX_D_DENSE_DRAM_BYTES,
    EX_D_DRAM_FLOOR_BYTES,
    EX_D_ORDER,
    EX_D_DENSE_ORDER,
    EX_D_ROUNDS,
    EX_D_DENSE_ROUNDS,
    EX_D_COUNT
};
typedef struct ex_detail {
    int32_t layer, phase;
    ex_num v[EX_D_COUNT];
} ex_detail;
const ex_metric *ex_detail_fields(void); /* EX_D_COUNT rows */

/* -------------------------------------------------------------- evaluation */

/* Point status in records and files. */
enum { EX_OK = 0, EX_FAILED = 1, EX_REJECTED = 2 };

#define EX_MSG_MAX 512

/* What evaluating one point gives. vals points to the point's parameter vector. */
typedef struct ex_record {
    uint64_t index; /* position in the enumeration */
    uint64_t id;
    int status;
    const double *vals;
    ex_num *metrics; /* metric table order */
    int ndetail;
    ex_detail *detail; /* owned by the batch */
    char msg[EX_MSG_MAX];
} ex_record;

typedef enum ex_eval_mode { EX_EVAL_SIM = 0, EX_EVAL_NONE } ex_eval_mode;

/* Everything a worker needs to evaluate points: no Lua, no files. */
typedef struct ex_evaluator {
    const ex_ptab *ptab;
    st_net *const *nets; /* by the value of the parameter `network` */
    int nnet;
    ex_tracemem *const *traces; /* traces[v - 1] for the value v >= 1 of `trace` */
    int ntrace;
    ex_eval_mode mode;
    int detail;
} ex_evaluator;

/* A batch: n points, their vectors in vals[i * ptab->n ...], their records. Storage is
 * owned by the batch and reused between fills. */
typedef struct ex_batch {
    int n, cap, nparam, nmetric;
    double *vals;
    ex_num *metrics;
    ex_record *recs;
} ex_batch;

void ex_batch_init(ex_batch *b);
void ex_batch_fini(ex_batch *b);
/* Make room for cap points of nparam values; empties the batch. ST_ENOMEM. */
int ex_batch_reserve(ex_batch *b, int cap, int nparam, st_err *err);
/* Append a point (index, id, vector); returns its vector for in-place edits. The batch
 * must have room. */
double *ex_batch_add(ex_batch *b, uint64_t index, uint64_t id, const double *vals);
void ex_batch_clear(ex_batch *b);

/* Evaluate every point of the batch, filling its records. A point that cannot be evaluated
 * (invalid value or combination, a layer that does not map) gets status EX_FAILED and the
 * message; that is not an error of this function, which fails only when the
 * infrastructure does (ST_ENOMEM). Deterministic: the records depend only on the points. */
int ex_eval_batch(const ex_evaluator *ev, ex_batch *b, st_err *err);

/* ------------------------------------------------------------- wire format */

/* What travels between the process that runs the script and the processes that evaluate:
 * the evaluator's static data once, then batches of points one way and their records the
 * other. Flat native-endian bytes (every rank of a job runs the same program on the same
 * kind of machine); no MPI here, so the encodings are tested alone. A decoder never trusts
 * its input: a short or inconsistent message fails with ST_EFORMAT, naming what is wrong. */

/* A growing byte buffer. */
typedef struct ex_buf {
    unsigned char *p;
    size_t n, cap;
} ex_buf;
void ex_buf_init(ex_buf *b);
void ex_buf_fini(ex_buf *b);
/* Make room for size bytes (contents kept). ST_ENOMEM. */
int ex_buf_reserve(ex_buf *b, size_t size, st_err *err);

/* The static part of an evaluator: what every evaluating process must agree on. */
typedef struct ex_wire_setup {
    ex_eval_mode mode;
    int detail;
    int nparam, nmetric; /* checked against the receiver's own tables */
} ex_wire_setup;

/* Encode the setup and what evaluating needs of the sweep sw, its networks (nets) and
 * traces, into out (replacing its contents). */
int ex_wire_put_setup(ex_buf *out, const ex_wire_setup *s, const struct ex_sweep *sw, st_err *err);
/* Decode a setup into s and the networks and traces of sw (initialised by ex_sweep_init,
 * nothing else set). ST_EFORMAT also when the sender's metric table differs from this
 * program's (s->nparam is for the caller to compare with its parameter table). */
int ex_wire_get_setup(const void *p, size_t n, ex_wire_setup *s, struct ex_sweep *sw, st_err *err);

/* Encode the points of b with a sequence number: the first point's vector in full, then
 * only the columns that vary within the batch (the swept ones and the seed, usually). */
int ex_wire_put_points(ex_buf *out, uint64_t seq, const ex_batch *b, st_err *err);
/* Decode points into b (reserved here for nparam values); records get index and id 0. */
int ex_wire_get_points(const void *p, size_t n, int nparam, uint64_t *seq, ex_batch *b,
                       st_err *err);

/* Encode the records of an evaluated batch (status, metrics, message, detail; not the
 * vectors, which the receiver kept) with the sequence number and the seconds the batch
 * took to evaluate. */
int ex_wire_put_records(ex_buf *out, uint64_t seq, double eval_s, const ex_batch *b, st_err *err);
/* Decode records into b, which holds the points that were sent as batch `seq`: fails when
 * the message is of another batch or another size. */
int ex_wire_get_records(const void *p, size_t n, uint64_t seq, double *eval_s, ex_batch *b,
                        st_err *err);

/* ------------------------------------------------------------ batch sizing */

/* How many points the next batch gets, in a self-scheduled sweep: about batch_s seconds of
 * evaluation at the estimated cost per point (few messages for cheap points, little lost
 * work and quick stops for dear ones), at most batch_max, at most a share of what is left
 * (guided self-scheduling, Polychronopoulos and Kuck, IEEE Trans. Computers 36(12), 1987:
 * batches shrink toward the end so that all workers finish together), and at most a share
 * of inflight_max over all workers (the master's memory). One point until a cost is known. */
typedef struct ex_sizer {
    int workers;           /* processes or threads that evaluate */
    int batch_max;         /* points per batch at most */
    double batch_s;        /* target seconds per batch */
    uint64_t inflight_max; /* points handed out and not yet back, over all workers */
    double cost_s;         /* estimated seconds per point; 0 until a batch is observed */
} ex_sizer;

void ex_sizer_init(ex_sizer *z, int workers, int batch_max, double batch_s);
/* Learn from a batch of n points that took seconds to evaluate (exponential average, so
 * that the estimate follows a sweep whose cost changes along the enumeration). */
void ex_sizer_observe(ex_sizer *z, int n, double seconds);
/* The size of the next batch when `left` candidates remain; at least 1. */
int ex_sizer_next(const ex_sizer *z, uint64_t left);

/* ----------------------------------------------------------------- journal */

/* The crash journal: an append-only file of frames, each the records of one batch and the
 * range of enumeration indices the batch covered, protected by a checksum and written
 * with one write and one fsync. See docs/lua-api.md, "Surviving a crash". */
typedef struct ex_journal ex_journal;

/* Where the journal starts: what a resume must match. */
typedef struct ex_journal_head {
    uint32_t nparam, nmetric;
    const char *script; /* borrowed from the caller on create, owned by the journal on open */
    const char *space;
    int64_t started; /* Unix time the sweep first started */
} ex_journal_head;

/* Create path exclusively (fails with ST_EIO if it exists or cannot be made), write and
 * sync the head. Takes an advisory lock so that two runs cannot share it. */
int ex_journal_create(const char *path, const ex_journal_head *head, ex_journal **out, st_err *err);
/* Open an existing journal for appending: check the head, scan the frames, and cut a torn
 * tail (a frame that a crash interrupted). ST_EFORMAT for a file that is not a journal. */
int ex_journal_open(const char *path, ex_journal **out, st_err *err);
void ex_journal_destroy(ex_journal **j);
/* ST_OK when no process holds the lock of the journal at path (or there is no such
 * file); ST_EINVAL, naming the holder (process id, host), when a live run writes it (as
 * ex_journal_create and ex_journal_open fail then). Changes nothing. */
int ex_journal_check_free(const char *path, st_err *err);
const ex_journal_head *ex_journal_head_get(const ex_journal *j);
/* Append one frame: the records of b, the index range [first, first + span) that the
 * batch covered, and how many of its candidates the constraint `where` excluded and how
 * many repeated an earlier point. Durable (fdatasync) before returning; on failure the
 * journal is cut back to its last whole frame. */
int ex_journal_append(ex_journal *j, uint64_t first, uint64_t span, uint64_t excluded,
                      uint64_t duplicates, const ex_batch *b, st_err *err);
/* Group commit: with interval_s > 0, an append syncs only when the last sync is older
 * than interval_s. A killed process loses nothing (written frames are in the kernel's
 * cache); a machine that fails loses at most the last interval, which a resume evaluates
 * again. 0, the default: every append is durable before it returns. */
void ex_journal_set_sync(ex_journal *j, double interval_s);
/* Make every appended frame durable now. ST_EIO. */
int ex_journal_sync(ex_journal *j, st_err *err);
/* Counts over the frames on disk. */
uint64_t ex_journal_records(const ex_journal *j);
uint64_t ex_journal_failed(const ex_journal *j);
uint64_t ex_journal_rejected(const ex_journal *j);
uint64_t ex_journal_details(const ex_journal *j);
uint64_t ex_journal_excluded(const ex_journal *j);
uint64_t ex_journal_duplicates(const ex_journal *j);
/* Frames found on open that repeat points of earlier frames whole (a copied frame): they
 * are skipped, so every point counts once. A frame that repeats points in part makes
 * ex_journal_open fail with ST_EFORMAT instead. */
uint64_t ex_journal_repeated(const ex_journal *j);

/* Visit the index ranges covered by frames, merged and in increasing order. */
typedef int (*ex_range_fn)(void *ctx, uint64_t first, uint64_t end);
int ex_journal_ranges(ex_journal *j, ex_range_fn fn, void *ctx, st_err *err);
/* Visit every record in increasing enumeration index. rec->vals, metrics and detail are
 * valid during the call only. */
typedef int (*ex_record_fn)(void *ctx, const ex_record *rec, st_err *err);
int ex_journal_each(ex_journal *j, ex_record_fn fn, void *ctx, st_err *err);

/* ------------------------------------------------------------------ planning */

/* The set of enumeration indices already done, as merged ranges: flat in memory for a
 * sweep that runs in order. */
typedef struct ex_ranges {
    size_t n, cap;
    uint64_t *lo, *hi; /* [lo, hi) */
} ex_ranges;
void ex_ranges_init(ex_ranges *r);
void ex_ranges_fini(ex_ranges *r);
int ex_ranges_add(ex_ranges *r, uint64_t lo, uint64_t hi, st_err *err);
/* If i lies in a range, the end of that range; else i. */
uint64_t ex_ranges_skip(const ex_ranges *r, uint64_t i);
/* How [lo, hi) meets the ranges: 0 not at all, 1 in part, 2 wholly inside them. */
int ex_ranges_overlap(const ex_ranges *r, uint64_t lo, uint64_t hi);
uint64_t ex_ranges_total(const ex_ranges *r);

/* A set of 64-bit ids, for de-duplication of drawn points. */
typedef struct ex_idset {
    size_t n, cap;
    uint64_t *slot;
    int has_zero;
} ex_idset;
void ex_idset_init(ex_idset *s);
void ex_idset_fini(ex_idset *s);
/* Insert id; *added is 1 when it was new. ST_ENOMEM. */
int ex_idset_add(ex_idset *s, uint64_t id, int *added, st_err *err);

/* The resolved sweep: everything about a run that is not Lua code. */
typedef enum ex_role { EX_ROLE_DEFAULT = 0, EX_ROLE_FIXED, EX_ROLE_SWEPT, EX_ROLE_DERIVED } ex_role;
const char *ex_role_name(ex_role r);

/* A training evaluation the sweep asks for (its `train` field): each point is trained
 * with these settings and its own network and pruning parameters, and simulated with the
 * masks of that training (docs/training.md, "Accuracy in the design space"). */
typedef struct ex_train {
    int on;
    long epochs;
    int batch;
    double lr, momentum, weight_decay;
    uint64_t seed;
    long train_images, test_images; /* 0: all */
    int ready; /* the sweep holds the trace of every setting: the plan points at them */
} ex_train;

typedef struct ex_sweep {
    char name[128];
    ex_train train;
    ex_netspec *nets; /* the networks, by the value of the parameter `network` */
    int nnet;
    ex_tracemem **traces; /* the traces, traces[v - 1] for the value v of `trace` */
    int ntrace;
    ex_space space;
    double *base;    /* ptab->n: defaults overridden by fixed settings */
    uint8_t *role;   /* ptab->n: ex_role */
    uint64_t seed;   /* sweep seed: samplers and point seeds */
    int seed_given;  /* the script sets the parameter `seed` itself */
    int common_seed; /* every point uses `seed` = sweep seed (common random numbers) */
    ex_eval_mode eval;
    int detail;
    int has_where, has_keep;
    char *deps; /* owned, or NULL: one line per module the script required, with its
                 * size and hash ("requires NAME: N bytes, siphash HEX"); part of the
                 * description that a resume must match */
} ex_sweep;

/* Per-point code the sweep may carry (Lua functions, or C in tests). Each returns 0 or
 * a negative code with a message; a failure stops the sweep (a bug in the script). */
typedef struct ex_hooks {
    void *ctx;
    /* Compute derived parameters into vals. */
    int (*derive)(void *ctx, double *vals, st_err *err);
    /* *keep = 0 drops a point before evaluation. */
    int (*where)(void *ctx, const double *vals, int *keep, st_err *err);
    /* *keep = 0 marks an evaluated point rejected. */
    int (*keep)(void *ctx, const ex_record *rec, int *keep, st_err *err);
} ex_hooks;

/* The enumerator of a sweep on the process that owns the script: candidates in index
 * order, derived parameters, pre-evaluation constraints, ids, seeds, de-duplication, and
 * skipping indices a previous run finished. */
/* A shard of a sweep (ex_shard.c): shard i of n holds the points whose id modulo n is i.
 * n = 0 or 1: the whole sweep. */
typedef struct ex_shard {
    uint32_t i, n;
} ex_shard;
#define EX_SHARD_MAX 1000000

/* Read "I/N" into s; ST_EINVAL with a message naming the text and the rule otherwise. */
int ex_shard_parse(const char *text, ex_shard *s, st_err *err);
/* 1 when the point of this id belongs to shard s. */
int ex_shard_has(const ex_shard *s, uint64_t id);
/* Append the shard's line to the space description (a malloc'ed string, taken): a resume
 * then refuses another shard's file. Returns the new string, or NULL when out of memory
 * (space freed). A whole sweep adds nothing. */
char *ex_shard_describe(char *space, const ex_shard *s);

typedef struct ex_plan {
    const ex_sweep *sw;
    const ex_ptab *ptab; /* its `network` labels give each point's network fingerprint */
    const ex_hooks *hooks;
    uint64_t total; /* candidates */
    uint64_t next;  /* next index to look at */
    ex_ranges done;
    ex_idset seen; /* ids drawn so far (samplers only; a grid cannot repeat) */
    double *scratch;
    uint64_t excluded, duplicates; /* skipped by `where`, and as repeats */
    ex_shard shard;                /* the points to enumerate; set after init */
    uint64_t elsewhere;            /* candidates of other shards, skipped */
} ex_plan;

int ex_plan_init(ex_plan *p, const ex_sweep *sw, const ex_ptab *ptab, const ex_hooks *hooks,
                 st_err *err);
void ex_plan_fini(ex_plan *p);
/* Fill b with up to max points (b emptied first); *first and *span give the index range
 * the call consumed. At the end, b is empty and *span is 0. */
int ex_plan_next(ex_plan *p, ex_batch *b, int max, uint64_t *first, uint64_t *span, st_err *err);
/* Mark an index of the record already known (a resume): the id goes into `seen`. */
int ex_plan_seen(ex_plan *p, uint64_t id, st_err *err);

/* The canonical text of the resolved space (name, network, sampler, each parameter's
 * values and role, eval mode, ...), one fact per line. Owned by the caller (free). */
char *ex_sweep_describe(const ex_sweep *sw, const ex_ptab *ptab);
/* Add a copy of the network spec to sw; *index is its index. A built-in already there is
 * not added again (*index is the one there); any other network whose name is there
 * already is refused with ST_EINVAL naming it. ST_ENOMEM. */
int ex_sweep_add_net(ex_sweep *sw, const ex_netspec *spec, int *index, st_err *err);
void ex_sweep_init(ex_sweep *sw);
void ex_sweep_fini(ex_sweep *sw);

/* ----------------------------------------------------------------- training */

/* The canonical text of a point's training setting (its network's fingerprint, its
 * pruning parameters and sw->train), as snprintf; and its 64-bit key (never 0). */
int ex_train_text(const ex_sweep *sw, const ex_ptab *t, const double *vals, char *buf, size_t size);
uint64_t ex_train_key(const ex_sweep *sw, const ex_ptab *t, const double *vals);
/* The value of `trace` for a point of a sweep whose trainings are in sw->traces: 1 + the
 * index of the trace of its setting, or 0 when there is none. */
int ex_train_trace_of(const ex_sweep *sw, const ex_ptab *t, const double *vals);
/* The iteration a training traces: the last one whose batch is whole. */
long ex_train_iter(const ex_train *tr);

/* One run of the trainer: its command line (argv[0] the program) and the file its
 * messages go to. */
typedef struct ex_trainjob {
    char **argv; /* NULL-terminated, owned */
    char *log;
} ex_trainjob;
/* Fill j with copies of argc arguments and log. ST_ENOMEM leaves j empty. */
int ex_trainjob_args(ex_trainjob *j, const char *log, int argc, const char *const *argv,
                     st_err *err);
/* Run j and wait for it: *status is its exit status (128 + the signal that ended it).
 * ST_EIO when it cannot be started. */
int ex_trainjob_run(const ex_trainjob *j, int *status, st_err *err);
void ex_trainjobs_free(ex_trainjob *jobs, int n);
/* Run the jobs i with i % size == rank, one after the other, with a line in log before
 * and after each; none is started once one of the signals of the sigset_t stop (or NULL)
 * is pending (a run that stops; those left are trained when it resumes). Fails only when a
 * job cannot be started. */
int ex_trainjobs_run_share(const ex_trainjob *jobs, int n, int rank, int size, FILE *log,
                           const void *stop, st_err *err);
/* Encode n jobs into out (replacing it), and decode them (ST_EFORMAT for bad bytes). */
int ex_trainjobs_put(ex_buf *out, const ex_trainjob *jobs, int n, st_err *err);
int ex_trainjobs_get(const void *p, size_t n, ex_trainjob **out, int *count, st_err *err);

/* ----------------------------------------------------------------- progress */

typedef struct ex_progress {
    FILE *out;
    int tty;
    double interval_s; /* between plain log lines */
    double t0, last;
    uint64_t total, done, failed, base; /* base: done before this run */
    int width;
} ex_progress;

void ex_progress_init(ex_progress *p, FILE *out, int tty, uint64_t total, uint64_t base);
/* Report that done points (of total) are finished; prints when due. */
void ex_progress_update(ex_progress *p, uint64_t done, uint64_t failed, int force);
/* Clear the live line, if any. */
void ex_progress_end(ex_progress *p);
double ex_now(void);

/* ------------------------------------------------------------- HDF5 result */

/* What the result file records beside the points. Strings are borrowed. */
typedef struct ex_h5_meta {
    const ex_sweep *sw;
    const ex_ptab *ptab;
    const ex_nets *nets; /* built from sw->nets */
    const char *script_path, *script, *space, *command;
    const char *version, *git_revision, *lua_version, *hosts;
    const char *started, *finished; /* ISO 8601 UTC */
    const char *reused_from;        /* the file of --reuse, or NULL */
    double elapsed_s;
    int sessions;
    int ranks; /* processes of the last session (0 is read as 1) */
    int complete;
    uint64_t candidates, excluded, duplicates;
} ex_h5_meta;

/* Write the result file at path from the journal: a complete file written to path.tmp,
 * synced and renamed over path, so path is always either absent or a whole file. ST_EIO
 * when a write fails (a full disk), naming path.tmp and the system's reason; path.tmp is
 * then removed, and path and the journal are as they were. */
int ex_h5_save(const char *path, const ex_h5_meta *meta, ex_journal *j, st_err *err);
/* Call before any other HDF5 use in a program that writes result files. A file whose
 * writes failed may stay open inside HDF5, and HDF5's clean-up at exit crashes on it
 * (1.10): this turns that clean-up off; the operating system reclaims the rest. */
void ex_h5_init(void);

/* What an existing result file says about itself. */
typedef struct ex_h5_info {
    int complete;
    uint64_t points;
    char *script, *space; /* owned; free with ex_h5_info_fini */
} ex_h5_info;
/* Read the identity of a file written by ex_h5_save. ST_EFORMAT for a file that is not
 * HDF5 or not ours (a foreign HDF5 file), naming the path. */
int ex_h5_probe(const char *path, ex_h5_info *info, st_err *err);
void ex_h5_info_fini(ex_h5_info *info);
/* "HDF5 x.y.z". */
void ex_h5_version(char *buf, size_t size);

/* ---------------------------------------------------------------------- Lua */

/* A Lua state that runs sweep scripts: sandboxed unless trusted (no os.execute, io,
 * C modules, file writes), with an instruction budget per call and a memory cap. */
typedef struct ex_lua ex_lua;

typedef struct ex_lua_opts {
    int trusted;         /* 1: full standard library, no budget, no cap */
    uint64_t budget;     /* instructions per call into the script */
    size_t mem_cap;      /* bytes */
    const char *lib_dir; /* where `require` looks besides the script's folder */
    /* sigset_t of blocked signals that stop a run, or NULL. The budget hook looks for
     * them (without taking them) and ends the script's call when one is pending. */
    const void *stop_signals;
} ex_lua_opts;

/* Returned by ex_lua_call (and so by the hooks, ex_script_load and ex_run) when a stop
 * signal ended a call into the script: the run stops as at a signal between batches. */
#define EX_ESTOPPED (-10)

/* The most work one string.find, match, gmatch or gsub of a sandboxed script may need in
 * the worst case (subject positions times the backtracking of the pattern's repetitions):
 * larger ones are refused, since Lua's matcher runs outside the instruction budget. */
#define EX_LUA_MATCH_MAX 1e8

void ex_lua_opts_init(ex_lua_opts *o);
int ex_lua_create(const ex_lua_opts *o, ex_lua **out, st_err *err);
void ex_lua_destroy(ex_lua **l);
struct lua_State *ex_lua_state(ex_lua *l);
/* The folder `require` searches first (the script's). ST_ENOMEM. */
int ex_lua_set_dir(ex_lua *l, const char *dir, st_err *err);
/* lua_pcall with a traceback handler, under the budget. On error, err holds the message
 * (and traceback) and the stack is as before the function was pushed. */
int ex_lua_call(ex_lua *l, int nargs, int nres, st_err *err);
/* The stop signal found pending during a call into the script (or by ex_lua_poll_stop),
 * 0 if none. */
int ex_lua_stopped(const ex_lua *l);
/* Look for a pending stop signal from C code that works for the script outside the
 * interpreter (expanding a domain): 1 (and ex_lua_stopped says which) or 0. */
int ex_lua_poll_stop(struct lua_State *L);
/* The worst-case work of matching pattern p on a subject of n bytes, as EX_LUA_MATCH_MAX
 * counts it; anchored patterns try one start, others every one. */
double ex_lua_match_cost(const char *p, size_t plen, size_t n, int unanchored);
/* The modules `require` has loaded so far, one line each in load order ("requires NAME:
 * N bytes, siphash HEX\n"), or "" for none; borrowed, valid until the next require. The
 * hash is of the text that was run: a change in a module changes the line. */
const char *ex_lua_deps(const ex_lua *l);
/* From now on `require` of a module not yet loaded raises an error: what a sweep depends
 * on must be known, and fingerprinted, before its first point is evaluated. */
void ex_lua_deps_freeze(ex_lua *l);

/* A loaded script: its text, its resolved sweep, and the hooks that call its Lua
 * functions. */
typedef struct ex_script ex_script;

/* Load and run path, resolve the sweep it returns. ST_EINVAL for every error of the
 * script, with "path:line: message". */
int ex_script_load(ex_lua *l, const char *path, ex_ptab *ptab, ex_script **out, st_err *err);
void ex_script_destroy(ex_script **s);
const ex_sweep *ex_script_sweep(const ex_script *s);
/* The same, to add what the run learns before its points (ex_train_prepare). */
ex_sweep *ex_script_sweep_edit(ex_script *s);
const ex_hooks *ex_script_hooks(const ex_script *s);
const char *ex_script_text(const ex_script *s);
const char *ex_script_path(const ex_script *s);

/* ------------------------------------------------------------------ farming */

/* What a batch covered of the enumeration: the journal records it beside the points. */
typedef struct ex_span {
    uint64_t first, span;          /* index range [first, first + span) */
    uint64_t excluded, duplicates; /* candidates of the range that `where` or a repeat dropped */
} ex_span;

/* The side of a sweep that owns the plan, the journal and the script (ex_run.c), as a
 * scheduler sees it. Called only from the thread that runs the farm. */
typedef struct ex_feed {
    void *ctx;
    /* Fill b (reserved here) with up to max points. sp->span is 0 when the sweep has no
     * more; b may be empty with a span > 0 when `where` dropped a whole range: hand such a
     * batch straight back to done. */
    int (*next)(void *ctx, ex_batch *b, int max, ex_span *sp, st_err *err);
    /* Take back an evaluated batch: `keep`, journal, progress, snapshots. */
    int (*done)(void *ctx, ex_batch *b, const ex_span *sp, st_err *err);
    /* The stop signal that arrived, or 0. */
    int (*stop)(void *ctx);
    /* Candidates not yet handed out (for batch sizing). */
    uint64_t (*left)(void *ctx);
} ex_feed;

/* Settings of a run that every scheduler reads. */
typedef struct ex_farm_opts {
    int batch_max;  /* points per batch at most */
    double batch_s; /* target seconds of evaluation per batch */
} ex_farm_opts;

/* A way to evaluate the batches of a sweep: ex_run evaluates in its own process when it
 * has none; ex_mpi.h provides one that spreads batches over MPI ranks. */
typedef struct ex_farm {
    void *ctx;
    int ranks; /* processes taking part, for provenance */
    /* Evaluate everything feed gives until it has no more, or until feed->stop says so
     * (*stopped is then the signal). sw holds the networks and traces that ev was built
     * from, for processes that must rebuild them. Returns 0 or an error of the feed or of the farm.
     */
    int (*run)(void *ctx, const ex_evaluator *ev, const struct ex_sweep *sw, const ex_feed *feed,
               const ex_farm_opts *o, int *stopped, st_err *err);
    /* Run the n training jobs, spread over the processes (each job once), and return when
     * all have ended; log gets a line per job this process runs. NULL: ex_run runs them
     * itself, one after the other. stop: as for ex_trainjobs_run_share. */
    int (*train)(void *ctx, const ex_trainjob *jobs, int n, FILE *log, const void *stop,
                 st_err *err);
} ex_farm;

/* A thread of this process that evaluates the batches queued to it, in order, so that a
 * process that schedules others can evaluate too without delaying its answers to them.
 * Evaluation is ex_eval_batch (core only, no Lua); the thread touches nothing else. */
typedef struct ex_helper ex_helper;

/* Start the thread; ev must outlive the helper. ST_ENOMEM, or ST_EIO when no thread can be
 * started. */
int ex_helper_create(const ex_evaluator *ev, ex_helper **out, st_err *err);
/* Queue b (owned by the caller, untouched by it until it comes back) with a tag that comes
 * back with it. At most 8 batches wait; ST_EINVAL beyond. */
int ex_helper_push(ex_helper *h, ex_batch *b, void *tag, st_err *err);
/* Take a batch back, waiting up to wait_s for one: 1 with *tag set, 0 when none came.
 * *evaluated is 0 for a batch dropped by ex_helper_stop, else *eval_s is the time its
 * evaluation took. A failure of the evaluation itself (ST_ENOMEM) is returned here. */
int ex_helper_pop(ex_helper *h, double wait_s, void **tag, int *evaluated, double *eval_s,
                  st_err *err);
/* Drop the batches still waiting (they come back from pop, unevaluated); the one being
 * evaluated finishes and comes back as usual. */
void ex_helper_stop(ex_helper *h);
/* Batches pushed and not yet popped. */
int ex_helper_pending(const ex_helper *h);
/* End the thread, waiting for the batch it evaluates, and free everything. Accepts NULL. */
void ex_helper_destroy(ex_helper **h);

/* ------------------------------------------------------------------ training */

/* Run the trainings the points of sw need (sw->train): find their distinct settings
 * (enumerating the sweep with hooks), train those not in the cache out + ".train/" with
 * the program trainer (sttrain), spread over the farm's processes when it has a train
 * function, and add their traces to sw (labelled "train-<key>") with the choices of
 * `trace` in t, so that each point replays its own training's. A training that fails
 * makes a trace that fails its points with the trainer's message. ex_trainrun.c. */
/* The first half of it, without training: find the settings and give each a trace that
 * fails its points until trained ("training not run"), so that the plan gives every point
 * its id (ex_check). *settings (or NULL): how many. Does nothing the second time. */
int ex_train_plan(ex_sweep *sw, ex_ptab *t, const ex_hooks *hooks, int *settings, st_err *err);
int ex_train_prepare(ex_sweep *sw, ex_ptab *t, const ex_hooks *hooks, const char *out,
                     const char *trainer, const ex_farm *farm, FILE *log, const void *stop,
                     st_err *err);

/* ------------------------------------------------------------------ running */

/* ------------------------------------------------------------------- reuse */

/* The points of another result file, to stand for evaluations (stexplore --reuse). */
typedef struct ex_reuse ex_reuse;

/* Read the result file at path for a sweep of parameter table t, resolved space `space`
 * (ex_sweep_describe) and networks nets (the same, in order, by fingerprint); with detail, its
 * per-layer detail too. ST_EINVAL naming the file: not a result file, another network, another
 * evaluation (the space's eval line), missing parameter or metric columns, no detail when detail is
 * asked for. ST_ENOMEM. *out is NULL on failure. */
int ex_reuse_load(const char *path, const ex_ptab *t, const char *space, const ex_nets *nets,
                  int detail, ex_reuse **out, st_err *err);
void ex_reuse_destroy(ex_reuse **r);
/* Fill rec (its status, message, metrics and detail, which rec then owns) from the point
 * of the file with rec's id and exactly rec's parameter values: 1 when filled, 0 when the
 * file has no such point, ST_ENOMEM. A failed point stays failed; any other is OK, for the
 * sweep's keep to judge. */
int ex_reuse_fill(ex_reuse *r, ex_record *rec, st_err *err);
/* The ids found with other parameter values (not filled), so far. */
uint64_t ex_reuse_other(const ex_reuse *r);

typedef struct ex_run_opts {
    const char *out; /* the result file; its journal is out + ".journal" */
    int force, resume;
    FILE *log;         /* progress and notes; NULL for none */
    int tty;           /* progress as a live line */
    double snapshot_s; /* seconds between snapshots of the result file */
    int batch_max;     /* points per batch, at most */
    double batch_s;    /* target seconds of evaluation per batch */
    double sync_s;     /* at most this long between syncs of the journal; 0: every batch */
    const char *command, *version, *git_revision, *lua_version;
    const void *stop_signals; /* sigset_t of blocked signals that stop the run, or NULL */
    const ex_farm *farm;      /* who evaluates: NULL for this process alone */
    const char *hosts;        /* for provenance; NULL for this host's name */
    const char *reuse;        /* a result file whose points stand for evaluations, or NULL */
    const char *trainer;      /* the program that trains (sttrain), for sweeps with train */
    ex_shard shard;           /* the part of the sweep to run: {0, 0} for all of it */
} ex_run_opts;

typedef struct ex_run_stats {
    uint64_t candidates, points, failed, rejected, excluded, duplicates;
    uint64_t evaluated;   /* by this run */
    uint64_t reused;      /* by this run, from o->reuse instead of evaluated */
    uint64_t reuse_other; /* ids of o->reuse found with other parameter values */
    double elapsed_s;
    int interrupted; /* the signal that stopped the run, 0 if none */
    int already_complete;
} ex_run_stats;

/* Run the sweep of script s into o->out: train (ex_train_prepare) when the sweep asks,
 * journal, evaluate, snapshot, and write the complete file. ST_EINVAL for what the user must fix
 * (an existing output without force or resume, a resume of another script or space, a file that is
 * not ours, an output path that cannot be created), ST_EIO or ST_ENOMEM when the machine fails. */
int ex_run(ex_script *s, ex_ptab *t, const ex_run_opts *o, ex_run_stats *st, st_err *err);

/* Describe the sweep of s on out without evaluating: the space, the candidate count, the
 * points left after constraints when there are at most count_limit candidates, the
 * training settings of a sweep that trains (without training), and the first `first`
 * points; of shard only, when it is not the whole sweep. */
int ex_check(ex_script *s, ex_ptab *t, const ex_shard *shard, FILE *out, int first,
             uint64_t count_limit, st_err *err);

/* Open the `st` module into a Lua state (as the global `st` and for require "st"). */
void ex_luamod_open(struct lua_State *L);

#endif
