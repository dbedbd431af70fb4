/*
 * ex_master.c - the scheduling rank of an MPI sweep, as an ex_farm: it sends the evaluator
 * to the workers once, then keeps two batches at each of them (dynamic self-scheduling:
 * each result a worker returns is its request for more), sized by ex_sizer, and hands
 * every result to the feed (ex_run.c: `keep`, journal, snapshots). It can evaluate too,
 * on a helper thread (ex_helper.c). Stops, on a signal or an error, end every worker
 * cleanly. The protocol is described in ex_mpi.h; the worker side is ex_worker.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ex_mpi.h"

/* Batches kept at each worker: the one it evaluates and the next. */
#define DEPTH 2
/* Messages taken in one sweep of the loop before the helper and the signals get a look. */
#define BURST 64

/* A batch handed out, from the plan until the feed takes it back. */
typedef struct slot {
    ex_batch b;
    ex_span sp;
    uint64_t seq;
    ex_buf msg;
    MPI_Request req;
    struct slot *next;
} slot;

enum { P_ACTIVE = 0, P_STOPPING, P_DONE };

/* An evaluating rank, or (at the master's own rank) the helper thread. */
typedef struct peer {
    slot *head, *tail; /* in the order sent */
    int inflight;
    uint64_t sent;
    int state;
} peer;

struct ex_master {
    MPI_Comm comm;
    int rank, size;
    ex_master_opts o;
    ex_farm farm;
    int ran, clean;
    /* The state of a run. */
    const ex_feed *feed;
    peer *peers; /* by rank; peers[rank] is the helper thread */
    slot *spare; /* slots to reuse */
    ex_helper *helper;
    int local;  /* the helper evaluates */
    int active; /* peers not done */
    int exhausted, stopping, broken;
    double deadline;
    int rc; /* the first failure, kept while the workers are stopped */
    st_err err;
    ex_buf in;
    ex_sizer z;
    ex_master_stats stats;
};

void ex_master_opts_init(ex_master_opts *o)
{
    o->local = -1;
    o->grace_s = 3;
}

/* ------------------------------------------------------------------- slots */

static int slot_take(ex_master *m, slot **out, st_err *err)
{
    slot *s = m->spare;
    int rc = ST_OK;

    if (s) {
        m->spare = s->next;
    } else if ((s = calloc(1, sizeof *s)) != NULL) {
        ex_batch_init(&s->b);
        ex_buf_init(&s->msg);
    } else {
        rc = st_err_set(err, ST_ENOMEM, "master: out of memory for a batch");
    }
    if (s) {
        s->next = NULL;
        s->req = MPI_REQUEST_NULL;
    }
    *out = s;
    return rc;
}

static void slot_give(ex_master *m, slot *s)
{
    ex_batch_clear(&s->b);
    s->next = m->spare;
    m->spare = s;
}

static void slots_free(slot *s)
{
    while (s) {
        slot *next = s->next;
        ex_batch_fini(&s->b);
        ex_buf_fini(&s->msg);
        free(s);
        s = next;
    }
}

static void fifo_push(peer *p, slot *s)
{
    s->next = NULL;
    if (p->tail)
        p->tail->next = s;
    else
        p->head = s;
    p->tail = s;
    p->inflight++;
}

/* Unlink s from p's list (the helper can return batches out of order after a stop). */
static void fifo_remove(peer *p, slot *s)
{
    slot **at = &p->head, *prev = NULL;

    while (*at && *at != s) {
        prev = *at;
        at = &(*at)->next;
    }
    if (!*at)
        return;
    *at = s->next;
    if (p->tail == s)
        p->tail = prev;
    s->next = NULL;
    p->inflight--;
}

/* ------------------------------------------------------------ the schedule */

/* Remember the first failure and stop: the workers are ended cleanly before it is returned,
 * and no result is journaled after it. */
static void fail(ex_master *m, int rc, const st_err *err)
{
    if (m->rc == 0) {
        m->rc = rc;
        m->err = *err;
    }
    m->broken = 1;
}

static int send_stop(ex_master *m, int w, st_err *err)
{
    peer *p = &m->peers[w];
    int rc = ST_OK;

    if (MPI_Send(&p->sent, (int)sizeof p->sent, MPI_BYTE, w, EX_TAG_STOP, m->comm) != MPI_SUCCESS)
        rc = st_err_set(err, ST_EIO, "MPI_Send of a stop to rank %d failed", w);
    p->state = P_STOPPING;
    m->stats.messages++;
    return rc;
}

/* A peer with nothing in flight and nothing more to get ends: a worker is told, the helper
 * is simply done. */
static int retire(ex_master *m, int w, st_err *err)
{
    peer *p = &m->peers[w];

    if (p->state != P_ACTIVE || p->inflight > 0 || !(m->exhausted || m->stopping))
        return ST_OK;
    if (w != m->rank)
        return send_stop(m, w, err);
    p->state = P_DONE;
    m->active--;
    return ST_OK;
}

static int retire_all(ex_master *m, st_err *err)
{
    int rc = ST_OK;

    for (int w = 0; w < m->size && rc == ST_OK; w++)
        if (w != m->rank || m->local)
            rc = retire(m, w, err);
    return rc;
}

/* Hand peer w its next batch: from the plan, through the feed. Ranges that `where` emptied
 * go straight back to the feed. */
static int dispatch(ex_master *m, int w, st_err *err)
{
    peer *p = &m->peers[w];
    slot *s = NULL;
    double t0;
    int rc = ST_OK, size;

    while (!m->exhausted && !m->stopping && p->state == P_ACTIVE) {
        size = ex_sizer_next(&m->z, m->feed->left(m->feed->ctx));
        if ((rc = slot_take(m, &s, err)) != 0)
            goto done;
        t0 = ex_now();
        rc = m->feed->next(m->feed->ctx, &s->b, size, &s->sp, err);
        m->stats.next_s += ex_now() - t0;
        if (rc != 0)
            goto done;
        if (s->sp.span == 0) {
            m->exhausted = 1;
            rc = retire_all(m, err);
            goto done;
        }
        if (s->b.n == 0) {
            t0 = ex_now();
            rc = m->feed->done(m->feed->ctx, &s->b, &s->sp, err);
            m->stats.done_s += ex_now() - t0;
            if (rc != 0)
                goto done;
            slot_give(m, s);
            s = NULL;
            continue;
        }
        s->seq = ++p->sent;
        t0 = ex_now();
        if (w == m->rank) {
            rc = ex_helper_push(m->helper, &s->b, s, err);
        } else if ((rc = ex_wire_put_points(&s->msg, s->seq, &s->b, err)) == 0 &&
                   MPI_Isend(s->msg.p, (int)s->msg.n, MPI_BYTE, w, EX_TAG_WORK, m->comm, &s->req) !=
                       MPI_SUCCESS) {
            rc = st_err_set(err, ST_EIO, "MPI_Isend of a batch to rank %d failed", w);
        }
        m->stats.wire_s += ex_now() - t0;
        if (rc != 0)
            goto done;
        m->stats.messages += w != m->rank;
        fifo_push(p, s);
        s = NULL;
        break;
    }
done:
    if (s)
        slot_give(m, s);
    return rc;
}

static int begin_stop(ex_master *m, st_err *err)
{
    int rc = ST_OK;

    if (m->stopping)
        return ST_OK;
    m->stopping = 1;
    m->deadline = ex_now() + m->o.grace_s;
    for (int w = 0; w < m->size && rc == ST_OK; w++) {
        if (w == m->rank || m->peers[w].state != P_ACTIVE)
            continue;
        rc = send_stop(m, w, err);
    }
    if (m->helper)
        ex_helper_stop(m->helper);
    if (rc == ST_OK)
        rc = retire_all(m, err);
    return rc;
}

/* A failure of the feed (the journal, the script): remembered, and the sweep stops. */
static int failed(ex_master *m, int rc, st_err *err)
{
    fail(m, rc, err);
    return begin_stop(m, err);
}

/* A batch came back evaluated: to the feed, and the peer gets the next one. Returns
 * nonzero only when MPI fails. */
static int settle(ex_master *m, int w, slot *s, double eval_s, st_err *err)
{
    double t0 = ex_now();
    int rc = ST_OK;

    ex_sizer_observe(&m->z, s->b.n, eval_s);
    if (!m->broken) {
        rc = m->feed->done(m->feed->ctx, &s->b, &s->sp, err);
        m->stats.done_s += ex_now() - t0;
    }
    if (w == m->rank) {
        m->stats.local_eval_s += eval_s;
        m->stats.local_batches++;
        m->stats.local_points += (uint64_t)s->b.n;
    } else {
        m->stats.eval_s += eval_s;
        m->stats.batches++;
        m->stats.points += (uint64_t)s->b.n;
    }
    slot_give(m, s);
    if (rc == 0)
        rc = dispatch(m, w, err);
    if (rc != 0 && (rc = failed(m, rc, err)) != 0)
        goto done;
    rc = retire(m, w, err);
done:
    return rc;
}

static int on_message(ex_master *m, MPI_Message *msg, MPI_Status *status, st_err *err)
{
    int w = status->MPI_SOURCE, count = 0, rc;
    peer *p = &m->peers[w];
    slot *s;
    double t0 = ex_now(), eval_s = 0;
    uint64_t evaluated;

    MPI_Get_count(status, MPI_BYTE, &count);
    if ((rc = ex_buf_reserve(&m->in, (size_t)count + 1, err)) != 0)
        goto done;
    if (MPI_Mrecv(m->in.p, count, MPI_BYTE, msg, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        rc = st_err_set(err, ST_EIO, "MPI_Mrecv of %d bytes from rank %d failed", count, w);
        goto done;
    }
    m->stats.messages++;
    if (status->MPI_TAG == EX_TAG_DONE && count == (int)sizeof evaluated) {
        /* Every record of w came before this; what is still listed was discarded. */
        memcpy(&evaluated, m->in.p, sizeof evaluated);
        while ((s = p->head) != NULL) {
            fifo_remove(p, s);
            MPI_Wait(&s->req, MPI_STATUS_IGNORE);
            slot_give(m, s);
        }
        p->state = P_DONE;
        m->active--;
        m->stats.wire_s += ex_now() - t0;
        goto done;
    }
    if (status->MPI_TAG != EX_TAG_RESULT || !(s = p->head)) {
        rc = st_err_set(err, ST_EFORMAT, "unexpected message with tag %d from rank %d",
                        status->MPI_TAG, w);
        goto done;
    }
    if ((rc = ex_wire_get_records(m->in.p, (size_t)count, s->seq, &eval_s, &s->b, err)) != 0)
        goto done;
    fifo_remove(p, s);
    /* The worker has received the batch, so the send is complete or about to be. */
    MPI_Wait(&s->req, MPI_STATUS_IGNORE);
    m->stats.wire_s += ex_now() - t0;
    rc = settle(m, w, s, eval_s, err);
done:
    return rc;
}

static int on_local(ex_master *m, slot *s, int evaluated, double eval_s, st_err *err)
{
    peer *p = &m->peers[m->rank];
    int rc = ST_OK;

    fifo_remove(p, s);
    if (evaluated) {
        rc = settle(m, m->rank, s, eval_s, err);
    } else {
        slot_give(m, s);
        rc = retire(m, m->rank, err);
    }
    return rc;
}

static int setup_send(ex_master *m, int kind, const ex_evaluator *ev, const ex_sweep *sw,
                      st_err *err)
{
    ex_wire_setup ws;
    uint64_t head[2] = {(uint64_t)kind, 0};
    int rc = ST_OK;

    if (kind == EX_MPI_WORK) {
        ws.mode = ev->mode;
        ws.detail = ev->detail;
        ws.nparam = ev->ptab->n;
        ex_metrics(&ws.nmetric);
        if ((rc = ex_wire_put_setup(&m->in, &ws, sw, err)) != 0)
            goto done;
        head[1] = m->in.n;
    }
    if (MPI_Bcast(head, 2, MPI_UINT64_T, m->rank, m->comm) != MPI_SUCCESS ||
        (kind == EX_MPI_WORK &&
         MPI_Bcast(m->in.p, (int)m->in.n, MPI_BYTE, m->rank, m->comm) != MPI_SUCCESS))
        rc = st_err_set(err, ST_EIO, "MPI_Bcast of the sweep setup failed");
done:
    return rc;
}

/* Sleep between empty looks, in growing steps; on the helper's condition variable when it
 * has work, so that its results are taken at once. Returns what the helper gave, if any. */
static int idle(ex_master *m, long *nap_ns, slot **s, int *evaluated, double *eval_s, st_err *err)
{
    struct timespec nap = {0, 0};
    double t0 = ex_now();
    void *tag = NULL;
    int got = 0;

    *nap_ns = *nap_ns ? (*nap_ns * 2 > 1000000 ? 1000000 : *nap_ns * 2) : 10000;
    if (m->helper && ex_helper_pending(m->helper) > 0) {
        got = ex_helper_pop(m->helper, (double)*nap_ns * 1e-9, &tag, evaluated, eval_s, err);
    } else {
        nap.tv_nsec = *nap_ns;
        nanosleep(&nap, NULL);
    }
    *s = tag;
    m->stats.idle_s += ex_now() - t0;
    return got;
}

static int master_run(void *ctx, const ex_evaluator *ev, const ex_sweep *sw, const ex_feed *feed,
                      const ex_farm_opts *fo, int *stopped, st_err *err)
{
    ex_master *m = ctx;
    MPI_Message msg;
    MPI_Status status;
    double t_start = ex_now(), eval_s;
    long nap_ns = 0;
    int flag, polls = 0, rc, got, evaluated, sig;
    slot *s;

    *stopped = 0;
    m->feed = feed;
    m->ran = 1;
    m->clean = 0;
    if ((rc = setup_send(m, EX_MPI_WORK, ev, sw, err)) != 0)
        goto done;
    m->local = m->size == 1 || (m->o.local < 0 ? m->size < EX_MASTER_LOCAL_MAX : m->o.local);
    if (m->local && (rc = ex_helper_create(ev, &m->helper, err)) != 0)
        goto done;
    if (!(m->peers = calloc((size_t)m->size, sizeof *m->peers))) {
        rc = st_err_set(err, ST_ENOMEM, "master: out of memory for %d ranks", m->size);
        goto done;
    }
    m->active = m->size - 1 + m->local;
    if (!m->local)
        m->peers[m->rank].state = P_DONE;
    ex_sizer_init(&m->z, m->active, fo->batch_max, fo->batch_s);
    /* Two batches each, round by round, so that the first batches spread over every peer. */
    for (int d = 0; d < DEPTH && !m->stopping; d++)
        for (int w = 0; w < m->size && !m->stopping; w++)
            if ((w != m->rank || m->local) && (rc = dispatch(m, w, err)) != 0 &&
                (rc = failed(m, rc, err)) != 0)
                goto done;

    while (m->active > 0) {
        int did = 0;
        if (!m->stopping && (sig = feed->stop(feed->ctx)) != 0) {
            *stopped = sig;
            if ((rc = begin_stop(m, err)) != 0)
                goto done;
        }
        for (int k = 0; k < BURST; k++) {
            if (MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, m->comm, &flag, &msg, &status) !=
                MPI_SUCCESS) {
                rc = st_err_set(err, ST_EIO, "MPI_Improbe failed");
                goto done;
            }
            if (!flag)
                break;
            did = 1;
            if ((rc = on_message(m, &msg, &status, err)) != 0)
                goto done;
        }
        /* One batch of the helper per turn: it refills at once, and the workers must not
         * wait behind it. */
        if (m->helper &&
            (got = ex_helper_pop(m->helper, 0, (void **)&s, &evaluated, &eval_s, err)) != 0) {
            if (got < 0) {
                rc = got;
                goto done;
            }
            did = 1;
            if ((rc = on_local(m, s, evaluated, eval_s, err)) != 0)
                goto done;
        }
        if (m->stopping && ex_now() > m->deadline)
            break;
        if (did) {
            polls = 0;
            nap_ns = 0;
        } else if (++polls > 200 && (got = idle(m, &nap_ns, &s, &evaluated, &eval_s, err)) != 0) {
            if (got < 0) {
                rc = got;
                goto done;
            }
            nap_ns = 0;
            if ((rc = on_local(m, s, evaluated, eval_s, err)) != 0)
                goto done;
        }
    }
    m->clean = m->active == 0;
    rc = m->rc;
    if (rc != 0)
        *err = m->err;
done:
    m->stats.wall_s = ex_now() - t_start;
    return rc;
}

/* Training jobs, spread over every rank (root too) in turn; collective on comm. */
static int master_train(void *ctx, const ex_trainjob *jobs, int n, FILE *log, const void *stop,
                        st_err *err)
{
    ex_master *m = ctx;
    uint64_t head[2] = {EX_MPI_TRAIN, 0};
    int rc;

    if ((rc = ex_trainjobs_put(&m->in, jobs, n, err)) != 0)
        return rc;
    head[1] = m->in.n;
    if (MPI_Bcast(head, 2, MPI_UINT64_T, m->rank, m->comm) != MPI_SUCCESS ||
        MPI_Bcast(m->in.p, (int)m->in.n, MPI_BYTE, m->rank, m->comm) != MPI_SUCCESS)
        return st_err_set(err, ST_EIO, "MPI_Bcast of the training jobs failed");
    rc = ex_trainjobs_run_share(jobs, n, m->rank, m->size, log, stop, err);
    /* Every rank has finished its trainings (and their files are in place) past here. */
    if (MPI_Barrier(m->comm) != MPI_SUCCESS && rc == ST_OK)
        rc = st_err_set(err, ST_EIO, "MPI_Barrier after the trainings failed");
    return rc;
}

/* ---------------------------------------------------------------- lifetime */

int ex_master_create(MPI_Comm comm, const ex_master_opts *o, ex_master **out, st_err *err)
{
    ex_master *m = calloc(1, sizeof *m);
    int rc = ST_OK;

    *out = NULL;
    if (!m) {
        rc = st_err_set(err, ST_ENOMEM, "master: out of memory");
        goto done;
    }
    m->comm = comm;
    MPI_Comm_rank(comm, &m->rank);
    MPI_Comm_size(comm, &m->size);
    m->o = *o;
    m->clean = 1;
    ex_buf_init(&m->in);
    m->farm.ctx = m;
    m->farm.ranks = m->size;
    m->farm.run = master_run;
    m->farm.train = master_train;
    *out = m;
done:
    return rc;
}

const ex_farm *ex_master_farm(ex_master *m)
{
    return &m->farm;
}

int ex_master_release(ex_master *m, st_err *err)
{
    int rc = ST_OK;

    if (!m->ran) {
        m->ran = 1;
        rc = setup_send(m, EX_MPI_RELEASE, NULL, NULL, err);
    }
    return rc;
}

int ex_master_clean(const ex_master *m)
{
    return m->clean;
}

void ex_master_stats_get(const ex_master *m, ex_master_stats *st)
{
    *st = m->stats;
}

void ex_master_destroy(ex_master **mp)
{
    ex_master *m;

    if (!mp || !*mp)
        return;
    m = *mp;
    /* After a stop that gave up, the helper thread may still be evaluating a batch that
     * lives in a slot: leave both to the end of the process. */
    if (m->clean) {
        ex_helper_destroy(&m->helper);
        for (int w = 0; m->peers && w < m->size; w++)
            slots_free(m->peers[w].head);
        free(m->peers);
        slots_free(m->spare);
        ex_buf_fini(&m->in);
        free(m);
    }
    *mp = NULL;
}
