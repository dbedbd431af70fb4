/*
 * t_front.c - TAP tests of an_front, the Pareto front: hand-made sets with known fronts
 * (duplicates, -0.0, infinities, mixed senses), random sets of up to 10,000 points checked
 * against an O(n^2 k) dominance test written here, and every error with its message.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"
#include "an_test.h"
#include "tap.h"

/* The front by brute force: every point against every other, O(n^2 k). */
static size_t brute_front(const an_points *p, size_t *idx)
{
    size_t i, h, c = 0;
    int dominated;

    for (i = 0; i < p->n; i++) {
        dominated = 0;
        for (h = 0; h < p->n && !dominated; h++)
            dominated = h != i &&
                        dominates(p->x + h * (size_t)p->k, p->x + i * (size_t)p->k, p->k, p->sense);
        if (!dominated)
            idx[c++] = i;
    }
    return c;
}

/* Run an_front on p and compare with the brute force; say what differs. */
static void check_front(const an_points *p, const char *id, const char *what)
{
    size_t n = p->n ? p->n : 1, *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    size_t cg = 0, cw, i, first_bad = SIZE_MAX;
    st_err err;
    int rc;

    st_err_clear(&err);
    rc = an_front(p, got, &cg, &err);
    cw = brute_front(p, want);
    for (i = 0; i < cg && i < cw && first_bad == SIZE_MAX; i++)
        if (got[i] != want[i])
            first_bad = i;
    if (!ok(rc == 0 && cg == cw && first_bad == SIZE_MAX, "%s %s: front of %zu points = %zu points",
            id, what, p->n, cw)) {
        diag("  rc %d (%s), got %zu points, want %zu", rc, err.msg, cg, cw);
        if (first_bad != SIZE_MAX)
            diag("  entry %zu: got point %zu, want point %zu", first_bad, got[first_bad],
                 want[first_bad]);
    }
    free(got);
    free(want);
}

static void test_known(void)
{
    /* (2, 5) is dominated by (1, 5), (4, 4) by (3, 3); (3, 3) twice: both on the front. */
    static const double a[] = {1, 5, 2, 4, 3, 3, 2, 5, 4, 4, 3, 3};
    /* Maximise the second objective: (2, 1) is dominated by (1, 1) and by (2, 2). */
    static const double b[] = {1, 1, 2, 2, 2, 1};
    static const an_sense minmax[] = {AN_MIN, AN_MAX};
    /* -0.0 equals 0.0: duplicates, both on the front; (0, 2) is dominated by both. */
    static const double c[] = {0.0, 1, -0.0, 1, 0.0, 2};
    /* Infinities are ordered values: (-inf, 10) dominates (0, inf), (5, -inf) dominates
     * (inf, 0); (inf, inf) twice would be a front on its own. */
    static const double d[] = {INFINITY, 0, 0, INFINITY, -INFINITY, 10, 5, -INFINITY};
    static const double e[] = {INFINITY, INFINITY, INFINITY, INFINITY};
    static const double f[] = {1, 2, 7, 2, 1, 7, 2, 2, INFINITY, 1, 1, INFINITY};
    static const double one[] = {42, -1, 3};
    static const double k1[] = {3, 1, 2, 1, 5};
    struct {
        an_points p;
        size_t count, idx[6];
        const char *what;
    } v[] = {
        {{a, 6, 2, NULL, NULL}, 4, {0, 1, 2, 5}, "2-D with a dominated pair and a duplicate"},
        {{b, 3, 2, minmax, NULL}, 2, {0, 1}, "min/max senses"},
        {{c, 3, 2, NULL, NULL}, 2, {0, 1}, "-0.0 and 0.0 are equal"},
        {{d, 4, 2, NULL, NULL}, 2, {2, 3}, "infinite objectives"},
        {{e, 2, 2, NULL, NULL}, 2, {0, 1}, "two points at (inf, inf)"},
        {{f, 2, 3, NULL, NULL}, 2, {0, 1}, "3-D, two mutually non-dominated points"},
        {{f + 6, 2, 3, NULL, NULL}, 1, {1}, "3-D, (1, 1, inf) dominates (2, 2, inf)"},
        {{one, 1, 3, NULL, NULL}, 1, {0}, "one point"},
        {{k1, 5, 1, NULL, NULL}, 2, {1, 3}, "k = 1: the points at the minimum"},
        {{NULL, 0, 2, NULL, NULL}, 0, {0}, "no points (x = NULL)"},
    };
    size_t i, h, idx[6], count;
    st_err err;
    int rc, same;

    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        st_err_clear(&err);
        count = 99;
        rc = an_front(&v[i].p, v[i].p.n ? idx : NULL, &count, &err);
        same = rc == 0 && count == v[i].count;
        for (h = 0; same && h < count; h++)
            same = idx[h] == v[i].idx[h];
        if (!ok(same, "front-1.%zu %s: front has %zu points", i + 1, v[i].what, v[i].count))
            diag("  rc %d (%s), count %zu", rc, err.msg, count);
    }
}

/* Small sets with infinities in every position, against the brute force. */
static void test_known_brute(void)
{
    static const double f[7][3] = {{1, 2, 7},        {2, 1, 7},        {2, 2, INFINITY},
                                   {1, 1, INFINITY}, {INFINITY, 1, 1}, {-INFINITY, 5, 5},
                                   {0, 0, INFINITY}};
    an_points p = {&f[0][0], 7, 3, NULL, NULL};

    check_front(&p, "front-2.1", "3-D with infinities (brute force)");
    p.k = 1;
    p.n = 21;
    check_front(&p, "front-2.2", "k = 1 with infinities (brute force)");
}

static void test_random(void)
{
    static const an_sense mixed[] = {AN_MAX, AN_MIN, AN_MAX, AN_MIN,
                                     AN_MAX, AN_MIN, AN_MAX, AN_MIN};
    static const struct {
        int k;
        size_t n;
        int kind, levels, mixed;
        const char *what;
    } c[] = {
        {1, 1000, 1, 10, 0, "k = 1, integers in [0, 10)"},
        {2, 10000, 0, 0, 0, "k = 2, uniform"},
        {2, 10000, 1, 50, 0, "k = 2, integers in [0, 50)"},
        {2, 3000, 2, 0, 0, "k = 2, on the line x + y = 1"},
        {2, 5000, 1, 20, 1, "k = 2, integers, max/min"},
        {2, 3000, 3, 10, 0, "k = 2, integers and infinities"},
        {3, 10000, 0, 0, 0, "k = 3, uniform"},
        {3, 10000, 1, 12, 0, "k = 3, integers in [0, 12)"},
        {3, 3000, 2, 0, 0, "k = 3, on the plane x + y + z = 1"},
        {3, 5000, 1, 8, 1, "k = 3, integers, max/min/max"},
        {3, 3000, 3, 10, 0, "k = 3, integers and infinities"},
        {4, 10000, 1, 6, 0, "k = 4, integers in [0, 6)"},
        {4, 5000, 0, 0, 1, "k = 4, uniform, mixed senses"},
        {4, 3000, 3, 5, 0, "k = 4, integers and infinities"},
        {5, 3000, 0, 0, 0, "k = 5, uniform"},
        {8, 1000, 1, 3, 1, "k = 8, integers in [0, 3), mixed senses"},
        {2, 10000, 4, 200, 0, "k = 2, integers near x + y = 200"},
        {3, 10000, 4, 60, 0, "k = 3, integers near x + y + z = 60"},
        {3, 10000, 4, 60, 1, "k = 3, integers near x + y + z = 60, max/min/max"},
        {4, 10000, 4, 30, 0, "k = 4, integers near a plane"},
        {2, 2, 1, 2, 0, "k = 2, two points"},
    };
    uint64_t seed = 20240601;
    double *x;
    size_t i;
    char id[32];

    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        an_points p = {NULL, c[i].n, c[i].k, c[i].mixed ? mixed : NULL, NULL};
        x = malloc(c[i].n * (size_t)c[i].k * sizeof *x);
        fill(x, c[i].n, c[i].k, c[i].kind, c[i].levels, &seed);
        p.x = x;
        snprintf(id, sizeof id, "front-3.%zu", i + 1);
        check_front(&p, id, c[i].what);
        free(x);
    }
}

/* Call an_front and check its code, its message and that count came back 0. */
static void check_error(const an_points *p, size_t *idx, int has_count, int code, const char *id,
                        const char *want)
{
    size_t count = 99;
    st_err err;
    int rc;

    st_err_clear(&err);
    rc = an_front(p, idx, has_count ? &count : NULL, &err);
    if (!ok(rc == code && err.code == code && strstr(err.msg, want) && (!has_count || count == 0),
            "%s fails with code %d and \"%s\"", id, code, want))
        diag("  rc %d, message \"%s\", count %zu", rc, err.msg, count);
}

static void test_errors(void)
{
    static const double x[] = {1, 2, 3, 4, NAN, 6};
    static const double y[] = {1, 2, 3, 4, 5, 6};
    static const an_sense bad[] = {AN_MIN, (an_sense)7};
    static const char *const names[] = {"latency_ms", "energy_pj"};
    size_t idx[3];
    an_points p = {y, 3, 2, NULL, NULL};

    check_error(NULL, idx, 1, ST_EINVAL, "front-4.1", "points = NULL");
    p.k = 0;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.2", "k = 0 objectives: must be in [1, 64]");
    p.k = 65;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.3", "k = 65 objectives: must be in [1, 64]");
    p.k = 2;
    p.x = NULL;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.4", "x = NULL with n = 3 points");
    p.x = y;
    p.sense = bad;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.5",
                "objective 1: sense = 7: must be AN_MIN (0) or AN_MAX (1)");
    p.names = names;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.6", "'energy_pj': sense = 7");
    p.sense = NULL;
    p.names = NULL;
    p.x = x;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.7", "point 2: objective 0 = nan: must be a number");
    p.names = names;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.8", "point 2: 'latency_ms' = nan");
    p.names = NULL;
    p.x = y;
    check_error(&p, NULL, 1, ST_EINVAL, "front-4.9", "idx = NULL with n = 3 points");
    check_error(&p, idx, 0, ST_EINVAL, "front-4.10", "count = NULL");
    p.n = SIZE_MAX / 8;
    check_error(&p, idx, 1, ST_EINVAL, "front-4.11", "too many to copy in memory");
    /* Within the size limit but beyond the address space: malloc fails before any x is
     * read. AddressSanitizer aborts on such a request instead of returning NULL. */
#if defined(__SANITIZE_ADDRESS__)
    skip("AddressSanitizer does not return NULL for huge allocations", "front-4.12");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip("AddressSanitizer does not return NULL for huge allocations", "front-4.12");
#else
    p.n = SIZE_MAX / 64;
    check_error(&p, idx, 1, ST_ENOMEM, "front-4.12", "out of memory for");
#endif
#else
    p.n = SIZE_MAX / 64;
    check_error(&p, idx, 1, ST_ENOMEM, "front-4.12", "out of memory for");
#endif
    /* A NULL error record is allowed: the code still comes back. */
    p.n = 3;
    p.x = x;
    ok(an_front(&p, idx, NULL, NULL) == ST_EINVAL, "front-4.13 NULL err: the code comes back");
}

int main(void)
{
    test_known();
    test_known_brute();
    test_random();
    test_errors();
    return tap_done();
}
