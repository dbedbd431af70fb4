/*
 * t_sandbox.c - what a hostile sweep script cannot do: escape the instruction budget
 * through pcall, xpcall, coroutines or message handlers, run a finalizer, backtrack a
 * pattern without bound, outlast a stop signal, crash the reader with a changed or forged
 * helper table or a NUL byte, or hide where an error came from. Also: domains expand fast
 * and to the same doubles as the text round trip they are defined by.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>

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

static const sigset_t *stop_set;

/* Write text as a script and load it in a fresh sandbox (budget 5e6, cap 32 MiB). */
static int load(fx *f, const char *text)
{
    ex_lua_opts o;
    FILE *fp = fopen(f->path, "w");

    fputs(text, fp);
    fclose(fp);
    ex_script_destroy(&f->s);
    ex_lua_destroy(&f->lua);
    ex_lua_opts_init(&o);
    o.budget = 5000000;
    o.mem_cap = (size_t)32 << 20;
    o.stop_signals = stop_set;
    st_err_clear(&f->err);
    ex_lua_create(&o, &f->lua, &f->err);
    return ex_script_load(f->lua, f->path, &f->t, &f->s, &f->err);
}

static const char *msg1(fx *f)
{
    snprintf(f->line, sizeof f->line, "%.*s", (int)strcspn(f->err.msg, "\n"), f->err.msg);
    return f->line;
}

static int has(const fx *f, const char *a, const char *b)
{
    return strstr(f->err.msg, a) != NULL && (!b || strstr(f->err.msg, b) != NULL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Enumerate the whole plan of the loaded script; its return code. */
static int run_plan(fx *f)
{
    ex_plan plan;
    ex_batch b;
    uint64_t first, span;
    int rc;

    ex_batch_init(&b);
    st_err_clear(&f->err);
    rc = ex_plan_init(&plan, ex_script_sweep(f->s), &f->t, ex_script_hooks(f->s), &f->err);
    while (rc == 0 && (rc = ex_plan_next(&plan, &b, 64, &first, &span, &f->err)) == 0 && span > 0)
        ;
    ex_plan_fini(&plan);
    ex_batch_fini(&b);
    return rc;
}

/* The first dimension's values after a load. */
static const ex_dim *dim0(const fx *f)
{
    return &ex_script_sweep(f->s)->space.dims[0];
}

/* The value "%.15g" prints, read back: what st.linspace's values are defined as. */
static double round15(double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    return strtod(buf, NULL);
}

#define HEAD  "return {\n  name = 'x',\n  network = 'fmnist-cnn',\n  eval = 'none',\n"
#define SWEEP HEAD "  params = { pe_rows = {1, 2} },\n"

int main(void)
{
    fx f;
    char text[1024];
    sigset_t stop;
    int rc;

    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "/tmp/t_sandbox.XXXXXX");
    if (!mkdtemp(f.dir))
        return 1;
    snprintf(f.path, sizeof f.path, "%s/s.lua", f.dir);
    ex_ptab_init(&f.t, NULL);
    /* The stop signals are blocked, as stexplore blocks them, and raised by the tests. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    stop_set = &stop;

    /* 1. the budget holds across every protected call */
    static const char *const escapes[] = {
        "while true do pcall(function() while true do end end) end\n",
        "while true do xpcall(function() while true do end end, function(m) return m end) end\n",
        "while true do xpcall(function() while true do end end, function(m) while true do end "
        "end) end\n",
        "while true do local co = coroutine.create(function() while true do end end)\n"
        "  coroutine.resume(co); coroutine.close(co) end\n",
        "local co = coroutine.wrap(function() while true do pcall(function() while true do end "
        "end) end end)\nwhile true do pcall(co) end\n",
        "while true do pcall(pcall, pcall, function() while true do end end) end\n",
        "while true do pcall(string.gsub, 'abc', '%w', function() while true do end end) end\n",
        "while true do pcall(table.sort, {3, 2, 1}, function() while true do end end) end\n",
        "while true do pcall(load('while true do end')) end\n",
        "while true do pcall(setmetatable({}, {__index = function() while true do end end}).x) "
        "end\n",
        "while true do pcall(function() local x <close> = setmetatable({}, {__close = function() "
        "while true do end end}) end) end\n",
        NULL};
    for (int i = 0; escapes[i]; i++) {
        double t0 = now();
        rc = load(&f, escapes[i]);
        ok(rc == ST_EINVAL && has(&f, "s.lua:", "instruction budget of 5000000 exceeded") &&
               now() - t0 < 10,
           "sandbox-1.%d the budget holds against escape %d (%.2f s): %s", i + 1, i + 1, now() - t0,
           msg1(&f));
    }
    snprintf(text, sizeof text,
             SWEEP "  where = function(p) while true do pcall(function() while true do end end) "
                   "end end,\n}\n");
    rc = load(&f, text);
    rc = rc ? rc : run_plan(&f);
    ok(rc == ST_EINVAL && has(&f, "instruction budget of 5000000 exceeded", NULL),
       "sandbox-1.20 ... also inside where: %s", msg1(&f));
    rc = load(&f, "local ok, m = pcall(error, 'mine')\nassert(not ok and m == 'mine')\n"
                  "local ok2, m2 = xpcall(error, function(e) return 'handled ' .. e end, 'x')\n"
                  "assert(m2 == 'handled x')\n"
                  "local co = coroutine.wrap(function() pcall(coroutine.yield, 1) return 2 end)\n"
                  "assert(co() == 1 and co() == 2)\n" SWEEP "}\n");
    ok(rc == 0, "sandbox-1.21 pcall, xpcall and yields inside pcall in a coroutine still work: %s",
       msg1(&f));

    /* 2. finalizers */
    rc = load(&f, "setmetatable({}, {__gc = function() while true do end end})\n");
    ok(rc == ST_EINVAL &&
           has(&f, "s.lua:1: setmetatable: a __gc metamethod is not available", NULL),
       "sandbox-2.1 a metatable with __gc is refused: %s", msg1(&f));
    rc = load(&f, "local mt = {}\nlocal t = setmetatable({}, mt)\n"
                  "mt.__gc = function() while true do end end\nt = nil\ncollectgarbage()\n" SWEEP
                  "}\n");
    ok(rc == 0,
       "sandbox-2.2 __gc added after setmetatable never runs (Lua does not mark the table)");
    rc = load(&f, "local t = setmetatable({}, {__index = {}, __mode = 'k'})\n" SWEEP "}\n");
    ok(rc == 0, "sandbox-2.3 other metatables are accepted: %s", msg1(&f));

    /* 3. patterns: the cost bound in closed form, then refusals and passes */
    ok(ex_lua_match_cost(".-b", 3, 1000000, 0) == 1000001.0 * 1000001.0,
       "sandbox-3.1 '.-b' on 10^6 bytes: (n+1) starts x (n+1) splits");
    ok(ex_lua_match_cost("^a+$", 4, 1000, 0) == 1001.0,
       "sandbox-3.2 an anchored '^a+$' tries one start");
    ok(ex_lua_match_cost("^a+$", 4, 1000, 1) == 1001.0 * 1001.0,
       "sandbox-3.3 ... but every start in gmatch");
    ok(ex_lua_match_cost("[%]]?x%b()", 10, 10, 0) == 11.0 * 2 * 11,
       "sandbox-3.4 a set with an escaped ], a ?, a %%b: %g",
       ex_lua_match_cost("[%]]?x%b()", 10, 10, 0));
    ok(ex_lua_match_cost("(%d+)%.(%d*)", 12, 99, 0) == 100.0 * 100 * 100,
       "sandbox-3.5 captures do not count, escapes are single items");
    rc = load(&f, "local s = string.rep('a', 1e6)\nreturn s:find('.-b')\n");
    ok(rc == ST_EINVAL &&
           has(&f, "s.lua:2: string.find: the pattern '.-b' may need up to 1e+12 steps",
               "allows 1e+08"),
       "sandbox-3.6 '.-b' on 10^6 bytes is refused: %s", msg1(&f));
    rc = load(&f, "local s = string.rep('a', 100)\nreturn s:match('.-.-.-.-.-b')\n");
    ok(rc == ST_EINVAL && has(&f, "string.match", NULL),
       "sandbox-3.7 nested repetitions on 100 bytes are refused: %s", msg1(&f));
    rc = load(&f, "local s = ('a'):rep(1e6)\nfor _ in s:gmatch('a*b') do end\n");
    ok(rc == ST_EINVAL && has(&f, "string.gmatch", NULL), "sandbox-3.8 gmatch: %s", msg1(&f));
    rc = load(&f, "local s = ('a'):rep(1e6)\nlocal r = s:gsub('a-b', '')\n");
    ok(rc == ST_EINVAL && has(&f, "string.gsub", NULL), "sandbox-3.9 gsub: %s", msg1(&f));
    rc = load(&f, "local s = ('a'):rep(1e6)\nassert(s:find('b', 1, true) == nil)\n"
                  "assert(s:find('^a+$'))\nassert(s:find('aab') == nil)\n"
                  "assert(('  x  '):match('^%s*(.-)%s*$') == 'x')\n"
                  "assert(('a.b.c'):gsub('%.', '/') == 'a/b/c')\n" SWEEP "}\n");
    ok(rc == 0, "sandbox-3.10 plain finds, anchored and cheap patterns pass: %s", msg1(&f));

    /* 4. a pending stop signal ends a call into the script */
    {
        double t0;
        snprintf(text, sizeof text,
                 SWEEP "  where = function(p) while true do pcall(function() while true do end "
                       "end) end end,\n}\n");
        rc = load(&f, text);
        ok(rc == 0, "sandbox-4.1 a script whose where never returns loads");
        ex_script_destroy(&f.s);
        ex_lua_destroy(&f.lua);
        {
            ex_lua_opts o;
            ex_lua_opts_init(&o);
            o.budget = UINT64_C(1) << 60; /* only the signal can stop it */
            o.stop_signals = &stop;
            ex_lua_create(&o, &f.lua, &f.err);
            ex_script_load(f.lua, f.path, &f.t, &f.s, &f.err);
        }
        raise(SIGTERM); /* blocked: it stays pending */
        t0 = now();
        rc = run_plan(&f);
        ok(rc == EX_ESTOPPED && has(&f, "stopped by signal 15", NULL) && now() - t0 < 1.0,
           "sandbox-4.2 a pending SIGTERM ends where within a second (%.3f s): %s", now() - t0,
           msg1(&f));
        ok(ex_lua_stopped(f.lua) == SIGTERM, "sandbox-4.3 ... and says which signal");
        {
            int sig = 0;
            sigwait(&stop, &sig); /* take it back */
        }
        raise(SIGINT);
        rc = load(&f, "local t = {}\nfor i = 1, 10 do pcall(function() while true do end end) "
                      "end\n");
        ok(rc == EX_ESTOPPED && has(&f, "stopped by signal 2", NULL),
           "sandbox-4.4 a pending SIGINT ends the main chunk: %s", msg1(&f));
        raise(SIGINT);
        t0 = now();
        rc = load(&f, HEAD "  params = { p = st.linspace(0, 0.9, 1e7) },\n}\n");
        ok(rc == EX_ESTOPPED && has(&f, "stopped by a signal while expanding st.linspace", NULL) &&
               now() - t0 < 1.0,
           "sandbox-4.5 ... and the expansion of 10^7 values (%.3f s): %s", now() - t0, msg1(&f));
        {
            int sig = 0;
            sigwait(&stop, &sig);
        }
    }

    /* 5. changed or forged helper tables, values of the wrong type */
    static const char *const forged[][2] = {
        {"local d = st.range(4, 16, 4); d.kind = nil", "the domain's kind = nil is not one"},
        {"local d = st.range(4, 16, 4); d.kind = {}", "the domain's kind = table:"},
        {"local d = st.range(4, 16, 4); d.kind = 'range\\0x'", "kind = 'range\\0x' is not one"},
        {"local d = st.range(4, 16, 4); d.kind = 'cube'", "kind = 'cube' is not one"},
        {"local d = st.range(4, 16, 4); d.a = 'x'", "st.range needs finite numbers"},
        {"local d = st.range(4, 16, 4); d.b = nil", "st.range needs finite numbers"},
        {"local d = st.linspace(1, 16, 4); d.c = 2.5", "the count must be a whole number"},
        {"local d = st.linspace(1, 16, 4); d.c = 1e300", "at most 10000000 per parameter"},
        {"local d = st.pow2(1, 2); d.b = 1/0", "st.pow2 needs finite numbers"},
        {"local d = st.intuniform(1, 4); d.a = 1.5", "the ends must be whole numbers"},
        {"local d = setmetatable({kind = 'range', a = 1, b = 2}, {__name = {}})",
         "not a list of values"},
        {"local d = setmetatable({}, {__name = 'st.domain'})", "kind = nil is not one"},
        {"local d = st.range(4, 16, 4); d.line = 'x'; d.kind = 1", "kind = 1 is not one"},
        {NULL, NULL}};
    for (int i = 0; forged[i][0]; i++) {
        snprintf(text, sizeof text, "%s\n" HEAD "  params = { pe_rows = d },\n}\n", forged[i][0]);
        rc = load(&f, text);
        ok(rc == ST_EINVAL && has(&f, "s.lua:", forged[i][1]) && has(&f, "pe_rows", NULL),
           "sandbox-5.%d %s: %s", i + 1, forged[i][0], msg1(&f));
    }
    static const char *const nul[][2] = {
        {HEAD "  fixed = { fidelity = 'sampled\\0junk' },\n}\n",
         "fidelity = 'sampled\\0junk': must be one of"},
        {"return {name = 'x\\0y', network = 'fmnist-cnn'}\n", "the sweep needs a name"},
        {"return {name = 'x', network = 'fmnist-cnn\\0z'}\n", "must be a built-in name"},
        {"return {name = 'x', network = 'fmnist-cnn', eval = 'none\\0'}\n", "must be 'sim' or"},
        {"return {name = 'x', network = 'fmnist-cnn', fixed = {['pe_rows\\0x'] = 4}}\n",
         "keys must be parameter names, not 'pe_rows\\0x'"},
        {"local n = st.network{name = 'n', input = {1, 8, 8}, {kind = 'conv\\0x', out = 2}}\n",
         "unknown layer kind 'conv'"},
        {"local n = st.network{name = 'n', input = {1, 8, 8}, st.conv{name = 'a\\0b', out = 2}}\n",
         "name must be 1 to 47 characters, without NUL bytes"},
        {"local n = st.network{name = 'n', input = {1, 8, 8}, st.conv{name = 'a', out = 2},\n"
         "  st.relu{src = 'a\\0b'}}\n",
         "src 'a...' holds a NUL byte"},
        {"local n = st.network{name = 'n', input = {1, 8, 8}, st.conv{name = string.rep('a', 60), "
         "out = 2}}\n",
         "name must be 1 to 47 characters"},
        {NULL, NULL}};
    for (int i = 0; nul[i][0]; i++) {
        rc = load(&f, nul[i][0]);
        ok(rc == ST_EINVAL && has(&f, "s.lua", nul[i][1]),
           "sandbox-6.%d a NUL byte or an over-long name is refused, not cut: %s", i + 1, msg1(&f));
    }

    /* 7. where an error came from */
    static const char *const hooks[][2] = {
        {"  where = function(p)\n    local t = {}\n    while true do t[#t + 1] = ('x'):rep(1e6) .. "
         "#t end\n  end,\n",
         "s.lua:6: in where: the script exceeded the memory cap of 32 MiB"},
        {"  where = function(p)\n    coroutine.yield(1)\n  end,\n",
         "s.lua:6: in where: attempt to yield from outside a coroutine"},
        {"  where = function(p) error({}) end,\n", "s.lua:6: in where: (error object is a table"},
        {"  derived = { pe_cols = function(p)\n coroutine.yield() end },\n",
         "s.lua:6: in derived pe_cols: attempt to yield"},
        {"  derived = { pe_cols = math.floor },\n", "s.lua: in derived pe_cols: "},
        {NULL, NULL}};
    for (int i = 0; hooks[i][0]; i++) {
        snprintf(text, sizeof text, SWEEP "%s}\n", hooks[i][0]);
        rc = load(&f, text);
        rc = rc ? rc : run_plan(&f);
        ok(rc == ST_EINVAL && has(&f, hooks[i][1], NULL),
           "sandbox-7.%d a hook's error names the script and the function's line: %s", i + 1,
           msg1(&f));
    }
    {
        /* 10^5 nested braces: Lua's parser runs out of C levels. */
        size_t depth = 100000, used = 0;
        char *deep = malloc(2 * depth + 64);
        used += (size_t)sprintf(deep, "local x = 1\nlocal t = ");
        memset(deep + used, '{', depth);
        memset(deep + used + depth, '}', depth);
        strcpy(deep + used + 2 * depth, "\n");
        rc = load(&f, deep);
        ok(rc == ST_EINVAL && has(&f, "s.lua:2: ", "C stack overflow"),
           "sandbox-7.10 10^5 nested braces: the message names the script and line: %s", msg1(&f));
        free(deep);
    }

    /* 8. domains expand fast, to the doubles "%.15g" defines */
    {
        double t0 = now(), worst = 0;
        int same = 1;
        rc = load(&f, HEAD "  params = { p = st.linspace(0, 0.9, 1000000) },\n}\n");
        ok(rc == 0 && now() - t0 < 1.0 && dim0(&f)->n == 1000000,
           "sandbox-8.1 st.linspace(0, 0.9, 10^6) expands in under a second (%.3f s)", now() - t0);
        for (uint64_t k = 0; rc == 0 && k + 1 < 1000000; k++) {
            double want = round15(0 + (0.9 - 0) * (double)k / 999999.0);
            if (dim0(&f)->v[k] != want) {
                same = 0;
                worst = (double)k;
                break;
            }
        }
        ok(same && rc == 0 && dim0(&f)->v[999999] == 0.9,
           "sandbox-8.2 ... every value is the %%.15g round trip (first difference at %g)", worst);
        rc = load(&f, HEAD "  params = { p = st.logspace(1e-6, 0.99, 100000) },\n}\n");
        same = rc == 0;
        for (uint64_t k = 0; same && k + 1 < 100000; k++)
            same = dim0(&f)->v[k] ==
                   round15(exp(log(1e-6) + (log(0.99) - log(1e-6)) * (double)k / 99999.0));
        ok(same, "sandbox-8.3 st.logspace: the same round trip, 10^5 values");
        rc = load(&f, HEAD "  params = { dram_gbps = st.range(12345.678, 0.001, -0.123) },\n}\n");
        same = rc == 0;
        for (uint64_t k = 0; same && k < dim0(&f)->n; k++)
            same = dim0(&f)->v[k] == round15(12345.678 + (double)k * -0.123);
        ok(rc == ST_EINVAL && has(&f, "dram_gbps = ", "must be in"),
           "sandbox-8.4 a range past the parameter's range is refused at its end: %s", msg1(&f));
        rc = load(&f, HEAD "  params = { dram_gbps = st.range(9999.9, 0.001, -0.123) },\n}\n");
        same = rc == 0 && dim0(&f)->n == 81300;
        for (uint64_t k = 0; same && k < dim0(&f)->n; k++)
            same = dim0(&f)->v[k] == round15(9999.9 + (double)k * -0.123);
        ok(same, "sandbox-8.5 a descending st.range: 81300 values, each the round trip: %s",
           msg1(&f));
        rc = load(&f, HEAD "  params = { pe_rows = st.linspace(1, 4096, 100) },\n}\n");
        ok(rc == ST_EINVAL && has(&f, "pe_rows = ", "must be a whole number"),
           "sandbox-8.6 fractions of a whole-number parameter are still caught: %s", msg1(&f));
        rc = load(&f, HEAD "  params = { p = st.linspace(0.5, 0.5 + 1e-15, 1000) },\n}\n");
        ok(rc == 0 && dim0(&f)->n == 2,
           "sandbox-8.7 values that round together are kept once (%llu values)",
           rc == 0 ? (unsigned long long)dim0(&f)->n : 0ULL);
        rc = load(&f, HEAD "  params = { skip_fp_stream = st.linspace(0, 1, 3) },\n}\n");
        ok(rc == ST_EINVAL && has(&f, "skip_fp_stream = ", NULL),
           "sandbox-8.8 a switch takes no value between 0 and 1: %s", msg1(&f));
    }

    ex_script_destroy(&f.s);
    ex_lua_destroy(&f.lua);
    ex_ptab_fini(&f.t);
    unlink(f.path);
    rmdir(f.dir);
    return tap_done();
}
