/*
 * ex_tracemem.c - one iteration of a training trace held in memory, as a mask source of
 * the engine: what a sweep that replays traces evaluates with, on any process and without
 * HDF5. Reading the file is ex_trace.c's (ex_trace_load); sending it to other ranks is
 * ex_wire.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

int ex_tracemem_create(const char *path, int n, ex_tracemem **out, st_err *err)
{
    ex_tracemem *t = calloc(1, sizeof *t);
    int rc = ST_OK;

    *out = NULL;
    if (!t || !(t->path = strdup(path)) ||
        !(t->layers = calloc(n > 0 ? (size_t)n : 1, sizeof *t->layers))) {
        rc = st_err_set(err, ST_ENOMEM, "trace %s: out of memory", path);
        ex_tracemem_destroy(&t);
        goto done;
    }
    t->n = n;
    t->accuracy = t->test_loss = t->train_loss = NAN;
    for (int i = 0; i < n; i++)
        t->layers[i].layer = -1;
    *out = t;
done:
    return rc;
}

int ex_tracemem_layer_alloc(ex_tracemem *t, int i, int layer, size_t na, size_t ng, st_err *err)
{
    ex_tracelayer *l = &t->layers[i];
    size_t b = t->images > 0 ? (size_t)t->images : 0;

    free(l->act);
    free(l->dz);
    l->layer = layer;
    l->na = na;
    l->ng = ng;
    l->act = calloc(b * na + 1, 1);
    l->dz = calloc(b * ng + 1, 1);
    if (!l->act || !l->dz)
        return st_err_set(err, ST_ENOMEM, "trace %s: out of memory for layer %d (%zu bytes)",
                          t->path, layer, b * (na + ng));
    return ST_OK;
}

void ex_tracemem_destroy(ex_tracemem **tp)
{
    ex_tracemem *t = tp ? *tp : NULL;

    if (!t)
        return;
    for (int i = 0; t->layers && i < t->n; i++) {
        free(t->layers[i].act);
        free(t->layers[i].dz);
    }
    free(t->layers);
    free(t->path);
    free(t->fail);
    free(t);
    *tp = NULL;
}

static double density(const uint8_t *m, size_t n)
{
    size_t z = 0;

    for (size_t i = 0; i < n; i++)
        z += m[i] != 0;
    return n ? (double)z / (double)n : 0;
}

int ex_tracemem_masks(void *ctx, const st_net *net, int layer, int image, const uint8_t *act_want,
                      const uint8_t *grad_want, st_layer_masks *m, st_err *err)
{
    const ex_tracemem *t = ctx;
    const st_layer *l = st_net_layer(net, layer);
    const ex_tracelayer *tl = NULL;
    int rc;

    (void)act_want, (void)grad_want; /* whole tensors are at hand */
    m->layer = -1;
    for (int i = 0; i < t->n && !tl; i++)
        if (t->layers[i].layer == layer)
            tl = &t->layers[i];
    if (!tl || tl->na != st_layer_in_elems(l) || tl->ng != st_layer_out_elems(l))
        return st_err_set(err, ST_EINVAL, "trace %s: %s holds no masks of layer '%s' of its shape",
                          t->path, t->iter, l->name);
    if (image < 0 || image >= t->images)
        return st_err_set(err, ST_EINVAL, "trace %s: image %d of layer '%s': %s holds %d images",
                          t->path, image, l->name, t->iter, t->images);
    if ((rc = st_layer_masks_reserve(m, tl->na, tl->ng, err)) != 0)
        return rc;
    memcpy(m->act_in, tl->act + (size_t)image * tl->na, tl->na);
    memcpy(m->grad, tl->dz + (size_t)image * tl->ng, tl->ng);
    m->layer = layer;
    m->tau = tl->tau;
    m->act_density = density(m->act_in, tl->na);
    m->grad_density = m->grad_density_natural = density(m->grad, tl->ng);
    m->chan_known = 0;
    return ST_OK;
}
