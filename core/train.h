/*
 * train.h - the public interface of the trainer library (sttraincore): forward and
 * backward passes of the layers of an st_net, SGD, the pruning of dZ in the loop, and the
 * Fashion-MNIST reader. Links libc, libm, zlib, OpenBLAS (CBLAS) and OpenMP; the simulator
 * (st.h) links none of the last three. No Lua, MPI or HDF5 here: traces are written by
 * the program.
 */
#ifndef ST_TRAIN_H
#define ST_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "st.h"

/* ------------------------------------------------------------------ data */

/* Images and labels in memory: images[i * c * h * w ...] in [0, 1] (pixel / 255),
 * labels[i] in [0, classes). */
typedef struct st_dataset {
    int n, c, h, w;
    int classes;
    float *images;
    uint8_t *labels;
} st_dataset;

/* Where Debian's dataset-fashion-mnist puts the files. */
#define ST_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Load split "train" or "t10k" of Fashion-MNIST from dir (the four IDX files, gzip:
 * <split>-images-idx3-ubyte.gz and <split>-labels-idx1-ubyte.gz), keeping the first
 * `limit` images when limit > 0. d is filled on success and left empty on failure.
 * ST_EIO names the file and the system's reason, and the Debian package when the file is
 * missing; ST_EFORMAT names the file and what is wrong (magic, sizes, a label above 9,
 * truncation); ST_EINVAL for a bad split or limit. */
int st_fmnist_load(const char *dir, const char *split, int limit, st_dataset *d, st_err *err);

/* Free the arrays of d and zero it; accepts NULL. */
void st_dataset_fini(st_dataset *d);

/* --------------------------------------------------------------- trainer */

/* Settings of a training run. */
typedef struct st_train_cfg {
    int batch;           /* images per iteration */
    double lr;           /* learning rate */
    double momentum;     /* SGD momentum */
    double weight_decay; /* L2 on convolution and FC weights (not biases, not BN) */
    uint64_t seed;       /* initialisation, shuffling and the pruning's random numbers */
    int prune;           /* 0: st_prune is never called (the unpruned reference) */
    st_prune_opts prune_opts;
    int prune_first; /* prune dZ of compute layers fed by the network input */
    int prune_fc;    /* prune dZ of fully connected layers */
} st_train_cfg;

/* Defaults: batch 64, lr 0.01, momentum 0.9, weight decay 5e-4, seed 1, pruning on with
 * st_prune_opts_init's options (p = 0), first and FC layers pruned. */
void st_train_cfg_init(st_train_cfg *cfg);

/* Check cfg; a message names the setting and its value. */
int st_train_cfg_check(const st_train_cfg *cfg, st_err *err);

typedef struct st_trainer st_trainer;

/* Create a trainer for net with cfg: buffers for cfg->batch images, weights initialised
 * from cfg->seed (He normal for convolution and FC weights, zero biases, BN gamma 1 and
 * beta 0). The network's last layer gives the class scores: its output holds `classes`
 * values. net is borrowed: it must outlive the trainer. ST_EINVAL names the network and
 * the reason (no layers, wrong number of outputs, bad cfg); ST_ENOMEM. */
int st_trainer_create(const st_net *net, const st_train_cfg *cfg, int classes, st_trainer **out,
                      st_err *err);
void st_trainer_destroy(st_trainer **t);

/* The network the trainer runs (the one given to st_trainer_create). */
const st_net *st_trainer_net(const st_trainer *t);

/* Forward and backward on b images x (b x c x h x w) with labels y, in training mode
 * (batch statistics in BN, which also updates the running statistics): the gradients of
 * the mean cross-entropy loss, with dZ pruned where cfg says, are left in the trainer;
 * *loss is the batch's mean loss. No weight changes. `iter` keys the pruning's random
 * numbers: the same iter gives the same draws. b in [1, cfg->batch]. */
int st_trainer_grad(st_trainer *t, const float *x, const uint8_t *y, int b, uint64_t iter,
                    double *loss, st_err *err);

/* st_trainer_grad, then one SGD step with momentum and weight decay. */
int st_trainer_step(st_trainer *t, const float *x, const uint8_t *y, int b, uint64_t iter,
                    double *loss, st_err *err);

/* Forward only. train = 1: as in st_trainer_grad but without touching the running
 * statistics; train = 0: BN uses its running statistics (evaluation). *loss is the mean
 * loss, *correct (may be NULL) the number of images whose arg-max is the label. */
int st_trainer_forward(st_trainer *t, const float *x, const uint8_t *y, int b, int train,
                       double *loss, int *correct, st_err *err);

/* Called after each step of an epoch with the iteration just run; a non-zero return (with
 * a message in err) stops the epoch with that code. */
typedef int (*st_train_iter_fn)(void *ctx, const st_trainer *t, uint64_t iter, st_err *err);

/* One epoch over d: a permutation drawn from (seed, epoch), batches of cfg->batch (the
 * last one smaller), one st_trainer_step each with iter counting on from *iter (which is
 * advanced), then fn(ctx, ...) when fn is not NULL. *loss is the mean of the batch losses
 * weighted by their sizes. */
int st_trainer_epoch(st_trainer *t, const st_dataset *d, int epoch, uint64_t *iter, double *loss,
                     st_train_iter_fn fn, void *ctx, st_err *err);

/* Evaluation mode over d, in batches of cfg->batch: accuracy in [0, 1] and mean loss. */
int st_trainer_evaluate(st_trainer *t, const st_dataset *d, double *accuracy, double *loss,
                        st_err *err);

/* The class scores (b x classes, before the softmax) of the last forward pass; borrowed
 * until the next call that runs one. */
const float *st_trainer_scores(const st_trainer *t);

/* Trainable tensors: weights and biases of convolution and FC layers, gamma and beta of
 * BN layers, in layer order. st_trainer_param gives tensor i: its layer, a name ("w", "b",
 * "gamma", "beta"), the values (writable, for tests and checkpoints) and the gradient of
 * the last st_trainer_grad; pointers borrowed while t lives. */
int st_trainer_param_count(const st_trainer *t);
int st_trainer_param(st_trainer *t, int i, int *layer, const char **name, float **value,
                     const float **grad, size_t *n);

/* What the trainer measured on one compute layer since the last reset. Densities are
 * fractions of non-zero elements, counted over every image of every iteration. */
typedef struct st_train_layer_stats {
    int layer;                          /* index in the network */
    int pruned;                         /* 1 when cfg prunes this layer's dZ */
    uint64_t iters;                     /* backward passes counted */
    double tau_sum;                     /* sum of the thresholds used (0 where not pruned) */
    uint64_t act_n, act_nz;             /* input activations, and the non-zero ones */
    uint64_t dz_n, dz_nz_in, dz_nz_out; /* dZ elements, non-zero before and after pruning */
} st_train_layer_stats;

/* The compute layers' statistics (count in *n), borrowed until the next call that trains;
 * st_trainer_stats_reset zeroes them. */
const st_train_layer_stats *st_trainer_stats(const st_trainer *t, int *n);
void st_trainer_stats_reset(st_trainer *t);

/* What a trace needs of one compute layer in the iteration just run by st_trainer_grad or
 * st_trainer_step (b images): its input activations (b x in_c x in_h x in_w), dZ before
 * and after the pruning (b x out_c x out_h x out_w), and tau. Pointers borrowed until the
 * next call that trains; for a layer fed by the network input, act is the x given to that
 * call. ST_EINVAL when layer is not a compute layer or nothing ran. */
typedef struct st_train_tensors {
    int b;
    const float *act, *dz_in, *dz_out;
    size_t act_n, dz_n; /* per image */
    double tau;
} st_train_tensors;
int st_trainer_tensors(const st_trainer *t, int layer, st_train_tensors *out, st_err *err);

/* Set the number of threads the trainer's parallel loops use (OpenMP; n < 1 leaves it as
 * it is: OMP_NUM_THREADS, else one per core) and make BLAS single-threaded (each of the
 * trainer's threads calls it); returns the number in effect. A trainer keeps the number
 * in effect when it was created. Results do not depend on it. */
int st_train_threads(int n);

#endif
