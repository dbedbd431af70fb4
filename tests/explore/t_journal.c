/*
 * t_journal.c - the crash journal: frames read back as written, in index order even when
 * they were appended out of order; a torn last frame is cut on open and appending goes
 * on; a file that is not a journal, and a second writer, are refused (naming the process
 * that holds the lock); a repeated frame counts once, a frame repeating points in part and
 * records outside their frame are refused without cutting anything.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "ex.h"

typedef struct seen {
    uint64_t n, last, sum_id;
    int ordered, values_ok, msg_ok, detail_ok;
} seen;

static int visit(void *ctx, const ex_record *r, st_err *err)
{
    seen *s = ctx;

    (void)err;
    if (s->n && r->index <= s->last)
        s->ordered = 0;
    s->last = r->index;
    s->n++;
    s->sum_id += r->id;
    if (r->vals[0] != (double)r->index * 0.5 || r->metrics[0].u != r->index * 3)
        s->values_ok = 0;
    if (r->status == EX_FAILED && strcmp(r->msg, "no room") != 0)
        s->msg_ok = 0;
    if (r->ndetail != (int)(r->index % 3) ||
        (r->ndetail && r->detail[r->ndetail - 1].v[EX_D_ENERGY_PJ].f != 1.5 * (double)r->index))
        s->detail_ok = 0;
    return ST_OK;
}

/* A batch of points first .. first + n - 1, every third failed. */
static void fill(ex_batch *b, int nparam, uint64_t first, int n)
{
    double *vals = calloc((size_t)nparam, sizeof *vals);

    ex_batch_reserve(b, n, nparam, NULL);
    for (int i = 0; i < n; i++) {
        uint64_t idx = first + (uint64_t)i;
        ex_record *r;
        vals[0] = (double)idx * 0.5;
        ex_batch_add(b, idx, ex_mix64(idx), vals);
        r = &b->recs[b->n - 1];
        r->metrics[0].u = idx * 3;
        r->status = idx % 3 == 0 ? EX_FAILED : EX_OK;
        if (r->status == EX_FAILED)
            snprintf(r->msg, sizeof r->msg, "no room");
        r->ndetail = (int)(idx % 3);
        r->detail = r->ndetail ? calloc((size_t)r->ndetail, sizeof *r->detail) : NULL;
        for (int k = 0; k < r->ndetail; k++)
            r->detail[k].v[EX_D_ENERGY_PJ].f = 1.5 * (double)idx;
    }
    free(vals);
}

int main(void)
{
    char dir[] = "/tmp/t_journal.XXXXXX", path[256], other[256];
    ex_journal_head head = {4, 0, "return {}", "name: t\n", 12345};
    ex_journal *j = NULL, *j2 = NULL;
    ex_batch b;
    st_err err;
    seen s;
    struct stat sb;
    int nmetric, fd, rc;

    ex_metrics(&nmetric);
    head.nmetric = (uint32_t)nmetric;
    ex_batch_init(&b);
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/r.h5.journal", dir);
    snprintf(other, sizeof other, "%s/not", dir);

    ok(ex_journal_create(path, &head, &j, &err) == 0, "journal-1.1 a journal is created");
    ok(ex_journal_create(path, &head, &j2, &err) == ST_EIO && strstr(err.msg, "cannot create"),
       "journal-1.2 an existing journal is never overwritten: %s", err.msg);
    /* Two frames, the second before the first in index order. */
    fill(&b, 4, 100, 10);
    ok(ex_journal_append(j, 100, 12, 2, 0, &b, &err) == 0, "journal-2.1 a frame is appended");
    fill(&b, 4, 0, 50);
    ok(ex_journal_append(j, 0, 50, 0, 1, &b, &err) == 0, "journal-2.2 another frame is appended");
    ex_journal_destroy(&j);

    ok(ex_journal_open(path, &j, &err) == 0, "journal-3.1 the journal reopens");
    ok(j && !strcmp(ex_journal_head_get(j)->script, "return {}") &&
           !strcmp(ex_journal_head_get(j)->space, "name: t\n") &&
           ex_journal_head_get(j)->started == 12345,
       "journal-3.2 the head holds the script, the space and the start time");
    /* Record locks belong to processes: the second writer must be another process. */
    {
        pid_t pid;
        int status = -1;
        char holder[64], host[256] = "";
        gethostname(host, sizeof host - 1);
        snprintf(holder, sizeof holder, "process %ld on ", (long)getpid());
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            int refused = ex_journal_open(path, &j2, &err) == ST_EINVAL &&
                          tap_has_all(err.msg, "another stexplore", holder, host, (char *)NULL);
            int probed = ex_journal_check_free(path, &err) == ST_EINVAL &&
                         tap_has_all(err.msg, path, holder, host, (char *)NULL);
            _exit(refused ? probed ? 0 : 2 : 1);
        }
        waitpid(pid, &status, 0);
        ok(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 1,
           "journal-3.3 a second process cannot open a journal in use, told which process "
           "holds it (%s%s)",
           holder, host);
        ok(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "journal-3.3b ex_journal_check_free names the holder too");
    }
    ok_eq_u64(ex_journal_records(j), 60, "journal-3.4 60 records");
    ok_eq_u64(ex_journal_failed(j), 3 + 17, "journal-3.5 failed records are counted");
    ok(ex_journal_excluded(j) == 2 && ex_journal_duplicates(j) == 1,
       "journal-3.6 excluded and repeated candidates are summed over frames");
    memset(&s, 0, sizeof s);
    s.ordered = s.values_ok = s.msg_ok = s.detail_ok = 1;
    ok(ex_journal_each(j, visit, &s, &err) == 0 && s.n == 60,
       "journal-3.7 every record is visited");
    ok(s.ordered, "journal-3.8 in increasing index, though appended out of order");
    ok(s.values_ok && s.msg_ok && s.detail_ok,
       "journal-3.9 values, metrics, messages and detail read back as written");
    ex_journal_destroy(&j);

    /* A crash in the middle of a write: cut the file inside the last frame. */
    stat(path, &sb);
    if (truncate(path, sb.st_size - 100) != 0)
        return 1;
    ok(ex_journal_open(path, &j, &err) == 0 && ex_journal_records(j) == 10,
       "journal-4.1 a torn last frame is dropped, the frames before it kept");
    fill(&b, 4, 0, 50);
    ok(ex_journal_append(j, 0, 50, 0, 0, &b, &err) == 0,
       "journal-4.2 appending goes on after the cut");
    ex_journal_destroy(&j);
    ok(ex_journal_open(path, &j, &err) == 0 && ex_journal_records(j) == 60,
       "journal-4.3 and the new frame reads back");
    ex_journal_destroy(&j);

    ok(ex_journal_check_free(path, &err) == ST_OK, "journal-4.4 a journal nobody holds is free");
    ok(ex_journal_check_free(other, &err) == ST_OK, "journal-4.5 so is a path with no file");

    /* The same frame twice (a copied frame): it counts once. */
    unlink(path);
    ok(ex_journal_create(path, &head, &j, &err) == 0, "journal-6.1 a new journal");
    fill(&b, 4, 0, 50);
    ex_journal_append(j, 0, 50, 3, 1, &b, &err);
    ex_journal_append(j, 0, 50, 3, 1, &b, &err);
    fill(&b, 4, 50, 10);
    ex_journal_append(j, 50, 10, 0, 0, &b, &err);
    fill(&b, 4, 50, 10);
    ex_journal_append(j, 50, 10, 0, 0, &b, &err);
    ex_journal_destroy(&j);
    ok(ex_journal_open(path, &j, &err) == 0 && ex_journal_records(j) == 60 &&
           ex_journal_repeated(j) == 2 && ex_journal_excluded(j) == 3 &&
           ex_journal_duplicates(j) == 1 && ex_journal_failed(j) == 20,
       "journal-6.2 repeated frames are skipped: 60 records, 2 repeats, counts once");
    memset(&s, 0, sizeof s);
    s.ordered = s.values_ok = s.msg_ok = s.detail_ok = 1;
    rc = j ? ex_journal_each(j, visit, &s, &err) : -1;
    ok(rc == 0 && s.n == 60 && s.ordered,
       "journal-6.3 every point is visited once, in order (%llu visits)", (unsigned long long)s.n);
    /* A frame that repeats part of what is journaled: refused, and nothing is cut. */
    fill(&b, 4, 40, 30);
    ok(j && ex_journal_append(j, 40, 30, 0, 0, &b, &err) == 0,
       "journal-6.4 a frame over indices 40..69 is appended");
    ex_journal_destroy(&j);
    stat(path, &sb);
    ok(ex_journal_open(path, &j, &err) == ST_EFORMAT &&
           tap_has_all(err.msg, path, "repeats part of the indices 40 to 69", "--force",
                       (char *)NULL),
       "journal-6.5 a frame that repeats points in part is refused: %s", err.msg);
    {
        struct stat sb2;
        stat(path, &sb2);
        ok(sb2.st_size == sb.st_size, "journal-6.6 ... and the journal is left as it was");
    }
    /* A frame whose records lie outside its indices. */
    unlink(path);
    ex_journal_create(path, &head, &j, &err);
    fill(&b, 4, 0, 10);
    ex_journal_append(j, 0, 5, 0, 0, &b, &err);
    ex_journal_destroy(&j);
    ok(ex_journal_open(path, &j, &err) == ST_EFORMAT &&
           tap_has_all(err.msg, path, "frame at byte", "damaged", (char *)NULL),
       "journal-6.7 records outside their frame's indices are refused: %s", err.msg);
    ex_journal_destroy(&j);

    fd = open(other, O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || write(fd, "hello, world, this is not a journal at all\n", 43) != 43)
        return 1;
    close(fd);
    ok(ex_journal_open(other, &j, &err) == ST_EFORMAT && strstr(err.msg, "not a stexplore journal"),
       "journal-5.1 a foreign file is refused: %s", err.msg);
    ex_batch_fini(&b);
    unlink(path);
    unlink(other);
    rmdir(dir);
    return tap_done();
}
