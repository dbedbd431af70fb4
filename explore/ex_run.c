/*
 * ex_run.c - running a sweep on one process: the loop that takes batches from the plan,
 * evaluates them, applies `keep`, journals them, snapshots the result file and reports
 * progress; resuming from a journal; and --check, which describes a sweep without
 * evaluating it. The loop's parts are a feed (ex_feed) that a farm of processes can
 * drive instead of the loop (ex_master.c); the farm itself is not here.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ex.h"

static void utc_text(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm))
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(buf, size, "?");
}

/* The first line where a and b differ, as a message: "file has '...', script has '...'".
 * Returns 1 when that line is about a module the script requires, 2 when it is about the
 * network (its structure's fingerprint, or its layer-list file), else 0. */
static int first_difference(const char *a, const char *b, char *buf, size_t size)
{
    int line = 1;

    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0) {
            snprintf(buf, size, "line %d: the file has '%.*s', the script has '%.*s'", line,
                     (int)(la > 200 ? 200 : la), a, (int)(lb > 200 ? 200 : lb), b);
            if (!strncmp(a, "requires ", 9) || !strncmp(b, "requires ", 9))
                return 1;
            return !strncmp(a, "network: ", 9) || !strncmp(a, "layer list: ", 12) ? 2 : 0;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
        line++;
    }
    snprintf(buf, size, "no difference");
    return 0;
}

/* Refuse to resume a run of another sweep, saying what differs. */
static int same_sweep(const char *what, const char *old_space, const char *old_script,
                      const char *space, const char *script, st_err *err)
{
    char diff[600];

    if (strcmp(old_space, space) != 0) {
        int kind = first_difference(old_space, space, diff, sizeof diff);
        if (kind)
            return st_err_set(err, ST_EINVAL,
                              "cannot resume %s: %s since (%s); use --force to start over", what,
                              kind == 1 ? "the modules the script requires have changed"
                                        : "the network has changed",
                              diff);
        return st_err_set(err, ST_EINVAL,
                          "cannot resume %s: it was made from another design space (%s); use "
                          "--force to start over",
                          what, diff);
    }
    if (strcmp(old_script, script) != 0) {
        first_difference(old_script, script, diff, sizeof diff);
        return st_err_set(err, ST_EINVAL,
                          "cannot resume %s: the script has changed since (script %s); use "
                          "--force to start over",
                          what, diff);
    }
    return ST_OK;
}

/* The signal among the blocked ones that is pending, taken; 0 when none. */
static int signal_taken(const void *set)
{
    struct timespec zero = {0, 0};
    int sig;

    if (!set)
        return 0;
    sig = sigtimedwait((const sigset_t *)set, NULL, &zero);
    return sig > 0 ? sig : 0;
}

typedef struct runner {
    ex_script *s;
    const ex_sweep *sw;
    const ex_ptab *t;
    const ex_run_opts *o;
    ex_nets nets;
    char *space;
    char journal_path[4096];
    ex_journal *j;
    ex_plan plan;
    ex_batch batch;
    ex_h5_meta meta;
    char started[32], finished[32], hosts[256];
    double t0;
    /* The loop's state, shared by the feed callbacks. */
    ex_run_stats *st;
    ex_progress pg;
    uint64_t covered; /* indices journaled, this run and before */
    uint64_t handed;  /* indices handed out, this run and before */
    double last_snap, snap_cost;
    /* --reuse: the other file, and the reused points of each batch in flight, by the first
     * index of its span, until the batch comes back. */
    ex_reuse *reuse;
    struct stash {
        uint64_t first;
        int busy;
        ex_batch b;
    } * stash;
    int nstash;
    int premerged; /* records of the frame in hand that local_run took from the stash */
    ex_batch scratch, merged;
} runner;

static int add_range(void *ctx, uint64_t lo, uint64_t hi)
{
    return ex_ranges_add(&((runner *)ctx)->plan.done, lo, hi, NULL);
}

static int add_seen(void *ctx, const ex_record *r, st_err *err)
{
    return ex_plan_seen(&((runner *)ctx)->plan, r->id, err);
}

static int snapshot(runner *r, int complete, st_err *err)
{
    int rc;

    /* The file must not claim points that the journal could still lose. */
    if ((rc = ex_journal_sync(r->j, err)) != 0)
        return rc;
    utc_text((int64_t)time(NULL), r->finished, sizeof r->finished);
    r->meta.complete = complete;
    r->meta.candidates = r->plan.total;
    r->meta.excluded = ex_journal_excluded(r->j);
    r->meta.duplicates = ex_journal_duplicates(r->j);
    r->meta.elapsed_s = (double)(time(NULL) - ex_journal_head_get(r->j)->started);
    return ex_h5_save(r->o->out, &r->meta, r->j, err);
}

/* Open what is there for --resume, or decide to start afresh. *fresh says which. */
static int resume_open(runner *r, int *fresh, ex_run_stats *st, st_err *err)
{
    const ex_journal_head *h;
    ex_h5_info info;
    int has_out = access(r->o->out, F_OK) == 0, has_j = access(r->journal_path, F_OK) == 0;
    int rc = ST_OK;

    memset(&info, 0, sizeof info);
    *fresh = 0;
    if (has_out && (rc = ex_h5_probe(r->o->out, &info, err)) != 0) {
        rc = st_err_set(err, rc == ST_ENOMEM ? rc : ST_EINVAL, "cannot resume: %s", err->msg);
        goto done;
    }
    if (!has_j) {
        if (!has_out) {
            *fresh = 1;
        } else if (!info.complete) {
            rc = st_err_set(err, ST_EINVAL,
                            "cannot resume %s: its journal %s is missing (use --force to start "
                            "over)",
                            r->o->out, r->journal_path);
        } else if ((rc = same_sweep(r->o->out, info.space, info.script, r->space,
                                    ex_script_text(r->s), err)) == 0) {
            st->already_complete = 1;
            st->points = info.points;
        }
        goto done;
    }
    if ((rc = ex_journal_open(r->journal_path, &r->j, err)) != 0) {
        rc = st_err_set(err, rc == ST_EFORMAT ? ST_EINVAL : rc, "cannot resume: %s", err->msg);
        goto done;
    }
    h = ex_journal_head_get(r->j);
    if ((rc = same_sweep(r->journal_path, h->space, h->script, r->space, ex_script_text(r->s),
                         err)) != 0)
        goto done;
    if (h->nparam != (uint32_t)r->t->n || h->nmetric != (uint32_t)r->batch.nmetric) {
        rc = st_err_set(err, ST_EINVAL,
                        "cannot resume %s: written by a stexplore with other parameters or metrics",
                        r->journal_path);
        goto done;
    }
done:
    ex_h5_info_fini(&info);
    return rc;
}

static int make_parent(const char *path, st_err *err)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct stat sb;

    if (!slash)
        return ST_OK;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (!*dir || stat(dir, &sb) == 0)
        return ST_OK;
    if (mkdir(dir, 0777) != 0)
        return st_err_set(err, ST_EINVAL, "cannot create the folder %s: %s", dir, strerror(errno));
    return ST_OK;
}

/* ------------------------------------------------------------------- reuse */

/* Move record i of from (status, message, metrics, detail) to the end of to. */
static void move_record(ex_batch *to, ex_batch *from, int i)
{
    ex_record *s = &from->recs[i], *d;

    ex_batch_add(to, s->index, s->id, s->vals);
    d = &to->recs[to->n - 1];
    d->status = s->status;
    memcpy(d->msg, s->msg, sizeof d->msg);
    memcpy(d->metrics, s->metrics, (size_t)to->nmetric * sizeof *d->metrics);
    d->detail = s->detail;
    d->ndetail = s->ndetail;
    s->detail = NULL;
    s->ndetail = 0;
}

/* Take the points of b that the other file has out of b, into a stash for the span that
 * starts at first: b keeps only the points to evaluate. */
static int reuse_take(runner *r, ex_batch *b, uint64_t first, st_err *err)
{
    struct stash *st = NULL;
    int rc;

    for (int k = 0; k < r->nstash && !st; k++)
        if (!r->stash[k].busy)
            st = &r->stash[k];
    if (!st) {
        struct stash *g = realloc(r->stash, (size_t)(r->nstash + 1) * sizeof *g);
        if (!g)
            return st_err_set(err, ST_ENOMEM, "out of memory");
        r->stash = g;
        st = &r->stash[r->nstash++];
        ex_batch_init(&st->b);
    }
    if ((rc = ex_batch_reserve(&st->b, b->n, r->t->n, err)) != 0 ||
        (rc = ex_batch_reserve(&r->scratch, b->n, r->t->n, err)) != 0)
        return rc;
    st->first = first;
    st->busy = 1;
    for (int i = 0; i < b->n; i++) {
        ex_record *rec = &b->recs[i];
        ex_batch_add(&st->b, rec->index, rec->id, rec->vals);
        if ((rc = ex_reuse_fill(r->reuse, &st->b.recs[st->b.n - 1], err)) < 0)
            return rc;
        if (rc == 0) {
            st->b.n--;
            ex_batch_add(&r->scratch, rec->index, rec->id, rec->vals);
        }
    }
    if (st->b.n == 0) {
        st->busy = 0;
        return ST_OK;
    }
    ex_batch_clear(b);
    for (int i = 0; i < r->scratch.n; i++)
        ex_batch_add(b, r->scratch.recs[i].index, r->scratch.recs[i].id, r->scratch.recs[i].vals);
    ex_batch_clear(&r->scratch);
    return ST_OK;
}

/* The batch of the span that starts at first, evaluated points and reused ones together in
 * index order: r->merged, or b itself when nothing of it was reused. */
static int reuse_give(runner *r, ex_batch **b, uint64_t first, st_err *err)
{
    struct stash *st = NULL;
    int i = 0, j = 0, rc;

    for (int k = 0; k < r->nstash && !st; k++)
        if (r->stash[k].busy && r->stash[k].first == first)
            st = &r->stash[k];
    if (!st)
        return ST_OK;
    if ((rc = ex_batch_reserve(&r->merged, (*b)->n + st->b.n, r->t->n, err)) != 0)
        return rc;
    while (i < (*b)->n || j < st->b.n) {
        if (j == st->b.n || (i < (*b)->n && (*b)->recs[i].index < st->b.recs[j].index))
            move_record(&r->merged, *b, i++);
        else
            move_record(&r->merged, &st->b, j++);
    }
    r->st->reused += (uint64_t)st->b.n;
    ex_batch_clear(&st->b);
    st->busy = 0;
    *b = &r->merged;
    return ST_OK;
}

/* ---------------------------------------------------------------- the feed */

/* The feed side of a run: what a farm asks for and hands back (ex_feed), over the plan,
 * the script's `keep`, the journal, the progress line and the snapshots. */

static int feed_next(void *ctx, ex_batch *b, int max, ex_span *sp, st_err *err)
{
    runner *r = ctx;
    uint64_t exc0 = r->plan.excluded, dup0 = r->plan.duplicates;
    int rc;

    memset(sp, 0, sizeof *sp);
    if ((rc = ex_batch_reserve(b, max, r->t->n, err)) != 0 ||
        (rc = ex_plan_next(&r->plan, b, max, &sp->first, &sp->span, err)) != 0)
        goto done;
    sp->excluded = r->plan.excluded - exc0;
    sp->duplicates = r->plan.duplicates - dup0;
    r->handed += sp->span;
    if (r->reuse && b->n > 0)
        rc = reuse_take(r, b, sp->first, err);
done:
    return rc;
}

/* Progress counts the points to evaluate: those journaled, of the candidates less what
 * `where` and de-duplication removed so far (an upper bound that reaches the exact count
 * at the end). */
static void progress(runner *r, int force)
{
    uint64_t gone = ex_journal_excluded(r->j) + ex_journal_duplicates(r->j);

    r->pg.total = r->plan.total > gone ? r->plan.total - gone : 0;
    ex_progress_update(&r->pg, ex_journal_records(r->j), r->st->failed, force);
}

static int feed_done(void *ctx, ex_batch *b, const ex_span *sp, st_err *err)
{
    runner *r = ctx;
    const ex_hooks *h = ex_script_hooks(r->s);
    int rc = ST_OK, keep, evaluated = b->n - r->premerged;

    r->premerged = 0;
    if (r->reuse && (rc = reuse_give(r, &b, sp->first, err)) != 0)
        goto done;
    for (int i = 0; h->keep && i < b->n; i++) {
        ex_record *rec = &b->recs[i];
        if (rec->status != EX_OK)
            continue;
        if ((rc = h->keep(h->ctx, rec, &keep, err)) != 0)
            goto done;
        if (!keep)
            rec->status = EX_REJECTED;
    }
    if ((rc = ex_journal_append(r->j, sp->first, sp->span, sp->excluded, sp->duplicates, b, err)) !=
        0)
        goto done;
    for (int i = 0; i < b->n; i++)
        r->st->failed += b->recs[i].status == EX_FAILED;
    r->st->evaluated += (uint64_t)evaluated;
    r->covered += sp->span;
    progress(r, 0);
    /* Rewriting the file costs time in its size: never spend more than a tenth of the
     * run on snapshots. */
    if (ex_now() - r->last_snap >= r->o->snapshot_s &&
        ex_now() - r->last_snap >= 10 * r->snap_cost) {
        double t2 = ex_now();
        if ((rc = snapshot(r, 0, err)) != 0)
            goto done;
        r->last_snap = ex_now();
        r->snap_cost = r->last_snap - t2;
    }
done:
    return rc;
}

static int feed_stop(void *ctx)
{
    return signal_taken(((runner *)ctx)->o->stop_signals);
}

static uint64_t feed_left(void *ctx)
{
    runner *r = ctx;
    return r->plan.total > r->handed ? r->plan.total - r->handed : 0;
}

/* A stop signal is pending (not taken: feed_stop takes it between frames). */
static int stop_pending(const runner *r)
{
    sigset_t p;

    if (!r->o->stop_signals || sigpending(&p) != 0)
        return 0;
    for (int sig = 1; sig < 65; sig++)
        if (sigismember((const sigset_t *)r->o->stop_signals, sig) == 1 &&
            sigismember(&p, sig) == 1)
            return 1;
    return 0;
}

/* Evaluate in this process. Frames (the journal's batches) are sized as under MPI
 * (ex_sizer, with one worker), and filled one point at a time until that size or batch_s
 * seconds of work, whichever comes first: a sweep whose cost per point jumps (points that
 * fail at once, then dear ones) still journals, reports progress and notices a stop
 * within batch_s plus one point, where a size estimated from the cheap points alone
 * would have made the next batch the rest of the sweep. */
static int local_run(runner *r, const ex_evaluator *ev, int *stopped, st_err *err)
{
    ex_sizer z;
    ex_batch one, *pb;
    ex_span sp, s1;
    int rc = ST_OK;

    ex_sizer_init(&z, 1, r->o->batch_max, r->o->batch_s);
    ex_batch_init(&one);
    for (;;) {
        int size;
        double t1;
        if ((*stopped = feed_stop(r)) != 0)
            break;
        size = ex_sizer_next(&z, feed_left(r));
        if ((rc = ex_batch_reserve(&r->batch, size, r->t->n, err)) != 0)
            goto done;
        memset(&sp, 0, sizeof sp);
        t1 = ex_now();
        while (r->batch.n < size) {
            /* A frame covers one contiguous run of indices: it ends before a range that
             * a previous run finished. */
            if (sp.span > 0 && (ex_now() - t1 >= r->o->batch_s || stop_pending(r) ||
                                ex_ranges_skip(&r->plan.done, r->plan.next) != r->plan.next))
                break;
            if ((rc = feed_next(r, &one, 1, &s1, err)) != 0)
                goto done;
            if (s1.span == 0)
                break;
            if (sp.span == 0)
                sp.first = s1.first;
            sp.span += s1.span;
            sp.excluded += s1.excluded;
            sp.duplicates += s1.duplicates;
            if ((rc = ex_eval_batch(ev, &one, err)) != 0)
                goto done;
            /* a point taken from --reuse's file joins the frame here, in index order */
            pb = &one;
            if (r->reuse && (rc = reuse_give(r, &pb, s1.first, err)) != 0)
                goto done;
            r->premerged += pb->n - one.n;
            for (int i = 0; i < pb->n; i++)
                move_record(&r->batch, pb, i);
            ex_batch_clear(pb);
        }
        if (sp.span == 0)
            break;
        ex_sizer_observe(&z, r->batch.n, ex_now() - t1);
        if ((rc = feed_done(r, &r->batch, &sp, err)) != 0)
            goto done;
    }
done:
    ex_batch_fini(&one);
    return rc;
}

static int run_loop(runner *r, ex_run_stats *st, st_err *err)
{
    ex_evaluator ev = {.ptab = r->t,
                       .nets = r->nets.net,
                       .nnet = r->nets.n,
                       .traces = r->sw->traces,
                       .ntrace = r->sw->ntrace,
                       .mode = r->sw->eval,
                       .detail = r->sw->detail};
    ex_feed feed = {r, feed_next, feed_done, feed_stop, feed_left};
    ex_farm_opts fo = {r->o->batch_max, r->o->batch_s};
    int rc;

    r->st = st;
    r->covered = r->handed = ex_ranges_total(&r->plan.done);
    r->last_snap = ex_now();
    ex_progress_init(&r->pg, r->o->log, r->o->tty, r->plan.total, ex_journal_records(r->j));
    st->failed = ex_journal_failed(r->j);
    if (r->o->farm)
        rc = r->o->farm->run(r->o->farm->ctx, &ev, r->sw, &feed, &fo, &st->interrupted, err);
    else
        rc = local_run(r, &ev, &st->interrupted, err);
    if (rc == EX_ESTOPPED) {
        /* A stop signal ended a call into the script (where, keep, derived): the batch in
         * hand is not journaled and is evaluated again on resume; the rest ends as at a
         * stop between batches. The hook left the signal pending: take it now. */
        st->interrupted = feed_stop(r);
        if (!st->interrupted)
            st->interrupted = SIGINT;
        rc = 0;
    }
    if (rc == 0) {
        progress(r, 1);
        ex_progress_end(&r->pg);
    }
    return rc;
}

int ex_run(ex_script *s, ex_ptab *t, const ex_run_opts *o, ex_run_stats *st, st_err *err)
{
    runner r;
    ex_journal_head head;
    int bad_net = -1, bad = -1, fresh = 1, rc;

    memset(&r, 0, sizeof r);
    memset(st, 0, sizeof *st);
    r.s = s;
    r.sw = ex_script_sweep(s);
    r.t = t;
    r.o = o;
    r.t0 = ex_now();
    ex_batch_init(&r.batch);
    snprintf(r.journal_path, sizeof r.journal_path, "%s.journal", o->out);
    if ((rc = ex_nets_build(&r.nets, r.sw->nets, r.sw->nnet, &bad_net, &bad, err)) != 0 ||
        (rc = ex_batch_reserve(&r.batch, 1, t->n, err)) != 0)
        goto done;
    if (!(r.space = ex_shard_describe(ex_sweep_describe(r.sw, t), &o->shard))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = ex_plan_init(&r.plan, r.sw, t, ex_script_hooks(s), err)) != 0)
        goto done;
    r.plan.shard = o->shard;
    st->candidates = r.plan.total;
    ex_batch_init(&r.scratch);
    ex_batch_init(&r.merged);
    if (o->reuse &&
        (rc = ex_reuse_load(o->reuse, t, r.space, &r.nets, r.sw->detail, &r.reuse, err)) != 0)
        goto done;

    if (o->resume) {
        if ((rc = resume_open(&r, &fresh, st, err)) != 0 || st->already_complete)
            goto done;
        if (fresh && o->log)
            fprintf(o->log, "stexplore: nothing to resume at %s: starting\n", o->out);
        else if (o->log && ex_journal_repeated(r.j) > 0)
            fprintf(o->log,
                    "stexplore: resuming %s: %llu points journaled (%llu repeated frames of the "
                    "journal skipped)\n",
                    o->out, (unsigned long long)ex_journal_records(r.j),
                    (unsigned long long)ex_journal_repeated(r.j));
        else if (o->log)
            fprintf(o->log, "stexplore: resuming %s: %llu points journaled\n", o->out,
                    (unsigned long long)ex_journal_records(r.j));
    } else if (access(o->out, F_OK) == 0 || access(r.journal_path, F_OK) == 0) {
        if (!o->force) {
            rc = st_err_set(err, ST_EINVAL,
                            "%s already exists: --force overwrites it, --resume continues it",
                            access(o->out, F_OK) == 0 ? o->out : r.journal_path);
            goto done;
        }
        /* A live run holds the lock of its journal: its files are not ours to remove. */
        if ((rc = ex_journal_check_free(r.journal_path, err)) != 0) {
            rc = st_err_set(err, ST_EINVAL, "--force will not start over: %s", err->msg);
            goto done;
        }
        if ((access(o->out, F_OK) == 0 && unlink(o->out) != 0) ||
            (access(r.journal_path, F_OK) == 0 && unlink(r.journal_path) != 0)) {
            rc =
                st_err_set(err, ST_EINVAL, "cannot remove the old %s: %s", o->out, strerror(errno));
            goto done;
        }
    }
    /* Trainings first: the points replay their traces, and a resume finds them cached. */
    if (r.sw->train.on && (rc = ex_train_prepare(ex_script_sweep_edit(s), t, ex_script_hooks(s),
                                                 o->out, o->trainer ? o->trainer : "sttrain",
                                                 o->farm, o->log, o->stop_signals, err)) != 0)
        goto done;
    if (fresh) {
        head.nparam = (uint32_t)t->n;
        head.nmetric = (uint32_t)r.batch.nmetric;
        head.script = ex_script_text(s);
        head.space = r.space;
        head.started = (int64_t)time(NULL);
        if ((rc = make_parent(o->out, err)) != 0)
            goto done;
        /* A path we cannot write is the user's to fix: report it as bad input. */
        if ((rc = ex_journal_create(r.journal_path, &head, &r.j, err)) != 0) {
            rc = ST_EINVAL;
            goto done;
        }
    } else {
        if ((rc = ex_journal_ranges(r.j, add_range, &r, err)) != 0 ||
            (r.sw->space.sampler != EX_GRID && (rc = ex_journal_each(r.j, add_seen, &r, err)) != 0))
            goto done;
    }

    ex_journal_set_sync(r.j, o->sync_s);
    utc_text(ex_journal_head_get(r.j)->started, r.started, sizeof r.started);
    gethostname(r.hosts, sizeof r.hosts - 1);
    r.meta.sw = r.sw;
    r.meta.ptab = t;
    r.meta.nets = &r.nets;
    r.meta.script_path = ex_script_path(s);
    r.meta.script = ex_script_text(s);
    r.meta.space = r.space;
    r.meta.command = o->command;
    r.meta.version = o->version;
    r.meta.git_revision = o->git_revision;
    r.meta.lua_version = o->lua_version;
    r.meta.hosts = o->hosts ? o->hosts : r.hosts;
    r.meta.ranks = o->farm ? o->farm->ranks : 1;
    r.meta.started = r.started;
    r.meta.finished = r.finished;
    r.meta.sessions = 1 + !fresh;
    r.meta.reused_from = o->reuse;
    /* The result path holds a readable file from the start. */
    if ((rc = snapshot(&r, 0, err)) != 0) {
        if (fresh) {
            ex_journal_destroy(&r.j);
            unlink(r.journal_path);
            rc = ST_EINVAL;
        }
        goto done;
    }
    if ((rc = run_loop(&r, st, err)) != 0) {
        /* An error of the script's (where, keep, derived) before this new run saved a
         * point leaves nothing behind, as an error found at loading does; once points are
         * saved, the journal and the file keep them for a --resume (after raising a
         * limit) rather than lose them. */
        if (fresh && rc == ST_EINVAL && r.covered == 0) {
            ex_journal_destroy(&r.j);
            unlink(r.journal_path);
            unlink(o->out);
        }
        goto done;
    }
    if ((rc = snapshot(&r, !st->interrupted, err)) != 0)
        goto done;
    st->reuse_other = ex_reuse_other(r.reuse);
    st->points = ex_journal_records(r.j);
    st->failed = ex_journal_failed(r.j);
    st->rejected = ex_journal_rejected(r.j);
    st->excluded = ex_journal_excluded(r.j);
    st->duplicates = ex_journal_duplicates(r.j);
    if (!st->interrupted) {
        /* The complete file is in place: the journal has done its job. */
        ex_journal_destroy(&r.j);
        if (unlink(r.journal_path) != 0) {
            rc = st_err_set(err, ST_EIO, "cannot remove %s: %s", r.journal_path, strerror(errno));
            goto done;
        }
    }
done:
    st->elapsed_s = ex_now() - r.t0;
    ex_journal_destroy(&r.j);
    ex_plan_fini(&r.plan);
    ex_batch_fini(&r.batch);
    ex_batch_fini(&r.scratch);
    ex_batch_fini(&r.merged);
    for (int k = 0; k < r.nstash; k++)
        ex_batch_fini(&r.stash[k].b);
    free(r.stash);
    ex_reuse_destroy(&r.reuse);
    ex_nets_fini(&r.nets);
    free(r.space);
    return rc;
}

/* ------------------------------------------------------------------- check */

static void print_point(FILE *out, const ex_ptab *t, const ex_sweep *sw, const ex_record *rec)
{
    char v[48];

    fprintf(out, "  %10llu  %016llx ", (unsigned long long)rec->index, (unsigned long long)rec->id);
    for (int i = 0; i < t->n; i++) {
        if (sw->role[i] != EX_ROLE_SWEPT && sw->role[i] != EX_ROLE_DERIVED &&
            !(i == t->seed_row && !sw->seed_given))
            continue;
        ex_ptab_format(t, i, rec->vals[i], v, sizeof v);
        fprintf(out, " %s=%s", t->rows[i].name, v);
    }
    fputc('\n', out);
}

int ex_check(ex_script *s, ex_ptab *t, const ex_shard *shard, FILE *out, int first,
             uint64_t count_limit, st_err *err)
{
    const ex_sweep *sw = ex_script_sweep(s);
    const ex_hooks *h = ex_script_hooks(s);
    ex_plan plan;
    ex_batch b;
    uint64_t f, span, points = 0;
    char *space = NULL;
    int rc, shown = 0, counted = 0;

    memset(&plan, 0, sizeof plan);
    ex_batch_init(&b);
    if (!(space = ex_shard_describe(ex_sweep_describe(sw, t), shard))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = ex_plan_init(&plan, sw, t, h, err)) != 0 ||
        (rc = ex_batch_reserve(&b, 1024, t->n, err)) != 0)
        goto done;
    plan.shard = *shard;
    fprintf(out, "script: %s\n%s", ex_script_path(s), space);
    fprintf(out, "candidates: %llu\n", (unsigned long long)plan.total);
    /* A grid with no `where` has exactly its candidates; otherwise they are enumerated,
     * lazily, when there are not too many. */
    if (sw->space.sampler == EX_GRID && !sw->has_where && shard->n <= 1) {
        points = plan.total;
        counted = 1;
    } else if (plan.total <= count_limit) {
        while ((rc = ex_plan_next(&plan, &b, 1024, &f, &span, err)) == 0 && span > 0)
            points += (uint64_t)b.n;
        if (rc != 0)
            goto done;
        counted = 1;
    }
    /* A sweep that trains: its settings, and each point's, so that ids are those of a run. */
    if (sw->train.on && plan.total <= count_limit) {
        int n = 0;
        if ((rc = ex_train_plan(ex_script_sweep_edit(s), t, h, &n, err)) != 0)
            goto done;
        fprintf(out, "training settings: %d (each trained once by a run)\n", n);
    }
    if (counted && shard->n > 1)
        fprintf(out, "points: %llu (%llu excluded by where, %llu repeats, %llu in other shards)\n",
                (unsigned long long)points, (unsigned long long)plan.excluded,
                (unsigned long long)plan.duplicates, (unsigned long long)plan.elsewhere);
    else if (counted)
        fprintf(out, "points: %llu (%llu excluded by where, %llu repeats)\n",
                (unsigned long long)points, (unsigned long long)plan.excluded,
                (unsigned long long)plan.duplicates);
    else
        fprintf(out,
                "points: not counted (more than %llu candidates to enumerate; --count-limit "
                "raises the limit)\n",
                (unsigned long long)count_limit);
    /* The first points, enumerated again from the start. */
    ex_plan_fini(&plan);
    if ((rc = ex_plan_init(&plan, sw, t, h, err)) != 0)
        goto done;
    plan.shard = *shard;
    if (first > 0)
        fprintf(out, "first points:\n  %10s  %-16s  parameters\n", "index", "id");
    while (shown < first && (rc = ex_plan_next(&plan, &b, first - shown, &f, &span, err)) == 0 &&
           span > 0)
        for (int i = 0; i < b.n; i++, shown++)
            print_point(out, t, sw, &b.recs[i]);
done:
    ex_plan_fini(&plan);
    ex_batch_fini(&b);
    free(space);
    return rc;
}
