/*
 * t_sparsity.c - TAP tests of the statistical sparsity model (core/sparsity.c).
 * Masks are checked against brute force over masks the model exposes elsewhere, and
 * densities against closed forms with tolerances derived from the sample sizes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"
#include "tap.h"

#define PI    3.14159265358979323846
#define NPLAN 169

/* ------------------------------------------------------------------ helpers */

/* Build a network from a sequence of appends; after the first failure the rest are skipped
 * and the network is destroyed, so callers only test for NULL. */
#define STEP(call)                                                                                 \
    do {                                                                                           \
        if (good && (call) < 0) {                                                                  \
            diag("building a test network failed: %s", e.msg);                                     \
            good = 0;                                                                              \
        }                                                                                          \
    } while (0)

static st_net *done_net(st_net *n, st_err *e, int good)
{
    if (good && st_net_finish(n, e)) {
        diag("st_net_finish failed: %s", e->msg);
        good = 0;
    }
    if (!good)
        st_net_destroy(&n);
    return n;
}

/* conv0 (3 -> ch, 3x3 pad 1) - relu1 - conv2: the ReLU mask is conv2's act_in. */
static st_net *net_relu(int ch, int hw)
{
    st_net *n = NULL;
    st_err e;
    int good = 1;

    STEP(st_net_create("relu-net", 3, hw, hw, &n, &e));
    STEP(st_net_conv(n, "conv0", -1, ch, 3, 1, 1, 1, &e));
    STEP(st_net_relu(n, "relu1", ST_PREV, &e));
    STEP(st_net_conv(n, "conv2", ST_PREV, 8, 3, 1, 1, 1, &e));
    return done_net(n, &e, good);
}

/* conv0 - relu1 - pool2 (kind, k, stride, pad) - conv3. Layer indices 0 and 1 match
 * net_relu, so with the same shapes the ReLU masks are the same (they are keyed by the ReLU
 * layer's index, the image and the position). */
static st_net *net_pool(int ch, int hw, st_kind kind, int k, int stride, int pad)
{
    st_net *n = NULL;
    st_err e;
    int good = 1;

    STEP(st_net_create("pool-net", 3, hw, hw, &n, &e));
    STEP(st_net_conv(n, "conv0", -1, ch, 3, 1, 1, 1, &e));
    STEP(st_net_relu(n, "relu1", ST_PREV, &e));
    STEP(st_net_pool(n, "pool2", ST_PREV, kind, k, stride, pad, &e));
    STEP(st_net_conv(n, "conv3", ST_PREV, 8, 3, 1, 1, 1, &e));
    return done_net(n, &e, good);
}

/* One ReLU read by several consumers: 0 conv, 1 relu, 2 conv (reads the ReLU mask),
 * 3 maxpool 2/2 -> 4 conv, 5 maxpool 3/2 pad 1 -> 6 conv, 7 avgpool 3/2 -> 8 conv,
 * 9 gap -> 10 fc. */
static st_net *net_fan(void)
{
    st_net *n = NULL;
    st_err e;
    int good = 1;

    STEP(st_net_create("fan-net", 3, 16, 16, &n, &e));
    STEP(st_net_conv(n, "conv0", -1, 32, 3, 1, 1, 1, &e));
    STEP(st_net_relu(n, "relu1", 0, &e));
    STEP(st_net_conv(n, "conv2", 1, 8, 3, 1, 1, 1, &e));
    STEP(st_net_pool(n, "max2x2", 1, ST_MAXPOOL, 2, 2, 0, &e));
    STEP(st_net_conv(n, "conv4", 3, 8, 3, 1, 1, 1, &e));
    STEP(st_net_pool(n, "max3x3", 1, ST_MAXPOOL, 3, 2, 1, &e));
    STEP(st_net_conv(n, "conv6", 5, 8, 3, 1, 1, 1, &e));
    STEP(st_net_pool(n, "avg3x3", 1, ST_AVGPOOL, 3, 2, 0, &e));
    STEP(st_net_conv(n, "conv8", 7, 8, 3, 1, 1, 1, &e));
    STEP(st_net_gap(n, "gap", 1, &e));
    STEP(st_net_fc(n, "fc", 9, 10, &e));
    return done_net(n, &e, good);
}

/* 0 conv, 1 relu, 2 conv, 3 relu, 4 add(1, 3), 5 conv(add), 6 conv(relu3). */
static st_net *net_add(void)
{
    st_net *n = NULL;
    st_err e;
    int good = 1;

    STEP(st_net_create("add-net", 3, 16, 16, &n, &e));
    STEP(st_net_conv(n, "conv0", -1, 8, 3, 1, 1, 1, &e));
    STEP(st_net_relu(n, "relu1", 0, &e));
    STEP(st_net_conv(n, "conv2", 1, 8, 3, 1, 1, 1, &e));
    STEP(st_net_relu(n, "relu3", 2, &e));
    STEP(st_net_add(n, "add", 1, 3, &e));
    STEP(st_net_conv(n, "conv5", 4, 8, 3, 1, 1, 1, &e));
    STEP(st_net_conv(n, "conv6", 3, 8, 3, 1, 1, 1, &e));
    return done_net(n, &e, good);
}

/* conv0 (3 -> ch) - relu1 - gap2 - fc3 (10): conv0's dZ goes through a global average pool. */
static st_net *net_gap(int ch, int hw)
{
    st_net *n = NULL;
    st_err e;
    int good = 1;

    STEP(st_net_create("gap-net", 3, hw, hw, &n, &e));
    STEP(st_net_conv(n, "conv0", -1, ch, 3, 1, 1, 1, &e));
    STEP(st_net_relu(n, "relu1", ST_PREV, &e));
    STEP(st_net_gap(n, "gap2", ST_PREV, &e));
    STEP(st_net_fc(n, "fc3", ST_PREV, 10, &e));
    return done_net(n, &e, good);
}

/* conv0 (3 -> ch) - bn1 - relu2 - conv3: conv0's dZ leaves a BN backward. */
static st_net *net_bn(int ch, int hw)
{
    st_net *n = NULL;
    st_err e;
    int good = 1;

    STEP(st_net_create("bn-net", 3, hw, hw, &n, &e));
    STEP(st_net_conv(n, "conv0", -1, ch, 3, 1, 1, 1, &e));
    STEP(st_net_bn(n, "bn1", ST_PREV, &e));
    STEP(st_net_relu(n, "relu2", ST_PREV, &e));
    STEP(st_net_conv(n, "conv3", ST_PREV, 8, 3, 1, 1, 1, &e));
    return done_net(n, &e, good);
}

/* conv0 - relu1 - fc2 (2048) - fc3 (10): fc2 feeds a compute layer directly. */
static st_net *net_fc(void)
{
    st_net *n = NULL;
    st_err e;
    int good = 1;

    STEP(st_net_create("fc-net", 3, 8, 8, &n, &e));
    STEP(st_net_conv(n, "conv0", -1, 8, 3, 1, 1, 1, &e));
    STEP(st_net_relu(n, "relu1", ST_PREV, &e));
    STEP(st_net_fc(n, "fc2", ST_PREV, 2048, &e));
    STEP(st_net_fc(n, "fc3", ST_PREV, 10, &e));
    return done_net(n, &e, good);
}

/* Run st_sparsity_layer and report a failure as a diagnostic. */
static int masks(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                 st_layer_masks *m)
{
    st_err e;
    int rc = st_sparsity_layer(net, cfg, layer, image, m, &e);

    if (rc)
        diag("st_sparsity_layer(layer %d, image %d) failed: %s", layer, image, e.msg);
    return rc;
}

static size_t count_nz(const uint8_t *a, size_t n)
{
    size_t i, c = 0;

    for (i = 0; i < n; i++)
        c += a[i] != 0;
    return c;
}

static size_t out_n(const st_layer *l)
{
    return (size_t)l->out_c * l->out_h * l->out_w;
}

static size_t in_n(const st_layer *l)
{
    return (size_t)l->in_c * l->in_h * l->in_w;
}

/* Brute-force pooling OR: output (c, oy, ox) is non-zero iff an input of its window that
 * lies inside the tensor is non-zero. Written tap by tap, unlike the library. */
static void brute_pool(const st_layer *p, const uint8_t *in, uint8_t *out)
{
    int c, oy, ox, ky, kx, y, x;

    for (c = 0; c < p->out_c; c++)
        for (oy = 0; oy < p->out_h; oy++)
            for (ox = 0; ox < p->out_w; ox++) {
                int any = 0;
                for (ky = 0; ky < p->k_h; ky++)
                    for (kx = 0; kx < p->k_w; kx++) {
                        y = oy * p->stride_h - p->pad_t + ky;
                        x = ox * p->stride_w - p->pad_l + kx;
                        if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w &&
                            in[((size_t)c * p->in_h + y) * p->in_w + x])
                            any = 1;
                    }
                out[((size_t)c * p->out_h + oy) * p->out_w + ox] = (uint8_t)any;
            }
}

/* Zero fraction of the pruning rule on |g| < t from a law with distribution F of |g|:
 * P(|g| < t) - E[|g|; |g| < t] / t (the rule keeps |g| < t with probability |g| / t). */
static double zero_frac(st_law law, double s, double t)
{
    double f = 0;

    switch (law) {
    case ST_LAW_NORMAL: /* |g| half-normal: E[|g|; |g|<t] = 2 (phi(0) - phi(t)) */
        f = (2 * st_norm_cdf(t) - 1) - 2 * (1 - exp(-t * t / 2)) / sqrt(2 * PI) / t;
        break;
    case ST_LAW_LAPLACE: /* |g| exponential(1): E[|g|; |g|<t] = 1 - e^-t (1 + t) */
        f = (1 - exp(-t)) - (1 - exp(-t) * (1 + t)) / t;
        break;
    default: /* |g| lognormal(0, s): E[|g|; |g|<t] = e^(s^2/2) Phi((ln t - s^2) / s) */
        f = st_norm_cdf(log(t) / s) - exp(s * s / 2) * st_norm_cdf((log(t) - s * s) / s) / t;
        break;
    }
    return f;
}

/* Mean and variance of |g| under each law (unit scale; s is the lognormal sigma). */
static void abs_moments(st_law law, double s, double *mean, double *var)
{
    if (law == ST_LAW_NORMAL) {
        *mean = sqrt(2 / PI);
        *var = 1 - 2 / PI;
    } else if (law == ST_LAW_LAPLACE) {
        *mean = 1;
        *var = 1;
    } else {
        *mean = exp(s * s / 2);
        *var = exp(2 * s * s) - exp(s * s);
    }
}

/* ---------------------------------------------------------------- the tests */

static void test_names_defaults(void)
{
    st_sparsity_cfg c;
    st_prune_opts po;
    st_layer_masks m;

    ok(!strcmp(st_law_name(ST_LAW_NORMAL), "normal") &&
           !strcmp(st_law_name(ST_LAW_LAPLACE), "laplace") &&
           !strcmp(st_law_name(ST_LAW_LOGNORMAL), "lognormal"),
       "spars-1.1 law names");
    ok(st_law_parse("normal") == ST_LAW_NORMAL && st_law_parse("laplace") == ST_LAW_LAPLACE &&
           st_law_parse("lognormal") == ST_LAW_LOGNORMAL,
       "spars-1.2 law names parse back");
    ok(st_law_parse("cauchy") == -1 && st_law_parse(NULL) == -1 && st_law_parse("") == -1,
       "spars-1.3 unknown law names parse to -1");
    ok(!strcmp(st_law_name(ST_LAW_COUNT), "unknown"), "spars-1.4 out-of-range law is 'unknown'");
    {
        const st_param *row = st_param_find("grad_law");
        int same = row && row->choices && !row->choices[ST_LAW_COUNT];
        for (int i = 0; same && i < ST_LAW_COUNT; i++)
            same = row->choices[i] == st_law_name((st_law)i);
        ok(same, "spars-1.9 the law names are the grad_law row's choices, the same strings");
    }

    st_sparsity_cfg_init(&c);
    st_prune_opts_init(&po);
    ok(c.seed == 1 && c.prune.p == 0 && c.prune.sigma_scale == po.sigma_scale &&
           c.prune.skip_zeros == po.skip_zeros && c.prune_first == 1 && c.prune_fc == 1 &&
           c.grad_law == ST_LAW_NORMAL && c.lognormal_sigma == 1.0 && c.relu_density == 0.5 &&
           c.relu_density_by_layer == NULL && c.channel_cv == 0 && c.spatial_corr == 0 &&
           c.spatial_block == 4,
       "spars-1.5 defaults are the documented ones");
    ok(st_sparsity_cfg_check(&c, NULL) == 0, "spars-1.6 defaults pass the check");

    st_layer_masks_init(&m);
    ok(m.act_in == NULL && m.grad == NULL && m.act_cap == 0 && m.grad_cap == 0,
       "spars-1.7 masks_init leaves no buffers");
    st_layer_masks_fini(&m);
    st_layer_masks_fini(NULL);
    ok(m.act_in == NULL && m.grad == NULL, "spars-1.8 masks_fini of empty masks and NULL is fine");
}

static void test_cfg_errors(void)
{
    static const struct {
        const char *id, *want;
    } cases[] = {
        {"spars-2.1", "relu_density = 0: must be in (0, 1]"},
        {"spars-2.2", "relu_density = 1.5: must be in (0, 1]"},
        {"spars-2.3", "relu_density = nan: must be a finite number"},
        {"spars-2.4", "p = 1: must be in [0, 1)"},
        {"spars-2.5", "p = -0.1: must be in [0, 1)"},
        {"spars-2.6", "prune_sigma_scale = 0: must be in (0, 1000]"},
        {"spars-2.7", "channel_cv = -1: must be in [0, 100]"},
        {"spars-2.8", "spatial_corr = 1: must be in [0, 1)"},
        {"spars-2.9", "spatial_block = 0: must be in [1, 1024]"},
        {"spars-2.10", "lognormal_sigma = 0: must be in (0, 10]"},
        {"spars-2.11", "lognormal_sigma = 11: must be in (0, 10]"},
        {"spars-2.12", "grad_law = 7: must be one of normal (0), laplace (1), lognormal (2)"},
        {"spars-2.13", "sparsity configuration is NULL"},
        {"spars-2.15", "prune_first = 2: must be 0 or 1"},
        {"spars-2.16", "prune_fc = -1: must be 0 or 1"},
        {"spars-2.17", "prune_skip_zeros = 3: must be 0 or 1"},
        {"spars-2.18", "seed = 2147483648: must be in [0, 2147483647]"},
        {"spars-2.19", "spatial_block = 1025: must be in [1, 1024]"},
    };
    st_sparsity_cfg c;
    st_layer_masks m;
    st_net *net = net_relu(4, 8);
    st_err e;
    int i, rc;

    st_layer_masks_init(&m);
    for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        st_sparsity_cfg_init(&c);
        switch (i) {
        case 0:
            c.relu_density = 0;
            break;
        case 1:
            c.relu_density = 1.5;
            break;
        case 2:
            c.relu_density = NAN;
            break;
        case 3:
            c.prune.p = 1;
            break;
        case 4:
            c.prune.p = -0.1;
            break;
        case 5:
            c.prune.sigma_scale = 0;
            break;
        case 6:
            c.channel_cv = -1;
            break;
        case 7:
            c.spatial_corr = 1;
            break;
        case 8:
            c.spatial_block = 0;
            break;
        case 9:
            c.lognormal_sigma = 0;
            break;
        case 10:
            c.lognormal_sigma = 11;
            break;
        case 11:
            c.grad_law = (st_law)7;
            break;
        case 13:
            c.prune_first = 2;
            break;
        case 14:
            c.prune_fc = -1;
            break;
        case 15:
            c.prune.skip_zeros = 3;
            break;
        case 16:
            c.seed = UINT64_C(2147483648);
            break;
        case 17:
            c.spatial_block = 1025;
            break;
        default:
            break;
        }
        st_err_clear(&e);
        rc = st_sparsity_cfg_check(i == 12 ? NULL : &c, &e);
        if (!ok(rc == ST_EINVAL && tap_has_all(e.msg, cases[i].want, NULL), "%s cfg_check: \"%s\"",
                cases[i].id, cases[i].want))
            diag("  rc %d, message \"%s\"", rc, e.msg);
    }
    /* st_sparsity_layer checks the configuration too, and returns the same message. */
    st_sparsity_cfg_init(&c);
    c.spatial_corr = -0.5;
    st_err_clear(&e);
    rc = net ? st_sparsity_layer(net, &c, 0, 0, &m, &e) : -99;
    if (!ok(rc == ST_EINVAL && tap_has_all(e.msg, "spatial_corr = -0.5: must be in [0, 1)", NULL),
            "spars-2.14 st_sparsity_layer rejects a bad configuration"))
        diag("  rc %d, message \"%s\"", rc, e.msg);
    st_layer_masks_fini(&m);
    st_net_destroy(&net);
}

/* Every error of st_sparsity_layer itself. The two graph errors cannot come from a network
 * built through net.c, which validates sources and shapes; they are provoked by altering a
 * layer of a built network in place (the layer array is the network's own writable memory;
 * the accessor only lends it as const) and restored afterwards. */
static void test_layer_errors(void)
{
    st_net *net = net_relu(4, 8);
    st_sparsity_cfg c;
    st_layer_masks m;
    st_err e;
    double by[3] = {0, 2.0, 0};
    st_layer *l2;
    int rc, saved;

    st_sparsity_cfg_init(&c);
    st_layer_masks_init(&m);
    if (!net) {
        skip("test network could not be built", "spars-3 layer errors");
        return;
    }
#define EXPECT(id, call, ...)                                                                      \
    do {                                                                                           \
        st_err_clear(&e);                                                                          \
        rc = (call);                                                                               \
        if (!ok(rc == ST_EINVAL && tap_has_all(e.msg, __VA_ARGS__, NULL), "%s %s", id, e.msg))     \
            diag("  rc %d, message \"%s\"", rc, e.msg);                                            \
    } while (0)

    EXPECT("spars-3.1", st_sparsity_layer(net, &c, -1, 0, &m, &e),
           "layer -1 is out of range: network 'relu-net' has 3 layers");
    EXPECT("spars-3.2", st_sparsity_layer(net, &c, 3, 0, &m, &e),
           "layer 3 is out of range: network 'relu-net' has 3 layers");
    EXPECT("spars-3.3", st_sparsity_layer(net, &c, 1, 0, &m, &e),
           "layer 1 'relu1' is not a compute layer");
    EXPECT("spars-3.4", st_sparsity_layer(net, &c, 0, -1, &m, &e),
           "image = -1: must be in [0, 65535]");
    EXPECT("spars-3.5", st_sparsity_layer(net, &c, 0, 65536, &m, &e),
           "image = 65536: must be in [0, 65535]");
    EXPECT("spars-3.6", st_sparsity_layer(NULL, &c, 0, 0, &m, &e), "net is NULL");
    EXPECT("spars-3.7", st_sparsity_layer(net, &c, 0, 0, NULL, &e), "masks is NULL");
    c.relu_density_by_layer = by;
    EXPECT("spars-3.8", st_sparsity_layer(net, &c, 2, 0, &m, &e),
           "relu_density_by_layer[1] = 2 (layer 'relu1'): must be in (0, 1]");
    ok(m.layer == -1 && m.act_density == 0 && m.grad_density == 0,
       "spars-3.9 a failed call leaves the masks marked empty (layer -1, densities 0)");
    c.relu_density_by_layer = NULL;

    l2 = (st_layer *)st_net_layer(net, 2);
    saved = l2->src[0];
    l2->src[0] = 2;
    EXPECT("spars-3.10", st_sparsity_layer(net, &c, 2, 0, &m, &e),
           "layer 2 'conv2': source 2 is neither the network input (-1) nor an earlier layer");
    l2->src[0] = saved;
    saved = l2->in_c;
    l2->in_c = 5;
    EXPECT("spars-3.11", st_sparsity_layer(net, &c, 2, 0, &m, &e),
           "layer 2 'conv2' reads 320 elements but its source 1 'relu1' produces 256");
    l2->in_c = saved;
    ok(st_sparsity_layer(net, &c, 2, 0, &m, &e) == 0 && m.layer == 2,
       "spars-3.12 the restored network works again");
#undef EXPECT
    st_layer_masks_fini(&m);
    st_net_destroy(&net);
}

/* Masks are a pure function of (net, cfg, layer, image). */
static void test_determinism(void)
{
    st_net *net = NULL;
    st_err e;
    st_sparsity_cfg c;
    st_layer_masks m;
    uint8_t *act[64] = {0}, *grad[64] = {0};
    int idx[64], nl = 0, i, same = 1, differ_img, differ_seed, rc = 0;

    if (st_net_builtin("alexnet", &net, &e)) {
        for (i = 1; i <= 4; i++)
            skip(e.msg, "spars-4 determinism on alexnet");
        return;
    }
    st_sparsity_cfg_init(&c);
    c.prune.p = 0.9;
    c.channel_cv = 0.3;
    c.spatial_corr = 0.3;
    st_layer_masks_init(&m);
    for (i = 0; i < st_net_count(net) && nl < 64; i++) {
        const st_layer *l = st_net_layer(net, i);
        if (!st_kind_is_compute(l->kind))
            continue;
        rc |= masks(net, &c, i, 3, &m);
        act[nl] = malloc(in_n(l));
        grad[nl] = malloc(out_n(l));
        if (!act[nl] || !grad[nl] || rc)
            break;
        memcpy(act[nl], m.act_in, in_n(l));
        memcpy(grad[nl], m.grad, out_n(l));
        idx[nl++] = i;
    }
    ok(!rc && nl == 8, "spars-4.1 alexnet: all 8 compute layers computed");
    /* Reverse order, reusing the same (now larger than needed) buffers. */
    for (i = nl - 1; i >= 0 && !rc; i--) {
        const st_layer *l = st_net_layer(net, idx[i]);
        rc = masks(net, &c, idx[i], 3, &m);
        if (!rc && (memcmp(act[i], m.act_in, in_n(l)) || memcmp(grad[i], m.grad, out_n(l))))
            same = 0;
    }
    ok(!rc && same, "spars-4.2 reverse layer order gives identical masks (memcmp)");
    /* Another image, another seed: conv2's masks change (act_in of 96x27x27 and dZ of
     * 256x27x27: equal by chance with probability far below 2^-1000). */
    differ_img = differ_seed = 0;
    if (!rc && nl == 8) {
        rc = masks(net, &c, idx[1], 4, &m);
        differ_img = !rc && memcmp(act[1], m.act_in, in_n(st_net_layer(net, idx[1]))) &&
                     memcmp(grad[1], m.grad, out_n(st_net_layer(net, idx[1])));
        c.seed += 1;
        rc = masks(net, &c, idx[1], 3, &m);
        differ_seed = !rc && memcmp(act[1], m.act_in, in_n(st_net_layer(net, idx[1]))) &&
                      memcmp(grad[1], m.grad, out_n(st_net_layer(net, idx[1])));
    }
    ok(differ_img, "spars-4.3 another image gives other masks");
    ok(differ_seed, "spars-4.4 another seed gives other masks");
    for (i = 0; i < 64; i++) {
        free(act[i]);
        free(grad[i]);
    }
    st_layer_masks_fini(&m);
    st_net_destroy(&net);
}

/* Per-channel densities of a ch x plane mask: their mean and standard deviation. */
static void channel_stats(const uint8_t *a, int ch, size_t plane, double *dens, double *mean,
                          double *sd)
{
    double s = 0, s2 = 0;
    int c;

    for (c = 0; c < ch; c++) {
        dens[c] = (double)count_nz(a + (size_t)c * plane, plane) / (double)plane;
        s += dens[c];
    }
    *mean = s / ch;
    for (c = 0; c < ch; c++)
        s2 += (dens[c] - *mean) * (dens[c] - *mean);
    *sd = sqrt(s2 / (ch - 1));
}

/* Fraction of horizontally adjacent pairs that are equal, split by whether the pair lies
 * inside one spatial block of edge bs or straddles a block edge. */
static void pair_equal(const uint8_t *a, int ch, int h, int w, int bs, double *inside,
                       double *across)
{
    size_t ni = 0, ei = 0, na = 0, ea = 0;
    int c, y, x;

    for (c = 0; c < ch; c++)
        for (y = 0; y < h; y++)
            for (x = 0; x + 1 < w; x++) {
                const uint8_t *p = a + ((size_t)c * h + y) * w + x;
                if ((x + 1) % bs) {
                    ni++;
                    ei += p[0] == p[1];
                } else {
                    na++;
                    ea += p[0] == p[1];
                }
            }
    *inside = (double)ei / (double)ni;
    *across = (double)ea / (double)na;
}

/* P(X < q, Y < q) for standard normals of correlation rho, by the one-factor form
 * X = sqrt(rho) Z + sqrt(1 - rho) E: the integral of phi(z) Phi((q - sqrt(rho) z) /
 * sqrt(1 - rho))^2 dz, by the trapezoid rule on [-10, 10] with step 1e-3. */
static double both_below(double q, double rho)
{
    double s = 0, z, h = 1e-3, f;
    int i;

    for (i = 0; i <= 20000; i++) {
        z = -10 + i * h;
        f = st_norm_cdf((q - sqrt(rho) * z) / sqrt(1 - rho));
        s += (i == 0 || i == 20000 ? 0.5 : 1.0) * exp(-z * z / 2) / sqrt(2 * PI) * f * f;
    }
    return s * h;
}

static void test_relu_density(void)
{
    st_net *big = net_relu(64, 56), *wide = net_relu(512, 16);
    st_sparsity_cfg c;
    st_layer_masks m, m2;
    double by[3] = {0, 0.2, 0};
    double d, se, dens[512], dens2[512], mean, sd, mean0, sd0, var_c, edc, z, f, w, mad;
    double in0, acr0, in1, acr1, p11, tol;
    size_t n, nz, nblocks;
    int i, rc;

    st_layer_masks_init(&m);
    st_layer_masks_init(&m2);
    st_sparsity_cfg_init(&c);
    if (!big || !wide) {
        skip("test networks could not be built", "spars-5 relu density");
        goto done;
    }
    n = (size_t)64 * 56 * 56;
    /* 5.1-5.3: independent Bernoulli(d) elements; binomial standard error sqrt(d(1-d)/n). */
    rc = masks(big, &c, 2, 0, &m);
    nz = rc ? 0 : count_nz(m.act_in, n);
    se = sqrt(0.5 * 0.5 / n);
    ok_near((double)nz / n, 0.5, 4 * se, "spars-5.1 ReLU density 0.5 within 4 binomial SE");
    ok(!rc && m.act_density == (double)nz / n, "spars-5.2 act_density is the measured density");
    c.relu_density_by_layer = by;
    rc = masks(big, &c, 2, 0, &m);
    se = sqrt(0.2 * 0.8 / n);
    ok_near(rc ? -1 : m.act_density, 0.2, 4 * se,
            "spars-5.3 per-layer override 0.2 within 4 binomial SE");
    /* Below 1/256 the element's byte alone never draws a non-zero: all of the density comes
     * from the word that refines a byte of 0 (st.h, st_rng_bytes). Binomial, 5 SE. */
    by[1] = 0.001;
    rc = masks(big, &c, 2, 0, &m);
    se = sqrt(0.001 * 0.999 / n);
    ok_near(rc ? -1 : m.act_density, 0.001, 5 * se,
            "spars-5.13 ReLU density 0.001, below one byte's step, within 5 binomial SE");
    c.relu_density_by_layer = NULL;

    /* 5.4-5.6: channel dispersion on 512 channels of 16x16. With cv = 0.5 and d = 0.5,
     * d_c = clamp(0.5 + 0.25 n) is symmetric about 0.5, so E[d_c] = 0.5 exactly. The mean of
     * 512 channel densities has variance (Var d_c + E[d_c (1 - d_c)] / 256) / 512, both
     * terms computed below by quadrature over n ~ N(0, 1). */
    c.channel_cv = 0.0;
    rc = masks(wide, &c, 2, 0, &m);
    if (!rc)
        channel_stats(m.act_in, 512, 256, dens, &mean0, &sd0);
    c.channel_cv = 0.5;
    rc |= masks(wide, &c, 2, 0, &m);
    rc |= masks(wide, &c, 2, 1, &m2);
    if (!rc) {
        channel_stats(m.act_in, 512, 256, dens, &mean, &sd);
        channel_stats(m2.act_in, 512, 256, dens2, &f, &w);
    }
    {
        double s1 = 0, s2 = 0, sb = 0, h = 1e-3, zz, pdf, dc;
        for (i = 0; i <= 20000; i++) {
            zz = -10 + i * h;
            pdf = exp(-zz * zz / 2) / sqrt(2 * PI) * h * (i == 0 || i == 20000 ? 0.5 : 1.0);
            dc = 0.5 * (1 + 0.5 * zz);
            dc = dc < 0 ? 0 : dc > 1 ? 1 : dc;
            s1 += pdf * dc;
            s2 += pdf * dc * dc;
            sb += pdf * dc * (1 - dc);
        }
        edc = s1;
        var_c = s2 - s1 * s1;
        /* The expected spread of measured channel densities: true dispersion plus the
         * binomial noise of 256 elements per channel. */
        z = sqrt(var_c + sb / 256);
    }
    ok_near(rc ? -1 : mean, edc, 4 * z / sqrt(512.0),
            "spars-5.4 channel_cv 0.5: mean channel density within 4 SE of d = 0.5");
    /* The sample standard deviation of 512 values has a relative standard error of about
     * 1 / sqrt(2 * 511) = 3.1% for a normal-like spread; 15% is about 5 of them. */
    ok_near(rc ? -1 : sd, z, 0.15 * z,
            "spars-5.5 channel_cv 0.5: spread of channel densities matches the model (15%%)");
    ok(!rc && sd > 3 * sd0, "spars-5.6 channel spread with cv 0.5 (%.3f) >> with cv 0 (%.3f)", sd,
       sd0);
    /* The same channels are dense or sparse in every image: between two images a channel's
     * density only moves by binomial noise, E|diff| <= sqrt(2/pi) sqrt(2 * 0.25 / 256) = 0.035,
     * while the channel densities spread by ~0.24. */
    mad = 0;
    for (i = 0; i < 512 && !rc; i++)
        mad += fabs(dens[i] - dens2[i]) / 512;
    ok(!rc && mad < 0.045, "spars-5.7 channel densities persist across images (mean |diff| %.4f)",
       mad);

    /* 5.8-5.11: spatial correlation on 64 x 56x56, d = 0.3, blocks of 4x4. Elements of one
     * block are dependent, so the standard error is bounded by counting each of the
     * 64 * 14 * 14 blocks as one Bernoulli sample: 4 * sqrt(d(1-d)/12544) = 0.016. */
    c.channel_cv = 0;
    c.relu_density = 0.3;
    d = 0.3;
    nblocks = (size_t)64 * 14 * 14;
    rc = masks(big, &c, 2, 0, &m);
    if (!rc)
        pair_equal(m.act_in, 64, 56, 56, 4, &in0, &acr0);
    c.spatial_corr = 0.5;
    rc |= masks(big, &c, 2, 0, &m);
    if (!rc)
        pair_equal(m.act_in, 64, 56, 56, 4, &in1, &acr1);
    ok_near(rc ? -1 : m.act_density, d, 4 * sqrt(d * (1 - d) / nblocks),
            "spars-5.8 spatial_corr 0.5 keeps the marginal density 0.3 (block-level SE)");
    /* P(equal) = 1 - 2 (d - P11); P11 from the bivariate normal with correlation rho at
     * q = Phi^-1(d), independent elements have P11 = d^2. Tolerance again counts blocks. */
    tol = 4 * sqrt(0.25 / nblocks);
    ok_near(rc ? -1 : in0, 1 - 2 * d * (1 - d), tol,
            "spars-5.9 rho = 0: neighbours equal with probability 1 - 2d(1-d)");
    p11 = both_below(st_norm_quantile(d), 0.5);
    ok_near(rc ? -1 : in1, 1 - 2 * (d - p11), tol,
            "spars-5.10 rho = 0.5: neighbours in a block equal as the bivariate normal says");
    ok(!rc && in1 > in0 + 0.05, "spars-5.11 neighbours agree more with rho 0.5 (%.3f vs %.3f)", in1,
       in0);
    ok_near(rc ? -1 : acr1, 1 - 2 * d * (1 - d), tol,
            "spars-5.12 pairs straddling a block edge stay independent");
done:
    st_layer_masks_fini(&m);
    st_layer_masks_fini(&m2);
    st_net_destroy(&big);
    st_net_destroy(&wide);
}

static void test_or_rules(void)
{
    st_net *fan = net_fan(), *addn = net_add();
    st_sparsity_cfg c;
    st_layer_masks mr, mp, m3;
    uint8_t *bf = NULL;
    size_t n;
    int rc, i, good, discr;

    st_layer_masks_init(&mr);
    st_layer_masks_init(&mp);
    st_layer_masks_init(&m3);
    st_sparsity_cfg_init(&c);
    if (!fan || !addn) {
        skip("test networks could not be built", "spars-6 OR rules");
        goto done;
    }
    /* Sparse ReLU (d = 0.1) so that windows are often all zero and the OR is informative;
     * channel_cv = 3 kills a third of the channels so that the GAP OR sees zero planes. */
    c.relu_density = 0.1;
    c.channel_cv = 3.0;
    rc = masks(fan, &c, 0, 0, &mr);
    ok(!rc && mr.act_density == 1.0 && count_nz(mr.act_in, 3 * 16 * 16) == 3 * 16 * 16,
       "spars-6.1 the first layer's act_in is all ones");
    rc = masks(fan, &c, 2, 0, &mr); /* mr.act_in: the ReLU mask, 32 x 16 x 16 */
    {
        static const struct {
            int layer, pool;
            const char *id;
        } cases[] = {{4, 3, "spars-6.2 maxpool 2/2"},
                     {6, 5, "spars-6.3 maxpool 3/2 pad 1"},
                     {8, 7, "spars-6.4 avgpool 3/2"},
                     {10, 9, "spars-6.5 global average pool"}};
        for (i = 0; i < 4; i++) {
            const st_layer *p = st_net_layer(fan, cases[i].pool);
            n = out_n(p);
            free(bf);
            bf = malloc(n);
            good = !rc && bf && !masks(fan, &c, cases[i].layer, 0, &mp);
            if (good && p->kind == ST_GAP) {
                int ch;
                for (ch = 0; ch < p->in_c; ch++)
                    bf[ch] = count_nz(mr.act_in + (size_t)ch * 256, 256) != 0;
            } else if (good) {
                brute_pool(p, mr.act_in, bf);
            }
            discr = good && count_nz(bf, n) > 0 && count_nz(bf, n) < n;
            ok(good && discr && memcmp(bf, mp.act_in, n) == 0,
               "%s: output mask is the OR of its window (brute force, %zu of %zu non-zero)",
               cases[i].id, good ? count_nz(bf, n) : 0, n);
        }
    }
    /* ADD: conv5 reads relu1 + relu3; conv2 and conv6 read them alone. */
    c.relu_density = 0.3;
    c.channel_cv = 0;
    rc = masks(addn, &c, 2, 0, &mr) | masks(addn, &c, 6, 0, &m3) | masks(addn, &c, 5, 0, &mp);
    good = !rc;
    for (i = 0; good && i < 8 * 16 * 16; i++)
        good = mp.act_in[i] == (mr.act_in[i] | m3.act_in[i]);
    ok(good && mp.act_density > mr.act_density,
       "spars-6.6 residual add: mask is the OR of its two inputs, element by element");
done:
    free(bf);
    st_layer_masks_fini(&mr);
    st_layer_masks_fini(&mp);
    st_layer_masks_fini(&m3);
    st_net_destroy(&fan);
    st_net_destroy(&addn);
}

/* Check the natural dZ mask g of conv0 in a conv-relu-maxpool net against the ReLU mask r:
 * g lies inside r; a window whose ReLU outputs are all zero has no gradient; with
 * non-overlapping windows each window with a non-zero holds exactly one gradient, with
 * overlapping ones at least one (the union of the windows' arg-max choices). */
static int check_argmax(const st_layer *p, const uint8_t *r, const uint8_t *g, int exact)
{
    int c, oy, ox, ky, kx, y, x, good = 1;
    size_t i, n = in_n(p), windows = (size_t)p->out_c * p->out_h * p->out_w;

    for (i = 0; i < n; i++)
        if (g[i] && !r[i])
            good = 0;
    for (c = 0; c < p->out_c; c++)
        for (oy = 0; oy < p->out_h; oy++)
            for (ox = 0; ox < p->out_w; ox++) {
                int rn = 0, gn = 0;
                for (ky = 0; ky < p->k_h; ky++)
                    for (kx = 0; kx < p->k_w; kx++) {
                        y = oy * p->stride_h - p->pad_t + ky;
                        x = ox * p->stride_w - p->pad_l + kx;
                        if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w)
                            continue;
                        i = ((size_t)c * p->in_h + y) * p->in_w + x;
                        rn += r[i] != 0;
                        gn += g[i] != 0;
                    }
                if (exact ? gn != (rn > 0) : (rn > 0) != (gn > 0))
                    good = 0;
            }
    return good && count_nz(g, n) <= windows;
}

static void test_grad_natural(void)
{
    st_net *rn = net_relu(16, 32), *p22 = net_pool(16, 32, ST_MAXPOOL, 2, 2, 0);
    st_net *rn15 = net_relu(16, 15), *p33 = net_pool(16, 15, ST_MAXPOOL, 3, 2, 0);
    st_net *pavg = net_pool(16, 32, ST_AVGPOOL, 2, 2, 0), *bn = net_bn(8, 16);
    st_sparsity_cfg c;
    st_layer_masks r, g;
    size_t n = (size_t)16 * 32 * 32;
    int rc;

    st_layer_masks_init(&r);
    st_layer_masks_init(&g);
    st_sparsity_cfg_init(&c); /* p = 0: grad is the natural mask */
    if (!rn || !p22 || !rn15 || !p33 || !pavg || !bn) {
        skip("test networks could not be built", "spars-7 natural gradient masks");
        goto done;
    }
    rc = masks(rn, &c, 2, 0, &r) | masks(rn, &c, 0, 0, &g);
    ok(!rc && memcmp(r.act_in, g.grad, n) == 0 && g.grad_density_natural == r.act_density,
       "spars-7.1 conv->relu: dZ mask is the ReLU mask, position by position");
    rc = masks(p22, &c, 0, 0, &g);
    ok(!rc && check_argmax(st_net_layer(p22, 2), r.act_in, g.grad, 1),
       "spars-7.2 conv->relu->maxpool 2/2: one gradient per window with a non-zero, none else");
    ok(!rc && g.grad_density_natural < r.act_density && g.grad_density_natural <= 0.25,
       "spars-7.3 max-pool leaves at most a quarter of the positions (%.4f)",
       g.grad_density_natural);
    rc = masks(rn15, &c, 2, 0, &r) | masks(p33, &c, 0, 0, &g);
    ok(!rc && check_argmax(st_net_layer(p33, 2), r.act_in, g.grad, 0),
       "spars-7.4 overlapping maxpool 3/2: gradients inside the ReLU mask, one or more per "
       "window with a non-zero, none else");
    rc = masks(rn, &c, 2, 0, &r) | masks(pavg, &c, 0, 0, &g);
    ok(!rc && memcmp(r.act_in, g.grad, n) == 0,
       "spars-7.5 conv->relu->avgpool 2/2: dZ mask is the ReLU mask");
    rc = masks(bn, &c, 0, 0, &g);
    ok(!rc && g.grad_density_natural == 1.0 && g.grad_density == 1.0,
       "spars-7.6 conv->BN: dZ is dense before pruning");
    rc = masks(bn, &c, 3, 0, &g);
    ok(!rc && g.grad_density_natural == 1.0, "spars-7.7 the last layer (feeds the loss): dense dZ");
done:
    st_layer_masks_fini(&r);
    st_layer_masks_fini(&g);
    st_net_destroy(&rn);
    st_net_destroy(&p22);
    st_net_destroy(&rn15);
    st_net_destroy(&p33);
    st_net_destroy(&pavg);
    st_net_destroy(&bn);
}

/* Zero fraction after pruning of a dense dZ drawn from `law`, against the closed form. The
 * threshold is t = Phi^-1((1+p)/2) * sqrt(pi/2) * mean|g|; with the population mean|g| this
 * is t0 below. Tolerance: 4 binomial SE of the zero count, plus 4 SE of the estimate of
 * mean|g| (relative SE sqrt(Var|g| / n) / E|g|) carried through dZero/dt. */
static double check_law(const st_net *bn, st_sparsity_cfg *c, st_law law, const char *id)
{
    st_layer_masks m;
    double mean, var, t0, f, df, rel, tol, zero = -1;
    size_t n = (size_t)64 * 32 * 32;

    st_layer_masks_init(&m);
    c->grad_law = law;
    abs_moments(law, c->lognormal_sigma, &mean, &var);
    t0 = st_norm_quantile((1 + c->prune.p) / 2) * sqrt(PI / 2) * mean;
    f = zero_frac(law, c->lognormal_sigma, t0);
    df = (zero_frac(law, c->lognormal_sigma, t0 * 1.001) -
          zero_frac(law, c->lognormal_sigma, t0 * 0.999)) /
         (0.002 * t0);
    rel = sqrt(var / n) / mean;
    tol = 4 * sqrt(f * (1 - f) / n) + 4 * fabs(df) * t0 * rel;
    if (!masks(bn, c, 0, 0, &m))
        zero = 1 - m.grad_density;
    ok_near(zero, f, tol, "%s %s law, p = %g: zero fraction %.4f matches the closed form", id,
            st_law_name(law), c->prune.p, f);
    st_layer_masks_fini(&m);
    return zero;
}

static void test_pruning(void)
{
    st_net *bn = net_bn(64, 32), *rn = net_relu(16, 32), *fc = net_fc();
    st_sparsity_cfg c;
    st_layer_masks m, r;
    static const double ps[4] = {0, 0.5, 0.9, 0.99};
    double zn, zl, zg, z, prev, dens[4], se;
    size_t n = (size_t)64 * 32 * 32, i;
    int rc, k, good;

    st_layer_masks_init(&m);
    st_layer_masks_init(&r);
    st_sparsity_cfg_init(&c);
    if (!bn || !rn || !fc) {
        skip("test networks could not be built", "spars-8 pruning");
        goto done;
    }
    c.prune.p = 0.9;
    zn = check_law(bn, &c, ST_LAW_NORMAL, "spars-8.1");
    /* The same closed form written as in docs/pruning.md: p - sqrt(2/pi) (1 - e^(-z^2/2)) / z. */
    z = st_norm_quantile(0.95);
    ok_near(zero_frac(ST_LAW_NORMAL, 1, z), 0.9 - sqrt(2 / PI) * (1 - exp(-z * z / 2)) / z, 1e-12,
            "spars-8.2 the test's normal closed form is docs/pruning.md's");
    /* tau = z * sqrt(pi/2) * mean|g|; mean|g| has relative SE sqrt((pi/2 - 1) / n). */
    rc = masks(bn, &c, 0, 0, &m);
    ok_near(rc ? -1 : m.tau, z, 4 * z * sqrt((PI / 2 - 1) / n),
            "spars-8.3 tau is Phi^-1(0.95) * sigma for a unit normal dZ");
    /* Heavy tails: the sigma estimate sqrt(pi/2) mean|g| assumes a normal law; for Laplace
     * and lognormal magnitudes more of the mass sits near zero relative to mean|g|, so the
     * threshold catches more values and the zero fraction is higher (about 0.58 and 0.60 at
     * p = 0.9 against 0.54). */
    zl = check_law(bn, &c, ST_LAW_LAPLACE, "spars-8.4");
    zg = check_law(bn, &c, ST_LAW_LOGNORMAL, "spars-8.5");
    ok(zn >= 0 && zl > zn && zg > zn,
       "spars-8.6 Laplace (%.4f) and lognormal (%.4f) give more "
       "zeros than normal (%.4f) at p = 0.9",
       zl, zg, zn);
    c.grad_law = ST_LAW_NORMAL;

    /* p = 0 on a natural mask that is not dense: nothing is pruned. */
    c.prune.p = 0;
    rc = masks(rn, &c, 2, 0, &r) | masks(rn, &c, 0, 0, &m);
    ok(!rc && m.grad_density == m.grad_density_natural && m.tau == 0 &&
           memcmp(m.grad, r.act_in, (size_t)16 * 32 * 32) == 0,
       "spars-8.7 p = 0: grad equals the natural mask, tau 0");
    c.prune.p = 0.9;
    rc = masks(rn, &c, 0, 0, &m);
    good = !rc;
    for (i = 0; good && i < (size_t)16 * 32 * 32; i++)
        good = !m.grad[i] || r.act_in[i];
    ok(good && m.grad_density < m.grad_density_natural && m.tau > 0,
       "spars-8.8 p = 0.9 on a ReLU-masked dZ: pruning only removes non-zeros");

    /* Density never grows with p: each element's draw is the same for every p and the rule
     * keeps less as tau grows; allowance of 4 binomial SE in case of ties in the estimate. */
    good = 1;
    prev = 2;
    se = sqrt(0.25 / n);
    for (k = 0; k < 4; k++) {
        c.prune.p = ps[k];
        dens[k] = masks(bn, &c, 0, 0, &m) ? -1 : m.grad_density;
        if (dens[k] < 0 || dens[k] > prev + 4 * se)
            good = 0;
        prev = dens[k];
    }
    ok(good && dens[0] == 1.0 && dens[3] < dens[2],
       "spars-8.9 density non-increasing in p: %.4f %.4f %.4f %.4f", dens[0], dens[1], dens[2],
       dens[3]);

    /* prune_first and prune_fc. */
    c.prune.p = 0.9;
    c.prune_first = 0;
    rc = masks(bn, &c, 0, 0, &m);
    ok(!rc && st_net_layer(bn, 0)->first && m.grad_density == m.grad_density_natural &&
           m.grad_density == 1.0 && m.tau == 0,
       "spars-8.10 prune_first = 0: the first layer keeps its natural dZ");
    c.prune_first = 1;
    rc = masks(bn, &c, 0, 0, &m);
    ok(!rc && m.grad_density < 0.5, "spars-8.11 prune_first = 1: the first layer is pruned");
    c.prune_fc = 0;
    rc = masks(fc, &c, 2, 0, &m);
    ok(!rc && m.grad_density_natural == 1.0 && m.grad_density == 1.0 && m.tau == 0,
       "spars-8.12 prune_fc = 0: an FC layer keeps its natural dZ");
    c.prune_fc = 1;
    rc = masks(fc, &c, 2, 0, &m);
    ok(!rc && m.grad_density < 0.7 && m.tau > 0, "spars-8.13 prune_fc = 1: FC dZ is pruned");
done:
    st_layer_masks_fini(&m);
    st_layer_masks_fini(&r);
    st_net_destroy(&bn);
    st_net_destroy(&rn);
    st_net_destroy(&fc);
}

/* Every compute layer of the built-in networks: the call works and the densities are
 * ordered; nets built of Conv-BN blocks have a dense natural dZ everywhere (docs/pruning.md:
 * in Conv-BN-ReLU networks the sparsity of dZ is all artificial). */
static void test_builtins(void)
{
    static const char *const names[] = {"alexnet", "fmnist-cnn", "resnet18", "fmnist-resnet"};
    static const int bn_net[] = {0, 0, 1, 1};
    st_sparsity_cfg c;
    st_layer_masks m;
    st_net *net;
    st_err e;
    int k, i, good, ndense, relu_like, last, ncompute;
    size_t n;

    st_sparsity_cfg_init(&c);
    c.prune.p = 0.9;
    st_layer_masks_init(&m);
    for (k = 0; k < 4; k++) {
        if (st_net_builtin(names[k], &net, &e)) {
            skip(e.msg, "spars-9 built-in network");
            skip(e.msg, "spars-9 built-in network");
            continue;
        }
        good = 1;
        ndense = 0;
        ncompute = 0;
        relu_like = 1;
        last = -1;
        for (i = 0; i < st_net_count(net) && good; i++) {
            const st_layer *l = st_net_layer(net, i);
            if (!st_kind_is_compute(l->kind))
                continue;
            if (masks(net, &c, i, 0, &m)) {
                good = 0;
                break;
            }
            ncompute++;
            n = out_n(l);
            if (!(m.grad_density <= m.grad_density_natural && m.grad_density_natural <= 1 &&
                  m.act_density > 0 && m.act_density <= 1 && m.tau > 0) ||
                (l->first && m.act_density != 1.0))
                good = 0;
            if (m.grad_density_natural == 1.0) {
                ndense++;
                last = i;
            } else if (m.grad_density_natural > 0.5 + 4 * sqrt(0.25 / n)) {
                /* In the Conv-ReLU nets a dZ that is not dense passed a ReLU of density
                 * 0.5, possibly then a max-pool: at most 0.5 + 4 binomial SE. */
                relu_like = 0;
            }
        }
        ok(good && ncompute > 0, "spars-9.%d %s: every compute layer, densities ordered", 2 * k + 1,
           names[k]);
        if (bn_net[k])
            ok(good && ndense == ncompute, "spars-9.%d %s: every natural dZ is dense (Conv-BN)",
               2 * k + 2, names[k]);
        else
            ok(good && relu_like && ndense == 1 && last == st_net_count(net) - 1,
               "spars-9.%d %s: natural dZ <= ReLU density but for the last layer (dense)",
               2 * k + 2, names[k]);
        st_net_destroy(&net);
    }
    st_layer_masks_fini(&m);
}

/* ------------------------------------------------------------ row subsets */

/* The test's own row choices: xorshift64 (Marsaglia 2003), independent of the model's
 * generator, with a fixed seed so that every run checks the same subsets. */
static uint64_t rows_rng = 0x9E3779B97F4A7C15u;

static double rows_uniform(void)
{
    rows_rng ^= rows_rng << 13;
    rows_rng ^= rows_rng >> 7;
    rows_rng ^= rows_rng << 17;
    return (double)(rows_rng >> 11) * 0x1p-53;
}

/* Each row wanted with probability f, flagged by a random byte in [1, 255]: any non-zero byte
 * means wanted. */
static void rows_pick(uint8_t *want, size_t rows, double f)
{
    size_t r;

    for (r = 0; r < rows; r++)
        want[r] = rows_uniform() < f ? (uint8_t)(1 + (int)(rows_uniform() * 255)) : 0;
}

/* Ones and positions of mask (rows of w) on the rows flagged in set. */
static void rows_count(const uint8_t *mask, const uint8_t *set, size_t rows, size_t w, size_t *nz,
                       size_t *n)
{
    size_t r;

    *nz = *n = 0;
    for (r = 0; r < rows; r++) {
        if (set[r]) {
            *nz += count_nz(mask + r * w, w);
            *n += w;
        }
    }
}

/* Is every row of mask that set does not flag all zero? */
static int rows_zero_outside(const uint8_t *mask, const uint8_t *set, size_t rows, size_t w)
{
    size_t r;
    int ok_ = 1;

    for (r = 0; r < rows && ok_; r++)
        ok_ = set[r] || count_nz(mask + r * w, w) == 0;
    return ok_;
}

/* Are two results identical: both masks byte for byte, the densities and tau exactly? */
static int masks_same(const st_layer *l, const st_layer_masks *a, const st_layer_masks *b)
{
    return a->layer == b->layer && memcmp(a->act_in, b->act_in, in_n(l)) == 0 &&
           memcmp(a->grad, b->grad, out_n(l)) == 0 && a->act_density == b->act_density &&
           a->grad_density_natural == b->grad_density_natural &&
           a->grad_density == b->grad_density && a->tau == b->tau;
}

static int rows_call(const st_net *net, const st_sparsity_cfg *cfg, int layer, int image,
                     const uint8_t *aw, const uint8_t *gw, st_layer_masks *m)
{
    st_err e;
    int rc = st_sparsity_rows(net, cfg, layer, image, aw, gw, m, &e);

    if (rc)
        diag("st_sparsity_rows(layer %d, image %d) failed: %s", layer, image, e.msg);
    return rc;
}

/* The mean and the standard deviation over rows of the per-row fraction of ones of mask
 * (rows of w): the spread a sample of rows draws its estimate from. */
static void rows_spread(const uint8_t *mask, size_t rows, size_t w, double *mean, double *sd)
{
    double s = 0, s2 = 0, d;
    size_t r;

    for (r = 0; r < rows; r++) {
        d = (double)count_nz(mask + r * w, w) / (double)w;
        s += d;
        s2 += d * d;
    }
    *mean = s / (double)rows;
    d = s2 / (double)rows - *mean * *mean;
    *sd = sqrt(d > 0 ? d : 0);
}

/* What one network's layers gave, summed over layers and subsets. */
typedef struct rows_tally {
    int act, nat, nest, tau, same, dens, exact, half, cases;
    double tau_worst, same_worst, dens_worst; /* largest |error| / tolerance seen */
} rows_tally;

/* Compare st_sparsity_rows on random row subsets with st_sparsity_layer on one compute
 * layer, image 0, default configuration at p = 0.9 (and p = 0 for the natural mask). */
static int rows_layer(const st_net *net, int i, rows_tally *t)
{
    const st_layer *l = st_net_layer(net, i);
    size_t aw = (size_t)l->in_w, gw = (size_t)l->out_w, ar = in_n(l) / aw, gr = out_n(l) / gw;
    size_t r, x, nz, n, nzs, nzf, kw, k_lo, n_lo, need;
    st_layer_masks full, full0, sub, sub0;
    st_sparsity_cfg c, c0;
    uint8_t *awant = malloc(ar), *gwant = malloc(gr), *ones_a = malloc(ar), *ones_g = malloc(gr);
    double fr[2] = {0.03, 0.3}, lr, tol, d, sd_nat, mean_g, sd_g, err;
    int f, good = 1, nest;

    st_sparsity_cfg_init(&c);
    c.prune.p = 0.9;
    c0 = c;
    c0.prune.p = 0;
    st_layer_masks_init(&full);
    st_layer_masks_init(&full0);
    st_layer_masks_init(&sub);
    st_layer_masks_init(&sub0);
    if (!awant || !gwant || !ones_a || !ones_g || masks(net, &c, i, 0, &full) ||
        masks(net, &c0, i, 0, &full0)) {
        good = 0;
        goto done;
    }
    /* NULL wants, and every row wanted, give st_sparsity_layer's result exactly. */
    memset(ones_a, 1, ar);
    memset(ones_g, 1, gr);
    good = !rows_call(net, &c, i, 0, NULL, NULL, &sub) &&
           !rows_call(net, &c, i, 0, ones_a, ones_g, &sub0);
    if (!good)
        goto done;
    t->exact += masks_same(l, &full, &sub) && masks_same(l, &full, &sub0);
    /* Three rows of dZ in four (more than half of any tensor of 3 rows or more): the whole
     * of dZ is generated, as st_sparsity_layer does. */
    for (r = 0; r < gr; r++)
        ones_g[r] = r % 4 != 0;
    good = !rows_call(net, &c, i, 0, NULL, ones_g, &sub);
    if (!good)
        goto done;
    t->half += gr >= 3 && memcmp(sub.grad, full.grad, out_n(l)) == 0 &&
               sub.grad_density_natural == full.grad_density_natural &&
               sub.grad_density == full.grad_density && sub.tau == full.tau;
    rows_spread(full0.grad, gr, gw, &d, &sd_nat);
    rows_spread(full.grad, gr, gw, &mean_g, &sd_g);
    for (f = 0; f < 2; f++) {
        rows_pick(awant, ar, fr[f]);
        rows_pick(gwant, gr, fr[f]);
        if (rows_call(net, &c, i, 0, awant, gwant, &sub) ||
            rows_call(net, &c0, i, 0, awant, gwant, &sub0)) {
            good = 0;
            goto done;
        }
        t->cases++;
        /* act_in: wanted rows bit for bit, the others 0, the density counted on the wanted */
        nest = rows_zero_outside(sub.act_in, awant, ar, aw);
        for (r = 0; r < ar; r++)
            nest &= !awant[r] || memcmp(sub.act_in + r * aw, full.act_in + r * aw, aw) == 0;
        rows_count(full.act_in, awant, ar, aw, &nz, &n);
        t->act += nest && sub.act_density == (n ? (double)nz / (double)n : 0.0);
        /* the natural dZ (p = 0: no rows added for the threshold, and no pruning); wanted
         * rows over half of them (a small tensor) make the whole tensor */
        kw = count_nz(gwant, gr);
        if (2 * kw > gr) {
            nest = memcmp(sub0.grad, full0.grad, out_n(l)) == 0;
            nz = count_nz(full0.grad, out_n(l));
            n = out_n(l);
        } else {
            nest = rows_zero_outside(sub0.grad, gwant, gr, gw);
            for (r = 0; r < gr; r++)
                nest &= !gwant[r] || memcmp(sub0.grad + r * gw, full0.grad + r * gw, gw) == 0;
            rows_count(full0.grad, gwant, gr, gw, &nz, &n);
        }
        t->nat += nest && sub0.grad_density_natural == (n ? (double)nz / (double)n : 0.0) &&
                  sub0.tau == 0.0;
        /* The same draw per position: with a larger tau the kept elements are a subset of
         * the full call's (|g| >= tau' implies |g| >= tau, u < |g|/tau' implies u < |g|/tau),
         * with a smaller one a superset; and always inside the natural mask. */
        nest = 1;
        nzs = nzf = 0;
        for (r = 0; r < gr; r++) {
            if (!gwant[r])
                continue;
            for (x = 0; x < gw; x++) {
                uint8_t a = sub.grad[r * gw + x], b = full.grad[r * gw + x];
                nest &= (sub.tau >= full.tau ? a <= b : a >= b) && a <= full0.grad[r * gw + x];
                nzs += a;
                nzf += b;
            }
        }
        t->nest += nest;
        /* Rows and positions the threshold came from, at least: the wanted ones, or the
         * 4096 positions of the documented extension (every row of a smaller tensor). */
        need = (4096 + gw - 1) / gw;
        k_lo = kw * gw >= 4096 ? kw : need >= gr ? gr : kw > need ? kw : need;
        n_lo = k_lo * gw;
        lr = fabs(log(sub.tau / full.tau));
        if (k_lo == gr) {
            /* every row generated: exactly st_sparsity_layer's threshold */
            t->tau += sub.tau == full.tau;
            err = 0;
        } else {
            /* tau is proportional to mean|g|. For normal values behind a natural mask of
             * density d, |g| 1[mask] has cv^2 = pi / (2 d) - 1 if positions were
             * independent; rows of unequal density (max-pool windows overlap on every
             * other row) add var(row density) / d^2 per row sampled. 6 standard errors. */
            tol = 6 * sqrt((PI / (2 * d) - 1) / (double)n_lo +
                           sd_nat * sd_nat / (d * d) / (double)k_lo);
            err = lr / tol;
            t->tau += err <= 1;
        }
        t->tau_worst = fmax(t->tau_worst, err);
        /* Same rows: an element's decision can differ only where its u falls between
         * |g| / tau and |g| / tau', probability <= |ln(tau' / tau)| = lr; the differences
         * are independent given the values, so 5 binomial standard errors over that. */
        if (kw > 0) {
            n = kw * gw;
            tol = lr + 5 * sqrt(lr / (double)n) + 1.0 / (double)n;
            err = fabs((double)nzs - (double)nzf) / (double)n / tol;
            t->same += err <= 1;
            t->same_worst = fmax(t->same_worst, err);
        } else {
            t->same++;
        }
        /* Density over the generated rows against the whole tensor's: a sample of at
         * least k_lo rows of the full result, whose per-row densities spread by sd_g, so
         * 6 standard errors of that mean, plus the threshold's effect bounded as above. */
        tol = 6 * sd_g / sqrt((double)k_lo) + lr + 1e-12;
        err = fabs(sub.grad_density - full.grad_density) / tol;
        t->dens += err <= 1;
        t->dens_worst = fmax(t->dens_worst, err);
    }
done:
    free(awant);
    free(gwant);
    free(ones_a);
    free(ones_g);
    st_layer_masks_fini(&full);
    st_layer_masks_fini(&full0);
    st_layer_masks_fini(&sub);
    st_layer_masks_fini(&sub0);
    return good;
}

/* Every compute layer of one network, two random subsets each (3% and 30% of the rows). */
static void test_rows_net(st_net *net, const char *name, int id)
{
    rows_tally t = {0};
    int i, good = net != NULL, layers = 0;

    for (i = 0; good && i < st_net_count(net); i++) {
        if (!st_kind_is_compute(st_net_layer(net, i)->kind))
            continue;
        layers++;
        good = rows_layer(net, i, &t);
    }
    if (!good) {
        for (i = 1; i <= 8; i++)
            ok(0, "spars-%d.%d %s: a call failed", id, i, name);
        return;
    }
    ok(t.act == t.cases,
       "spars-%d.1 %s: wanted act_in rows bit for bit as st_sparsity_layer, "
       "others 0, density over the wanted rows (%d/%d)",
       id, name, t.act, t.cases);
    ok(t.nat == t.cases,
       "spars-%d.2 %s: wanted natural dZ rows as st_sparsity_layer, density over "
       "them (%d/%d)",
       id, name, t.nat, t.cases);
    ok(t.nest == t.cases,
       "spars-%d.3 %s: pruned rows nested in the full call's by tau (same "
       "draws), inside the natural mask (%d/%d)",
       id, name, t.nest, t.cases);
    ok(t.tau == t.cases,
       "spars-%d.4 %s: tau from the rows within 6 s.e. of the full tau "
       "(worst %.2f of the tolerance)",
       id, name, t.tau_worst);
    ok(t.same == t.cases,
       "spars-%d.5 %s: pruned density on the same rows within the bound of "
       "the tau difference (worst %.2f)",
       id, name, t.same_worst);
    ok(t.dens == t.cases,
       "spars-%d.6 %s: pruned density of the subset within 6 s.e. of the "
       "full one (worst %.2f)",
       id, name, t.dens_worst);
    ok(t.exact == layers,
       "spars-%d.7 %s: NULL wants and all-rows wants equal st_sparsity_layer "
       "exactly (%d/%d layers)",
       id, name, t.exact, layers);
    ok(t.half == layers,
       "spars-%d.8 %s: wants over half of the dZ rows generate all of dZ, as st_sparsity_layer "
       "(%d/%d layers)",
       id, name, t.half, layers);
}

static void test_rows(void)
{
    static const char *const names[] = {"alexnet", "resnet18", "fmnist-cnn"};
    st_net *net;
    st_err e;
    int k;

    for (k = 0; k < 3; k++) {
        net = NULL;
        if (st_net_builtin(names[k], &net, &e))
            diag("%s: %s", names[k], e.msg);
        test_rows_net(net, names[k], 10 + k);
        st_net_destroy(&net);
    }
    net = net_fan();
    test_rows_net(net, "fan-net", 13);
    st_net_destroy(&net);
    net = net_add();
    test_rows_net(net, "add-net", 14);
    st_net_destroy(&net);
    /* Nets whose ReLU feeds only a pool, so that dZ goes through the pool's backward (in
     * fan-net a compute consumer of the ReLU makes it dense). */
    net = net_pool(48, 32, ST_AVGPOOL, 3, 2, 0);
    test_rows_net(net, "avgpool 3/2 net", 15);
    st_net_destroy(&net);
    net = net_pool(48, 32, ST_MAXPOOL, 3, 2, 1);
    test_rows_net(net, "maxpool 3/2 pad 1 net", 16);
    st_net_destroy(&net);
    net = net_gap(48, 32);
    test_rows_net(net, "gap net", 17);
    st_net_destroy(&net);
}

/* The rest of the model's options take other paths (the copula's block draws, channel
 * densities, Laplace values): act_in and natural dZ rows are still st_sparsity_layer's. */
static void test_rows_options(void)
{
    static const char *const names[] = {"alexnet", "fmnist-cnn", "fan-net"};
    st_layer_masks full, sub;
    st_sparsity_cfg c;
    st_net *net;
    st_err e;
    uint8_t *aw, *gw;
    size_t ar, gr, r, w;
    int k, i, img, good;

    st_sparsity_cfg_init(&c);
    c.spatial_corr = 0.5;
    c.spatial_block = 3;
    c.channel_cv = 0.5;
    c.grad_law = ST_LAW_LAPLACE;
    st_layer_masks_init(&full);
    st_layer_masks_init(&sub);
    for (k = 0; k < 3; k++) {
        net = NULL;
        if (k < 2 && st_net_builtin(names[k], &net, &e))
            diag("%s: %s", names[k], e.msg);
        if (k == 2)
            net = net_fan();
        good = net != NULL;
        for (i = 0; good && i < st_net_count(net); i++) {
            const st_layer *l = st_net_layer(net, i);
            if (!st_kind_is_compute(l->kind))
                continue;
            ar = in_n(l) / l->in_w;
            gr = out_n(l) / l->out_w;
            aw = malloc(ar);
            gw = malloc(gr);
            for (img = 0; good && img < 2 && aw && gw; img++) {
                rows_pick(aw, ar, img ? 0.3 : 0.05);
                rows_pick(gw, gr, img ? 0.3 : 0.05);
                good = !masks(net, &c, i, img, &full) && !rows_call(net, &c, i, img, aw, gw, &sub);
                for (r = 0, w = l->in_w; good && r < ar; r++)
                    good = !aw[r] || !memcmp(sub.act_in + r * w, full.act_in + r * w, w);
                for (r = 0, w = l->out_w; good && r < gr; r++)
                    good = !gw[r] || !memcmp(sub.grad + r * w, full.grad + r * w, w);
            }
            good = good && aw && gw;
            free(aw);
            free(gw);
        }
        ok(good,
           "spars-18.%d %s, spatial_corr 0.5 in 3x3 blocks, channel_cv 0.5, Laplace, p = 0: "
           "wanted act_in and dZ rows as st_sparsity_layer",
           k + 1, names[k]);
        st_net_destroy(&net);
    }
    st_layer_masks_fini(&full);
    st_layer_masks_fini(&sub);
}

/* A single wanted dZ row: the threshold comes from the wanted row and the documented
 * systematic rows floor(j rows / need), need = ceil(4096 / w); the natural density is
 * measured over exactly those rows, the others are 0. */
static void test_rows_extension(void)
{
    static const char *const names[] = {"alexnet", "resnet18"};
    static const char *const lnames[] = {"conv2", "layer4.1.conv2"}; /* 27 and 7 wide */
    st_layer_masks full0, sub;
    st_sparsity_cfg c, c0;
    st_net *net;
    st_err e;
    size_t gr, w, need, j, nz, n;
    uint8_t *gw, *gen;
    int k, good;

    st_sparsity_cfg_init(&c);
    c.prune.p = 0.9;
    c0 = c;
    c0.prune.p = 0;
    st_layer_masks_init(&full0);
    st_layer_masks_init(&sub);
    for (k = 0; k < 2; k++) {
        const st_layer *l = NULL;
        int li = -1;
        net = NULL;
        if (!st_net_builtin(names[k], &net, &e))
            for (li = st_net_count(net) - 1; li >= 0; li--)
                if (!strcmp(st_net_layer(net, li)->name, lnames[k]))
                    break;
        if (li < 0) {
            ok(0, "spars-18.%d %s: no layer '%s'", 4 + k, names[k], lnames[k]);
            st_net_destroy(&net);
            continue;
        }
        l = st_net_layer(net, li);
        w = (size_t)l->out_w;
        gr = out_n(l) / w;
        need = (4096 + w - 1) / w;
        gw = calloc(gr, 1);
        gen = calloc(gr, 1);
        good = gw && gen && need < gr;
        if (good) {
            gw[gr / 2 + 1] = 1;
            gen[gr / 2 + 1] = 1;
            for (j = 0; j < need; j++)
                gen[j * gr / need] = 1;
            good = !masks(net, &c0, li, 0, &full0) && !rows_call(net, &c, li, 0, NULL, gw, &sub);
        }
        if (good) {
            rows_count(full0.grad, gen, gr, w, &nz, &n);
            good = n >= 4096 && sub.grad_density_natural == (double)nz / (double)n &&
                   rows_zero_outside(sub.grad, gen, gr, w);
            for (j = 0; good && j < out_n(l); j++)
                good = sub.grad[j] <= full0.grad[j];
        }
        ok(good,
           "spars-18.%d %s '%s': one wanted row of %zu, tau from it and %zu systematic "
           "rows (>= 4096 positions), natural density over exactly those",
           4 + k, names[k], l->name, w, need);
        free(gw);
        free(gen);
        st_net_destroy(&net);
    }
    st_layer_masks_fini(&full0);
    st_layer_masks_fini(&sub);
}

static void test_rows_errors(void)
{
    st_net *net = net_pool(4, 8, ST_MAXPOOL, 2, 2, 0);
    st_layer_masks m, m2;
    st_sparsity_cfg c;
    st_err e;
    uint8_t aw[4 * 8], gw[8 * 4], aw2[4 * 8];
    size_t i;
    int rc;

    st_sparsity_cfg_init(&c);
    st_layer_masks_init(&m);
    st_layer_masks_init(&m2);
    if (!net) {
        skip("test network could not be built", "spars-19 row-subset errors");
        return;
    }
    memset(aw, 1, sizeof aw);
    memset(gw, 1, sizeof gw);
#define EXPECT(id, call, ...)                                                                      \
    do {                                                                                           \
        st_err_clear(&e);                                                                          \
        rc = (call);                                                                               \
        if (!ok(rc == ST_EINVAL && tap_has_all(e.msg, __VA_ARGS__, NULL), "%s %s", id, e.msg))     \
            diag("  rc %d, message \"%s\"", rc, e.msg);                                            \
    } while (0)

    EXPECT("spars-19.1", st_sparsity_rows(NULL, &c, 3, 0, aw, gw, &m, &e),
           "st_sparsity_rows: net is NULL");
    EXPECT("spars-19.2", st_sparsity_rows(net, &c, 3, 0, aw, gw, NULL, &e),
           "st_sparsity_rows: masks is NULL");
    EXPECT("spars-19.3", st_sparsity_rows(net, &c, 4, 0, aw, gw, &m, &e),
           "layer 4 is out of range: network 'pool-net' has 4 layers");
    EXPECT("spars-19.4", st_sparsity_rows(net, &c, 2, 0, aw, gw, &m, &e),
           "layer 2 'pool2' is not a compute layer (it is a maxpool)");
    EXPECT("spars-19.5", st_sparsity_rows(net, &c, 3, 65536, aw, gw, &m, &e),
           "image = 65536: must be in [0, 65535]");
    c.relu_density = 1.5;
    EXPECT("spars-19.6", st_sparsity_rows(net, &c, 3, 0, aw, gw, &m, &e),
           "relu_density = 1.5: must be in (0, 1]");
    c.relu_density = 0.5;
    ok(m.layer == -1 && m.act_density == 0 && m.grad_density == 0 && m.tau == 0,
       "spars-19.7 a failed call leaves the masks marked empty (layer -1, densities 0)");
#undef EXPECT
    /* conv3 reads the 4 x 4 x 4 pool output: 16 rows of 4. Any non-zero byte wants a row. */
    memset(aw, 0, sizeof aw);
    memset(aw2, 0, sizeof aw2);
    for (i = 0; i < 16; i += 3) {
        aw[i] = 1;
        aw2[i] = (uint8_t)(0x80 + 0x3f * (i % 2));
    }
    ok(!rows_call(net, &c, 3, 1, aw, NULL, &m) && !rows_call(net, &c, 3, 1, aw2, NULL, &m2) &&
           masks_same(st_net_layer(net, 3), &m, &m2),
       "spars-19.8 want bytes 0x80 and 0xbf act as 1: the arrays are not validated beyond bytes");
    memset(aw, 0, sizeof aw);
    memset(gw, 0, sizeof gw);
    ok(!rows_call(net, &c, 3, 0, aw, gw, &m) && m.layer == 3 && m.act_density == 0 &&
           m.grad_density_natural == 0 && m.grad_density == 0 &&
           count_nz(m.act_in, 4 * 4 * 4) == 0 && count_nz(m.grad, 8 * 4 * 4) == 0,
       "spars-19.9 no wanted row, p = 0: all zero, densities 0");
    st_layer_masks_fini(&m);
    st_layer_masks_fini(&m2);
    st_net_destroy(&net);
}

int main(void)
{
    tap_plan(NPLAN);
    test_names_defaults();
    test_cfg_errors();
    test_layer_errors();
    test_determinism();
    test_relu_density();
    test_or_rules();
    test_grad_natural();
    test_pruning();
    test_builtins();
    test_rows();
    test_rows_options();
    test_rows_extension();
    test_rows_errors();
    return tap_done();
}
