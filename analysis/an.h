/*
 * an.h - the public interface of the analysis library: Pareto fronts, non-dominated ranks
 * and the hypervolume of sets of points in objective space. Plain C11 over the core's
 * error record; HDF5, Lua and plotting live in the programs that call it, not here.
 */
#ifndef AN_H
#define AN_H

#include <stddef.h>

#include "st.h"

/* --------------------------------------------------------------------- points */

/* The largest number of objectives a point may have. */
#define AN_K_MAX 64

/* Whether an objective is better small or large. Zero-initialised senses minimise. */
typedef enum an_sense { AN_MIN = 0, AN_MAX = 1 } an_sense;

/* A borrowed view of n points of k objectives each; nothing here is copied or freed.
 * Point i's objective j is x[i * k + j]. Indices of points and objectives in messages
 * count from 0, as in x. Objectives are compared as numbers: -0.0 equals 0.0, infinities
 * are allowed where a function says so, NaN never is (an error naming the point and the
 * objective).
 *
 * Dominance (after turning every maximised objective into a minimised one): a dominates
 * b when a is no worse than b in every objective and better in at least one. Points
 * equal in every objective therefore do not dominate each other: duplicates share their
 * rank, and are all on the front or all off it. */
typedef struct an_points {
    const double *x;          /* n * k objectives, row-major; may be NULL when n = 0 */
    size_t n;                 /* number of points */
    int k;                    /* objectives per point, in [1, AN_K_MAX] */
    const an_sense *sense;    /* k senses, or NULL: minimise every objective */
    const char *const *names; /* k names used in messages, or NULL: "objective j" */
} an_points;

/* ---------------------------------------------------------------------- front */

/* Find the non-dominated points of p (the Pareto front). Writes their indices into idx
 * (room for p->n entries; may be NULL when p->n = 0) in increasing order and their
 * number into *count. Infinite objectives are allowed.
 * Points are taken in lexicographic order, where every dominator of a point comes before
 * it. Time O(n log n) for k <= 2 (then a running minimum of the second objective) and
 * expected O(n log n) for k = 3 (a staircase of the front's last two objectives in a
 * treap); O(n log n + n f k) for k > 3, f the size of the front (each point against the
 * front so far). Memory O(n k).
 * Fails with ST_EINVAL (bad view, NaN objective, NULL output) or ST_ENOMEM; on failure
 * *count = 0 and idx is unspecified. */
int an_front(const an_points *p, size_t *idx, size_t *count, st_err *err);

/* ---------------------------------------------------------------------- ranks */

/* Give every point its non-dominated rank: rank[i] = 0 on the front, and r for the points
 * on the front of what remains once every point of rank below r is removed; equivalently
 * 1 + the largest rank of the points that dominate it. rank has room for p->n entries;
 * *nranks (NULL allowed) receives 1 + the largest rank, 0 when n = 0. Infinite
 * objectives are allowed.
 * Points in lexicographic order, each point's rank by binary search over the ranks so far
 * (Zhang et al., ENS-BS, IEEE Trans. Evol. Comp. 19(2), 2015). Time O(n log n) for k <= 2
 * (Jensen, IEEE Trans. Evol. Comp. 7(5), 2003); expected O(n log n log r) for k = 3, r
 * ranks (one staircase treap per rank); for k > 3, O(n log n) plus O(n log(r) m k), m the
 * size of the largest rank, which is O(n^2 k) at worst. Memory O(n k).
 * Fails like an_front; on failure *nranks = 0 and rank is left as it was. */
int an_ranks(const an_points *p, size_t *rank, size_t *nranks, st_err *err);

/* ---------------------------------------------------------------- hypervolume */

/* Compute the hypervolume of p with respect to the reference point ref (k values, in the
 * same senses as the points): the measure of the region that the points dominate and that
 * dominates ref, i.e. of the union over points a of the boxes between a and ref. Points
 * that are not strictly better than ref in every objective add nothing. Every objective
 * and ref must be finite. k = 1, 2 or 3: a sort and a sum of intervals or rectangles for
 * k <= 2, O(n log n); for k = 3 the dimension sweep of Beume, Fonseca, Lopez-Ibanez,
 * Paquete and Vahrenhold, "On the complexity of computing the hypervolume indicator",
 * IEEE Trans. Evol. Comp. 13(5), 2009, O(n log n).
 * Fails with ST_EINVAL for k > 3 (not supported), for a non-finite objective or reference
 * value, and when no point is strictly better than ref in every objective (n = 0
 * included): the volume would be 0 and that usually means a misplaced reference point,
 * so the caller decides. ST_ENOMEM as above. *hv = 0 on failure. */
int an_hypervolume(const an_points *p, const double *ref, double *hv, st_err *err);

#endif
