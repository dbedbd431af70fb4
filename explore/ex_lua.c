/*
 * ex_lua.c - the Lua state that runs sweep scripts. Sandboxed unless trusted: no io, no
 * os but its clock, no C modules or binary chunks, `require` only of Lua files beside
 * the script or in the library folder; an instruction budget per call (a count hook) and
 * a memory cap (the allocator). Once the budget is spent or a stop signal is pending,
 * every later hook raises again and the protected calls (pcall, xpcall, coroutine.resume,
 * coroutine.close) pass the error on, so a script cannot catch its way past either; the
 * sandbox refuses __gc metamethods (finalizers run with hooks off) and pattern matches
 * whose worst case is beyond EX_LUA_MATCH_MAX. The `st` module itself is ex_luamod.c.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "ex.h"

#define HOOK_STEP  1000 /* instructions between two budget checks */
#define POLL_EVERY 16   /* budget checks between two looks for a stop signal */

struct ex_lua {
    lua_State *L;
    ex_lua_opts o;
    char *script_dir;
    size_t mem;
    uint64_t count, polls;
    int over_mem;
    int fatal;   /* the budget is spent or a stop is pending: every hook raises fatal_msg */
    int stopped; /* the stop signal found pending, 0 if none */
    char fatal_msg[300];
    char *deps; /* the modules required so far, one line each (ex_lua_deps) */
    size_t deps_len;
    int deps_frozen;
};

void ex_lua_opts_init(ex_lua_opts *o)
{
    memset(o, 0, sizeof *o);
    o->budget = UINT64_C(200000000);
    o->mem_cap = (size_t)256 << 20;
}

/* The allocator keeps the byte count; past the cap it refuses, and Lua raises a memory
 * error in the script. osize is a type tag when ptr is NULL, not a size. */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    ex_lua *x = ud;
    size_t old = ptr ? osize : 0;
    void *p;

    if (nsize == 0) {
        free(ptr);
        x->mem -= old;
        return NULL;
    }
    if (x->o.mem_cap && nsize > old && x->mem - old + nsize > x->o.mem_cap) {
        x->over_mem = 1;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (p)
        x->mem = x->mem - old + nsize;
    return p;
}

static ex_lua *self(lua_State *L)
{
    ex_lua *x;

    memcpy(&x, lua_getextraspace(L), sizeof x);
    return x;
}

/* The stop signal that is pending (blocked, not yet taken), 0 if none. */
static int pending_stop(const ex_lua *x)
{
    sigset_t p;

    if (!x->o.stop_signals || sigpending(&p) != 0)
        return 0;
    for (int sig = 1; sig < 65; sig++)
        if (sigismember((const sigset_t *)x->o.stop_signals, sig) == 1 && sigismember(&p, sig) == 1)
            return sig;
    return 0;
}

int ex_lua_poll_stop(lua_State *L)
{
    ex_lua *x = self(L);

    if (!x->stopped)
        x->stopped = pending_stop(x);
    return x->stopped != 0;
}

int ex_lua_stopped(const ex_lua *l)
{
    return l->stopped;
}

/* Raise the fatal error again (the budget or a stop), wherever the script is. */
static int raise_fatal(lua_State *L)
{
    lua_pushstring(L, self(L)->fatal_msg);
    return lua_error(L);
}

static void l_hook(lua_State *L, lua_Debug *ar)
{
    ex_lua *x = self(L);
    char pos[200];

    (void)ar;
    if (!x->fatal) {
        x->count += HOOK_STEP;
        if (x->o.stop_signals && ++x->polls % POLL_EVERY == 0 && (x->stopped = pending_stop(x)))
            snprintf(x->fatal_msg, sizeof x->fatal_msg, "stopped by signal %d", x->stopped);
        else if (x->o.budget && x->count > x->o.budget) {
            luaL_where(L, 0); /* in a hook, level 0 is the function that was interrupted */
            snprintf(pos, sizeof pos, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
            snprintf(x->fatal_msg, sizeof x->fatal_msg,
                     "%sinstruction budget of %llu exceeded (a loop that never ends? "
                     "--max-instructions raises the budget)",
                     pos, (unsigned long long)x->o.budget);
        } else
            return;
        x->fatal = 1;
        /* From now on every instruction of this thread raises. */
        lua_sethook(L, l_hook, LUA_MASKCOUNT, 1);
    }
    raise_fatal(L);
}

/* pcall, xpcall, coroutine.resume and coroutine.close with the original (upvalue 1) doing
 * the work; a fatal error that it caught is raised again. A continuation keeps them
 * yieldable, as the originals are. */
static int guard_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    if (self(L)->fatal)
        return raise_fatal(L);
    return lua_gettop(L);
}

static int l_guard(lua_State *L)
{
    int n = lua_gettop(L);

    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, n, LUA_MULTRET, 0, guard_k);
    return guard_k(L, LUA_OK, 0);
}

/* xpcall's message handler (upvalue 1) runs with hooks off when the error came from the
 * hook: for the budget and stops it is skipped, and the fatal message goes on. */
static int l_msgh_guard(lua_State *L)
{
    if (self(L)->fatal) {
        lua_pushstring(L, self(L)->fatal_msg);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int l_xpcall_guard(lua_State *L)
{
    int n = lua_gettop(L);

    if (n >= 2) {
        lua_pushvalue(L, 2);
        lua_pushcclosure(L, l_msgh_guard, 1);
        lua_replace(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, n, LUA_MULTRET, 0, guard_k);
    return guard_k(L, LUA_OK, 0);
}

static void guard(lua_State *L, const char *lib, const char *name)
{
    if (lib)
        lua_getglobal(L, lib);
    else
        lua_pushglobaltable(L);
    if (lua_getfield(L, -1, name) == LUA_TFUNCTION) {
        lua_pushcclosure(L, strcmp(name, "xpcall") ? l_guard : l_xpcall_guard, 1);
        lua_setfield(L, -2, name);
    } else
        lua_pop(L, 1);
    lua_pop(L, 1);
}

/* setmetatable without __gc: a finalizer runs with hooks off, out of the budget's reach
 * (at a collection or at the end), so the sandbox gives scripts none. Lua marks a table
 * for finalization only when its metatable has __gc as it is set, so checking here is
 * enough. */
static int l_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: a __gc metamethod is not available in the sandbox "
                                 "(finalizers run outside the instruction budget; stexplore "
                                 "--trust lifts it)");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Lua's pattern matcher backtracks in C, outside the budget: `.-b` on a million bytes
 * takes minutes. The cost bound counts the starts the matcher tries and, per start, the
 * ways the repetitions can split the subject: n + 1 for each *, + and - item and for each
 * %b (which scans), 2 for each ?. It is a worst case; most matches cost far less. */
double ex_lua_match_cost(const char *p, size_t plen, size_t n, int unanchored)
{
    double cost = 1, wide = (double)n + 1;
    size_t i = 0;

    if (plen > 0 && p[0] == '^' && !unanchored)
        i = 1;
    else
        cost = wide;
    while (i < plen) {
        int single = 1;
        switch (p[i]) {
        case '(':
        case ')':
            i++;
            single = 0;
            break;
        case '%':
            if (i + 1 >= plen) {
                i++;
                break;
            }
            if (p[i + 1] == 'b') {
                cost *= wide;
                i += 4;
                single = 0;
            } else if (p[i + 1] == 'f') {
                i += 2;
                single = 0;
                if (i < plen && p[i] == '[') {
                    /* skip the set as below */
                    size_t j = i + 1;
                    if (j < plen && p[j] == '^')
                        j++;
                    do {
                        if (j < plen && p[j] == '%')
                            j++;
                        j++;
                    } while (j < plen && p[j] != ']');
                    i = j + 1;
                }
            } else if (p[i + 1] >= '0' && p[i + 1] <= '9') {
                i += 2;
                single = 0;
            } else
                i += 2;
            break;
        case '[': {
            size_t j = i + 1;
            if (j < plen && p[j] == '^')
                j++;
            do { /* the first ] of a set is a member */
                if (j < plen && p[j] == '%')
                    j++;
                j++;
            } while (j < plen && p[j] != ']');
            i = j + 1;
            break;
        }
        default:
            i++;
            break;
        }
        if (single && i < plen) {
            if (p[i] == '*' || p[i] == '+' || p[i] == '-') {
                cost *= wide;
                i++;
            } else if (p[i] == '?') {
                cost *= 2;
                i++;
            }
        }
    }
    return cost;
}

/* string.find, match, gmatch and gsub behind the cost bound (upvalue 1: the original,
 * upvalue 2: its name). Plain finds and patterns without special characters pass. */
static int l_match_guard(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(2));
    size_t n = 0, plen = 0;
    const char *p;
    double cost;

    luaL_checklstring(L, 1, &n);
    p = luaL_checklstring(L, 2, &plen);
    if (!(name[0] == 'f' && lua_toboolean(L, 4)) &&
        !(strpbrk(p, "^$*+?.([%-") == NULL && strlen(p) == plen)) {
        cost = ex_lua_match_cost(p, plen, n, name[1] == 'm'); /* gmatch: every start */
        if (cost > EX_LUA_MATCH_MAX) {
            char msg[400];
            snprintf(msg, sizeof msg,
                     "string.%s: the pattern '%.60s' may need up to %.3g steps on a subject of "
                     "%zu bytes; the sandbox allows %.3g (a plain find, an anchored pattern, "
                     "fewer repetitions or a shorter subject)",
                     name, p, cost, n, EX_LUA_MATCH_MAX);
            return luaL_error(L, "%s", msg);
        }
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* print() writes to stderr: stdout belongs to the program's own output. */
static int l_print(lua_State *L)
{
    int n = lua_gettop(L);

    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', stderr);
        fwrite(s, 1, len, stderr);
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    return 0;
}

/* load() in text mode only: binary chunks can break the interpreter's invariants. */
static int l_load_text(lua_State *L)
{
    int n = lua_gettop(L);

    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (n >= 4)
        lua_pushvalue(L, 4);
    lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

/* Push the whole text of f as a string; -1 when it cannot be read. */
static int read_module(lua_State *L, FILE *f)
{
    luaL_Buffer b;
    size_t n;

    luaL_buffinit(L, &b);
    do {
        char *p = luaL_prepbuffer(&b);
        n = fread(p, 1, LUAL_BUFFERSIZE, f);
        luaL_addsize(&b, n);
    } while (n == LUAL_BUFFERSIZE);
    luaL_pushresult(&b);
    return ferror(f) ? -1 : 0;
}

/* Note module name, of text, among what the sweep depends on. */
static void deps_add(lua_State *L, ex_lua *x, const char *name, const char *text, size_t len)
{
    char line[400];
    int n = snprintf(line, sizeof line, "requires %s: %zu bytes, siphash %016llx\n", name, len,
                     (unsigned long long)ex_siphash(UINT64_C(0x6d6f64756c65), 0, text, len));
    char *g;

    if (n < 0 || (size_t)n >= sizeof line)
        luaL_error(L, "require '%s': the module name is too long", name);
    if (!(g = realloc(x->deps, x->deps_len + (size_t)n + 1)))
        luaL_error(L, "require '%s': out of memory", name);
    memcpy(g + x->deps_len, line, (size_t)n + 1);
    x->deps = g;
    x->deps_len += (size_t)n;
}

const char *ex_lua_deps(const ex_lua *l)
{
    return l->deps ? l->deps : "";
}

void ex_lua_deps_freeze(ex_lua *l)
{
    l->deps_frozen = 1;
}

/* require(name): "st", or a Lua file name.lua (dots become folders) beside the script or
 * in the library folder, loaded in text mode; results are cached like package.loaded. */
static int l_require(lua_State *L)
{
    ex_lua *x = self(L);
    const char *name = luaL_checkstring(L, 1);
    const char *dirs[2] = {x->script_dir, x->o.lib_dir};
    luaL_Buffer b;

    lua_getfield(L, LUA_REGISTRYINDEX, "ex.loaded");
    if (lua_getfield(L, -1, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    if (!strcmp(name, "st")) {
        lua_getglobal(L, "st");
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
        return 1;
    }
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '-'))
            return luaL_error(L, "require '%s': a module name is letters, digits, '_', '-', '.'",
                              name);
    if (x->deps_frozen)
        return luaL_error(L,
                          "require '%s' while the sweep runs: require modules when the script "
                          "is loaded (at its top level), so that a resume can check them",
                          name);
    for (int d = 0; d < 2; d++) {
        FILE *f;
        const char *text;
        size_t len;
        if (!dirs[d])
            continue;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, dirs[d]);
        luaL_addchar(&b, '/');
        for (const char *c = name; *c; c++)
            luaL_addchar(&b, *c == '.' ? '/' : *c);
        luaL_addstring(&b, ".lua");
        luaL_pushresult(&b);
        f = fopen(lua_tostring(L, -1), "rb");
        if (!f) {
            lua_pop(L, 1);
            continue;
        }
        /* The text is read once, hashed and run from memory: what is fingerprinted is
         * what runs. It lives on the Lua stack, so an error frees it. */
        if (read_module(L, f) != 0) {
            fclose(f);
            return luaL_error(L, "require '%s': cannot read %s", name, lua_tostring(L, -2));
        }
        fclose(f);
        text = lua_tolstring(L, -1, &len);
        deps_add(L, x, name, text, len);
        lua_pushfstring(L, "@%s", lua_tostring(L, -2));
        if (luaL_loadbufferx(L, text, len, lua_tostring(L, -1), "t") != LUA_OK)
            return lua_error(L);
        lua_replace(L, -3); /* path, text, chunk name, chunk -> path, chunk, chunk name */
        lua_pop(L, 1);
        lua_pushstring(L, name);
        lua_call(L, 1, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, name);
        return 1;
    }
    return luaL_error(L, "module '%s' not found beside the script or in %s", name,
                      x->o.lib_dir ? x->o.lib_dir : "(no library folder)");
}

/* Under --trust, `require` is Lua's own; this searcher, put before Lua's searcher of Lua
 * files, finds the same files (package.path) but loads them from a text it has
 * fingerprinted first, as the sandbox's require does. C modules are left to Lua. */
static int l_trusted_searcher(lua_State *L)
{
    ex_lua *x = self(L);
    const char *name = luaL_checkstring(L, 1), *text;
    size_t len;
    FILE *f;

    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushvalue(L, 1);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 0; /* Lua's own searcher, next, lists the files it tried */
    lua_pop(L, 1);
    if (x->deps_frozen)
        return luaL_error(L,
                          "require '%s' while the sweep runs: require modules when the script "
                          "is loaded (at its top level), so that a resume can check them",
                          name);
    if (!(f = fopen(lua_tostring(L, -1), "rb")))
        return luaL_error(L, "require '%s': cannot read %s", name, lua_tostring(L, -1));
    if (read_module(L, f) != 0) {
        fclose(f);
        return luaL_error(L, "require '%s': cannot read %s", name, lua_tostring(L, -2));
    }
    fclose(f);
    text = lua_tolstring(L, -1, &len);
    deps_add(L, x, name, text, len);
    lua_pushfstring(L, "@%s", lua_tostring(L, -2));
    if (luaL_loadbufferx(L, text, len, lua_tostring(L, -1), NULL) != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name,
                          lua_tostring(L, -4), lua_tostring(L, -1));
    lua_pushvalue(L, -4); /* the path: the loader's second argument */
    return 2;
}

/* Put l_trusted_searcher second in package.searchers, after the preload searcher. */
static void add_trusted_searcher(lua_State *L)
{
    lua_Integer n;

    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    n = luaL_len(L, -1);
    for (lua_Integer i = n; i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, l_trusted_searcher);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}

/* What the sandbox leaves out raises a message that says so, rather than "attempt to
 * call a nil value". */
static int l_denied(lua_State *L)
{
    return luaL_error(L, "%s is not available in the sandbox (stexplore --trust lifts it)",
                      lua_tostring(L, lua_upvalueindex(1)));
}

static int l_denied_index(lua_State *L)
{
    const char *lib = lua_tostring(L, lua_upvalueindex(1));
    const char *key = luaL_tolstring(L, 2, NULL);

    return luaL_error(L, "%s.%s is not available in the sandbox (stexplore --trust lifts it)", lib,
                      key);
}

/* Give table t (at the top) a metatable whose __index denies what t lacks. */
static void deny_rest(lua_State *L, const char *lib)
{
    lua_createtable(L, 0, 1);
    lua_pushstring(L, lib);
    lua_pushcclosure(L, l_denied_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

/* Reading a global that does not exist is an error, in the sandbox and out of it: a
 * misspelt name (`rows` written `row`) would otherwise be nil and pass silently as "not
 * set". Writing globals stays allowed, and rawget(_G, name) asks whether one exists. The
 * message names the global; luaL_error adds the script's line that read it. */
static int l_undefined_global(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "undefined global '%s' (a misspelt name? a local defined later? "
                             "rawget(_G, '%s') asks without this error)",
                          lua_tostring(L, 2), lua_tostring(L, 2));
    return luaL_error(L, "undefined global %s", luaL_tolstring(L, 2, NULL));
}

static void strict_globals(lua_State *L)
{
    lua_pushglobaltable(L);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_undefined_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

static void open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                                    {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8},
                                    {LUA_COLIBNAME, luaopen_coroutine},
                                    {NULL, NULL}};
    static const char *const drop[] = {"dofile", "loadfile", NULL};
    static const char *const os_keep[] = {"clock", "time", "date", "difftime", NULL};
    static const char *const match_fns[] = {"find", "match", "gmatch", "gsub", NULL};

    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    for (int i = 0; drop[i]; i++) {
        lua_pushstring(L, drop[i]);
        lua_pushcclosure(L, l_denied, 1);
        lua_setglobal(L, drop[i]);
    }
    lua_getglobal(L, "load");
    lua_pushcclosure(L, l_load_text, 1);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    lua_pushcfunction(L, l_require);
    lua_setglobal(L, "require");
    /* os: the clock and dates only; no execute, exit, remove, rename, getenv, tmpname. */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_newtable(L);
    for (int i = 0; os_keep[i]; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    deny_rest(L, "os");
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    lua_newtable(L);
    deny_rest(L, "io");
    lua_setglobal(L, "io");
    lua_newtable(L);
    deny_rest(L, "package");
    lua_setglobal(L, "package");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, l_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    lua_getglobal(L, LUA_STRLIBNAME);
    for (int i = 0; match_fns[i]; i++) {
        lua_getfield(L, -1, match_fns[i]);
        lua_pushstring(L, match_fns[i]);
        lua_pushcclosure(L, l_match_guard, 2);
        lua_setfield(L, -2, match_fns[i]);
    }
    lua_pop(L, 1);
}

int ex_lua_create(const ex_lua_opts *o, ex_lua **out, st_err *err)
{
    ex_lua *x = calloc(1, sizeof *x);
    int rc = ST_OK;

    *out = NULL;
    if (!x) {
        rc = st_err_set(err, ST_ENOMEM, "Lua: out of memory");
        goto done;
    }
    x->o = *o;
    if (x->o.trusted) {
        x->o.mem_cap = 0;
        x->o.budget = 0;
    }
    x->L = lua_newstate(l_alloc, x);
    if (!x->L) {
        rc = st_err_set(err, ST_ENOMEM, "Lua: out of memory for a new state");
        goto done;
    }
    memcpy(lua_getextraspace(x->L), &x, sizeof x);
    lua_newtable(x->L);
    lua_setfield(x->L, LUA_REGISTRYINDEX, "ex.loaded");
    if (x->o.trusted) {
        luaL_openlibs(x->L);
        ex_luamod_open(x->L);
        /* require "st" through package.preload, like any module. */
        lua_getglobal(x->L, "package");
        lua_getfield(x->L, -1, "loaded");
        lua_getglobal(x->L, "st");
        lua_setfield(x->L, -2, "st");
        lua_pop(x->L, 2);
        add_trusted_searcher(x->L);
    } else {
        open_sandbox(x->L);
        ex_luamod_open(x->L);
    }
    strict_globals(x->L);
    guard(x->L, NULL, "pcall");
    guard(x->L, NULL, "xpcall");
    guard(x->L, LUA_COLIBNAME, "resume");
    guard(x->L, LUA_COLIBNAME, "close");
    if (x->o.budget || x->o.stop_signals)
        lua_sethook(x->L, l_hook, LUA_MASKCOUNT, HOOK_STEP);
    *out = x;
    x = NULL;
done:
    ex_lua_destroy(&x);
    return rc;
}

void ex_lua_destroy(ex_lua **l)
{
    if (!l || !*l)
        return;
    if ((*l)->L)
        lua_close((*l)->L);
    free((*l)->script_dir);
    free((*l)->deps);
    free(*l);
    *l = NULL;
}

lua_State *ex_lua_state(ex_lua *l)
{
    return l->L;
}

int ex_lua_set_dir(ex_lua *l, const char *dir, st_err *err)
{
    char *d = strdup(dir);

    if (!d)
        return st_err_set(err, ST_ENOMEM, "Lua: out of memory");
    free(l->script_dir);
    l->script_dir = d;
    return ST_OK;
}

int ex_lua_call(ex_lua *l, int nargs, int nres, st_err *err)
{
    lua_State *L = l->L;
    int base = lua_gettop(L) - nargs, status, rc = ST_OK;

    if (l->stopped) {
        lua_settop(L, base - 1);
        return st_err_set(err, EX_ESTOPPED, "stopped by signal %d", l->stopped);
    }
    lua_pushcfunction(L, l_traceback);
    lua_insert(L, base);
    l->count = 0;
    l->over_mem = 0;
    l->fatal = 0;
    if (l->o.budget || l->o.stop_signals)
        lua_sethook(L, l_hook, LUA_MASKCOUNT, HOOK_STEP);
    status = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    if (status != LUA_OK) {
        if (l->stopped)
            rc = st_err_set(err, EX_ESTOPPED, "stopped by signal %d", l->stopped);
        else if (status == LUA_ERRMEM && !l->over_mem)
            rc = st_err_set(err, ST_ENOMEM,
                            "the script ran out of memory (the system refused "
                            "an allocation below the memory cap)");
        else if (l->over_mem || status == LUA_ERRMEM)
            rc = st_err_set(err, ST_EINVAL,
                            "the script exceeded the memory cap of %zu MiB (a table or string "
                            "that never stops growing? --max-memory raises the cap)",
                            l->o.mem_cap >> 20);
        else
            rc = st_err_set(err, ST_EINVAL, "%s",
                            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)");
        lua_pop(L, 1);
        /* A memory error leaves the state near its cap: let the collector work. */
        lua_gc(L, LUA_GCCOLLECT);
    }
    return rc;
}
