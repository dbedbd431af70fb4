/*
 * an_int.h - what the analysis files share and callers never see: the checked, minimised
 * copy of a point set, a merge sort of its records, 2-D staircases in treaps and an ordered
 * set of small integers. The public interface is an.h.
 */
#ifndef AN_INT_H
#define AN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "an.h"

/* ---------------------------------------------------------------- point sets */

/* One point as the algorithms see it: its first three objectives turned into minimised
 * ones (objectives past k are 0, so that k < 3 needs no special case) and its index in
 * the caller's array. */
typedef struct an_rec {
    double v[3];
    size_t i;
} an_rec;

/* A checked, minimised copy of an an_points view. x holds every objective (n * k,
 * row-major, minimised) when k > 3 and is NULL otherwise: rec has them all then. */
typedef struct an_set {
    size_t n;
    int k;
    an_rec *rec;
    double *x;
} an_set;

/* Check p (view, senses, no NaN; no infinity either when finite_for, the name of what
 * needs finite values, is not NULL) and fill s with its minimised copy, records in input
 * order. s is left zeroed on failure; fini accepts a zeroed s. Fails with ST_EINVAL or
 * ST_ENOMEM; messages name the point and the objective. */
int an_set_init(an_set *s, const an_points *p, const char *finite_for, st_err *err);
void an_set_fini(an_set *s);

/* Write how messages call objective j of p: "'name'" or "objective j". */
void an_objective_name(const an_points *p, int j, char *buf, size_t size);

/* Does a dominate b, given that a precedes b in lexicographic order and differs from it?
 * Then a's first objective is no larger and one objective is smaller, so it does exactly
 * when none of a's other objectives is larger. k and x as in an_set. */
static inline int an_rec_covers(const an_rec *a, const an_rec *b, int k, const double *x)
{
    int j, yes = a->v[1] <= b->v[1] && a->v[2] <= b->v[2];
    const double *ra, *rb;

    if (yes && k > 3) {
        ra = x + a->i * (size_t)k;
        rb = x + b->i * (size_t)k;
        for (j = 3; j < k && yes; j++)
            yes = ra[j] <= rb[j];
    }
    return yes;
}

/* Are a and b equal in every objective? */
static inline int an_rec_same(const an_rec *a, const an_rec *b, int k, const double *x)
{
    int j, yes = a->v[0] == b->v[0] && a->v[1] == b->v[1] && a->v[2] == b->v[2];
    const double *ra, *rb;

    if (yes && k > 3) {
        ra = x + a->i * (size_t)k;
        rb = x + b->i * (size_t)k;
        for (j = 3; j < k && yes; j++)
            yes = ra[j] == rb[j];
    }
    return yes;
}

/* The end of the group of duplicates that starts at position g of s's records (which are
 * sorted, so duplicates are adjacent). */
static inline size_t an_group_end(const an_set *s, size_t g)
{
    size_t e = g + 1;

    while (e < s->n && an_rec_same(&s->rec[e], &s->rec[g], s->k, s->x))
        e++;
    return e;
}

/* ------------------------------------------------------------------- sorting */

/* Sort the records of s into lexicographic order of all k objectives (ties, which are
 * duplicate points, by index). Merge sort, O(n log n); tmp has room for s->n records. */
void an_sort_lex(an_set *s, an_rec *tmp);

/* Sort n records by objective j (0, 1 or 2) alone, ties by index. tmp has room for n. */
void an_sort_by(an_rec *r, size_t n, int j, an_rec *tmp);

/* ---------------------------------------------------------------- staircases */

/* 2-D staircases whose nodes come from one pool: each staircase is the set of minima of
 * the pairs (a, b) added to it, a treap ordered by a (so b falls as a grows) with
 * priorities hashed from the node's number. A staircase is named by its root; an empty
 * one is AN_STAIRS_EMPTY. The pool holds as many nodes as pairs will ever be added. */
#define AN_STAIRS_EMPTY SIZE_MAX

typedef struct an_stair_node {
    double a, b;
    size_t left, right;
    uint64_t pri;
} an_stair_node;

typedef struct an_stairs {
    an_stair_node *node;
    size_t used, cap;
} an_stairs;

/* Make a pool for cap pairs. Fails with ST_ENOMEM. fini accepts a zeroed pool. */
int an_stairs_init(an_stairs *s, size_t cap, st_err *err);
void an_stairs_fini(an_stairs *s);
/* Does the staircase at root hold a pair no larger than (a, b) in both? O(log size). */
int an_stairs_covers(const an_stairs *s, size_t root, double a, double b);
/* Add (a, b), which the staircase must not cover, drop the pairs that it covers, and
 * return the new root. Uses one node of the pool (which must have one left). Expected
 * O(log size) plus the pairs dropped. */
size_t an_stairs_add(an_stairs *s, size_t root, double a, double b);

/* -------------------------------------------------------------- integer sets */

/* An ordered set of integers in [0, n): a tree of 64-bit words, 64 children a node, so
 * that insert, erase, successor and predecessor cost O(log_64 n). */
typedef struct an_iset {
    int levels;
    uint64_t *word[8]; /* word[0] has one bit per integer, word[l + 1] one per word of l */
    size_t nwords[8];  /* words at each level; the top level has one */
} an_iset;

/* Make an empty set for [0, n). Fails with ST_ENOMEM. fini accepts a zeroed set. */
int an_iset_init(an_iset *s, size_t n, st_err *err);
void an_iset_fini(an_iset *s);
void an_iset_insert(an_iset *s, size_t i);
void an_iset_erase(an_iset *s, size_t i);
/* The smallest member >= i, or SIZE_MAX when there is none. */
size_t an_iset_next(const an_iset *s, size_t i);
/* The largest member <= i, or SIZE_MAX when there is none. */
size_t an_iset_prev(const an_iset *s, size_t i);

#endif
