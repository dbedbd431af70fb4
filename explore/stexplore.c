/*
 * stexplore.c - the design-space explorer program: runs a Lua sweep script, evaluates
 * every point with the simulator and writes one HDF5 file. Argument parsing, exit
 * statuses and the summary live here; everything else is in the ex_ modules.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>

#include "ex.h"

#ifndef EX_VERSION
#define EX_VERSION "unknown"
#endif
#ifndef EX_GIT_REVISION
#define EX_GIT_REVISION "unknown"
#endif
#ifndef EX_LUA_LIB_DIR
#define EX_LUA_LIB_DIR "lua_scripts"
#endif

/* Exit statuses: 0 done (failed points included), 1 the machine failed, 2 bad input,
 * 130 stopped by a signal (resume it). */
enum { EXIT_INFRA = 1, EXIT_USAGE = 2, EXIT_STOPPED = 130 };

static void usage(FILE *f)
{
    fputs("usage: stexplore [options] SCRIPT.lua\n"
          "\n"
          "Run the design-space sweep that SCRIPT.lua returns: evaluate every point with the\n"
          "SparseTrain simulator and write one HDF5 file (default results/<sweep name>.h5).\n"
          "The script language is documented in docs/lua-api.md, the file in results/README.md.\n"
          "\n"
          "options:\n"
          "  -o, --output PATH       result file (default results/<sweep name>.h5)\n"
          "  --check                 validate the script, count its points, show the first\n"
          "                          ones; evaluate nothing, write nothing\n"
          "  --first N               points shown by --check (default 10)\n"
          "  --count-limit N         --check enumerates at most N candidates to count the\n"
          "                          points that constraints leave (default 1000000)\n"
          "  --force                 overwrite an existing result file and its journal\n"
          "  --resume                continue an interrupted run of the same script\n"
          "  --trust                 lift the sandbox: full Lua library, no limits\n"
          "  --max-instructions N    instruction budget of each call into the script\n"
          "                          (default 200000000)\n"
          "  --max-memory MIB        memory cap of the script (default 256)\n"
          "  --snapshot SECONDS      interval between snapshots of the result file (default 60)\n"
          "  --batch N               points per batch at most (default 4096)\n"
          "  --progress MODE         auto (a live line on a terminal, log lines otherwise),\n"
          "                          live, log or none (default auto)\n"
          "  --lib DIR               where require() looks after the script's folder\n"
          "                          (default " EX_LUA_LIB_DIR ")\n"
          "  -q, --quiet             no progress and no summary\n"
          "  -h, --help              this text\n"
          "  --version               version and libraries\n"
          "\n"
          "exit status: 0 done (even with failed points), 1 the machine failed (I/O, memory),\n"
          "2 bad input (script errors, bad arguments, an existing output), 130 stopped by a\n"
          "signal (run again with --resume).\n",
          f);
}

/* A whole number argument in [lo, hi]. */
static int arg_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;

    if (!s || end == s || *end || v != (double)(uint64_t)v || v < (double)lo || v > (double)hi) {
        fprintf(stderr, "stexplore: %s = '%s': must be a whole number in [%llu, %llu]\n", opt,
                s ? s : "", (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int arg_real(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;

    if (!s || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "stexplore: %s = '%s': must be a number in [%g, %g]\n", opt, s ? s : "", lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    ex_lua_opts lo;
    ex_run_opts ro;
    ex_run_stats st;
    ex_ptab ptab;
    ex_lua *lua = NULL;
    ex_script *script = NULL;
    st_err err;
    sigset_t stop;
    const char *path = NULL, *out = NULL, *progress = "auto";
    char def_out[300], command[4096], h5v[64];
    int check = 0, quiet = 0, rc = 0, status = 0;
    uint64_t first = 10, count_limit = 1000000, u;
    size_t used = 0;

    st_err_clear(&err);
    memset(&ptab, 0, sizeof ptab);
    ex_lua_opts_init(&lo);
    lo.lib_dir = EX_LUA_LIB_DIR;
    memset(&ro, 0, sizeof ro);
    ro.snapshot_s = 60;
    ro.batch_max = 4096;
    ro.batch_s = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            ex_h5_version(h5v, sizeof h5v);
            printf("stexplore %s (git %s), %s, %s\n", EX_VERSION, EX_GIT_REVISION, LUA_RELEASE,
                   h5v);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = v;
        } else if (!strcmp(a, "--first")) {
            status = arg_u64(a, v, 0, 1000000, &first);
        } else if (!strcmp(a, "--count-limit")) {
            status = arg_u64(a, v, 0, EX_SPACE_MAX, &count_limit);
        } else if (!strcmp(a, "--max-instructions")) {
            status = arg_u64(a, v, 1000, UINT64_C(1) << 50, &lo.budget);
        } else if (!strcmp(a, "--max-memory")) {
            status = arg_u64(a, v, 1, 1 << 20, &u);
            lo.mem_cap = (size_t)u << 20;
        } else if (!strcmp(a, "--snapshot")) {
            status = arg_real(a, v, 0, 1e9, &ro.snapshot_s);
        } else if (!strcmp(a, "--batch")) {
            status = arg_u64(a, v, 1, 1 << 20, &u);
            ro.batch_max = (int)u;
        } else if (!strcmp(a, "--progress")) {
            progress = v;
            if (!v ||
                (strcmp(v, "auto") && strcmp(v, "live") && strcmp(v, "log") && strcmp(v, "none"))) {
                fprintf(stderr, "stexplore: --progress '%s': must be auto, live, log or none\n",
                        v ? v : "");
                status = -1;
            }
        } else if (!strcmp(a, "--lib")) {
            lo.lib_dir = v;
        } else {
            takes = 0;
            if (!strcmp(a, "--check"))
                check = 1;
            else if (!strcmp(a, "--force"))
                ro.force = 1;
            else if (!strcmp(a, "--resume"))
                ro.resume = 1;
            else if (!strcmp(a, "--trust"))
                lo.trusted = 1;
            else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
                quiet = 1;
            else if (a[0] == '-' && a[1]) {
                fprintf(stderr, "stexplore: unknown option '%s' (see stexplore --help)\n", a);
                return EXIT_USAGE;
            } else if (path) {
                fprintf(stderr, "stexplore: one script only: '%s' and '%s'\n", path, a);
                return EXIT_USAGE;
            } else
                path = a;
        }
        if (takes && !v) {
            fprintf(stderr, "stexplore: option %s needs a value\n", a);
            return EXIT_USAGE;
        }
        if (status != 0)
            return EXIT_USAGE;
        i += takes;
    }
    if (!path) {
        fputs("stexplore: no script given (see stexplore --help)\n", stderr);
        return EXIT_USAGE;
    }
    if (ro.force && ro.resume) {
        fputs("stexplore: --force and --resume exclude each other\n", stderr);
        return EXIT_USAGE;
    }

    if ((rc = ex_ptab_init(&ptab, &err)) != 0 || (rc = ex_lua_create(&lo, &lua, &err)) != 0 ||
        (rc = ex_script_load(lua, path, &ptab, &script, &err)) != 0)
        goto done;
    if (check) {
        rc = ex_check(script, &ptab, stdout, (int)first, count_limit, &err);
        goto done;
    }

    if (!out) {
        snprintf(def_out, sizeof def_out, "results/%s.h5", ex_script_sweep(script)->name);
        out = def_out;
    }
    for (int i = 0; i < argc && used < sizeof command; i++)
        used +=
            (size_t)snprintf(command + used, sizeof command - used, "%s%s", i ? " " : "", argv[i]);
    ro.out = out;
    ro.command = command;
    ro.version = EX_VERSION;
    ro.git_revision = EX_GIT_REVISION;
    ro.lua_version = LUA_RELEASE;
    ro.log = quiet || !strcmp(progress, "none") ? NULL : stderr;
    ro.tty = !strcmp(progress, "live") || (!strcmp(progress, "auto") && isatty(2));
    /* Stop signals are blocked and polled between batches: the batch in hand is journaled
     * and a snapshot written before the program ends, with no handler and no global. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    ro.stop_signals = &stop;
    rc = ex_run(script, &ptab, &ro, &st, &err);
    if (rc == 0 && !quiet) {
        if (st.already_complete)
            printf("stexplore: %s is complete already (%llu points): nothing to do\n", out,
                   (unsigned long long)st.points);
        else
            printf("stexplore: %s: %llu points evaluated (%llu ok, %llu failed, %llu rejected by "
                   "keep; %llu excluded by where, %llu repeats), %llu this run in %.1f s -> %s%s\n",
                   ex_script_sweep(script)->name, (unsigned long long)st.points,
                   (unsigned long long)(st.points - st.failed - st.rejected),
                   (unsigned long long)st.failed, (unsigned long long)st.rejected,
                   (unsigned long long)st.excluded, (unsigned long long)st.duplicates,
                   (unsigned long long)st.evaluated, st.elapsed_s, out,
                   st.interrupted ? " (incomplete)" : "");
        if (st.failed)
            printf("stexplore: %llu points failed; their messages are in /failures of %s\n",
                   (unsigned long long)st.failed, out);
    }
    if (rc == 0 && st.interrupted) {
        fprintf(stderr, "stexplore: stopped by signal %d; run again with --resume to finish\n",
                st.interrupted);
        status = EXIT_STOPPED;
    }
done:
    if (rc != 0) {
        fprintf(stderr, "stexplore: %s\n", err.msg);
        status = rc == ST_EINVAL || rc == ST_EFORMAT ? EXIT_USAGE : EXIT_INFRA;
    }
    ex_script_destroy(&script);
    ex_lua_destroy(&lua);
    ex_ptab_fini(&ptab);
    return status;
}
