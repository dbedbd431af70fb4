/*
 * ex_shard.c - shards of a sweep (stexplore --shard I/N): shard I of N holds the points
 * whose id is I modulo N, so that N runs, one per job of an array, split a sweep between
 * them whatever its sampler, and their files together hold every point once (a repeat of
 * a point has its id, so it falls in the same shard and is dropped there). Enumerating
 * the candidates is the plan's business (ex_plan.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

int ex_shard_parse(const char *text, ex_shard *s, st_err *err)
{
    unsigned long long i, n;
    char *end = NULL, *end2 = NULL;

    memset(s, 0, sizeof *s);
    if (!text || !*text)
        goto bad;
    errno = 0;
    /* strtoull takes a sign: accept digits only. */
    if (text[0] < '0' || text[0] > '9')
        goto bad;
    i = strtoull(text, &end, 10);
    if (errno || *end != '/' || end[1] < '0' || end[1] > '9')
        goto bad;
    n = strtoull(end + 1, &end2, 10);
    if (errno || *end2 || n < 1 || n > EX_SHARD_MAX || i >= n)
        goto bad;
    s->i = (uint32_t)i;
    s->n = (uint32_t)n;
    return ST_OK;
bad:
    return st_err_set(err, ST_EINVAL,
                      "--shard '%s': must be I/N, shard I of N, with N in [1, %d] and I in "
                      "[0, N-1] (0/4 to 3/4 split a sweep in four)",
                      text ? text : "", EX_SHARD_MAX);
}

int ex_shard_has(const ex_shard *s, uint64_t id)
{
    return s->n <= 1 || id % s->n == s->i;
}

char *ex_shard_describe(char *space, const ex_shard *s)
{
    char line[96];
    size_t a, b;
    char *grown;

    if (!space || s->n <= 1)
        return space;
    b = (size_t)snprintf(line, sizeof line, "shard: %u/%u (the points whose id modulo %u is %u)\n",
                         s->i, s->n, s->n, s->i);
    a = strlen(space);
    if (!(grown = realloc(space, a + b + 1))) {
        free(space);
        return NULL;
    }
    memcpy(grown + a, line, b + 1);
    return grown;
}
