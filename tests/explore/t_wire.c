/*
 * t_wire.c - what MPI ranks exchange, without MPI: setups, points and records read back
 * exactly as written (NaN and -0 included), only varying columns travel, every malformed
 * or mismatched message is refused with a message; and the batch sizer's rules.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "ex.h"

static void fill(ex_batch *b, int n, int np)
{
    double *v = calloc((size_t)np, sizeof *v);

    ex_batch_reserve(b, n, np, NULL);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < np; k++)
            v[k] = k == 1 ? (double)i * 0.25 : k == 2 ? (i % 2 ? -0.0 : 0.0) : 7.5;
        v[np - 1] = i == 3 ? NAN : 1.0;
        ex_batch_add(b, 100 + (uint64_t)i, 1000 + (uint64_t)i, v);
    }
    free(v);
}

int main(void)
{
    ex_ptab t;
    ex_batch a, b;
    ex_buf buf;
    ex_netspec net;
    ex_sweep sw, got;
    ex_netop op;
    ex_wire_setup ws = {EX_EVAL_SIM, 1, 0, 0}, got_ws;
    ex_sizer z;
    st_err err;
    uint64_t seq = 0;
    double eval_s = 0;
    int np, same, idx = 0;

    tap_plan(33);
    st_err_clear(&err);
    ex_ptab_init(&t, &err);
    np = t.n;
    ex_batch_init(&a);
    ex_batch_init(&b);
    ex_buf_init(&buf);

    /* ---------------------------------------------------------------- setup */
    ex_netspec_init(&net);
    ex_sweep_init(&sw);
    ex_sweep_init(&got);
    snprintf(net.name, sizeof net.name, "tiny");
    net.c = 1;
    net.h = net.w = 28;
    memset(&op, 0, sizeof op);
    op.kind = ST_CONV;
    snprintf(op.name, sizeof op.name, "c1");
    op.src[0] = -1;
    op.out = 8;
    op.k = 3;
    op.stride = 1;
    op.pad = 1;
    op.groups = 1;
    op.line = 12;
    ex_netspec_push(&net, &op, &err);
    ex_sweep_add_net(&sw, &net, &idx, &err);
    ws.nparam = np;
    ex_metrics(&ws.nmetric);
    ok(ex_wire_put_setup(&buf, &ws, &sw, &err) == 0, "wire-1.1 a setup is encoded");
    ok(ex_wire_get_setup(buf.p, buf.n, &got_ws, &got, &err) == 0 && got_ws.nparam == np &&
           got_ws.detail == 1 && got.nnet == 1 && got.nets[0].n == 1 &&
           !strcmp(got.nets[0].ops[0].name, "c1") && got.nets[0].ops[0].line == 12 &&
           got.nets[0].h == 28 && !strcmp(got.nets[0].name, "tiny") && got.ntrace == 0,
       "wire-1.2 ... and decoded with its network");
    ex_sweep_fini(&got);
    ex_sweep_init(&got);
    /* Cut into the last operation (then come two 8-byte lengths of 0 and the trace count). */
    ok(ex_wire_get_setup(buf.p, buf.n - 4 - 16 - 3, &got_ws, &got, &err) == ST_EFORMAT &&
           strstr(err.msg, "1 layer operations do not fit"),
       "wire-1.3 a truncated setup is refused: %s", err.msg);
    ex_sweep_fini(&got);
    ex_sweep_init(&got);
    ws.nmetric++;
    ex_wire_put_setup(&buf, &ws, &sw, &err);
    ok(ex_wire_get_setup(buf.p, buf.n, &got_ws, &got, &err) == ST_EFORMAT &&
           strstr(err.msg, "mixed versions"),
       "wire-1.4 a setup from a program with other metrics is refused: %s", err.msg);
    ex_sweep_fini(&got);
    ex_sweep_init(&got);
    ok(ex_wire_get_setup("junk", 4, &got_ws, &got, &err) == ST_EFORMAT &&
           strstr(err.msg, "not a setup"),
       "wire-1.5 bytes that are not a setup are refused");
    ws.nmetric--;

    /* A layer list travels as its path and text; the worker builds the chain from them. */
    {
        static const char text[] = "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter "
                                   "Width,Channels,Num Filter,Strides,\n"
                                   "A,8,8,3,3,2,4,1,\nB,6,6,3,3,4,5,1,\n";
        static const char bad_text[] = "Layer name,IFMAP Height,IFMAP Width,Filter Height,"
                                       "Filter Width,Channels,Num Filter,Strides,\n"
                                       "A,8,8,3,3,0,4,1,\n";
        ex_netspec csv;
        ex_sweep one;
        st_net *built = NULL;
        int bad = -1;
        ex_netspec_init(&csv);
        ex_sweep_init(&one);
        ex_sweep_fini(&got);
        ex_sweep_init(&got);
        snprintf(csv.name, sizeof csv.name, "lst");
        ok(ex_netspec_set_csv(&csv, "dir/lst.csv", text, sizeof text - 1, &err) == 0 &&
               ex_sweep_add_net(&one, &csv, &idx, &err) == 0 &&
               ex_wire_put_setup(&buf, &ws, &one, &err) == 0 &&
               ex_wire_get_setup(buf.p, buf.n, &got_ws, &got, &err) == 0 && got.nets[0].csv &&
               got.nets[0].csv_len == sizeof text - 1 &&
               !memcmp(got.nets[0].csv, text, sizeof text) &&
               !strcmp(got.nets[0].csv_path, "dir/lst.csv"),
           "wire-1.6 a layer list's path and text travel byte for byte: %s", err.msg);
        /* A: 2x8x8 -> 4x6x6; B reads it through A's ReLU: 3 layers, B has BP 4*4*9*4*5. */
        ok(ex_netspec_build(&got.nets[0], &built, &bad, &err) == 0 && st_net_count(built) == 3 &&
               st_layer_macs(st_net_layer(built, 2), ST_BP) == 4ull * 4 * 9 * 4 * 5 &&
               !strcmp(st_net_name(built), "lst"),
           "wire-1.7 ... and the received spec builds the chain: %s", err.msg);
        st_net_destroy(&built);
        ex_sweep_fini(&got);
        ex_sweep_init(&got);
        /* The trace count after the list goes first: cut 5 bytes into the list's text. */
        ok(ex_wire_get_setup(buf.p, buf.n - 5, &got_ws, &got, &err) == ST_EFORMAT &&
               strstr(err.msg, "malformed"),
           "wire-1.8 a setup whose layer list is cut short is refused: %s", err.msg);
        ex_sweep_fini(&got);
        ex_sweep_init(&got);
        /* The text is parsed when the network is built: a bad row names the path, line. */
        ex_netspec_set_csv(&csv, "dir/lst.csv", bad_text, sizeof bad_text - 1, &err);
        ok(ex_netspec_build(&csv, &built, &bad, &err) == ST_EFORMAT && built == NULL &&
               strstr(err.msg, "dir/lst.csv:2: field 'Channels' = 0"),
           "wire-1.9 a spec with a bad layer list fails to build, naming path and line: %s",
           err.msg);
        ex_netspec_fini(&csv);

        ex_sweep_fini(&one);

        /* Several networks and a trace: every mask byte arrives. */
        ex_netspec_set_csv(&csv, "dir/lst.csv", text, sizeof text - 1, &err);
        snprintf(csv.name, sizeof csv.name, "lst");
        ex_sweep_add_net(&sw, &csv, &idx, &err);
        ex_netspec_fini(&csv);
        {
            ex_tracemem *tm = NULL;
            int same_masks = 1;
            ex_tracemem_create("t.h5", 2, &tm, &err);
            tm->images = 3;
            tm->net = 1;
            tm->fp = 0x1234;
            snprintf(tm->iter, sizeof tm->iter, "iter_000007");
            ex_tracemem_layer_alloc(tm, 0, 0, 5, 7, &err);
            ex_tracemem_layer_alloc(tm, 1, 2, 4, 2, &err);
            tm->layers[1].tau = 0.25;
            for (int k = 0; k < 15; k++)
                tm->layers[0].act[k] = (uint8_t)(k % 3 == 0);
            for (int k = 0; k < 6; k++)
                tm->layers[1].dz[k] = (uint8_t)(k & 1);
            sw.traces = malloc(sizeof *sw.traces);
            sw.traces[0] = tm;
            sw.ntrace = 1;
            ok(ex_wire_put_setup(&buf, &ws, &sw, &err) == 0 &&
                   ex_wire_get_setup(buf.p, buf.n, &got_ws, &got, &err) == 0,
               "wire-1.10 two networks and a trace are encoded and decoded: %s", err.msg);
            if (got.ntrace == 1) {
                const ex_tracemem *g = got.traces[0];
                for (int l = 0; l < 2; l++)
                    same_masks &=
                        g->layers[l].layer == tm->layers[l].layer &&
                        g->layers[l].na == tm->layers[l].na &&
                        g->layers[l].ng == tm->layers[l].ng &&
                        !memcmp(g->layers[l].act, tm->layers[l].act, 3 * tm->layers[l].na) &&
                        !memcmp(g->layers[l].dz, tm->layers[l].dz, 3 * tm->layers[l].ng);
            }
            ok(got.nnet == 2 && !strcmp(got.nets[1].name, "lst") && got.ntrace == 1 && same_masks &&
                   got.traces[0]->images == 3 && got.traces[0]->net == 1 &&
                   got.traces[0]->fp == 0x1234 && got.traces[0]->layers[1].tau == 0.25 &&
                   !strcmp(got.traces[0]->iter, "iter_000007") &&
                   !strcmp(got.traces[0]->path, "t.h5"),
               "wire-1.11 ... the networks in order, the trace's masks byte for byte");
            ex_sweep_fini(&got);
            ex_sweep_init(&got);
            ok(ex_wire_get_setup(buf.p, buf.n - 1, &got_ws, &got, &err) == ST_EFORMAT &&
                   strstr(err.msg, "malformed trace"),
               "wire-1.12 a setup whose trace is cut short is refused: %s", err.msg);
            ex_sweep_fini(&got);
            ex_sweep_init(&got);
        }
    }

    /* ------------------------------------------------------- training jobs */
    {
        static const char *const a1[] = {"/bin/sttrain", "fmnist-cnn", "p=0.9"};
        static const char *const a2[] = {"/bin/sttrain", "net with spaces.lua"};
        ex_trainjob jobs[2], *got_jobs = NULL;
        int nj = 0;
        ex_trainjob_args(&jobs[0], "d/1.log", 3, a1, &err);
        ex_trainjob_args(&jobs[1], "d/2.log", 2, a2, &err);
        ok(ex_trainjobs_put(&buf, jobs, 2, &err) == 0 &&
               ex_trainjobs_get(buf.p, buf.n, &got_jobs, &nj, &err) == 0 && nj == 2 &&
               !strcmp(got_jobs[0].argv[2], "p=0.9") && !got_jobs[0].argv[3] &&
               !strcmp(got_jobs[1].argv[1], "net with spaces.lua") && !got_jobs[1].argv[2] &&
               !strcmp(got_jobs[1].log, "d/2.log"),
           "wire-1.13 training jobs travel argument for argument: %s", err.msg);
        ex_trainjobs_free(got_jobs, nj);
        got_jobs = NULL;
        ok(ex_trainjobs_get(buf.p, buf.n - 2, &got_jobs, &nj, &err) == ST_EFORMAT && !got_jobs &&
               strstr(err.msg, "malformed"),
           "wire-1.14 cut short, they are refused: %s", err.msg);
        for (int k = 0; k < 2; k++) {
            for (int q = 0; jobs[k].argv[q]; q++)
                free(jobs[k].argv[q]);
            free(jobs[k].argv);
            free(jobs[k].log);
        }
    }

    /* --------------------------------------------------------------- points */
    fill(&a, 6, np);
    ok(ex_wire_put_points(&buf, 42, &a, &err) == 0, "wire-2.1 a batch of points is encoded");
    /* Column 1 varies, column 2 differs only in the sign of zero, the last has a NaN. */
    ok(buf.n == 24 + (size_t)np * 8 + 3 * 4 + 6 * 3 * 8,
       "wire-2.2 ... with the first vector and only the 3 varying columns (%zu bytes)", buf.n);
    ok(ex_wire_get_points(buf.p, buf.n, np, &seq, &b, &err) == 0 && seq == 42 && b.n == 6,
       "wire-2.3 ... decoded with its sequence number");
    same = 1;
    for (int i = 0; i < 6; i++)
        same &= memcmp(a.recs[i].vals, b.recs[i].vals, (size_t)np * 8) == 0;
    ok(same, "wire-2.4 ... every value bit for bit (NaN and -0 included)");
    ok(ex_wire_get_points(buf.p, buf.n - 8, np, &seq, &b, &err) == ST_EFORMAT &&
           strstr(err.msg, "do not match"),
       "wire-2.5 a truncated batch is refused: %s", err.msg);
    ok(ex_wire_get_points(buf.p, buf.n, np + 1, &seq, &b, &err) == ST_EFORMAT,
       "wire-2.6 a batch for another parameter table is refused");
    ex_batch_clear(&a);
    ok(ex_wire_put_points(&buf, 7, &a, &err) == 0 &&
           ex_wire_get_points(buf.p, buf.n, np, &seq, &b, &err) == 0 && b.n == 0 && seq == 7,
       "wire-2.7 an empty batch travels");

    /* -------------------------------------------------------------- records */
    fill(&a, 4, np);
    fill(&b, 4, np);
    for (int i = 0; i < 4; i++) {
        ex_record *r = &a.recs[i];
        for (int k = 0; k < a.nmetric; k++)
            r->metrics[k].u = (uint64_t)(i * 100 + k);
        r->status = i == 2 ? EX_FAILED : EX_OK;
        if (i == 2)
            snprintf(r->msg, sizeof r->msg, "ch2_kib = 1: too small for one tile");
        if (i == 1) {
            r->ndetail = 2;
            r->detail = calloc(2, sizeof *r->detail);
            r->detail[1].layer = 5;
            r->detail[1].phase = 2;
            r->detail[1].v[EX_D_ENERGY_PJ].f = 3.25;
        }
    }
    ok(ex_wire_put_records(&buf, 9, 0.125, &a, &err) == 0, "wire-3.1 records are encoded");
    ok(ex_wire_get_records(buf.p, buf.n, 9, &eval_s, &b, &err) == 0 && eval_s == 0.125,
       "wire-3.2 ... and decoded onto the batch that was sent");
    same = 1;
    for (int i = 0; i < 4; i++)
        same &= b.recs[i].status == a.recs[i].status && !strcmp(b.recs[i].msg, a.recs[i].msg) &&
                memcmp(b.recs[i].metrics, a.recs[i].metrics, (size_t)a.nmetric * 8) == 0 &&
                b.recs[i].ndetail == a.recs[i].ndetail;
    ok(same, "wire-3.3 ... status, message and metrics of every point");
    ok(b.recs[1].ndetail == 2 && b.recs[1].detail[1].layer == 5 && b.recs[1].detail[1].phase == 2 &&
           b.recs[1].detail[1].v[EX_D_ENERGY_PJ].f == 3.25,
       "wire-3.4 ... and the per-layer detail");
    ok(ex_wire_get_records(buf.p, buf.n, 10, &eval_s, &b, &err) == ST_EFORMAT &&
           strstr(err.msg, "came for batch 10"),
       "wire-3.5 records of another batch are refused: %s", err.msg);
    ok(ex_wire_get_records(buf.p, buf.n - 1, 9, &eval_s, &b, &err) == ST_EFORMAT,
       "wire-3.6 truncated records are refused");

    /* --------------------------------------------------------------- sizing */
    ex_sizer_init(&z, 4, 4096, 0.5);
    ok(ex_sizer_next(&z, 1000000) == 1, "sizer-1.1 one point until a cost is known");
    ex_sizer_observe(&z, 10, 0.01);
    ok(ex_sizer_next(&z, 1000000) == 500, "sizer-1.2 then about batch_s of work (0.5 s / 1 ms)");
    ok(ex_sizer_next(&z, 800) == 100, "sizer-1.3 at most 1/(2 workers) of what is left");
    ok(ex_sizer_next(&z, 3) == 1, "sizer-1.4 and at least one point");
    ex_sizer_observe(&z, 10, 0.03);
    ok(fabs(z.cost_s - 0.002) < 1e-12, "sizer-1.5 the cost follows the last batches (1/2 weight)");
    ex_sizer_init(&z, 4, 4096, 0.5);
    ex_sizer_observe(&z, 1000, 0);
    ok(ex_sizer_next(&z, UINT64_C(1) << 40) == 4096, "sizer-1.6 cheap points: batch_max");

    ex_batch_fini(&a);
    ex_batch_fini(&b);
    ex_buf_fini(&buf);
    ex_netspec_fini(&net);
    ex_sweep_fini(&sw);
    ex_sweep_fini(&got);
    ex_ptab_fini(&t);
    return tap_done();
}
