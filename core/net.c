/*
 * net.c - networks as lists of layers: appending with shape checks, the graph
 * pass that finds the ops around each compute layer, and dense MAC counts.
 * The built-in networks live in zoo.c, the SCALE-Sim importer in topo.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

/* Bounds that keep every count within 64-bit integers: a dimension (channels,
 * rows, kernel, stride, padding) is at most NET_DIM_MAX, a tensor at most
 * NET_ELEMS_MAX elements, and the conventional FP MACs of a whole network at
 * most NET_MACS_MAX (the other phases and the valid counts never exceed FP). */
#define NET_DIM_MAX   (1 << 24)
#define NET_ELEMS_MAX (1ull << 40)
#define NET_MACS_MAX  (1ull << 60)

struct st_net {
    char *name;
    int in_c, in_h, in_w; /* the network input */
    int n, cap;
    st_layer *layers;
    uint64_t macs_fp; /* running sum of st_layer_macs(FP), kept under NET_MACS_MAX */
    /* The layer names as an open-addressing hash set of index + 1 (0: empty), so that the
     * duplicate check costs O(1) and building a network O(layers). */
    int *slot;
    size_t nslot; /* a power of two, at least twice n */
    /* Who reads each layer's output, indexed by st_net_finish for the first cons_n layers:
     * layer t's readers are cons[cons_first[t] .. cons_first[t + 1]), in increasing order. */
    int *cons_first, *cons;
    int cons_n;
};

/* FNV-1a of a layer name. */
static size_t name_hash(const char *name)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * UINT64_C(1099511628211);
    return (size_t)(h ^ (h >> 32));
}

/* The index of the layer called name, or -1. */
static int name_find(const st_net *net, const char *name)
{
    if (!net->nslot)
        return -1;
    for (size_t k = name_hash(name) & (net->nslot - 1); net->slot[k];
         k = (k + 1) & (net->nslot - 1))
        if (!strcmp(net->layers[net->slot[k] - 1].name, name))
            return net->slot[k] - 1;
    return -1;
}

/* Make room in the name set for one more layer. ST_ENOMEM leaves the set as it was. */
static int name_reserve(st_net *net, st_err *err)
{
    size_t cap;
    int *slot;

    if (2 * ((size_t)net->n + 1) <= net->nslot)
        return ST_OK;
    cap = net->nslot ? 2 * net->nslot : 64;
    slot = calloc(cap, sizeof *slot);
    if (!slot)
        return st_err_set(err, ST_ENOMEM, "network '%s': out of memory for layer names", net->name);
    for (int i = 0; i < net->n; i++) {
        size_t k = name_hash(net->layers[i].name) & (cap - 1);
        while (slot[k])
            k = (k + 1) & (cap - 1);
        slot[k] = i + 1;
    }
    free(net->slot);
    net->slot = slot;
    net->nslot = cap;
    return ST_OK;
}

/* a * b, or UINT64_MAX when the product does not fit. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return (a != 0 && b > UINT64_MAX / a) ? UINT64_MAX : a * b;
}

/* Fill err with "network 'N': layer 'L': <message>" and return ST_EINVAL. */
static int layer_fail(const st_net *net, const char *layer, st_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int layer_fail(const st_net *net, const char *layer, st_err *err, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return st_err_set(err, ST_EINVAL, "network '%s': layer '%s': %s", net->name, layer, what);
}

/* Check that `what` = v lies in [lo, hi]. */
static int check_range(const st_net *net, const char *layer, const char *what, int v, int lo,
                       int hi, st_err *err)
{
    int rc = 0;

    if (v < lo || v > hi)
        rc = layer_fail(net, layer, err, "%s = %d: must be in [%d, %d]", what, v, lo, hi);
    return rc;
}

int st_net_create(const char *name, int c, int h, int w, st_net **out, st_err *err)
{
    st_net *net = NULL;
    const char *what[3] = {"c", "h", "w"};
    int dim[3] = {c, h, w};
    int rc = ST_OK;

    if (out)
        *out = NULL;
    if (!out) {
        rc = st_err_set(err, ST_EINVAL, "st_net_create: out is NULL");
        goto done;
    }
    if (!name || !*name) {
        rc = st_err_set(err, ST_EINVAL, "network name is %s", name ? "empty" : "NULL");
        goto done;
    }
    for (int i = 0; i < 3; i++) {
        if (dim[i] < 1 || dim[i] > NET_DIM_MAX) {
            rc = st_err_set(err, ST_EINVAL, "network '%s': input %s = %d: must be in [1, %d]", name,
                            what[i], dim[i], NET_DIM_MAX);
            goto done;
        }
    }
    if (mul_sat(mul_sat((uint64_t)c, (uint64_t)h), (uint64_t)w) > NET_ELEMS_MAX) {
        rc = st_err_set(err, ST_EINVAL, "network '%s': input %dx%dx%d has more than %llu elements",
                        name, c, h, w, (unsigned long long)NET_ELEMS_MAX);
        goto done;
    }
    net = calloc(1, sizeof *net);
    if (!net || !(net->name = strdup(name))) {
        rc = st_err_set(err, ST_ENOMEM, "network '%s': out of memory", name);
        goto done;
    }
    net->in_c = c;
    net->in_h = h;
    net->in_w = w;
    *out = net;
    net = NULL;
done:
    st_net_destroy(&net);
    return rc;
}

void st_net_destroy(st_net **net)
{
    if (!net || !*net)
        return;
    free((*net)->layers);
    free((*net)->slot);
    free((*net)->cons_first);
    free((*net)->cons);
    free((*net)->name);
    free(*net);
    *net = NULL;
}

/* Check the name of a new layer: present, short enough for st_layer.name,
 * and not used by another layer (names are how users and reports refer to
 * layers). */
static int check_name(const st_net *net, const char *name, st_err *err)
{
    size_t len;
    int rc = 0;

    if (!name || !*name) {
        rc = st_err_set(err, ST_EINVAL, "network '%s': layer %d: name is %s", net->name, net->n,
                        name ? "empty" : "NULL");
        goto done;
    }
    len = strlen(name);
    if (len >= ST_NAME_MAX) {
        rc = layer_fail(net, name, err, "name is %zu characters long: must be at most %d", len,
                        ST_NAME_MAX - 1);
        goto done;
    }
    if (net->n >= ST_NET_LAYERS_MAX) {
        rc = layer_fail(net, name, err, "a network has at most %d layers", ST_NET_LAYERS_MAX);
        goto done;
    }
    if (name_find(net, name) >= 0)
        rc = layer_fail(net, name, err, "name already used by layer %d", name_find(net, name));
done:
    return rc;
}

/* Resolve a source index (ST_PREV is the last layer, or the network input
 * while the network is empty) into *out; `what` names the argument. */
static int resolve_src(const st_net *net, const char *name, const char *what, int src, int *out,
                       st_err *err)
{
    int rc = 0;

    if (src == ST_PREV)
        src = net->n - 1;
    if (src < -1 || src >= net->n)
        rc = layer_fail(net, name, err,
                        "%s = %d: no such layer (have %d; -1 is the input, ST_PREV the last)", what,
                        src, net->n);
    else
        *out = src;
    return rc;
}

/* Start a new layer in l: check the name and the source, take the source's
 * output shape as the input and the output, and neutral values (1x1 kernel,
 * stride 1, no padding, one group) elsewhere. */
static int layer_begin(const st_net *net, const char *name, int src, st_kind kind, st_layer *l,
                       st_err *err)
{
    int rc;

    if ((rc = check_name(net, name, err)) != 0 ||
        (rc = resolve_src(net, name, "src", src, &src, err)) != 0)
        goto done;
    memset(l, 0, sizeof *l);
    memcpy(l->name, name, strlen(name) + 1);
    l->kind = kind;
    l->src[0] = src;
    l->src[1] = -1;
    if (src < 0) {
        l->in_c = net->in_c, l->in_h = net->in_h, l->in_w = net->in_w;
    } else {
        const st_layer *s = &net->layers[src];
        l->in_c = s->out_c, l->in_h = s->out_h, l->in_w = s->out_w;
    }
    l->out_c = l->in_c, l->out_h = l->in_h, l->out_w = l->in_w;
    l->k_h = l->k_w = 1;
    l->stride_h = l->stride_w = 1;
    l->groups = 1;
done:
    return rc;
}

/* Set l's output size for a sliding window (convolution or pooling) whose
 * kernel, stride and padding are already in l and checked to be in range,
 * or fail when the kernel does not fit in the padded input:
 * out = floor((in + pad_before + pad_after - k) / stride) + 1. */
static int window_output(const st_net *net, st_layer *l, st_err *err)
{
    long long ph = (long long)l->in_h + l->pad_t + l->pad_b;
    long long pw = (long long)l->in_w + l->pad_l + l->pad_r;
    int rc = 0;

    if (l->k_h > ph || l->k_w > pw) {
        rc = layer_fail(net, l->name, err, "kernel %dx%d larger than padded input %lldx%lld",
                        l->k_h, l->k_w, ph, pw);
    } else {
        l->out_h = (int)((ph - l->k_h) / l->stride_h + 1);
        l->out_w = (int)((pw - l->k_w) / l->stride_w + 1);
    }
    return rc;
}

/* Check the sizes of a finished layer against the NET_* bounds and append
 * it; return its index. The network changes only when everything succeeded. */
static int layer_push(st_net *net, const st_layer *l, st_err *err)
{
    uint64_t macs = st_layer_macs(l, ST_FP);
    int rc;

    if (st_layer_out_elems(l) > NET_ELEMS_MAX) {
        rc = layer_fail(net, l->name, err, "output %dx%dx%d has more than %llu elements", l->out_c,
                        l->out_h, l->out_w, (unsigned long long)NET_ELEMS_MAX);
        goto done;
    }
    if (st_layer_weights(l) > NET_ELEMS_MAX) {
        rc = layer_fail(net, l->name, err, "more than %llu weights",
                        (unsigned long long)NET_ELEMS_MAX);
        goto done;
    }
    if (macs > NET_MACS_MAX - net->macs_fp) {
        rc = layer_fail(net, l->name, err, "%llu MACs per image would take the network above %llu",
                        (unsigned long long)macs, (unsigned long long)NET_MACS_MAX);
        goto done;
    }
    if ((rc = name_reserve(net, err)) != ST_OK)
        goto done;
    if (net->n == net->cap) {
        int cap = net->cap ? 2 * net->cap : 16;
        st_layer *grown = realloc(net->layers, (size_t)cap * sizeof *grown);
        if (!grown) {
            rc = st_err_set(err, ST_ENOMEM, "network '%s': layer '%s': out of memory", net->name,
                            l->name);
            goto done;
        }
        net->layers = grown;
        net->cap = cap;
    }
    net->layers[net->n] = *l;
    net->macs_fp += macs;
    {
        size_t k = name_hash(l->name) & (net->nslot - 1);
        while (net->slot[k])
            k = (k + 1) & (net->nslot - 1);
        net->slot[k] = net->n + 1;
    }
    rc = net->n++;
done:
    return rc;
}

int st_net_conv(st_net *net, const char *name, int src, int out_c, int k, int stride, int pad,
                int groups, st_err *err)
{
    return st_net_conv_ex(net, name, src, out_c, k, k, stride, stride, pad, pad, pad, pad, groups,
                          err);
}

/* The convolution parameters, in the order of st_net_conv_ex. */
enum { CV_OUT_C, CV_K_H, CV_K_W, CV_S_H, CV_S_W, CV_P_T, CV_P_B, CV_P_L, CV_P_R, CV_COUNT };

/* Check the parameters v[CV_*] and `groups` of a convolution whose input
 * shape is already in l, complete l and append it. */
static int conv_push(st_net *net, st_layer *l, const int v[CV_COUNT], int groups, st_err *err)
{
    static const char *const what[CV_COUNT] = {"out_c",      "k_h",      "k_w",
                                               "stride_h",   "stride_w", "pad_top",
                                               "pad_bottom", "pad_left", "pad_right"};
    int rc = 0;

    for (int i = 0; i < CV_COUNT && rc == 0; i++)
        rc = check_range(net, l->name, what[i], v[i], i < CV_P_T ? 1 : 0, NET_DIM_MAX, err);
    if (rc != 0)
        goto done;
    if (groups < 1 || l->in_c % groups != 0 || v[CV_OUT_C] % groups != 0) {
        rc = layer_fail(net, l->name, err,
                        "groups = %d: must be >= 1 and divide in_c = %d and out_c = %d", groups,
                        l->in_c, v[CV_OUT_C]);
        goto done;
    }
    l->out_c = v[CV_OUT_C];
    l->k_h = v[CV_K_H], l->k_w = v[CV_K_W];
    l->stride_h = v[CV_S_H], l->stride_w = v[CV_S_W];
    l->pad_t = v[CV_P_T], l->pad_b = v[CV_P_B], l->pad_l = v[CV_P_L], l->pad_r = v[CV_P_R];
    l->groups = groups;
    if ((rc = window_output(net, l, err)) != 0)
        goto done;
    rc = layer_push(net, l, err);
done:
    return rc;
}

int st_net_conv_ex(st_net *net, const char *name, int src, int out_c, int k_h, int k_w,
                   int stride_h, int stride_w, int pad_t, int pad_b, int pad_l, int pad_r,
                   int groups, st_err *err)
{
    const int v[CV_COUNT] = {out_c, k_h, k_w, stride_h, stride_w, pad_t, pad_b, pad_l, pad_r};
    st_layer l;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    if ((rc = layer_begin(net, name, src, ST_CONV, &l, err)) != 0)
        goto done;
    rc = conv_push(net, &l, v, groups, err);
done:
    return rc;
}

int st_net_conv_at(st_net *net, const char *name, int in_c, int in_h, int in_w, int out_c, int k_h,
                   int k_w, int stride_h, int stride_w, int pad_t, int pad_b, int pad_l, int pad_r,
                   st_err *err)
{
    const int v[CV_COUNT] = {out_c, k_h, k_w, stride_h, stride_w, pad_t, pad_b, pad_l, pad_r};
    st_layer l;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    /* src -1 marks "fed from outside": the layer then counts as `first`. */
    if ((rc = layer_begin(net, name, -1, ST_CONV, &l, err)) != 0 ||
        (rc = check_range(net, name, "in_c", in_c, 1, NET_DIM_MAX, err)) != 0 ||
        (rc = check_range(net, name, "in_h", in_h, 1, NET_DIM_MAX, err)) != 0 ||
        (rc = check_range(net, name, "in_w", in_w, 1, NET_DIM_MAX, err)) != 0)
        goto done;
    l.in_c = in_c, l.in_h = in_h, l.in_w = in_w;
    if (st_layer_in_elems(&l) > NET_ELEMS_MAX) {
        rc = layer_fail(net, name, err, "input %dx%dx%d has more than %llu elements", in_c, in_h,
                        in_w, (unsigned long long)NET_ELEMS_MAX);
        goto done;
    }
    rc = conv_push(net, &l, v, 1, err);
done:
    return rc;
}

int st_net_fc(st_net *net, const char *name, int src, int out_features, st_err *err)
{
    st_layer l;
    uint64_t flat;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    if ((rc = layer_begin(net, name, src, ST_FC, &l, err)) != 0)
        goto done;
    if ((rc = check_range(net, name, "features", out_features, 1, NET_DIM_MAX, err)) != 0)
        goto done;
    /* Flatten the source: an FC layer is a 1x1 convolution over a 1x1 input
     * of c*h*w channels, which is how the MAC array sees it. */
    flat = (uint64_t)l.in_c * (uint64_t)l.in_h * (uint64_t)l.in_w;
    if (flat > NET_DIM_MAX) {
        rc = layer_fail(net, name, err,
                        "input %dx%dx%d = %llu elements: at most %d can be flattened", l.in_c,
                        l.in_h, l.in_w, (unsigned long long)flat, NET_DIM_MAX);
        goto done;
    }
    l.in_c = (int)flat;
    l.in_h = l.in_w = 1;
    l.out_c = out_features;
    l.out_h = l.out_w = 1;
    rc = layer_push(net, &l, err);
done:
    return rc;
}

int st_net_pool(st_net *net, const char *name, int src, st_kind kind, int k, int stride, int pad,
                st_err *err)
{
    st_layer l;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    if ((rc = layer_begin(net, name, src, kind, &l, err)) != 0)
        goto done;
    if (kind != ST_MAXPOOL && kind != ST_AVGPOOL) {
        rc = layer_fail(net, name, err, "kind %d ('%s') is not a pooling kind (maxpool, avgpool)",
                        (int)kind, st_kind_name(kind));
        goto done;
    }
    if ((rc = check_range(net, name, "k", k, 1, NET_DIM_MAX, err)) != 0 ||
        (rc = check_range(net, name, "stride", stride, 1, NET_DIM_MAX, err)) != 0 ||
        (rc = check_range(net, name, "pad", pad, 0, NET_DIM_MAX, err)) != 0)
        goto done;
    /* A window lying wholly in the padding has nothing to pool; like the
     * common frameworks, padding is limited to half the kernel. */
    if (pad > k / 2) {
        rc = layer_fail(net, name, err, "pad = %d: must be at most half the kernel (k = %d)", pad,
                        k);
        goto done;
    }
    l.k_h = l.k_w = k;
    l.stride_h = l.stride_w = stride;
    l.pad_t = l.pad_b = l.pad_l = l.pad_r = pad;
    if ((rc = window_output(net, &l, err)) != 0)
        goto done;
    rc = layer_push(net, &l, err);
done:
    return rc;
}

/* Append a layer that keeps the shape of its source (ReLU, BN). */
static int net_elementwise(st_net *net, const char *name, int src, st_kind kind, st_err *err)
{
    st_layer l;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    if ((rc = layer_begin(net, name, src, kind, &l, err)) != 0)
        goto done;
    rc = layer_push(net, &l, err);
done:
    return rc;
}

int st_net_relu(st_net *net, const char *name, int src, st_err *err)
{
    return net_elementwise(net, name, src, ST_RELU, err);
}

int st_net_relu_at(st_net *net, const char *name, int c, int h, int w, st_err *err)
{
    st_layer l;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    if ((rc = layer_begin(net, name, -1, ST_RELU, &l, err)) != 0 ||
        (rc = check_range(net, name, "c", c, 1, NET_DIM_MAX, err)) != 0 ||
        (rc = check_range(net, name, "h", h, 1, NET_DIM_MAX, err)) != 0 ||
        (rc = check_range(net, name, "w", w, 1, NET_DIM_MAX, err)) != 0)
        goto done;
    l.src[0] = ST_UPSTREAM;
    l.in_c = l.out_c = c, l.in_h = l.out_h = h, l.in_w = l.out_w = w;
    if (st_layer_in_elems(&l) > NET_ELEMS_MAX) {
        rc = layer_fail(net, name, err, "tensor %dx%dx%d has more than %llu elements", c, h, w,
                        (unsigned long long)NET_ELEMS_MAX);
        goto done;
    }
    rc = layer_push(net, &l, err);
done:
    return rc;
}

int st_net_bn(st_net *net, const char *name, int src, st_err *err)
{
    return net_elementwise(net, name, src, ST_BN, err);
}

int st_net_add(st_net *net, const char *name, int src0, int src1, st_err *err)
{
    st_layer l;
    int in1, ih1, iw1;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    if ((rc = layer_begin(net, name, src0, ST_ADD, &l, err)) != 0 ||
        (rc = resolve_src(net, name, "src1", src1, &src1, err)) != 0)
        goto done;
    in1 = src1 < 0 ? net->in_c : net->layers[src1].out_c;
    ih1 = src1 < 0 ? net->in_h : net->layers[src1].out_h;
    iw1 = src1 < 0 ? net->in_w : net->layers[src1].out_w;
    if (l.in_c != in1 || l.in_h != ih1 || l.in_w != iw1) {
        rc = layer_fail(net, name, err,
                        "operands differ in shape: %dx%dx%d (src %d) and %dx%dx%d (src %d)", l.in_c,
                        l.in_h, l.in_w, l.src[0], in1, ih1, iw1, src1);
        goto done;
    }
    l.src[1] = src1;
    rc = layer_push(net, &l, err);
done:
    return rc;
}

int st_net_gap(st_net *net, const char *name, int src, st_err *err)
{
    st_layer l;
    int rc;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "layer '%s': network is NULL", name ? name : "(null)");
        goto done;
    }
    if ((rc = layer_begin(net, name, src, ST_GAP, &l, err)) != 0)
        goto done;
    /* The whole plane is one window. */
    l.k_h = l.in_h, l.k_w = l.in_w;
    l.out_h = l.out_w = 1;
    rc = layer_push(net, &l, err);
done:
    return rc;
}

/* The ST_OP_* flag of a non-compute kind. */
static unsigned kind_op(st_kind kind)
{
    switch (kind) {
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

/* Index who reads whom (cons_first, cons), for st_net_consumers. */
static int consumers_index(st_net *net, st_err *err)
{
    int *first = calloc((size_t)net->n + 1, sizeof *first);
    int *cons = malloc(2 * (size_t)net->n * sizeof *cons + sizeof *cons), *at = NULL;
    int rc = ST_OK;

    if (!first || !cons || !(at = malloc((size_t)net->n * sizeof *at))) {
        rc = st_err_set(err, ST_ENOMEM, "network '%s': out of memory", net->name);
        goto done;
    }
    /* Count, then place; a layer that reads t twice (add(t, t)) is listed once. */
    for (int j = 0; j < net->n; j++) {
        const st_layer *u = &net->layers[j];
        if (u->src[0] >= 0)
            first[u->src[0] + 1]++;
        if (u->kind == ST_ADD && u->src[1] >= 0 && u->src[1] != u->src[0])
            first[u->src[1] + 1]++;
    }
    for (int t = 0; t < net->n; t++) {
        first[t + 1] += first[t];
        at[t] = first[t];
    }
    for (int j = 0; j < net->n; j++) {
        const st_layer *u = &net->layers[j];
        if (u->src[0] >= 0)
            cons[at[u->src[0]]++] = j;
        if (u->kind == ST_ADD && u->src[1] >= 0 && u->src[1] != u->src[0])
            cons[at[u->src[1]]++] = j;
    }
    free(net->cons_first);
    free(net->cons);
    net->cons_first = first;
    net->cons = cons;
    net->cons_n = net->n;
    first = cons = NULL;
done:
    free(first);
    free(cons);
    free(at);
    return rc;
}

int st_net_consumers(const st_net *net, int t, const int **list)
{
    *list = NULL;
    if (!net || !net->cons_first || net->cons_n != net->n || t < 0 || t >= net->n)
        return -1;
    *list = net->cons + net->cons_first[t];
    return net->cons_first[t + 1] - net->cons_first[t];
}

int st_net_finish(st_net *net, st_err *err)
{
    unsigned char *plain = NULL;
    unsigned *pre = NULL, *down = NULL;
    int rc = ST_OK;

    if (!net) {
        rc = st_err_set(err, ST_EINVAL, "st_net_finish: network is NULL");
        goto done;
    }
    if (net->n == 0)
        goto done;
    plain = malloc((size_t)net->n);
    pre = malloc((size_t)net->n * sizeof *pre);
    down = calloc((size_t)net->n, sizeof *down);
    if (!plain || !pre || !down) {
        rc = st_err_set(err, ST_ENOMEM, "network '%s': out of memory", net->name);
        goto done;
    }
    /* Layers are stored in topological order (a source always has a smaller index), so
     * one forward sweep settles what flows down from the sources and one backward sweep
     * what flows up from the consumers: O(layers) in all.
     * plain[j]: every backward path from layer j's output reaches the network input
     * through non-compute layers other than BN. A compute layer fed that way is `first`:
     * nothing upstream needs its input gradient. A BN on the way would need that gradient
     * for its own gamma and beta, so it keeps BP alive, and so does an ST_UPSTREAM
     * source: layers outside the description compute it.
     * pre[j], for a non-compute j: the ops met walking back from j through src[0] until a
     * compute layer or the input. At an ADD the walk follows src[0] only: the builders
     * put the main branch there, and its ops (the BN before the add) decide the summed
     * tensor's zeros more than the shortcut's do. */
    for (int j = 0; j < net->n; j++) {
        const st_layer *c = &net->layers[j];
        int ok = !st_kind_is_compute(c->kind) && c->kind != ST_BN;
        for (int t = 0; t < 2 && ok; t++)
            if (c->src[t] == ST_UPSTREAM || (c->src[t] >= 0 && !plain[c->src[t]]))
                ok = 0;
        plain[j] = (unsigned char)ok;
        pre[j] = 0;
        if (!st_kind_is_compute(c->kind)) {
            int s = c->src[0];
            pre[j] = kind_op(c->kind) |
                     (s >= 0 && !st_kind_is_compute(net->layers[s].kind) ? pre[s] : 0);
        }
    }
    if ((rc = consumers_index(net, err)) != ST_OK)
        goto done;
    /* down[j]: the ops of every non-compute layer reachable from j's output without
     * crossing a compute layer, over all consumers and both operands of an ADD. */
    for (int j = net->n - 1; j >= 0; j--) {
        const st_layer *c = &net->layers[j];
        if (st_kind_is_compute(c->kind))
            continue;
        for (int t = 0; t < 2; t++)
            if (c->src[t] >= 0)
                down[c->src[t]] |= kind_op(c->kind) | down[j];
    }
    for (int i = 0; i < net->n; i++) {
        st_layer *l = &net->layers[i];
        int s = l->src[0];

        l->pre = l->post = 0;
        l->first = 0;
        if (!st_kind_is_compute(l->kind))
            continue;
        l->pre = s >= 0 && !st_kind_is_compute(net->layers[s].kind) ? pre[s] : 0;
        l->first = s == -1 || (s >= 0 && plain[s]);
        l->post = down[i];
    }
done:
    free(plain);
    free(pre);
    free(down);
    return rc;
}

const char *st_net_name(const st_net *net)
{
    return net ? net->name : NULL;
}

int st_net_count(const st_net *net)
{
    return net ? net->n : 0;
}

const st_layer *st_net_layer(const st_net *net, int i)
{
    if (!net || i < 0 || i >= net->n)
        return NULL;
    return &net->layers[i];
}

int st_kind_is_compute(st_kind kind)
{
    return kind == ST_CONV || kind == ST_FC;
}

const char *st_kind_name(st_kind kind)
{
    static const char *const names[ST_KIND_COUNT] = {"conv", "fc", "maxpool", "avgpool",
                                                     "relu", "bn", "add",     "gap"};
    if ((int)kind < 0 || kind >= ST_KIND_COUNT)
        return "unknown";
    return names[kind];
}

const char *st_phase_name(st_phase phase)
{
    static const char *const names[ST_PHASE_COUNT] = {"fp", "bp", "wg"};
    if ((int)phase < 0 || phase >= ST_PHASE_COUNT)
        return "unknown";
    return names[phase];
}

/* Does a compute layer do work in this phase? BP of a layer fed by the
 * network input computes a gradient nobody needs. */
static int phase_runs(const st_layer *l, st_phase phase)
{
    if (!l || !st_kind_is_compute(l->kind) || (int)phase < 0 || phase >= ST_PHASE_COUNT)
        return 0;
    return !(phase == ST_BP && l->first);
}

uint64_t st_layer_macs(const st_layer *l, st_phase phase)
{
    uint64_t taps;

    if (!phase_runs(l, phase))
        return 0;
    /* FP, BP and WG touch the same (output, input channel, tap) triples once
     * each: Z = W * A, dA = rot180(W) * dZ, dW = A (*) dZ. */
    if (l->kind == ST_FC)
        return mul_sat(st_layer_in_elems(l), (uint64_t)l->out_c);
    taps = (uint64_t)(l->in_c / l->groups) * (uint64_t)l->k_h * (uint64_t)l->k_w;
    return mul_sat(st_layer_out_elems(l), taps);
}

/* sum_{o=0}^{n-1} max(0, c + d*o) for d = +s or -s (s >= 1), n >= 0. */
static int64_t ramp_sum(int64_t n, int64_t c, int64_t d)
{
    int64_t lo, m;

    if (n <= 0)
        return 0;
    if (d < 0) {
        /* Decreasing terms: positive for o < c / |d|, i.e. the first
         * ceil(c / |d|) of them. */
        if (c <= 0)
            return 0;
        m = (c + -d - 1) / -d;
        if (m > n)
            m = n;
        return m * c + d * (m * (m - 1) / 2);
    }
    /* Increasing terms: positive from lo = floor(-c / d) + 1 on. */
    lo = c > 0 ? 0 : -c / d + 1;
    if (lo >= n)
        return 0;
    m = n - lo;
    return m * c + d * ((lo + n - 1) * m / 2);
}

/* Number of (output o, tap k) pairs, 0 <= o < n_out, 0 <= k < k_len, whose
 * input coordinate o*s + k - pad lies inside [0, n_in). The pairs that fall
 * before the input number sum_o clamp(pad - o*s, 0, k_len), those after it
 * sum_o clamp(o*s + k_len - (n_in + pad), 0, k_len); the two sets are
 * disjoint. clamp(x, 0, K) = max(0, x) - max(0, x - K) turns each into two
 * arithmetic series. */
static uint64_t valid_pairs(int n_in, int n_out, int k_len, int s, int pad)
{
    int64_t before = ramp_sum(n_out, pad, -s) - ramp_sum(n_out, (int64_t)pad - k_len, -s);
    int64_t c = (int64_t)k_len - n_in - pad;
    int64_t after = ramp_sum(n_out, c, s) - ramp_sum(n_out, c - k_len, s);

    return (uint64_t)((int64_t)n_out * k_len - before - after);
}

uint64_t st_layer_macs_valid(const st_layer *l, st_phase phase)
{
    uint64_t rows, cols, chans;

    if (!phase_runs(l, phase))
        return 0;
    if (l->kind == ST_FC)
        return st_layer_macs(l, phase);
    /* Asymmetric padding only changes the "after" side: the count depends
     * on the leading pad (pad_t, pad_l) and on out_* which already reflects
     * the trailing one. */
    rows = valid_pairs(l->in_h, l->out_h, l->k_h, l->stride_h, l->pad_t);
    cols = valid_pairs(l->in_w, l->out_w, l->k_w, l->stride_w, l->pad_l);
    chans = (uint64_t)l->out_c * (uint64_t)(l->in_c / l->groups);
    return mul_sat(mul_sat(rows, cols), chans);
}

uint64_t st_net_macs(const st_net *net, st_phase phase)
{
    uint64_t sum = 0;

    for (int i = 0; i < st_net_count(net); i++)
        sum += st_layer_macs(&net->layers[i], phase);
    return sum;
}

uint64_t st_layer_in_elems(const st_layer *l)
{
    if (!l)
        return 0;
    return mul_sat(mul_sat((uint64_t)l->in_c, (uint64_t)l->in_h), (uint64_t)l->in_w);
}

uint64_t st_layer_out_elems(const st_layer *l)
{
    if (!l)
        return 0;
    return mul_sat(mul_sat((uint64_t)l->out_c, (uint64_t)l->out_h), (uint64_t)l->out_w);
}

uint64_t st_layer_weights(const st_layer *l)
{
    if (!l)
        return 0;
    switch (l->kind) {
    case ST_CONV:
        return mul_sat((uint64_t)l->out_c * (uint64_t)(l->in_c / l->groups),
                       (uint64_t)l->k_h * (uint64_t)l->k_w);
    case ST_FC:
        return mul_sat(st_layer_in_elems(l), (uint64_t)l->out_c);
    case ST_BN:
        /* gamma and beta per channel; the running statistics are not trained */
        return 2 * (uint64_t)l->in_c;
    default:
        return 0;
    }
}
