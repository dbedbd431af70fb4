/*
 * ex_progress.c - progress reports of a running sweep: a live line redrawn in place on a
 * terminal, plain log lines at an interval otherwise. Knows nothing of what is counted.
 */
#include <time.h>

#include "ex.h"

double ex_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ex_progress_init(ex_progress *p, FILE *out, int tty, uint64_t total, uint64_t base)
{
    p->out = out;
    p->tty = tty;
    p->interval_s = tty ? 0.25 : 10.0;
    p->t0 = p->last = ex_now();
    p->total = total;
    p->done = base;
    p->base = base;
    p->failed = 0;
    p->width = 0;
}

/* "1h02m", "3m05s", "42s". */
static void fmt_duration(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);

    if (t >= 3600)
        snprintf(buf, size, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else if (t >= 60)
        snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, size, "%lds", t);
}

void ex_progress_update(ex_progress *p, uint64_t done, uint64_t failed, int force)
{
    double now = ex_now(), el = now - p->t0, rate, frac;
    char eta[32] = "?";
    int w;

    p->done = done;
    p->failed = failed;
    if (!p->out || (!force && now - p->last < p->interval_s))
        return;
    p->last = now;
    /* The rate counts only this run's points: a resume's earlier ones took no time here. */
    rate = el > 0 ? (double)(done - p->base) / el : 0;
    frac = p->total ? (double)done / (double)p->total : 1;
    if (rate > 0)
        fmt_duration((double)(p->total - done) / rate, eta, sizeof eta);
    if (p->tty) {
        char bar[21];
        int fill = (int)(frac * 20);
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        w = fprintf(p->out, "\r[%s] %llu/%llu (%.1f%%) %.1f pt/s ETA %s failed %llu", bar,
                    (unsigned long long)done, (unsigned long long)p->total, 100 * frac, rate, eta,
                    (unsigned long long)failed);
        /* Blank what a longer previous line left behind. */
        if (w < p->width)
            fprintf(p->out, "%*s", p->width - w, "");
        p->width = w;
    } else {
        fprintf(p->out,
                "stexplore: %llu/%llu points (%.1f%%), %.1f points/s, ETA %s, %llu failed\n",
                (unsigned long long)done, (unsigned long long)p->total, 100 * frac, rate, eta,
                (unsigned long long)failed);
    }
    fflush(p->out);
}

void ex_progress_end(ex_progress *p)
{
    if (p->out && p->tty && p->width > 0) {
        fprintf(p->out, "\r%*s\r", p->width, "");
        fflush(p->out);
        p->width = 0;
    }
}
