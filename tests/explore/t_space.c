/*
 * t_space.c - design spaces: candidate counts against closed-form products, the grid
 * visiting every combination exactly once, a 10^12-point grid enumerated lazily,
 * permutations, Latin-hypercube stratification, reproducible random draws, and the
 * finished-range set a resume uses.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "ex.h"

static void add_list(ex_space *s, int param, int n, double first)
{
    ex_dim d;

    memset(&d, 0, sizeof d);
    d.param = param;
    d.kind = EX_DOM_LIST;
    d.v = malloc((size_t)n * sizeof *d.v);
    for (int i = 0; i < n; i++)
        d.v[d.n++] = first + i;
    ex_space_add(s, &d, NULL);
}

static void add_cont(ex_space *s, int param, ex_dom_kind kind, double lo, double hi)
{
    ex_dim d;

    memset(&d, 0, sizeof d);
    d.param = param;
    d.kind = kind;
    d.lo = lo;
    d.hi = hi;
    ex_space_add(s, &d, NULL);
}

int main(void)
{
    ex_space s;
    st_err err;
    uint64_t n = 0;
    double v[16];
    int ok_all;

    /* Closed form: 3 x 5 x 7 = 105, and every combination exactly once. */
    ex_space_init(&s);
    add_list(&s, 0, 3, 0);
    add_list(&s, 1, 5, 0);
    add_list(&s, 2, 7, 0);
    ok(ex_space_count(&s, &n, &err) == 0, "space-1.1 a grid counts");
    ok_eq_u64(n, 105, "space-1.2 the count is the product of the list lengths");
    {
        int seen[105] = {0};
        ok_all = 1;
        for (uint64_t i = 0; i < n; i++) {
            ex_space_point(&s, i, v);
            seen[(int)v[0] * 35 + (int)v[1] * 7 + (int)v[2]]++;
        }
        for (int i = 0; i < 105; i++)
            ok_all &= seen[i] == 1;
        ok(ok_all, "space-1.3 the grid visits every combination exactly once");
        ex_space_point(&s, 1, v);
        ok(v[0] == 0 && v[1] == 0 && v[2] == 1, "space-1.4 the last dimension varies fastest");
    }
    ex_space_fini(&s);

    /* 10 values in each of 12 parameters: 10^12 points, enumerated lazily. */
    ex_space_init(&s);
    for (int k = 0; k < 12; k++)
        add_list(&s, k, 10, 0);
    ok(ex_space_count(&s, &n, &err) == 0, "space-2.1 a grid of 10^12 points counts");
    ok_eq_u64(n, UINT64_C(1000000000000), "space-2.2 its count is 10^12");
    ex_space_point(&s, n - 1, v);
    ok_all = 1;
    for (int k = 0; k < 12; k++)
        ok_all &= v[k] == 9;
    ok(ok_all, "space-2.3 its last point is computed directly, nothing materialised");
    ex_space_point(&s, UINT64_C(123456789012), v);
    ok(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[11] == 2,
       "space-2.4 point 123456789012 has the digits 1, 2, 3, ..., 2");
    for (int k = 0; k < 8; k++)
        add_list(&s, 12 + k % 4, 1000, 0);
    ok(ex_space_count(&s, &n, &err) == ST_EINVAL && strstr(err.msg, "more than"),
       "space-2.5 a grid past 2^62 points is refused: %s", err.msg);
    ex_space_fini(&s);

    ex_space_init(&s);
    add_list(&s, 0, 3, 0);
    add_list(&s, 1, 0, 0);
    ok(ex_space_count(&s, &n, &err) == ST_EINVAL && strstr(err.msg, "empty"),
       "space-3.1 an empty list makes an empty space: %s", err.msg);
    ex_space_fini(&s);
    ex_space_init(&s);
    add_cont(&s, 0, EX_DOM_UNIFORM, 0, 1);
    ok(ex_space_count(&s, &n, &err) == ST_EINVAL && strstr(err.msg, "st.random"),
       "space-3.2 a continuous range has no grid: %s", err.msg);
    ex_space_fini(&s);

    /* Permutations of [0, n) for sizes around powers of two and four. */
    ok_all = 1;
    for (uint64_t m = 1; m <= 1030; m += (m < 70 ? 1 : 241)) {
        char *hit = calloc(m, 1);
        for (uint64_t i = 0; i < m; i++) {
            uint64_t x = ex_perm(m, 99, i);
            if (x >= m || hit[x])
                ok_all = 0;
            else
                hit[x] = 1;
        }
        free(hit);
    }
    ok(ok_all, "space-4.1 ex_perm is a permutation of [0, n) for n = 1 .. 69 and beyond");
    ok(ex_perm(1000, 1, 5) != ex_perm(1000, 2, 5) || ex_perm(1000, 1, 6) != ex_perm(1000, 2, 6),
       "space-4.2 the key changes the permutation");

    /* Latin hypercube: in every dimension each of the count strata holds one point. */
    ex_space_init(&s);
    s.sampler = EX_LHS;
    s.count = 500;
    s.seed = 11;
    add_cont(&s, 0, EX_DOM_UNIFORM, 0, 1);
    add_cont(&s, 1, EX_DOM_UNIFORM, -5, 5);
    add_cont(&s, 2, EX_DOM_LOGUNIFORM, 1, 1000);
    add_list(&s, 3, 10, 0);
    ok(ex_space_count(&s, &n, &err) == 0 && n == 500, "space-5.1 an LHS has count candidates");
    {
        int strata[3][500];
        int lists[10] = {0};
        memset(strata, 0, sizeof strata);
        for (uint64_t i = 0; i < n; i++) {
            ex_space_point(&s, i, v);
            strata[0][(int)floor(v[0] * 500)]++;
            strata[1][(int)floor((v[1] + 5) / 10 * 500)]++;
            strata[2][(int)floor(log(v[2]) / log(1000) * 500 + 1e-9)]++;
            lists[(int)v[3]]++;
        }
        ok_all = 1;
        for (int d = 0; d < 3; d++)
            for (int k = 0; k < 500; k++)
                ok_all &= strata[d][k] == 1;
        ok(ok_all, "space-5.2 each of 500 strata of each continuous dimension holds one point");
        ok_all = 1;
        for (int k = 0; k < 10; k++)
            ok_all &= lists[k] == 50;
        ok(ok_all, "space-5.3 a list of 10 values is drawn 50 times each in 500 points");
    }
    ex_space_point(&s, 17, v);
    {
        double w[16];
        ex_space_point(&s, 17, w);
        ok(memcmp(v, w, 4 * sizeof *v) == 0, "space-5.4 a draw is a pure function of the index");
    }
    s.sampler = EX_RANDOM;
    ok_all = 1;
    for (uint64_t i = 0; i < 1000; i++) {
        ex_space_point(&s, i, v);
        ok_all &= v[0] >= 0 && v[0] <= 1 && v[1] >= -5 && v[1] <= 5 && v[2] >= 1 && v[2] <= 1000;
    }
    ok(ok_all, "space-5.5 random draws stay inside their domains");
    ex_space_fini(&s);

    {
        ex_ranges r;
        ex_ranges_init(&r);
        ex_ranges_add(&r, 10, 20, NULL);
        ex_ranges_add(&r, 30, 40, NULL);
        ex_ranges_add(&r, 0, 5, NULL);
        ok(r.n == 3 && ex_ranges_skip(&r, 12) == 20 && ex_ranges_skip(&r, 25) == 25,
           "space-6.1 ranges skip finished indices");
        ex_ranges_add(&r, 20, 30, NULL);
        ok(r.n == 2 && r.lo[1] == 10 && r.hi[1] == 40, "space-6.2 touching ranges merge");
        ex_ranges_add(&r, 3, 50, NULL);
        ok(r.n == 1 && r.lo[0] == 0 && r.hi[0] == 50 && ex_ranges_total(&r) == 50,
           "space-6.3 an overlapping range swallows the others");
        ex_ranges_fini(&r);
        /* Overlap against {[10, 20), [30, 40)}, checked index by index. */
        ex_ranges_add(&r, 10, 20, NULL);
        ex_ranges_add(&r, 30, 40, NULL);
        {
            static const uint64_t q[][2] = {{0, 10},  {0, 11},  {10, 20}, {12, 15},
                                            {19, 21}, {20, 30}, {25, 35}, {5, 45},
                                            {39, 40}, {40, 41}, {15, 15}};
            int all = 1;
            for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
                uint64_t in = 0, len = q[k][1] - q[k][0];
                int want, got = ex_ranges_overlap(&r, q[k][0], q[k][1]);
                for (uint64_t i = q[k][0]; i < q[k][1]; i++)
                    in += (i >= 10 && i < 20) || (i >= 30 && i < 40);
                want = in == 0 ? 0 : in == len ? 2 : 1;
                if (got != want) {
                    all = 0;
                    diag("  [%llu, %llu): got %d, want %d", (unsigned long long)q[k][0],
                         (unsigned long long)q[k][1], got, want);
                }
            }
            ok(all, "space-6.4 overlap says none, part or whole, as counting indices does");
        }
        ex_ranges_fini(&r);
    }
    return tap_done();
}
