/*
 * t_topo.c - tests of the SCALE-Sim layer-list import (core/topo.c).
 * Real files are found at $ST_SRC/tests/data/topologies (ST_SRC defaults to ".": run from the
 * repository root); malformed files and the chain fixture are generated into a temporary
 * directory.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st.h"
#include "tap.h"

/* Assertions per section, so that skipped sections keep the plan. */
#define N_PER_FILE    5
#define N_FILES       7
#define N_REAL_QUIRKS 8
#define N_ERRORS      32
#define N_FIXTURE     6
#define N_CHAIN       9

/* Report n skipped assertions whose ids start with id. */
static void skip_n(int n, const char *why, const char *id)
{
    for (int i = 0; i < n; i++)
        skip(why, id);
}

/* Write dir/name into path (of size cap); return 0, or -1 when it does not fit. */
static int join(char *path, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(path, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The k-th compute layer of net (the k-th row of an imported list), or NULL. */
static const st_layer *row_layer(const st_net *net, int k)
{
    for (int i = 0; net && i < st_net_count(net); i++)
        if (st_kind_is_compute(st_net_layer(net, i)->kind) && k-- == 0)
            return st_net_layer(net, i);
    return NULL;
}

/* The number of compute layers of net. */
static int row_count(const st_net *net)
{
    int n = 0;
    for (int i = 0; net && i < st_net_count(net); i++)
        n += st_kind_is_compute(st_net_layer(net, i)->kind) != 0;
    return n;
}

/* What the test's own reading of a layer list gives: SCALE-Sim's numbers. */
typedef struct ref_layer {
    char name[64];
    int ih, iw, fh, fw, c, n, s;
    int oh, ow;
    uint64_t macs;
} ref_layer;

/* Read a SCALE-Sim file the simple way: skip the first line, split the others with strtok
 * (which merges empty fields, so all-empty rows vanish and the 8 wanted fields come first
 * in every real file), read them with sscanf, and apply SCALE-Sim v2's formulas
 * (scalesim/topology_utils.py, topo_calc_hyperparams):
 *   ofmap = ceil((ifmap - filter + stride) / stride), MACs = oh*ow*fh*fw*c*n.
 * Returns the number of layers stored in out (at most cap), or -1 if the file is missing. */
static int ref_read(const char *path, ref_layer *out, int cap)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0, first = 1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        char *tok[8];
        int k = 0;
        ref_layer *r;
        if (first) {
            first = 0;
            continue;
        }
        for (char *t = strtok(line, ",\r\n"); t && k < 8; t = strtok(NULL, ",\r\n"))
            if (strspn(t, " \t") < strlen(t))
                tok[k++] = t;
        if (k < 8 || n == cap)
            continue;
        r = &out[n++];
        sscanf(tok[0], "%63s", r->name);
        sscanf(tok[1], "%d", &r->ih);
        sscanf(tok[2], "%d", &r->iw);
        sscanf(tok[3], "%d", &r->fh);
        sscanf(tok[4], "%d", &r->fw);
        sscanf(tok[5], "%d", &r->c);
        sscanf(tok[6], "%d", &r->n);
        sscanf(tok[7], "%d", &r->s);
        r->oh = (int)ceil((double)(r->ih - r->fh + r->s) / r->s);
        r->ow = (int)ceil((double)(r->iw - r->fw + r->s) / r->s);
        r->macs = (uint64_t)r->oh * (uint64_t)r->ow * (uint64_t)r->fh * (uint64_t)r->fw *
                  (uint64_t)r->c * (uint64_t)r->n;
    }
    fclose(f);
    return n;
}

/* Check one real file against the reference reading: ids topo-1.1 to topo-1.5. */
static void check_real(const char *dir, const char *rel, const char *want_name)
{
    char path[1024];
    ref_layer *ref = calloc(256, sizeof *ref);
    st_net *net = NULL;
    st_err err;
    int nref, rc, i, shapes_ok = 1;
    uint64_t want_macs = 0;

    nref = ref && join(path, sizeof path, dir, rel) == 0 ? ref_read(path, ref, 256) : -1;
    if (nref < 0) {
        diag("%s: %s", path, strerror(errno));
        skip_n(N_PER_FILE, "file not readable", "topo-1 real file");
        free(ref);
        return;
    }
    st_err_clear(&err);
    rc = st_topo_load(path, &net, &err);
    if (!ok(rc == ST_OK && net != NULL, "topo-1.1 %s loads", rel))
        diag("  rc %d: %s", rc, err.msg);
    if (!net) {
        skip_n(N_PER_FILE - 1, "file did not load", "topo-1.2 to 1.5");
        free(ref);
        return;
    }
    ok_eq_u64(row_count(net), nref, "topo-1.2 %s has as many compute layers as non-empty rows",
              rel);
    for (i = 0; i < nref; i++)
        want_macs += ref[i].macs;
    ok_eq_u64(st_net_macs(net, ST_FP), want_macs, "topo-1.3 %s FP MACs equal SCALE-Sim's formula",
              rel);
    for (int li = 0, k = 0; k < nref && li < st_net_count(net); li++) {
        const st_layer *l = st_net_layer(net, li);
        const ref_layer *r = &ref[k];
        if (!st_kind_is_compute(l->kind))
            continue;
        i = k++;
        if (strcmp(l->name, r->name) != 0 || l->kind != ST_CONV || l->in_c != r->c ||
            l->in_h != r->ih || l->in_w != r->iw || l->out_c != r->n || l->out_h != r->oh ||
            l->out_w != r->ow || l->k_h != r->fh || l->k_w != r->fw || l->stride_h != r->s ||
            l->stride_w != r->s || l->pad_t != 0 || l->pad_l != 0 || l->groups != 1 ||
            st_layer_macs(l, ST_FP) != r->macs) {
            if (shapes_ok)
                diag("  row %d '%s': got %dx%dx%d -> %dx%dx%d, want '%s' %dx%dx%d -> %dx%dx%d", i,
                     l->name, l->in_c, l->in_h, l->in_w, l->out_c, l->out_h, l->out_w, r->name,
                     r->c, r->ih, r->iw, r->n, r->oh, r->ow);
            shapes_ok = 0;
        }
    }
    ok(shapes_ok, "topo-1.4 %s every layer's name, shapes and MACs match its row", rel);
    if (!ok(strcmp(st_net_name(net), want_name) == 0, "topo-1.5 %s network is named '%s'", rel,
            want_name))
        diag("  got '%s'", st_net_name(net));
    st_net_destroy(&net);
    free(ref);
}

/* Load dir/rel and return the network, or NULL (with a diagnostic). */
static st_net *load_real(const char *dir, const char *rel)
{
    char path[1024];
    st_net *net = NULL;
    st_err err;

    if (join(path, sizeof path, dir, rel) != 0)
        return NULL;
    if (st_topo_load(path, &net, &err) != ST_OK)
        diag("  %s: %s", rel, err.msg);
    return net;
}

/* The quirks of the real files, one by one: ids topo-2.x. */
static void check_real_quirks(const char *dir)
{
    st_net *net;
    const st_layer *l;

    /* topologies/README.md: "ResNet-18 comes to about 1.47 GMAC". */
    net = load_real(dir, "Resnet18.csv");
    ok_near(net ? (double)st_net_macs(net, ST_FP) : 0.0, 1.47e9, 0.005e9,
            "topo-2.1 Resnet18.csv comes to about 1.47 GMAC as its README says");
    /* Its last line has neither a trailing comma nor a final newline. */
    l = net ? st_net_layer(net, st_net_count(net) - 1) : NULL;
    ok(l && strcmp(l->name, "FC") == 0 && l->in_c == 512 && l->out_c == 1000 && l->stride_h == 1,
       "topo-2.2 Resnet18.csv last line without comma or newline is read whole");
    /* The rows form a chain: only the first reads the network input and lacks BP; every
     * other row's BP MACs are SCALE-Sim's closed form for the row, oh*ow*fh*fw*c*n. */
    {
        char path[1024];
        ref_layer *ref = calloc(64, sizeof *ref);
        int nref =
            ref && join(path, sizeof path, dir, "Resnet18.csv") == 0 ? ref_read(path, ref, 64) : -1;
        int all = net != NULL && nref > 1, k = 0;
        for (int i = 0; all && i < st_net_count(net); i++) {
            l = st_net_layer(net, i);
            if (!st_kind_is_compute(l->kind))
                continue;
            if (k >= nref || (k == 0) != (l->first == 1) ||
                st_layer_macs(l, ST_BP) != (k == 0 ? 0 : ref[k].macs) ||
                ((l->pre & ST_OP_RELU) != 0) != (k > 0)) {
                diag("  compute layer %d '%s': first %d, BP %llu, pre %u", k, l->name, l->first,
                     (unsigned long long)st_layer_macs(l, ST_BP), l->pre);
                all = 0;
            }
            k++;
        }
        ok(all && k == nref,
           "topo-2.8 Resnet18.csv: only the first row lacks BP; BP MACs = oh*ow*fh*fw*c*n; "
           "inputs behind a ReLU but the first");
        free(ref);
    }
    st_net_destroy(&net);

    net = load_real(dir, "resnet50_training/resnet_fwd.csv");
    l = net ? st_net_layer(net, 0) : NULL;
    ok(l && strcmp(l->name, "conv1") == 0,
       "topo-2.3 resnet_fwd.csv (UTF-8 BOM) first layer is 'conv1', no BOM bytes");
    st_net_destroy(&net);

    net = load_real(dir, "alexnet.csv");
    l = net ? st_net_layer(net, 0) : NULL;
    ok(l && strcmp(l->name, "Conv1") == 0 && strcmp(row_layer(net, 4)->name, "Conv5") == 0,
       "topo-2.4 alexnet.csv names padded with spaces are trimmed");
    st_net_destroy(&net);

    /* Resnet50.csv: line 2 is ",,,,,,,,,,,," and line 3 is
     * "Conv1,224,224,7,7,3,64,2,,,110,110,12100" under a header whose 9th column is empty. */
    net = load_real(dir, "Resnet50.csv");
    l = net ? st_net_layer(net, 0) : NULL;
    ok(l && strcmp(l->name, "Conv1") == 0,
       "topo-2.5 Resnet50.csv all-empty row is skipped: first layer is Conv1");
    /* ceil((224 - 7 + 2) / 2) = 110; the extra 110,110,12100 must not act as a stride. */
    ok(l && l->stride_h == 2 && l->stride_w == 2 && l->out_h == 110 && l->out_w == 110 &&
           l->in_c == 3 && l->out_c == 64,
       "topo-2.6 Resnet50.csv extra columns after Strides are ignored");
    st_net_destroy(&net);

    /* mlperf_legacy/Alexnet.csv has a blank line 2; Conv1 is line 3. FC7 reads 1x4096 with a
     * 1x4096 filter: one output. */
    net = load_real(dir, "mlperf_legacy/Alexnet.csv");
    l = net ? st_net_layer(net, 0) : NULL;
    ok(l && strcmp(l->name, "Conv1") == 0 && row_count(net) == 8 && row_layer(net, 6)->out_h == 1 &&
           row_layer(net, 6)->out_w == 1,
       "topo-2.7 mlperf Alexnet.csv blank line skipped, 8 layers, FC7 gives 1x1");
    st_net_destroy(&net);
}

/* Write len bytes of text as dir/name; the full name goes to path. Returns 0 or -1. */
static int put_file(const char *dir, const char *name, const char *text, size_t len, char *path,
                    size_t cap)
{
    FILE *f;
    int rc = 0;

    if (join(path, cap, dir, name) != 0)
        return -1;
    f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fwrite(text, 1, len, f) != len)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

#define HEADER                                                                                     \
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "               \
    "Num Filter, Strides,\n"

/* Write text (len bytes) as dir/name, load it, and check that the load fails with code,
 * leaves *out NULL, and that the message holds every needle. One assertion, id first. */
static void expect_fail_n(const char *dir, const char *name, const char *text, size_t len, int code,
                          const char *what, const char *n1, const char *n2, const char *n3)
{
    char path[1024];
    st_net *sentinel = NULL, *net;
    st_err err;
    int rc;

    if (put_file(dir, name, text, len, path, sizeof path) != 0) {
        skip("cannot write the fixture", what);
        return;
    }
    /* A live network in *out shows whether the load resets it; it stays owned here. */
    st_net_create("sentinel", 1, 1, 1, &sentinel, NULL);
    net = sentinel;
    st_err_clear(&err);
    rc = st_topo_load(path, &net, &err);
    if (!ok(rc == code && net == NULL && tap_has_all(err.msg, n1, n2, n3, (char *)NULL), "%s",
            what))
        diag("  rc %d (want %d), message: %s", rc, code, err.msg);
    if (rc == ST_OK)
        st_net_destroy(&net);
    st_net_destroy(&sentinel);
    remove(path);
}

static void expect_fail(const char *dir, const char *name, const char *text, int code,
                        const char *what, const char *n1, const char *n2, const char *n3)
{
    expect_fail_n(dir, name, text, strlen(text), code, what, n1, n2, n3);
}

/* Every error st_topo_load returns: ids topo-3.x. */
static void check_errors(const char *dir)
{
    static const char nul_text[] = HEADER "Co\0nv1,5,5,1,1,1,1,1,\n";
    char *big;
    char path[1024];
    st_net *net = NULL;
    st_err err;
    int rc;

    expect_fail(dir, "miss.csv", HEADER "A,7,7,3,3,1,1,1,\nConv1,224,224,11,11,3,96,\n", ST_EFORMAT,
                "topo-3.1 missing column (trailing comma) names line 3 and 'Strides'",
                "miss.csv:3:", "field 'Strides' missing", NULL);
    expect_fail(dir, "miss2.csv", HEADER "Conv1,224,224,11,11,3,96", ST_EFORMAT,
                "topo-3.2 missing column (no trailing comma, no newline) names 'Strides'",
                "miss2.csv:2:", "field 'Strides' missing", NULL);
    expect_fail(dir, "miss3.csv", HEADER "Conv1,224,,11,11,3,96,4,\n", ST_EFORMAT,
                "topo-3.3 empty middle field names 'IFMAP Width'",
                "miss3.csv:2:", "field 'IFMAP Width' missing", NULL);
    expect_fail(dir, "x.csv", HEADER "A,7,7,3,3,1,1,1,\nConv1,224,224,11,11,abc,96,4,\n",
                ST_EFORMAT, "topo-3.4 non-number names line, field and text",
                "x.csv:3:", "field 'Channels'", "'abc' is not a whole number");
    expect_fail(dir, "frac.csv", HEADER "Conv1,224,224,11,11,3,96,1.5,\n", ST_EFORMAT,
                "topo-3.5 a fraction is not a whole number", "frac.csv:2:", "field 'Strides'",
                "'1.5' is not a whole number");
    expect_fail(dir, "tail.csv", HEADER "Conv1,224,224,11,11,3,96 2,4,\n", ST_EFORMAT,
                "topo-3.6 trailing text after a number is rejected",
                "tail.csv:2:", "field 'Num Filter'", "'96 2' is not a whole number");
    expect_fail(dir, "huge.csv", HEADER "Conv1,224,99999999999,11,11,3,96,4,\n", ST_EFORMAT,
                "topo-3.7 a value beyond int is rejected", "huge.csv:2:", "field 'IFMAP Width'",
                "'99999999999' does not fit in an int");
    expect_fail(dir, "zero.csv", HEADER "Conv1,224,224,11,11,3,96,0,\n", ST_EFORMAT,
                "topo-3.8 zero stride names the field and value",
                "zero.csv:2:", "field 'Strides' = 0", "must be at least 1");
    expect_fail(dir, "neg.csv", HEADER "Conv1,224,224,11,11,-3,96,4,\n", ST_EFORMAT,
                "topo-3.9 negative channels names the field and value",
                "neg.csv:2:", "field 'Channels' = -3", "must be at least 1");
    expect_fail(dir, "bigf.csv", HEADER "Conv1,7,7,11,3,3,96,1,\n", ST_EFORMAT,
                "topo-3.10 filter taller than the ifmap",
                "bigf.csv:2:", "field 'Filter Height' = 11", "larger than 'IFMAP Height' = 7");
    expect_fail(dir, "bigw.csv", HEADER "Conv1,7,7,3,8,3,96,1,\n", ST_EFORMAT,
                "topo-3.11 filter wider than the ifmap", "bigw.csv:2:", "field 'Filter Width' = 8",
                "larger than 'IFMAP Width' = 7");
    expect_fail(dir, "hdr.csv", HEADER, ST_EFORMAT, "topo-3.12 header and no layer",
                "hdr.csv:1:", "no layer", NULL);
    expect_fail(dir, "hdr2.csv", "\n" HEADER "\n,,,,,,,,\n  \n", ST_EFORMAT,
                "topo-3.13 header, blank and all-empty rows only: no layer, header at line 2",
                "hdr2.csv:2:", "no layer", NULL);
    expect_fail(dir, "empty.csv", "", ST_EFORMAT, "topo-3.14 empty file", "empty.csv", "empty file",
                NULL);
    expect_fail(dir, "blank.csv", "\n \r\n\n", ST_EFORMAT, "topo-3.15 file of blank lines is empty",
                "blank.csv", "empty file", NULL);
    expect_fail(dir, "nohdr.csv", "Conv1,224,224,11,11,3,96,4,\n", ST_EFORMAT,
                "topo-3.16 a layer row in place of the header",
                "nohdr.csv:1:", "expected the header", "'Conv1'");
    expect_fail(dir, "noname.csv", HEADER "  ,224,224,11,11,3,96,4,\n", ST_EFORMAT,
                "topo-3.17 empty layer name", "noname.csv:2:", "field 'Layer name' missing", NULL);
    expect_fail(dir, "longname.csv",
                HEADER "abcdefghijabcdefghijabcdefghijabcdefghijabcdefgh,5,5,1,1,1,1,1,\n",
                ST_EFORMAT, "topo-3.18 a 48-character layer name is too long",
                "longname.csv:2:", "field 'Layer name'", "longer than 47 characters");
    expect_fail(dir, "sw.csv",
                "Layer name,IFMAP h,IFMAP w,Filter h,Filter w,Channels,Num filter,"
                "Stride height,Stride width,\nA,5,5,1,1,1,1,1,0,\n",
                ST_EFORMAT, "topo-3.19 zero stride width when the header names that column",
                "sw.csv:2:", "field 'Stride Width' = 0", "must be at least 1");
    expect_fail_n(dir, "nul.csv", nul_text, sizeof nul_text - 1, ST_EFORMAT,
                  "topo-3.20 a NUL byte is rejected with its line", "nul.csv:2:", "NUL byte", NULL);

    /* Lines of exactly 1024 characters (CRLF ending excluded) pass; 1025 do not. */
    big = malloc(3000);
    if (big) {
        size_t h = strlen(HEADER);
        const char *row = ",5,5,1,1,1,1,1,";
        memcpy(big, HEADER, h);
        big[h] = 'A';
        memset(big + h + 1, ' ', 1024 - 1 - strlen(row));
        strcpy(big + h + 1024 - strlen(row), row);
        strcpy(big + h + 1024, "\r\n");
        rc = put_file(dir, "len.csv", big, strlen(big), path, sizeof path);
        rc = rc == 0 ? st_topo_load(path, &net, &err) : -99;
        if (!ok(rc == ST_OK && net && strcmp(row_layer(net, 0)->name, "A") == 0,
                "topo-3.21 a 1024-character CRLF line is accepted"))
            diag("  rc %d: %s", rc, err.msg);
        st_net_destroy(&net);
        remove(path);
        /* One more space before the row makes it 1025. */
        memmove(big + h + 1, big + h, strlen(big + h) + 1);
        expect_fail(dir, "long.csv", big, ST_EFORMAT, "topo-3.22 a 1025-character line",
                    "long.csv:2:", "line longer than 1024 characters", NULL);
        free(big);
    } else {
        skip("out of memory", "topo-3.21");
        skip("out of memory", "topo-3.22");
    }

    /* A layer name used twice is refused by the network builder; the message it gives comes
     * back with the file and line, as a format error. */
    expect_fail(dir, "dup.csv", HEADER "A,5,5,1,1,1,1,1,\nB,5,5,1,1,1,1,1,\nA,5,5,1,1,1,1,1,\n",
                ST_EFORMAT, "topo-3.26 a layer name used twice: the builder's message, line 4",
                "dup.csv:4:", "'A'", "already used");

    /* A missing file is ST_EIO with the system's reason. */
    if (join(path, sizeof path, dir, "absent.csv") != 0)
        path[0] = '\0';
    net = NULL;
    rc = st_topo_load(path, &net, &err);
    if (!ok(rc == ST_EIO && net == NULL &&
                tap_has_all(err.msg, "absent.csv", strerror(ENOENT), (char *)NULL),
            "topo-3.23 missing file: ST_EIO naming it and strerror"))
        diag("  rc %d: %s", rc, err.msg);
    /* A directory opens but cannot be read. */
    rc = st_topo_load(dir, &net, &err);
    if (!ok(rc == ST_EIO && net == NULL &&
                tap_has_all(err.msg, dir, "cannot read", strerror(EISDIR), (char *)NULL),
            "topo-3.24 a directory: ST_EIO, cannot read"))
        diag("  rc %d: %s", rc, err.msg);
    /* err may be NULL. */
    rc = st_topo_load(path, &net, NULL);
    ok(rc == ST_EIO && net == NULL, "topo-3.25 NULL err is accepted");
    rc = st_topo_load(NULL, &net, &err);
    if (!ok(rc == ST_EINVAL && net == NULL && strstr(err.msg, "path is NULL"),
            "topo-3.27 NULL path: ST_EINVAL"))
        diag("  rc %d: %s", rc, err.msg);

    /* The two halves: text read from a file, text parsed from memory. */
    {
        static const char bad[] = HEADER "A,5,5,1,1,1,0,1,\n";
        char *text = (char *)"x";
        size_t len = 7;
        rc = st_topo_read_file(NULL, &text, &len, &err);
        if (!ok(rc == ST_EINVAL && text == NULL && len == 0 &&
                    strstr(err.msg, "st_topo_read_file: path is NULL"),
                "topo-3.28 read_file of a NULL path: ST_EINVAL, outputs emptied"))
            diag("  rc %d: %s", rc, err.msg);
        rc = st_topo_read_file(path, &text, &len, &err);
        if (!ok(rc == ST_EIO && text == NULL &&
                    tap_has_all(err.msg, "absent.csv", "cannot open", strerror(ENOENT),
                                (char *)NULL),
                "topo-3.29 read_file of a missing file: ST_EIO, the name and the reason"))
            diag("  rc %d: %s", rc, err.msg);
        rc = st_topo_parse(NULL, bad, sizeof bad - 1, &net, &err);
        if (!ok(rc == ST_EINVAL && net == NULL && strstr(err.msg, "st_topo_parse: path is NULL"),
                "topo-3.30 parse with a NULL path: ST_EINVAL"))
            diag("  rc %d: %s", rc, err.msg);
        rc = st_topo_parse("mem.csv", NULL, 5, &net, &err);
        if (!ok(rc == ST_EINVAL && net == NULL && strstr(err.msg, "st_topo_parse: text is NULL"),
                "topo-3.31 parse of NULL text with a length: ST_EINVAL"))
            diag("  rc %d: %s", rc, err.msg);
        rc = st_topo_parse("mem.csv", bad, sizeof bad - 1, &net, &err);
        if (!ok(rc == ST_EFORMAT && net == NULL &&
                    tap_has_all(err.msg, "mem.csv:2:", "field 'Num Filter' = 0", (char *)NULL),
                "topo-3.32 parse from memory names the given path and the line"))
            diag("  rc %d: %s", rc, err.msg);
    }
}

/* A file with every quirk at once, checked against values worked out by hand: topo-4.x. */
static void check_quirks(const char *dir)
{
    static const char text[] =
        "\xEF\xBB\xBF"
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Stride height, Stride width, Note,\r\n"
        "\r\n"
        " A , 10 , 12 , 3 , 3 , 4 , 8 , 2 , 3 , x,\r\n"
        ",,,,,,,,,,\r\n"
        "\tB\t,7,7,7,7,1,1,1,\r\n"
        "C,5,9,1,2,2,3,1,4";
    char path[1024];
    st_net *net = NULL;
    st_err err;
    const st_layer *a, *b, *c;
    int rc;

    if (put_file(dir, "My.Net.csv", text, sizeof text - 1, path, sizeof path) != 0) {
        skip_n(N_FIXTURE, "cannot write the fixture", "topo-4");
        return;
    }
    st_err_clear(&err);
    rc = st_topo_load(path, &net, &err);
    if (!ok(rc == ST_OK && net && row_count(net) == 3,
            "topo-4.1 BOM, CRLF, blank and empty rows, stride width: 3 layers"))
        diag("  rc %d: %s", rc, err.msg);
    if (!net || row_count(net) != 3) {
        skip_n(N_FIXTURE - 1, "fixture did not load", "topo-4.2 to 4.6");
        remove(path);
        st_net_destroy(&net);
        return;
    }
    a = row_layer(net, 0);
    b = row_layer(net, 1);
    c = row_layer(net, 2);
    ok(strcmp(st_net_name(net), "My.Net") == 0, "topo-4.2 network name drops only '.csv'");
    ok(strcmp(a->name, "A") == 0 && strcmp(b->name, "B") == 0 && strcmp(c->name, "C") == 0,
       "topo-4.3 names trimmed of spaces and tabs");
    /* A: 4x10x12, 8 filters 3x3, strides 2 (h) and 3 (w).
     * oh = ceil((10 - 3 + 2) / 2) = ceil(4.5) = 5, needing (5-1)*2 + 3 - 10 = 1 row of pad;
     * ow = ceil((12 - 3 + 3) / 3) = 4, needing (4-1)*3 + 3 - 12 = 0; MACs 5*4*9*4*8 = 5760. */
    ok(a->in_c == 4 && a->in_h == 10 && a->in_w == 12 && a->out_c == 8 && a->stride_h == 2 &&
           a->stride_w == 3 && a->out_h == 5 && a->out_w == 4 && a->pad_t == 0 && a->pad_b == 1 &&
           a->pad_l == 0 && a->pad_r == 0 && st_layer_macs(a, ST_FP) == 5760,
       "topo-4.4 9th column named 'Stride width' is the stride width; pad only bottom");
    /* B: the 9th field is empty: stride width = stride height = 1; 7x7 filter on 7x7. */
    ok(b->stride_w == 1 && b->out_h == 1 && b->out_w == 1 && b->pad_b == 0 && b->pad_r == 0 &&
           st_layer_macs(b, ST_FP) == 49,
       "topo-4.5 empty stride width falls back to the stride height");
    /* C, last line, no comma, no newline: 2x5x9, 3 filters 1x2, strides 1 and 4.
     * oh = 5; ow = ceil((9 - 2 + 4) / 4) = ceil(2.75) = 3, pad (3-1)*4 + 2 - 9 = 1 column;
     * MACs 5*3*2*2*3 = 180. */
    ok(c->in_c == 2 && c->in_h == 5 && c->in_w == 9 && c->out_c == 3 && c->stride_h == 1 &&
           c->stride_w == 4 && c->out_h == 5 && c->out_w == 3 && c->pad_b == 0 && c->pad_r == 1 &&
           st_layer_macs(c, ST_FP) == 180,
       "topo-4.6 last line without newline; pad only right");
    st_net_destroy(&net);
    remove(path);
}

/* The chain an import builds, on a fixture worked out by hand: topo-5.x. Rows A and B chain
 * (A's output 16x32x32 is B's input), C does not (8x20x20). */
static void check_chain(const char *dir)
{
    static const char text[] = HEADER "A,34,34,3,3,16,16,1,\n"
                                      "B,32,32,3,3,16,8,1,\n"
                                      "C,20,20,1,1,8,4,2,\n";
    static const struct {
        const char *name;
        st_kind kind;
        int src;
    } want[6] = {{"A", ST_CONV, -1},
                 {"relu.2", ST_RELU, 0},
                 {"B", ST_CONV, 1},
                 {"relu.3", ST_RELU, 2},
                 {"input.4", ST_RELU, ST_UPSTREAM},
                 {"C", ST_CONV, 4}};
    char path[1024];
    st_net *net = NULL;
    st_err err;
    const st_layer *a, *b, *c, *in4;
    st_sparsity_cfg cfg;
    st_layer_masks ma, mb, mc;
    st_point pt;
    st_result res;
    int rc, i, graph = 1;
    double sb = 4 * sqrt(0.3 * 0.7 / 16384), sc = 4 * sqrt(0.3 * 0.7 / 3200);

    if (put_file(dir, "chain.csv", text, sizeof text - 1, path, sizeof path) != 0) {
        skip_n(N_CHAIN, "cannot write the fixture", "topo-5");
        return;
    }
    st_err_clear(&err);
    rc = st_topo_load(path, &net, &err);
    for (i = 0; net && i < 6 && i < st_net_count(net); i++) {
        const st_layer *l = st_net_layer(net, i);
        graph &=
            !strcmp(l->name, want[i].name) && l->kind == want[i].kind && l->src[0] == want[i].src;
    }
    if (!ok(rc == ST_OK && net && st_net_count(net) == 6 && graph,
            "topo-5.1 A, relu.2, B (reads relu.2), relu.3, input.4 (from upstream), C"))
        diag("  rc %d: %s; %d layers", rc, err.msg, st_net_count(net));
    if (rc != ST_OK || st_net_count(net) != 6 || !graph) {
        skip_n(N_CHAIN - 1, "the chain is not as expected", "topo-5.2 to 5.9");
        st_net_destroy(&net);
        remove(path);
        return;
    }
    a = st_net_layer(net, 0), b = st_net_layer(net, 2), c = st_net_layer(net, 5);
    in4 = st_net_layer(net, 4);
    ok(a->first == 1 && b->first == 0 && c->first == 0 && in4->out_c == 8 && in4->out_h == 20 &&
           in4->out_w == 20,
       "topo-5.2 only the first row is first; input.4 is 8x20x20");
    /* SCALE-Sim's count oh*ow*fh*fw*c*n: B 30*30*3*3*16*8, C ceil((20-1+2)/2) = 11, so
     * 11*11*1*1*8*4. */
    ok(st_layer_macs(a, ST_BP) == 0 && st_layer_macs(b, ST_BP) == 1036800 &&
           st_layer_macs(c, ST_BP) == 3872 && st_layer_macs(b, ST_FP) == 1036800,
       "topo-5.3 BP MACs: A none, B 1036800, C 3872 (closed form)");
    /* C's 11th output row and column read row/column 20, the padding: 10*10*8*4 valid. */
    ok_eq_u64(st_layer_macs_valid(c, ST_BP), 3200, "topo-5.4 C's valid BP MACs are 10*10*8*4");
    ok(a->pre == 0 && a->post == ST_OP_RELU && b->pre == ST_OP_RELU && b->post == ST_OP_RELU &&
           c->pre == ST_OP_RELU && c->post == 0,
       "topo-5.5 inputs behind a ReLU but the first's; a ReLU after every row but the last");

    st_sparsity_cfg_init(&cfg);
    cfg.relu_density = 0.3;
    st_layer_masks_init(&ma);
    st_layer_masks_init(&mb);
    st_layer_masks_init(&mc);
    rc = st_sparsity_layer(net, &cfg, 0, 0, &ma, &err);
    if (!rc)
        rc = st_sparsity_layer(net, &cfg, 2, 0, &mb, &err);
    if (!rc)
        rc = st_sparsity_layer(net, &cfg, 5, 0, &mc, &err);
    /* Binomial: 4 standard deviations of a density over n independent elements. */
    if (!ok(rc == 0 && ma.act_density == 1 && fabs(mb.act_density - 0.3) < sb &&
                fabs(mc.act_density - 0.3) < sc,
            "topo-5.6 input density: A 1 (image), B and C relu_density 0.3 within 4 sd"))
        diag("  rc %d (%s): %g %g %g", rc, err.msg, ma.act_density, mb.act_density, mc.act_density);
    ok(rc == 0 && !memcmp(ma.grad, mb.act_in, 16384) && mc.grad_density == 1 &&
           mc.grad_density_natural == 1,
       "topo-5.7 A's dZ zeros are B's input zeros (relu.2); C's dZ is dense (the loss)");
    st_layer_masks_fini(&ma);
    st_layer_masks_fini(&mb);
    st_layer_masks_fini(&mc);

    st_point_init(&pt);
    pt.batch = 2;
    st_result_init(&res);
    rc = st_sim_run(net, &pt, &res, &err);
    if (!ok(rc == 0 && res.nlayers == 3 && res.layers[0].dense[ST_BP].dense_macs == 0 &&
                st_phase_cycles(&res.layers[0].run[ST_BP]) == 0 &&
                res.layers[1].dense[ST_BP].dense_macs == 2 * 1036800ull &&
                res.layers[2].dense[ST_BP].dense_macs == 2 * 3200ull &&
                st_phase_cycles(&res.layers[2].run[ST_BP]) > 0,
            "topo-5.8 simulated: no BP for A; dense BP MACs of B and C = valid count x batch 2"))
        diag("  rc %d: %s", rc, err.msg);
    st_result_fini(&res);
    st_net_destroy(&net);
    remove(path);

    /* The names the import gives its ReLUs are layer names like any other: a row that takes
     * one is refused, with the file and line. */
    expect_fail(dir, "taken.csv", HEADER "A,8,8,1,1,1,1,1,\nrelu.2,8,8,1,1,1,1,1,\n", ST_EFORMAT,
                "topo-5.9 a row named like the ReLU after line 2: the file, line 3, the name",
                "taken.csv:3:", "'relu.2'", "already used");
}

int main(void)
{
    const char *src = getenv("ST_SRC");
    char topo_dir[1024], probe[1100], tmpl[] = "/tmp/t_topo_XXXXXX";
    const char *tmp;
    FILE *f;
    static const char *const files[][2] = {
        {"Resnet18.csv", "Resnet18"},
        {"Resnet50.csv", "Resnet50"},
        {"alexnet.csv", "alexnet"},
        {"mlperf_legacy/Alexnet.csv", "Alexnet"},
        {"resnet50_training/resnet_fwd.csv", "resnet_fwd"},
        {"resnet50_training/resnet_input_grad.csv", "resnet_input_grad"},
        {"resnet50_training/resnet_weight_grad.csv", "resnet_weight_grad"}};
    int i;

    _Static_assert(sizeof files / sizeof files[0] == N_FILES, "N_FILES counts files[]");

    tap_plan(N_FILES * N_PER_FILE + N_REAL_QUIRKS + N_ERRORS + N_FIXTURE + N_CHAIN);
    f = NULL;
    if (join(topo_dir, sizeof topo_dir, src ? src : ".", "tests/data/topologies") == 0 &&
        join(probe, sizeof probe, topo_dir, "README.md") == 0)
        f = fopen(probe, "r");
    if (f) {
        fclose(f);
        for (i = 0; i < N_FILES; i++)
            check_real(topo_dir, files[i][0], files[i][1]);
        check_real_quirks(topo_dir);
    } else {
        diag("%s not found: set ST_SRC to the repository root or run from it", topo_dir);
        skip_n(N_FILES * N_PER_FILE + N_REAL_QUIRKS,
               "tests/data/topologies not found (set ST_SRC to the repository root)",
               "topo-1 and topo-2 real SCALE-Sim files");
    }

    tmp = mkdtemp(tmpl);
    if (tmp) {
        check_errors(tmp);
        check_quirks(tmp);
        check_chain(tmp);
        rmdir(tmp);
    } else {
        skip_n(N_ERRORS + N_FIXTURE + N_CHAIN, "mkdtemp failed",
               "topo-3, topo-4 and topo-5 generated files");
    }
    return tap_done();
}
