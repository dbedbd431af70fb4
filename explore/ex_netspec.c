/*
 * ex_netspec.c - networks as plain data (a built-in name, a list of layer operations, or
 * the text of a layer list) that any process can turn into an st_net, and structural
 * fingerprints of networks.
 * The Lua syntax that produces the operations lives in ex_luamod.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

void ex_netspec_init(ex_netspec *s)
{
    memset(s, 0, sizeof *s);
}

void ex_netspec_fini(ex_netspec *s)
{
    if (!s)
        return;
    free(s->ops);
    free(s->csv_path);
    free(s->csv);
    memset(s, 0, sizeof *s);
}

int ex_netspec_set_csv(ex_netspec *s, const char *path, const char *text, size_t len, st_err *err)
{
    char *p = strdup(path), *t = malloc(len + 1);
    int rc = ST_OK;

    if (!p || !t) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory for %zu bytes", path, len);
        free(p);
        free(t);
        goto done;
    }
    memcpy(t, text, len);
    t[len] = '\0';
    free(s->csv_path);
    free(s->csv);
    s->csv_path = p;
    s->csv = t;
    s->csv_len = len;
done:
    return rc;
}

int ex_netspec_load_csv(ex_netspec *s, const char *path, st_err *err)
{
    char *text = NULL;
    size_t len = 0;
    st_net *net = NULL;
    int rc;

    if ((rc = st_topo_read_file(path, &text, &len, err)) != ST_OK ||
        (rc = st_topo_parse(path, text, len, &net, err)) != ST_OK ||
        (rc = ex_netspec_set_csv(s, path, text, len, err)) != ST_OK)
        goto done;
    snprintf(s->name, sizeof s->name, "%s", st_net_name(net));
    s->builtin = 0;
done:
    st_net_destroy(&net);
    free(text);
    return rc;
}

int ex_netspec_push(ex_netspec *s, const ex_netop *op, st_err *err)
{
    int rc = ST_OK;

    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        ex_netop *grown = realloc(s->ops, (size_t)cap * sizeof *grown);
        if (!grown) {
            rc = st_err_set(err, ST_ENOMEM, "network '%s': out of memory", s->name);
            goto done;
        }
        s->ops = grown;
        s->cap = cap;
    }
    s->ops[s->n++] = *op;
done:
    return rc;
}

static int op_add(st_net *net, const ex_netop *op, st_err *err)
{
    int rc = ST_EINVAL;

    switch (op->kind) {
    case ST_CONV:
        rc = st_net_conv(net, op->name, op->src[0], op->out, op->k, op->stride, op->pad, op->groups,
                         err);
        break;
    case ST_FC:
        rc = st_net_fc(net, op->name, op->src[0], op->out, err);
        break;
    case ST_MAXPOOL:
    case ST_AVGPOOL:
        rc = st_net_pool(net, op->name, op->src[0], op->kind, op->k, op->stride, op->pad, err);
        break;
    case ST_RELU:
        rc = st_net_relu(net, op->name, op->src[0], err);
        break;
    case ST_BN:
        rc = st_net_bn(net, op->name, op->src[0], err);
        break;
    case ST_ADD:
        rc = st_net_add(net, op->name, op->src[0], op->src[1], err);
        break;
    case ST_GAP:
        rc = st_net_gap(net, op->name, op->src[0], err);
        break;
    default:
        rc =
            st_err_set(err, ST_EINVAL, "layer '%s': kind %d is not known", op->name, (int)op->kind);
        break;
    }
    return rc < 0 ? rc : ST_OK;
}

int ex_netspec_build(const ex_netspec *s, st_net **out, int *bad_op, st_err *err)
{
    st_net *net = NULL;
    int rc;

    *out = NULL;
    *bad_op = -1;
    if (s->builtin) {
        rc = st_net_builtin(s->name, &net, err);
        goto done;
    }
    if (s->csv) {
        rc = st_topo_parse(s->csv_path, s->csv, s->csv_len, &net, err);
        goto done;
    }
    if ((rc = st_net_create(s->name, s->c, s->h, s->w, &net, err)) != 0)
        goto done;
    for (int i = 0; i < s->n; i++) {
        if ((rc = op_add(net, &s->ops[i], err)) != 0) {
            *bad_op = i;
            goto done;
        }
    }
    if (s->n == 0) {
        rc = st_err_set(err, ST_EINVAL, "network '%s' has no layers", s->name);
        goto done;
    }
    rc = st_net_finish(net, err);
done:
    if (rc == ST_OK) {
        *out = net;
        net = NULL;
    }
    st_net_destroy(&net);
    return rc;
}

const char *ex_netspec_source(const ex_netspec *s)
{
    return s->builtin ? "built-in" : s->csv ? "csv" : "lua";
}

uint64_t ex_net_fingerprint(const st_net *net)
{
    char text[512];
    int len = snprintf(text, sizeof text, "%s/%d", st_net_name(net), st_net_count(net));
    uint64_t h = ex_siphash(0, UINT64_C(0x6e6574), text,
                            (size_t)(len < (int)sizeof text ? len : (int)sizeof text - 1));

    /* Chain one hash per layer: no buffer the size of the network. */
    for (int i = 0; i < st_net_count(net); i++) {
        const st_layer *l = st_net_layer(net, i);
        len = snprintf(text, sizeof text,
                       "%s|%d|%d,%d,%d|%d,%d,%d|%d,%d|%d,%d|%d,%d,%d,%d|%d|%d,%d|%u,%u,%d", l->name,
                       (int)l->kind, l->in_c, l->in_h, l->in_w, l->out_c, l->out_h, l->out_w,
                       l->k_h, l->k_w, l->stride_h, l->stride_w, l->pad_t, l->pad_b, l->pad_l,
                       l->pad_r, l->groups, l->src[0], l->src[1], l->pre, l->post, l->first);
        h = ex_siphash(h, UINT64_C(0x6e6574), text,
                       (size_t)(len < (int)sizeof text ? len : (int)sizeof text - 1));
    }
    return h;
}

void ex_nets_fini(ex_nets *ns)
{
    if (!ns)
        return;
    for (int i = 0; i < ns->n; i++)
        st_net_destroy(&ns->net[i]);
    free(ns->net);
    free(ns->fp);
    memset(ns, 0, sizeof *ns);
}

int ex_nets_build(ex_nets *ns, const ex_netspec *specs, int n, int *bad_net, int *bad_op,
                  st_err *err)
{
    int rc = ST_OK;

    memset(ns, 0, sizeof *ns);
    *bad_net = *bad_op = -1;
    ns->net = calloc(n > 0 ? (size_t)n : 1, sizeof *ns->net);
    ns->fp = calloc(n > 0 ? (size_t)n : 1, sizeof *ns->fp);
    if (!ns->net || !ns->fp) {
        rc = st_err_set(err, ST_ENOMEM, "%d networks: out of memory", n);
        goto done;
    }
    for (; ns->n < n; ns->n++) {
        if ((rc = ex_netspec_build(&specs[ns->n], &ns->net[ns->n], bad_op, err)) != 0) {
            *bad_net = ns->n;
            goto done;
        }
        ns->fp[ns->n] = ex_net_fingerprint(ns->net[ns->n]);
    }
done:
    if (rc != ST_OK)
        ex_nets_fini(ns);
    return rc;
}
