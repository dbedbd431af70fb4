/*
 * ex_plan.c - the enumerator that runs where the script runs: it walks candidate indices
 * in order, applies derived parameters and the pre-evaluation constraint, gives each point
 * its id and seed, drops repeats, skips what a previous run finished, and fills batches.
 * Evaluating them is ex_eval.c's business.
 */
#include <stdlib.h>
#include <string.h>

#include "ex.h"

int ex_plan_init(ex_plan *p, const ex_sweep *sw, const ex_ptab *ptab, const ex_hooks *hooks,
                 st_err *err)
{
    int rc;

    memset(p, 0, sizeof *p);
    p->sw = sw;
    p->ptab = ptab;
    p->hooks = hooks;
    ex_ranges_init(&p->done);
    ex_idset_init(&p->seen);
    if ((rc = ex_space_count(&sw->space, &p->total, err)) != 0)
        goto done;
    p->scratch = malloc((size_t)ptab->n * sizeof *p->scratch);
    if (!p->scratch)
        rc = st_err_set(err, ST_ENOMEM, "plan: out of memory");
done:
    if (rc != ST_OK)
        ex_plan_fini(p);
    return rc;
}

void ex_plan_fini(ex_plan *p)
{
    if (!p)
        return;
    ex_ranges_fini(&p->done);
    ex_idset_fini(&p->seen);
    free(p->scratch);
    memset(p, 0, sizeof *p);
}

int ex_plan_seen(ex_plan *p, uint64_t id, st_err *err)
{
    int added;

    return p->sw->space.sampler == EX_GRID ? ST_OK : ex_idset_add(&p->seen, id, &added, err);
}

/* The id of the point in vals. A sweep that trains first sets the point's own training
 * (vals[trace_row]), which the id covers. */
static uint64_t point_id(const ex_plan *p, double *vals)
{
    const ex_ptab *t = p->ptab;

    if (p->sw->train.ready)
        vals[t->trace_row] = ex_train_trace_of(p->sw, t, vals);
    return ex_id_of(t, ex_ptab_label_fp(t, t->net_row, vals[t->net_row]), vals, !p->sw->seed_given);
}

/* 1 when the point in vals belongs to the plan's shard; vals is left as it was, so that
 * `where` sees what it sees in a run of the whole sweep. */
static int in_shard(const ex_plan *p, double *vals)
{
    double trace;
    uint64_t id;

    if (p->shard.n <= 1)
        return 1;
    trace = vals[p->ptab->trace_row];
    id = point_id(p, vals);
    vals[p->ptab->trace_row] = trace;
    return ex_shard_has(&p->shard, id);
}

int ex_plan_next(ex_plan *p, ex_batch *b, int max, uint64_t *first, uint64_t *span, st_err *err)
{
    const ex_sweep *sw = p->sw;
    const ex_hooks *h = p->hooks;
    int rc = ST_OK, keep, added;

    ex_batch_clear(b);
    p->next = ex_ranges_skip(&p->done, p->next);
    *first = p->next;
    while (b->n < max && p->next < p->total) {
        uint64_t i = p->next, id;

        /* A batch covers one contiguous run of indices: stop at the next finished range. */
        if (ex_ranges_skip(&p->done, i) != i)
            break;
        /* Return now and then even when `where` excludes everything, so that the caller
         * can record progress and notice signals. */
        if (i - *first >= (uint64_t)max * 64 + 4096)
            break;
        p->next++;
        memcpy(p->scratch, sw->base, (size_t)p->ptab->n * sizeof *p->scratch);
        ex_space_point(&sw->space, i, p->scratch);
        if (h && h->derive && (rc = h->derive(h->ctx, p->scratch, err)) != 0)
            goto done;
        /* Another shard's point: skipped before `where`, which that shard runs. */
        if (!in_shard(p, p->scratch)) {
            p->elsewhere++;
            continue;
        }
        if (h && h->where) {
            if ((rc = h->where(h->ctx, p->scratch, &keep, err)) != 0)
                goto done;
            if (!keep) {
                p->excluded++;
                continue;
            }
        }
        /* A sweep that trains replays each point's own training. */
        id = point_id(p, p->scratch);
        if (sw->space.sampler != EX_GRID) {
            if ((rc = ex_idset_add(&p->seen, id, &added, err)) != 0)
                goto done;
            if (!added) {
                p->duplicates++;
                continue;
            }
        }
        if (!sw->seed_given && p->ptab->seed_row >= 0)
            p->scratch[p->ptab->seed_row] =
                sw->common_seed ? (double)(sw->seed & 0x7fffffff) : ex_seed_of(sw->seed, id);
        ex_batch_add(b, i, id, p->scratch);
    }
done:
    *span = p->next - *first;
    return rc;
}
