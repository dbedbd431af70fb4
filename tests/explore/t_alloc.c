/*
 * t_alloc.c - allocation failures, in the manner of SQLite's tests: an allocator hook
 * fails the n-th allocation of the explorer's own code (and of the Lua state, whose
 * allocator is ours), for n = 1, 2, ... until an operation no longer reaches n. Each
 * attempt runs in a child process: the script's load, a fresh run, and a resume of an
 * interrupted run, which also writes the result file. Every attempt must either succeed
 * or end with a message that says memory ran out, never crash or leak; and nothing may be
 * lost: after a failed attempt, a resume without the hook must complete the sweep into the
 * same points as an uninterrupted run (ids compared with that run's file).
 *
 * The hook is the linker's: this test is linked with --wrap=malloc,calloc,realloc,strdup
 * (tests/CMakeLists.txt), which reroutes the calls of the project's static libraries and
 * of this file, not those inside libc, HDF5 or Lua's own library.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "../tap.h"
#include "ex.h"

/* ------------------------------------------------------------------ the hook */

/* The hook's state: the test's own globals, as in SQLite's test harness. */
static long fail_at;  /* fail the allocation with this number; 0: never */
static long alloc_no; /* allocations counted since the hook was armed */
static int fired;     /* the hook has failed an allocation */
static long stop_at;  /* at this allocation, raise SIGUSR2 (a stop request); 0: never */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static int must_fail(void)
{
    if (fail_at > 0 && stop_at > 0 && alloc_no + 1 == stop_at)
        raise(SIGUSR2);
    if (fail_at > 0 && ++alloc_no == fail_at) {
        fired = 1;
        errno = ENOMEM; /* as the C library's allocator does */
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return must_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t k, size_t n)
{
    return must_fail() ? NULL : __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees (Lua's allocator never asks it): not an allocation. */
    return n > 0 && must_fail() ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s)
{
    return must_fail() ? NULL : __real_strdup(s);
}

static void arm(long n)
{
    fail_at = n;
    alloc_no = 0;
    fired = 0;
}

/* Stop failing; fired keeps what happened. */
static void disarm(void)
{
    fail_at = 0;
}

/* ---------------------------------------------------------------- fixtures */

typedef struct fx {
    char dir[64], script[128], module[128], out[160], ref[160], saved[160];
} fx;

enum { OP_LOAD, OP_FRESH, OP_RESUME };
static const char *const op_names[] = {"load", "fresh run", "resume"};

/* Child exit statuses. */
enum { C_SUCCESS = 0, C_NOT_REACHED = 1, C_RECOVERED = 2, C_UNCLEAR = 3, C_LOST = 4 };

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    size_t n;
    int rc = a && b ? 0 : -1;

    while (rc == 0 && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n)
            rc = -1;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        rc = -1;
    return rc;
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The sorted ids of a complete result file, read with HDF5 directly; NULL when the file
 * is missing, incomplete or unreadable. */
static uint64_t *file_ids(const char *path, size_t *n)
{
    hid_t f = -1, d = -1, sp = -1, a = -1;
    hsize_t dim = 0;
    uint64_t *ids = NULL;
    int complete = 0;

    *n = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0 || (f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0 ||
        (a = H5Aopen(f, "complete", H5P_DEFAULT)) < 0 ||
        H5Aread(a, H5T_NATIVE_INT, &complete) < 0 || !complete ||
        (d = H5Dopen2(f, "/points/id", H5P_DEFAULT)) < 0 || (sp = H5Dget_space(d)) < 0 ||
        H5Sget_simple_extent_dims(sp, &dim, NULL) != 1 ||
        !(ids = __real_malloc((size_t)dim * sizeof *ids + 1)) ||
        H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids) < 0) {
        free(ids);
        ids = NULL;
    } else {
        *n = (size_t)dim;
        qsort(ids, *n, sizeof *ids, u64_cmp);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    if (a >= 0)
        H5Aclose(a);
    if (f >= 0)
        H5Fclose(f);
    return ids;
}

/* Load the script and run (or resume) it into out; with arm_n, the hook is armed after
 * the load (which OP_LOAD covers), for the run alone. */
static int run_sweep(const fx *x, const char *out, int resume, const void *stop, long arm_n,
                     st_err *err)
{
    ex_ptab t;
    ex_lua_opts lo;
    ex_lua *lua = NULL;
    ex_script *s = NULL;
    ex_run_opts ro;
    ex_run_stats st;
    int rc;

    memset(&t, 0, sizeof t);
    memset(&ro, 0, sizeof ro);
    ex_lua_opts_init(&lo);
    ro.out = out;
    ro.force = !resume;
    ro.resume = resume;
    ro.snapshot_s = 0;
    ro.batch_max = 3;
    ro.batch_s = 1e-9;
    ro.sync_s = 0;
    ro.command = ro.version = ro.git_revision = ro.lua_version = "t_alloc";
    ro.stop_signals = stop;
    if ((rc = ex_ptab_init(&t, err)) == 0 && (rc = ex_lua_create(&lo, &lua, err)) == 0 &&
        (rc = ex_script_load(lua, x->script, &t, &s, err)) == 0) {
        if (arm_n)
            arm(arm_n);
        rc = ex_run(s, &t, &ro, &st, err);
        disarm();
    }
    ex_script_destroy(&s);
    ex_lua_destroy(&lua);
    ex_ptab_fini(&t);
    return rc;
}

static int load_only(const fx *x, st_err *err)
{
    ex_ptab t;
    ex_lua_opts lo;
    ex_lua *lua = NULL;
    ex_script *s = NULL;
    int rc;

    memset(&t, 0, sizeof t);
    ex_lua_opts_init(&lo);
    if ((rc = ex_ptab_init(&t, err)) == 0 && (rc = ex_lua_create(&lo, &lua, err)) == 0)
        rc = ex_script_load(lua, x->script, &t, &s, err);
    ex_script_destroy(&s);
    ex_lua_destroy(&lua);
    ex_ptab_fini(&t);
    return rc;
}

/* Are the ids of the complete file at path those of the reference? */
static int same_points(const fx *x, const char *path)
{
    size_t na, nb;
    uint64_t *a = file_ids(x->ref, &na), *b = file_ids(path, &nb);
    int same = a && b && na == nb && memcmp(a, b, na * sizeof *a) == 0;

    free(a);
    free(b);
    return same;
}

static void restore_interrupted(const fx *x)
{
    char from[200], to[200];

    snprintf(from, sizeof from, "%s.journal", x->saved);
    snprintf(to, sizeof to, "%s.journal", x->out);
    unlink(to);
    unlink(x->out);
    if (copy_file(from, to) != 0 || copy_file(x->saved, x->out) != 0)
        _exit(C_LOST);
}

/* One attempt with the n-th allocation failing; the child's exit status says how it
 * ended (C_*). Runs in the child. */
static int attempt(const fx *x, int op, long n)
{
    st_err err;
    int rc;

    st_err_clear(&err);
    if (op == OP_RESUME)
        restore_interrupted(x);
    else if (op == OP_FRESH) {
        char j[200];
        snprintf(j, sizeof j, "%s.journal", x->out);
        unlink(x->out);
        unlink(j);
    }
    if (op == OP_LOAD) {
        arm(n);
        rc = load_only(x, &err);
        disarm();
    } else {
        rc = run_sweep(x, x->out, op == OP_RESUME, NULL, n, &err);
    }
    if (!fired && rc != 0)
        printf("# %s, allocation %ld not reached, yet: rc %d, \"%.300s\"\n", op_names[op], n, rc,
               err.msg);
    if (!fired)
        return rc == 0 ? C_NOT_REACHED : C_UNCLEAR;
    if (rc != 0 && !strstr(err.msg, "out of memory")) {
        printf("# %s, allocation %ld: rc %d, \"%.300s\"\n", op_names[op], n, rc, err.msg);
        return C_UNCLEAR;
    }
    if (op == OP_LOAD)
        return rc == 0 ? C_SUCCESS : C_RECOVERED;
    /* Nothing lost: what is on disk resumes into the reference (or is it already). */
    if (rc != 0 && (rc = run_sweep(x, x->out, 1, NULL, 0, &err)) != 0) {
        printf("# %s, allocation %ld: the resume after it failed: %.300s\n", op_names[op], n,
               err.msg);
        return C_LOST;
    }
    if (!same_points(x, x->out)) {
        printf("# %s, allocation %ld: the completed file differs from the reference\n",
               op_names[op], n);
        return C_LOST;
    }
    return C_RECOVERED;
}

/* Run attempts n = 1, 2, ... (every one up to dense, then a stride of n / 5) until one
 * does not reach n. Reports one TAP line per operation. */
static void sweep_op(const fx *x, int op, long dense, const char *id)
{
    long n = 1, tried = 0, bad = 0, first_bad = 0;
    int last = -1, worst = C_SUCCESS;

    for (;;) {
        pid_t pid;
        int status = 0, code;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            int child = attempt(x, op, n);
            fflush(stdout);
            exit(child); /* exit, not _exit: the leak checker of the sanitizer build runs */
        }
        waitpid(pid, &status, 0);
        tried++;
        if (WIFSIGNALED(status)) {
            printf("# %s, allocation %ld: killed by signal %d\n", op_names[op], n,
                   WTERMSIG(status));
            code = C_LOST;
        } else {
            code = WEXITSTATUS(status);
        }
        if (code == C_NOT_REACHED)
            break;
        if (code == C_UNCLEAR || code == C_LOST || (code != C_SUCCESS && code != C_RECOVERED)) {
            bad++;
            if (!first_bad)
                first_bad = n;
            if (code > worst)
                worst = code;
        }
        last = code;
        n += n < dense ? 1 : n / 5;
        if (tried > 100000)
            break;
    }
    (void)last;
    if (!ok(bad == 0 && tried > 1,
            "%s every one of %ld allocation failures in the %s ends in a clear error with "
            "nothing lost (allocations reached: about %ld)",
            id, tried - 1, op_names[op], n))
        diag("  %ld attempts went wrong, the first at allocation %ld (worst: %d)", bad, first_bad,
             worst);
}

int main(void)
{
    fx x;
    st_err err;
    pid_t pid;
    long total, dense;
    int status = 0;
    char j[200], saved_j[200];
    struct stat sb;

    memset(&x, 0, sizeof x);
    /* Every attempt syncs files: in memory (/dev/shm) that costs nothing. */
    snprintf(x.dir, sizeof x.dir, "%s/t_alloc.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(x.dir))
        return 1;
    snprintf(x.script, sizeof x.script, "%s/s.lua", x.dir);
    snprintf(x.module, sizeof x.module, "%s/lib.lua", x.dir);
    snprintf(x.out, sizeof x.out, "%s/r.h5", x.dir);
    snprintf(x.ref, sizeof x.ref, "%s/ref.h5", x.dir);
    snprintf(x.saved, sizeof x.saved, "%s/saved.h5", x.dir);
    /* Small, with a module, a where and a keep. No simulation: an allocation failing
     * inside the simulator would make a failed point, which is another matter. */
    write_file(x.module, "return { limit = 12 }\n");
    write_file(x.script, "local lib = require 'lib'\n"
                         "return st.sweep {\n"
                         "  name = 'alloc', network = 'fmnist-cnn', batch = 1, eval = 'none',\n"
                         "  params = { pe_rows = {1, 2, 3, 4, 5, 6}, pe_cols = {1, 2, 3, 4} },\n"
                         "  where = function(p) return p.pe_rows * p.pe_cols ~= 6 end,\n"
                         "  keep = function(m) return true end,\n"
                         "}\n");
    st_err_clear(&err);
    if (!ok(run_sweep(&x, x.ref, 0, NULL, 0, &err) == 0, "alloc-0.1 the reference run")) {
        diag("  %s", err.msg);
        return tap_done();
    }
    /* An interrupted run to resume: a fresh run whose allocation two thirds of the way
     * through fails, leaving a journal with frames and an incomplete file. */
    snprintf(j, sizeof j, "%s.journal", x.out);
    snprintf(saved_j, sizeof saved_j, "%s.journal", x.saved);
    run_sweep(&x, x.out, 0, NULL, LONG_MAX, &err);
    total = alloc_no;
    /* A run stopped half way by a stop request (SIGUSR2, raised by the hook at the
     * middle allocation of a whole run): a journal with frames and an incomplete file. */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGUSR2);
        sigprocmask(SIG_BLOCK, &stop, NULL);
        stop_at = total / 2;
        status = run_sweep(&x, x.out, 0, &stop, LONG_MAX, &err);
        if (status != 0)
            printf("# the stopped run: %s\n", err.msg);
        fflush(stdout);
        _exit(status == 0 ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    if (stat(j, &sb) != 0)
        sb.st_size = 0;
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && sb.st_size > 2000 &&
           !same_points(&x, x.out),
       "alloc-0.2 a run stopped half way leaves a journal with frames (%lld bytes; a whole "
       "run makes %ld allocations)",
       (long long)sb.st_size, total);
    copy_file(j, saved_j);
    copy_file(x.out, x.saved);

    /* Every allocation up to dense, then a stride of a fifth: a few seconds (the
     * sanitizer build, where a fork costs ten times more, tries fewer). With
     * ST_ALLOC_FULL=1 in the environment, every allocation (a minute or more). */
#if defined(__SANITIZE_ADDRESS__)
    dense = 24;
#else
    dense = 64;
#endif
    if (getenv("ST_ALLOC_FULL"))
        dense = LONG_MAX;
    sweep_op(&x, OP_LOAD, dense, "alloc-1.1");
    sweep_op(&x, OP_FRESH, dense, "alloc-2.1");
    sweep_op(&x, OP_RESUME, dense, "alloc-3.1");

    unlink(x.script);
    unlink(x.module);
    unlink(x.out);
    unlink(j);
    unlink(x.ref);
    unlink(x.saved);
    unlink(saved_j);
    rmdir(x.dir);
    return tap_done();
}
