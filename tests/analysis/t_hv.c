/*
 * t_hv.c - TAP tests of an_hypervolume: closed forms (one point, staircases of unit
 * steps), random sets against an exact cell decomposition over the distinct coordinates
 * and against inclusion-exclusion, both written here, and every error with its message.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"
#include "an_test.h"
#include "tap.h"

/* Tolerance for non-integer coordinates, relative to the volume of the box between the
 * ideal point and the reference. Both sides add up to 10^4..10^5 positive terms, each
 * rounded once or twice, so they can drift apart by about 10^5 x 2^-53 (1e-11) relative at
 * worst; a real mistake loses or adds a whole cell, 1e-7 of the box or more here. */
#define REL_TOL 1e-10

/* ------------------------------------------------------------ brute forces */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The minimised copy the brute forces work on: the points strictly better than the
 * reference in every objective (m of them, in xm) and the reference itself (rm). */
typedef struct mset {
    size_t m;
    int k;
    double *xm;
    double rm[3];
} mset;

static void mset_init(mset *s, const an_points *p, const double *ref)
{
    size_t i;
    int j, better;

    s->m = 0;
    s->k = p->k;
    s->xm = malloc((p->n ? p->n : 1) * (size_t)p->k * sizeof *s->xm);
    for (j = 0; j < p->k; j++)
        s->rm[j] = p->sense && p->sense[j] == AN_MAX ? -ref[j] : ref[j];
    for (i = 0; i < p->n; i++) {
        double *r = s->xm + s->m * (size_t)p->k;
        for (j = 0, better = 1; j < p->k; j++) {
            r[j] = p->x[i * (size_t)p->k + j];
            if (p->sense && p->sense[j] == AN_MAX)
                r[j] = -r[j];
            better = better && r[j] < s->rm[j];
        }
        if (better)
            s->m++;
    }
}

/* The sorted distinct values of objective j, then the reference: n + 1 cell edges. */
static double *edges(const mset *s, int j, size_t *n)
{
    double *e = malloc((s->m + 1) * sizeof *e);
    size_t i, d = 0;

    for (i = 0; i < s->m; i++)
        e[i] = s->xm[i * (size_t)s->k + j];
    qsort(e, s->m, sizeof *e, cmp_double);
    for (i = 0; i < s->m; i++)
        if (d == 0 || e[i] != e[d - 1])
            e[d++] = e[i];
    e[d] = s->rm[j];
    *n = d;
    return e;
}

/* Exact cell decomposition, k = 2 or 3. The distinct coordinates cut objective 0 (and 1,
 * for k = 3) into cells; the points whose boxes reach over a cell are those no larger than
 * its lower corner, and above the cell the region runs from the smallest last objective
 * among them to the reference. O(d^(k - 1) m) for d distinct values. */
static double brute_cells(const mset *s)
{
    size_t nx, ny = 1, a, b, i;
    double *ex = edges(s, 0, &nx), *ey = s->k == 3 ? edges(s, 1, &ny) : NULL, low, sum = 0.0;
    int last = s->k - 1, found;

    for (a = 0; a < nx; a++)
        for (b = 0; b < ny; b++) {
            found = 0;
            low = 0.0;
            for (i = 0; i < s->m; i++) {
                const double *r = s->xm + i * (size_t)s->k;
                if (r[0] <= ex[a] && (s->k < 3 || r[1] <= ey[b]) && (!found || r[last] < low)) {
                    low = r[last];
                    found = 1;
                }
            }
            if (found)
                sum += (ex[a + 1] - ex[a]) * (s->k == 3 ? ey[b + 1] - ey[b] : 1.0) *
                       (s->rm[last] - low);
        }
    free(ex);
    free(ey);
    return sum;
}

/* Inclusion-exclusion over every non-empty subset (m <= 16): the boxes of a subset
 * intersect in the box between its componentwise maximum and the reference. */
static double brute_incl_excl(const mset *s)
{
    double sum = 0.0, v, hi;
    unsigned sub, i;
    int j, bits;

    for (sub = 1; sub < (1u << s->m); sub++) {
        v = 1.0;
        bits = 0;
        for (j = 0; j < s->k; j++) {
            hi = -INFINITY;
            for (i = 0; i < s->m; i++)
                if (sub & (1u << i) && s->xm[i * (size_t)s->k + j] > hi)
                    hi = s->xm[i * (size_t)s->k + j];
            v *= s->rm[j] - hi;
        }
        for (i = 0; i < s->m; i++)
            bits += (sub >> i) & 1;
        sum += bits % 2 ? v : -v;
    }
    return sum;
}

/* The volume of the box between the smallest value of every objective and the reference,
 * for tolerances. */
static double box_volume(const mset *s)
{
    double v = 1.0, lo;
    size_t i;
    int j;

    for (j = 0; j < s->k; j++) {
        lo = s->rm[j];
        for (i = 0; i < s->m; i++)
            if (s->xm[i * (size_t)s->k + j] < lo)
                lo = s->xm[i * (size_t)s->k + j];
        v *= s->rm[j] - lo;
    }
    return v;
}

/* ------------------------------------------------------------------ checks */

/* an_hypervolume of p against want, within tol (0: exactly). */
static void check_hv(const an_points *p, const double *ref, double want, double tol, const char *id,
                     const char *what)
{
    double got = -1.0;
    st_err err;
    int rc;

    st_err_clear(&err);
    rc = an_hypervolume(p, ref, &got, &err);
    if (!ok(rc == 0 && fabs(got - want) <= tol, "%s %s: %.17g%s", id, what, want,
            tol == 0.0 ? " exactly" : " within the tolerance"))
        diag("  rc %d (%s), got %.17g, off by %.3g, tolerance %.3g", rc, err.msg, got,
             fabs(got - want), tol);
}

static void test_closed_forms(void)
{
    static const double p1[] = {3, 5, 12}, r1[] = {10};
    static const double p2[] = {1, 2}, r2[] = {4, 7};
    static const double p3[] = {1, 5, 3}, r3[] = {2, 3, 7};
    static const an_sense mmm[] = {AN_MIN, AN_MAX, AN_MIN};
    /* (4, 0) touches the reference in objective 0, (5, 0) and (0, 8) lie beyond it. */
    static const double edge[] = {1, 2, 4, 0, 5, 0, 0, 8};
    /* Duplicates and dominated points. */
    static const double dom[] = {1, 2, 1, 2, 2, 3, 3, 6, 1, 6.5};
    enum { M2 = 100, M3 = 20 };
    double stair2[2 * M2], stair2max[2 * M2], stair3[3 * M3 * M3], r3m[] = {M3, M3, M3};
    double r2m[] = {M2, M2}, r2max[] = {-1, -1};
    static const an_sense maxmax[] = {AN_MAX, AN_MAX};
    size_t i, n3 = 0;
    int a, b;

    check_hv(&(an_points){p1, 1, 1, NULL, NULL}, r1, 7.0, 0.0, "hv-1.1", "k = 1, one point");
    check_hv(&(an_points){p1, 3, 1, NULL, NULL}, r1, 7.0, 0.0, "hv-1.2",
             "k = 1, the best of three, one beyond the reference");
    check_hv(&(an_points){p2, 1, 2, NULL, NULL}, r2, 15.0, 0.0, "hv-1.3",
             "k = 2, one point: 3 x 5");
    check_hv(&(an_points){p3, 1, 3, mmm, NULL}, r3, 8.0, 0.0, "hv-1.4",
             "k = 3, one point, min/max/min: 1 x 2 x 4");
    check_hv(&(an_points){edge, 4, 2, NULL, NULL}, r2, 15.0, 0.0, "hv-1.5",
             "points on or beyond the reference add nothing");
    check_hv(&(an_points){dom, 5, 2, NULL, NULL}, r2, 15.0, 0.0, "hv-1.6",
             "duplicates and dominated points add nothing");
    /* Unit steps (i, M2 - 1 - i) against (M2, M2): column i is covered to height i + 1,
     * so the area is M2 (M2 + 1) / 2. Maximised and mirrored, the same. */
    for (i = 0; i < M2; i++) {
        stair2[2 * i] = (double)i;
        stair2[2 * i + 1] = (double)(M2 - 1 - i);
        stair2max[2 * i] = (double)(M2 - 1 - i);
        stair2max[2 * i + 1] = (double)i;
    }
    check_hv(&(an_points){stair2, M2, 2, NULL, NULL}, r2m, M2 * (M2 + 1) / 2.0, 0.0, "hv-1.7",
             "k = 2, a staircase of 100 unit steps: 100 x 101 / 2");
    check_hv(&(an_points){stair2max, M2, 2, maxmax, NULL}, r2max, M2 * (M2 + 1) / 2.0, 0.0,
             "hv-1.8", "k = 2, the staircase mirrored and maximised against (-1, -1)");
    /* The points (a, b, c) with a + b + c = M3 - 1 against (M3, M3, M3) cover the unit
     * cells (a, b, c) with a + b + c >= M3 - 1: M3^3 minus the C(M3 + 1, 3) cells below. */
    for (a = 0; a < M3; a++)
        for (b = 0; a + b < M3; b++) {
            stair3[3 * n3] = a;
            stair3[3 * n3 + 1] = b;
            stair3[3 * n3 + 2] = M3 - 1 - a - b;
            n3++;
        }
    check_hv(&(an_points){stair3, n3, 3, NULL, NULL}, r3m,
             M3 * M3 * M3 - (M3 + 1) * M3 * (M3 - 1) / 6.0, 0.0, "hv-1.9",
             "k = 3, the 210 unit-step points of a + b + c = 19 against (20, 20, 20)");
}

/* Drop from s the points that another point of s dominates: they add nothing, and the
 * cell decomposition then runs over the front only. O(m^2 k). */
static void mset_front(mset *s)
{
    size_t i, h, kept = 0;
    int dominated;
    double *keep = malloc((s->m ? s->m : 1) * (size_t)s->k * sizeof *keep);

    for (i = 0; i < s->m; i++) {
        dominated = 0;
        for (h = 0; h < s->m && !dominated; h++)
            dominated =
                h != i && dominates(s->xm + h * (size_t)s->k, s->xm + i * (size_t)s->k, s->k, NULL);
        if (!dominated)
            memcpy(keep + kept++ * (size_t)s->k, s->xm + i * (size_t)s->k,
                   (size_t)s->k * sizeof *keep);
    }
    free(s->xm);
    s->xm = keep;
    s->m = kept;
}

/* Turn x (n points) and ref, generated as minimised values, into the senses: maximised
 * objectives change sign. */
static void apply_senses(double *x, size_t n, int k, double *ref, const an_sense *sense)
{
    size_t i;
    int j;

    for (j = 0; j < k && sense; j++)
        if (sense[j] == AN_MAX) {
            ref[j] = -ref[j];
            for (i = 0; i < n; i++)
                x[i * (size_t)k + j] = -x[i * (size_t)k + j];
        }
}

/* Small random sets (1 to 10 points, integers or not, random references and senses)
 * against inclusion-exclusion, 300 sets for each k. Sets with no point better than the
 * reference must fail. */
static void test_incl_excl(void)
{
    uint64_t seed = 5;
    double x[30], ref[3], want, got;
    an_sense sense[3];
    size_t n, t, bad = 0, sets = 0, empty = 0;
    st_err err;
    mset s;
    int k, j, grid, rc, good;

    for (k = 1; k <= 3; k++, bad = sets = empty = 0) {
        for (t = 0; t < 300; t++) {
            grid = t % 2;
            n = 1 + next_u64(&seed) % 10;
            fill(x, n, k, grid, 5, &seed);
            for (j = 0; j < k; j++) {
                ref[j] = grid ? (double)(2 + next_u64(&seed) % 4) : 0.5 + 0.7 * next_unit(&seed);
                sense[j] = next_u64(&seed) % 2 ? AN_MAX : AN_MIN;
            }
            apply_senses(x, n, k, ref, sense);
            an_points p = {x, n, k, sense, NULL};
            mset_init(&s, &p, ref);
            want = s.m ? brute_incl_excl(&s) : 0.0;
            st_err_clear(&err);
            rc = an_hypervolume(&p, ref, &got, &err);
            if (s.m == 0) {
                good = rc == ST_EINVAL && got == 0.0 && strstr(err.msg, "no hypervolume");
                empty++;
            } else {
                good = rc == 0 && fabs(got - want) <= (grid ? 0.0 : REL_TOL * box_volume(&s));
                sets++;
            }
            if (!good && bad++ == 0)
                diag("  set %zu (%zu points): rc %d (%s), got %.17g, want %.17g", t, n, rc, err.msg,
                     got, want);
            free(s.xm);
        }
        ok(bad == 0,
           "hv-2.%d k = %d: %zu random sets match inclusion-exclusion, %zu with no "
           "point better than the reference fail",
           k, k, sets, empty);
    }
}

/* Points on the sphere x^2 + y^2 + z^2 = 1 in the positive octant, or, with flip, 1 minus
 * such points: every point on the front, a concave or a convex one. */
static void fill_sphere(double *x, size_t n, int flip, uint64_t *seed)
{
    size_t i;
    int j;
    double norm, *r;

    for (i = 0; i < n; i++) {
        r = x + 3 * i;
        for (j = 0, norm = 0.0; j < 3; j++) {
            r[j] = 1e-3 + next_unit(seed);
            norm += r[j] * r[j];
        }
        for (j = 0; j < 3; j++)
            r[j] = flip ? 1.0 - r[j] / sqrt(norm) : r[j] / sqrt(norm);
    }
}

/* Random sets against the cell decomposition, on the front of each set (found here by
 * brute force) when the set is large and its coordinates distinct. */
static void test_cells(void)
{
    static const an_sense mixed[] = {AN_MAX, AN_MIN, AN_MAX};
    static const struct {
        int k;
        size_t n;
        int kind, levels;
        double ref;
        int mixed, exact;
        const char *what;
    } c[] = {
        {2, 10000, 0, 0, 1.0, 0, 0, "k = 2, 10000 uniform"},
        {2, 10000, 0, 0, 0.6, 1, 0, "k = 2, 10000 uniform, many beyond the reference, max/min"},
        {2, 10000, 1, 3000, 2500, 0, 1, "k = 2, 10000 integers in [0, 3000)"},
        {2, 10000, 4, 300, 301, 0, 1, "k = 2, 10000 integers near x + y = 300"},
        {2, 5000, 2, 0, 0.9, 0, 0, "k = 2, 5000 on the line x + y = 1"},
        {2, 5000, 1, 2000, 1500, 1, 1, "k = 2, 5000 integers in [0, 2000), max/min"},
        {3, 200, 0, 0, 1.0, 0, 0, "k = 3, 200 uniform"},
        {3, 200, 2, 0, 0.8, 0, 0, "k = 3, 200 on the plane x + y + z = 1"},
        {3, 200, 5, 0, 1.1, 0, 0, "k = 3, 200 on a sphere (concave front)"},
        {3, 200, 6, 0, 1.1, 1, 0, "k = 3, 200 on a sphere (convex front), max/min/max"},
        {3, 3000, 1, 60, 50, 0, 1, "k = 3, 3000 integers in [0, 60)"},
        {3, 10000, 4, 60, 61, 0, 1, "k = 3, 10000 integers near x + y + z = 60"},
        {3, 3000, 1, 100, 80, 1, 1, "k = 3, 3000 integers in [0, 100), max/min/max"},
        {3, 10000, 0, 0, 0.9, 0, 0, "k = 3, 10000 uniform"},
        {3, 150, 3, 0, 1.1, 0, 0, "k = 3, 150 on a sphere, duplicated (300 points)"},
    };
    uint64_t seed = 99;
    double *x, ref[3], want;
    size_t i, n;
    char id[32];
    mset s;
    int j;

    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        n = c[i].kind == 3 ? 2 * c[i].n : c[i].n;
        x = malloc(n * (size_t)c[i].k * sizeof *x);
        if (c[i].kind >= 5)
            fill_sphere(x, n, c[i].kind == 6, &seed);
        else if (c[i].kind == 3) {
            fill_sphere(x, c[i].n, 0, &seed);
            memcpy(x + 3 * c[i].n, x, 3 * c[i].n * sizeof *x);
        } else
            fill(x, n, c[i].k, c[i].kind, c[i].levels, &seed);
        for (j = 0; j < c[i].k; j++)
            ref[j] = c[i].ref;
        apply_senses(x, n, c[i].k, ref, c[i].mixed ? mixed : NULL);
        an_points p = {x, n, c[i].k, c[i].mixed ? mixed : NULL, NULL};
        mset_init(&s, &p, ref);
        if (!c[i].exact)
            mset_front(&s);
        want = brute_cells(&s);
        snprintf(id, sizeof id, "hv-3.%zu", i + 1);
        check_hv(&p, ref, want, c[i].exact ? 0.0 : REL_TOL * box_volume(&s), id, c[i].what);
        free(s.xm);
        free(x);
    }
}

/* Call an_hypervolume (with hv NULL unless has_hv) and check its code, its message and
 * that *hv came back 0. */
static void check_error(const an_points *p, const double *ref, int has_hv, const char *id,
                        const char *want)
{
    double hv = 99.0;
    st_err err;
    int rc;

    st_err_clear(&err);
    rc = an_hypervolume(p, ref, has_hv ? &hv : NULL, &err);
    if (!ok(rc == ST_EINVAL && err.code == ST_EINVAL && strstr(err.msg, want) &&
                (!has_hv || hv == 0.0),
            "%s fails with ST_EINVAL and \"%s\"", id, want))
        diag("  rc %d, message \"%s\", hv %g", rc, err.msg, hv);
}

static void test_errors(void)
{
    static const double x[] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const double xnan[] = {1, 2, NAN, 4};
    static const double xinf[] = {1, 2, 3, 4, 5, -INFINITY};
    static const double r4[] = {9, 9, 9, 9}, rnan[] = {9, NAN}, rinf[] = {INFINITY, 9};
    static const double r1[] = {1, 1}, r9[] = {9, 9, 9};
    static const char *const names[] = {"latency_ms", "energy_pj", "area_mm2"};
    static const an_sense maxmax[] = {AN_MAX, AN_MAX};
    an_points p = {x, 2, 4, NULL, NULL};

    check_error(&p, r4, 1, "hv-4.1",
                "hypervolume of k = 4 objectives: not supported (only 1, 2 or 3)");
    p.k = 2;
    check_error(&p, NULL, 1, "hv-4.2", "ref = NULL: need a reference point of k = 2 values");
    check_error(&p, r9, 0, "hv-4.3", "hv = NULL");
    check_error(NULL, r9, 1, "hv-4.4", "points = NULL");
    check_error(&p, rnan, 1, "hv-4.5", "reference point: objective 1 = nan: must be finite");
    p.names = names;
    check_error(&p, rinf, 1, "hv-4.6", "reference point: 'latency_ms' = inf: must be finite");
    p.names = NULL;
    p.x = xnan;
    check_error(&p, r9, 1, "hv-4.7", "point 1: objective 0 = nan: must be a number");
    p.x = xinf;
    p.k = 3;
    check_error(&p, r9, 1, "hv-4.8",
                "point 1: objective 2 = -inf: must be finite for the hypervolume");
    p.x = x;
    p.k = 2;
    check_error(&p, r1, 1, "hv-4.9",
                "none of the 2 points is better than the reference point (1, 1) in every "
                "objective: no hypervolume");
    p.sense = maxmax;
    check_error(&p, r9, 1, "hv-4.10",
                "none of the 2 points is better than the reference point (9, 9) in every "
                "objective: no hypervolume");
    p.n = 0;
    p.x = NULL;
    check_error(&p, r9, 1, "hv-4.11", "none of the 0 points is better than the reference point");
    p.k = 0;
    check_error(&p, r9, 1, "hv-4.12", "k = 0 objectives: must be in [1, 64]");
}

int main(void)
{
    test_closed_forms();
    test_incl_excl();
    test_cells();
    test_errors();
    return tap_done();
}
