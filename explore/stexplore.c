/*
 * stexplore.c - the design-space explorer program: runs a Lua sweep script, evaluates
 * every point with the simulator and writes one HDF5 file, in one process or over the
 * ranks of an MPI job (mpirun -np N stexplore ...). Argument parsing, MPI start-up and
 * shut-down, exit statuses and the summary live here; everything else is in the ex_
 * modules.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>

#include "ex_mpi.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */

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
          "  --reuse OLD.h5          take the points OLD.h5 has (same id and parameter values)\n"
          "                          from it instead of evaluating them; OLD.h5 must be of the\n"
          "                          same network and evaluation\n"
          "  --trust                 lift the sandbox: full Lua library, no limits\n"
          "  --max-instructions N    instruction budget of each call into the script\n"
          "                          (default 200000000)\n"
          "  --max-memory MIB        memory cap of the script (default 256)\n"
          "  --snapshot SECONDS      interval between snapshots of the result file (default 60)\n"
          "  --batch N               points per batch at most (default 4096)\n"
          "  --sync SECONDS          at most this long between syncs of the journal to disk;\n"
          "                          0 syncs every batch (default 1)\n"
          "  --shard I/N             run shard I of N (0 <= I < N): the points whose id\n"
          "                          modulo N is I, so that N runs (a job array) split the\n"
          "                          sweep; each writes its own file (resume it with the\n"
          "                          same --shard); --check counts the shard's points\n"
          "  --progress MODE         auto (a live line on a terminal, log lines otherwise),\n"
          "                          live, log or none (default auto)\n"
          "  --lib DIR               where require() looks after the script's folder\n"
          "                          (default " EX_LUA_LIB_DIR ")\n"
          "  -q, --quiet             no progress and no summary\n"
          "\n"
          "under mpirun (or srun), rank 0 runs the script and writes, the others evaluate:\n"
          "  --master-eval MODE      rank 0 evaluates too, on a helper thread: yes, no, or\n"
          "                          auto (yes below 32 ranks; default)\n"
          "  --stop-grace SECONDS    on a stop signal, how long rank 0 waits for workers to\n"
          "                          end their batch (default 3)\n"
          "  --stats                 print what the scheduling cost on rank 0\n"
          "  --status-file PATH      rank 0 writes 'running' there once every rank has\n"
          "                          started (a stop sent earlier could end a rank that is\n"
          "                          still loading), and its exit status as it ends: mpirun\n"
          "                          reports 1 when a signal stops it, and a job script can\n"
          "                          read 130 (stopped: resume) from the file instead\n"
          "  Without an MPI launcher stexplore runs alone and MPI is not started.\n"
          "\n"
          "  -h, --help              this text\n"
          "  --version               version and libraries\n"
          "\n"
          "exit status: 0 done (even with failed points), 1 the machine failed (I/O, memory),\n"
          "2 bad input (script errors, bad arguments, an existing output), 130 stopped by a\n"
          "signal: SIGINT, SIGTERM, SIGHUP or SIGUSR1 (run again with --resume).\n",
          f);
}

/* A whole number argument in [lo, hi]. */
static int arg_u64(FILE *err, const char *opt, const char *s, uint64_t lo, uint64_t hi,
                   uint64_t *out)
{
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;

    if (!s || end == s || *end || v != (double)(uint64_t)v || v < (double)lo || v > (double)hi) {
        fprintf(err, "stexplore: %s = '%s': must be a whole number in [%llu, %llu]\n", opt,
                s ? s : "", (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int arg_real(FILE *err, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;

    if (!s || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(err, "stexplore: %s = '%s': must be a number in [%g, %g]\n", opt, s ? s : "", lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Everything the command line says. */
typedef struct cli {
    ex_lua_opts lo;
    ex_run_opts ro;
    ex_master_opts mo;
    const char *path, *out, *progress, *status_file;
    int check, quiet, stats;
    uint64_t first, count_limit;
} cli;

/* Read the arguments into c. Returns -1 to go on, or the exit status; messages only when
 * loud (rank 0), so that N ranks do not print N copies. */
static int parse_args(int argc, char **argv, cli *c, int loud)
{
    FILE *err = loud ? stderr : fopen("/dev/null", "w");
    char h5v[64];
    uint64_t u;
    int status = -1, bad = 0;

    if (!err)
        err = stderr;
    for (int i = 1; i < argc && status < 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            if (loud)
                usage(stdout);
            status = 0;
            break;
        } else if (!strcmp(a, "--version")) {
            ex_h5_version(h5v, sizeof h5v);
            if (loud)
                printf("stexplore %s (git %s), %s, %s\n", EX_VERSION, EX_GIT_REVISION, LUA_RELEASE,
                       h5v);
            status = 0;
            break;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            c->out = v;
        } else if (!strcmp(a, "--first")) {
            bad = arg_u64(err, a, v, 0, 1000000, &c->first);
        } else if (!strcmp(a, "--count-limit")) {
            bad = arg_u64(err, a, v, 0, EX_SPACE_MAX, &c->count_limit);
        } else if (!strcmp(a, "--max-instructions")) {
            bad = arg_u64(err, a, v, 1000, UINT64_C(1) << 50, &c->lo.budget);
        } else if (!strcmp(a, "--max-memory")) {
            bad = arg_u64(err, a, v, 1, 1 << 20, &u);
            c->lo.mem_cap = (size_t)u << 20;
        } else if (!strcmp(a, "--snapshot")) {
            bad = arg_real(err, a, v, 0, 1e9, &c->ro.snapshot_s);
        } else if (!strcmp(a, "--sync")) {
            bad = arg_real(err, a, v, 0, 1e6, &c->ro.sync_s);
        } else if (!strcmp(a, "--stop-grace")) {
            bad = arg_real(err, a, v, 0, 1e6, &c->mo.grace_s);
        } else if (!strcmp(a, "--batch")) {
            bad = arg_u64(err, a, v, 1, 1 << 20, &u);
            c->ro.batch_max = (int)u;
        } else if (!strcmp(a, "--progress")) {
            c->progress = v;
            if (!v ||
                (strcmp(v, "auto") && strcmp(v, "live") && strcmp(v, "log") && strcmp(v, "none"))) {
                fprintf(err, "stexplore: --progress '%s': must be auto, live, log or none\n",
                        v ? v : "");
                bad = -1;
            }
        } else if (!strcmp(a, "--master-eval")) {
            if (v && (!strcmp(v, "auto") || !strcmp(v, "yes") || !strcmp(v, "no"))) {
                c->mo.local = !strcmp(v, "auto") ? -1 : !strcmp(v, "yes");
            } else {
                fprintf(err, "stexplore: --master-eval '%s': must be auto, yes or no\n",
                        v ? v : "");
                bad = -1;
            }
        } else if (!strcmp(a, "--lib")) {
            c->lo.lib_dir = v;
        } else if (!strcmp(a, "--status-file")) {
            c->status_file = v;
        } else if (!strcmp(a, "--reuse")) {
            c->ro.reuse = v;
        } else if (!strcmp(a, "--shard")) {
            st_err e;
            if (v && (bad = ex_shard_parse(v, &c->ro.shard, &e)) != 0)
                fprintf(err, "stexplore: %s\n", e.msg);
        } else {
            takes = 0;
            if (!strcmp(a, "--check"))
                c->check = 1;
            else if (!strcmp(a, "--force"))
                c->ro.force = 1;
            else if (!strcmp(a, "--resume"))
                c->ro.resume = 1;
            else if (!strcmp(a, "--trust"))
                c->lo.trusted = 1;
            else if (!strcmp(a, "--stats"))
                c->stats = 1;
            else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
                c->quiet = 1;
            else if (a[0] == '-' && a[1]) {
                fprintf(err, "stexplore: unknown option '%s' (see stexplore --help)\n", a);
                status = EXIT_USAGE;
            } else if (c->path) {
                fprintf(err, "stexplore: one script only: '%s' and '%s'\n", c->path, a);
                status = EXIT_USAGE;
            } else
                c->path = a;
        }
        if (status < 0 && takes && !v) {
            fprintf(err, "stexplore: option %s needs a value\n", a);
            status = EXIT_USAGE;
        }
        if (bad != 0)
            status = EXIT_USAGE;
        i += takes;
    }
    if (status < 0 && !c->path) {
        fputs("stexplore: no script given (see stexplore --help)\n", err);
        status = EXIT_USAGE;
    }
    if (status < 0 && c->ro.force && c->ro.resume) {
        fputs("stexplore: --force and --resume exclude each other\n", err);
        status = EXIT_USAGE;
    }
    if (err != stderr)
        fclose(err);
    return status;
}

/* The summary of the scheduler's costs (--stats), for docs/hpc.md's model. */
static void print_stats(const ex_master_stats *s)
{
    uint64_t batches = s->batches + s->local_batches, points = s->points + s->local_points;
    double busy = s->next_s + s->done_s + s->wire_s;

    fprintf(stderr,
            "stexplore: master: %llu batches, %llu points (%llu batches, %llu points on rank "
            "0's helper), %llu messages, %.3f s; evaluation %.3f s on workers, %.3f s on the "
            "helper\n",
            (unsigned long long)batches, (unsigned long long)points,
            (unsigned long long)s->local_batches, (unsigned long long)s->local_points,
            (unsigned long long)s->messages, s->wall_s, s->eval_s, s->local_eval_s);
    fprintf(stderr,
            "stexplore: master: busy %.3f s (next %.3f, done %.3f, wire %.3f), idle %.3f s; "
            "per batch %.1f us, per point %.3f us, per message %.1f us (wire)\n",
            busy, s->next_s, s->done_s, s->wire_s, s->idle_s,
            batches ? 1e6 * busy / (double)batches : 0, points ? 1e6 * busy / (double)points : 0,
            s->messages ? 1e6 * s->wire_s / (double)s->messages : 0);
}

/* Under mpirun, rank 0's stderr is a pipe to mpirun even when mpirun writes to a
 * terminal (and its stdout a pseudo-terminal whatever mpirun writes to), so neither says
 * whether a person watches. mpirun's own stderr does: on one node, mpirun is rank 0's
 * parent, and Linux shows what its stderr is. 1 when that is a terminal, 0 otherwise
 * (another system, a remote node, a file or a pipe). */
static int parent_tty(void)
{
    char path[64], target[256];
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%ld/fd/2", (long)getppid());
    n = readlink(path, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return !strncmp(target, "/dev/pts/", 9) || !strncmp(target, "/dev/tty", 8);
}

/* Rank 0, or the only process: run the script. comm is MPI_COMM_NULL without MPI. *clean
 * is 0 when workers may still be busy (MPI_Finalize would wait for them). */
static int explore(MPI_Comm comm, int size, cli *c, int argc, char **argv, const char *hosts,
                   int *clean)
{
    ex_run_stats st;
    ex_ptab ptab;
    ex_lua *lua = NULL;
    ex_script *script = NULL;
    ex_master *master = NULL;
    ex_master_stats ms;
    st_err err;
    char def_out[300], command[4096], trainer[4096];
    const char *out = c->out;
    int rc = 0, status = 0, farm_used = 0;
    size_t used = 0;

    st_err_clear(&err);
    memset(&ptab, 0, sizeof ptab);
    *clean = 1;
    if (size > 1) {
        /* Without a master the workers cannot be released: leave it to the launcher. */
        if ((rc = ex_master_create(comm, &c->mo, &master, &err)) != 0) {
            *clean = 0;
            goto done;
        }
        c->ro.farm = ex_master_farm(master);
    }
    if ((rc = ex_ptab_init(&ptab, &err)) != 0 || (rc = ex_lua_create(&c->lo, &lua, &err)) != 0 ||
        (rc = ex_script_load(lua, c->path, &ptab, &script, &err)) != 0)
        goto done;
    if (c->check) {
        rc = ex_check(script, &ptab, &c->ro.shard, stdout, (int)c->first, c->count_limit, &err);
        goto done;
    }

    if (!out) {
        snprintf(def_out, sizeof def_out, "results/%s.h5", ex_script_sweep(script)->name);
        out = def_out;
    }
    for (int i = 0; i < argc && used < sizeof command; i++)
        used +=
            (size_t)snprintf(command + used, sizeof command - used, "%s%s", i ? " " : "", argv[i]);
    c->ro.out = out;
    c->ro.command = command;
    /* The trainer is the sttrain installed beside this program. */
    {
        ssize_t n = readlink("/proc/self/exe", trainer, sizeof trainer - 16);
        char *slash = n > 0 ? (trainer[n] = '\0', strrchr(trainer, '/')) : NULL;
        if (slash)
            snprintf(slash + 1, 16, "sttrain");
        else
            snprintf(trainer, sizeof trainer, "sttrain");
        c->ro.trainer = trainer;
    }
    c->ro.version = EX_VERSION;
    c->ro.git_revision = EX_GIT_REVISION;
    c->ro.lua_version = LUA_RELEASE;
    c->ro.hosts = hosts;
    c->ro.log = c->quiet || !strcmp(c->progress, "none") ? NULL : stderr;
    c->ro.tty = !strcmp(c->progress, "live") ||
                (!strcmp(c->progress, "auto") && (isatty(2) || (c->ro.farm && parent_tty())));
    farm_used = 1;
    rc = ex_run(script, &ptab, &c->ro, &st, &err);
    if (rc == 0 && !c->quiet) {
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
        if (c->ro.reuse)
            printf("stexplore: %llu points taken from %s instead of evaluated (%llu of its ids "
                   "had other parameter values and were evaluated)\n",
                   (unsigned long long)st.reused, c->ro.reuse, (unsigned long long)st.reuse_other);
    }
    if (rc == 0 && st.interrupted) {
        fprintf(stderr, "stexplore: stopped by signal %d; run again with --resume to finish\n",
                st.interrupted);
        status = EXIT_STOPPED;
    }
done:
    if (rc == EX_ESTOPPED) {
        /* A stop while the script ran, before the run had anything to save. */
        fprintf(stderr, "stexplore: %s while the script ran; nothing was written\n", err.msg);
        status = EXIT_STOPPED;
    } else if (rc != 0) {
        fprintf(stderr, "stexplore: %s\n", err.msg);
        status = rc == ST_EINVAL || rc == ST_EFORMAT ? EXIT_USAGE : EXIT_INFRA;
    }
    if (master) {
        st_err e2;
        /* Workers still waiting for a setup (nothing ran) are let go. */
        if (ex_master_release(master, &e2) != 0) {
            fprintf(stderr, "stexplore: %s\n", e2.msg);
            status = EXIT_INFRA;
        }
        *clean = ex_master_clean(master);
        ex_master_stats_get(master, &ms);
        if (c->stats && farm_used)
            print_stats(&ms);
        ex_master_destroy(&master);
    }
    ex_script_destroy(&script);
    ex_lua_destroy(&lua);
    ex_ptab_fini(&ptab);
    return status;
}

/* Replace the status file's content with TEXT and a newline; 0, or -1 with errno set. */
static int status_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int bad;

    if (!f)
        return -1;
    bad = fprintf(f, "%s\n", text) < 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

/* Whether an MPI launcher (mpirun, srun, mpiexec) started this process, and its rank. */
static int launched(int *rank)
{
    static const char *const vars[][2] = {{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
                                          {"PMIX_RANK", "PMIX_RANK"},
                                          {"PMI_SIZE", "PMI_RANK"}};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (getenv(vars[i][0])) {
            const char *r = getenv(vars[i][1]);
            *rank = r ? atoi(r) : 0;
            return 1;
        }
    }
    *rank = 0;
    return 0;
}

int main(int argc, char **argv)
{
    cli c;
    st_err err;
    sigset_t stop;
    MPI_Comm comm = MPI_COMM_NULL;
    char hosts[1024] = "";
    int use_mpi, rank = 0, size = 1, provided, status, clean = 1;

    ex_h5_init();
    memset(&c, 0, sizeof c);
    ex_lua_opts_init(&c.lo);
    c.lo.lib_dir = EX_LUA_LIB_DIR;
    c.ro.snapshot_s = 60;
    c.ro.batch_max = 4096;
    c.ro.batch_s = 0.5;
    c.ro.sync_s = 1;
    ex_master_opts_init(&c.mo);
    c.first = 10;
    c.count_limit = 1000000;
    c.progress = "auto";
    st_err_clear(&err);

    /* Stop signals are blocked and polled between batches by rank 0: the batch in hand is
     * journaled and a snapshot written before the program ends, with no handler and no
     * global. Blocked before MPI starts, so that the threads MPI creates inherit the mask
     * (a signal they took would end the process). SIGUSR1 is there because mpirun passes
     * it on to the ranks; the other ranks never take any of them. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigaddset(&stop, SIGUSR1);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    c.ro.stop_signals = &stop;
    c.lo.stop_signals = &stop;

    use_mpi = launched(&rank);
    if ((status = parse_args(argc, argv, &c, rank == 0)) >= 0)
        return status;
    /* Without a launcher MPI is not started at all: a laptop run needs no MPI run-time
     * (and singleton start-up would cost a fraction of a second and an orted). */
    if (use_mpi) {
        MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
        comm = MPI_COMM_WORLD;
        MPI_Comm_rank(comm, &rank);
        MPI_Comm_size(comm, &size);
        if (size > 1 && ex_mpi_hosts(comm, 0, hosts, sizeof hosts, &err) != 0) {
            fprintf(stderr, "stexplore: rank %d: %s\n", rank, err.msg);
            MPI_Abort(comm, EXIT_INFRA);
        }
    }
    /* Every rank has blocked the stop signals by now (MPI_Init returns on rank 0 only
     * once all ranks called it): a job script may pass a stop on from here. */
    if (rank == 0 && c.status_file && status_write(c.status_file, "running") != 0) {
        fprintf(stderr, "stexplore: --status-file %s: cannot write it: %s\n", c.status_file,
                strerror(errno));
        if (use_mpi)
            MPI_Abort(comm, EXIT_USAGE);
        return EXIT_USAGE;
    }
    status = 0;
    if (rank == 0) {
        status = explore(comm, size, &c, argc, argv, size > 1 ? hosts : NULL, &clean);
    } else if (ex_worker_run(comm, 0, &err) != 0) {
        /* A worker that cannot evaluate is broken infrastructure: nobody could resume it. */
        fprintf(stderr, "stexplore: rank %d: %s\n", rank, err.msg);
        MPI_Abort(comm, EXIT_INFRA);
    }
    /* After a stop that gave up on a busy worker, MPI_Finalize would wait for it: leave, and
     * let the launcher end the job. */
    if (rank == 0 && c.status_file) {
        /* Written before MPI_Finalize: mpirun may end the job as soon as rank 0 is done. */
        char num[16];
        snprintf(num, sizeof num, "%d", status);
        if (status_write(c.status_file, num) != 0)
            fprintf(stderr, "stexplore: cannot write the status file %s\n", c.status_file);
    }
    if (use_mpi && clean)
        MPI_Finalize();
    return status;
}
