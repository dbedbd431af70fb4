/*
 * an_iset.c - an ordered set of integers in [0, n) as a tree of 64-bit words: bit b of
 * word w at level 0 says whether 64 w + b is a member, and a bit at level l + 1 whether a
 * word of level l is non-zero. Successor and predecessor climb to the first word with a
 * candidate and come down by counting zero bits. The hypervolume sweep keeps its staircase
 * in one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "an_int.h"

#define LEVELS_MAX ((int)(sizeof((an_iset *)0)->word / sizeof((an_iset *)0)->word[0]))

/* The index of the lowest and of the highest set bit of a non-zero word. */
static int low_bit(uint64_t w)
{
#if defined(__GNUC__)
    return __builtin_ctzll(w);
#else
    int b = 0;
    while (!(w & 1)) {
        w >>= 1;
        b++;
    }
    return b;
#endif
}

static int high_bit(uint64_t w)
{
#if defined(__GNUC__)
    return 63 - __builtin_clzll(w);
#else
    int b = 63;
    while (!(w >> 63)) {
        w <<= 1;
        b--;
    }
    return b;
#endif
}

int an_iset_init(an_iset *s, size_t n, st_err *err)
{
    size_t words = n;
    int l, rc = ST_OK;

    memset(s, 0, sizeof *s);
    /* Level l has ceil(n / 64^(l + 1)) words (at least one), the top level exactly one. */
    do {
        words = words / 64 + (words % 64 != 0);
        if (words == 0)
            words = 1;
        if (s->levels == LEVELS_MAX) {
            rc = st_err_set(err, ST_ENOMEM, "an ordered set of %zu integers is too large", n);
            goto done;
        }
        s->word[s->levels] = calloc(words, sizeof(uint64_t));
        s->nwords[s->levels] = words;
        if (!s->word[s->levels]) {
            rc = st_err_set(err, ST_ENOMEM, "out of memory for an ordered set of %zu integers", n);
            goto done;
        }
        s->levels++;
    } while (words > 1);
done:
    if (rc) {
        for (l = 0; l < s->levels; l++)
            free(s->word[l]);
        memset(s, 0, sizeof *s);
    }
    return rc;
}

void an_iset_fini(an_iset *s)
{
    int l;

    for (l = 0; l < s->levels; l++)
        free(s->word[l]);
    memset(s, 0, sizeof *s);
}

void an_iset_insert(an_iset *s, size_t i)
{
    int l;

    for (l = 0; l < s->levels; l++, i >>= 6)
        s->word[l][i >> 6] |= (uint64_t)1 << (i & 63);
}

void an_iset_erase(an_iset *s, size_t i)
{
    int l;

    /* Climb only while a word becomes empty: above a non-empty word, bits stay set. */
    for (l = 0; l < s->levels; l++, i >>= 6) {
        s->word[l][i >> 6] &= ~((uint64_t)1 << (i & 63));
        if (s->word[l][i >> 6])
            break;
    }
}

size_t an_iset_next(const an_iset *s, size_t i)
{
    size_t w;
    uint64_t m;
    int l;

    for (l = 0; l < s->levels; l++) {
        w = i >> 6;
        if (w >= s->nwords[l])
            break;
        m = s->word[l][w] & (~(uint64_t)0 << (i & 63));
        if (m) {
            i = (w << 6) | (size_t)low_bit(m);
            for (; l > 0; l--)
                i = (i << 6) | (size_t)low_bit(s->word[l - 1][i]);
            return i;
        }
        /* Nothing at or after i in this word: go on from the next word, one level up. */
        i = w + 1;
    }
    return SIZE_MAX;
}

size_t an_iset_prev(const an_iset *s, size_t i)
{
    size_t w;
    uint64_t m;
    int l;

    for (l = 0; l < s->levels; l++) {
        w = i >> 6;
        if (w >= s->nwords[l]) {
            /* Past the end: everything in the last word is at or before i. */
            w = s->nwords[l] - 1;
            i = (w << 6) | 63;
        }
        /* The bits at or below i & 63; 2 << 63 wraps to 0, so b = 63 keeps them all. */
        m = s->word[l][w] & (((uint64_t)2 << (i & 63)) - 1);
        if (m) {
            i = (w << 6) | (size_t)high_bit(m);
            for (; l > 0; l--)
                i = (i << 6) | (size_t)high_bit(s->word[l - 1][i]);
            return i;
        }
        /* Nothing at or before i in this word: go on from the previous word, one level up. */
        if (w == 0)
            break;
        i = w - 1;
    }
    return SIZE_MAX;
}
