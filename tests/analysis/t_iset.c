/*
 * t_iset.c - TAP tests of the ordered integer set under the hypervolume sweep (internal,
 * an_int.h): random inserts, erases and successor/predecessor queries against a plain
 * array of flags, at sizes around the 64- and 4096-wide boundaries of its levels, dense
 * and sparse, so that words empty out and refill.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_int.h"
#include "an_test.h"
#include "tap.h"

/* The brute force: scan the flags. */
static size_t flag_next(const unsigned char *f, size_t n, size_t i)
{
    for (; i < n; i++)
        if (f[i])
            return i;
    return SIZE_MAX;
}

static size_t flag_prev(const unsigned char *f, size_t n, size_t i)
{
    if (n == 0)
        return SIZE_MAX;
    if (i >= n)
        i = n - 1;
    for (i++; i-- > 0;)
        if (f[i])
            return i;
    return SIZE_MAX;
}

/* ops random operations on a set of [0, n): half of them updates, which insert a random
 * integer with probability ins_permille / 1000 and otherwise erase a random member, half
 * of them queries from anywhere in [0, n + 2), past the end included. Returns the number
 * of answers that differ from the flags; first describes the first. */
static size_t run(size_t n, long ops, int ins_permille, uint64_t *seed, char *first, size_t size)
{
    unsigned char *f = calloc(n ? n : 1, 1);
    size_t *mem = malloc((n ? n : 1) * sizeof *mem), *pos = malloc((n ? n : 1) * sizeof *pos);
    size_t v, h, got, want, nm = 0, bad = 0;
    an_iset s;
    long t;
    int op;

    if (an_iset_init(&s, n, NULL)) {
        snprintf(first, size, "init failed");
        bad = 1;
        ops = 0;
    }
    for (t = 0; t < ops; t++) {
        op = (int)(next_u64(seed) % 2);
        v = (size_t)(next_u64(seed) % (n + 2));
        if (op == 0 && n > 0) {
            if (nm == 0 || (int)(next_u64(seed) % 1000) < ins_permille) {
                v %= n;
                an_iset_insert(&s, v);
                if (!f[v]) {
                    f[v] = 1;
                    pos[v] = nm;
                    mem[nm++] = v;
                }
            } else {
                h = (size_t)(next_u64(seed) % nm);
                v = mem[h];
                an_iset_erase(&s, v);
                f[v] = 0;
                mem[h] = mem[--nm];
                pos[mem[h]] = h;
            }
        } else if (op == 1) {
            int up = next_u64(seed) % 2 == 0;
            want = up ? flag_next(f, n, v) : flag_prev(f, n, v);
            got = up ? an_iset_next(&s, v) : an_iset_prev(&s, v);
            if (got != want && bad++ == 0)
                snprintf(first, size, "%s(%zu) = %zu, want %zu after %ld operations",
                         up ? "next" : "prev", v, got, want, t);
        }
    }
    an_iset_fini(&s);
    free(f);
    free(mem);
    free(pos);
    return bad;
}

int main(void)
{
    static const size_t sizes[] = {0, 1, 2, 63, 64, 65, 4095, 4096, 4097, 262145};
    uint64_t seed = 3;
    size_t i, bad;
    char first[160];
    int d;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (d = 0; d < 2; d++) {
            /* Dense: 6 updates in 10 insert, a third of [0, n) is in. Sparse: 45 in 100,
             * a few members at any time, so that words, and words of words, empty out
             * and fill again between queries. */
            long ops = sizes[i] > 5000 ? 40000 : 200000;
            first[0] = '\0';
            bad = run(sizes[i], ops, d ? 450 : 600, &seed, first, sizeof first);
            if (!ok(bad == 0, "iset-1.%zu n = %zu, %s: %ld operations agree with the flags",
                    2 * i + (size_t)d + 1, sizes[i], d ? "sparse" : "dense", ops))
                diag("  %zu mismatches, first: %s", bad, first);
        }
    return tap_done();
}
