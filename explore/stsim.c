/*
 * stsim - simulate one design point: one training iteration of a network
 * on the SparseTrain array, next to the same hardware run densely.
 * Parameters come from the core's one table; this file only parses and prints.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */
#include "st.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
    int n;
    const st_param *rows = st_params(&n);
    const char *group = "";
    st_point pt;

    st_point_init(&pt);
    fputs("usage: stsim [options] NETWORK|LAYERS.csv [name=value | @FILE ...]\n"
          "\n"
          "Simulate one training iteration (forward FP, input gradient BP, weight\n"
          "gradient WG) of a network on one design point of the SparseTrain array,\n"
          "and the same hardware with zero skipping off (the dense baseline).\n"
          "\n"
          "options:\n"
          "  --json          machine-readable output\n"
          "  --csv           the per-layer, per-phase report as CSV, in the layout of\n"
          "                  SCALE-Sim's COMPUTE_REPORT.csv (columns: README.md)\n"
          "  --no-layers     totals only\n"
          "  --params FILE   parameters from FILE, one name = value a line, # or --\n"
          "                  comments; @FILE is the same. Applied in command-line\n"
          "                  order with the name=value arguments: the last one wins\n"
          "  --trace FILE.h5 replay the zero masks of a training trace (sttrain\n"
          "                  --trace) instead of the sparsity model's; batch images\n"
          "                  are taken from it\n"
          "  --trace-iter N  the trace's iteration to replay (default: its first)\n"
          "  --calib FILE    with sparsity=calibrated (which it sets), take the\n"
          "                  calibration from FILE (stcalib -o) instead of the one\n"
          "                  built in (calib/fmnist.calib)\n"
          "  --NAME VALUE    same as NAME=VALUE\n"
          "  --version       the version and git revision\n"
          "  -h, --help      this text\n"
          "\n"
          "NETWORK is a built-in name (",
          f);
    for (const char *const *nm = st_net_builtin_names(); *nm; nm++)
        fprintf(f, "%s%s", nm == st_net_builtin_names() ? "" : ", ", *nm);
    fputs("); a path ending in .csv\nis read as a SCALE-Sim layer list. Bad input exits with "
          "status 2.\n\nparameters (name, unit, default, range):\n",
          f);
    for (int i = 0; i < n; i++) {
        char def[64];
        if (strcmp(group, rows[i].group)) {
            group = rows[i].group;
            fprintf(f, "\n [%s]\n", group);
        }
        char range[96];
        st_point_format(&pt, &rows[i], def, sizeof def);
        st_param_format_range(&rows[i], range, sizeof range);
        fprintf(f, "  %-20s %-8s %-10s %s\n      %s\n", rows[i].name,
                rows[i].unit[0] ? rows[i].unit : "-", def, range, rows[i].help);
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void json_phase(const st_phase_stats *s, const st_point *pt)
{
    double pes = (double)pt->pe_rows * pt->pe_cols * pt->macs_per_pe;
    uint64_t c = st_phase_cycles(s);
    printf("{\"pe_util\": %.6g, ", c ? (double)s->useful_macs / ((double)c * pes) : 0.0);
    printf("\"cycles\": %llu, \"compute_cycles\": %llu, \"stall_cycles\": %llu, "
           "\"dense_macs\": %llu, \"useful_macs\": %llu, \"dram_bytes\": %llu, "
           "\"sram_reads\": [%llu, %llu, %llu], \"sram_writes\": [%llu, %llu, %llu], "
           "\"energy_pj\": %.9g, \"energy_breakdown_pj\": {",
           (unsigned long long)st_phase_cycles(s), (unsigned long long)s->compute_cycles,
           (unsigned long long)s->stall_cycles, (unsigned long long)s->dense_macs,
           (unsigned long long)s->useful_macs, (unsigned long long)s->dram_bytes,
           (unsigned long long)s->sram_rd[0], (unsigned long long)s->sram_rd[1],
           (unsigned long long)s->sram_rd[2], (unsigned long long)s->sram_wr[0],
           (unsigned long long)s->sram_wr[1], (unsigned long long)s->sram_wr[2],
           st_phase_energy_pj(s));
    for (int e = 0; e < ST_E_COUNT; e++)
        printf("%s\"%s\": %.9g", e ? ", " : "", st_ecomp_name((st_ecomp)e), s->energy_pj[e]);
    printf("}, \"dram_floor_bytes\": %llu", (unsigned long long)s->dram_floor_bytes);
    if (s->order)
        printf(", \"order\": \"%s\", \"rounds\": %d, \"store\": [\"%s\", \"%s\", \"%s\"]",
               st_order_name(s->order), s->rounds, st_store_name(s->store[0]),
               st_store_name(s->store[1]), st_store_name(s->store[2]));
    /* a smaller array than the design's, chosen by the mapper */
    if (s->pe_rows && (s->pe_rows != pt->pe_rows || s->pe_cols != pt->pe_cols))
        printf(", \"pes\": [%d, %d]", s->pe_rows, s->pe_cols);
    printf("}");
}

/* Print a string as a JSON string literal. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const st_net *net, const st_point *pt, const st_result *res, int layers)
{
    int n;
    const st_param *rows = st_params(&n);

    printf("{\"network\": ");
    json_str(st_net_name(net));
    printf(", \"point\": {");
    for (int i = 0; i < n; i++) {
        char v[64];
        st_point_format(pt, &rows[i], v, sizeof v);
        printf("%s\"%s\": ", i ? ", " : "", rows[i].name);
        if (rows[i].type == ST_PT_ENUM)
            json_str(v);
        else
            printf("%s", v);
    }
    printf("}, \"total\": {\"speedup\": %.9g, \"energy_gain\": %.9g, \"area_mm2\": %.9g, "
           "\"time_s\": %.9g, \"images_per_s\": %.9g, \"run\": ",
           res->speedup, res->energy_gain, res->area_mm2, res->time_s, res->images_per_s);
    json_phase(&res->run, pt);
    printf(", \"dense\": ");
    json_phase(&res->dense, pt);
    printf("}");
    if (layers) {
        printf(", \"layers\": [");
        for (int i = 0; i < res->nlayers; i++) {
            const st_layer_stats *ls = &res->layers[i];
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(st_net_layer(net, ls->layer)->name);
            printf(", \"act_density\": %.6g, \"grad_density\": %.6g", ls->act_density,
                   ls->grad_density);
            for (int ph = 0; ph < ST_PHASE_COUNT; ph++) {
                printf(", \"%s\": {\"run\": ", st_phase_name((st_phase)ph));
                json_phase(&ls->run[ph], pt);
                printf(", \"dense\": ");
                json_phase(&ls->dense[ph], pt);
                printf("}");
            }
            printf("}");
        }
        printf("]");
    }
    printf("}\n");
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

/* Call fn for each phase of each compute layer that has work, on the run or the dense
 * baseline, in network order: the rows of the per-layer reports. */
typedef void (*phase_fn)(const st_net *net, const st_layer_stats *ls, int ph, const st_point *pt);

static void each_phase(const st_net *net, const st_result *res, const st_point *pt, phase_fn fn)
{
    for (int i = 0; i < res->nlayers; i++)
        for (int ph = 0; ph < ST_PHASE_COUNT; ph++)
            if (st_phase_cycles(&res->layers[i].run[ph]) != 0 ||
                st_phase_cycles(&res->layers[i].dense[ph]) != 0)
                fn(net, &res->layers[i], ph, pt);
}

/* A phase's loop order, with its rounds when it splits the reduction, and
 * the PEs in use when the mapper chose a smaller array than pt's:
 * "weights+batch/3", "stream@8x16". */
static const char *order_label(char *buf, size_t n, const st_phase_stats *s, const st_point *pt)
{
    int k;

    if (s->rounds > 1)
        k = snprintf(buf, n, "%s/%d", st_order_name(s->order), s->rounds);
    else
        k = snprintf(buf, n, "%s", st_order_name(s->order));
    if (k >= 0 && (size_t)k < n && s->pe_rows &&
        (s->pe_rows != pt->pe_rows || s->pe_cols != pt->pe_cols))
        snprintf(buf + k, n - (size_t)k, "@%dx%d", s->pe_rows, s->pe_cols);
    return buf;
}

static void human_row(const st_net *net, const st_layer_stats *ls, int ph, const st_point *pt)
{
    double pes = (double)pt->pe_rows * pt->pe_cols * pt->macs_per_pe;
    const st_phase_stats *s = &ls->run[ph], *d = &ls->dense[ph];
    uint64_t c = st_phase_cycles(s);
    char os[48], od[48];

    printf("%-22.22s %-2s %12llu %12llu %7.2f %5.1f%% %5.1f%% %10.1f %6.2f %11.3f  "
           "%s (%s), %s/%s/%s\n",
           ph == 0 ? st_net_layer(net, ls->layer)->name : "", st_phase_name((st_phase)ph),
           (unsigned long long)c, (unsigned long long)st_phase_cycles(d),
           ratio((double)st_phase_cycles(d), (double)c),
           100 * ratio((double)s->useful_macs, (double)c * pes),
           100 * ratio((double)s->stall_cycles, (double)c), s->dram_bytes / 1024.0,
           ratio((double)s->dram_bytes, (double)s->dram_floor_bytes), st_phase_energy_pj(s) / 1e6,
           order_label(os, sizeof os, s, pt), order_label(od, sizeof od, d, pt),
           st_store_name(s->store[0]), st_store_name(s->store[1]), st_store_name(s->store[2]));
}

static void print_human(const st_net *net, const st_point *pt, const st_result *res, int layers)
{
    printf("network %s, batch %d, %dx%d PEs x %d MAC, %g MHz, p = %g, %s fidelity\n",
           st_net_name(net), pt->batch, pt->pe_rows, pt->pe_cols, pt->macs_per_pe, pt->clock_mhz,
           pt->p, pt->fidelity == ST_FID_EXACT ? "exact" : "sampled");
    if (layers) {
        printf("\n%-22s %-2s %12s %12s %7s %6s %6s %10s %6s %11s  %s\n", "layer", "ph", "cycles",
               "dense cyc", "speedup", "util", "stall", "DRAM KiB", "/floor", "energy uJ",
               "order/rounds (dense), storage of operands and output");
        each_phase(net, res, pt, human_row);
    }
    printf("\n%-8s %14s %14s %9s\n", "phase", "cycles", "dense cycles", "speedup");
    for (int ph = 0; ph < ST_PHASE_COUNT; ph++)
        printf("%-8s %14llu %14llu %9.3f\n", st_phase_name((st_phase)ph),
               (unsigned long long)st_phase_cycles(&res->run_phase[ph]),
               (unsigned long long)st_phase_cycles(&res->dense_phase[ph]),
               ratio((double)st_phase_cycles(&res->dense_phase[ph]),
                     (double)st_phase_cycles(&res->run_phase[ph])));
    printf("%-8s %14llu %14llu %9.3f", "total", (unsigned long long)st_phase_cycles(&res->run),
           (unsigned long long)st_phase_cycles(&res->dense), res->speedup);
    printf("\n\nMACs: useful %llu of dense %llu (%.1f%%)\n",
           (unsigned long long)res->run.useful_macs, (unsigned long long)res->run.dense_macs,
           100 * ratio((double)res->run.useful_macs, (double)res->run.dense_macs));
    printf("energy: %.3f mJ (dense %.3f mJ), gain %.3f\n", st_phase_energy_pj(&res->run) / 1e9,
           st_phase_energy_pj(&res->dense) / 1e9, res->energy_gain);
    printf("  breakdown:");
    for (int e = 0; e < ST_E_COUNT; e++)
        printf(" %s %.1f%%", st_ecomp_name((st_ecomp)e),
               100 * ratio(res->run.energy_pj[e], st_phase_energy_pj(&res->run)));
    printf("\nDRAM: %.1f MB, %.2f x its floor (dense %.1f MB, %.2f x)",
           (double)res->run.dram_bytes / 1e6,
           ratio((double)res->run.dram_bytes, (double)res->run.dram_floor_bytes),
           (double)res->dense.dram_bytes / 1e6,
           ratio((double)res->dense.dram_bytes, (double)res->dense.dram_floor_bytes));
    printf("\narea: %.3f mm^2\n", res->area_mm2);
    printf("time: %.3f ms per iteration, %.1f images/s\n", res->time_s * 1e3, res->images_per_s);
}

/* Read parameters from a file: one `name = value` (or name=value) a line; blank lines and
 * comments (from # or -- to the end of the line) are skipped; a value may be quoted and
 * may end in a comma, as in a sweep's `fixed = {...}`. Fails naming path:line and the
 * parameter (st_point_set's message) or the line that is not name = value. */
static int load_params(const char *path, st_point *pt, st_err *err)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    int lineno = 0, rc = ST_OK;

    if (!f)
        return st_err_set(err, ST_EINVAL, "parameter file %s: cannot read it: %s", path,
                          strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *p = line, *eq, *e, *c;
        size_t len = strlen(line);
        lineno++;
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = st_err_set(err, ST_EINVAL, "%s:%d: a line longer than %zu bytes", path, lineno,
                            sizeof line - 2);
            goto done;
        }
        if ((c = strchr(p, '#')) != NULL)
            *c = '\0';
        if ((c = strstr(p, "--")) != NULL)
            *c = '\0';
        while (isspace((unsigned char)*p))
            p++;
        e = p + strlen(p);
        while (e > p && (isspace((unsigned char)e[-1]) || e[-1] == ','))
            *--e = '\0';
        if (!*p)
            continue;
        if (!(eq = strchr(p, '='))) {
            rc = st_err_set(err, ST_EINVAL, "%s:%d: '%.100s': expected name = value", path,
                            lineno, p);
            goto done;
        }
        for (e = eq; e > p && isspace((unsigned char)e[-1]); e--)
            ;
        *e = '\0';
        for (eq++; isspace((unsigned char)*eq); eq++)
            ;
        len = strlen(eq);
        if (len >= 2 && (eq[0] == '"' || eq[0] == '\'') && eq[len - 1] == eq[0]) {
            eq[len - 1] = '\0';
            eq++;
        }
        if (!*p || !*eq) {
            rc = st_err_set(err, ST_EINVAL, "%s:%d: '%s = %s': expected name = value", path,
                            lineno, p, eq);
            goto done;
        }
        if (st_point_set(pt, p, eq, err) != ST_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            rc = st_err_set(err, ST_EINVAL, "%s:%d: %s", path, lineno, msg);
            goto done;
        }
    }
    if (ferror(f))
        rc = st_err_set(err, ST_EINVAL, "parameter file %s: cannot read it: %s", path,
                        strerror(errno));
done:
    fclose(f);
    return rc;
}

/* A CSV field: as it is, or quoted when it holds a comma, a quote or a line break. */
static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void csv_row(const st_net *net, const st_layer_stats *ls, int ph, const st_point *pt)
{
    double pes = (double)pt->pe_rows * pt->pe_cols * pt->macs_per_pe;
    const st_phase_stats *s = &ls->run[ph], *d = &ls->dense[ph];
    uint64_t c = st_phase_cycles(s);

    printf("%d, ", ls->layer);
    csv_field(st_net_layer(net, ls->layer)->name);
    printf(", %s, %llu, %llu, %.6f, %.6f, %llu, %.6f, %llu, %llu, %llu, %llu, %.9g, %.9g, %.6g, "
           "%.6g,\n",
           st_phase_name((st_phase)ph), (unsigned long long)c, (unsigned long long)s->stall_cycles,
           100 * ratio((double)s->useful_macs, (double)c * pes),
           100 * ratio((double)s->useful_macs, (double)s->compute_cycles * pes),
           (unsigned long long)st_phase_cycles(d), ratio((double)st_phase_cycles(d), (double)c),
           (unsigned long long)s->useful_macs, (unsigned long long)s->dense_macs,
           (unsigned long long)s->dram_bytes, (unsigned long long)s->dram_floor_bytes,
           st_phase_energy_pj(s), st_phase_energy_pj(d), ls->act_density, ls->grad_density);
}

/* The per-layer, per-phase report in the layout of SCALE-Sim's COMPUTE_REPORT.csv (its
 * first columns, the same names and units, ", " between fields and one at the end of each
 * line), with the dense baseline, the traffic and the energy after them. */
static void print_csv(const st_net *net, const st_point *pt, const st_result *res)
{
    printf("LayerID, Layer Name, Phase, Total Cycles, Stall Cycles, Overall Util %%, "
           "Compute Util %%, Dense Cycles, Speedup, Useful MACs, Dense MACs, DRAM Bytes, "
           "DRAM Floor Bytes, Energy pJ, Dense Energy pJ, Act Density, Grad Density,\n");
    each_phase(net, res, pt, csv_row);
}

int main(int argc, char **argv)
{
    st_point pt;
    st_net *net = NULL;
    st_result res;
    st_err err;
    const char *netname = NULL, *trace_path = NULL, *calib_path = NULL;
    st_calib *calib = NULL;
    long trace_iter = -1;
    ex_tracemem *trace = NULL;
    int json = 0, csv = 0, layers = 1, rc = 0;

    st_err_clear(&err);
    st_point_init(&pt);
    st_result_init(&res);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        char name[64];

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("stsim %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--csv")) {
            csv = 1;
        } else if (a[0] == '@' && a[1]) {
            if (load_params(a + 1, &pt, &err) != 0) {
                fprintf(stderr, "stsim: %s\n", err.msg);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--no-layers")) {
            layers = 0;
        } else if (a[0] == '-' && a[1] == '-') {
            const char *v;
            char *end;
            if (ex_opt_value(argc, argv, &i, name, sizeof name, &v) != 0) {
                fprintf(stderr, "stsim: option --%s needs a value\n", name);
                return EXIT_USAGE;
            }
            if (!strcmp(name, "params")) {
                if (load_params(v, &pt, &err) != 0) {
                    fprintf(stderr, "stsim: %s\n", err.msg);
                    return EXIT_USAGE;
                }
            } else if (!strcmp(name, "trace")) {
                trace_path = v;
            } else if (!strcmp(name, "calib")) {
                calib_path = v;
                pt.sparsity = ST_SPARSITY_CALIBRATED;
            } else if (!strcmp(name, "trace-iter")) {
                trace_iter = strtol(v, &end, 10);
                if (*end || end == v || trace_iter < 0) {
                    fprintf(stderr, "stsim: --trace-iter %s: must be a whole number >= 0\n", v);
                    return EXIT_USAGE;
                }
            } else if (st_point_set(&pt, name, v, &err) != 0) {
                fprintf(stderr, "stsim: %s\n", err.msg);
                return EXIT_USAGE;
            }
        } else if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            if (st_point_set(&pt, name, eq + 1, &err) != 0) {
                fprintf(stderr, "stsim: %s\n", err.msg);
                return EXIT_USAGE;
            }
        } else if (netname) {
            fprintf(stderr, "stsim: one network only: '%s' and '%s'\n", netname, a);
            return EXIT_USAGE;
        } else {
            netname = a;
        }
    }
    if (json && csv) {
        fputs("stsim: --json and --csv: choose one output\n", stderr);
        return EXIT_USAGE;
    }
    if (!netname) {
        fputs("stsim: no network given (see stsim --help)\n", stderr);
        return EXIT_USAGE;
    }
    if (calib_path && (trace_path || pt.sparsity != ST_SPARSITY_CALIBRATED)) {
        fprintf(stderr, "stsim: --calib %s: %s\n", calib_path,
                trace_path ? "a trace and a calibration are two sources of sparsity: give one"
                           : "the calibration is used with sparsity=calibrated only");
        return EXIT_USAGE;
    }
    if (ends_with(netname, ".csv"))
        rc = st_topo_load(netname, &net, &err);
    else
        rc = st_net_builtin(netname, &net, &err);
    if (rc == 0 && trace_path) {
        rc = ex_trace_load(trace_path, net, trace_iter, &trace, &err);
        if (rc == 0 && pt.batch > trace->images)
            rc = st_err_set(&err, ST_EINVAL, "batch = %d: %s holds %d images of %s", pt.batch,
                            trace_path, trace->images, trace->iter);
        if (rc == 0)
            rc = st_sim_run_src(net, &pt, ex_tracemem_masks, trace, &res, &err);
    } else if (rc == 0 && calib_path) {
        if (!(calib = malloc(sizeof *calib)))
            rc = st_err_set(&err, ST_ENOMEM, "out of memory");
        if (rc == 0)
            rc = st_calib_load(calib_path, calib, &err);
        if (rc == 0)
            rc = st_sim_run_calib(net, &pt, calib, &res, &err);
    } else if (rc == 0)
        rc = st_sim_run(net, &pt, &res, &err);
    if (rc == 0)
        rc = st_result_check(&res, &pt, &err);
    if (rc == 0) {
        if (csv)
            print_csv(net, &pt, &res);
        else if (json)
            print_json(net, &pt, &res, layers);
        else
            print_human(net, &pt, &res, layers);
    } else {
        fprintf(stderr, "stsim: %s\n", err.msg);
    }
    st_result_fini(&res);
    ex_tracemem_destroy(&trace);
    free(calib);
    st_net_destroy(&net);
    return rc == 0 ? 0 : rc == ST_ENOMEM ? 1 : EXIT_USAGE;
}
