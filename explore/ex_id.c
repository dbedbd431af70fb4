/*
 * ex_id.c - canonical point ids and the seeds derived from them. The id is a hash of an
 * exact text form of the values (reals in hexadecimal), so equal points have equal ids
 * and no tolerance is involved. Which points exist is ex_space.c's business.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

/* Fixed SipHash keys: changing them changes every id ever written. ("stexplor", "point id"
 * and "seeds!!!" in ASCII.) */
#define ID_K0   UINT64_C(0x73746578706c6f72)
#define ID_K1   UINT64_C(0x706f696e74206964)
#define SEED_K1 UINT64_C(0x7365656473212121)

/* Append printf output at buf + *used, counting what would have been written. */
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(*used < size ? buf + *used : NULL, *used < size ? size - *used : 0, fmt, ap);
    va_end(ap);
    if (w > 0)
        *used += (size_t)w;
}

size_t ex_id_text(const ex_ptab *t, uint64_t net_fp, const double *vals, int skip_seed, char *buf,
                  size_t size)
{
    size_t used = 0;

    if (buf && size)
        buf[0] = '\0';
    put(buf, size, &used, "net=%016llx;", (unsigned long long)net_fp);
    for (int k = 0; k < t->n; k++) {
        int i = t->by_name[k];
        const st_param *row = &t->rows[i];
        double v = vals[i];
        int whole = v == floor(v) && fabs(v) < 9e15;

        /* -0.0 == 0.0, so a negative zero counts as the default zero it equals. */
        if (v == t->def[i] || (skip_seed && i == t->seed_row) || i == t->net_row)
            continue;
        if (v == 0)
            v = 0.0;
        if (i == t->trace_row)
            put(buf, size, &used, "%s=%016llx;", row->name,
                (unsigned long long)ex_ptab_label_fp(t, i, v));
        else if (row->type == ST_PT_ENUM && whole && v >= row->min && v <= row->max)
            put(buf, size, &used, "%s=%s;", row->name, row->choices[(int)v]);
        else if (row->type != ST_PT_REAL && whole)
            put(buf, size, &used, "%s=%lld;", row->name, (long long)v);
        else
            put(buf, size, &used, "%s=%a;", row->name, v);
    }
    return used;
}

uint64_t ex_id_of(const ex_ptab *t, uint64_t net_fp, const double *vals, int skip_seed)
{
    char small[4096];
    char *text = small;
    size_t len = ex_id_text(t, net_fp, vals, skip_seed, small, sizeof small);
    uint64_t id;

    /* A table with many long names may not fit; the heap copy is rare and short-lived. */
    if (len >= sizeof small && (text = malloc(len + 1)) != NULL)
        ex_id_text(t, net_fp, vals, skip_seed, text, len + 1);
    id = ex_siphash(ID_K0, ID_K1, text ? text : small, text ? len : sizeof small - 1);
    if (text != small)
        free(text);
    return id;
}

int ex_seed_of(uint64_t sweep_seed, uint64_t id)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(id >> (8 * i));
    return (int)(ex_siphash(sweep_seed, SEED_K1, b, sizeof b) & 0x7fffffff);
}
