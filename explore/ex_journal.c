/*
 * ex_journal.c - the crash journal: an append-only file of checksummed frames, one per
 * evaluated batch, each written with one write() and made durable with fsync() before
 * the batch counts as done. A crash can only tear the last frame, which opening cuts;
 * a whole frame that repeats earlier points (a copied frame) is skipped, one that repeats
 * them in part, or holds records outside its indices, makes the journal refused.
 * The HDF5 file is rebuilt from it (ex_h5.c); the format is native-endian and local to
 * the machine that runs the sweep. With a sync interval (group commit), frames are written
 * at once and synced together at most that often.
 *
 *   head:   "STXJRNL1" u32 version u32 nparam u32 nmetric u32 ndetail
 *           i64 started u64 script_len u64 space_len script space u64 checksum
 *   frame:  u32 "FRM1" u32 nrec u64 first u64 span u64 excluded u64 duplicates
 *           u64 payload_len payload u64 checksum(frame header + payload)
 *   record: u64 index u64 id i32 status u32 msg_len u32 ndetail u32 0
 *           f64 vals[nparam] u64 metrics[nmetric] msg (padded to 8)
 *           ndetail x (i32 layer i32 phase u64 v[ndetail fields])
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ex.h"

#define J_MAGIC     "STXJRNL1"
#define J_VERSION   1u
#define F_MAGIC     0x314d5246u /* "FRM1" little-endian */
#define F_HEAD      48
#define J_KEY0      UINT64_C(0x6a6f75726e616c21)
#define REC_FIXED   32
#define DETAIL_SIZE (8 + 8 * EX_D_COUNT)

struct ex_journal {
    int fd;
    char *path;
    ex_journal_head head;
    char *script, *space;
    uint64_t end; /* offset after the last whole frame */
    uint64_t data_start;
    uint64_t records, failed, rejected, details, excluded, duplicates, last_index;
    int sorted;     /* records so far in strictly increasing index */
    uint64_t *skip; /* offsets of frames that repeat earlier ones, ascending: never read */
    size_t nskip, skipcap;
    ex_ranges ranges;
    unsigned char *buf;
    size_t cap;
    double sync_s, synced; /* group commit: interval, and time of the last sync */
    int dirty;             /* frames written since the last sync */
};

const ex_journal_head *ex_journal_head_get(const ex_journal *j)
{
    return &j->head;
}
uint64_t ex_journal_records(const ex_journal *j)
{
    return j->records;
}
uint64_t ex_journal_failed(const ex_journal *j)
{
    return j->failed;
}
uint64_t ex_journal_rejected(const ex_journal *j)
{
    return j->rejected;
}
uint64_t ex_journal_details(const ex_journal *j)
{
    return j->details;
}

static int grow(ex_journal *j, size_t need, st_err *err)
{
    if (need > j->cap) {
        size_t cap = need * 2;
        unsigned char *b = realloc(j->buf, cap);
        if (!b)
            return st_err_set(err, ST_ENOMEM, "journal %s: out of memory (%zu bytes)", j->path,
                              need);
        j->buf = b;
        j->cap = cap;
    }
    return ST_OK;
}

static int write_all(ex_journal *j, const void *p, size_t n, uint64_t off, st_err *err)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = pwrite(j->fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return st_err_set(err, ST_EIO, "cannot write %s: %s", j->path,
                              w < 0 ? strerror(errno) : "short write");
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return ST_OK;
}

/* Read exactly n bytes at off; 1 when the file ends first (a torn tail). */
static int read_all(int fd, void *p, size_t n, uint64_t off)
{
    char *c = p;

    while (n > 0) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : 1;
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static void put32(unsigned char **p, uint32_t v)
{
    memcpy(*p, &v, 4);
    *p += 4;
}
static void put64(unsigned char **p, uint64_t v)
{
    memcpy(*p, &v, 8);
    *p += 8;
}
static uint32_t get32(const unsigned char **p)
{
    uint32_t v;
    memcpy(&v, *p, 4);
    *p += 4;
    return v;
}
static uint64_t get64(const unsigned char **p)
{
    uint64_t v;
    memcpy(&v, *p, 8);
    *p += 8;
    return v;
}

/* Who holds a lock on fd that keeps us from locking it, as text: "process 123 on host
 * h" when the holder runs on this machine, less when the lock comes from elsewhere (a
 * shared file system reports a process id of another machine, or none). */
static void lock_holder(int fd, char *buf, size_t size)
{
    struct flock fl;
    char host[256] = "";

    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK || fl.l_pid <= 0) {
        snprintf(buf, size, "a process this host cannot name (on another machine?)");
        return;
    }
    gethostname(host, sizeof host - 1);
    if (kill(fl.l_pid, 0) == 0 || errno == EPERM)
        snprintf(buf, size, "process %ld on %s", (long)fl.l_pid, host[0] ? host : "this host");
    else
        snprintf(buf, size, "process %ld, not one of this host %s (another machine?)",
                 (long)fl.l_pid, host);
}

static int lock_file(ex_journal *j, st_err *err)
{
    struct flock fl;
    char who[400];

    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(j->fd, F_SETLK, &fl) != 0) {
        if (errno != EACCES && errno != EAGAIN)
            return st_err_set(err, ST_EIO, "cannot lock %s: %s", j->path, strerror(errno));
        lock_holder(j->fd, who, sizeof who);
        /* Not a failure of the machine: another run, which the user can wait for. */
        return st_err_set(err, ST_EINVAL,
                          "%s is locked by %s: another stexplore is writing it; wait for it to "
                          "end or stop it",
                          j->path, who);
    }
    return ST_OK;
}

int ex_journal_check_free(const char *path, st_err *err)
{
    char who[400];
    int fd = open(path, O_RDWR), rc = ST_OK;
    struct flock fl;

    if (fd < 0 && errno == ENOENT)
        return ST_OK;
    if (fd < 0)
        fd = open(path, O_RDONLY);
    if (fd < 0)
        return st_err_set(err, ST_EIO, "cannot open %s: %s", path, strerror(errno));
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot test the lock of %s: %s", path, strerror(errno));
    } else if (fl.l_type != F_UNLCK) {
        lock_holder(fd, who, sizeof who);
        rc = st_err_set(err, ST_EINVAL, "%s is locked by %s: another stexplore is writing it", path,
                        who);
    }
    close(fd);
    return rc;
}

static int journal_new(const char *path, ex_journal **out, st_err *err)
{
    ex_journal *j = calloc(1, sizeof *j);

    *out = NULL;
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return st_err_set(err, ST_ENOMEM, "journal %s: out of memory", path);
    }
    j->fd = -1;
    j->sorted = 1;
    ex_ranges_init(&j->ranges);
    *out = j;
    return ST_OK;
}

void ex_journal_destroy(ex_journal **jp)
{
    ex_journal *j;

    if (!jp || !*jp)
        return;
    j = *jp;
    if (j->fd >= 0) {
        /* Frames not yet synced are in the kernel's cache already; make them durable too. */
        if (j->dirty)
            fdatasync(j->fd);
        close(j->fd);
    }
    free(j->path);
    free(j->script);
    free(j->space);
    free(j->buf);
    free(j->skip);
    ex_ranges_fini(&j->ranges);
    free(j);
    *jp = NULL;
}

/* Make a new directory entry durable: fsync the folder that holds path. */
static void sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd;

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path ? slash - path : 1), path);
    fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int ex_journal_create(const char *path, const ex_journal_head *head, ex_journal **out, st_err *err)
{
    ex_journal *j = NULL;
    size_t ls = strlen(head->script), lp = strlen(head->space), n;
    unsigned char *p;
    int rc;

    *out = NULL;
    if ((rc = journal_new(path, &j, err)) != 0)
        goto done;
    j->script = strdup(head->script);
    j->space = strdup(head->space);
    n = 8 + 16 + 24 + ls + lp + 8;
    if (!j->script || !j->space || (rc = grow(j, n, err)) != 0) {
        rc = st_err_set(err, ST_ENOMEM, "journal %s: out of memory", path);
        goto done;
    }
    j->head = *head;
    j->head.script = j->script;
    j->head.space = j->space;
    j->fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (j->fd < 0) {
        rc = st_err_set(err, ST_EIO, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }
    if ((rc = lock_file(j, err)) != 0)
        goto done;
    p = j->buf;
    memcpy(p, J_MAGIC, 8);
    p += 8;
    put32(&p, J_VERSION);
    put32(&p, head->nparam);
    put32(&p, head->nmetric);
    put32(&p, EX_D_COUNT);
    put64(&p, (uint64_t)head->started);
    put64(&p, ls);
    put64(&p, lp);
    memcpy(p, head->script, ls);
    p += ls;
    memcpy(p, head->space, lp);
    p += lp;
    put64(&p, ex_siphash(J_KEY0, 0, j->buf, (size_t)(p - j->buf)));
    if ((rc = write_all(j, j->buf, n, 0, err)) != 0)
        goto done;
    if (fsync(j->fd) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot sync %s: %s", path, strerror(errno));
        goto done;
    }
    sync_dir(path);
    j->data_start = j->end = n;
    *out = j;
    j = NULL;
done:
    ex_journal_destroy(&j);
    return rc;
}

/* Walk the records of a frame payload, checking their framing; updates counts when
 * count is set. Returns 0, or -1 for a malformed payload. */
static int payload_walk(ex_journal *j, const unsigned char *p, uint64_t len, uint32_t nrec,
                        uint64_t first, uint64_t span, int count)
{
    const unsigned char *end = p + len;
    size_t fixed = REC_FIXED + 8 * ((size_t)j->head.nparam + j->head.nmetric);

    for (uint32_t r = 0; r < nrec; r++) {
        const unsigned char *q = p;
        uint64_t index, msg, nd, size;
        int32_t status;
        if ((uint64_t)(end - p) < fixed)
            return -1;
        index = get64(&q);
        get64(&q);
        memcpy(&status, q, 4);
        q += 4;
        msg = get32(&q);
        nd = get32(&q);
        size = fixed + ((msg + 7) & ~UINT64_C(7)) + nd * DETAIL_SIZE;
        if ((uint64_t)(end - p) < size || index < first || index - first >= span)
            return -1;
        if (count) {
            if (j->records && index <= j->last_index)
                j->sorted = 0;
            j->last_index = index;
            j->records++;
            j->failed += status == EX_FAILED;
            j->rejected += status == EX_REJECTED;
            j->details += nd;
        }
        p += size;
    }
    return p == end ? 0 : -1;
}

static int skip_add(ex_journal *j, uint64_t off, st_err *err)
{
    if (j->nskip == j->skipcap) {
        size_t cap = j->skipcap ? 2 * j->skipcap : 8;
        uint64_t *g = realloc(j->skip, cap * sizeof *g);
        if (!g)
            return st_err_set(err, ST_ENOMEM, "journal %s: out of memory", j->path);
        j->skip = g;
        j->skipcap = cap;
    }
    j->skip[j->nskip++] = off;
    return ST_OK;
}

uint64_t ex_journal_repeated(const ex_journal *j)
{
    return j->nskip;
}

int ex_journal_open(const char *path, ex_journal **out, st_err *err)
{
    ex_journal *j = NULL;
    unsigned char fixed[48], tail[8];
    const unsigned char *q;
    uint64_t ls, lp, off, sum;
    struct stat stt;
    int rc, r, overlap;

    *out = NULL;
    if ((rc = journal_new(path, &j, err)) != 0)
        goto done;
    j->fd = open(path, O_RDWR);
    if (j->fd < 0) {
        rc = st_err_set(err, ST_EIO, "cannot open %s: %s", path, strerror(errno));
        goto done;
    }
    if ((rc = lock_file(j, err)) != 0)
        goto done;
    if (fstat(j->fd, &stt) != 0 || read_all(j->fd, fixed, sizeof fixed, 0) != 0 ||
        memcmp(fixed, J_MAGIC, 8) != 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s is not a stexplore journal", path);
        goto done;
    }
    q = fixed + 8;
    if (get32(&q) != J_VERSION) {
        rc = st_err_set(err, ST_EFORMAT, "%s: journal version not supported", path);
        goto done;
    }
    j->head.nparam = get32(&q);
    j->head.nmetric = get32(&q);
    if (get32(&q) != EX_D_COUNT) {
        rc = st_err_set(err, ST_EFORMAT, "%s: journal written by another version", path);
        goto done;
    }
    j->head.started = (int64_t)get64(&q);
    ls = get64(&q);
    lp = get64(&q);
    if (ls > (uint64_t)stt.st_size || lp > (uint64_t)stt.st_size - ls) {
        rc = st_err_set(err, ST_EFORMAT, "%s: journal head is damaged", path);
        goto done;
    }
    if ((rc = grow(j, sizeof fixed + ls + lp + 8, err)) != 0)
        goto done;
    if (read_all(j->fd, j->buf, sizeof fixed + ls + lp + 8, 0) != 0) {
        rc = st_err_set(err, ST_EFORMAT, "%s: journal head is damaged", path);
        goto done;
    }
    off = sizeof fixed + ls + lp;
    memcpy(&sum, j->buf + off, 8);
    if (sum != ex_siphash(J_KEY0, 0, j->buf, off)) {
        rc = st_err_set(err, ST_EFORMAT, "%s: journal head is damaged", path);
        goto done;
    }
    if (!(j->script = malloc(ls + 1)) || !(j->space = malloc(lp + 1))) {
        rc = st_err_set(err, ST_ENOMEM, "journal %s: out of memory", path);
        goto done;
    }
    memcpy(j->script, j->buf + sizeof fixed, ls);
    j->script[ls] = '\0';
    memcpy(j->space, j->buf + sizeof fixed + ls, lp);
    j->space[lp] = '\0';
    j->head.script = j->script;
    j->head.space = j->space;
    j->data_start = j->end = off + 8;
    /* Scan the frames; the first one that is short or fails its checksum is a torn tail. */
    for (;;) {
        const unsigned char *h;
        uint32_t nrec;
        uint64_t first, span, exc, dup, plen;
        unsigned char head[F_HEAD];
        if (read_all(j->fd, head, F_HEAD, j->end) != 0)
            break;
        h = head;
        if (get32(&h) != F_MAGIC)
            break;
        nrec = get32(&h);
        first = get64(&h);
        span = get64(&h);
        exc = get64(&h);
        dup = get64(&h);
        plen = get64(&h);
        if (plen > (uint64_t)stt.st_size - j->end ||
            F_HEAD + plen + 8 > (uint64_t)stt.st_size - j->end)
            break;
        if ((rc = grow(j, F_HEAD + plen + 8, err)) != 0)
            goto done;
        memcpy(j->buf, head, F_HEAD);
        r = read_all(j->fd, j->buf + F_HEAD, plen + 8, j->end + F_HEAD);
        if (r != 0)
            break;
        memcpy(tail, j->buf + F_HEAD + plen, 8);
        memcpy(&sum, tail, 8);
        if (sum != ex_siphash(J_KEY0, 1, j->buf, F_HEAD + plen))
            break;
        /* A whole frame is not a torn tail: past here, a bad one is refused, not cut. */
        if (first + span < first ||
            payload_walk(j, j->buf + F_HEAD, plen, nrec, first, span, 0) != 0) {
            rc = st_err_set(err, ST_EFORMAT,
                            "%s: the frame at byte %llu is damaged (records outside its indices "
                            "%llu + %llu); use --force to start over",
                            path, (unsigned long long)j->end, (unsigned long long)first,
                            (unsigned long long)span);
            goto done;
        }
        overlap = ex_ranges_overlap(&j->ranges, first, first + span);
        if (overlap == 1) {
            rc = st_err_set(err, ST_EFORMAT,
                            "%s: the frame at byte %llu repeats part of the indices %llu to %llu, "
                            "journaled before (a damaged or spliced journal); use --force to "
                            "start over",
                            path, (unsigned long long)j->end, (unsigned long long)first,
                            (unsigned long long)(first + span - 1));
            goto done;
        }
        if (overlap == 2) {
            /* The same points twice (a frame copied): the first copy counts, this one is
             * skipped whenever the journal is read. */
            if ((rc = skip_add(j, j->end, err)) != 0)
                goto done;
        } else {
            payload_walk(j, j->buf + F_HEAD, plen, nrec, first, span, 1);
            if ((rc = ex_ranges_add(&j->ranges, first, first + span, err)) != 0)
                goto done;
            j->excluded += exc;
            j->duplicates += dup;
        }
        j->end += F_HEAD + plen + 8;
    }
    rc = ST_OK;
    if ((uint64_t)stt.st_size > j->end && ftruncate(j->fd, (off_t)j->end) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot cut the torn tail of %s: %s", path, strerror(errno));
        goto done;
    }
    *out = j;
    j = NULL;
done:
    ex_journal_destroy(&j);
    return rc;
}

static size_t record_size(const ex_journal *j, const ex_record *r)
{
    return REC_FIXED + 8 * ((size_t)j->head.nparam + j->head.nmetric) +
           ((strlen(r->msg) + 7) & ~(size_t)7) + (size_t)r->ndetail * DETAIL_SIZE;
}

int ex_journal_append(ex_journal *j, uint64_t first, uint64_t span, uint64_t excluded,
                      uint64_t duplicates, const ex_batch *b, st_err *err)
{
    size_t plen = 0, n;
    unsigned char *p;
    int rc;

    for (int i = 0; i < b->n; i++)
        plen += record_size(j, &b->recs[i]);
    n = F_HEAD + plen + 8;
    if ((rc = grow(j, n, err)) != 0)
        goto done;
    memset(j->buf, 0, n);
    p = j->buf;
    put32(&p, F_MAGIC);
    put32(&p, (uint32_t)b->n);
    put64(&p, first);
    put64(&p, span);
    put64(&p, excluded);
    put64(&p, duplicates);
    put64(&p, plen);
    for (int i = 0; i < b->n; i++) {
        const ex_record *r = &b->recs[i];
        size_t ml = strlen(r->msg);
        int32_t st = r->status;
        put64(&p, r->index);
        put64(&p, r->id);
        memcpy(p, &st, 4);
        p += 4;
        put32(&p, (uint32_t)ml);
        put32(&p, (uint32_t)r->ndetail);
        put32(&p, 0);
        memcpy(p, r->vals, 8 * (size_t)j->head.nparam);
        p += 8 * (size_t)j->head.nparam;
        memcpy(p, r->metrics, 8 * (size_t)j->head.nmetric);
        p += 8 * (size_t)j->head.nmetric;
        memcpy(p, r->msg, ml);
        p += (ml + 7) & ~(size_t)7;
        for (int k = 0; k < r->ndetail; k++) {
            put32(&p, (uint32_t)r->detail[k].layer);
            put32(&p, (uint32_t)r->detail[k].phase);
            memcpy(p, r->detail[k].v, 8 * EX_D_COUNT);
            p += 8 * EX_D_COUNT;
        }
    }
    put64(&p, ex_siphash(J_KEY0, 1, j->buf, F_HEAD + plen));
    if ((rc = write_all(j, j->buf, n, j->end, err)) != 0)
        goto undo;
    j->dirty = 1;
    if ((j->sync_s <= 0 || ex_now() - j->synced >= j->sync_s) && fdatasync(j->fd) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot sync %s: %s", j->path, strerror(errno));
        goto undo;
    }
    if (j->sync_s <= 0 || ex_now() - j->synced >= j->sync_s) {
        j->synced = ex_now();
        j->dirty = 0;
    }
    if ((rc = ex_ranges_add(&j->ranges, first, first + span, err)) != 0)
        goto done;
    payload_walk(j, j->buf + F_HEAD, plen, (uint32_t)b->n, first, span, 1);
    j->excluded += excluded;
    j->duplicates += duplicates;
    j->end += n;
    goto done;
undo:
    /* Leave no partial frame behind for the next append to follow. */
    if (ftruncate(j->fd, (off_t)j->end) != 0) {
        /* The error already reported is the one that matters. */
    }
done:
    return rc;
}

void ex_journal_set_sync(ex_journal *j, double interval_s)
{
    j->sync_s = interval_s;
    j->synced = ex_now();
}

int ex_journal_sync(ex_journal *j, st_err *err)
{
    int rc = ST_OK;

    if (j->dirty && fdatasync(j->fd) != 0) {
        rc = st_err_set(err, ST_EIO, "cannot sync %s: %s", j->path, strerror(errno));
        goto done;
    }
    j->dirty = 0;
    j->synced = ex_now();
done:
    return rc;
}

uint64_t ex_journal_excluded(const ex_journal *j)
{
    return j->excluded;
}
uint64_t ex_journal_duplicates(const ex_journal *j)
{
    return j->duplicates;
}

int ex_journal_ranges(ex_journal *j, ex_range_fn fn, void *ctx, st_err *err)
{
    int rc = ST_OK;

    for (size_t k = 0; k < j->ranges.n && rc == ST_OK; k++)
        rc = fn(ctx, j->ranges.lo[k], j->ranges.hi[k]);
    if (rc != ST_OK)
        rc = st_err_set(err, rc, "journal %s: %s", j->path,
                        rc == ST_ENOMEM ? "out of memory for its index ranges"
                                        : "cannot take its index ranges");
    return rc;
}

/* Decoding scratch: a record's vectors copied out of the byte stream (alignment). */
typedef struct dec {
    double *vals;
    ex_num *metrics;
    ex_detail *detail;
    size_t dcap;
} dec;

static int decode(const ex_journal *j, const unsigned char *p, dec *d, ex_record *r, size_t *size,
                  st_err *err)
{
    const unsigned char *q = p;
    uint32_t ml, nd;
    int32_t st;

    r->index = get64(&q);
    r->id = get64(&q);
    memcpy(&st, q, 4);
    q += 4;
    r->status = st;
    ml = get32(&q);
    nd = get32(&q);
    get32(&q);
    memcpy(d->vals, q, 8 * (size_t)j->head.nparam);
    q += 8 * (size_t)j->head.nparam;
    memcpy(d->metrics, q, 8 * (size_t)j->head.nmetric);
    q += 8 * (size_t)j->head.nmetric;
    snprintf(r->msg, sizeof r->msg, "%.*s", (int)ml, (const char *)q);
    q += (ml + 7) & ~(uint32_t)7;
    if (nd > d->dcap) {
        ex_detail *x = realloc(d->detail, nd * sizeof *x);
        if (!x)
            return st_err_set(err, ST_ENOMEM, "journal: out of memory");
        d->detail = x;
        d->dcap = nd;
    }
    for (uint32_t k = 0; k < nd; k++) {
        d->detail[k].layer = (int32_t)get32(&q);
        d->detail[k].phase = (int32_t)get32(&q);
        memcpy(d->detail[k].v, q, 8 * EX_D_COUNT);
        q += 8 * EX_D_COUNT;
    }
    r->vals = d->vals;
    r->metrics = d->metrics;
    r->detail = d->detail;
    r->ndetail = (int)nd;
    *size = (size_t)(q - p);
    return ST_OK;
}

typedef struct loc {
    uint64_t index, off;
} loc;

static int loc_cmp(const void *a, const void *b)
{
    uint64_t x = ((const loc *)a)->index, y = ((const loc *)b)->index;
    return x < y ? -1 : x > y;
}

int ex_journal_each(ex_journal *j, ex_record_fn fn, void *ctx, st_err *err)
{
    dec d = {NULL, NULL, NULL, 0};
    ex_record *r = NULL;
    loc *locs = NULL;
    uint64_t off = j->data_start, nloc = 0;
    size_t size, ks = 0;
    int rc = ST_OK;

    d.vals = malloc(8 * ((size_t)j->head.nparam + 1));
    d.metrics = malloc(8 * ((size_t)j->head.nmetric + 1));
    r = malloc(sizeof *r);
    if (!d.vals || !d.metrics || !r ||
        (!j->sorted && !(locs = malloc((j->records + 1) * sizeof *locs)))) {
        rc = st_err_set(err, ST_ENOMEM, "journal %s: out of memory", j->path);
        goto done;
    }
    /* In order of the file; when frames arrived out of index order, note where each
     * record lies, sort, and visit them by position (16 bytes per record). */
    while (off < j->end && rc == ST_OK) {
        const unsigned char *h, *p;
        unsigned char head[F_HEAD];
        uint32_t nrec;
        uint64_t plen;
        if (read_all(j->fd, head, F_HEAD, off) != 0) {
            rc = st_err_set(err, ST_EIO, "cannot read %s", j->path);
            goto done;
        }
        h = head + 4;
        nrec = get32(&h);
        h += 32;
        plen = get64(&h);
        if (ks < j->nskip && j->skip[ks] == off) {
            ks++;
            off += F_HEAD + plen + 8;
            continue;
        }
        if ((rc = grow(j, plen + 8, err)) != 0)
            goto done;
        if (read_all(j->fd, j->buf, plen, off + F_HEAD) != 0) {
            rc = st_err_set(err, ST_EIO, "cannot read %s", j->path);
            goto done;
        }
        p = j->buf;
        for (uint32_t k = 0; k < nrec && rc == ST_OK; k++) {
            if ((rc = decode(j, p, &d, r, &size, err)) != 0)
                goto done;
            if (locs) {
                locs[nloc].index = r->index;
                locs[nloc++].off = off + F_HEAD + (uint64_t)(p - j->buf);
            } else {
                rc = fn(ctx, r, err);
            }
            p += size;
        }
        off += F_HEAD + plen + 8;
    }
    if (locs && rc == ST_OK) {
        qsort(locs, (size_t)nloc, sizeof *locs, loc_cmp);
        for (uint64_t k = 0; k < nloc && rc == ST_OK; k++) {
            unsigned char fixed[REC_FIXED];
            const unsigned char *q = fixed + 20;
            size_t need;
            if (read_all(j->fd, fixed, REC_FIXED, locs[k].off) != 0) {
                rc = st_err_set(err, ST_EIO, "cannot read %s", j->path);
                goto done;
            }
            need = REC_FIXED + 8 * ((size_t)j->head.nparam + j->head.nmetric);
            need += (get32(&q) + 7) & ~(size_t)7;
            need += get32(&q) * (size_t)DETAIL_SIZE;
            if ((rc = grow(j, need, err)) != 0)
                goto done;
            if (read_all(j->fd, j->buf, need, locs[k].off) != 0) {
                rc = st_err_set(err, ST_EIO, "cannot read %s", j->path);
                goto done;
            }
            if ((rc = decode(j, j->buf, &d, r, &size, err)) == 0)
                rc = fn(ctx, r, err);
        }
    }
done:
    free(d.vals);
    free(d.metrics);
    free(d.detail);
    free(r);
    free(locs);
    return rc;
}
