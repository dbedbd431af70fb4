/*
 * bench_sim.c - speed, memory and sampling accuracy of the engine: one
 * training iteration per network, exact and sampled, at p = 0 and 0.9.
 * Each measurement runs in a child process so that its peak memory is its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "st.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */

typedef struct sample {
    double seconds;    /* best of the repetitions */
    long maxrss_kib;   /* peak resident memory of the child */
    double cycles, macs; /* total cycles and useful MACs of the run */
    int ok;
} sample;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Simulate `name` in a child process `reps` times; report the best time. */
static sample measure(const char *name, double p, int fidelity, int reps)
{
    sample s = {0};
    int fd[2];
    pid_t pid;

    if (pipe(fd) != 0)
        return s;
    pid = fork();
    if (pid == 0) {
        st_net *net = NULL;
        st_point pt;
        st_result res;
        st_err err;
        struct rusage ru;

        close(fd[0]);
        st_point_init(&pt);
        pt.p = p;
        pt.fidelity = fidelity;
        st_result_init(&res);
        s.seconds = 1e30;
        if (st_net_builtin(name, &net, &err) == 0) {
            s.ok = 1;
            for (int i = 0; i < reps && s.ok; i++) {
                double t0 = now();
                if (st_sim_run(net, &pt, &res, &err) != 0) {
                    fprintf(stderr, "bench_sim: %s: %s\n", name, err.msg);
                    s.ok = 0;
                    break;
                }
                t0 = now() - t0;
                if (t0 < s.seconds)
                    s.seconds = t0;
                s.cycles = (double)st_phase_cycles(&res.run);
                s.macs = (double)res.run.useful_macs;
            }
        }
        getrusage(RUSAGE_SELF, &ru);
        s.maxrss_kib = ru.ru_maxrss;
        st_result_fini(&res);
        st_net_destroy(&net);
        if (write(fd[1], &s, sizeof s) != (ssize_t)sizeof s)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (pid < 0 || read(fd[0], &s, sizeof s) != (ssize_t)sizeof s)
        s.ok = 0;
    close(fd[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return s;
}

int main(int argc, char **argv)
{
    const char *def[] = {"alexnet", "resnet50", NULL};
    const char *const *nets = def;
    int reps = 3;

    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        puts("usage: bench_sim [--all | --version | NETWORK ...]\n"
             "Time one training iteration (batch 1, default design point) of each network,\n"
             "exact and sampled, at p = 0 and 0.9; best of 3 runs, one core; peak memory\n"
             "of the process; sampled total cycles against exact.");
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("bench_sim %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--all"))
        nets = st_net_builtin_names();
    else if (argc > 1)
        nets = (const char *const *)argv + 1;

    printf("| network | p | exact s | exact MiB | sampled s | sampled MiB | sampled cycles vs exact "
           "| sampled MACs vs exact |\n|---|---|---|---|---|---|---|---|\n");
    for (; *nets; nets++)
        for (int k = 0; k < 2; k++) {
            double p = k ? 0.9 : 0;
            sample ex = measure(*nets, p, ST_FID_EXACT, reps);
            sample sa = measure(*nets, p, ST_FID_SAMPLED, reps);
            if (!ex.ok || !sa.ok) {
                printf("| %s | %g | failed | | | | | |\n", *nets, p);
                continue;
            }
            printf("| %s | %g | %.3f | %.1f | %.4f | %.1f | %+.2f%% | %+.2f%% |\n", *nets, p,
                   ex.seconds, ex.maxrss_kib / 1024.0, sa.seconds, sa.maxrss_kib / 1024.0,
                   100 * (sa.cycles - ex.cycles) / ex.cycles, 100 * (sa.macs - ex.macs) / ex.macs);
            fflush(stdout);
        }
    return 0;
}
