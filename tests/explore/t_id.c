/*
 * t_id.c - canonical point ids: SipHash-2-4 against the paper's test vector, exactness
 * (no tolerance: 0.1 + 0.2 is not 0.3), equal values give equal ids whatever their
 * spelling, uniqueness over a grid, and seeds in the parameter's range.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "ex.h"

int main(void)
{
    unsigned char msg[15];
    ex_ptab t;
    st_err err;
    double *a, *b;
    int pr, pc, p, ch0, batch, dup = 0;
    ex_idset set;
    char text[4096];

    for (int i = 0; i < 15; i++)
        msg[i] = (unsigned char)i;
    /* Appendix A of the paper: key 00 01 .. 0f, message 00 01 .. 0e. */
    ok_eq_u64(ex_siphash(UINT64_C(0x0706050403020100), UINT64_C(0x0f0e0d0c0b0a0908), msg, 15),
              UINT64_C(0xa129ca6149be45e5), "id-1.1 SipHash-2-4 gives the paper's test vector");

    ok(ex_ptab_init(&t, &err) == 0, "id-2.1 the parameter table loads");
    a = malloc((size_t)t.n * sizeof *a);
    b = malloc((size_t)t.n * sizeof *b);
    pr = ex_ptab_find(&t, "pe_rows");
    pc = ex_ptab_find(&t, "pe_cols");
    p = ex_ptab_find(&t, "p");
    ch0 = ex_ptab_find(&t, "ch0_kib");
    batch = ex_ptab_find(&t, "batch");
    ok(pr >= 0 && pc >= 0 && p >= 0 && ch0 >= 0 && batch >= 0 && t.seed_row >= 0,
       "id-2.2 rows are found by name");

    memcpy(a, t.def, (size_t)t.n * sizeof *a);
    memcpy(b, t.def, (size_t)t.n * sizeof *b);
    ok(ex_id_of(&t, 1, a, 1) == ex_id_of(&t, 1, b, 1), "id-3.1 equal points have equal ids");
    ex_id_text(&t, 1, a, 1, text, sizeof text);
    ok(!strcmp(text, "net=0000000000000001;"),
       "id-3.2 a default point's text is the network alone");
    a[p] = 0.1 + 0.2;
    b[p] = 0.3;
    ok(ex_id_of(&t, 1, a, 1) != ex_id_of(&t, 1, b, 1),
       "id-3.3 0.1 + 0.2 and 0.3 are different points: no tolerance");
    ex_id_text(&t, 1, b, 1, text, sizeof text);
    ok(strstr(text, "p=0x1.3333333333333p-2;") != NULL, "id-3.4 reals are written in %%a: %s",
       text);
    b[p] = 0.1 + 0.2;
    ok(ex_id_of(&t, 1, a, 1) == ex_id_of(&t, 1, b, 1), "id-3.5 the same double gives the same id");
    a[p] = -0.0;
    b[p] = 0.0;
    ok(ex_id_of(&t, 1, a, 1) == ex_id_of(&t, 1, b, 1), "id-3.6 -0 and 0 are the same value");
    a[p] = b[p] = t.def[p];
    a[t.seed_row] = 12345;
    ok(ex_id_of(&t, 1, a, 1) == ex_id_of(&t, 1, b, 1),
       "id-3.7 a derived seed does not enter the id it derives from");
    ok(ex_id_of(&t, 1, a, 0) != ex_id_of(&t, 1, b, 0), "id-3.8 a seed set by the script does");
    a[t.seed_row] = t.def[t.seed_row];
    ok(ex_id_of(&t, 1, a, 1) != ex_id_of(&t, 2, a, 1), "id-3.9 the network enters the id");

    /* Uniqueness over a 4-parameter grid of 16 x 16 x 20 x 8 = 40960 points. */
    ex_idset_init(&set);
    memcpy(a, t.def, (size_t)t.n * sizeof *a);
    for (int i = 1; i <= 16; i++)
        for (int j = 1; j <= 16; j++)
            for (int k = 0; k < 20; k++)
                for (int m = 1; m <= 8; m++) {
                    int added = 0;
                    a[pr] = i;
                    a[pc] = j;
                    a[p] = k * 0.05;
                    a[ch0] = 8.0 * m;
                    ex_idset_add(&set, ex_id_of(&t, 7, a, 1), &added, NULL);
                    dup += !added;
                }
    ok(dup == 0 && set.n == 40960, "id-4.1 40960 grid points have 40960 distinct ids (%zu)", set.n);
    ex_idset_fini(&set);

    {
        int lo = 1, seed;
        for (uint64_t id = 0; id < 1000; id++) {
            seed = ex_seed_of(42, ex_mix64(id));
            if (seed < 0)
                lo = 0;
        }
        ok(lo, "id-5.1 derived seeds lie in [0, 2^31 - 1]");
        ok(ex_seed_of(42, 99) == ex_seed_of(42, 99) && ex_seed_of(42, 99) != ex_seed_of(43, 99),
           "id-5.2 seeds are a function of the sweep seed and the id");
    }
    free(a);
    free(b);
    ex_ptab_fini(&t);
    return tap_done();
}
