/*
 * sttrain - train a network on Fashion-MNIST with the stochastic pruning of dZ in the
 * loop, and report loss, accuracy, time and, per compute layer, tau and the densities.
 * The trainer itself is core/train.c; this file parses, prints and writes the trace.
 */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ex.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */
#include "train.h"

#define EXIT_USAGE 2

typedef struct options {
    const char *net;
    const char *data;
    const char *trace;
    const char *trace_iters;
    long epochs, train_images, test_images, threads;
    int json, quiet;
    st_train_cfg cfg;
} options;

/* The parameters of the table (core/param.c) that apply to training. */
static const char *const prune_params[] = {"p",           "prune_sigma_scale", "prune_skip_zeros",
                                           "prune_first", "prune_fc",          NULL};

static void usage(FILE *f)
{
    const char *const *names = st_net_builtin_names();

    fputs("usage: sttrain [options] NETWORK|NET.lua [name=value ...]\n"
          "\n"
          "Train a network on Fashion-MNIST (Debian package dataset-fashion-mnist) with\n"
          "SGD and the stochastic pruning of dZ of every compute layer at rate p; print\n"
          "per epoch the training loss, test accuracy and time, and per compute layer\n"
          "tau and the densities of input activations and of dZ before and after pruning.\n"
          "\n"
          "options:\n"
          "  --epochs N          epochs                                   (default 1)\n"
          "  --batch N           images per iteration                     (default 64)\n"
          "  --lr X              learning rate                            (default 0.01)\n"
          "  --momentum X        SGD momentum                             (default 0.9)\n"
          "  --weight-decay X    L2 on conv and FC weights                (default 5e-4)\n"
          "  --seed S            initialisation, shuffling, pruning       (default 1)\n"
          "  --train-images N    use the first N training images, 0 all   (default 0)\n"
          "  --test-images N     use the first N test images, 0 all       (default 0)\n"
          "  --data DIR          the IDX files  (default " ST_FMNIST_DIR ")\n"
          "  --threads N         threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --no-prune          never call the pruning (the unpruned reference)\n"
          "  --trace FILE.h5     write the zero patterns of chosen iterations (HDF5)\n"
          "  --trace-iters LIST  iterations to trace: 0,10,100 or every:N   (default 0)\n"
          "  --json              one JSON document on stdout instead of tables\n"
          "  --quiet             the per-epoch line only, no layer table\n"
          "  --version           the version and git revision\n"
          "  -h, --help          this text\n"
          "\n"
          "Pruning parameters, as name=value (see docs/parameters.md):\n"
          "  p                   target pruning rate in [0, 1)            (default 0)\n"
          "  prune_sigma_scale   sigma = scale * mean|g|; sqrt(pi/2) for a normal law\n"
          "  prune_skip_zeros    leave exact zeros out of mean|g|         (default false)\n"
          "  prune_first         prune dZ of layers fed by the input      (default true)\n"
          "  prune_fc            prune dZ of fully connected layers       (default true)\n"
          "\n"
          "NETWORK is a built-in name; a path ending in .lua is a file that returns\n"
          "st.network{...} (or a sweep with one) for 1x28x28 inputs and 10 outputs.\n"
          "Bad input exits with status 2; a missing or unreadable file with status 1.\n"
          "built-in networks:",
          f);
    for (; *names; names++)
        fprintf(f, " %s", *names);
    fputc('\n', f);
}

static int parse_double(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return (end == s || *end != '\0' || errno == ERANGE || !isfinite(*out)) ? -1 : 0;
}

static int parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return (end == s || *end != '\0' || errno == ERANGE) ? -1 : 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Set a pruning parameter through the parameter table, so that names, bounds and
 * messages are the simulator's. */
static int set_param(options *o, st_point *pt, const char *name, const char *value)
{
    st_err err;
    int known = 0;

    st_err_clear(&err);
    for (int i = 0; prune_params[i]; i++)
        known |= !strcmp(prune_params[i], name);
    if (!known) {
        if (st_param_find(name))
            fprintf(stderr,
                    "sttrain: parameter '%s' does not apply to training (only p, "
                    "prune_sigma_scale, prune_skip_zeros, prune_first, prune_fc)\n",
                    name);
        else
            fprintf(stderr, "sttrain: unknown parameter '%s' (see sttrain --help)\n", name);
        return EXIT_USAGE;
    }
    if (st_point_set(pt, name, value, &err) != 0) {
        fprintf(stderr, "sttrain: %s\n", err.msg);
        return EXIT_USAGE;
    }
    o->cfg.prune_opts.p = pt->p;
    o->cfg.prune_opts.sigma_scale = pt->prune_sigma_scale;
    o->cfg.prune_opts.skip_zeros = pt->prune_skip_zeros;
    o->cfg.prune_first = pt->prune_first;
    o->cfg.prune_fc = pt->prune_fc;
    return 0;
}

/* One numeric option: its value into the right field, with its bounds. */
static int set_option(options *o, const char *name, const char *v)
{
    long n;
    double x;

    if (!strcmp(name, "lr") || !strcmp(name, "momentum") || !strcmp(name, "weight-decay")) {
        double lo = 0, hi = !strcmp(name, "lr") ? 100 : 1;
        int open_lo = !strcmp(name, "lr"), open_hi = !strcmp(name, "momentum");
        if (parse_double(v, &x) || (open_lo ? x <= lo : x < lo) || (open_hi ? x >= hi : x > hi)) {
            fprintf(stderr, "sttrain: %s = %s: must be a number in %s%g, %g%s\n", name, v,
                    open_lo ? "(" : "[", lo, hi, open_hi ? ")" : "]");
            return EXIT_USAGE;
        }
        if (!strcmp(name, "lr"))
            o->cfg.lr = x;
        else if (!strcmp(name, "momentum"))
            o->cfg.momentum = x;
        else
            o->cfg.weight_decay = x;
        return 0;
    }
    {
        static const struct {
            const char *name;
            long lo, hi;
        } lim[] = {{"epochs", 1, 10000},        {"batch", 1, 65536},
                   {"seed", 0, 2147483647L},    {"train-images", 0, 1 << 24},
                   {"test-images", 0, 1 << 24}, {"threads", 1, 1024}};
        for (size_t k = 0; k < sizeof lim / sizeof lim[0]; k++) {
            if (strcmp(name, lim[k].name))
                continue;
            if (parse_long(v, &n) || n < lim[k].lo || n > lim[k].hi) {
                fprintf(stderr, "sttrain: %s = %s: must be a whole number in [%ld, %ld]\n", name, v,
                        lim[k].lo, lim[k].hi);
                return EXIT_USAGE;
            }
            switch (k) {
            case 0:
                o->epochs = n;
                break;
            case 1:
                o->cfg.batch = (int)n;
                break;
            case 2:
                o->cfg.seed = (uint64_t)n;
                break;
            case 3:
                o->train_images = n;
                break;
            case 4:
                o->test_images = n;
                break;
            default:
                o->threads = n;
                break;
            }
            return 0;
        }
    }
    fprintf(stderr, "sttrain: unknown option '--%s' (see sttrain --help)\n", name);
    return EXIT_USAGE;
}

/* Fill o from argv; EXIT_USAGE on bad input, -1 to stop successfully (help). */
static int parse_args(int argc, char **argv, options *o)
{
    st_point pt;
    int rc;

    st_point_init(&pt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        char name[64];

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--version")) {
            printf("sttrain %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
            return -1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--no-prune")) {
            o->cfg.prune = 0;
        } else if (a[0] == '-' && a[1] == '-') {
            const char *v;
            if (ex_opt_value(argc, argv, &i, name, sizeof name, &v) != 0) {
                fprintf(stderr, "sttrain: option --%s needs a value\n", name);
                return EXIT_USAGE;
            }
            if (!strcmp(name, "data"))
                o->data = v;
            else if (!strcmp(name, "trace"))
                o->trace = v;
            else if (!strcmp(name, "trace-iters"))
                o->trace_iters = v;
            else if ((rc = set_option(o, name, v)) != 0)
                return rc;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "sttrain: unknown option '%s' (see sttrain --help)\n", a);
            return EXIT_USAGE;
        } else if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            if ((rc = set_param(o, &pt, name, eq + 1)) != 0)
                return rc;
        } else if (o->net) {
            fprintf(stderr, "sttrain: one network only: '%s' and '%s'\n", o->net, a);
            return EXIT_USAGE;
        } else {
            o->net = a;
        }
    }
    if (!o->net) {
        fputs("sttrain: no network given (see sttrain --help)\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the process, all threads, user and system. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* The natural and artificial shares of the zeros of dZ after pruning. */
static void shares(const st_train_layer_stats *s, double *nat, double *art)
{
    uint64_t z_out = s->dz_n - s->dz_nz_out, z_in = s->dz_n - s->dz_nz_in;

    *nat = z_out ? (double)z_in / (double)z_out : 0.0;
    *art = z_out ? (double)(z_out - z_in) / (double)z_out : 0.0;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void print_layers(const st_trainer *t)
{
    const st_net *net = st_trainer_net(t);
    const st_train_layer_stats *st;
    int n;

    st = st_trainer_stats(t, &n);
    printf("  %-18s %-4s %-6s %11s %8s %8s %8s %7s %7s\n", "layer", "kind", "pruned", "tau", "act",
           "dZ in", "dZ out", "natural", "artif.");
    for (int i = 0; i < n; i++) {
        const st_train_layer_stats *s = &st[i];
        const st_layer *l = st_net_layer(net, s->layer);
        double nat, art;
        shares(s, &nat, &art);
        printf("  %-18s %-4s %-6s %11.4g %8.4f %8.4f %8.4f %6.1f%% %6.1f%%\n", l->name,
               st_kind_name(l->kind), s->pruned ? "yes" : "no",
               s->iters ? s->tau_sum / (double)s->iters : 0.0, ratio(s->act_nz, s->act_n),
               ratio(s->dz_nz_in, s->dz_n), ratio(s->dz_nz_out, s->dz_n), 100 * nat, 100 * art);
    }
}

/* A JSON string: quotes and backslashes escaped, control characters as \u00XX. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned)(unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void json_layers(const st_trainer *t)
{
    const st_net *net = st_trainer_net(t);
    const st_train_layer_stats *st;
    int n;

    st = st_trainer_stats(t, &n);
    printf("\"layers\":[");
    for (int i = 0; i < n; i++) {
        const st_train_layer_stats *s = &st[i];
        double nat, art;
        shares(s, &nat, &art);
        printf("%s{\"name\":", i ? "," : "");
        json_str(st_net_layer(net, s->layer)->name);
        printf(",\"kind\":\"%s\",\"pruned\":%s,\"tau\":%.9g,"
               "\"act_density\":%.9g,\"dz_density_in\":%.9g,\"dz_density_out\":%.9g,"
               "\"natural_share\":%.9g,\"artificial_share\":%.9g}",
               st_kind_name(st_net_layer(net, s->layer)->kind), s->pruned ? "true" : "false",
               s->iters ? s->tau_sum / (double)s->iters : 0.0, ratio(s->act_nz, s->act_n),
               ratio(s->dz_nz_in, s->dz_n), ratio(s->dz_nz_out, s->dz_n), nat, art);
    }
    printf("]");
}

/* ------------------------------------------------------------------ trace */

#define TRACE_FORMAT    1
#define TRACE_ITERS_MAX 4096

/* The trace file: for each chosen iteration a group iter_<n> with one group per compute
 * layer, layer_<index>, holding three uint8 datasets (1 marks a non-zero) of shape
 * images x channels x rows x columns: act (input activations), dz_in and dz_out (dZ before
 * and after the pruning), and the attributes name, layer, tau. docs/training.md. */
typedef struct trace {
    const char *path;
    char tmp[4096]; /* written here, renamed to path when complete */
    hid_t f;
    uint64_t *iters; /* chosen iterations, sorted; or every > 0 */
    int niters;
    uint64_t every;
    uint64_t written, last; /* iterations written; the last iteration run */
    uint8_t *mask;
    size_t mask_n;
    /* the last epoch's figures, kept with the masks for whoever replays them */
    long epochs;
    double train_loss, test_accuracy, test_loss;
} trace;

static int h5_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    int ok = 0;

    if (sp >= 0 && (a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        ok = H5Awrite(a, mtype, v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return ok ? 0 : -1;
}

static int h5_attr_str(hid_t obj, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    int rc = -1;

    if (t >= 0 && H5Tset_size(t, strlen(v) + 1) >= 0)
        rc = h5_attr(obj, name, t, t, v);
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

static int h5_attr_f64(hid_t obj, const char *name, double v)
{
    return h5_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int h5_attr_i64(hid_t obj, const char *name, int64_t v)
{
    return h5_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static int h5_attr_u64(hid_t obj, const char *name, uint64_t v)
{
    return h5_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse "0,10,100" or "every:N" into tr. */
static int trace_parse_iters(trace *tr, const char *text, st_err *err)
{
    const char *p = text ? text : "0";
    char *end;

    if (!strncmp(p, "every:", 6)) {
        errno = 0;
        long long n = strtoll(p + 6, &end, 10);
        if (end == p + 6 || *end || errno || n < 1)
            return st_err_set(err, ST_EINVAL,
                              "trace-iters = '%s': every:N needs a whole number N >= 1", p);
        tr->every = (uint64_t)n;
        return ST_OK;
    }
    tr->iters = malloc(TRACE_ITERS_MAX * sizeof *tr->iters);
    if (!tr->iters)
        return st_err_set(err, ST_ENOMEM, "trace: out of memory");
    for (;;) {
        errno = 0;
        long long n = strtoll(p, &end, 10);
        if (end == p || errno || n < 0 || (*end && *end != ','))
            return st_err_set(err, ST_EINVAL,
                              "trace-iters = '%.60s%s': must be iterations separated by commas "
                              "(0,10,100) or every:N",
                              text, strlen(text) > 60 ? "..." : "");
        if (tr->niters == TRACE_ITERS_MAX)
            return st_err_set(err, ST_EINVAL, "trace-iters = '%.60s%s': more than %d iterations",
                              text, strlen(text) > 60 ? "..." : "", TRACE_ITERS_MAX);
        tr->iters[tr->niters++] = (uint64_t)n;
        if (!*end)
            break;
        p = end + 1;
    }
    qsort(tr->iters, (size_t)tr->niters, sizeof *tr->iters, cmp_u64);
    return ST_OK;
}

static int trace_wanted(const trace *tr, uint64_t iter)
{
    if (tr->every)
        return iter % tr->every == 0;
    for (int i = 0; i < tr->niters; i++)
        if (tr->iters[i] == iter)
            return 1;
    return 0;
}

static void trace_fini(trace *tr)
{
    if (tr->f >= 0) {
        H5Fclose(tr->f);
        remove(tr->tmp);
    }
    tr->f = -1;
    free(tr->iters);
    free(tr->mask);
    tr->iters = NULL;
    tr->mask = NULL;
}

/* Create the file and write what identifies the run. */
static int trace_open(trace *tr, const char *path, const st_net *net, const options *o, st_err *err)
{
    int rc;

    memset(tr, 0, sizeof *tr);
    tr->f = -1;
    tr->path = path;
    if ((rc = trace_parse_iters(tr, o->trace_iters, err)) != 0)
        return rc;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(tr->tmp, sizeof tr->tmp, "%s.tmp", path);
    errno = 0;
    tr->f = H5Fcreate(tr->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (tr->f < 0)
        return st_err_set(err, ST_EIO, "%s: cannot create the trace file: %s", tr->tmp,
                          errno ? strerror(errno) : "HDF5 error");
    if (h5_attr_str(tr->f, "kind", "sparsetrain-trace") ||
        h5_attr_i64(tr->f, "format", TRACE_FORMAT) ||
        h5_attr_str(tr->f, "network", st_net_name(net)) ||
        h5_attr_u64(tr->f, "network_fingerprint", ex_net_fingerprint(net)) ||
        h5_attr_i64(tr->f, "batch", o->cfg.batch) || h5_attr_f64(tr->f, "lr", o->cfg.lr) ||
        h5_attr_f64(tr->f, "momentum", o->cfg.momentum) ||
        h5_attr_f64(tr->f, "weight_decay", o->cfg.weight_decay) ||
        h5_attr_u64(tr->f, "seed", o->cfg.seed) || h5_attr_i64(tr->f, "prune", o->cfg.prune) ||
        h5_attr_f64(tr->f, "p", o->cfg.prune_opts.p) ||
        h5_attr_f64(tr->f, "prune_sigma_scale", o->cfg.prune_opts.sigma_scale) ||
        h5_attr_i64(tr->f, "prune_skip_zeros", o->cfg.prune_opts.skip_zeros) ||
        h5_attr_i64(tr->f, "prune_first", o->cfg.prune_first) ||
        h5_attr_i64(tr->f, "prune_fc", o->cfg.prune_fc))
        return st_err_set(err, ST_EIO, "%s: writing the trace's attributes failed", path);
    return ST_OK;
}

/* One uint8 mask dataset of b x c x h x w, deflated, one chunk per image. */
static int trace_mask(trace *tr, hid_t g, const char *name, const float *v, int b, int c, int h,
                      int w)
{
    hsize_t dims[4] = {(hsize_t)b, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    hsize_t chunk[4] = {1, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    size_t n = (size_t)b * (size_t)c * (size_t)h * (size_t)w;
    hid_t sp = -1, pl = -1, d = -1;
    int ok = 0;

    if (n > tr->mask_n) {
        uint8_t *m = realloc(tr->mask, n);
        if (!m)
            return -1;
        tr->mask = m;
        tr->mask_n = n;
    }
    for (size_t i = 0; i < n; i++)
        tr->mask[i] = v[i] != 0.0f;
    if ((sp = H5Screate_simple(4, dims, NULL)) >= 0 && (pl = H5Pcreate(H5P_DATASET_CREATE)) >= 0 &&
        H5Pset_chunk(pl, 4, chunk) >= 0 && H5Pset_deflate(pl, 6) >= 0 &&
        (d = H5Dcreate2(g, name, H5T_STD_U8LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT)) >= 0)
        ok = H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, tr->mask) >= 0;
    if (d >= 0)
        H5Dclose(d);
    if (pl >= 0)
        H5Pclose(pl);
    if (sp >= 0)
        H5Sclose(sp);
    return ok ? 0 : -1;
}

/* st_train_iter_fn: write iteration iter when it is chosen. */
static int trace_iter(void *ctx, const st_trainer *t, uint64_t iter, st_err *err)
{
    trace *tr = ctx;
    const st_net *net = st_trainer_net(t);
    char name[64];
    hid_t gi = -1, gl = -1;
    int rc = ST_OK;

    tr->last = iter;
    if (!trace_wanted(tr, iter))
        return ST_OK;
    snprintf(name, sizeof name, "iter_%06llu", (unsigned long long)iter);
    if ((gi = H5Gcreate2(tr->f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        h5_attr_u64(gi, "iteration", iter)) {
        rc = st_err_set(err, ST_EIO, "%s: cannot write group %s", tr->path, name);
        goto done;
    }
    for (int i = 0; i < st_net_count(net); i++) {
        const st_layer *l = st_net_layer(net, i);
        st_train_tensors tt;
        if (!st_kind_is_compute(l->kind))
            continue;
        if ((rc = st_trainer_tensors(t, i, &tt, err)) != 0)
            goto done;
        snprintf(name, sizeof name, "layer_%03d", i);
        if ((gl = H5Gcreate2(gi, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            h5_attr_str(gl, "name", l->name) || h5_attr_i64(gl, "layer", i) ||
            h5_attr_f64(gl, "tau", tt.tau) ||
            trace_mask(tr, gl, "act", tt.act, tt.b, l->in_c, l->in_h, l->in_w) ||
            trace_mask(tr, gl, "dz_in", tt.dz_in, tt.b, l->out_c, l->out_h, l->out_w) ||
            trace_mask(tr, gl, "dz_out", tt.dz_out, tt.b, l->out_c, l->out_h, l->out_w)) {
            rc = st_err_set(err, ST_EIO, "%s: cannot write iteration %llu, layer '%s'", tr->path,
                            (unsigned long long)iter, l->name);
            goto done;
        }
        H5Gclose(gl);
        gl = -1;
    }
    tr->written++;
done:
    if (gl >= 0)
        H5Gclose(gl);
    if (gi >= 0)
        H5Gclose(gi);
    return rc;
}

/* Close the file, recording how many iterations it holds, and move it to its name; say
 * which chosen iterations the run did not reach. */
static int trace_close(trace *tr, st_err *err)
{
    int rc = ST_OK, missed = 0;

    if (h5_attr_u64(tr->f, "iterations", tr->written) || h5_attr_i64(tr->f, "epochs", tr->epochs) ||
        h5_attr_f64(tr->f, "train_loss", tr->train_loss) ||
        h5_attr_f64(tr->f, "test_accuracy", tr->test_accuracy) ||
        h5_attr_f64(tr->f, "test_loss", tr->test_loss) || H5Fclose(tr->f) < 0)
        rc = st_err_set(err, ST_EIO, "%s: cannot finish the trace file", tr->tmp);
    tr->f = -1;
    if (rc == ST_OK && rename(tr->tmp, tr->path) != 0)
        rc = st_err_set(err, ST_EIO, "%s: cannot rename to %s: %s (the trace is left in %s)",
                        tr->tmp, tr->path, strerror(errno), tr->tmp);
    for (int i = 0; i < tr->niters; i++)
        missed += tr->iters[i] > tr->last;
    if (rc == ST_OK && missed)
        fprintf(stderr,
                "sttrain: warning: %d of the iterations to trace lie beyond the last one run "
                "(%llu)\n",
                missed, (unsigned long long)tr->last);
    return rc;
}

/* Build the network named on the command line: a built-in, or a Lua file. */
static int load_net(const char *name, st_net **net, st_err *err)
{
    ex_netspec spec;
    int bad, rc;

    if (!ends_with(name, ".lua"))
        return st_net_builtin(name, net, err);
    ex_netspec_init(&spec);
    rc = ex_netspec_load(name, &spec, err);
    if (rc == 0)
        rc = ex_netspec_build(&spec, net, &bad, err);
    ex_netspec_fini(&spec);
    return rc;
}

static int run(const options *o, st_err *err)
{
    st_dataset train = {0}, test = {0};
    st_net *net = NULL;
    st_trainer *t = NULL;
    trace tr;
    uint64_t iter = 0;
    const char *dir = o->data ? o->data : ST_FMNIST_DIR;
    int rc, threads;

    memset(&tr, 0, sizeof tr);
    tr.f = -1;

    if ((rc = load_net(o->net, &net, err)) != 0)
        goto done;
    if ((rc = st_fmnist_load(dir, "train", (int)o->train_images, &train, err)) != 0 ||
        (rc = st_fmnist_load(dir, "t10k", (int)o->test_images, &test, err)) != 0)
        goto done;
    threads = st_train_threads((int)o->threads);
    if ((rc = st_trainer_create(net, &o->cfg, train.classes, &t, err)) != 0)
        goto done;
    if (o->trace && (rc = trace_open(&tr, o->trace, net, o, err)) != 0)
        goto done;
    if (o->json) {
        printf("{\"network\":");
        json_str(st_net_name(net));
        printf(",\"batch\":%d,\"lr\":%.9g,\"momentum\":%.9g,"
               "\"weight_decay\":%.9g,\"seed\":%llu,\"prune\":%s,\"p\":%.9g,"
               "\"prune_sigma_scale\":%.9g,\"prune_skip_zeros\":%s,\"prune_first\":%s,"
               "\"prune_fc\":%s,\"train_images\":%d,\"test_images\":%d,\"threads\":%d,"
               "\"epochs\":[",
               o->cfg.batch, o->cfg.lr, o->cfg.momentum, o->cfg.weight_decay,
               (unsigned long long)o->cfg.seed, o->cfg.prune ? "true" : "false",
               o->cfg.prune_opts.p, o->cfg.prune_opts.sigma_scale,
               o->cfg.prune_opts.skip_zeros ? "true" : "false",
               o->cfg.prune_first ? "true" : "false", o->cfg.prune_fc ? "true" : "false", train.n,
               test.n, threads);
    } else {
        printf("sttrain: %s, %d training and %d test images, batch %d, lr %g, momentum %g, "
               "weight decay %g, seed %llu, %s, %d thread%s\n",
               st_net_name(net), train.n, test.n, o->cfg.batch, o->cfg.lr, o->cfg.momentum,
               o->cfg.weight_decay, (unsigned long long)o->cfg.seed,
               o->cfg.prune ? "pruning on" : "pruning off", threads, threads == 1 ? "" : "s");
    }
    if (!o->json && o->cfg.prune)
        printf("pruning: p = %g, sigma_scale = %g, skip_zeros %s, first layer %s, FC %s\n",
               o->cfg.prune_opts.p, o->cfg.prune_opts.sigma_scale,
               o->cfg.prune_opts.skip_zeros ? "yes" : "no", o->cfg.prune_first ? "yes" : "no",
               o->cfg.prune_fc ? "yes" : "no");
    for (long e = 1; e <= o->epochs; e++) {
        double loss, acc, tloss, t0, dt, c0, dc;
        st_trainer_stats_reset(t);
        c0 = cpu_s();
        t0 = now_s();
        rc = st_trainer_epoch(t, &train, (int)e, &iter, &loss, o->trace ? trace_iter : NULL, &tr,
                              err);
        if (rc != 0)
            goto done;
        dt = now_s() - t0;
        dc = cpu_s() - c0;
        if ((rc = st_trainer_evaluate(t, &test, &acc, &tloss, err)) != 0)
            goto done;
        tr.epochs = e;
        tr.train_loss = loss;
        tr.test_accuracy = acc;
        tr.test_loss = tloss;
        if (o->json) {
            printf("%s{\"epoch\":%ld,\"train_loss\":%.9g,\"test_accuracy\":%.9g,"
                   "\"test_loss\":%.9g,\"time_s\":%.6g,\"cpu_s\":%.6g,\"images_per_s\":%.6g,",
                   e > 1 ? "," : "", e, loss, acc, tloss, dt, dc, train.n / dt);
            json_layers(t);
            printf("}");
        } else {
            printf("epoch %ld: training loss %.4f, test accuracy %.4f, test loss %.4f, "
                   "%.2f s (%.0f images/s), %.2f CPU s\n",
                   e, loss, acc, tloss, dt, train.n / dt, dc);
            if (!o->quiet)
                print_layers(t);
        }
        fflush(stdout);
    }
    if (o->json)
        printf("]}\n");
    if (o->trace && (rc = trace_close(&tr, err)) != 0)
        goto done;
done:
    trace_fini(&tr);
    st_trainer_destroy(&t);
    st_dataset_fini(&train);
    st_dataset_fini(&test);
    st_net_destroy(&net);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    st_err err;
    int rc;

    /* Threads waiting between parallel loops should sleep, not spin: spinning costs dearly
     * when other work shares the cores. OpenMP (libgomp) reads OMP_WAIT_POLICY when it is
     * loaded, before main, so set it and start again, unless the user chose a policy. The
     * trainer calls OpenBLAS from its own threads, one BLAS thread each: with
     * OPENBLAS_NUM_THREADS=1 when it is loaded, OpenBLAS starts no threads of its own
     * (which would otherwise spin on sched_yield for a while after starting). */
    if (!getenv("OMP_WAIT_POLICY") || !getenv("OPENBLAS_NUM_THREADS")) {
        int set = (getenv("OMP_WAIT_POLICY") || setenv("OMP_WAIT_POLICY", "passive", 1) == 0) &&
                  (getenv("OPENBLAS_NUM_THREADS") || setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0);
        if (set)
            execv("/proc/self/exe", argv); /* on failure, go on with the defaults */
    }
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    st_train_cfg_init(&o.cfg);
    st_err_clear(&err);
    rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    rc = run(&o, &err);
    if (rc) {
        fflush(stdout);
        fprintf(stderr, "sttrain: %s\n", err.msg);
        return rc == ST_ENOMEM || rc == ST_EIO ? 1 : EXIT_USAGE;
    }
    return 0;
}
