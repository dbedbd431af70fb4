/*
 * ex_mpi.h - sweeps spread over the ranks of an MPI communicator: one rank runs the script,
 * schedules and writes (ex_master.c), the others evaluate (ex_worker.c). The only header of
 * the explorer that includes mpi.h; ex.h stays free of it.
 *
 * The protocol, all on the communicator given:
 *   1. setup (collective): MPI_Bcast from root of {kind, length}, then of the encoded
 *      evaluator (ex_wire_put_setup) when kind is EX_MPI_WORK; kind EX_MPI_RELEASE ends
 *      the workers at once (nothing to evaluate: --check, or an error before the sweep).
 *      Before it, a sweep that trains sends kind EX_MPI_TRAIN with its training jobs
 *      (ex_trainjobs_put): every rank, root included, runs the jobs i with i % size equal
 *      to its rank, then all meet in an MPI_Barrier, and the workers wait for the next
 *      setup.
 *   2. root sends batches (tag EX_TAG_WORK, ex_wire_put_points) to each worker; a worker
 *      answers each with its records (EX_TAG_RESULT) in the order received. Root keeps two
 *      batches at each worker, so that the next one is there when the current one ends.
 *   3. root sends EX_TAG_STOP with the number of batches it sent that worker; the worker
 *      discards those it has not started, and answers EX_TAG_DONE with the number it
 *      evaluated. Root reads every worker's messages in order (any tag), so when DONE
 *      arrives all of that worker's records have.
 */
#ifndef EX_MPI_H
#define EX_MPI_H

#include <mpi.h>

#include "ex.h"

enum { EX_TAG_WORK = 101, EX_TAG_RESULT, EX_TAG_STOP, EX_TAG_DONE };
enum { EX_MPI_RELEASE = 0, EX_MPI_WORK = 1, EX_MPI_TRAIN = 2 };

typedef struct ex_master_opts {
    int local;      /* root evaluates too (on a helper thread): 1, 0, or -1 for "when comm
                     * has fewer than EX_MASTER_LOCAL_MAX ranks" */
    double grace_s; /* after a stop, how long root waits for workers to end their batch */
} ex_master_opts;

#define EX_MASTER_LOCAL_MAX 32

/* What the master did, for benchmarks and the model of docs/hpc.md. */
typedef struct ex_master_stats {
    uint64_t batches, points;             /* evaluated by workers */
    uint64_t local_batches, local_points; /* evaluated on root's helper thread */
    double eval_s, local_eval_s;          /* evaluation time the workers and the helper report */
    uint64_t messages;                    /* sent and received, setup aside */
    double wall_s;                        /* from setup to the last DONE */
    double next_s;                        /* in the feed's next (plan, `where`) */
    double done_s;                        /* in the feed's done (`keep`, journal, snapshots) */
    double wire_s;                        /* encoding, decoding, MPI calls */
    double idle_s;                        /* waiting with nothing to do */
} ex_master_stats;

typedef struct ex_master ex_master;

void ex_master_opts_init(ex_master_opts *o);
/* Make the scheduler for comm on the calling rank, which becomes its root. Not collective:
 * the farm's run is (with ex_worker_run on every other rank). */
int ex_master_create(MPI_Comm comm, const ex_master_opts *o, ex_master **out, st_err *err);
/* The farm that ex_run drives (ranks = the size of comm); borrowed, valid while m lives. */
const ex_farm *ex_master_farm(ex_master *m);
/* End the workers when the farm did not run. Does nothing after a run. Collective on comm. */
int ex_master_release(ex_master *m, st_err *err);
/* 1 when every rank has ended its part, so that MPI_Finalize returns; 0 when a stop gave up
 * waiting for a worker that was still in a batch after grace_s (and for root's helper
 * thread, which is then left running: destroy leaves it alone). */
int ex_master_clean(const ex_master *m);
void ex_master_stats_get(const ex_master *m, ex_master_stats *st);
void ex_master_destroy(ex_master **m);

/* Evaluate the batches that root sends until it says stop, or return at once when root
 * releases the workers. Collective on comm (the setup broadcast). Fails only when the
 * infrastructure does (memory, a malformed message, a root of another version); the
 * caller then aborts comm. */
int ex_worker_run(MPI_Comm comm, int root, st_err *err);

/* The host names of the ranks of comm, gathered on root into buf as "name" or
 * "a (2 ranks), b (1 rank)". Collective on comm. */
int ex_mpi_hosts(MPI_Comm comm, int root, char *buf, size_t size, st_err *err);

/* Wait for the next message from src (any tag) on comm, first polling and then sleeping
 * in growing steps up to 1 ms, so that a rank with nothing to do leaves its core to the
 * others on an oversubscribed node. A matched probe: receive it with MPI_Mrecv. */
int ex_mpi_wait(MPI_Comm comm, int src, MPI_Message *msg, MPI_Status *status, st_err *err);

#endif
