/*
 * ex_idset.c - a set of 64-bit point ids (open addressing, linear probing), for the
 * samplers whose draws may repeat a point. A grid never needs one.
 */
#include <stdlib.h>
#include <string.h>

#include "ex.h"

void ex_idset_init(ex_idset *s)
{
    memset(s, 0, sizeof *s);
}

void ex_idset_fini(ex_idset *s)
{
    if (!s)
        return;
    free(s->slot);
    memset(s, 0, sizeof *s);
}

/* Slot 0 means empty, so id 0 is kept aside in has_zero. */
static int probe_insert(uint64_t *slot, size_t cap, uint64_t id)
{
    size_t k = (size_t)(ex_mix64(id) & (cap - 1));

    while (slot[k] != 0) {
        if (slot[k] == id)
            return 0;
        k = (k + 1) & (cap - 1);
    }
    slot[k] = id;
    return 1;
}

int ex_idset_add(ex_idset *s, uint64_t id, int *added, st_err *err)
{
    int rc = ST_OK;

    *added = 0;
    if (id == 0) {
        *added = !s->has_zero;
        s->has_zero = 1;
        goto done;
    }
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint64_t *slot = calloc(cap, sizeof *slot);
        if (!slot) {
            rc = st_err_set(err, ST_ENOMEM, "id set: out of memory at %zu ids", s->n);
            goto done;
        }
        for (size_t k = 0; k < s->cap; k++)
            if (s->slot[k])
                probe_insert(slot, cap, s->slot[k]);
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    *added = probe_insert(s->slot, s->cap, id);
    s->n += (size_t)*added;
done:
    return rc;
}
