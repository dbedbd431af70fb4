/*
 * t_ranks.c - TAP tests of an_ranks, the non-dominated ranks: hand-made sets with known
 * ranks, random sets against two brute forces written here (peeling fronts one after
 * another, the definition; and the longest chain of dominators, for up to 10,000 points),
 * rank 0 against an_front, and every error with its message.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"
#include "an_test.h"
#include "tap.h"

#define UNSET SIZE_MAX

/* Ranks by peeling: the points no remaining point dominates get the next rank and leave.
 * O(r n^2 k) for r ranks. Returns the number of ranks. */
static size_t brute_peel(const an_points *p, size_t *rank)
{
    size_t i, h, left = p->n, r = 0;
    int dominated;

    for (i = 0; i < p->n; i++)
        rank[i] = UNSET;
    while (left > 0) {
        /* Mark this rank's points first, with r + 1 standing for "leaving now". */
        for (i = 0; i < p->n; i++) {
            if (rank[i] != UNSET)
                continue;
            dominated = 0;
            for (h = 0; h < p->n && !dominated; h++)
                dominated =
                    (rank[h] == UNSET || rank[h] == r + 1) && h != i &&
                    dominates(p->x + h * (size_t)p->k, p->x + i * (size_t)p->k, p->k, p->sense);
            if (!dominated)
                rank[i] = r + 1;
        }
        for (i = 0; i < p->n; i++)
            if (rank[i] == r + 1) {
                rank[i] = r;
                left--;
            }
        r++;
    }
    return r;
}

typedef struct chain {
    const an_points *p;
    size_t *rank;
} chain;

/* Rank by the longest chain: 1 + the largest rank of the points that dominate point i, or
 * 0 when none does; memoised, O(n^2 k) in all. */
static size_t chain_rank(chain *c, size_t i)
{
    const an_points *p = c->p;
    size_t h, r = 0, rh;

    if (c->rank[i] != UNSET)
        return c->rank[i];
    for (h = 0; h < p->n; h++)
        if (h != i && dominates(p->x + h * (size_t)p->k, p->x + i * (size_t)p->k, p->k, p->sense)) {
            rh = chain_rank(c, h) + 1;
            if (rh > r)
                r = rh;
        }
    c->rank[i] = r;
    return r;
}

static size_t brute_chain(const an_points *p, size_t *rank)
{
    chain c = {p, rank};
    size_t i, nr = 0;

    for (i = 0; i < p->n; i++)
        rank[i] = UNSET;
    for (i = 0; i < p->n; i++)
        if (chain_rank(&c, i) + 1 > nr)
            nr = rank[i] + 1;
    return nr;
}

/* Run an_ranks on p and compare with a brute force (peeling when peel is set, else the
 * chain); also check that rank 0 is exactly what an_front returns. */
static void check_ranks(const an_points *p, int peel, const char *id, const char *what)
{
    size_t n = p->n ? p->n : 1, *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    size_t *front = malloc(n * sizeof *front), i, h = 0, nf = 0, ng = 0, nw, bad = UNSET;
    st_err err;
    int rc, front_ok = 1;

    st_err_clear(&err);
    rc = an_ranks(p, got, &ng, &err);
    nw = peel ? brute_peel(p, want) : brute_chain(p, want);
    for (i = 0; i < p->n && bad == UNSET; i++)
        if (got[i] != want[i])
            bad = i;
    if (!ok(rc == 0 && ng == nw && bad == UNSET, "%s %s: %zu points in %zu ranks (%s)", id, what,
            p->n, nw, peel ? "peeling" : "longest chain")) {
        diag("  rc %d (%s), got %zu ranks, want %zu", rc, err.msg, ng, nw);
        if (bad != UNSET)
            diag("  point %zu: got rank %zu, want %zu", bad, got[bad], want[bad]);
    }
    an_front(p, front, &nf, NULL);
    for (i = 0; i < p->n; i++)
        if (got[i] == 0)
            front_ok = front_ok && h < nf && front[h++] == i;
    ok(rc == 0 && front_ok && h == nf, "%s rank 0 is an_front's front", id);
    free(got);
    free(want);
    free(front);
}

static void test_known(void)
{
    /* A chain: (i, i) for i = 0..5, so point i has rank i. */
    static const double chain6[] = {5, 5, 0, 0, 3, 3, 1, 1, 4, 4, 2, 2};
    static const size_t chain6_r[] = {5, 0, 3, 1, 4, 2};
    /* Duplicates share a rank: (1, 1) twice, rank 0; (2, 2) twice, rank 1; (0, 3), rank 0;
     * (3, 0), rank 0; (3, 3), rank 2. */
    static const double dup[] = {1, 1, 2, 2, 0, 3, 1, 1, 3, 0, 2, 2, 3, 3};
    static const size_t dup_r[] = {0, 1, 0, 0, 0, 1, 2};
    /* k = 1: ranks are the dense ranks of the values. */
    static const double k1[] = {3, 1, 2, 1, -INFINITY, INFINITY};
    static const size_t k1_r[] = {3, 1, 2, 1, 0, 4};
    /* Maximise both: the chain reversed. */
    static const an_sense maxmax[] = {AN_MAX, AN_MAX};
    static const size_t chain6_max[] = {0, 5, 2, 4, 1, 3};
    /* k = 4: (3 3 1 1) dominates (4 4 2 2); (5 5 0 0) neither dominates nor is dominated. */
    static const size_t k4_r[] = {0, 0, 1};
    static const double one[] = {7, 7, 7};
    static const size_t zero[] = {0};
    struct {
        an_points p;
        size_t nranks;
        const size_t *rank;
        const char *what;
    } v[] = {
        {{chain6, 6, 2, NULL, NULL}, 6, chain6_r, "a chain of 6"},
        {{dup, 7, 2, NULL, NULL}, 3, dup_r, "duplicates share their rank"},
        {{k1, 6, 1, NULL, NULL}, 5, k1_r, "k = 1, with infinities"},
        {{chain6, 6, 2, maxmax, NULL}, 6, chain6_max, "a chain, maximised"},
        {{chain6, 3, 4, NULL, NULL}, 2, k4_r, "k = 4, three points"},
        {{one, 1, 3, NULL, NULL}, 1, zero, "one point"},
        {{NULL, 0, 3, NULL, NULL}, 0, zero, "no points"},
    };
    size_t i, h, rank[8], nr;
    st_err err;
    int rc, same;

    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        st_err_clear(&err);
        nr = 99;
        rc = an_ranks(&v[i].p, v[i].p.n ? rank : NULL, &nr, &err);
        same = rc == 0 && nr == v[i].nranks;
        for (h = 0; same && h < v[i].p.n; h++)
            same = rank[h] == v[i].rank[h];
        if (!ok(same, "ranks-1.%zu %s: %zu ranks", i + 1, v[i].what, v[i].nranks))
            diag("  rc %d (%s), nranks %zu", rc, err.msg, nr);
    }
    /* nranks may be NULL. */
    ok(an_ranks(&v[0].p, rank, NULL, NULL) == 0 && rank[0] == 5,
       "ranks-1.8 nranks = NULL is allowed");
}

static void test_random(void)
{
    static const an_sense mixed[] = {AN_MAX, AN_MIN, AN_MAX, AN_MIN,
                                     AN_MAX, AN_MIN, AN_MAX, AN_MIN};
    static const struct {
        int k;
        size_t n;
        int kind, levels, mixed, peel;
        const char *what;
    } c[] = {
        {1, 2000, 1, 300, 0, 1, "k = 1, integers in [0, 300)"},
        {2, 2000, 0, 0, 0, 1, "k = 2, uniform"},
        {2, 2000, 1, 30, 1, 1, "k = 2, integers in [0, 30), max/min"},
        {3, 2000, 0, 0, 0, 1, "k = 3, uniform"},
        {3, 2000, 1, 10, 0, 1, "k = 3, integers in [0, 10)"},
        {4, 1500, 3, 6, 0, 1, "k = 4, integers and infinities"},
        {2, 10000, 0, 0, 0, 0, "k = 2, uniform"},
        {2, 4000, 1, 100, 0, 0, "k = 2, integers in [0, 100)"},
        {2, 4000, 4, 300, 1, 0, "k = 2, integers near x + y = 300, max/min"},
        {2, 5000, 3, 40, 0, 0, "k = 2, integers and infinities"},
        {3, 4000, 0, 0, 1, 0, "k = 3, uniform, max/min/max"},
        {3, 10000, 1, 20, 0, 0, "k = 3, integers in [0, 20)"},
        {3, 4000, 4, 60, 0, 0, "k = 3, integers near x + y + z = 60"},
        {3, 5000, 3, 15, 0, 0, "k = 3, integers and infinities"},
        {4, 4000, 1, 8, 0, 0, "k = 4, integers in [0, 8)"},
        {5, 5000, 0, 0, 1, 0, "k = 5, uniform, mixed senses"},
        {8, 2000, 1, 3, 0, 0, "k = 8, integers in [0, 3)"},
    };
    uint64_t seed = 77;
    double *x;
    size_t i;
    char id[32];

    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        an_points p = {NULL, c[i].n, c[i].k, c[i].mixed ? mixed : NULL, NULL};
        x = malloc(c[i].n * (size_t)c[i].k * sizeof *x);
        fill(x, c[i].n, c[i].k, c[i].kind, c[i].levels, &seed);
        p.x = x;
        snprintf(id, sizeof id, "ranks-2.%zu", i + 1);
        check_ranks(&p, c[i].peel, id, c[i].what);
        free(x);
    }
}

static void check_error(const an_points *p, size_t *rank, int code, const char *id,
                        const char *want)
{
    size_t nr = 99;
    st_err err;
    int rc;

    st_err_clear(&err);
    rc = an_ranks(p, rank, &nr, &err);
    if (!ok(rc == code && err.code == code && strstr(err.msg, want) && nr == 0,
            "%s fails with code %d and \"%s\"", id, code, want))
        diag("  rc %d, message \"%s\", nranks %zu", rc, err.msg, nr);
}

static void test_errors(void)
{
    static const double x[] = {1, 2, 3, 4, 5, NAN};
    static const double y[] = {1, 2, 3, 4, 5, 6};
    static const an_sense bad[] = {(an_sense)-1, AN_MIN};
    size_t rank[3] = {7, 7, 7};
    an_points p = {x, 3, 2, NULL, NULL};

    check_error(&p, rank, ST_EINVAL, "ranks-3.1", "point 2: objective 1 = nan: must be a number");
    ok(rank[0] == 7 && rank[1] == 7 && rank[2] == 7, "ranks-3.2 rank untouched on failure");
    p.x = y;
    check_error(&p, NULL, ST_EINVAL, "ranks-3.3", "rank = NULL with n = 3 points");
    check_error(NULL, rank, ST_EINVAL, "ranks-3.4", "points = NULL");
    p.k = -1;
    check_error(&p, rank, ST_EINVAL, "ranks-3.5", "k = -1 objectives: must be in [1, 64]");
    p.k = 2;
    p.sense = bad;
    check_error(&p, rank, ST_EINVAL, "ranks-3.6", "objective 0: sense = -1");
    p.sense = NULL;
    p.x = NULL;
    check_error(&p, rank, ST_EINVAL, "ranks-3.7", "x = NULL with n = 3 points");
    p.x = y;
    p.n = SIZE_MAX / 16;
    check_error(&p, rank, ST_EINVAL, "ranks-3.8", "too many to copy in memory");
}

int main(void)
{
    test_known();
    test_random();
    test_errors();
    return tap_done();
}
