/*
 * ex_sizer.c - how many points the next batch of a self-scheduled sweep gets: a time
 * target at the estimated cost per point, shrinking toward the end of the sweep, bounded
 * by memory. Who asks and where batches go is the scheduler's business (ex_master.c).
 */
#include <math.h>

#include "ex.h"

/* Points the master may have handed out at once, over all workers: about 1 KiB each. */
#define INFLIGHT_MAX (UINT64_C(1) << 20)

void ex_sizer_init(ex_sizer *z, int workers, int batch_max, double batch_s)
{
    z->workers = workers < 1 ? 1 : workers;
    z->batch_max = batch_max < 1 ? 1 : batch_max;
    z->batch_s = batch_s > 0 ? batch_s : 0.5;
    z->inflight_max = INFLIGHT_MAX;
    z->cost_s = 0;
}

void ex_sizer_observe(ex_sizer *z, int n, double seconds)
{
    double c;

    if (n <= 0 || !(seconds >= 0))
        return;
    /* A floor keeps the estimate positive for the trivial evaluation, whose batches can
     * take less than the clock resolves. */
    c = seconds / n;
    if (c < 1e-9)
        c = 1e-9;
    /* Weight 1/2 on the newest batch: the estimate follows a sweep whose cost changes by
     * orders of magnitude along the enumeration within a few batches. */
    z->cost_s = z->cost_s > 0 ? 0.5 * z->cost_s + 0.5 * c : c;
}

int ex_sizer_next(const ex_sizer *z, uint64_t left)
{
    double size = z->batch_max, guided, share;

    if (z->cost_s <= 0)
        return 1;
    if (z->batch_s / z->cost_s < size)
        size = z->batch_s / z->cost_s;
    /* Guided self-scheduling: a batch takes at most 1/(2 workers) of what is left, so the
     * last batches are small and every worker finishes within about one batch of the others
     * (the factor 2 leaves room for the batch each worker holds in reserve). */
    guided = ceil((double)left / (2.0 * z->workers));
    if (guided < size)
        size = guided;
    share = (double)(z->inflight_max / (2 * (uint64_t)z->workers));
    if (share < size)
        size = share;
    return size < 1 ? 1 : (int)size;
}
