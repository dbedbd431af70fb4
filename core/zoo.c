/*
 * zoo.c - the built-in networks: AlexNet, VGG-16, ResNet-18/34/50 with their
 * ImageNet shapes, and the two small 28x28 networks the trainer runs.
 * Shapes and checks come from net.c; this file only lists layers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "st.h"

/* A builder threads the first error through a sequence of appends, so that
 * a network reads as a list of layers. After a failure every call is a
 * no-op returning the same code. Layer names are printf formats. */
typedef struct zoo {
    st_net *net;
    st_err *err;
    int rc;
} zoo;

static int zoo_name(zoo *z, char *buf, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, ST_NAME_MAX, fmt, ap);

    /* A name that does not fit would be truncated, and could clash: fail
     * instead (only a mistake in this file can cause it). */
    if (n < 0 || n >= ST_NAME_MAX)
        z->rc = st_err_set(z->err, ST_EINVAL, "network '%s': layer name '%s...' too long",
                           st_net_name(z->net), buf);
    return z->rc;
}

/* Record the result of one append; return the layer index or the error. */
static int zoo_keep(zoo *z, int r)
{
    if (r < 0)
        z->rc = r;
    return r;
}

static int zconv(zoo *z, int src, int out_c, int k, int stride, int pad, int groups,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 8, 9)))
#endif
    ;
static int zconv(zoo *z, int src, int out_c, int k, int stride, int pad, int groups,
                 const char *fmt, ...)
{
    char name[ST_NAME_MAX];
    va_list ap;
    int r = z->rc;

    if (z->rc < 0)
        goto done;
    va_start(ap, fmt);
    zoo_name(z, name, fmt, ap);
    va_end(ap);
    if (z->rc < 0)
        goto done;
    r = zoo_keep(z, st_net_conv(z->net, name, src, out_c, k, stride, pad, groups, z->err));
done:
    return r;
}

/* One of the shape-keeping or one-parameter kinds: kind selects the append.
 * `arg` is the feature count of an FC layer; pools take theirs from zpool. */
static int zop(zoo *z, st_kind kind, int src, int arg, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int zop(zoo *z, st_kind kind, int src, int arg, const char *fmt, ...)
{
    char name[ST_NAME_MAX];
    va_list ap;
    int r = z->rc;

    if (z->rc < 0)
        goto done;
    va_start(ap, fmt);
    zoo_name(z, name, fmt, ap);
    va_end(ap);
    if (z->rc < 0)
        goto done;
    switch (kind) {
    case ST_FC:
        r = st_net_fc(z->net, name, src, arg, z->err);
        break;
    case ST_RELU:
        r = st_net_relu(z->net, name, src, z->err);
        break;
    case ST_BN:
        r = st_net_bn(z->net, name, src, z->err);
        break;
    case ST_GAP:
        r = st_net_gap(z->net, name, src, z->err);
        break;
    case ST_ADD:
        r = st_net_add(z->net, name, src, arg, z->err);
        break;
    default:
        r = st_err_set(z->err, ST_EINVAL, "zop: kind '%s' not handled", st_kind_name(kind));
        break;
    }
    zoo_keep(z, r);
done:
    return r;
}

static int zpool(zoo *z, st_kind kind, int k, int stride, int pad, const char *name)
{
    int r = z->rc;

    if (r == 0)
        r = zoo_keep(z, st_net_pool(z->net, name, ST_PREV, kind, k, stride, pad, z->err));
    return r;
}

/* AlexNet as in Krizhevsky et al., NIPS 2012, in the single-tower form of
 * Caffe's bvlc_reference/bvlc_alexnet: 227x227 input, conv2, conv4 and conv5
 * in two groups (the two GPUs of the paper). Local response normalisation
 * and dropout are not modelled: LRN is no MAC-array work and dropout's zeros
 * are a training-time choice, not part of the layer list. */
static void build_alexnet(zoo *z)
{
    zconv(z, ST_PREV, 96, 11, 4, 0, 1, "conv1");
    zop(z, ST_RELU, ST_PREV, 0, "relu1");
    zpool(z, ST_MAXPOOL, 3, 2, 0, "pool1");
    zconv(z, ST_PREV, 256, 5, 1, 2, 2, "conv2");
    zop(z, ST_RELU, ST_PREV, 0, "relu2");
    zpool(z, ST_MAXPOOL, 3, 2, 0, "pool2");
    zconv(z, ST_PREV, 384, 3, 1, 1, 1, "conv3");
    zop(z, ST_RELU, ST_PREV, 0, "relu3");
    zconv(z, ST_PREV, 384, 3, 1, 1, 2, "conv4");
    zop(z, ST_RELU, ST_PREV, 0, "relu4");
    zconv(z, ST_PREV, 256, 3, 1, 1, 2, "conv5");
    zop(z, ST_RELU, ST_PREV, 0, "relu5");
    zpool(z, ST_MAXPOOL, 3, 2, 0, "pool5");
    zop(z, ST_FC, ST_PREV, 4096, "fc6");
    zop(z, ST_RELU, ST_PREV, 0, "relu6");
    zop(z, ST_FC, ST_PREV, 4096, "fc7");
    zop(z, ST_RELU, ST_PREV, 0, "relu7");
    zop(z, ST_FC, ST_PREV, 1000, "fc8");
}

/* VGG-16, configuration D of Simonyan & Zisserman, ICLR 2015, Table 1:
 * 3x3 convolutions with padding 1, each followed by ReLU, five 2x2 max
 * pools of stride 2, then three FC layers. Names follow Caffe's model. */
static void build_vgg16(zoo *z)
{
    static const int convs[5] = {2, 2, 3, 3, 3};
    static const int width[5] = {64, 128, 256, 512, 512};
    char pool[16];

    for (int s = 0; s < 5; s++) {
        for (int i = 1; i <= convs[s]; i++) {
            zconv(z, ST_PREV, width[s], 3, 1, 1, 1, "conv%d_%d", s + 1, i);
            zop(z, ST_RELU, ST_PREV, 0, "relu%d_%d", s + 1, i);
        }
        snprintf(pool, sizeof pool, "pool%d", s + 1);
        zpool(z, ST_MAXPOOL, 2, 2, 0, pool);
    }
    zop(z, ST_FC, ST_PREV, 4096, "fc6");
    zop(z, ST_RELU, ST_PREV, 0, "relu6");
    zop(z, ST_FC, ST_PREV, 4096, "fc7");
    zop(z, ST_RELU, ST_PREV, 0, "relu7");
    zop(z, ST_FC, ST_PREV, 1000, "fc8");
}

/* The projection shortcut of a block whose shape changes: a 1x1 convolution
 * of stride `stride` and a BN (He et al., CVPR 2016, option B). Returns the
 * index of the shortcut's output: `in` itself when no projection is needed. */
static int shortcut(zoo *z, const char *p, int in, int in_c, int out_c, int stride)
{
    if (in_c == out_c && stride == 1)
        return in;
    zconv(z, in, out_c, 1, stride, 0, 1, "%s.downsample.0", p);
    return zop(z, ST_BN, ST_PREV, 0, "%s.downsample.1", p);
}

/* A basic block (two 3x3 convolutions), torchvision's BasicBlock. `in` is the
 * block's input layer; returns the block's output layer. */
static int basic_block(zoo *z, const char *p, int in, int in_c, int out_c, int stride)
{
    int trunk, sc;

    zconv(z, in, out_c, 3, stride, 1, 1, "%s.conv1", p);
    zop(z, ST_BN, ST_PREV, 0, "%s.bn1", p);
    zop(z, ST_RELU, ST_PREV, 0, "%s.relu1", p);
    zconv(z, ST_PREV, out_c, 3, 1, 1, 1, "%s.conv2", p);
    trunk = zop(z, ST_BN, ST_PREV, 0, "%s.bn2", p);
    sc = shortcut(z, p, in, in_c, out_c, stride);
    zop(z, ST_ADD, trunk, sc, "%s.add", p);
    return zop(z, ST_RELU, ST_PREV, 0, "%s.relu2", p);
}

/* A bottleneck block, 1x1 - 3x3 - 1x1 with expansion 4, in torchvision's
 * "ResNet v1.5" form: the stride sits on the 3x3 convolution, not on the
 * first 1x1 as in the original paper. */
static int bottleneck(zoo *z, const char *p, int in, int in_c, int width, int stride)
{
    int trunk, sc;

    zconv(z, in, width, 1, 1, 0, 1, "%s.conv1", p);
    zop(z, ST_BN, ST_PREV, 0, "%s.bn1", p);
    zop(z, ST_RELU, ST_PREV, 0, "%s.relu1", p);
    zconv(z, ST_PREV, width, 3, stride, 1, 1, "%s.conv2", p);
    zop(z, ST_BN, ST_PREV, 0, "%s.bn2", p);
    zop(z, ST_RELU, ST_PREV, 0, "%s.relu2", p);
    zconv(z, ST_PREV, 4 * width, 1, 1, 0, 1, "%s.conv3", p);
    trunk = zop(z, ST_BN, ST_PREV, 0, "%s.bn3", p);
    sc = shortcut(z, p, in, in_c, 4 * width, stride);
    zop(z, ST_ADD, trunk, sc, "%s.add", p);
    return zop(z, ST_RELU, ST_PREV, 0, "%s.relu3", p);
}

/* ResNet of He et al., CVPR 2016, Table 1: a 7x7/2 stem with a 3x3/2 max
 * pool, four stages of `blocks[s]` blocks at widths 64..512 (the first block
 * of stages 2-4 has stride 2), global average pooling and a 1000-way FC.
 * Every convolution is followed by BN (Ioffe & Szegedy 2015) as in the paper. */
static void build_resnet(zoo *z, const int blocks[4], int use_bottleneck)
{
    int x, c = 64;
    char p[32];

    zconv(z, ST_PREV, 64, 7, 2, 3, 1, "conv1");
    zop(z, ST_BN, ST_PREV, 0, "bn1");
    zop(z, ST_RELU, ST_PREV, 0, "relu");
    x = zpool(z, ST_MAXPOOL, 3, 2, 1, "maxpool");
    for (int s = 0; s < 4; s++) {
        int width = 64 << s;
        for (int b = 0; b < blocks[s]; b++) {
            int stride = (s > 0 && b == 0) ? 2 : 1;
            snprintf(p, sizeof p, "layer%d.%d", s + 1, b);
            if (use_bottleneck) {
                x = bottleneck(z, p, x, c, width, stride);
                c = 4 * width;
            } else {
                x = basic_block(z, p, x, c, width, stride);
                c = width;
            }
        }
    }
    zop(z, ST_GAP, ST_PREV, 0, "avgpool");
    zop(z, ST_FC, ST_PREV, 1000, "fc");
}

static void build_resnet18(zoo *z)
{
    static const int blocks[4] = {2, 2, 2, 2};
    build_resnet(z, blocks, 0);
}

static void build_resnet34(zoo *z)
{
    static const int blocks[4] = {3, 4, 6, 3};
    build_resnet(z, blocks, 0);
}

static void build_resnet50(zoo *z)
{
    static const int blocks[4] = {3, 4, 6, 3};
    build_resnet(z, blocks, 1);
}

/* The trainer's Conv-ReLU-Pool network for 1x28x28 images: two 5x5
 * convolutions (16 and 32 channels, padding 2), each followed by ReLU and a
 * 2x2 max pool, then FC 128, ReLU, FC 10. */
static void build_fmnist_cnn(zoo *z)
{
    zconv(z, ST_PREV, 16, 5, 1, 2, 1, "conv1");
    zop(z, ST_RELU, ST_PREV, 0, "relu1");
    zpool(z, ST_MAXPOOL, 2, 2, 0, "pool1");
    zconv(z, ST_PREV, 32, 5, 1, 2, 1, "conv2");
    zop(z, ST_RELU, ST_PREV, 0, "relu2");
    zpool(z, ST_MAXPOOL, 2, 2, 0, "pool2");
    zop(z, ST_FC, ST_PREV, 128, "fc1");
    zop(z, ST_RELU, ST_PREV, 0, "relu3");
    zop(z, ST_FC, ST_PREV, 10, "fc2");
}

/* The trainer's Conv-BN-ReLU residual network for 1x28x28 images: a 3x3
 * stem of 16 channels, one basic block at 16 channels, one at 32 with
 * stride 2 and a projection shortcut, global average pooling, FC 10. */
static void build_fmnist_resnet(zoo *z)
{
    int x;

    zconv(z, ST_PREV, 16, 3, 1, 1, 1, "conv1");
    zop(z, ST_BN, ST_PREV, 0, "bn1");
    x = zop(z, ST_RELU, ST_PREV, 0, "relu");
    x = basic_block(z, "layer1.0", x, 16, 16, 1);
    basic_block(z, "layer2.0", x, 16, 32, 2);
    zop(z, ST_GAP, ST_PREV, 0, "avgpool");
    zop(z, ST_FC, ST_PREV, 10, "fc");
}

/* The table of built-in networks; the order is that of st_net_builtin_names. */
typedef struct zoo_entry {
    const char *name;
    int c, h, w;
    void (*build)(zoo *z);
} zoo_entry;

static const zoo_entry zoo_table[] = {
    {"alexnet", 3, 227, 227, build_alexnet},           {"vgg16", 3, 224, 224, build_vgg16},
    {"resnet18", 3, 224, 224, build_resnet18},         {"resnet34", 3, 224, 224, build_resnet34},
    {"resnet50", 3, 224, 224, build_resnet50},         {"fmnist-cnn", 1, 28, 28, build_fmnist_cnn},
    {"fmnist-resnet", 1, 28, 28, build_fmnist_resnet},
};

#define ZOO_COUNT ((int)(sizeof zoo_table / sizeof zoo_table[0]))

const char *const *st_net_builtin_names(void)
{
    static const char *const names[ZOO_COUNT + 1] = {"alexnet",       "vgg16",    "resnet18",
                                                     "resnet34",      "resnet50", "fmnist-cnn",
                                                     "fmnist-resnet", NULL};
    return names;
}

int st_net_builtin(const char *name, st_net **out, st_err *err)
{
    const zoo_entry *e = NULL;
    zoo z = {NULL, err, 0};
    char known[256];
    size_t used = 0;
    int rc = ST_OK;

    if (out)
        *out = NULL;
    if (!out) {
        rc = st_err_set(err, ST_EINVAL, "st_net_builtin: out is NULL");
        goto done;
    }
    for (int i = 0; i < ZOO_COUNT && name; i++)
        if (!strcmp(zoo_table[i].name, name))
            e = &zoo_table[i];
    if (!e) {
        known[0] = '\0';
        for (int i = 0; i < ZOO_COUNT && used < sizeof known; i++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                                     zoo_table[i].name);
        rc = st_err_set(err, ST_EINVAL, "unknown network '%s' (known: %s)", name ? name : "(null)",
                        known);
        goto done;
    }
    if ((rc = st_net_create(e->name, e->c, e->h, e->w, &z.net, err)) != 0)
        goto done;
    e->build(&z);
    if ((rc = z.rc) < 0 || (rc = st_net_finish(z.net, err)) != 0)
        goto done;
    *out = z.net;
    z.net = NULL;
done:
    st_net_destroy(&z.net);
    return rc;
}
