/*
 * ex_mpi.c - what the two sides of an MPI sweep share: waiting for a message without
 * holding a core, and the host list for provenance. The sides themselves are in
 * ex_master.c and ex_worker.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ex_mpi.h"

#define HOST_MAX 64

int ex_mpi_wait(MPI_Comm comm, int src, MPI_Message *msg, MPI_Status *status, st_err *err)
{
    struct timespec nap = {0, 0};
    long nap_ns = 0;
    int flag = 0, polls = 0, rc = ST_OK;

    for (;;) {
        if (MPI_Improbe(src, MPI_ANY_TAG, comm, &flag, msg, status) != MPI_SUCCESS) {
            rc = st_err_set(err, ST_EIO, "MPI_Improbe from rank %d failed", src);
            goto done;
        }
        if (flag)
            break;
        /* A few hundred polls cost microseconds and catch an answer that is on its way;
         * after that, sleep 10 us, doubling up to 1 ms. */
        if (++polls < 200)
            continue;
        nap_ns = nap_ns ? (nap_ns * 2 > 1000000 ? 1000000 : nap_ns * 2) : 10000;
        nap.tv_nsec = nap_ns;
        nanosleep(&nap, NULL);
    }
done:
    return rc;
}

int ex_mpi_hosts(MPI_Comm comm, int root, char *buf, size_t size, st_err *err)
{
    char me[HOST_MAX], *all = NULL;
    int rank, n, rc = ST_OK;
    size_t used = 0;

    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &n);
    memset(me, 0, sizeof me);
    if (gethostname(me, sizeof me - 1) != 0)
        snprintf(me, sizeof me, "?");
    if (rank == root && !(all = malloc((size_t)n * HOST_MAX))) {
        /* The others wait in the gather: the caller aborts comm. */
        rc = st_err_set(err, ST_ENOMEM, "host names of %d ranks: out of memory", n);
        goto done;
    }
    if (MPI_Gather(me, HOST_MAX, MPI_CHAR, all, HOST_MAX, MPI_CHAR, root, comm) != MPI_SUCCESS) {
        rc = st_err_set(err, ST_EIO, "MPI_Gather of host names failed");
        goto done;
    }
    if (rank != root)
        goto done;
    buf[0] = '\0';
    /* Each distinct name once, in rank order of first appearance, with its rank count. */
    for (int i = 0; i < n; i++) {
        const char *h = all + (size_t)i * HOST_MAX;
        int count = 0, first = 1;
        for (int k = 0; k < n && first; k++) {
            if (strcmp(all + (size_t)k * HOST_MAX, h) != 0)
                continue;
            if (k < i)
                first = 0;
        }
        if (!first)
            continue;
        for (int k = i; k < n; k++)
            count += strcmp(all + (size_t)k * HOST_MAX, h) == 0;
        if (used < size)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", h);
        if (n > 1 && used < size)
            used += (size_t)snprintf(buf + used, size - used, " (%d rank%s)", count,
                                     count > 1 ? "s" : "");
    }
done:
    free(all);
    return rc;
}
