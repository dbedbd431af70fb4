/*
 * stnet - print the workload table of a network: shapes, dense MACs per
 * phase, and the densities the sparsity model gives at a pruning rate.
 * The simulator itself is stsim; this program only describes the work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */

#define EXIT_USAGE 2

typedef struct options {
    const char *net;
    st_point
        pt; /* p, seed, grad_law, prune_skip_zeros, sparsity: the table's defaults and checks */
    long batch;
    long images;
    int csv;
} options;

/* "name in RANGE (default D)" of a parameter, from its row of the table. */
static void usage_param(FILE *f, const char *opt, const char *name, const char *what)
{
    const st_param *row = st_param_find(name);
    char range[96], def[64];
    st_point pt;

    st_point_init(&pt);
    st_param_format_range(row, range, sizeof range);
    st_point_format(&pt, row, def, sizeof def);
    fprintf(f, "  %-14s %s: %s (default %s)\n", opt, what, range, def);
}

static void usage(FILE *f)
{
    const char *const *names = st_net_builtin_names();

    fputs("usage: stnet [options] NETWORK|LAYERS.csv\n"
          "\n"
          "Print the layers of a network with their dense MAC counts per training\n"
          "phase (FP forward, BP input gradient, WG weight gradient) and the\n"
          "densities of the statistical sparsity model at pruning rate p.\n"
          "\n"
          "options:\n",
          f);
    usage_param(f, "--p P", "p", "gradient pruning rate");
    fputs("  --batch N      images per iteration, scales the MACs: [1, 1000000000] (default 1)\n"
          "  --images N     images the densities are averaged over: [1, 65535] (default 1)\n",
          f);
    usage_param(f, "--seed S", "seed", "seed of the sparsity model");
    usage_param(f, "--law L", "grad_law", "law of raw gradients");
    fputs("  --skip-zeros   leave exact zeros out of the pruning statistic\n"
          "  --calibrated   the calibrated model (sparsity=calibrated, docs/sparsity.md)\n"
          "  --csv          comma-separated output for machines\n"
          "  --list         list the built-in networks\n"
          "  --version      the version and git revision\n"
          "  -h, --help     this text\n"
          "\n"
          "--p, --seed and --law are the design-point parameters p, seed and\n"
          "grad_law (docs/parameters.md). NETWORK is a built-in name; a path\n"
          "ending in .csv is read as a SCALE-Sim layer list. Bad input exits\n"
          "with status 2.\n"
          "built-in networks:",
          f);
    for (; *names; names++)
        fprintf(f, " %s", *names);
    fputc('\n', f);
}

static int parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return (end == s || *end != '\0' || errno == ERANGE) ? -1 : 0;
}

/* Fill o from argv; print the problem and return EXIT_USAGE on bad input,
 * -1 when the program should stop successfully (help, list), 0 to go on. */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--version")) {
            printf("stnet %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
            return -1;
        } else if (!strcmp(a, "--list")) {
            for (const char *const *nm = st_net_builtin_names(); *nm; nm++)
                puts(*nm);
            return -1;
        } else if (!strcmp(a, "--csv")) {
            o->csv = 1;
        } else if (!strcmp(a, "--skip-zeros")) {
            o->pt.prune_skip_zeros = 1;
        } else if (!strcmp(a, "--calibrated")) {
            o->pt.sparsity = ST_SPARSITY_CALIBRATED;
        } else if (!strcmp(a, "--p") || !strcmp(a, "--batch") || !strcmp(a, "--images") ||
                   !strcmp(a, "--seed") || !strcmp(a, "--law")) {
            if (!v) {
                fprintf(stderr, "stnet: option %s needs a value\n", a);
                return EXIT_USAGE;
            }
            i++;
            if (!strcmp(a, "--p") || !strcmp(a, "--seed") || !strcmp(a, "--law")) {
                /* parameters of the table: its parser, bounds and message */
                st_err err;
                const char *name = !strcmp(a, "--law") ? "grad_law" : a + 2;
                st_err_clear(&err);
                if (st_point_set(&o->pt, name, v, &err) != 0) {
                    fprintf(stderr, "stnet: %s\n", err.msg);
                    return EXIT_USAGE;
                }
            } else if (parse_long(v, &n) || n < 1 || (!strcmp(a, "--images") && n > 65535) ||
                       n > 1000000000L) {
                fprintf(stderr, "stnet: %s = %s: must be a whole number in [1, %ld]\n", a + 2, v,
                        !strcmp(a, "--images") ? 65535L : 1000000000L);
                return EXIT_USAGE;
            } else if (!strcmp(a, "--batch")) {
                o->batch = n;
            } else {
                o->images = n;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "stnet: unknown option '%s' (see stnet --help)\n", a);
            return EXIT_USAGE;
        } else if (o->net) {
            fprintf(stderr, "stnet: one network only: '%s' and '%s'\n", o->net, a);
            return EXIT_USAGE;
        } else {
            o->net = a;
        }
    }
    if (!o->net) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* A human-readable count: 118.0M, 1.81G. */
static const char *human(uint64_t v, char *buf, size_t size)
{
    if (v >= 1000000000ull)
        snprintf(buf, size, "%.3fG", v / 1e9);
    else if (v >= 1000000ull)
        snprintf(buf, size, "%.2fM", v / 1e6);
    else if (v >= 1000ull)
        snprintf(buf, size, "%.1fK", v / 1e3);
    else
        snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

static int print_table(const st_net *net, const options *o, st_err *err)
{
    st_sparsity_cfg cfg;
    st_calib_own own = {NULL, NULL};
    st_layer_masks m;
    uint64_t tot[ST_PHASE_COUNT] = {0};
    int rc;

    st_layer_masks_init(&m);
    if ((rc = st_calib_cfg(&o->pt, net, NULL, &cfg, &own, err)) != 0 ||
        (rc = st_sparsity_cfg_check(&cfg, err)) != 0)
        goto done;

    if (o->csv)
        puts("layer,kind,in_c,in_h,in_w,out_c,out_h,out_w,k_h,k_w,stride,"
             "macs_fp,macs_bp,macs_wg,act_density,grad_density_natural,grad_density,tau");
    else {
        printf("network %s, batch %ld, p = %.3g, gradient law %s, seed %llu, %ld image%s\n\n",
               st_net_name(net), o->batch, cfg.prune.p, st_law_name(cfg.grad_law),
               (unsigned long long)cfg.seed, o->images, o->images == 1 ? "" : "s");
        printf("%-24s %-4s %-14s %-14s %-7s %9s %9s %9s %6s %6s %6s\n", "layer", "kind", "input",
               "output", "k/s", "FP MACs", "BP MACs", "WG MACs", "act", "dZ nat", "dZ");
    }
    for (int i = 0; i < st_net_count(net); i++) {
        const st_layer *l = st_net_layer(net, i);
        uint64_t macs[ST_PHASE_COUNT];
        double act = 0, nat = 0, grad = 0, tau = 0;
        char in[32], out[32], ks[16], h[3][16];

        if (!st_kind_is_compute(l->kind))
            continue;
        for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
            macs[ph] = st_layer_macs(l, (st_phase)ph) * (uint64_t)o->batch;
            tot[ph] += macs[ph];
        }
        for (long img = 0; img < o->images; img++) {
            if ((rc = st_sparsity_layer(net, &cfg, i, (int)img, &m, err)) != 0)
                goto done;
            act += m.act_density;
            nat += m.grad_density_natural;
            grad += m.grad_density;
            tau += m.tau;
        }
        act /= o->images, nat /= o->images, grad /= o->images, tau /= o->images;
        if (o->csv) {
            printf("%s,%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%llu,%llu,%llu,%.6f,%.6f,%.6f,%.6g\n", l->name,
                   st_kind_name(l->kind), l->in_c, l->in_h, l->in_w, l->out_c, l->out_h, l->out_w,
                   l->k_h, l->k_w, l->stride_h, (unsigned long long)macs[ST_FP],
                   (unsigned long long)macs[ST_BP], (unsigned long long)macs[ST_WG], act, nat, grad,
                   tau);
            continue;
        }
        snprintf(in, sizeof in, "%dx%dx%d", l->in_c, l->in_h, l->in_w);
        snprintf(out, sizeof out, "%dx%dx%d", l->out_c, l->out_h, l->out_w);
        snprintf(ks, sizeof ks, "%dx%d/%d", l->k_h, l->k_w, l->stride_h);
        printf("%-24s %-4s %-14s %-14s %-7s %9s %9s %9s %6.3f %6.3f %6.3f\n", l->name,
               st_kind_name(l->kind), in, out, ks, human(macs[ST_FP], h[0], sizeof h[0]),
               human(macs[ST_BP], h[1], sizeof h[1]), human(macs[ST_WG], h[2], sizeof h[2]), act,
               nat, grad);
    }
    if (!o->csv)
        printf("\ntotal MACs: FP %llu, BP %llu, WG %llu, iteration %llu\n",
               (unsigned long long)tot[ST_FP], (unsigned long long)tot[ST_BP],
               (unsigned long long)tot[ST_WG],
               (unsigned long long)(tot[ST_FP] + tot[ST_BP] + tot[ST_WG]));
done:
    st_layer_masks_fini(&m);
    st_calib_own_fini(&own);
    return rc;
}

int main(int argc, char **argv)
{
    options o = {.batch = 1, .images = 1};
    st_net *net = NULL;
    st_err err;
    int rc;

    st_err_clear(&err);
    st_point_init(&o.pt);
    if ((rc = parse_args(argc, argv, &o)) != 0)
        return rc < 0 ? 0 : rc;
    if (ends_with(o.net, ".csv"))
        rc = st_topo_load(o.net, &net, &err);
    else
        rc = st_net_builtin(o.net, &net, &err);
    if (rc == 0)
        rc = print_table(net, &o, &err);
    st_net_destroy(&net);
    if (rc != 0) {
        fprintf(stderr, "stnet: %s\n", err.msg);
        return rc == ST_ENOMEM ? 1 : EXIT_USAGE;
    }
    return 0;
}
