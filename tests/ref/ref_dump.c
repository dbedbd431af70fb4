/*
 * ref_dump.c - random tiny cases for the engine's independent reference
 * (tests/ref/ref_engine.py): a network, a design point and the zero masks of
 * every layer drawn from a seed, the engine run on them, all printed as one
 * JSON document per line. The reference, not this program, decides what is
 * right: nothing here computes an expected value.
 *
 *   ref_dump SEED [COUNT]   cases SEED .. SEED + COUNT - 1, one per line
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

/* ------------------------------------------------------------ random draws */

/* splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014): enough for drawing test cases. */
typedef struct draw {
    uint64_t s;
} draw;

static uint64_t draw_next(draw *d)
{
    uint64_t z = (d->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double draw_unit(draw *d)
{
    return (double)(draw_next(d) >> 11) * 0x1.0p-53;
}

/* A uniform integer in [lo, hi]. */
static int draw_int(draw *d, int lo, int hi)
{
    return lo + (int)(draw_next(d) % (uint64_t)(hi - lo + 1));
}

/* 1 with probability p. */
static int draw_bool(draw *d, double p)
{
    return draw_unit(d) < p;
}

/* ------------------------------------------------------------------ masks */

/* The masks of one case: for compute layer li and image b, act[li][b] and
 * grad[li][b], 0/1 bytes in the layout of st_layer_masks. */
typedef struct case_masks {
    int nlayers, batch;
    uint8_t **act, **grad; /* nlayers x batch, NULL for non-compute layers */
} case_masks;

static void masks_free(case_masks *cm)
{
    for (int i = 0; cm->act && i < cm->nlayers * cm->batch; i++) {
        free(cm->act[i]);
        free(cm->grad[i]);
    }
    free(cm->act);
    free(cm->grad);
    memset(cm, 0, sizeof *cm);
}

/* Fill n positions, in rows of `row` positions, with a random density:
 * 0, 1 or uniform, and some rows all zero or all one. */
static void masks_fill(draw *d, uint8_t *m, size_t n, size_t row)
{
    int kind = draw_int(d, 0, 5);
    double dens = kind == 0 ? 0 : kind == 1 ? 1 : draw_unit(d);

    for (size_t r0 = 0; r0 < n; r0 += row) {
        size_t r1 = r0 + row < n ? r0 + row : n;
        double rd = draw_bool(d, 0.1) ? 0 : draw_bool(d, 0.1) ? 1 : dens;
        for (size_t i = r0; i < r1; i++)
            m[i] = (uint8_t)(rd >= 1 || (rd > 0 && draw_unit(d) < rd));
    }
}

static int masks_make(draw *d, const st_net *net, int batch, case_masks *cm)
{
    int n = st_net_count(net);

    cm->nlayers = n, cm->batch = batch;
    cm->act = calloc((size_t)n * batch, sizeof *cm->act);
    cm->grad = calloc((size_t)n * batch, sizeof *cm->grad);
    if (!cm->act || !cm->grad)
        return ST_ENOMEM;
    for (int li = 0; li < n; li++) {
        const st_layer *l = st_net_layer(net, li);
        size_t na = st_layer_in_elems(l), ng = st_layer_out_elems(l);
        size_t ra = l->kind == ST_FC ? 8 : (size_t)l->in_w,
               rg = l->kind == ST_FC ? 8 : (size_t)l->out_w;
        if (!st_kind_is_compute(l->kind))
            continue;
        for (int b = 0; b < batch; b++) {
            uint8_t **a = &cm->act[li * batch + b], **g = &cm->grad[li * batch + b];
            if (!(*a = malloc(na)) || !(*g = malloc(ng)))
                return ST_ENOMEM;
            masks_fill(d, *a, na, ra);
            masks_fill(d, *g, ng, rg);
        }
    }
    return 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        uint8_t *p = realloc(*buf, n);
        if (!p)
            return ST_ENOMEM;
        *buf = p;
        *cap = n;
    }
    return 0;
}

static double density(const uint8_t *m, size_t n)
{
    size_t z = 0;

    for (size_t i = 0; i < n; i++)
        z += m[i];
    return n ? (double)z / (double)n : 1;
}

/* The mask source of the engine: the case's masks, whole (exact fidelity
 * reads every row). */
static int case_src(void *ctx, const st_net *net, int layer, int image, const uint8_t *aw,
                    const uint8_t *gw, st_layer_masks *m, st_err *err)
{
    const case_masks *cm = ctx;
    const st_layer *l = st_net_layer(net, layer);
    size_t na = st_layer_in_elems(l), ng = st_layer_out_elems(l);
    const uint8_t *a = cm->act[layer * cm->batch + image], *g = cm->grad[layer * cm->batch + image];

    (void)aw, (void)gw;
    if (!a || !g)
        return st_err_set(err, ST_EINVAL, "ref_dump: no masks for layer %d image %d", layer, image);
    if (grow(&m->act_in, &m->act_cap, na) || grow(&m->grad, &m->grad_cap, ng))
        return st_err_set(err, ST_ENOMEM, "ref_dump: out of memory");
    memcpy(m->act_in, a, na);
    memcpy(m->grad, g, ng);
    m->layer = layer;
    m->act_density = density(a, na);
    m->grad_density = m->grad_density_natural = density(g, ng);
    m->tau = 0;
    return 0;
}

/* -------------------------------------------------------------- the case */

/* A random tiny network: 1 to 3 convolutions (shapes, strides 1-3, padding
 * per side, kernel widths around kreg_len, groups), ReLU or max pooling
 * after some, and FC layers at the end in most cases. */
static int net_make(draw *d, st_net **out, st_err *err)
{
    st_net *net = NULL;
    /* one case in six is wide: rows of more than 64 positions span words */
    int wide = draw_bool(d, 1.0 / 6);
    int c = draw_int(d, 1, 4), h = draw_int(d, 1, wide ? 3 : 9),
        w = draw_int(d, 1, wide ? 150 : 12);
    int nconv = draw_int(d, 1, 3), nfc = draw_int(d, 0, 2), rc;
    char name[32];

    if ((rc = st_net_create("ref", c, h, w, &net, err)) != 0)
        goto done;
    for (int i = 0; i < nconv; i++) {
        const st_layer *prev = st_net_layer(net, st_net_count(net) - 1);
        int in_c = prev ? prev->out_c : c, in_h = prev ? prev->out_h : h;
        int in_w = prev ? prev->out_w : w;
        int groups = 1, out_c, kh, kw, sh, sw, pt, pb, pl, pr;
        if (in_c > 1 && draw_bool(d, 0.3))
            groups = in_c % 2 == 0 && draw_bool(d, 0.5) ? 2 : in_c;
        out_c = groups * draw_int(d, 1, groups > 2 ? 2 : 4);
        kh = draw_int(d, 1, in_h + 1 < 4 ? in_h + 1 : 4);
        kw = draw_int(d, 1, in_w + 1 < 7 ? in_w + 1 : 7);
        sh = draw_int(d, 1, 3), sw = draw_int(d, 1, 3);
        pt = draw_int(d, 0, 2), pb = draw_int(d, 0, 2), pl = draw_int(d, 0, 2),
        pr = draw_int(d, 0, 2);
        if (kh > in_h + pt + pb)
            pb = kh - in_h - pt;
        if (kw > in_w + pl + pr)
            pr = kw - in_w - pl;
        snprintf(name, sizeof name, "conv%d", i + 1);
        if ((rc = st_net_conv_ex(net, name, ST_PREV, out_c, kh, kw, sh, sw, pt, pb, pl, pr, groups,
                                 err)) < 0)
            goto done;
        if (draw_bool(d, 0.5)) {
            snprintf(name, sizeof name, "relu%d", i + 1);
            if ((rc = st_net_relu(net, name, ST_PREV, err)) < 0)
                goto done;
        }
        prev = st_net_layer(net, st_net_count(net) - 1);
        if (prev->out_h >= 2 && prev->out_w >= 2 && draw_bool(d, 0.3)) {
            snprintf(name, sizeof name, "pool%d", i + 1);
            if ((rc = st_net_pool(net, name, ST_PREV, ST_MAXPOOL, 2, 2, 0, err)) < 0)
                goto done;
        }
    }
    for (int i = 0; i < nfc; i++) {
        snprintf(name, sizeof name, "fc%d", i + 1);
        if ((rc = st_net_fc(net, name, ST_PREV, draw_int(d, 1, 12), err)) < 0)
            goto done;
        if (i + 1 < nfc && (rc = st_net_relu(net, "relu_fc", ST_PREV, err)) < 0)
            goto done;
    }
    if ((rc = st_net_finish(net, err)) != 0)
        goto done;
    *out = net;
    net = NULL;
    rc = 0;
done:
    st_net_destroy(&net);
    return rc < 0 ? rc : 0;
}

/* A random design point of a tiny array; buffers from very small (the
 * streamed window does not fit: refetch) to roomy. */
static void point_make(draw *d, int batch, st_point *pt)
{
    st_point_init(pt);
    pt->batch = batch;
    pt->pe_rows = draw_int(d, 1, 5);
    pt->pe_cols = draw_int(d, 1, 5);
    pt->kreg_len = draw_int(d, 1, 6);
    pt->oreg_len = draw_bool(d, 0.2) ? draw_int(d, 1, 100) : draw_int(d, 1, 8);
    pt->macs_per_pe = draw_int(d, 1, 3);
    pt->step_overhead = draw_int(d, 0, 2);
    pt->sync = draw_bool(d, 0.5) ? ST_SYNC_FIFO : ST_SYNC_LOCKSTEP;
    pt->fifo_depth = draw_int(d, 1, 4);
    pt->skip_fp_stream = draw_bool(d, 0.75);
    pt->skip_bp_stream = draw_bool(d, 0.75);
    pt->skip_bp_output = draw_bool(d, 0.75);
    pt->skip_wg_stream = draw_bool(d, 0.75);
    pt->skip_wg_operand = draw_bool(d, 0.75);
    pt->format = draw_int(d, 0, 2) == 0 ? ST_FMT_OFFSET
                 : draw_bool(d, 0.5)    ? ST_FMT_BITMAP
                                        : ST_FMT_AUTO;
    /* widths that move the break-even density of the formats */
    pt->data_bits = draw_bool(d, 0.5) ? 16 : draw_int(d, 1, 32);
    pt->index_bits = draw_bool(d, 0.5) ? 8 : draw_int(d, 1, 16);
    pt->psum_bits = pt->data_bits + draw_int(d, 0, 16);
    pt->relu_density = 0.05 * draw_int(d, 1, 20);
    /* DRAM from far slower than the array to far faster */
    pt->dram_gbps = 0.01 * draw_int(d, 1, 3000);
    pt->dram_latency_ns = draw_bool(d, 0.3) ? 0 : draw_int(d, 0, 500);
    pt->clock_mhz = 100.0 * draw_int(d, 1, 20);
    pt->ch0_kib = 0.0625 * draw_int(d, 1, 64);
    pt->ch1_kib = 0.0625 * draw_int(d, 1, 64);
    pt->ch2_kib = 0.0625 * draw_int(d, 1, 64);
    pt->fidelity = ST_FID_EXACT;
}

/* -------------------------------------------------------------- printing */

static void print_point(FILE *f, const st_point *pt)
{
    int n;
    const st_param *rows = st_params(&n);
    char buf[64];

    fputc('{', f);
    for (int i = 0; i < n; i++) {
        double v = 0;
        st_point_get(pt, rows[i].name, &v, NULL);
        if (rows[i].type == ST_PT_ENUM) {
            st_point_format(pt, &rows[i], buf, sizeof buf);
            fprintf(f, "%s\"%s\": \"%s\"", i ? ", " : "", rows[i].name, buf);
        } else {
            fprintf(f, "%s\"%s\": %.17g", i ? ", " : "", rows[i].name, v);
        }
    }
    fputc('}', f);
}

static void print_net(FILE *f, const st_net *net)
{
    fputc('[', f);
    for (int i = 0; i < st_net_count(net); i++) {
        const st_layer *l = st_net_layer(net, i);
        fprintf(f,
                "%s{\"name\": \"%s\", \"kind\": \"%s\", \"compute\": %d, \"in\": [%d, %d, %d], "
                "\"out\": [%d, %d, %d], \"k\": [%d, %d], \"stride\": [%d, %d], "
                "\"pad\": [%d, %d, %d, %d], \"groups\": %d, \"src\": [%d, %d], \"pre\": %u, "
                "\"post\": %u, \"first\": %d, \"macs_valid\": [%" PRIu64 ", %" PRIu64 ", %" PRIu64
                "]}",
                i ? ", " : "", l->name, st_kind_name(l->kind), st_kind_is_compute(l->kind), l->in_c,
                l->in_h, l->in_w, l->out_c, l->out_h, l->out_w, l->k_h, l->k_w, l->stride_h,
                l->stride_w, l->pad_t, l->pad_b, l->pad_l, l->pad_r, l->groups, l->src[0],
                l->src[1], l->pre, l->post, l->first, st_layer_macs_valid(l, ST_FP),
                st_layer_macs_valid(l, ST_BP), st_layer_macs_valid(l, ST_WG));
    }
    fputc(']', f);
}

static void print_bits(FILE *f, const uint8_t *m, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fputc(m[i] ? '1' : '0', f);
    fputc('"', f);
}

static void print_masks(FILE *f, const st_net *net, const case_masks *cm)
{
    int k = 0;

    fputc('[', f);
    for (int li = 0; li < cm->nlayers; li++) {
        const st_layer *l = st_net_layer(net, li);
        if (!st_kind_is_compute(l->kind))
            continue;
        fprintf(f, "%s{\"layer\": %d, \"act\": [", k++ ? ", " : "", li);
        for (int b = 0; b < cm->batch; b++) {
            fputs(b ? ", " : "", f);
            print_bits(f, cm->act[li * cm->batch + b], st_layer_in_elems(l));
        }
        fputs("], \"grad\": [", f);
        for (int b = 0; b < cm->batch; b++) {
            fputs(b ? ", " : "", f);
            print_bits(f, cm->grad[li * cm->batch + b], st_layer_out_elems(l));
        }
        fputs("]}", f);
    }
    fputc(']', f);
}

static void print_u64s(FILE *f, const uint64_t *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%" PRIu64, i ? ", " : "", v[i]);
    fputc(']', f);
}

static void print_phase(FILE *f, const st_phase_stats *s)
{
    fprintf(f,
            "{\"compute_cycles\": %" PRIu64 ", \"stall_cycles\": %" PRIu64
            ", \"dense_macs\": %" PRIu64 ", \"useful_macs\": %" PRIu64 ", \"sram_rd\": ",
            s->compute_cycles, s->stall_cycles, s->dense_macs, s->useful_macs);
    print_u64s(f, s->sram_rd, 3);
    fputs(", \"sram_wr\": ", f);
    print_u64s(f, s->sram_wr, 3);
    fprintf(f,
            ", \"dram_bytes\": %" PRIu64 ", \"dram_floor_bytes\": %" PRIu64
            ", \"order\": \"%s\", \"rounds\": %d, \"store\": [\"%s\", \"%s\", \"%s\"], "
            "\"pes\": [%d, %d], \"energy_pj\": {",
            s->dram_bytes, s->dram_floor_bytes, st_order_name(s->order), s->rounds,
            st_store_name(s->store[0]), st_store_name(s->store[1]), st_store_name(s->store[2]),
            s->pe_rows, s->pe_cols);
    for (int e = 0; e < ST_E_COUNT; e++)
        fprintf(f, "%s\"%s\": %.17g", e ? ", " : "", st_ecomp_name((st_ecomp)e), s->energy_pj[e]);
    fputs("}}", f);
}

static void print_result(FILE *f, const st_result *res)
{
    fputc('[', f);
    for (int i = 0; i < res->nlayers; i++) {
        const st_layer_stats *ls = &res->layers[i];
        fprintf(f, "%s{\"layer\": %d", i ? ", " : "", ls->layer);
        for (int dense = 0; dense < 2; dense++) {
            fprintf(f, ", \"%s\": {", dense ? "dense" : "run");
            for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
                fprintf(f, "%s\"%s\": ", ph ? ", " : "", st_phase_name((st_phase)ph));
                print_phase(f, dense ? &ls->dense[ph] : &ls->run[ph]);
            }
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputc(']', f);
}

/* The point of run s of a case: under lock-step (s = 0) and FIFO
 * synchronisation (1); for one seed in four (seed % 4 = 1) a third run
 * lets the mapper use smaller arrays (pe_subarrays), under lock-step or
 * FIFO by the seed. */
static st_point run_point(const st_point *pt, uint64_t seed, int s)
{
    st_point q = *pt;

    q.sync = (s == 2 ? seed / 4 % 2 == 1 : s == 1) ? ST_SYNC_FIFO : ST_SYNC_LOCKSTEP;
    q.pe_subarrays = s == 2;
    return q;
}

/* Draw case `seed`, run the engine on it under both synchronisations (and
 * with smaller arrays, run_point) and print the document. A point whose
 * buffers are too small for a layer is drawn again with every buffer
 * doubled. */
static int one_case(uint64_t seed, FILE *f, st_err *err)
{
    draw d = {seed * 0x2545f4914f6cdd1dull + 1};
    st_net *net = NULL;
    case_masks cm = {0};
    st_result res[3];
    st_point pt, q;
    int batch, rc, tries = 0, nruns = seed % 4 == 1 ? 3 : 2;

    for (int s = 0; s < 3; s++)
        st_result_init(&res[s]);
    if ((rc = net_make(&d, &net, err)) != 0)
        goto done;
    batch = draw_int(&d, 1, 3);
    if ((rc = masks_make(&d, net, batch, &cm)) != 0) {
        st_err_set(err, rc, "ref_dump: out of memory for the masks");
        goto done;
    }
    point_make(&d, batch, &pt);
    for (;;) {
        for (int s = 0; s < nruns; s++) {
            q = run_point(&pt, seed, s);
            if ((rc = st_sim_run_src(net, &q, case_src, &cm, &res[s], err)) != 0)
                break;
        }
        if (rc == 0 || rc != ST_EINVAL || !strstr(err->msg, "too small") || ++tries > 12)
            break;
        pt.ch0_kib *= 2, pt.ch1_kib *= 2, pt.ch2_kib *= 2;
    }
    if (rc != 0)
        goto done;
    fprintf(f, "{\"seed\": %" PRIu64 ", \"batch\": %d, \"net\": ", seed, batch);
    print_net(f, net);
    fputs(", \"masks\": ", f);
    print_masks(f, net, &cm);
    fputs(", \"runs\": [", f);
    for (int s = 0; s < nruns; s++) {
        q = run_point(&pt, seed, s);
        fputs(s ? ", {\"point\": " : "{\"point\": ", f);
        print_point(f, &q);
        fputs(", \"layers\": ", f);
        print_result(f, &res[s]);
        fputc('}', f);
    }
    fputs("]}\n", f);
done:
    for (int s = 0; s < 3; s++)
        st_result_fini(&res[s]);
    masks_free(&cm);
    st_net_destroy(&net);
    return rc;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

int main(int argc, char **argv)
{
    uint64_t seed, count = 1;
    st_err err;

    st_err_clear(&err);
    if (argc < 2 || argc > 3 || !parse_u64(argv[1], &seed) ||
        (argc == 3 && (!parse_u64(argv[2], &count) || count == 0))) {
        fprintf(stderr, "usage: ref_dump SEED [COUNT]  (SEED >= 0, COUNT >= 1: integers)\n");
        return 2;
    }
    for (uint64_t i = 0; i < count; i++)
        if (one_case(seed + i, stdout, &err) != 0) {
            fprintf(stderr, "ref_dump: case %" PRIu64 ": %s\n", seed + i, err.msg);
            return 1;
        }
    return fflush(stdout) == 0 ? 0 : 1;
}
