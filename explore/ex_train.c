/*
 * ex_train.c - training as part of a sweep, the parts every rank needs: the key of a
 * point's training setting, the trainer's command lines (sttrain, run as a process of its
 * own, so the explorer links neither the trainer nor its threads), their encoding for the
 * other ranks, and running one. Which settings a sweep needs, the cache of their results
 * and reading them back are ex_trainrun.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ex.h"

extern char **environ;

#define KEY_K0 UINT64_C(0x747261696e696e67) /* "training" */
#define KEY_K1 UINT64_C(0x2073657474696e67) /* " setting" */

/* The point's value of the engine's parameter name (its default when the table lacks it). */
static double value_of(const ex_ptab *t, const double *vals, const char *name)
{
    int i = ex_ptab_find(t, name);
    return i >= 0 ? vals[i] : 0;
}

int ex_train_text(const ex_sweep *sw, const ex_ptab *t, const double *vals, char *buf, size_t size)
{
    const ex_train *tr = &sw->train;
    double n = vals[t->net_row];

    return snprintf(buf, size,
                    "net=%016llx;p=%a;prune_sigma_scale=%a;prune_skip_zeros=%d;prune_first=%d;"
                    "prune_fc=%d;epochs=%ld;batch=%d;lr=%a;momentum=%a;weight_decay=%a;seed=%llu;"
                    "train_images=%ld;test_images=%ld",
                    (unsigned long long)ex_ptab_label_fp(t, t->net_row, n), value_of(t, vals, "p"),
                    value_of(t, vals, "prune_sigma_scale"),
                    (int)value_of(t, vals, "prune_skip_zeros"),
                    (int)value_of(t, vals, "prune_first"), (int)value_of(t, vals, "prune_fc"),
                    tr->epochs, tr->batch, tr->lr, tr->momentum, tr->weight_decay,
                    (unsigned long long)tr->seed, tr->train_images, tr->test_images);
}

uint64_t ex_train_key(const ex_sweep *sw, const ex_ptab *t, const double *vals)
{
    char text[512];
    int len = ex_train_text(sw, t, vals, text, sizeof text);
    uint64_t key = ex_siphash(KEY_K0, KEY_K1, text,
                              (size_t)(len < (int)sizeof text ? len : (int)sizeof text - 1));

    return key ? key : 1; /* 0 marks a trace that no training made */
}

int ex_train_trace_of(const ex_sweep *sw, const ex_ptab *t, const double *vals)
{
    uint64_t key = ex_train_key(sw, t, vals);

    for (int i = 0; i < sw->ntrace; i++)
        if (sw->traces[i]->key == key)
            return i + 1;
    return 0;
}

long ex_train_iter(const ex_train *tr)
{
    long n = tr->train_images > 0 ? tr->train_images : 60000, b = tr->batch;
    long per = (n + b - 1) / b, last = tr->epochs * per - 1;

    /* The last batch of an epoch holds what is left over: trace a whole one. */
    return n % b != 0 && per > 1 ? last - 1 : last;
}

/* ------------------------------------------------------------------- jobs */

void ex_trainjobs_free(ex_trainjob *jobs, int n)
{
    for (int i = 0; jobs && i < n; i++) {
        for (int k = 0; jobs[i].argv && jobs[i].argv[k]; k++)
            free(jobs[i].argv[k]);
        free(jobs[i].argv);
        free(jobs[i].log);
    }
    free(jobs);
}

int ex_trainjob_args(ex_trainjob *j, const char *log, int argc, const char *const *argv,
                     st_err *err)
{
    memset(j, 0, sizeof *j);
    if (!(j->argv = calloc((size_t)argc + 1, sizeof *j->argv)) || !(j->log = strdup(log)))
        goto nomem;
    for (int k = 0; k < argc; k++)
        if (!(j->argv[k] = strdup(argv[k])))
            goto nomem;
    return ST_OK;
nomem:
    for (int k = 0; j->argv && k < argc; k++)
        free(j->argv[k]);
    free(j->argv);
    free(j->log);
    memset(j, 0, sizeof *j);
    return st_err_set(err, ST_ENOMEM, "training: out of memory");
}

int ex_trainjob_run(const ex_trainjob *j, int *status, st_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    pid_t pid;
    int w = 0, rc = ST_OK, e;

    *status = -1;
    if (posix_spawnattr_init(&at) != 0)
        return st_err_set(err, ST_ENOMEM, "training: out of memory");
    if (posix_spawn_file_actions_init(&fa) != 0) {
        posix_spawnattr_destroy(&at);
        return st_err_set(err, ST_ENOMEM, "training: out of memory");
    }
    /* The explorer blocks its stop signals (it polls them); the trainer must not inherit
     * that, or a stop could not end it. */
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    /* The trainer's report goes nowhere (its figures are in the trace), its messages to
     * the log, where a failure is read back from. */
    if (posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 2, j->log, O_WRONLY | O_CREAT | O_TRUNC, 0644) != 0) {
        rc = st_err_set(err, ST_ENOMEM, "training: out of memory");
        goto done;
    }
    if ((e = posix_spawn(&pid, j->argv[0], &fa, &at, j->argv, environ)) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot start the trainer %s: %s", j->argv[0], strerror(e));
        goto done;
    }
    while (waitpid(pid, &w, 0) < 0)
        if (errno != EINTR) {
            rc = st_err_set(err, ST_EIO, "waiting for the trainer %s: %s", j->argv[0],
                            strerror(errno));
            goto done;
        }
    *status = WIFEXITED(w) ? WEXITSTATUS(w) : 128 + (WIFSIGNALED(w) ? WTERMSIG(w) : 0);
done:
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

/* Is one of the signals of stop pending? (Left pending: the run's loop takes it.) */
static int stop_pending(const void *stop)
{
    sigset_t pending;

    if (!stop || sigpending(&pending) != 0)
        return 0;
    for (int sig = 1; sig <= 64; sig++) /* Linux numbers them 1 to 64 */
        if (sigismember((const sigset_t *)stop, sig) == 1 && sigismember(&pending, sig) == 1)
            return 1;
    return 0;
}

int ex_trainjobs_run_share(const ex_trainjob *jobs, int n, int rank, int size, FILE *log,
                           const void *stop, st_err *err)
{
    int rc = ST_OK, status;

    for (int i = rank; i < n && !stop_pending(stop); i += size) {
        double t0 = ex_now();
        /* argv[1] is the network; the log's name is the setting's key. */
        if (log)
            fprintf(log, "stexplore: training %s (rank %d): %s\n", jobs[i].argv[1], rank,
                    jobs[i].log);
        if ((rc = ex_trainjob_run(&jobs[i], &status, err)) != 0)
            break;
        if (log) {
            fprintf(log, "stexplore: trained %s (rank %d) in %.1f s, %s\n", jobs[i].argv[1], rank,
                    ex_now() - t0, status == 0 ? "ok" : "failed");
            fflush(log);
        }
    }
    return rc;
}

/* Jobs on the wire: u32 n, then per job u32 argc, argc x (u32 len, bytes), u32 len, log. */
static int put_str(ex_buf *b, const char *s, st_err *err)
{
    uint32_t len = (uint32_t)strlen(s);
    int rc = ex_buf_reserve(b, b->n + 4 + len, err);

    if (rc == ST_OK) {
        memcpy(b->p + b->n, &len, 4);
        memcpy(b->p + b->n + 4, s, len);
        b->n += 4 + len;
    }
    return rc;
}

int ex_trainjobs_put(ex_buf *out, const ex_trainjob *jobs, int n, st_err *err)
{
    uint32_t u = (uint32_t)n;
    int rc;

    out->n = 0;
    if ((rc = ex_buf_reserve(out, 4, err)) != 0)
        return rc;
    memcpy(out->p, &u, 4);
    out->n = 4;
    for (int i = 0; i < n; i++) {
        int argc = 0;
        while (jobs[i].argv[argc])
            argc++;
        u = (uint32_t)argc;
        if ((rc = ex_buf_reserve(out, out->n + 4, err)) != 0)
            return rc;
        memcpy(out->p + out->n, &u, 4);
        out->n += 4;
        for (int k = 0; k < argc; k++)
            if ((rc = put_str(out, jobs[i].argv[k], err)) != 0)
                return rc;
        if ((rc = put_str(out, jobs[i].log, err)) != 0)
            return rc;
    }
    return ST_OK;
}

/* A string at *at of the n bytes p, copied; NULL when short (*bad set) or out of memory. */
static char *get_str(const unsigned char *p, size_t n, size_t *at, int *bad)
{
    uint32_t len;
    char *s;

    if (*bad || n - *at < 4) {
        *bad = 1;
        return NULL;
    }
    memcpy(&len, p + *at, 4);
    *at += 4;
    if (n - *at < len) {
        *bad = 1;
        return NULL;
    }
    if ((s = malloc((size_t)len + 1)) != NULL) {
        memcpy(s, p + *at, len);
        s[len] = '\0';
    }
    *at += len;
    return s;
}

int ex_trainjobs_get(const void *buf, size_t n, ex_trainjob **out, int *count, st_err *err)
{
    const unsigned char *p = buf;
    ex_trainjob *jobs = NULL;
    size_t at = 4;
    uint32_t nj = 0, argc = 0;
    int bad = n < 4, made = 0, rc = ST_OK;

    *out = NULL;
    *count = 0;
    if (!bad)
        memcpy(&nj, p, 4);
    if (bad || nj > n / 8 || !(jobs = calloc((size_t)nj + 1, sizeof *jobs))) {
        rc = bad || nj > n / 8
                 ? st_err_set(err, ST_EFORMAT, "training jobs of %zu bytes: malformed", n)
                 : st_err_set(err, ST_ENOMEM, "training jobs: out of memory");
        goto done;
    }
    for (; made < (int)nj; made++) {
        if (n - at < 4) {
            bad = 1;
            break;
        }
        memcpy(&argc, p + at, 4);
        at += 4;
        if (argc < 1 || argc > n / 4 ||
            !(jobs[made].argv = calloc((size_t)argc + 1, sizeof *jobs[made].argv))) {
            bad = 1;
            break;
        }
        for (uint32_t k = 0; k < argc && !bad; k++)
            if (!(jobs[made].argv[k] = get_str(p, n, &at, &bad)))
                bad = 1;
        if (!bad && !(jobs[made].log = get_str(p, n, &at, &bad)))
            bad = 1;
        if (bad) {
            made++;
            break;
        }
    }
    if (bad || at != n) {
        rc = st_err_set(err, ST_EFORMAT, "training jobs of %zu bytes: malformed", n);
        goto done;
    }
    *out = jobs;
    *count = (int)nj;
    jobs = NULL;
done:
    ex_trainjobs_free(jobs, made);
    return rc;
}
