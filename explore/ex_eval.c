/*
 * ex_eval.c - evaluating a batch of design points given as parameter vectors: the unit
 * of work a scheduler hands to a process. Needs the core library only; what to evaluate
 * and where the records go are decided elsewhere (ex_plan.c, ex_journal.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

void ex_batch_init(ex_batch *b)
{
    memset(b, 0, sizeof *b);
}

void ex_batch_clear(ex_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->recs[i].detail);
        b->recs[i].detail = NULL;
        b->recs[i].ndetail = 0;
    }
    b->n = 0;
}

void ex_batch_fini(ex_batch *b)
{
    if (!b)
        return;
    ex_batch_clear(b);
    free(b->vals);
    free(b->metrics);
    free(b->recs);
    memset(b, 0, sizeof *b);
}

int ex_batch_reserve(ex_batch *b, int cap, int nparam, st_err *err)
{
    int nmetric = 0, rc = ST_OK;

    ex_metrics(&nmetric);
    ex_batch_clear(b);
    if (cap <= b->cap && nparam == b->nparam)
        goto done;
    free(b->vals);
    free(b->metrics);
    free(b->recs);
    b->vals = malloc((size_t)cap * (size_t)nparam * sizeof *b->vals);
    b->metrics = malloc((size_t)cap * (size_t)nmetric * sizeof *b->metrics);
    b->recs = calloc((size_t)cap, sizeof *b->recs);
    b->cap = cap;
    b->nparam = nparam;
    b->nmetric = nmetric;
    if (!b->vals || !b->metrics || !b->recs) {
        ex_batch_fini(b);
        rc = st_err_set(err, ST_ENOMEM, "batch of %d points: out of memory", cap);
    }
done:
    return rc;
}

double *ex_batch_add(ex_batch *b, uint64_t index, uint64_t id, const double *vals)
{
    ex_record *r = &b->recs[b->n];
    double *v = b->vals + (size_t)b->n * (size_t)b->nparam;

    memcpy(v, vals, (size_t)b->nparam * sizeof *v);
    memset(r, 0, sizeof *r);
    r->index = index;
    r->id = id;
    r->vals = v;
    r->metrics = b->metrics + (size_t)b->n * (size_t)b->nmetric;
    b->n++;
    return v;
}

/* Fill an st_point from a vector. Integer fields need whole numbers; every other rule is
 * the core's (st_point_check, through st_sim_run). */
static int point_from(const ex_ptab *t, const double *vals, st_point *pt, st_err *err)
{
    int rc = ST_OK;

    st_point_init(pt);
    for (int i = 0; i < t->ncore; i++) {
        const st_param *row = &t->rows[i];
        char *field = (char *)pt + row->offset;
        double v = vals[i];

        if (row->type == ST_PT_REAL) {
            memcpy(field, &v, sizeof v);
        } else if (v == floor(v) && fabs(v) > 2147483647.0) {
            /* A derived value too large for the field: the range says what would do. */
            rc = ex_ptab_check(t, i, v, err);
            if (rc == ST_OK)
                rc = st_err_set(err, ST_EINVAL, "%s: a value beyond 32 bits", row->name);
            goto done;
        } else if (v != floor(v)) {
            char shown[40];
            ex_ptab_format(t, i, v, shown, sizeof shown);
            rc = st_err_set(err, ST_EINVAL, "%s = %s: must be a whole number", row->name, shown);
            goto done;
        } else {
            int iv = (int)v;
            memcpy(field, &iv, sizeof iv);
        }
    }
done:
    return rc;
}

static int detail_fill(const st_result *res, ex_record *r, st_err *err)
{
    int n = 0, rc = ST_OK;

    r->detail = malloc((size_t)(res->nlayers * ST_PHASE_COUNT + 1) * sizeof *r->detail);
    if (!r->detail) {
        rc = st_err_set(err, ST_ENOMEM, "detail of point %llu: out of memory",
                        (unsigned long long)r->index);
        goto done;
    }
    for (int i = 0; i < res->nlayers; i++) {
        const st_layer_stats *ls = &res->layers[i];
        for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
            const st_phase_stats *s = &ls->run[ph], *d = &ls->dense[ph];
            ex_detail *x = &r->detail[n];
            if (st_phase_cycles(s) == 0 && st_phase_cycles(d) == 0)
                continue;
            x->layer = ls->layer;
            x->phase = ph;
            x->v[EX_D_CYCLES].u = st_phase_cycles(s);
            x->v[EX_D_DENSE_CYCLES].u = st_phase_cycles(d);
            x->v[EX_D_USEFUL_MACS].u = s->useful_macs;
            x->v[EX_D_DENSE_MACS].u = s->dense_macs;
            x->v[EX_D_STALL_CYCLES].u = s->stall_cycles;
            x->v[EX_D_DRAM_BYTES].u = s->dram_bytes;
            x->v[EX_D_ENERGY_PJ].f = st_phase_energy_pj(s);
            x->v[EX_D_DENSE_ENERGY_PJ].f = st_phase_energy_pj(d);
            x->v[EX_D_ACT_DENSITY].f = ls->act_density;
            x->v[EX_D_GRAD_DENSITY].f = ls->grad_density;
            x->v[EX_D_DENSE_DRAM_BYTES].u = d->dram_bytes;
            x->v[EX_D_DRAM_FLOOR_BYTES].u = s->dram_floor_bytes;
            x->v[EX_D_ORDER].u = (uint64_t)s->order;
            x->v[EX_D_DENSE_ORDER].u = (uint64_t)d->order;
            x->v[EX_D_ROUNDS].u = (uint64_t)s->rounds;
            x->v[EX_D_DENSE_ROUNDS].u = (uint64_t)d->rounds;
            n++;
        }
    }
    r->ndetail = n;
done:
    return rc;
}

/* The network and trace of a point: *tm is NULL when it replays none. A trace of
 * another network than the point's, or with fewer images than its batch, fails it. */
static int point_source(const ex_evaluator *ev, const double *vals, const st_point *pt,
                        const st_net **net, ex_tracemem **tm, st_err *err)
{
    const ex_ptab *t = ev->ptab;
    double n = vals[t->net_row], k = vals[t->trace_row];

    *net = NULL;
    *tm = NULL;
    if (!(n >= 0 && n < ev->nnet && n == (int)n))
        return st_err_set(err, ST_EINVAL, "network = %g: not one of the sweep's %d", n, ev->nnet);
    *net = ev->nets[(int)n];
    if (k == 0)
        return ST_OK;
    if (!(k >= 1 && k <= ev->ntrace && k == (int)k))
        return st_err_set(err, ST_EINVAL, "trace = %g: not one of the sweep's %d", k, ev->ntrace);
    *tm = ev->traces[(int)k - 1];
    if ((*tm)->fail)
        return st_err_set(err, ST_EINVAL, "%s", (*tm)->fail);
    if ((*tm)->net != (int)n)
        return st_err_set(err, ST_EINVAL, "trace %s is of network '%s', not of the point's '%s'",
                          (*tm)->path, (*tm)->net_name, st_net_name(*net));
    if (pt->batch > (*tm)->images)
        return st_err_set(err, ST_EINVAL, "batch = %d: trace %s holds %d images of %s", pt->batch,
                          (*tm)->path, (*tm)->images, (*tm)->iter);
    return ST_OK;
}

int ex_eval_batch(const ex_evaluator *ev, ex_batch *b, st_err *err)
{
    const st_net *net;
    ex_tracemem *tm;
    st_result res;
    st_point pt;
    st_err perr;
    int rc = ST_OK;

    st_result_init(&res);
    for (int i = 0; i < b->n; i++) {
        ex_record *r = &b->recs[i];

        r->status = EX_OK;
        r->msg[0] = '\0';
        if (ev->mode == EX_EVAL_NONE) {
            /* The trivial evaluation: what the explorer costs without the simulator. */
            memset(r->metrics, 0, (size_t)b->nmetric * sizeof *r->metrics);
            continue;
        }
        st_err_clear(&perr);
        if (point_from(ev->ptab, r->vals, &pt, &perr) != 0 ||
            point_source(ev, r->vals, &pt, &net, &tm, &perr) != 0 ||
            (tm ? st_sim_run_src(net, &pt, ex_tracemem_masks, tm, &res, &perr)
                : st_sim_run(net, &pt, &res, &perr)) != 0 ||
            st_result_check(&res, &pt, &perr) != 0) {
            r->status = EX_FAILED;
            snprintf(r->msg, sizeof r->msg, "%s", perr.msg);
            ex_metrics_blank(r->metrics);
            continue;
        }
        ex_metrics_fill(&res, r->metrics);
        if (tm)
            ex_metrics_training(r->metrics, tm->accuracy, tm->test_loss, tm->train_loss);
        if (ev->detail && (rc = detail_fill(&res, r, err)) != 0)
            goto done;
    }
done:
    st_result_fini(&res);
    return rc;
}
