/*
 * t_netbuild.c - building a network is linear in its layers: the flags st_net_finish
 * derives (pre, post, first) and the consumer index match a brute-force reading of the
 * graph on random networks, a 10^5-layer network builds in well under a second and in
 * time proportional to its size, names stay unique however many layers there are, and
 * the layer limit is stated in its message.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tap.h"
#include "st.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static unsigned op_of(st_kind k)
{
    switch (k) {
    case ST_RELU:
        return ST_OP_RELU;
    case ST_BN:
        return ST_OP_BN;
    case ST_MAXPOOL:
        return ST_OP_MAXPOOL;
    case ST_AVGPOOL:
        return ST_OP_AVGPOOL;
    case ST_GAP:
        return ST_OP_GAP;
    case ST_ADD:
        return ST_OP_ADD;
    default:
        return 0;
    }
}

static int reads(const st_layer *u, int t)
{
    return u->src[0] == t || (u->kind == ST_ADD && u->src[1] == t);
}

/* plain(j), by recursion over the definition: every backward path from j's output reaches
 * the input through non-compute, non-BN layers. */
static int plain(const st_net *n, int j)
{
    const st_layer *c = st_net_layer(n, j);
    if (st_kind_is_compute(c->kind) || c->kind == ST_BN)
        return 0;
    for (int t = 0; t < 1 + (c->kind == ST_ADD); t++)
        if (c->src[t] >= 0 && !plain(n, c->src[t]))
            return 0;
    return 1;
}

/* The ops of every non-compute layer reachable from j's output through non-compute layers
 * only, by depth-first search over all later layers. */
static unsigned below(const st_net *n, int j)
{
    unsigned f = 0;
    for (int k = j + 1; k < st_net_count(n); k++) {
        const st_layer *u = st_net_layer(n, k);
        if (!st_kind_is_compute(u->kind) && reads(u, j))
            f |= op_of(u->kind) | below(n, k);
    }
    return f;
}

/* A random network of shape-preserving layers on a 2 x 6 x 6 input. */
static st_net *random_net(unsigned *seed, int layers)
{
    st_net *n = NULL;
    st_err err;
    char name[32];

    st_err_clear(&err);
    st_net_create("rnd", 2, 6, 6, &n, &err);
    for (int i = 0; i < layers; i++) {
        int cnt = st_net_count(n), src = cnt ? (int)(rand_r(seed) % (unsigned)cnt) : -1;
        int s2 = cnt ? (int)(rand_r(seed) % (unsigned)cnt) : -1;
        snprintf(name, sizeof name, "l%d", i);
        switch (rand_r(seed) % 6) {
        case 0:
            st_net_conv(n, name, src, 2, 3, 1, 1, 1, &err);
            break;
        case 1:
            st_net_relu(n, name, src, &err);
            break;
        case 2:
            st_net_bn(n, name, src, &err);
            break;
        case 3:
            st_net_pool(n, name, src, ST_MAXPOOL, 1, 1, 0, &err);
            break;
        case 4:
            if (cnt && st_net_add(n, name, src, s2, &err) >= 0)
                break;
            st_net_relu(n, name, src, &err);
            break;
        default:
            st_net_pool(n, name, src, ST_AVGPOOL, 3, 1, 1, &err);
            break;
        }
    }
    st_net_finish(n, &err);
    return n;
}

/* A chain conv, relu, conv, relu, ... of `layers` layers on a 1 x 1 x 1 input. */
static double chain_seconds(int layers, int *built)
{
    st_net *n = NULL;
    st_err err;
    char name[32];
    double t0 = now();

    st_err_clear(&err);
    st_net_create("chain", 1, 1, 1, &n, &err);
    for (int i = 0; i < layers; i++) {
        snprintf(name, sizeof name, "layer%d", i);
        if (i % 2 == 0)
            st_net_conv(n, name, ST_PREV, 1, 1, 1, 0, 1, &err);
        else
            st_net_relu(n, name, ST_PREV, &err);
    }
    st_net_finish(n, &err);
    *built = st_net_count(n);
    st_net_destroy(&n);
    return now() - t0;
}

int main(void)
{
    unsigned seed = 12345;
    int bad_flags = 0, bad_cons = 0, nets = 200, built = 0;
    st_net *n = NULL;
    st_err err;

    for (int r = 0; r < nets; r++) {
        st_net *g = random_net(&seed, 40);
        for (int i = 0; i < st_net_count(g); i++) {
            const st_layer *l = st_net_layer(g, i);
            const int *list;
            int nc = st_net_consumers(g, i, &list), want = 0;
            for (int k = i + 1; k < st_net_count(g); k++)
                if (reads(st_net_layer(g, k), i)) {
                    if (want >= nc || list[want] != k)
                        bad_cons++;
                    want++;
                }
            bad_cons += want != nc;
            if (st_kind_is_compute(l->kind)) {
                unsigned pre = 0;
                for (int s = l->src[0]; s >= 0 && !st_kind_is_compute(st_net_layer(g, s)->kind);
                     s = st_net_layer(g, s)->src[0])
                    pre |= op_of(st_net_layer(g, s)->kind);
                bad_flags += l->pre != pre || l->post != below(g, i) ||
                             l->first != (l->src[0] < 0 || plain(g, l->src[0]));
            }
        }
        st_net_destroy(&g);
    }
    ok(bad_flags == 0,
       "netbuild-1.1 pre, post and first match the graph's definition on %d random "
       "networks (%d differ)",
       nets, bad_flags);
    ok(bad_cons == 0,
       "netbuild-1.2 the consumer index lists exactly the readers, in order (%d "
       "differ)",
       bad_cons);

    {
        double small = chain_seconds(1 << 14, &built), big;
        int built_small = built;
        big = chain_seconds(1 << 17, &built);
        ok(built_small == 1 << 14 && built == 1 << 17 && big < 1.0,
           "netbuild-2.1 a 131072-layer network builds in under a second (%.3f s)", big);
        /* Linear: 8x the layers, 8x the time; quadratic would be 64x. The margin of 3 covers
         * caches and noise. */
        ok(big < 24 * small + 0.05,
           "netbuild-2.2 ... in time proportional to its layers (8x the layers: %.1fx the time)",
           big / (small > 0 ? small : 1e-9));
    }

    st_err_clear(&err);
    st_net_create("dup", 1, 1, 1, &n, &err);
    for (int i = 0; i < 5000; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%d", i);
        st_net_relu(n, name, ST_PREV, &err);
    }
    ok(st_net_relu(n, "layer17", ST_PREV, &err) == ST_EINVAL &&
           strstr(err.msg, "layer 'layer17': name already used by layer 17") != NULL,
       "netbuild-3.1 a name used 5000 layers back is still caught: %s", err.msg);
    ok(st_net_relu(n, "layer5000", ST_PREV, &err) == 5000,
       "netbuild-3.2 a new name after it is taken");
    st_net_destroy(&n);

    st_err_clear(&err);
    st_net_create("big", 1, 1, 1, &n, &err);
    for (int i = 0; i < ST_NET_LAYERS_MAX; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d", i);
        if (st_net_relu(n, name, ST_PREV, &err) < 0)
            break;
    }
    ok(st_net_count(n) == ST_NET_LAYERS_MAX, "netbuild-4.1 %d layers are accepted",
       ST_NET_LAYERS_MAX);
    ok(st_net_relu(n, "one_more", ST_PREV, &err) == ST_EINVAL &&
           strstr(err.msg, "layer 'one_more': a network has at most 1000000 layers") != NULL,
       "netbuild-4.2 one more is refused, naming the limit: %s", err.msg);
    st_net_destroy(&n);
    return tap_done();
}
