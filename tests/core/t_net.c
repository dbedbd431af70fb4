/*
 * t_net.c - tests of the workload model: built-in networks against published
 * MAC counts and hand arithmetic, valid-tap counts against brute force, the
 * pre/post/first graph pass, and every validation error of the appends.
 */
#include <stdint.h>
#include <string.h>

#include "st.h"
#include "tap.h"

#define MSG_OK(e, ...) tap_has_all((e).msg, __VA_ARGS__, (const char *)NULL)

static st_net *builtin(const char *name)
{
    st_net *net = NULL;
    st_err err;

    if (st_net_builtin(name, &net, &err) != 0)
        diag("cannot build %s: %s", name, err.msg);
    return net;
}

/* The layer called `name`, or NULL. */
static const st_layer *find(const st_net *net, const char *name)
{
    for (int i = 0; i < st_net_count(net); i++)
        if (!strcmp(st_net_layer(net, i)->name, name))
            return st_net_layer(net, i);
    diag("no layer '%s' in %s", name, st_net_name(net));
    return NULL;
}

static uint64_t kind_macs(const st_net *net, st_kind kind)
{
    uint64_t sum = 0;
    for (int i = 0; i < st_net_count(net); i++)
        if (st_net_layer(net, i)->kind == kind)
            sum += st_layer_macs(st_net_layer(net, i), ST_FP);
    return sum;
}

static int shape_is(const st_layer *l, int c, int h, int w)
{
    return l && l->out_c == c && l->out_h == h && l->out_w == w;
}

/* ---------------------------------------------------------------- totals */

static void test_totals(void)
{
    st_net *net;

    /* AlexNet: Sze, Chen, Yang, Emer, "Efficient Processing of Deep Neural
     * Networks: A Tutorial and Survey", Proc. IEEE 105(12), 2017, Table III:
     * 666M MACs in the CONV layers, 724M in all; tolerance = their rounding
     * to the nearest million. */
    net = builtin("alexnet");
    ok_near(kind_macs(net, ST_CONV), 666e6, 0.5e6, "net-1.1 alexnet conv MACs = 666M (Sze 2017)");
    ok_near(st_net_macs(net, ST_FP), 724e6, 0.5e6, "net-1.2 alexnet MACs = 724M (Sze 2017)");
    /* The same by hand, layer by layer: out_c*out_h*out_w*(in_c/groups)*k*k,
     * then the FC layers in*out. */
    ok_eq_u64(kind_macs(net, ST_CONV),
              96ull * 55 * 55 * 3 * 11 * 11       /* conv1 105415200 */
                  + 256ull * 27 * 27 * 48 * 5 * 5 /* conv2 223948800 */
                  + 384ull * 13 * 13 * 256 * 9    /* conv3 149520384 */
                  + 384ull * 13 * 13 * 192 * 9    /* conv4 112140288 */
                  + 256ull * 13 * 13 * 192 * 9,   /* conv5  74760192 */
              "net-1.3 alexnet conv MACs = 665784864 by hand");
    ok_eq_u64(kind_macs(net, ST_FC), 9216ull * 4096 + 4096ull * 4096 + 4096ull * 1000,
              "net-1.4 alexnet FC MACs = 58621952 by hand");
    st_net_destroy(&net);

    /* VGG-16: Sze 2017 Table III gives 15.3G conv and 15.5G total (rounded
     * to 0.1G); torchvision's model table lists 15.47 GFLOPS, which count
     * multiply-accumulates (rounded to 0.01G). */
    net = builtin("vgg16");
    ok_near(kind_macs(net, ST_CONV), 15.3e9, 0.05e9, "net-1.5 vgg16 conv MACs = 15.3G (Sze 2017)");
    ok_near(st_net_macs(net, ST_FP), 15.5e9, 0.05e9, "net-1.6 vgg16 MACs = 15.5G (Sze 2017)");
    ok_near(st_net_macs(net, ST_FP), 15.47e9, 0.005e9, "net-1.7 vgg16 MACs = 15.47G (torchvision)");
    {
        /* Simonyan & Zisserman 2015 Table 1, column D: 3x3 convolutions with
         * padding 1 keep the size, which halves after each stage. */
        static const int convs[5] = {2, 2, 3, 3, 3}, width[5] = {64, 128, 256, 512, 512};
        uint64_t want = 0;
        int c = 3, hw = 224;
        for (int s = 0; s < 5; s++, hw /= 2)
            for (int i = 0; i < convs[s]; i++, c = width[s])
                want += (uint64_t)width[s] * hw * hw * c * 9;
        want += 512ull * 7 * 7 * 4096 + 4096ull * 4096 + 4096ull * 1000;
        ok_eq_u64(st_net_macs(net, ST_FP), want, "net-1.8 vgg16 MACs = 15470264320 by hand");
    }
    st_net_destroy(&net);

    /* ResNets: torchvision's model table (pytorch.org/vision/stable/models),
     * GFLOPS column at 224x224, which counts multiply-accumulates: 1.81,
     * 3.66, 4.09 (ResNet-50 in its "v1.5" form), rounded to 0.01G. */
    net = builtin("resnet18");
    ok_near(st_net_macs(net, ST_FP), 1.81e9, 0.005e9,
            "net-1.9 resnet18 MACs = 1.81G (torchvision)");
    st_net_destroy(&net);
    net = builtin("resnet34");
    ok_near(st_net_macs(net, ST_FP), 3.66e9, 0.005e9,
            "net-1.10 resnet34 MACs = 3.66G (torchvision)");
    st_net_destroy(&net);
    net = builtin("resnet50");
    ok_near(st_net_macs(net, ST_FP), 4.09e9, 0.005e9,
            "net-1.11 resnet50 MACs = 4.09G (torchvision)");
    st_net_destroy(&net);

    /* fmnist-cnn, by hand: conv1 16x28x28 from 1 channel, 5x5: 313600;
     * pool to 14x14; conv2 32x14x14 from 16, 5x5: 2508800; pool to 7x7;
     * fc1 32*7*7 = 1568 -> 128: 200704; fc2 128 -> 10: 1280. */
    net = builtin("fmnist-cnn");
    ok_eq_u64(st_net_macs(net, ST_FP),
              16ull * 28 * 28 * 1 * 25 + 32ull * 14 * 14 * 16 * 25 + 1568ull * 128 + 128ull * 10,
              "net-1.12 fmnist-cnn MACs = 3024384 by hand");
    st_net_destroy(&net);

    /* fmnist-resnet, by hand: stem 16x28x28 from 1, 3x3: 112896; block 1, two
     * 3x3 16->16 at 28x28: 2 * 1806336; block 2: 3x3/2 16->32 at 14x14:
     * 903168, 3x3 32->32: 1806336, 1x1/2 projection 16->32: 100352; fc
     * 32 -> 10: 320. Total 6535744. */
    net = builtin("fmnist-resnet");
    ok_eq_u64(st_net_macs(net, ST_FP),
              16ull * 784 * 9 + 2 * (16ull * 784 * 16 * 9) + 32ull * 196 * 16 * 9 +
                  32ull * 196 * 32 * 9 + 32ull * 196 * 16 + 320,
              "net-1.13 fmnist-resnet MACs = 6535744 by hand");
    st_net_destroy(&net);
}

/* ---------------------------------------------------------------- layers */

static void test_layers(void)
{
    st_net *net = builtin("resnet18");
    const st_layer *l;

    l = find(net, "conv1");
    ok_eq_u64(l ? st_layer_macs(l, ST_FP) : 0, 64ull * 112 * 112 * 3 * 7 * 7,
              "net-2.1 resnet18 conv1 = 64*112*112*3*7*7 = 118013952");
    ok(shape_is(l, 64, 112, 112), "net-2.2 resnet18 conv1 output 64x112x112");
    ok(shape_is(find(net, "maxpool"), 64, 56, 56), "net-2.3 resnet18 maxpool output 64x56x56");
    ok(shape_is(find(net, "layer2.0.conv1"), 128, 28, 28),
       "net-2.4 resnet18 layer2.0.conv1 output 128x28x28");
    l = find(net, "layer3.0.downsample.0");
    ok(l && l->k_h == 1 && l->stride_h == 2 && l->in_c == 128 && shape_is(l, 256, 14, 14),
       "net-2.5 resnet18 layer3.0.downsample.0 is 1x1/2, 128x28x28 -> 256x14x14");
    ok(shape_is(find(net, "layer4.1.conv2"), 512, 7, 7), "net-2.6 resnet18 layer4.1.conv2 512x7x7");
    ok(shape_is(find(net, "avgpool"), 512, 1, 1), "net-2.7 resnet18 avgpool 512x1x1");
    l = find(net, "layer1.0.bn1");
    ok_eq_u64(l ? st_layer_weights(l) : 0, 2 * 64, "net-2.8 BN weights = 2 * 64 (gamma, beta)");
    ok_eq_u64(l ? st_layer_in_elems(l) + st_layer_out_elems(l) : 0, 2ull * 64 * 56 * 56,
              "net-2.9 BN in and out elems = 64*56*56 each");
    l = find(net, "fc");
    ok(l && l->in_c == 512 && l->in_h == 1 && l->in_w == 1 && shape_is(l, 1000, 1, 1),
       "net-2.10 resnet18 fc 512 -> 1000");
    st_net_destroy(&net);

    net = builtin("alexnet");
    l = find(net, "conv2");
    /* Grouped: each of 256 outputs sees 96 / 2 = 48 input channels. */
    ok_eq_u64(l ? st_layer_macs(l, ST_FP) : 0, 256ull * 27 * 27 * 48 * 5 * 5,
              "net-2.11 alexnet conv2 (groups 2) = 256*27*27*48*5*5 = 223948800");
    ok_eq_u64(l ? st_layer_weights(l) : 0, 256ull * 48 * 5 * 5,
              "net-2.12 alexnet conv2 weights = 256*48*25 = 307200");
    ok(shape_is(find(net, "conv1"), 96, 55, 55), "net-2.13 alexnet conv1 output 96x55x55");
    ok(shape_is(find(net, "pool1"), 96, 27, 27), "net-2.14 alexnet pool1 output 96x27x27");
    ok(shape_is(find(net, "pool5"), 256, 6, 6), "net-2.15 alexnet pool5 output 256x6x6");
    l = find(net, "fc6");
    /* FC flattens pool5: 256*6*6 = 9216 inputs. */
    ok(l && l->in_c == 9216 && l->in_h == 1 && l->in_w == 1 && l->k_h == 1 &&
           shape_is(l, 4096, 1, 1),
       "net-2.16 alexnet fc6 flattens 256x6x6 to 9216 -> 4096");
    ok_eq_u64(l ? st_layer_macs(l, ST_FP) : 0, 9216ull * 4096, "net-2.17 alexnet fc6 = 37748736");
    ok_eq_u64(l ? st_layer_weights(l) : 0, 9216ull * 4096, "net-2.18 alexnet fc6 weights");
    l = find(net, "relu1");
    ok_eq_u64(l ? st_layer_macs(l, ST_FP) + st_layer_weights(l) : 1, 0,
              "net-2.19 ReLU has no MACs and no weights");
    st_net_destroy(&net);

    net = builtin("resnet50");
    l = find(net, "layer2.0.conv2");
    /* v1.5: the stride is on the 3x3 convolution. */
    ok(l && l->k_h == 3 && l->stride_h == 2 && l->in_h == 56 && shape_is(l, 128, 28, 28),
       "net-2.20 resnet50 layer2.0.conv2 is 3x3/2, 56 -> 28 (v1.5)");
    ok(shape_is(find(net, "layer1.0.conv3"), 256, 56, 56), "net-2.21 resnet50 layer1.0.conv3");
    ok(shape_is(find(net, "layer4.2.bn3"), 2048, 7, 7), "net-2.22 resnet50 layer4.2.bn3 2048x7x7");
    st_net_destroy(&net);

    net = builtin("vgg16");
    ok(shape_is(find(net, "pool5"), 512, 7, 7), "net-2.23 vgg16 pool5 512x7x7");
    st_net_destroy(&net);
    net = builtin("fmnist-resnet");
    ok(shape_is(find(net, "layer2.0.downsample.1"), 32, 14, 14),
       "net-2.24 fmnist-resnet projection 32x14x14");
    ok(shape_is(find(net, "avgpool"), 32, 1, 1), "net-2.25 fmnist-resnet avgpool 32x1x1");
    st_net_destroy(&net);
}

/* -------------------------------------------------------------- phases */

static void test_phases(void)
{
    const char *const *names = st_net_builtin_names();

    for (int n = 0; names[n]; n++) {
        st_net *net = builtin(names[n]);
        int bad = 0, firsts = 0;
        uint64_t first_fp = 0;

        for (int i = 0; i < st_net_count(net); i++) {
            const st_layer *l = st_net_layer(net, i);
            uint64_t fp = st_layer_macs(l, ST_FP), bp = st_layer_macs(l, ST_BP),
                     wg = st_layer_macs(l, ST_WG);
            if (!st_kind_is_compute(l->kind))
                bad += fp || bp || wg || st_layer_macs_valid(l, ST_FP);
            else if (l->first) {
                bad += wg != fp || bp != 0;
                firsts++;
                first_fp += fp;
            } else
                bad += wg != fp || bp != fp;
            for (int ph = 0; ph < ST_PHASE_COUNT; ph++)
                bad += st_layer_macs_valid(l, (st_phase)ph) > st_layer_macs(l, (st_phase)ph);
        }
        ok(net && bad == 0, "net-3.1.%d %s: WG = FP, BP = FP (0 when first), valid <= conventional",
           n, names[n]);
        ok(net && firsts == 1 && st_net_macs(net, ST_BP) == st_net_macs(net, ST_FP) - first_fp &&
               st_net_macs(net, ST_WG) == st_net_macs(net, ST_FP),
           "net-3.2.%d %s: one first layer; BP total = FP total - its MACs", n, names[n]);
        st_net_destroy(&net);
    }
}

/* Brute force over every (output row, output column, tap row, tap column):
 * count the taps whose input coordinate lies inside the unpadded input. */
static uint64_t brute_valid(const st_layer *l)
{
    uint64_t n = 0;

    for (int oh = 0; oh < l->out_h; oh++)
        for (int ow = 0; ow < l->out_w; ow++)
            for (int kh = 0; kh < l->k_h; kh++)
                for (int kw = 0; kw < l->k_w; kw++) {
                    int ih = oh * l->stride_h - l->pad_t + kh;
                    int iw = ow * l->stride_w - l->pad_l + kw;
                    n += ih >= 0 && ih < l->in_h && iw >= 0 && iw < l->in_w;
                }
    return n * (uint64_t)l->out_c * (uint64_t)(l->in_c / l->groups);
}

/* A small linear congruential generator (Knuth's MMIX constants), so that
 * the random shapes are the same on every run. */
static unsigned next_rand(uint64_t *s, unsigned mod)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((*s >> 33) % mod);
}

static void test_valid(void)
{
    /* Hand-picked shapes: {in_c, h, w, out_c, kh, kw, sh, sw, pt, pb, pl, pr, groups} */
    static const int cases[][13] = {
        {3, 227, 227, 96, 11, 11, 4, 4, 0, 0, 0, 0, 1}, /* alexnet conv1, no padding */
        {3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 3, 3, 1},   /* resnet conv1 */
        {4, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1},        /* 4x4, 3x3 p1 */
        {2, 7, 5, 3, 3, 2, 2, 3, 1, 0, 0, 2, 1},        /* asymmetric, remainders */
        {4, 6, 9, 4, 5, 4, 3, 2, 2, 1, 3, 0, 2},        /* grouped, asymmetric */
        {1, 3, 3, 1, 3, 3, 1, 1, 5, 5, 4, 6, 1},        /* padding wider than the kernel */
        {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},        /* single element */
        {2, 10, 10, 2, 3, 3, 3, 3, 0, 2, 2, 0, 1},      /* SCALE-Sim style bottom/right pad */
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    uint64_t seed = 12345;
    int bad_random = 0, tried = 0;
    st_err err;

    for (int i = 0; i < ncases; i++) {
        const int *c = cases[i];
        st_net *net = NULL;
        int r;
        st_net_create("valid", c[0], c[1], c[2], &net, &err);
        r = st_net_conv_ex(net, "conv", -1, c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11],
                           c[12], &err);
        if (r < 0)
            diag("case %d: %s", i, err.msg);
        st_net_finish(net, &err);
        /* first = 1 here (fed by the input): BP counts 0 in both forms. */
        {
            const st_layer *l = st_net_layer(net, 0);
            uint64_t want = l ? brute_valid(l) : 1;
            ok(l && st_layer_macs_valid(l, ST_FP) == want &&
                   st_layer_macs_valid(l, ST_WG) == want && st_layer_macs_valid(l, ST_BP) == 0,
               "net-3.3.%d valid MACs = brute force (%llu) on %dx%dx%d k%dx%d s%dx%d p%d,%d,%d,%d "
               "g%d",
               i, (unsigned long long)want, c[0], c[1], c[2], c[4], c[5], c[6], c[7], c[8], c[9],
               c[10], c[11], c[12]);
        }
        st_net_destroy(&net);
    }

    {
        /* 4x4 input, 3x3 kernel, padding 1: per dimension 4 outputs * 3 taps
         * = 12 pairs minus the two that fall on the padding (first output,
         * first tap; last output, last tap) = 10; 10 * 10 per channel pair. */
        st_net *net = NULL;
        st_net_create("valid", 1, 4, 4, &net, &err);
        st_net_conv(net, "stem", -1, 1, 1, 1, 0, 1, &err); /* first: makes the others count BP */
        st_net_conv(net, "conv", ST_PREV, 1, 3, 1, 1, 1, &err);
        st_net_conv(net, "conv_nopad", ST_PREV, 1, 3, 1, 0, 1, &err);
        st_net_finish(net, &err);
        ok_eq_u64(st_layer_macs_valid(st_net_layer(net, 1), ST_BP), 100,
                  "net-3.4 4x4 k3 p1: 10 x 10 valid (output, tap) pairs in BP");
        ok_eq_u64(st_layer_macs(st_net_layer(net, 2), ST_BP), 4 * 9,
                  "net-3.5 4x4 k3 p0: BP = FP = 2*2 outputs * 9 taps");
        ok_eq_u64(st_layer_macs_valid(st_net_layer(net, 2), ST_BP),
                  st_layer_macs(st_net_layer(net, 2), ST_BP),
                  "net-3.6 without padding valid = conventional");
        st_net_destroy(&net);
    }

    /* Random shapes with every kind of remainder, compared with brute force
     * in all three phases. A second conv after the first makes BP count. */
    for (int t = 0; t < 400; t++) {
        int in_c = 1 + (int)next_rand(&seed, 4), h = 1 + (int)next_rand(&seed, 12),
            w = 1 + (int)next_rand(&seed, 12);
        int pt = (int)next_rand(&seed, 5), pb = (int)next_rand(&seed, 5),
            pl = (int)next_rand(&seed, 5), pr = (int)next_rand(&seed, 5);
        int kh = 1 + (int)next_rand(&seed, (unsigned)(h + pt + pb)),
            kw = 1 + (int)next_rand(&seed, (unsigned)(w + pl + pr));
        int sh = 1 + (int)next_rand(&seed, 4), sw = 1 + (int)next_rand(&seed, 4);
        int g = (in_c % 2 == 0 && next_rand(&seed, 2)) ? 2 : 1;
        int out_c = g * (1 + (int)next_rand(&seed, 3));
        st_net *net = NULL;
        const st_layer *l;

        st_net_create("random", in_c, h, w, &net, &err);
        st_net_conv(net, "stem", -1, in_c, 1, 1, 0, 1, &err);
        if (st_net_conv_ex(net, "conv", ST_PREV, out_c, kh, kw, sh, sw, pt, pb, pl, pr, g, &err) <
            0) {
            diag("random case %d: %s", t, err.msg);
            bad_random++;
        }
        st_net_finish(net, &err);
        l = st_net_layer(net, 1);
        if (l) {
            uint64_t want = brute_valid(l);
            tried++;
            for (int ph = 0; ph < ST_PHASE_COUNT; ph++)
                if (st_layer_macs_valid(l, (st_phase)ph) != want) {
                    if (bad_random++ < 5)
                        diag("in %dx%dx%d k%dx%d s%dx%d p%d,%d,%d,%d g%d phase %d: got %llu "
                             "want %llu",
                             in_c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, g, ph,
                             (unsigned long long)st_layer_macs_valid(l, (st_phase)ph),
                             (unsigned long long)want);
                }
            if ((pt | pb | pl | pr) == 0 && want != st_layer_macs(l, ST_FP))
                bad_random++;
            if (want > st_layer_macs(l, ST_FP))
                bad_random++;
        }
        st_net_destroy(&net);
    }
    ok(bad_random == 0 && tried == 400,
       "net-3.7 400 random shapes: valid = brute force in FP, BP, WG; <= conventional, = when "
       "unpadded");
}

/* --------------------------------------------------------------- finish */

static void test_finish(void)
{
    st_net *net = builtin("alexnet");
    const st_layer *l;
    st_err err;

    l = find(net, "conv1");
    ok(l && l->first == 1 && l->pre == 0 && l->post == (ST_OP_RELU | ST_OP_MAXPOOL),
       "net-4.1 alexnet conv1: first, pre 0, post RELU|MAXPOOL");
    l = find(net, "conv2");
    ok(l && l->first == 0 && l->pre == (ST_OP_RELU | ST_OP_MAXPOOL),
       "net-4.2 alexnet conv2: pre RELU|MAXPOOL, not first");
    l = find(net, "conv4");
    ok(l && l->pre == ST_OP_RELU && l->post == ST_OP_RELU, "net-4.3 alexnet conv4: pre/post RELU");
    l = find(net, "fc8");
    ok(l && l->post == 0 && l->pre == ST_OP_RELU, "net-4.4 alexnet fc8: post 0 (last layer)");
    l = find(net, "relu1");
    ok(l && l->pre == 0 && l->post == 0 && l->first == 0,
       "net-4.5 non-compute layers keep pre = post = first = 0");
    {
        /* Idempotent: a second pass changes nothing. */
        st_layer copy[32];
        int n = st_net_count(net), same = n <= 32;
        for (int i = 0; i < n && same; i++)
            copy[i] = *st_net_layer(net, i);
        st_net_finish(net, &err);
        st_net_finish(net, &err);
        for (int i = 0; i < n && same; i++)
            same = !memcmp(&copy[i], st_net_layer(net, i), sizeof copy[i]);
        ok(same, "net-4.6 st_net_finish is idempotent");
    }
    st_net_destroy(&net);

    net = builtin("resnet18");
    l = find(net, "conv1");
    /* conv1 -> bn1 -> relu -> maxpool feeds layer1.0.conv1 and, through the
     * identity shortcut, layer1.0.add -> layer1.0.relu2: the union. */
    ok(l && l->first == 1 && l->post == (ST_OP_BN | ST_OP_RELU | ST_OP_MAXPOOL | ST_OP_ADD),
       "net-4.7 resnet18 conv1: first, post BN|RELU|MAXPOOL|ADD (shortcut path)");
    l = find(net, "layer1.0.conv1");
    ok(l && l->first == 0 && l->post == (ST_OP_BN | ST_OP_RELU) &&
           l->pre == (ST_OP_BN | ST_OP_RELU | ST_OP_MAXPOOL),
       "net-4.8 resnet18 layer1.0.conv1: pre BN|RELU|MAXPOOL, post BN|RELU");
    l = find(net, "layer1.0.conv2");
    ok(l && l->pre == (ST_OP_BN | ST_OP_RELU) && l->post == (ST_OP_BN | ST_OP_ADD | ST_OP_RELU),
       "net-4.9 resnet18 layer1.0.conv2: pre BN|RELU, post BN|ADD|RELU");
    l = find(net, "layer1.1.conv1");
    /* Through the ADD only src[0] (the main branch, ending in bn2) is walked. */
    ok(l && l->pre == (ST_OP_RELU | ST_OP_ADD | ST_OP_BN),
       "net-4.10 resnet18 layer1.1.conv1: pre RELU|ADD|BN");
    l = find(net, "layer2.0.downsample.0");
    ok(l && l->post == (ST_OP_BN | ST_OP_ADD | ST_OP_RELU),
       "net-4.11 resnet18 projection: post BN|ADD|RELU");
    l = find(net, "fc");
    ok(l && l->post == 0 && l->pre == (ST_OP_GAP | ST_OP_RELU | ST_OP_ADD | ST_OP_BN),
       "net-4.12 resnet18 fc: pre GAP|RELU|ADD|BN, post 0");
    st_net_destroy(&net);

    net = builtin("fmnist-cnn");
    l = find(net, "conv1");
    ok(l && l->first == 1 && l->post == (ST_OP_RELU | ST_OP_MAXPOOL),
       "net-4.13 fmnist-cnn conv1: first, post RELU|MAXPOOL");
    l = find(net, "fc2");
    ok(l && l->post == 0 && l->pre == ST_OP_RELU, "net-4.14 fmnist-cnn fc2: pre RELU, post 0");
    st_net_destroy(&net);

    /* Hand-built graphs for the corner cases of `first` and `post`. */
    st_net_create("g", 2, 8, 8, &net, &err);
    st_net_relu(net, "r0", ST_PREV, &err);                /* 0: input -> relu */
    st_net_pool(net, "p0", 0, ST_AVGPOOL, 2, 2, 0, &err); /* 1 */
    st_net_conv(net, "c0", 1, 2, 3, 1, 1, 1, &err);       /* 2: first through relu, avgpool */
    st_net_relu(net, "r1", 2, &err);                      /* 3 */
    st_net_conv(net, "c1", 3, 2, 1, 1, 0, 1, &err);       /* 4 */
    st_net_pool(net, "p1", 2, ST_MAXPOOL, 3, 1, 1, &err); /* 5: second consumer of c0 */
    st_net_conv(net, "c2", 5, 2, 1, 1, 0, 1, &err);       /* 6 */
    st_net_bn(net, "b0", -1, &err);                       /* 7: input -> BN */
    st_net_conv(net, "c3", 7, 2, 1, 1, 0, 1, &err);       /* 8: BN needs the gradient */
    st_net_add(net, "a0", 0, -1, &err);                   /* 9: relu(input) + input */
    st_net_conv(net, "c4", 9, 2, 1, 1, 0, 1, &err);       /* 10: first */
    st_net_add(net, "a1", -1, 10, &err);                  /* 11: input + c4 */
    st_net_conv(net, "c5", 11, 2, 1, 1, 0, 1, &err);      /* 12: c4 upstream, not first */
    st_net_gap(net, "g0", 12, &err);                      /* 13 */
    ok(st_net_count(net) == 14 && st_net_finish(net, &err) == 0, "net-4.15 hand graph builds");
    l = st_net_layer(net, 2);
    ok(l && l->first == 1 && l->pre == (ST_OP_RELU | ST_OP_AVGPOOL) &&
           l->post == (ST_OP_RELU | ST_OP_MAXPOOL),
       "net-4.16 two consumers: post is the union RELU|MAXPOOL; first through relu, avgpool");
    l = st_net_layer(net, 8);
    ok(l && l->first == 0 && l->pre == ST_OP_BN,
       "net-4.17 input -> BN -> conv is not first (BN's gamma/beta need dA)");
    l = st_net_layer(net, 10);
    ok(l && l->first == 1 && l->pre == (ST_OP_ADD | ST_OP_RELU),
       "net-4.18 relu(input) + input -> conv is first");
    l = st_net_layer(net, 12);
    ok(l && l->first == 0 && l->pre == ST_OP_ADD && l->post == ST_OP_GAP,
       "net-4.19 input + c4 -> conv is not first (pre ADD: src[0] is the input); post GAP");
    l = st_net_layer(net, 10);
    ok(l && l->post == ST_OP_ADD, "net-4.20 c4 reaches a1 through src[1]: post ADD");
    l = st_net_layer(net, 4);
    ok(l && l->post == 0 && l->pre == ST_OP_RELU, "net-4.21 c1 has no consumer: post 0");
    st_net_destroy(&net);
}

/* ------------------------------------------------------------ validation */

/* Check an append failure: code ST_EINVAL, the message names the network,
 * the layer and the bad value (needles), and the network is unchanged. */
#define FAILS(id, net, call, ...)                                                                  \
    do {                                                                                           \
        int n0_ = st_net_count(net);                                                               \
        uint64_t m0_ = st_net_macs(net, ST_FP);                                                    \
        int r_;                                                                                    \
        st_err_clear(&err);                                                                        \
        r_ = (call);                                                                               \
        if (!ok(r_ == ST_EINVAL && err.code == ST_EINVAL && MSG_OK(err, __VA_ARGS__) &&            \
                    st_net_count(net) == n0_ && st_net_macs(net, ST_FP) == m0_,                    \
                "%s", id))                                                                         \
            diag("  rc %d, message: %s", r_, err.msg);                                             \
    } while (0)

static void test_errors(void)
{
    st_net *net = NULL, *big = NULL;
    st_err err;
    int r;

    r = st_net_create(NULL, 1, 1, 1, &net, &err);
    ok(r == ST_EINVAL && net == NULL && MSG_OK(err, "name", "NULL"), "net-5.1 create: NULL name");
    r = st_net_create("", 1, 1, 1, &net, &err);
    ok(r == ST_EINVAL && net == NULL && MSG_OK(err, "name", "empty"), "net-5.2 create: empty name");
    r = st_net_create("x", 0, 8, 8, &net, &err);
    ok(r == ST_EINVAL && net == NULL && MSG_OK(err, "'x'", "c = 0"), "net-5.3 create: c = 0");
    r = st_net_create("x", 3, -1, 8, &net, &err);
    ok(r == ST_EINVAL && net == NULL && MSG_OK(err, "'x'", "h = -1"), "net-5.4 create: h = -1");
    r = st_net_create("x", 1 << 16, 1 << 16, 1 << 16, &net, &err);
    ok(r == ST_EINVAL && net == NULL && MSG_OK(err, "'x'", "65536x65536x65536", "elements"),
       "net-5.5 create: input too large");
    r = st_net_create("x", 1, 1, 1, NULL, &err);
    ok(r == ST_EINVAL && MSG_OK(err, "out is NULL"), "net-5.6 create: out NULL");

    st_net_create("v", 8, 4, 4, &net, &err);
    st_net_relu(net, "relu", ST_PREV, &err);
    ok(st_net_count(net) == 1 && st_net_layer(net, 0)->src[0] == -1,
       "net-5.7 ST_PREV on an empty network is the input");

    FAILS("net-5.8 NULL layer name", net, st_net_relu(net, NULL, ST_PREV, &err), "'v'", "NULL");
    FAILS("net-5.9 empty layer name", net, st_net_bn(net, "", ST_PREV, &err), "'v'", "empty");
    FAILS("net-5.10 name too long", net,
          st_net_relu(net, "a_name_that_is_far_too_long_to_fit_in_the_layer_record", ST_PREV, &err),
          "'v'", "a_name_that_is_far_too_long", "54 characters", "47");
    FAILS("net-5.11 duplicate name", net, st_net_bn(net, "relu", ST_PREV, &err), "'v'", "'relu'",
          "already used by layer 0");
    FAILS("net-5.12 unknown src", net, st_net_conv(net, "c", 5, 8, 3, 1, 1, 1, &err), "'v'", "'c'",
          "src = 5", "no such layer");
    FAILS("net-5.13 negative src", net, st_net_gap(net, "g", -3, &err), "'g'", "src = -3");
    FAILS("net-5.14 conv out_c = 0", net, st_net_conv(net, "c", ST_PREV, 0, 3, 1, 1, 1, &err),
          "'v'", "'c'", "out_c = 0");
    FAILS("net-5.15 conv out_c < 0", net, st_net_conv(net, "c", ST_PREV, -4, 3, 1, 1, 1, &err),
          "'c'", "out_c = -4");
    FAILS("net-5.16 conv out_c too large", net,
          st_net_conv(net, "c", ST_PREV, 16777217, 1, 1, 0, 1, &err), "'c'", "out_c = 16777217",
          "[1, 16777216]");
    FAILS("net-5.17 conv k = 0", net, st_net_conv(net, "c", ST_PREV, 8, 0, 1, 1, 1, &err), "'c'",
          "k_h = 0");
    FAILS("net-5.18 conv_ex k_w < 0", net,
          st_net_conv_ex(net, "c", ST_PREV, 8, 3, -2, 1, 1, 1, 1, 1, 1, 1, &err), "'c'",
          "k_w = -2");
    FAILS("net-5.19 conv stride = 0", net, st_net_conv(net, "c", ST_PREV, 8, 3, 0, 1, 1, &err),
          "'c'", "stride_h = 0");
    FAILS("net-5.20 conv_ex stride_w < 0", net,
          st_net_conv_ex(net, "c", ST_PREV, 8, 3, 3, 1, -1, 1, 1, 1, 1, 1, &err), "'c'",
          "stride_w = -1");
    FAILS("net-5.21 conv pad < 0", net, st_net_conv(net, "c", ST_PREV, 8, 3, 1, -1, 1, &err), "'c'",
          "pad_top = -1");
    FAILS("net-5.22 conv_ex pad_right < 0", net,
          st_net_conv_ex(net, "c", ST_PREV, 8, 3, 3, 1, 1, 1, 1, 1, -2, 1, &err), "'c'",
          "pad_right = -2");
    FAILS("net-5.23 groups = 0", net, st_net_conv(net, "c", ST_PREV, 8, 3, 1, 1, 0, &err), "'c'",
          "groups = 0");
    FAILS("net-5.24 groups do not divide in_c", net,
          st_net_conv(net, "c", ST_PREV, 12, 3, 1, 1, 3, &err), "'c'", "groups = 3", "in_c = 8");
    FAILS("net-5.25 groups do not divide out_c", net,
          st_net_conv(net, "c", ST_PREV, 6, 3, 1, 1, 4, &err), "'c'", "groups = 4", "out_c = 6");
    FAILS("net-5.26 kernel larger than padded input", net,
          st_net_conv(net, "conv3", ST_PREV, 8, 9, 1, 0, 1, &err), "'v'", "'conv3'",
          "kernel 9x9 larger than padded input 4x4");
    FAILS("net-5.27 conv_ex kernel wider than padded input", net,
          st_net_conv_ex(net, "c", ST_PREV, 8, 3, 7, 1, 1, 0, 0, 1, 1, 1, &err), "'c'",
          "kernel 3x7 larger than padded input 4x6");
    FAILS("net-5.28 fc features = 0", net, st_net_fc(net, "fc", ST_PREV, 0, &err), "'v'", "'fc'",
          "features = 0");
    FAILS("net-5.29 fc features < 0", net, st_net_fc(net, "fc", ST_PREV, -10, &err), "'fc'",
          "features = -10");
    FAILS("net-5.30 pool of a non-pool kind", net,
          st_net_pool(net, "p", ST_PREV, ST_RELU, 2, 2, 0, &err), "'p'", "'relu'",
          "not a pooling kind");
    FAILS("net-5.31 pool k = 0", net, st_net_pool(net, "p", ST_PREV, ST_MAXPOOL, 0, 2, 0, &err),
          "'p'", "k = 0");
    FAILS("net-5.32 pool stride = 0", net,
          st_net_pool(net, "p", ST_PREV, ST_AVGPOOL, 2, 0, 0, &err), "'p'", "stride = 0");
    FAILS("net-5.33 pool pad < 0", net, st_net_pool(net, "p", ST_PREV, ST_MAXPOOL, 3, 1, -1, &err),
          "'p'", "pad = -1");
    FAILS("net-5.34 pool pad over half the kernel", net,
          st_net_pool(net, "p", ST_PREV, ST_MAXPOOL, 3, 1, 2, &err), "'p'", "pad = 2", "k = 3");
    FAILS("net-5.35 pool kernel larger than padded input", net,
          st_net_pool(net, "pool", ST_PREV, ST_MAXPOOL, 7, 1, 1, &err), "'v'", "'pool'",
          "kernel 7x7 larger than padded input 6x6");
    r = st_net_pool(net, "half", ST_PREV, ST_MAXPOOL, 2, 2, 0, &err); /* 8x2x2 */
    ok(r == 1 && shape_is(st_net_layer(net, 1), 8, 2, 2), "net-5.36 pool 2/2 of 4x4 gives 2x2");
    FAILS("net-5.37 add of different shapes", net, st_net_add(net, "add", 0, 1, &err), "'v'",
          "'add'", "8x4x4", "8x2x2");
    FAILS("net-5.38 add with unknown src1", net, st_net_add(net, "add", 0, 9, &err), "'add'",
          "src1 = 9");
    FAILS("net-5.39 add with unknown src0", net, st_net_add(net, "add", 7, 0, &err), "'add'",
          "src = 7");
    r = st_net_fc(net, "fc", 0, 10, &err);
    ok(r == 2 && st_net_layer(net, 2)->in_c == 128, "net-5.40 fc on 8x4x4 flattens 128 inputs");

    FAILS("net-5.41 conv on a NULL network", NULL,
          st_net_conv(NULL, "c", ST_PREV, 8, 3, 1, 1, 1, &err), "'c'", "network is NULL");
    FAILS("net-5.42 fc on a NULL network", NULL, st_net_fc(NULL, "f", -1, 8, &err), "'f'",
          "network is NULL");
    FAILS("net-5.43 pool on a NULL network", NULL,
          st_net_pool(NULL, "p", -1, ST_MAXPOOL, 2, 2, 0, &err), "'p'", "network is NULL");
    FAILS("net-5.44 relu on a NULL network", NULL, st_net_relu(NULL, "r", -1, &err), "'r'",
          "network is NULL");
    FAILS("net-5.45 add on a NULL network", NULL, st_net_add(NULL, "a", -1, -1, &err), "'a'",
          "network is NULL");
    FAILS("net-5.46 gap on a NULL network", NULL, st_net_gap(NULL, "g", -1, &err), "'g'",
          "network is NULL");
    r = st_net_finish(NULL, &err);
    ok(r == ST_EINVAL && MSG_OK(err, "network is NULL"), "net-5.47 finish of a NULL network");
    st_net_destroy(&net);

    /* Size bounds: 2^16 x 2^12 x 2^12 is 2^40 input elements, the limit. */
    r = st_net_create("big", 1 << 16, 1 << 12, 1 << 12, &big, &err);
    ok(r == 0, "net-5.48 a 2^40-element input is accepted");
    FAILS("net-5.49 output too large", big,
          st_net_conv(big, "wide", ST_PREV, 1 << 17, 1, 1, 0, 1, &err), "'big'", "'wide'",
          "131072x4096x4096", "elements");
    FAILS("net-5.50 fc input too large to flatten", big, st_net_fc(big, "fcbig", ST_PREV, 16, &err),
          "'fcbig'", "65536x4096x4096", "at most 16777216 can be flattened");
    /* 3x3 p1, 2^16 -> 2^16 channels on 4096x4096: 9 * 2^56 MACs; a second
     * one takes the network over 2^60. */
    r = st_net_conv(big, "huge1", ST_PREV, 1 << 16, 3, 1, 1, 1, &err);
    ok(r == 0 && st_net_macs(big, ST_FP) == 9ull << 56, "net-5.51 9*2^56 MACs accepted");
    FAILS("net-5.52 network MACs above 2^60", big,
          st_net_conv(big, "huge2", ST_PREV, 1 << 16, 3, 1, 1, 1, &err), "'big'", "'huge2'",
          "1152921504606846976");
    st_net_destroy(&big);

    /* 2^24 -> 2^24 channels, 1x1: 2^48 weights, over the 2^40 bound. */
    st_net_create("deep", 1 << 24, 1, 1, &big, &err);
    FAILS("net-5.53 too many weights", big,
          st_net_conv(big, "dense", ST_PREV, 1 << 24, 1, 1, 0, 1, &err), "'deep'", "'dense'",
          "more than 1099511627776 weights");
    st_net_destroy(&big);
}

/* A convolution that reads its own input (the rows of an imported list). */
static void test_conv_at(void)
{
    st_net *net = NULL;
    const st_layer *l;
    st_err err;
    int r;

    st_net_create("list", 3, 8, 8, &net, &err);
    st_net_conv(net, "c0", ST_PREV, 4, 3, 1, 1, 1, &err);
    /* 16x10x9 input, 3x2 kernel, stride 2x3, bottom/right padding 1 and 2:
     * out_h = (10 + 1 - 3) / 2 + 1 = 5, out_w = (9 + 2 - 2) / 3 + 1 = 4. */
    r = st_net_conv_at(net, "row2", 16, 10, 9, 32, 3, 2, 2, 3, 0, 1, 0, 2, &err);
    st_net_finish(net, &err);
    l = st_net_layer(net, 1);
    ok(r == 1 && l && l->src[0] == -1 && l->in_c == 16 && l->in_h == 10 && l->in_w == 9 &&
           shape_is(l, 32, 5, 4) && l->groups == 1 && l->pad_b == 1 && l->pad_r == 2,
       "net-5.60 conv_at: own 16x10x9 input, src -1, output 32x5x4");
    ok(l && l->first == 1 && st_layer_macs(l, ST_BP) == 0 &&
           st_layer_macs(l, ST_FP) == 32ull * 5 * 4 * 16 * 3 * 2 &&
           st_layer_macs_valid(l, ST_FP) == brute_valid(l),
       "net-5.61 conv_at: first, FP = 32*5*4*16*3*2, valid = brute force");
    FAILS("net-5.62 conv_at in_c = 0", net,
          st_net_conv_at(net, "r", 0, 4, 4, 8, 1, 1, 1, 1, 0, 0, 0, 0, &err), "'list'", "'r'",
          "in_c = 0");
    FAILS("net-5.63 conv_at in_w < 0", net,
          st_net_conv_at(net, "r", 2, 4, -4, 8, 1, 1, 1, 1, 0, 0, 0, 0, &err), "'r'", "in_w = -4");
    FAILS("net-5.64 conv_at input too large", net,
          st_net_conv_at(net, "r", 1 << 20, 1 << 20, 2, 8, 1, 1, 1, 1, 0, 0, 0, 0, &err), "'r'",
          "1048576x1048576x2", "elements");
    FAILS("net-5.65 conv_at kernel larger than padded input", net,
          st_net_conv_at(net, "r", 2, 4, 4, 8, 6, 5, 1, 1, 0, 1, 0, 1, &err), "'r'",
          "kernel 6x5 larger than padded input 5x5");
    FAILS("net-5.66 conv_at stride = 0", net,
          st_net_conv_at(net, "r", 2, 4, 4, 8, 1, 1, 0, 1, 0, 0, 0, 0, &err), "'r'",
          "stride_h = 0");
    FAILS("net-5.67 conv_at duplicate name", net,
          st_net_conv_at(net, "row2", 2, 4, 4, 8, 1, 1, 1, 1, 0, 0, 0, 0, &err), "'row2'",
          "already used by layer 1");
    FAILS("net-5.68 conv_at on a NULL network", NULL,
          st_net_conv_at(NULL, "r", 2, 4, 4, 8, 1, 1, 1, 1, 0, 0, 0, 0, &err), "'r'",
          "network is NULL");
    st_net_destroy(&net);
}

/* A ReLU fed from upstream, and the convolution behind it (an imported row that does not
 * chain to the one before). */
static void test_relu_at(void)
{
    st_net *net = NULL;
    const st_layer *u, *l, *p;
    st_err err;
    int r, c;

    st_net_create("list", 3, 8, 8, &net, &err);
    st_net_conv(net, "c0", ST_PREV, 4, 3, 1, 1, 1, &err);
    r = st_net_relu_at(net, "in1", 6, 10, 9, &err);
    c = st_net_conv(net, "c1", ST_PREV, 8, 3, 1, 0, 1, &err);
    /* A ReLU straight on the network input, for contrast: its consumer is first. */
    st_net_relu(net, "r_in", -1, &err);
    st_net_conv(net, "c2", ST_PREV, 2, 1, 1, 0, 1, &err);
    st_net_finish(net, &err);
    u = st_net_layer(net, 1), l = st_net_layer(net, 2), p = st_net_layer(net, 4);
    ok(r == 1 && c == 2 && u && u->kind == ST_RELU && u->src[0] == ST_UPSTREAM && u->in_c == 6 &&
           u->in_h == 10 && u->in_w == 9 && shape_is(u, 6, 10, 9) && l && l->in_c == 6 &&
           shape_is(l, 8, 8, 7),
       "net-5.70 relu_at: a 6x10x9 ReLU from upstream; c1 reads it, 8x8x7");
    ok(l && l->first == 0 && l->pre == ST_OP_RELU &&
           st_layer_macs(l, ST_BP) == 8ull * 8 * 7 * 6 * 9 && p && p->first == 1 &&
           st_layer_macs(p, ST_BP) == 0,
       "net-5.71 behind relu_at: not first, BP = 8*8*7*6*9; behind a ReLU of the input: first");
    FAILS("net-5.72 relu_at c = 0", net, st_net_relu_at(net, "r", 0, 4, 4, &err), "'list'", "'r'",
          "c = 0");
    FAILS("net-5.73 relu_at w < 0", net, st_net_relu_at(net, "r", 2, 4, -4, &err), "'r'", "w = -4");
    FAILS("net-5.74 relu_at tensor too large", net,
          st_net_relu_at(net, "r", 1 << 20, 1 << 20, 2, &err), "'r'", "1048576x1048576x2",
          "elements");
    FAILS("net-5.75 relu_at duplicate name", net, st_net_relu_at(net, "in1", 2, 4, 4, &err),
          "'in1'", "already used by layer 1");
    FAILS("net-5.76 relu_at on a NULL network", NULL, st_net_relu_at(NULL, "r", 2, 4, 4, &err),
          "'r'", "network is NULL");
    st_net_destroy(&net);
}

/* -------------------------------------------------------------- built-ins */

static void test_builtins(void)
{
    const char *const *names = st_net_builtin_names();
    static const char *const want[] = {"alexnet",  "vgg16",      "resnet18",     "resnet34",
                                       "resnet50", "fmnist-cnn", "fmnist-resnet"};
    int count = 0, same = 1;
    st_net *net = NULL;
    st_err err;
    int r;

    while (names[count])
        count++;
    for (int i = 0; i < count && i < 7; i++)
        same = same && !strcmp(names[i], want[i]);
    ok(count == 7 && same, "net-6.1 the seven built-in names, in order");

    for (int i = 0; i < count; i++) {
        int unique = 1, input_ok;
        r = st_net_builtin(names[i], &net, &err);
        for (int a = 0; net && a < st_net_count(net); a++)
            for (int b = a + 1; b < st_net_count(net); b++)
                if (!strcmp(st_net_layer(net, a)->name, st_net_layer(net, b)->name))
                    unique = 0;
        input_ok = net && st_net_count(net) > 0 && !strcmp(st_net_name(net), names[i]) &&
                   st_net_layer(net, 0)->in_c == (i >= 5 ? 1 : 3) &&
                   st_net_layer(net, 0)->in_h == (i >= 5   ? 28
                                                  : i == 0 ? 227
                                                           : 224);
        ok(r == 0 && unique && input_ok,
           "net-6.2.%d %s builds, named, right input, unique layer names", i, names[i]);
        st_net_destroy(&net);
        ok(net == NULL, "net-6.3.%d destroy sets the pointer to NULL", i);
    }
    st_net_destroy(&net);
    st_net_destroy(NULL);

    net = (st_net *)&err; /* any non-NULL value: must be reset on failure */
    r = st_net_builtin("resnet19", &net, &err);
    ok(r == ST_EINVAL && net == NULL &&
           MSG_OK(err, "unknown network 'resnet19'",
                  "known: alexnet, vgg16, resnet18, resnet34, "
                  "resnet50, fmnist-cnn, fmnist-resnet"),
       "net-6.4 unknown built-in lists the known names");
    if (r != ST_EINVAL)
        diag("  %s", err.msg);
    r = st_net_builtin(NULL, &net, &err);
    ok(r == ST_EINVAL && net == NULL && MSG_OK(err, "unknown network '(null)'"),
       "net-6.5 NULL built-in name");
    r = st_net_builtin("alexnet", NULL, &err);
    ok(r == ST_EINVAL && MSG_OK(err, "out is NULL"), "net-6.6 builtin: out NULL");
}

static void test_names(void)
{
    static const char *const kinds[ST_KIND_COUNT] = {"conv", "fc", "maxpool", "avgpool",
                                                     "relu", "bn", "add",     "gap"};
    int good = 1;

    for (int k = 0; k < ST_KIND_COUNT; k++)
        good = good && !strcmp(st_kind_name((st_kind)k), kinds[k]) &&
               st_kind_is_compute((st_kind)k) == (k == ST_CONV || k == ST_FC);
    ok(good && !strcmp(st_kind_name(ST_KIND_COUNT), "unknown"),
       "net-7.1 kind names; only CONV and FC are compute");
    ok(!strcmp(st_phase_name(ST_FP), "fp") && !strcmp(st_phase_name(ST_BP), "bp") &&
           !strcmp(st_phase_name(ST_WG), "wg") && !strcmp(st_phase_name(ST_PHASE_COUNT), "unknown"),
       "net-7.2 phase names");
    ok(st_net_count(NULL) == 0 && st_net_layer(NULL, 0) == NULL && st_net_name(NULL) == NULL &&
           st_layer_macs(NULL, ST_FP) == 0 && st_layer_macs_valid(NULL, ST_FP) == 0 &&
           st_net_macs(NULL, ST_FP) == 0,
       "net-7.3 accessors accept NULL");
    {
        st_net *net = builtin("fmnist-cnn");
        ok(st_net_layer(net, -1) == NULL && st_net_layer(net, st_net_count(net)) == NULL &&
               st_layer_macs(st_net_layer(net, 0), (st_phase)7) == 0,
           "net-7.4 out-of-range layer index and phase");
        st_net_destroy(&net);
    }
}

int main(void)
{
    /* The plan is printed at the end; nothing here is skipped. */
    (void)tap_plan;
    (void)skip;
    test_totals();
    test_layers();
    test_phases();
    test_valid();
    test_finish();
    test_errors();
    test_conv_at();
    test_relu_at();
    test_builtins();
    test_names();
    return tap_done();
}
