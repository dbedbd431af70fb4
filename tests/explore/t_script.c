/*
 * t_script.c - sweep scripts: the sandbox (what it refuses, the instruction budget, the
 * memory cap, and --trust), the value helpers expanded exactly, errors that name the
 * script, the line and the value, and the plan running the script's where, derived and
 * de-duplication.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "ex.h"

typedef struct fx {
    char dir[64], path[128];
    ex_ptab t;
    ex_lua *lua;
    ex_script *s;
    st_err err;
    char line[600];
} fx;

/* Write text as a script and load it in a fresh state; the load's return code. */
static int load(fx *f, const char *text, int trusted)
{
    ex_lua_opts o;
    FILE *fp = fopen(f->path, "w");

    fputs(text, fp);
    fclose(fp);
    ex_script_destroy(&f->s);
    ex_lua_destroy(&f->lua);
    ex_lua_opts_init(&o);
    o.trusted = trusted;
    o.budget = 5000000;
    o.mem_cap = (size_t)32 << 20;
    st_err_clear(&f->err);
    ex_lua_create(&o, &f->lua, &f->err);
    return ex_script_load(f->lua, f->path, &f->t, &f->s, &f->err);
}

/* The first line of the message, for test descriptions (a traceback follows it). */
static const char *msg1(fx *f)
{
    snprintf(f->line, sizeof f->line, "%.*s", (int)strcspn(f->err.msg, "\n"), f->err.msg);
    return f->line;
}

static int has(const fx *f, const char *a, const char *b)
{
    return strstr(f->err.msg, a) != NULL && (!b || strstr(f->err.msg, b) != NULL);
}

/* The values of the swept parameter name, as a comma-separated %.17g list. */
static void values(const fx *f, const char *name, char *buf, size_t size)
{
    const ex_sweep *sw = ex_script_sweep(f->s);
    int row = ex_ptab_find(&f->t, name);
    size_t used = 0;

    buf[0] = '\0';
    for (int d = 0; d < sw->space.ndim; d++)
        if (sw->space.dims[d].param == row)
            for (uint64_t k = 0; k < sw->space.dims[d].n && used < size; k++)
                used += (size_t)snprintf(buf + used, size - used, "%s%.17g", k ? "," : "",
                                         sw->space.dims[d].v[k]);
}

#define HEAD "return st.sweep {\n  name = 'x',\n  network = 'fmnist-cnn',\n"

int main(void)
{
    fx f;
    char v[512];
    ex_plan plan;
    ex_batch b;
    uint64_t first, span, n = 0;

    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "/tmp/t_script.XXXXXX");
    if (!mkdtemp(f.dir))
        return 1;
    snprintf(f.path, sizeof f.path, "%s/s.lua", f.dir);
    ex_ptab_init(&f.t, NULL);
    ex_batch_init(&b);

    /* sandbox */
    ok(load(&f, "os.execute('true')\nreturn {}\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:1: os.execute is not available in the sandbox", NULL),
       "script-1.1 os.execute is refused: %s", msg1(&f));
    ok(load(&f, "local p = io.popen('ls')\n", 0) == ST_EINVAL &&
           has(&f, "io.popen is not available", NULL),
       "script-1.2 io.popen is refused");
    ok(load(&f, "local h = io.open('/tmp/x', 'w')\n", 0) == ST_EINVAL &&
           has(&f, "io.open is not available", NULL),
       "script-1.3 io.open (file writes) is refused");
    ok(load(&f, "package.loadlib('libc.so.6', 'puts')\n", 0) == ST_EINVAL &&
           has(&f, "package.loadlib is not available", NULL),
       "script-1.4 C module loading is refused");
    ok(load(&f, "require('lfs')\n", 0) == ST_EINVAL && has(&f, "module 'lfs' not found", NULL),
       "script-1.5 require finds no C module: %s", msg1(&f));
    ok(load(&f, "local c = string.dump(function() end)\nassert(load(c))\n", 0) == ST_EINVAL &&
           has(&f, "binary chunk", NULL),
       "script-1.6 binary chunks are refused: %s", msg1(&f));
    ok(load(&f, "dofile('/etc/passwd')\n", 0) == ST_EINVAL &&
           has(&f, "dofile is not available", NULL),
       "script-1.7 dofile is refused");
    ok(load(&f, "local n = 0\nwhile true do\n  n = n + 1\nend\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:", "instruction budget of 5000000 exceeded"),
       "script-1.8 an endless loop meets the instruction budget: %.60s", msg1(&f));
    ok(load(&f, "local t = {}\nfor i = 1, 1e8 do t[i] = {i} end\n", 0) == ST_EINVAL &&
           has(&f, "s.lua: the script exceeded the memory cap of 32 MiB", NULL),
       "script-1.9 a memory bomb meets the cap: %s", msg1(&f));
    ok(load(&f, "assert(type(os.execute) == 'function' and io.open)\n" HEAD "}\n", 1) == 0,
       "script-1.10 --trust lifts the sandbox: %s", msg1(&f));
    ok(load(&f, "local x = nil\nlocal y = x.field\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:2: attempt to index", "stack traceback"),
       "script-1.11 a runtime error has its line and a traceback");
    ok(load(&f, "return st.sweep {\n  name = 'x'\n  network = 1 }\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:3:", "'}' expected"),
       "script-1.12 a syntax error has its line: %s", msg1(&f));

    /* helpers, exactly */
    ok(load(&f, HEAD "  params = { p = st.range(0.1, 0.9, 0.1) },\n}\n", 0) == 0,
       "script-2.1 st.range loads: %s", msg1(&f));
    values(&f, "p", v, sizeof v);
    ok(!strcmp(v, "0.10000000000000001,0.20000000000000001,0.29999999999999999,0.40000000000000002,"
                  "0.5,0.59999999999999998,0.69999999999999996,0.80000000000000004,"
                  "0.90000000000000002"),
       "script-2.2 st.range(0.1, 0.9, 0.1) gives the nine doubles nearest 0.1 .. 0.9: %s", v);
    load(&f, HEAD "  params = { ch0_kib = st.pow2(3, 100), pe_rows = st.range(1, 10, 4) },\n}\n",
         0);
    values(&f, "ch0_kib", v, sizeof v);
    ok(!strcmp(v, "4,8,16,32,64"), "script-2.3 st.pow2(3, 100) is 4 .. 64: %s", v);
    values(&f, "pe_rows", v, sizeof v);
    ok(!strcmp(v, "1,5,9"), "script-2.4 st.range(1, 10, 4) is 1, 5, 9: %s", v);
    load(&f,
         HEAD
         "  params = { p = st.linspace(0, 0.9, 4), dram_gbps = st.logspace(1, 1000, 4) },\n}\n",
         0);
    values(&f, "p", v, sizeof v);
    ok(!strcmp(v, "0,0.29999999999999999,0.59999999999999998,0.90000000000000002"),
       "script-2.5 st.linspace(0, 0.9, 4): %s", v);
    values(&f, "dram_gbps", v, sizeof v);
    ok(!strcmp(v, "1,10,100,1000"), "script-2.6 st.logspace(1, 1000, 4) is 1, 10, 100, 1000: %s",
       v);
    load(&f,
         HEAD "  params = { pe_rows = {4, 4, 8, 4.0}, sync = {'fifo', 'lockstep', 'fifo'} },\n}\n",
         0);
    values(&f, "pe_rows", v, sizeof v);
    ok(!strcmp(v, "4,8"), "script-2.7 repeated values are kept once: %s", v);
    values(&f, "sync", v, sizeof v);
    ok(!strcmp(v, "1,0"), "script-2.8 enum values by name, repeats dropped: %s", v);

    /* errors name the script, the line, the value and its range */
    ok(load(&f, HEAD "  params = {\n    pe_cols = {8},\n    pe_rows = {0, 4},\n  },\n}\n", 0) ==
               ST_EINVAL &&
           has(&f, "s.lua:6: pe_rows = 0: must be in [1, 4096]", NULL),
       "script-3.1 a value out of range: %s", msg1(&f));
    ok(load(&f, HEAD "  params = {\n    pe_row = {4},\n  },\n}\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:5: unknown parameter 'pe_row'; did you mean 'pe_rows'?", NULL),
       "script-3.2 an unknown parameter: %s", msg1(&f));
    ok(load(&f, HEAD "  fixed = { p = 'high' },\n}\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:4: p = 'high': must be a number, not a string", NULL),
       "script-3.3 a value of the wrong type: %s", msg1(&f));
    ok(load(&f, HEAD "  fixed = { sync = 'fast' },\n}\n", 0) == ST_EINVAL &&
           has(&f, "sync = 'fast': must be one of lockstep, fifo", NULL),
       "script-3.4 an unknown choice: %s", msg1(&f));
    ok(load(&f, HEAD "  params = { pe_rows = {2.5} },\n}\n", 0) == ST_EINVAL &&
           has(&f, "pe_rows = 2.5: must be a whole number", NULL),
       "script-3.5 a fraction for a whole number: %s", msg1(&f));
    ok(load(&f, HEAD "  params = {\n pe_rows = {4} },\n  fixed = {\n pe_rows = 8 },\n}\n", 0) ==
               ST_EINVAL &&
           has(&f, "s.lua:7: duplicate parameter 'pe_rows'", NULL),
       "script-3.6 a parameter given twice: %s", msg1(&f));
    ok(load(&f, HEAD "  params = { p = {} },\n}\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:4: p = {}: no values", NULL),
       "script-3.7 an empty list: %s", msg1(&f));
    ok(load(&f, HEAD "  params = { p = st.uniform(0, 1) },\n}\n", 0) == ST_EINVAL &&
           has(&f, "p = 1: must be in [0, 1)", NULL),
       "script-3.8 a continuous range past the parameter's bound: %s", msg1(&f));
    ok(load(&f, HEAD "  parms = {},\n}\n", 0) == ST_EINVAL &&
           has(&f, "s.lua:4: unknown field 'parms'", NULL),
       "script-3.9 an unknown field: %s", msg1(&f));
    ok(load(&f,
            HEAD "  params = { pe_rows = st.range(1, 4096), pe_cols = st.range(1, 4096),\n"
                 "    ch0_kib = st.range(1, 4096), ch1_kib = st.range(1, 4096), ch2_kib = "
                 "st.range(1, 4096),\n"
                 "    oreg_len = st.range(1, 4096) },\n}\n",
            0) == ST_EINVAL &&
           has(&f, "more than", NULL),
       "script-3.10 a grid past 2^62 points: %s", msg1(&f));
    ok(load(&f, "return 42\n", 0) == ST_EINVAL &&
           has(&f, "must return a sweep table, not number", NULL),
       "script-3.11 a script that returns no sweep: %s", msg1(&f));
    ok(load(&f,
            "return st.sweep{ name = 'x', network = st.network{ name = 'n', input = {1, 8, 8},\n"
            "  st.conv{out = 4, k = 3, pad = 1},\n  st.conv{out = 4, k = 30},\n} }\n",
            0) == ST_EINVAL &&
           has(&f, "s.lua:3: network 'n': layer 'conv2'", NULL),
       "script-3.12 a bad layer of a Lua network names its line: %s", msg1(&f));
    ok(load(&f, "return st.sweep {\n  name = 'x',\n  network = 7,\n}\n", 0) == ST_EINVAL &&
           has(&f,
               "s.lua:3: network = 7: must be a built-in name (st.networks()), a layer list "
               "('NAME.csv') or st.network{...}",
               NULL),
       "script-3.13 a network of the wrong kind says the three kinds: %s", msg1(&f));

    /* the plan: where, derived, repeats */
    ok(load(&f,
            HEAD "  params = { pe_rows = {1, 2, 4, 8}, pe_cols = {1, 2, 4, 8} },\n"
                 "  derived = { ch1_kib = function(p) return 8 * p.pe_rows end },\n"
                 "  where = function(p) return p.pe_rows * p.pe_cols <= 8 end,\n}\n",
            0) == 0,
       "script-4.1 a sweep with where and derived loads: %s", msg1(&f));
    ex_plan_init(&plan, ex_script_sweep(f.s), &f.t, ex_script_hooks(f.s), NULL);
    ex_batch_reserve(&b, 100, f.t.n, NULL);
    ex_plan_next(&plan, &b, 100, &first, &span, &f.err);
    ok(b.n == 10 && span == 16 && plan.excluded == 6,
       "script-4.2 where keeps the 10 of 16 arrays of at most 8 PEs (%d)", b.n);
    {
        int all = 1, ch1 = ex_ptab_find(&f.t, "ch1_kib"), pr = ex_ptab_find(&f.t, "pe_rows");
        for (int i = 0; i < b.n; i++)
            all &= b.recs[i].vals[ch1] == 8 * b.recs[i].vals[pr];
        ok(all, "script-4.3 derived values are computed per point");
    }
    ex_plan_fini(&plan);
    ok(load(&f,
            HEAD "  sample = st.random{count = 50, seed = 3},\n"
                 "  params = { pe_rows = {4, 8}, sync = {'lockstep', 'fifo'} },\n}\n",
            0) == 0,
       "script-4.4 a random sample loads");
    ex_plan_init(&plan, ex_script_sweep(f.s), &f.t, ex_script_hooks(f.s), NULL);
    while (ex_plan_next(&plan, &b, 7, &first, &span, &f.err) == 0 && span > 0)
        n += (uint64_t)b.n;
    ok(n == 4 && plan.duplicates == 46,
       "script-4.5 50 draws from 4 points evaluate each once (%llu, %llu repeats)",
       (unsigned long long)n, (unsigned long long)plan.duplicates);
    ex_plan_fini(&plan);
    ok(load(&f,
            HEAD "  params = { pe_rows = {4} },\n  derived = { ch1_kib = function(p) return 'big' "
                 "end },\n}\n",
            0) == 0,
       "script-4.6 a derived function of the wrong type loads");
    ex_plan_init(&plan, ex_script_sweep(f.s), &f.t, ex_script_hooks(f.s), NULL);
    ok(ex_plan_next(&plan, &b, 7, &first, &span, &f.err) == ST_EINVAL &&
           has(&f, "derived ch1_kib = 'big': must be a number", NULL),
       "script-4.7 ... and fails when it returns a string: %s", msg1(&f));
    ex_plan_fini(&plan);

    ex_batch_fini(&b);
    ex_script_destroy(&f.s);
    ex_lua_destroy(&f.lua);
    ex_ptab_fini(&f.t);
    unlink(f.path);
    rmdir(f.dir);
    return tap_done();
}
