/*
 * ex_worker.c - an evaluating rank of an MPI sweep: receive the evaluator once, then
 * evaluate the batches root sends and send back their records, until root says stop.
 * Needs the core and the wire format only: no Lua, no HDF5, no files. The protocol is
 * described in ex_mpi.h.
 */
#include <stdlib.h>
#include <string.h>

#include "ex_mpi.h"

/* Receive the setup broadcast into buf: *kind is EX_MPI_WORK (an evaluator),
 * EX_MPI_TRAIN (training jobs) or EX_MPI_RELEASE (root releases the workers). Collective. */
static int setup_recv(MPI_Comm comm, int root, int *kind, ex_buf *buf, st_err *err)
{
    uint64_t head[2] = {0, 0};
    int rc = ST_OK;

    *kind = EX_MPI_RELEASE;
    if (MPI_Bcast(head, 2, MPI_UINT64_T, root, comm) != MPI_SUCCESS) {
        rc = st_err_set(err, ST_EIO, "MPI_Bcast of the sweep setup failed");
        goto done;
    }
    if (head[0] != EX_MPI_WORK && head[0] != EX_MPI_TRAIN)
        goto done;
    if (head[1] > (uint64_t)1 << 30 || (rc = ex_buf_reserve(buf, (size_t)head[1], err)) != 0) {
        rc = st_err_set(err, ST_EFORMAT, "sweep setup of %llu bytes: too large",
                        (unsigned long long)head[1]);
        goto done;
    }
    buf->n = (size_t)head[1];
    if (MPI_Bcast(buf->p, (int)buf->n, MPI_BYTE, root, comm) != MPI_SUCCESS) {
        rc = st_err_set(err, ST_EIO, "MPI_Bcast of the sweep setup failed");
        goto done;
    }
    *kind = (int)head[0];
done:
    return rc;
}

/* Run this rank's share of the training jobs in buf, then meet the others. Collective. */
static int train_share(MPI_Comm comm, const ex_buf *buf, st_err *err)
{
    ex_trainjob *jobs = NULL;
    int n = 0, rank = 0, size = 1, rc;

    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    rc = ex_trainjobs_get(buf->p, buf->n, &jobs, &n, err);
    if (rc == ST_OK)
        rc = ex_trainjobs_run_share(jobs, n, rank, size, stderr, NULL, err);
    ex_trainjobs_free(jobs, n);
    if (MPI_Barrier(comm) != MPI_SUCCESS && rc == ST_OK)
        rc = st_err_set(err, ST_EIO, "MPI_Barrier after the trainings failed");
    return rc;
}

/* Receive the matched message msg into buf. */
static int mrecv(MPI_Message *msg, MPI_Status *status, ex_buf *buf, st_err *err)
{
    int count = 0, rc;

    MPI_Get_count(status, MPI_BYTE, &count);
    if ((rc = ex_buf_reserve(buf, (size_t)count + 1, err)) != 0)
        goto done;
    if (MPI_Mrecv(buf->p, count, MPI_BYTE, msg, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        rc = st_err_set(err, ST_EIO, "MPI_Mrecv of %d bytes from the master failed", count);
        goto done;
    }
    buf->n = (size_t)count;
done:
    return rc;
}

int ex_worker_run(MPI_Comm comm, int root, st_err *err)
{
    ex_ptab ptab;
    ex_wire_setup setup;
    ex_sweep sw;
    ex_nets nets;
    ex_evaluator ev;
    ex_batch b;
    ex_buf in, out[2];
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    MPI_Message msg;
    MPI_Status status;
    uint64_t received = 0, evaluated = 0, stop_sent = 0, seq;
    int work = 0, bad_net = -1, bad = -1, flag, rc;

    memset(&ptab, 0, sizeof ptab);
    ex_sweep_init(&sw);
    memset(&nets, 0, sizeof nets);
    ex_batch_init(&b);
    ex_buf_init(&in);
    ex_buf_init(&out[0]);
    ex_buf_init(&out[1]);
    /* Trainings come first, when the sweep has any; then the evaluator, or the release. */
    while ((rc = setup_recv(comm, root, &work, &in, err)) == 0 && work == EX_MPI_TRAIN)
        if ((rc = train_share(comm, &in, err)) != 0)
            goto done;
    if (rc != 0 || work != EX_MPI_WORK)
        goto done;
    if ((rc = ex_ptab_init(&ptab, err)) != 0 ||
        (rc = ex_wire_get_setup(in.p, in.n, &setup, &sw, err)) != 0)
        goto done;
    if (setup.nparam != ptab.n) {
        rc = st_err_set(err, ST_EFORMAT,
                        "the master has %d parameters, this program %d: mixed versions?",
                        setup.nparam, ptab.n);
        goto done;
    }
    /* The master built the same networks before it sent them: a failure here is not the
     * user's. */
    if ((rc = ex_nets_build(&nets, sw.nets, sw.nnet, &bad_net, &bad, err)) != 0)
        goto done;
    memset(&ev, 0, sizeof ev);
    ev.ptab = &ptab;
    ev.nets = nets.net;
    ev.nnet = nets.n;
    ev.traces = sw.traces;
    ev.ntrace = sw.ntrace;
    ev.mode = setup.mode;
    ev.detail = setup.detail;

    for (;;) {
        double t0, eval_s;
        ex_buf *o = &out[evaluated % 2];
        MPI_Request *r = &req[evaluated % 2];
        /* A stop overtakes the batch held in reserve: look for it before starting one. */
        MPI_Iprobe(root, EX_TAG_STOP, comm, &flag, MPI_STATUS_IGNORE);
        if (flag)
            break;
        if ((rc = ex_mpi_wait(comm, root, &msg, &status, err)) != 0)
            goto done;
        if (status.MPI_TAG == EX_TAG_STOP) {
            if ((rc = mrecv(&msg, &status, &in, err)) != 0)
                goto done;
            memcpy(&stop_sent, in.p, sizeof stop_sent);
            goto stopped;
        }
        if (status.MPI_TAG != EX_TAG_WORK) {
            rc = st_err_set(err, ST_EFORMAT, "unexpected message with tag %d from the master",
                            status.MPI_TAG);
            goto done;
        }
        if ((rc = mrecv(&msg, &status, &in, err)) != 0 ||
            (rc = ex_wire_get_points(in.p, in.n, ptab.n, &seq, &b, err)) != 0)
            goto done;
        received++;
        t0 = ex_now();
        if ((rc = ex_eval_batch(&ev, &b, err)) != 0)
            goto done;
        eval_s = ex_now() - t0;
        /* Two result buffers: the previous send may still be under way. */
        MPI_Wait(r, MPI_STATUS_IGNORE);
        if ((rc = ex_wire_put_records(o, seq, eval_s, &b, err)) != 0)
            goto done;
        if (MPI_Isend(o->p, (int)o->n, MPI_BYTE, root, EX_TAG_RESULT, comm, r) != MPI_SUCCESS) {
            rc = st_err_set(err, ST_EIO, "MPI_Isend of %zu bytes of records failed", o->n);
            goto done;
        }
        evaluated++;
    }
    if ((rc = ex_buf_reserve(&in, sizeof stop_sent, err)) != 0)
        goto done;
    MPI_Recv(in.p, (int)sizeof stop_sent, MPI_BYTE, root, EX_TAG_STOP, comm, MPI_STATUS_IGNORE);
    memcpy(&stop_sent, in.p, sizeof stop_sent);
stopped:
    /* The batches sent before the stop are on their way or here: take them, unevaluated,
     * so that every send of the master completes. */
    while (received < stop_sent) {
        MPI_Mprobe(root, EX_TAG_WORK, comm, &msg, &status);
        if ((rc = mrecv(&msg, &status, &in, err)) != 0)
            goto done;
        received++;
    }
    MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
    if (MPI_Send(&evaluated, (int)sizeof evaluated, MPI_BYTE, root, EX_TAG_DONE, comm) !=
        MPI_SUCCESS)
        rc = st_err_set(err, ST_EIO, "MPI_Send of the end of work failed");
done:
    ex_batch_fini(&b);
    ex_buf_fini(&in);
    ex_buf_fini(&out[0]);
    ex_buf_fini(&out[1]);
    ex_nets_fini(&nets);
    ex_sweep_fini(&sw);
    ex_ptab_fini(&ptab);
    return rc;
}
