/*
 * t_train.c - TAP tests of the trainer (core/train.c): the forward pass against a direct
 * double-precision computation written here, gradients against finite differences of that
 * computation, the loss falling on a few hundred Fashion-MNIST images, runs repeating bit
 * for bit, p = 0 equal to no pruning, the statistics, and every error message.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st.h"
#include "tap.h"
#include "train.h"

/* ------------------------------------------------------------ test's own RNG */

/* xorshift64* (Vigna, ACM TOMS 42, 2016): independent of the trainer's Philox. */
static uint64_t xs_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static double xs_unif(uint64_t *s)
{
    return (double)(xs_next(s) >> 11) * 0x1p-53;
}

/* ------------------------------------------- the reference forward, in double */

typedef struct refnet {
    const st_net *net;
    int b, classes;
    double **w, **bias; /* per layer, NULL where none */
    double **out;       /* per layer, b x out elems */
} refnet;

/* Copy the trainer's parameters into doubles, per layer. */
static void ref_init(refnet *r, st_trainer *t, const st_net *net, int b, int classes)
{
    int n = st_net_count(net);

    r->net = net;
    r->b = b;
    r->classes = classes;
    r->w = calloc((size_t)n, sizeof *r->w);
    r->bias = calloc((size_t)n, sizeof *r->bias);
    r->out = calloc((size_t)n, sizeof *r->out);
    for (int i = 0; i < st_trainer_param_count(t); i++) {
        int layer;
        const char *name;
        float *v;
        size_t cnt;
        double *d;
        st_trainer_param(t, i, &layer, &name, &v, NULL, &cnt);
        d = malloc(cnt * sizeof *d);
        for (size_t k = 0; k < cnt; k++)
            d[k] = v[k];
        if (!strcmp(name, "w") || !strcmp(name, "gamma"))
            r->w[layer] = d;
        else
            r->bias[layer] = d;
    }
    for (int i = 0; i < n; i++)
        r->out[i] = calloc((size_t)b * st_layer_out_elems(st_net_layer(net, i)), sizeof(double));
}

static void ref_fini(refnet *r)
{
    for (int i = 0; i < st_net_count(r->net); i++) {
        free(r->w[i]);
        free(r->bias[i]);
        free(r->out[i]);
    }
    free(r->w);
    free(r->bias);
    free(r->out);
}

/* The parameter array of trainer tensor i inside r. */
static double *ref_param(refnet *r, st_trainer *t, int i)
{
    int layer;
    const char *name;
    st_trainer_param(t, i, &layer, &name, NULL, NULL, NULL);
    return (!strcmp(name, "w") || !strcmp(name, "gamma")) ? r->w[layer] : r->bias[layer];
}

/* Direct loops, straight from the definitions; returns the mean cross-entropy. */
static double ref_forward(refnet *r, const double *x, const uint8_t *lab)
{
    const st_net *net = r->net;
    int b = r->b;
    double loss = 0.0;

    for (int i = 0; i < st_net_count(net); i++) {
        const st_layer *l = st_net_layer(net, i);
        const double *in = l->src[0] < 0 ? x : r->out[l->src[0]];
        double *out = r->out[i];
        size_t ihw = (size_t)l->in_h * l->in_w, ohw = (size_t)l->out_h * l->out_w;
        size_t in_n = st_layer_in_elems(l), out_n = st_layer_out_elems(l);

        for (int im = 0; im < b; im++) {
            const double *xi = in + (size_t)im * in_n;
            double *yo = out + (size_t)im * out_n;
            switch (l->kind) {
            case ST_CONV: {
                int cg = l->in_c / l->groups, og = l->out_c / l->groups;
                for (int oc = 0; oc < l->out_c; oc++)
                    for (int oy = 0; oy < l->out_h; oy++)
                        for (int ox = 0; ox < l->out_w; ox++) {
                            double s = r->bias[i][oc];
                            int g = oc / og;
                            for (int c = 0; c < cg; c++)
                                for (int ky = 0; ky < l->k_h; ky++)
                                    for (int kx = 0; kx < l->k_w; kx++) {
                                        int iy = oy * l->stride_h - l->pad_t + ky;
                                        int ix = ox * l->stride_w - l->pad_l + kx;
                                        if (iy < 0 || iy >= l->in_h || ix < 0 || ix >= l->in_w)
                                            continue;
                                        s +=
                                            xi[(size_t)(g * cg + c) * ihw + (size_t)iy * l->in_w +
                                               ix] *
                                            r->w[i][((size_t)(oc * cg + c) * l->k_h + ky) * l->k_w +
                                                    kx];
                                    }
                            yo[(size_t)oc * ohw + (size_t)oy * l->out_w + ox] = s;
                        }
                break;
            }
            case ST_FC:
                for (int o = 0; o < l->out_c; o++) {
                    double s = r->bias[i][o];
                    for (size_t k = 0; k < in_n; k++)
                        s += xi[k] * r->w[i][(size_t)o * in_n + k];
                    yo[o] = s;
                }
                break;
            case ST_MAXPOOL:
            case ST_AVGPOOL:
            case ST_GAP:
                for (int c = 0; c < l->in_c; c++)
                    for (int oy = 0; oy < l->out_h; oy++)
                        for (int ox = 0; ox < l->out_w; ox++) {
                            double best = -INFINITY, sum = 0.0;
                            for (int ky = 0; ky < l->k_h; ky++)
                                for (int kx = 0; kx < l->k_w; kx++) {
                                    int iy = oy * l->stride_h - l->pad_t + ky;
                                    int ix = ox * l->stride_w - l->pad_l + kx;
                                    double v;
                                    if (iy < 0 || iy >= l->in_h || ix < 0 || ix >= l->in_w)
                                        continue;
                                    v = xi[(size_t)c * ihw + (size_t)iy * l->in_w + ix];
                                    sum += v;
                                    best = v > best ? v : best;
                                }
                            yo[(size_t)c * ohw + (size_t)oy * l->out_w + ox] =
                                l->kind == ST_MAXPOOL ? best : sum / (l->k_h * l->k_w);
                        }
                break;
            case ST_RELU:
                for (size_t k = 0; k < out_n; k++)
                    yo[k] = xi[k] > 0 ? xi[k] : 0;
                break;
            case ST_ADD: {
                const double *x1 = (l->src[1] < 0 ? x : r->out[l->src[1]]) + (size_t)im * in_n;
                for (size_t k = 0; k < out_n; k++)
                    yo[k] = xi[k] + x1[k];
                break;
            }
            default:
                break;
            }
        }
        if (l->kind == ST_BN) {
            /* over the batch: mean, biased variance, eps 1e-5 */
            for (int c = 0; c < l->in_c; c++) {
                double m = 0, v = 0, cnt = (double)b * ihw;
                for (int im = 0; im < b; im++)
                    for (size_t q = 0; q < ihw; q++)
                        m += in[(size_t)im * in_n + (size_t)c * ihw + q];
                m /= cnt;
                for (int im = 0; im < b; im++)
                    for (size_t q = 0; q < ihw; q++) {
                        double d = in[(size_t)im * in_n + (size_t)c * ihw + q] - m;
                        v += d * d;
                    }
                v /= cnt;
                for (int im = 0; im < b; im++)
                    for (size_t q = 0; q < ihw; q++) {
                        size_t k = (size_t)im * in_n + (size_t)c * ihw + q;
                        out[k] = (in[k] - m) / sqrt(v + 1e-5) * r->w[i][c] + r->bias[i][c];
                    }
            }
        }
    }
    {
        const double *z = r->out[st_net_count(net) - 1];
        for (int im = 0; im < b; im++) {
            const double *zi = z + (size_t)im * r->classes;
            double mx = zi[0], s = 0;
            for (int c = 1; c < r->classes; c++)
                mx = zi[c] > mx ? zi[c] : mx;
            for (int c = 0; c < r->classes; c++)
                s += exp(zi[c] - mx);
            loss += -(zi[lab[im]] - mx - log(s));
        }
    }
    return loss / b;
}

/* ------------------------------------------------------------ test networks */

enum { NB = 4, NCLASS = 3 };

/* Each uses a set of layer kinds; together they use every kind the trainer knows. */
static st_net *make_net(int which)
{
    st_net *net = NULL;
    st_err err;
    int r, b3;

    st_err_clear(&err);
    switch (which) {
    case 0: /* grouped, strided, padded convolution; ReLU; max pooling; FC */
        st_net_create("t-conv", 2, 7, 7, &net, &err);
        st_net_conv(net, "c1", ST_PREV, 4, 3, 2, 1, 2, &err);
        st_net_relu(net, "r1", ST_PREV, &err);
        st_net_pool(net, "p1", ST_PREV, ST_MAXPOOL, 2, 2, 0, &err);
        st_net_fc(net, "fc", ST_PREV, NCLASS, &err);
        break;
    case 1: /* average pooling with padding, a second convolution without padding */
        st_net_create("t-pool", 1, 6, 6, &net, &err);
        st_net_conv(net, "c1", ST_PREV, 3, 3, 1, 1, 1, &err);
        st_net_pool(net, "p1", ST_PREV, ST_AVGPOOL, 3, 2, 1, &err);
        st_net_relu(net, "r1", ST_PREV, &err);
        st_net_conv(net, "c2", ST_PREV, 2, 2, 1, 0, 1, &err);
        st_net_fc(net, "fc", ST_PREV, NCLASS, &err);
        break;
    case 2: /* Conv-BN-ReLU with an identity and a projection shortcut, GAP */
        st_net_create("t-res", 2, 5, 5, &net, &err);
        st_net_conv(net, "c1", ST_PREV, 4, 3, 1, 1, 1, &err);
        st_net_bn(net, "b1", ST_PREV, &err);
        r = st_net_relu(net, "r1", ST_PREV, &err);
        st_net_conv(net, "c2", ST_PREV, 4, 3, 1, 1, 1, &err);
        st_net_bn(net, "b2", ST_PREV, &err);
        st_net_add(net, "a1", ST_PREV, r, &err);
        r = st_net_relu(net, "r2", ST_PREV, &err);
        st_net_conv(net, "c3", ST_PREV, 6, 3, 2, 1, 1, &err);
        b3 = st_net_bn(net, "b3", ST_PREV, &err);
        st_net_conv(net, "proj", r, 6, 1, 2, 0, 1, &err);
        st_net_add(net, "a2", b3, ST_PREV, &err);
        st_net_relu(net, "r3", ST_PREV, &err);
        st_net_gap(net, "gap", ST_PREV, &err);
        st_net_fc(net, "fc", ST_PREV, NCLASS, &err);
        break;
    default: /* FC straight on the input, ReLU, FC */
        st_net_create("t-fc", 1, 4, 4, &net, &err);
        st_net_fc(net, "fc1", ST_PREV, 6, &err);
        st_net_relu(net, "r1", ST_PREV, &err);
        st_net_fc(net, "fc2", ST_PREV, NCLASS, &err);
        break;
    }
    if (err.code != ST_OK || st_net_finish(net, &err) != 0)
        diag("building test network %d: %s", which, err.msg);
    return net;
}

static const char *const net_names[4] = {"conv", "pool", "residual", "fc"};

/* Random inputs in [-1, 1] (floats, and the same values as doubles) and labels. */
static void make_batch(const st_net *net, uint64_t seed, float *xf, double *xd, uint8_t *lab)
{
    const st_layer *l0 = st_net_layer(net, 0);
    size_t n = (size_t)NB * st_layer_in_elems(l0);
    uint64_t s = seed;

    for (size_t i = 0; i < n; i++) {
        xf[i] = (float)(2 * xs_unif(&s) - 1);
        xd[i] = xf[i];
    }
    for (int i = 0; i < NB; i++)
        lab[i] = (uint8_t)(xs_next(&s) % NCLASS);
}

/* forward-k: scores and loss of the trainer against the reference. Tolerance: float
 * arithmetic over at most a few hundred terms of size ~1 gives errors near 1e-6; 1e-4
 * relative leaves room and still catches a wrong tap, stride or statistic. */
static void test_forward(int which)
{
    st_net *net = make_net(which);
    st_train_cfg cfg;
    st_trainer *t = NULL;
    st_err err;
    float xf[NB * 128];
    double xd[NB * 128], worst = 0, lref, ltr = 0;
    uint8_t lab[NB];
    refnet r;
    const float *z;

    st_train_cfg_init(&cfg);
    cfg.batch = NB;
    cfg.seed = 11 + (uint64_t)which;
    st_err_clear(&err);
    if (st_trainer_create(net, &cfg, NCLASS, &t, &err) != 0) {
        ok(0, "forward-%d.1 %s: create: %s", which, net_names[which], err.msg);
        ok(0, "forward-%d.2 %s: loss", which, net_names[which]);
        st_net_destroy(&net);
        return;
    }
    make_batch(net, 100 + (uint64_t)which, xf, xd, lab);
    ref_init(&r, t, net, NB, NCLASS);
    lref = ref_forward(&r, xd, lab);
    st_trainer_forward(t, xf, lab, NB, 1, &ltr, NULL, &err);
    z = st_trainer_scores(t);
    {
        const double *zr = r.out[st_net_count(net) - 1];
        for (int k = 0; k < NB * NCLASS; k++) {
            double e = fabs(z[k] - zr[k]) / (fabs(zr[k]) > 1 ? fabs(zr[k]) : 1);
            worst = e > worst ? e : worst;
        }
    }
    if (!ok(worst < 1e-4,
            "forward-%d.1 %s: class scores equal the direct computation within "
            "1e-4 relative",
            which, net_names[which]))
        diag("  worst relative error %.3g", worst);
    ok_near(ltr, lref, 1e-4 * fabs(lref), "forward-%d.2 %s: loss equals the direct computation",
            which, net_names[which]);
    ref_fini(&r);
    st_trainer_destroy(&t);
    st_net_destroy(&net);
}

/* grad-k: every parameter's gradient against central differences of the reference loss,
 * step 1e-4 in double (truncation error ~1e-8 relative, far below float rounding). The
 * trainer computes in float: an element passes when |g - fd| <= 1e-3 max|fd| + 1e-6 over
 * its tensor, about 100 times the float error of sums of this size. */
static void test_grad(int which)
{
    st_net *net = make_net(which);
    st_train_cfg cfg;
    st_trainer *t = NULL;
    st_err err;
    float xf[NB * 128];
    double xd[NB * 128], loss;
    uint8_t lab[NB];
    refnet r;
    int bad = 0, checked = 0;

    st_train_cfg_init(&cfg);
    cfg.batch = NB;
    cfg.prune = 0;
    cfg.seed = 21 + (uint64_t)which;
    st_err_clear(&err);
    if (st_trainer_create(net, &cfg, NCLASS, &t, &err) != 0 ||
        (make_batch(net, 200 + (uint64_t)which, xf, xd, lab),
         st_trainer_grad(t, xf, lab, NB, 0, &loss, &err)) != 0) {
        ok(0, "grad-%d %s: %s", which, net_names[which], err.msg);
        st_trainer_destroy(&t);
        st_net_destroy(&net);
        return;
    }
    ref_init(&r, t, net, NB, NCLASS);
    for (int i = 0; i < st_trainer_param_count(t); i++) {
        const float *g;
        const char *name;
        int layer;
        size_t n;
        double *p = ref_param(&r, t, i), *fd, mx = 0;
        st_trainer_param(t, i, &layer, &name, NULL, &g, &n);
        fd = malloc(n * sizeof *fd);
        for (size_t k = 0; k < n; k++) {
            double keep = p[k], lp, lm, h = 1e-4;
            p[k] = keep + h;
            lp = ref_forward(&r, xd, lab);
            p[k] = keep - h;
            lm = ref_forward(&r, xd, lab);
            p[k] = keep;
            fd[k] = (lp - lm) / (2 * h);
            mx = fabs(fd[k]) > mx ? fabs(fd[k]) : mx;
        }
        for (size_t k = 0; k < n; k++) {
            checked++;
            if (fabs(g[k] - fd[k]) > 1e-3 * mx + 1e-6) {
                if (bad++ < 5)
                    diag("  %s.%s[%zu]: gradient %.8g, finite difference %.8g",
                         st_net_layer(net, layer)->name, name, k, g[k], fd[k]);
            }
        }
        free(fd);
    }
    ok(bad == 0 && checked > 0,
       "grad-%d %s: %d parameter gradients equal central differences of the direct loss", which,
       net_names[which], checked);
    ref_fini(&r);
    st_trainer_destroy(&t);
    st_net_destroy(&net);
}

/* ---------------------------------------------------- training on real data */

/* Train net for epochs over d; the parameters end up in *params (malloc'ed), the loss of
 * each epoch in losses. Returns 0 or the error code. */
static int train_run(const char *netname, const st_train_cfg *cfg, const st_dataset *d, int epochs,
                     double *losses, float **params, size_t *np, st_err *err)
{
    st_net *net = NULL;
    st_trainer *t = NULL;
    uint64_t iter = 0;
    int rc;

    *params = NULL;
    *np = 0;
    if ((rc = st_net_builtin(netname, &net, err)) != 0 ||
        (rc = st_trainer_create(net, cfg, 10, &t, err)) != 0)
        goto done;
    for (int e = 0; e < epochs; e++)
        if ((rc = st_trainer_epoch(t, d, e, &iter, &losses[e], NULL, NULL, err)) != 0)
            goto done;
    for (int i = 0; i < st_trainer_param_count(t); i++) {
        float *v;
        size_t n;
        st_trainer_param(t, i, NULL, NULL, &v, NULL, &n);
        *params = realloc(*params, (*np + n) * sizeof **params);
        memcpy(*params + *np, v, n * sizeof *v);
        *np += n;
    }
done:
    st_trainer_destroy(&t);
    st_net_destroy(&net);
    return rc;
}

static int same_params(const float *a, size_t na, const float *b, size_t nb)
{
    return na == nb && na > 0 && memcmp(a, b, na * sizeof *a) == 0;
}

static void test_real(void)
{
    st_dataset d;
    st_err err;
    st_train_cfg cfg;
    double l1[4], l2[4];
    float *p1 = NULL, *p2 = NULL;
    size_t n1, n2;
    int rc;

    st_err_clear(&err);
    if (st_fmnist_load(ST_FMNIST_DIR, "train", 256, &d, &err) != 0) {
        diag("%s", err.msg);
        for (int i = 0; i < 10; i++)
            skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)",
                 "train-real");
        return;
    }
    st_train_cfg_init(&cfg);
    cfg.batch = 32;
    cfg.lr = 0.05;

    /* train-1: the loss falls (4 epochs of 8 steps each) */
    rc = train_run("fmnist-cnn", &cfg, &d, 4, l1, &p1, &n1, &err);
    if (!ok(rc == 0 && l1[3] < 0.6 * l1[0],
            "train-1 fmnist-cnn: the loss of epoch 4 is below 0.6 times that of epoch 1 "
            "(256 images)"))
        diag("  rc %d (%s), losses %.4f %.4f %.4f %.4f", rc, err.msg, l1[0], l1[1], l1[2], l1[3]);
    free(p1);
    p1 = NULL;
    cfg.lr = 0.1;
    rc = train_run("fmnist-resnet", &cfg, &d, 3, l1, &p1, &n1, &err);
    if (!ok(rc == 0 && l1[2] < 0.75 * l1[0],
            "train-2 fmnist-resnet: the loss of epoch 3 is below 0.75 times that of epoch 1"))
        diag("  rc %d (%s), losses %.4f %.4f %.4f", rc, err.msg, l1[0], l1[1], l1[2]);
    free(p1);
    p1 = NULL;

    /* train-3..5: the same seed repeats bit for bit, with pruning (p = 0.9) in the loop */
    cfg.lr = 0.05;
    cfg.prune_opts.p = 0.9;
    cfg.seed = 7;
    train_run("fmnist-cnn", &cfg, &d, 2, l1, &p1, &n1, &err);
    train_run("fmnist-cnn", &cfg, &d, 2, l2, &p2, &n2, &err);
    ok(same_params(p1, n1, p2, n2) && l1[1] == l2[1],
       "train-3 the same seed gives bit-identical weights and losses (p = 0.9, 2 epochs)");
    free(p2);
    cfg.seed = 8;
    train_run("fmnist-cnn", &cfg, &d, 2, l2, &p2, &n2, &err);
    ok(!same_params(p1, n1, p2, n2), "train-4 another seed gives other weights");
    free(p1);
    free(p2);
    p1 = p2 = NULL;

    /* train-5..6: p = 0 is bit for bit the run that never prunes; p = 0.9 is not */
    cfg.seed = 3;
    cfg.prune_opts.p = 0.0;
    train_run("fmnist-cnn", &cfg, &d, 1, l1, &p1, &n1, &err);
    cfg.prune = 0;
    train_run("fmnist-cnn", &cfg, &d, 1, l2, &p2, &n2, &err);
    ok(same_params(p1, n1, p2, n2) && l1[0] == l2[0],
       "train-5 p = 0 gives bit for bit the weights of training without pruning");
    free(p1);
    cfg.prune = 1;
    cfg.prune_opts.p = 0.9;
    train_run("fmnist-cnn", &cfg, &d, 1, l1, &p1, &n1, &err);
    ok(!same_params(p1, n1, p2, n2), "train-6 p = 0.9 changes the weights");
    free(p1);
    free(p2);

    /* train-10: 2 threads give the weights of 1 thread bit for bit */
    cfg.prune_fc = 1;
    train_run("fmnist-resnet", &cfg, &d, 1, l1, &p1, &n1, &err);
    st_train_threads(2);
    train_run("fmnist-resnet", &cfg, &d, 1, l2, &p2, &n2, &err);
    st_train_threads(1);
    ok(same_params(p1, n1, p2, n2) && l1[0] == l2[0],
       "train-10 fmnist-resnet, p = 0.9: 2 threads give the weights of 1 thread bit for bit");
    free(p1);
    free(p2);

    /* train-7..9: statistics and the tensors of the last iteration */
    {
        st_net *net = NULL;
        st_trainer *t = NULL;
        const st_train_layer_stats *s;
        st_train_tensors tt;
        uint64_t iter = 0, nzpix = 0;
        double loss;
        int ns, good = 1, rule = 1;

        cfg.prune_fc = 0;
        st_net_builtin("fmnist-cnn", &net, &err);
        st_trainer_create(net, &cfg, 10, &t, &err);
        st_trainer_epoch(t, &d, 0, &iter, &loss, NULL, NULL, &err);
        s = st_trainer_stats(t, &ns);
        for (size_t i = 0; i < (size_t)d.n * 784; i++)
            nzpix += d.images[i] != 0.0f;
        ok(ns == 4 && s[0].act_n == (uint64_t)d.n * 784 && s[0].act_nz == nzpix,
           "train-7 conv1's input density counts the non-zero pixels of the epoch's images");
        for (int i = 0; i < ns; i++) {
            const st_layer *l = st_net_layer(net, s[i].layer);
            int fc = l->kind == ST_FC;
            if (fc ? (s[i].pruned || s[i].dz_nz_out != s[i].dz_nz_in || s[i].tau_sum != 0)
                   : (!s[i].pruned || s[i].dz_nz_out >= s[i].dz_nz_in || !(s[i].tau_sum > 0)))
                good = 0;
        }
        ok(good, "train-8 p = 0.9, prune_fc off: conv dZ loses non-zeros with tau > 0, FC dZ "
                 "is untouched");
        for (int i = 0; i < ns; i++) {
            if (st_trainer_tensors(t, s[i].layer, &tt, &err) != 0) {
                rule = 0;
                continue;
            }
            for (size_t k = 0; k < (size_t)tt.b * tt.dz_n; k++) {
                float a = tt.dz_in[k], o = tt.dz_out[k];
                float tau = (float)tt.tau;
                /* the rule: kept when |g| >= tau, else 0 or tau sign(g) */
                int okk = tau == 0.0f ? o == a
                          : fabsf(a) >= tau
                              ? o == a
                              : (o == 0.0f || o == copysignf(tau, a)) && (a != 0.0f || o == 0.0f);
                if (!okk)
                    rule = 0;
            }
        }
        ok(rule, "train-9 dZ after pruning follows the rule of docs/pruning.md element by "
                 "element");
        st_trainer_destroy(&t);
        st_net_destroy(&net);
    }
    st_dataset_fini(&d);
}

/* ------------------------------------------------------------------- data */

/* Write an IDX file, gzip-compressed, from a header of nh words and a body. */
static void write_idx(const char *path, const uint32_t *hdr, int nh, const uint8_t *body, size_t n);

#include <zlib.h>

static void write_idx(const char *path, const uint32_t *hdr, int nh, const uint8_t *body, size_t n)
{
    gzFile f = gzopen(path, "wb");
    for (int i = 0; i < nh; i++) {
        uint8_t b[4] = {(uint8_t)(hdr[i] >> 24), (uint8_t)(hdr[i] >> 16), (uint8_t)(hdr[i] >> 8),
                        (uint8_t)hdr[i]};
        gzwrite(f, b, 4);
    }
    if (n)
        gzwrite(f, body, (unsigned)n);
    gzclose(f);
}

static void test_data(void)
{
    char dir[] = "/tmp/t_train_XXXXXX", p_img[256], p_lab[256];
    uint8_t pix[3 * 2 * 2] = {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8}, labs[3] = {9, 0, 4};
    uint32_t hi[4] = {0x803, 3, 2, 2}, hl[2] = {0x801, 3};
    st_dataset d;
    st_err err;
    int rc;

    if (!mkdtemp(dir)) {
        ok(0, "data-0 temporary folder");
        return;
    }
    snprintf(p_img, sizeof p_img, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(p_lab, sizeof p_lab, "%s/train-labels-idx1-ubyte.gz", dir);
    write_idx(p_img, hi, 4, pix, sizeof pix);
    write_idx(p_lab, hl, 2, labs, 3);
    st_err_clear(&err);
    rc = st_fmnist_load(dir, "train", 0, &d, &err);
    ok(rc == 0 && d.n == 3 && d.c == 1 && d.h == 2 && d.w == 2 && d.images[0] == 0.0f &&
           d.images[1] == 1.0f && fabsf(d.images[2] - 0.2f) < 1e-7f &&
           fabsf(d.images[11] - 8.0f / 255) < 1e-7f && d.labels[0] == 9 && d.labels[2] == 4,
       "data-1 an IDX pair reads back: pixels / 255, labels");
    st_dataset_fini(&d);
    rc = st_fmnist_load(dir, "train", 2, &d, &err);
    ok(rc == 0 && d.n == 2 && d.labels[1] == 0, "data-2 limit keeps the first images");
    st_dataset_fini(&d);

    rc = st_fmnist_load(dir, "t10k", 0, &d, &err);
    ok(rc == ST_EIO &&
           tap_has_all(err.msg, "t10k-images-idx3-ubyte.gz", "dataset-fashion-mnist", NULL) &&
           d.images == NULL,
       "data-3 a missing file names the path and the Debian package");
    diag("  %s", err.msg);
    rc = st_fmnist_load(dir, "valid", 0, &d, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "split 'valid'", NULL), "data-4 bad split");
    rc = st_fmnist_load(dir, "train", -1, &d, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "limit = -1", NULL), "data-5 negative limit");

    hi[0] = 0x804;
    write_idx(p_img, hi, 4, pix, sizeof pix);
    rc = st_fmnist_load(dir, "train", 0, &d, &err);
    ok(rc == ST_EFORMAT && tap_has_all(err.msg, p_img, "magic 0x00000804", NULL),
       "data-6 a wrong magic is named with the file");
    hi[0] = 0x803;
    write_idx(p_img, hi, 4, pix, 5);
    rc = st_fmnist_load(dir, "train", 0, &d, &err);
    ok(rc == ST_EFORMAT && tap_has_all(err.msg, p_img, "truncated", NULL),
       "data-7 a truncated file is reported");
    write_idx(p_img, hi, 4, pix, sizeof pix);
    hl[1] = 4;
    write_idx(p_lab, hl, 2, labs, 3);
    rc = st_fmnist_load(dir, "train", 0, &d, &err);
    ok(rc == ST_EFORMAT && tap_has_all(err.msg, "4 labels for 3 images", NULL),
       "data-8 label and image counts must agree");
    hl[1] = 3;
    labs[1] = 10;
    write_idx(p_lab, hl, 2, labs, 3);
    rc = st_fmnist_load(dir, "train", 0, &d, &err);
    ok(rc == ST_EFORMAT && tap_has_all(err.msg, "label 10 of image 1", NULL),
       "data-9 a label above 9 is refused");
    hi[1] = 0;
    write_idx(p_img, hi, 4, pix, 0);
    rc = st_fmnist_load(dir, "train", 0, &d, &err);
    ok(rc == ST_EFORMAT && tap_has_all(err.msg, "0 images of 2x2", NULL),
       "data-10 sizes out of range are refused");
    remove(p_img);
    remove(p_lab);
    remove(dir);
}

/* ----------------------------------------------------------------- errors */

static void test_errors(void)
{
    st_net *net = make_net(0), *big = NULL;
    st_train_cfg cfg;
    st_trainer *t = NULL;
    st_err err;
    float x[NB * 98] = {0};
    uint8_t lab[NB] = {0, 1, 2, 0};
    double loss;
    int rc;
    st_dataset d = {0};
    st_train_tensors tt;
    uint64_t it = 0;

    st_err_clear(&err);
    st_train_cfg_init(&cfg);
    cfg.batch = NB;
    rc = st_trainer_create(net, &cfg, 10, &t, &err);
    ok(rc == ST_EINVAL && !t &&
           tap_has_all(err.msg, "'t-conv'", "last layer 'fc'", "3 outputs", "10 classes", NULL),
       "err-1 a network whose last layer does not give one score per class");
    {
        static const struct {
            int field;
            double v;
            const char *msg;
        } bad[] = {{0, 0, "batch = 0"},          {1, 0, "lr = 0"}, {2, 1, "momentum = 1"},
                   {3, -1, "weight_decay = -1"}, {4, 1, "p = 1"},  {5, 0, "prune_sigma_scale = 0"}};
        for (int i = 0; i < 6; i++) {
            st_train_cfg c = cfg;
            switch (bad[i].field) {
            case 0:
                c.batch = (int)bad[i].v;
                break;
            case 1:
                c.lr = bad[i].v;
                break;
            case 2:
                c.momentum = bad[i].v;
                break;
            case 3:
                c.weight_decay = bad[i].v;
                break;
            case 4:
                c.prune_opts.p = bad[i].v;
                break;
            default:
                c.prune_opts.sigma_scale = bad[i].v;
                break;
            }
            rc = st_trainer_create(net, &c, NCLASS, &t, &err);
            ok(rc == ST_EINVAL && !t && tap_has_all(err.msg, bad[i].msg, NULL),
               "err-2.%d bad setting: %s", i + 1, bad[i].msg);
        }
    }
    rc = st_trainer_create(net, &cfg, 1, &t, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "classes = 1", NULL), "err-3 one class");
    st_net_create("empty", 1, 2, 2, &big, &err);
    rc = st_trainer_create(big, &cfg, NCLASS, &t, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "'empty' has no layers", NULL),
       "err-4 a network without layers");
    st_net_destroy(&big);

    rc = st_trainer_create(net, &cfg, NCLASS, &t, &err);
    ok(rc == 0 && t, "err-5 the test network is accepted");
    rc = st_trainer_tensors(t, 0, &tt, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "no backward pass", NULL),
       "err-6 tensors before any backward pass");
    rc = st_trainer_grad(t, x, lab, NB + 1, 0, &loss, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "images = 5", "batch = 4", NULL),
       "err-7 more images than the batch");
    lab[2] = 3;
    rc = st_trainer_grad(t, x, lab, NB, 0, &loss, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "label 3 of image 2", NULL),
       "err-8 a label out of range");
    lab[2] = 2;
    rc = st_trainer_grad(t, x, lab, NB, 0, &loss, &err);
    ok(rc == 0, "err-9 a good batch passes");
    rc = st_trainer_tensors(t, 1, &tt, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "layer 1: not a compute layer", NULL),
       "err-10 tensors of a ReLU");
    d.n = 1, d.c = 1, d.h = 28, d.w = 28, d.classes = 10;
    d.images = x;
    d.labels = lab;
    rc = st_trainer_evaluate(t, &d, &loss, &loss, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "layer 'c1' reads 2x7x7", "1x28x28", NULL),
       "err-11 images of another shape than the network's input");
    {
        /* an imported layer list: every layer that reads the input is checked, not only
         * the first */
        st_net *two = NULL;
        st_trainer *t2 = NULL;
        st_dataset d28 = {0};
        float *img = calloc(784, sizeof *img);
        st_net_create("two", 1, 28, 28, &two, &err);
        st_net_conv(two, "a", -1, 2, 3, 1, 1, 1, &err);
        st_net_conv_at(two, "b", 2, 4, 4, 10, 4, 4, 1, 1, 0, 0, 0, 0, &err);
        st_net_finish(two, &err);
        st_trainer_create(two, &cfg, 10, &t2, &err);
        d28.n = 1, d28.c = 1, d28.h = 28, d28.w = 28, d28.classes = 10;
        d28.images = img;
        d28.labels = lab;
        rc = st_trainer_evaluate(t2, &d28, &loss, &loss, &err);
        ok(rc == ST_EINVAL && tap_has_all(err.msg, "layer 'b' reads 2x4x4", "1x28x28", NULL),
           "err-13 a second layer reading the input with another shape is refused");
        free(img);
        st_trainer_destroy(&t2);
        st_net_destroy(&two);
    }
    {
        float *w;
        /* a NaN in the FC weights reaches every score (a ReLU would stop it) */
        st_trainer_param(t, 2, NULL, NULL, &w, NULL, NULL);
        w[0] = NAN;
        rc = st_trainer_grad(t, x, lab, NB, 5, &loss, &err);
        ok(rc == ST_EINVAL &&
               tap_has_all(err.msg, "layer '", "iteration 5", "pruning dZ", "nan", NULL),
           "err-12 a NaN gradient stops training with the layer and the iteration");
        diag("  %s", err.msg);
    }
    rc = st_trainer_param(t, st_trainer_param_count(t), NULL, NULL, NULL, NULL, NULL);
    ok(rc == ST_EINVAL && st_trainer_param_count(t) == 4, "err-14 a tensor index out of range");
    rc = st_trainer_grad(t, NULL, lab, NB, 0, &loss, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "trainer: x is NULL", NULL), "err-15 no images");
    d.n = 0;
    rc = st_trainer_epoch(t, &d, 0, &it, &loss, NULL, NULL, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "trainer: no data", NULL), "err-16 no data");
    st_trainer_destroy(&t);
    rc = st_trainer_create(NULL, &cfg, NCLASS, &t, &err);
    ok(rc == ST_EINVAL && !t && tap_has_all(err.msg, "st_trainer_create: net is NULL", NULL),
       "err-17 no network");
    rc = st_fmnist_load(NULL, "train", 0, &d, &err);
    ok(rc == ST_EINVAL && tap_has_all(err.msg, "st_fmnist_load: dir is NULL", NULL),
       "err-18 no folder");
    st_net_destroy(&net);
}

int main(int argc, char **argv)
{
    /* as sttrain does: threads waiting between parallel loops sleep (see sttrain.c) */
    (void)argc;
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
        execv("/proc/self/exe", argv);
    st_train_threads(1);
    for (int i = 0; i < 4; i++)
        test_forward(i);
    for (int i = 0; i < 4; i++)
        test_grad(i);
    test_real();
    test_data();
    test_errors();
    return tap_done();
}
