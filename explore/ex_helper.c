/*
 * ex_helper.c - a helper thread that evaluates queued batches, so that the rank that
 * schedules a sweep evaluates too and still answers the others at once. A queue of
 * batches in, a queue of evaluated batches out, under one mutex. What to queue is the
 * scheduler's business (ex_master.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ex.h"

#define QCAP 8

typedef struct job {
    ex_batch *b;
    void *tag;
    int evaluated;
    double eval_s;
} job;

/* A ring of jobs. */
typedef struct ring {
    job q[QCAP];
    int head, n;
} ring;

struct ex_helper {
    const ex_evaluator *ev;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done; /* a job was queued; a job came back */
    ring in, out;
    int running; /* a job is being evaluated */
    int quit, started;
    int rc; /* the first failure of the evaluation, reported by pop */
    st_err err;
};

static void ring_put(ring *r, job j)
{
    r->q[(r->head + r->n++) % QCAP] = j;
}

static job ring_take(ring *r)
{
    job j = r->q[r->head];
    r->head = (r->head + 1) % QCAP;
    r->n--;
    return j;
}

static void *helper_main(void *arg)
{
    ex_helper *h = arg;
    st_err err;

    st_err_clear(&err);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        job j;
        int rc;
        double t0;
        while (!h->quit && h->in.n == 0)
            pthread_cond_wait(&h->work, &h->mu);
        if (h->quit)
            break;
        j = ring_take(&h->in);
        h->running = 1;
        pthread_mutex_unlock(&h->mu);
        t0 = ex_now();
        rc = ex_eval_batch(h->ev, j.b, &err);
        j.eval_s = ex_now() - t0;
        j.evaluated = 1;
        pthread_mutex_lock(&h->mu);
        h->running = 0;
        if (rc != 0 && h->rc == 0) {
            h->rc = rc;
            h->err = err;
        }
        ring_put(&h->out, j);
        pthread_cond_signal(&h->done);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int ex_helper_create(const ex_evaluator *ev, ex_helper **out, st_err *err)
{
    ex_helper *h = calloc(1, sizeof *h);
    int rc = ST_OK;

    *out = NULL;
    if (!h) {
        rc = st_err_set(err, ST_ENOMEM, "helper thread: out of memory");
        goto done;
    }
    h->ev = ev;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->work, NULL);
    pthread_cond_init(&h->done, NULL);
    if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot start the helper thread that evaluates on rank 0");
        goto done;
    }
    h->started = 1;
    *out = h;
    h = NULL;
done:
    ex_helper_destroy(&h);
    return rc;
}

int ex_helper_push(ex_helper *h, ex_batch *b, void *tag, st_err *err)
{
    job j = {b, tag, 0, 0};
    int rc = ST_OK;

    pthread_mutex_lock(&h->mu);
    if (h->in.n + h->out.n + h->running >= QCAP) {
        rc = st_err_set(err, ST_EINVAL, "helper thread: more than %d batches queued", QCAP);
        goto done;
    }
    ring_put(&h->in, j);
    pthread_cond_signal(&h->work);
done:
    pthread_mutex_unlock(&h->mu);
    return rc;
}

int ex_helper_pop(ex_helper *h, double wait_s, void **tag, int *evaluated, double *eval_s,
                  st_err *err)
{
    struct timespec until;
    job j;
    int rc = 0;

    pthread_mutex_lock(&h->mu);
    if (h->rc != 0) {
        rc = h->rc;
        *err = h->err;
        goto done;
    }
    if (h->out.n == 0 && wait_s > 0 && (h->in.n > 0 || h->running)) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(wait_s * 1e9);
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&h->done, &h->mu, &until);
    }
    if (h->out.n == 0)
        goto done;
    j = ring_take(&h->out);
    *tag = j.tag;
    *evaluated = j.evaluated;
    *eval_s = j.eval_s;
    rc = 1;
done:
    pthread_mutex_unlock(&h->mu);
    return rc;
}

void ex_helper_stop(ex_helper *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->in.n > 0)
        ring_put(&h->out, ring_take(&h->in));
    pthread_mutex_unlock(&h->mu);
}

int ex_helper_pending(const ex_helper *h)
{
    ex_helper *m = (ex_helper *)h;
    int n;

    pthread_mutex_lock(&m->mu);
    n = h->in.n + h->out.n + h->running;
    pthread_mutex_unlock(&m->mu);
    return n;
}

void ex_helper_destroy(ex_helper **hp)
{
    ex_helper *h;

    if (!hp || !*hp)
        return;
    h = *hp;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->quit = 1;
        pthread_cond_signal(&h->work);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    pthread_cond_destroy(&h->work);
    pthread_cond_destroy(&h->done);
    pthread_mutex_destroy(&h->mu);
    free(h);
    *hp = NULL;
}
