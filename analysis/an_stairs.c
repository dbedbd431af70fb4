/*
 * an_stairs.c - 2-D staircases in treaps sharing one node pool: the minima of the pairs
 * added to each, for the non-dominated ranks of 3-objective points (one staircase per
 * rank). Nodes are never freed one by one: every pair is added once, the pool goes at fini.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "an_int.h"

#define NONE AN_STAIRS_EMPTY

int an_stairs_init(an_stairs *s, size_t cap, st_err *err)
{
    int rc = ST_OK;

    memset(s, 0, sizeof *s);
    s->node = malloc((cap ? cap : 1) * sizeof *s->node);
    if (!s->node)
        rc = st_err_set(err, ST_ENOMEM, "out of memory for staircases of %zu points", cap);
    else
        s->cap = cap;
    return rc;
}

void an_stairs_fini(an_stairs *s)
{
    free(s->node);
    memset(s, 0, sizeof *s);
}

int an_stairs_covers(const an_stairs *s, size_t root, double a, double b)
{
    size_t t = root, best = NONE;

    /* The last pair with a no larger has the smallest b among all such pairs. */
    while (t != NONE) {
        if (s->node[t].a <= a) {
            best = t;
            t = s->node[t].right;
        } else {
            t = s->node[t].left;
        }
    }
    return best != NONE && s->node[best].b <= b;
}

/* Split the treap at t into the pairs with a < key (*l) and the rest (*r). */
static void split_a(an_stair_node *nd, size_t t, double key, size_t *l, size_t *r)
{
    if (t == NONE) {
        *l = *r = NONE;
    } else if (nd[t].a < key) {
        split_a(nd, nd[t].right, key, &nd[t].right, r);
        *l = t;
    } else {
        split_a(nd, nd[t].left, key, l, &nd[t].left);
        *r = t;
    }
}

/* Split into the pairs with b >= key (*l) and the rest (*r): b falls along the order, so
 * the first part is a prefix. */
static void split_b(an_stair_node *nd, size_t t, double key, size_t *l, size_t *r)
{
    if (t == NONE) {
        *l = *r = NONE;
    } else if (nd[t].b >= key) {
        split_b(nd, nd[t].right, key, &nd[t].right, r);
        *l = t;
    } else {
        split_b(nd, nd[t].left, key, l, &nd[t].left);
        *r = t;
    }
}

/* Join two treaps, every pair of l before every pair of r. */
static size_t merge(an_stair_node *nd, size_t l, size_t r)
{
    if (l == NONE)
        return r;
    if (r == NONE)
        return l;
    if (nd[l].pri > nd[r].pri) {
        nd[l].right = merge(nd, nd[l].right, r);
        return l;
    }
    nd[r].left = merge(nd, l, nd[r].left);
    return r;
}

size_t an_stairs_add(an_stairs *s, size_t root, double a, double b)
{
    an_stair_node *nd = s->node;
    size_t t = s->used++, lo, hi, gone, keep;
    uint64_t z = (uint64_t)t + 0x9e3779b97f4a7c15ULL;

    /* Priority: the SplitMix64 finalizer (Steele et al., OOPSLA 2014) of the node number,
     * random enough for the expected O(log n) depth, and reproducible. */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    nd[t] = (an_stair_node){a, b, NONE, NONE, z ^ (z >> 31)};
    /* Pairs before a stay; from a on, those with b no smaller are covered and go. */
    split_a(nd, root, a, &lo, &hi);
    split_b(nd, hi, b, &gone, &keep);
    (void)gone;
    return merge(nd, merge(nd, lo, t), keep);
}
