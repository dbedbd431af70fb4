/*
 * ex_luamod.c - the `st` module that sweep scripts use: value helpers (range, pow2,
 * linspace, logspace, continuous domains), samplers, the parameter and metric tables,
 * networks defined layer by layer, and the costs of a point known without simulating it
 * (area, buffer capacity, peak MACs per cycle). Helpers only describe; reading a sweep and
 * checking values against the parameter table is ex_script.c's business.
 */
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "ex.h"

#define DOMAIN_MT  "st.domain"
#define SAMPLER_MT "st.sampler"
#define NETWORK_MT "st.network"
#define SWEEP_MT   "st.sweep"

/* The line of the script that called the running C function, 0 when unknown. */
static int caller_line(lua_State *L)
{
    lua_Debug ar;

    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
        return ar.currentline > 0 ? ar.currentline : 0;
    return 0;
}

/* Raise "script:line: message" for a line of the calling script (its chunk), or at the
 * caller's current line when line is 0. lua_pushvfstring formats: %s %d %f %%. */
static int line_error(lua_State *L, int line, const char *fmt, ...)
{
    lua_Debug ar;
    va_list ap;

    if (line > 0 && lua_getstack(L, 1, &ar) && lua_getinfo(L, "S", &ar))
        lua_pushfstring(L, "%s:%d: ", ar.short_src, line);
    else
        luaL_where(L, 1);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

/* A domain descriptor {kind = ..., a = ..., b = ..., n = ..., line = ...}. */
static int push_domain(lua_State *L, const char *kind, int nargs)
{
    static const char *const keys[] = {"a", "b", "c"};

    lua_createtable(L, 0, 5);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    for (int i = 0; i < nargs; i++) {
        lua_pushvalue(L, i + 1);
        lua_setfield(L, -2, keys[i]);
    }
    lua_pushinteger(L, caller_line(L));
    lua_setfield(L, -2, "line");
    luaL_setmetatable(L, DOMAIN_MT);
    return 1;
}

/* st.range(from, to [, step]): from, from + step, ... up to to (inclusive). */
static int l_range(lua_State *L)
{
    luaL_checknumber(L, 1);
    luaL_checknumber(L, 2);
    if (!lua_isnoneornil(L, 3) && luaL_checknumber(L, 3) == 0)
        return luaL_argerror(L, 3, "step = 0: must not be 0");
    lua_settop(L, 3);
    return push_domain(L, "range", 3);
}

/* st.pow2(lo, hi): every power of two in [lo, hi]. */
static int l_pow2(lua_State *L)
{
    luaL_checknumber(L, 1);
    luaL_checknumber(L, 2);
    return push_domain(L, "pow2", 2);
}

/* st.linspace(a, b, n) and st.logspace(a, b, n): n values from a to b, evenly spaced
 * (logspace: in the logarithm, so a and b are the values themselves, not exponents). */
static int l_linspace(lua_State *L)
{
    luaL_checknumber(L, 1);
    luaL_checknumber(L, 2);
    luaL_checkinteger(L, 3);
    return push_domain(L, "linspace", 3);
}

static int l_logspace(lua_State *L)
{
    luaL_checknumber(L, 1);
    luaL_checknumber(L, 2);
    luaL_checkinteger(L, 3);
    return push_domain(L, "logspace", 3);
}

/* Continuous domains for the random and Latin-hypercube samplers. */
static int l_uniform(lua_State *L)
{
    luaL_checknumber(L, 1);
    luaL_checknumber(L, 2);
    return push_domain(L, "uniform", 2);
}

static int l_loguniform(lua_State *L)
{
    luaL_checknumber(L, 1);
    luaL_checknumber(L, 2);
    return push_domain(L, "loguniform", 2);
}

static int l_intuniform(lua_State *L)
{
    luaL_checkinteger(L, 1);
    luaL_checkinteger(L, 2);
    return push_domain(L, "intuniform", 2);
}

/* st.random{count = N, seed = S} and st.lhs{...}: a copy of the options, tagged. */
static int push_sampler(lua_State *L, const char *method)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    lua_getfield(L, 1, "count");
    lua_setfield(L, -2, "count");
    lua_getfield(L, 1, "seed");
    lua_setfield(L, -2, "seed");
    lua_pushinteger(L, caller_line(L));
    lua_setfield(L, -2, "line");
    luaL_setmetatable(L, SAMPLER_MT);
    return 1;
}

static int l_random(lua_State *L)
{
    return push_sampler(L, "random");
}
static int l_lhs(lua_State *L)
{
    return push_sampler(L, "lhs");
}

/* st.params(): the engine's parameter table, name -> {type, unit, min, max, default,
 * choices, group, help}. */
static int l_params(lua_State *L)
{
    static const char *const types[] = {"int", "real", "bool", "enum"};
    int n;
    const st_param *rows = st_params(&n);
    st_point pt;

    st_point_init(&pt);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        double def = 0;
        st_point_get(&pt, rows[i].name, &def, NULL);
        lua_createtable(L, 0, 8);
        lua_pushstring(L, types[rows[i].type]);
        lua_setfield(L, -2, "type");
        lua_pushstring(L, rows[i].unit);
        lua_setfield(L, -2, "unit");
        lua_pushnumber(L, rows[i].min);
        lua_setfield(L, -2, "min");
        lua_pushnumber(L, rows[i].max);
        lua_setfield(L, -2, "max");
        lua_pushboolean(L, rows[i].min_open);
        lua_setfield(L, -2, "min_open");
        lua_pushboolean(L, rows[i].max_open);
        lua_setfield(L, -2, "max_open");
        if (rows[i].type == ST_PT_ENUM) {
            lua_pushstring(L, rows[i].choices[(int)def]);
            lua_newtable(L);
            for (int k = 0; rows[i].choices[k]; k++) {
                lua_pushstring(L, rows[i].choices[k]);
                lua_rawseti(L, -2, k + 1);
            }
            lua_setfield(L, -3, "choices");
        } else if (rows[i].type == ST_PT_BOOL)
            lua_pushboolean(L, def != 0);
        else if (rows[i].type == ST_PT_INT)
            lua_pushinteger(L, (lua_Integer)def);
        else
            lua_pushnumber(L, def);
        lua_setfield(L, -2, "default");
        lua_pushstring(L, rows[i].group);
        lua_setfield(L, -2, "group");
        lua_pushstring(L, rows[i].help);
        lua_setfield(L, -2, "help");
        lua_setfield(L, -2, rows[i].name);
    }
    return 1;
}

/* st.metrics(): name -> {unit, help}, the columns a `keep` function can read. */
static int l_metrics(lua_State *L)
{
    int n;
    const ex_metric *m = ex_metrics(&n);

    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, m[i].unit);
        lua_setfield(L, -2, "unit");
        lua_pushstring(L, m[i].help);
        lua_setfield(L, -2, "help");
        lua_setfield(L, -2, m[i].name);
    }
    return 1;
}

/* ------------------------------------------------ costs known before simulating */

/* Fill pt from the table at idx ({name = value}: numbers, true/false, choice names; the
 * point table that `where`, `keep` and derived functions get is one), the defaults for
 * what it leaves out, and check it as the simulator does. Raises, naming fn and the bad
 * parameter, on an unknown name or a bad value. The key `network` is not a parameter of
 * the hardware and is passed over. */
static void point_arg(lua_State *L, int idx, const char *fn, st_point *pt)
{
    st_err err;

    st_point_init(pt);
    st_err_clear(&err);
    if (lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx))
        luaL_error(L, "st.%s(point): point must be a table name = value, not %s", fn,
                   luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *name;
        int rc;
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "st.%s(point): keys must be parameter names, not %s", fn,
                       luaL_typename(L, -2));
        name = lua_tostring(L, -2);
        if (!strcmp(name, "network") || !strcmp(name, "trace")) {
            /* the sweep's own parameters: what the cost functions need is the design's */
            lua_pop(L, 1);
            continue;
        }
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            rc = st_point_set(pt, name, lua_tostring(L, -1), &err);
            break;
        case LUA_TNUMBER:
            rc = st_point_set_num(pt, name, lua_tonumber(L, -1), &err);
            break;
        case LUA_TBOOLEAN:
            rc = st_point_set_num(pt, name, lua_toboolean(L, -1), &err);
            break;
        default:
            luaL_error(L, "st.%s(point): %s = %s: must be a number, a boolean or a choice name",
                       fn, name, luaL_typename(L, -1));
            return;
        }
        if (rc != ST_OK)
            luaL_error(L, "st.%s(point): %s", fn, err.msg);
        lua_pop(L, 1);
    }
    if (st_point_check(pt, &err) != ST_OK)
        luaL_error(L, "st.%s(point): %s", fn, err.msg);
}

/* st.area_mm2(point): the silicon area the simulator reports for the point (area_mm2). */
static int l_area_mm2(lua_State *L)
{
    st_point pt;
    st_area a;

    point_arg(L, 1, "area_mm2", &pt);
    if (st_area_get(&pt, &a) != ST_OK)
        return luaL_error(L, "st.area_mm2(point): the area is not a finite number");
    lua_pushnumber(L, a.total_mm2);
    return 1;
}

/* st.sram_kib(point): the on-chip buffer capacity, ch0 + ch1 + ch2, in KiB. */
static int l_sram_kib(lua_State *L)
{
    st_point pt;

    point_arg(L, 1, "sram_kib", &pt);
    lua_pushnumber(L, pt.ch0_kib + pt.ch1_kib + pt.ch2_kib);
    return 1;
}

/* st.peak_macs(point): multiply-accumulates the array can issue in one cycle,
 * pe_rows * pe_cols * macs_per_pe. */
static int l_peak_macs(lua_State *L)
{
    st_point pt;

    point_arg(L, 1, "peak_macs", &pt);
    lua_pushinteger(L, (lua_Integer)pt.pe_rows * pt.pe_cols * pt.macs_per_pe);
    return 1;
}

static int l_networks(lua_State *L)
{
    const char *const *names = st_net_builtin_names();

    lua_newtable(L);
    for (int i = 0; names[i]; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* ---------------------------------------------------------------- networks */

/* Layer constructors return {kind = ..., line = ..., <the options>}: data that
 * st.network reads. */
static int push_layer(lua_State *L, const char *kind)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    else
        luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_createtable(L, 4, 8);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, 2);
    }
    lua_pushstring(L, kind);
    lua_setfield(L, 2, "kind");
    lua_pushinteger(L, caller_line(L));
    lua_setfield(L, 2, "line");
    return 1;
}

static int l_conv(lua_State *L)
{
    return push_layer(L, "conv");
}
static int l_fc(lua_State *L)
{
    return push_layer(L, "fc");
}
static int l_maxpool(lua_State *L)
{
    return push_layer(L, "maxpool");
}
static int l_avgpool(lua_State *L)
{
    return push_layer(L, "avgpool");
}
static int l_relu(lua_State *L)
{
    return push_layer(L, "relu");
}
static int l_bn(lua_State *L)
{
    return push_layer(L, "bn");
}
static int l_add(lua_State *L)
{
    return push_layer(L, "add");
}
static int l_gap(lua_State *L)
{
    return push_layer(L, "gap");
}

static int net_gc(lua_State *L)
{
    ex_netspec_fini(luaL_checkudata(L, 1, NETWORK_MT));
    return 0;
}

/* An integer option of a layer table at index t: `key` or def when absent. */
static int opt_int(lua_State *L, int t, const char *key, int def, int line, const char *layer)
{
    int isint = 0;
    lua_Integer v;

    if (lua_getfield(L, t, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 0 || v > (1 << 24))
        line_error(L, line, "layer '%s': %s = %s: must be a whole number in [0, %d]", layer, key,
                   luaL_tolstring(L, -1, NULL), 1 << 24);
    lua_pop(L, 1);
    return (int)v;
}

/* The string at the top of the stack, when it is one without a NUL byte (C would read only
 * the part before it); NULL otherwise. */
static const char *top_cstring(lua_State *L)
{
    size_t len;
    const char *v;

    if (lua_type(L, -1) != LUA_TSTRING)
        return NULL;
    v = lua_tolstring(L, -1, &len);
    return strlen(v) == len ? v : NULL;
}

/* Index of the layer called name (the string at the top of the stack) among s->ops, -1
 * for "input"; raises when unknown.
 * names (a stack index) maps each layer name defined so far to its index, so that a
 * lookup costs O(1) however long the network. */
static int find_src(lua_State *L, int names, const char *name, int line, const char *layer)
{
    int i;

    if (!top_cstring(L))
        return line_error(L, line, "layer '%s': src '%s...' holds a NUL byte", layer, name);
    if (!strcmp(name, "input"))
        return -1;
    lua_pushvalue(L, -1);
    if (lua_rawget(L, names) != LUA_TNUMBER) {
        lua_pop(L, 1);
        return line_error(L, line, "layer '%s': src '%s' is not a layer defined before it", layer,
                          name);
    }
    i = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return i;
}

/* st.network{name = ..., input = {c, h, w}, <layers...>}: checks every layer by
 * building the network, and returns it as a value a sweep can use. */
static int l_network(lua_State *L)
{
    static const char *const kinds[] = {"conv", "fc",  "maxpool", "avgpool", "relu",
                                        "bn",   "add", "gap",     NULL};
    static const st_kind kval[] = {ST_CONV, ST_FC, ST_MAXPOOL, ST_AVGPOOL,
                                   ST_RELU, ST_BN, ST_ADD,     ST_GAP};
    ex_netspec *s;
    st_net *net = NULL;
    st_err err;
    int n, bad, counts[8] = {0}, rc, names;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_newtable(L);
    names = lua_gettop(L);
    s = lua_newuserdatauv(L, sizeof *s, 0);
    ex_netspec_init(s);
    luaL_setmetatable(L, NETWORK_MT);
    if (lua_getfield(L, 1, "name") != LUA_TSTRING || !top_cstring(L) || lua_rawlen(L, -1) == 0 ||
        lua_rawlen(L, -1) >= ST_NAME_MAX)
        return luaL_error(L, "network: name must be a string of 1 to %d characters",
                          ST_NAME_MAX - 1);
    snprintf(s->name, sizeof s->name, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "input") != LUA_TTABLE || lua_rawlen(L, -1) != 3)
        return luaL_error(L, "network '%s': input must be {channels, height, width}", s->name);
    for (int i = 1; i <= 3; i++) {
        int isint = 0;
        lua_Integer v;
        lua_rawgeti(L, -1, i);
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 1 || v > (1 << 24))
            return luaL_error(L, "network '%s': input[%d] = %s: must be a whole number in [1, %d]",
                              s->name, i, luaL_tolstring(L, -1, NULL), 1 << 24);
        (&s->c)[i - 1] = (int)v;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (lua_rawlen(L, 1) > ST_NET_LAYERS_MAX)
        return luaL_error(L, "network '%s' has %d layers: at most %d", s->name,
                          (int)(lua_rawlen(L, 1) > INT_MAX ? INT_MAX : lua_rawlen(L, 1)),
                          ST_NET_LAYERS_MAX);
    n = (int)lua_rawlen(L, 1);
    if (n == 0)
        return luaL_error(L, "network '%s' has no layers", s->name);
    for (int i = 1; i <= n; i++) {
        ex_netop op;
        int k, line;
        const char *kind;

        memset(&op, 0, sizeof op);
        op.src[0] = op.src[1] = ST_PREV;
        if (lua_rawgeti(L, 1, i) != LUA_TTABLE || lua_getfield(L, -1, "kind") != LUA_TSTRING)
            return luaL_error(L, "network '%s': entry %d is not a layer (st.conv{...}, ...)",
                              s->name, i);
        kind = lua_tostring(L, -1);
        for (k = 0; top_cstring(L) && kinds[k] && strcmp(kinds[k], kind); k++)
            ;
        if (!top_cstring(L) || !kinds[k])
            return luaL_error(L, "network '%s': entry %d: unknown layer kind '%s'", s->name, i,
                              kind);
        lua_pop(L, 1);
        lua_getfield(L, -1, "line");
        line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        op.kind = kval[k];
        op.line = line;
        counts[k]++;
        if (lua_getfield(L, -1, "name") == LUA_TSTRING) {
            if (!top_cstring(L) || lua_rawlen(L, -1) == 0 || lua_rawlen(L, -1) >= ST_NAME_MAX)
                return line_error(L, line,
                                  "network '%s': entry %d: name must be 1 to %d characters, "
                                  "without NUL bytes",
                                  s->name, i, ST_NAME_MAX - 1);
            snprintf(op.name, sizeof op.name, "%s", lua_tostring(L, -1));
        } else if (!lua_isnil(L, -1))
            return line_error(L, line, "network '%s': entry %d: name must be a string", s->name, i);
        else
            snprintf(op.name, sizeof op.name, "%s%d", kinds[k], counts[k]);
        lua_pop(L, 1);
        op.out = opt_int(L, -1, "out", 0, line, op.name);
        op.k = opt_int(L, -1, "k", op.kind == ST_CONV ? 1 : 2, line, op.name);
        op.stride = opt_int(L, -1, "stride", op.kind == ST_CONV ? 1 : op.k, line, op.name);
        op.pad = opt_int(L, -1, "pad", 0, line, op.name);
        op.groups = opt_int(L, -1, "groups", 1, line, op.name);
        /* Sources: src = "name" or {"a", "b"}; an add may list them positionally. */
        if (lua_getfield(L, -1, "src") == LUA_TNIL && op.kind == ST_ADD) {
            lua_pop(L, 1);
            lua_createtable(L, 2, 0);
            lua_rawgeti(L, -2, 1);
            lua_rawseti(L, -2, 1);
            lua_rawgeti(L, -2, 2);
            lua_rawseti(L, -2, 2);
        }
        if (lua_type(L, -1) == LUA_TSTRING)
            op.src[0] = find_src(L, names, lua_tostring(L, -1), line, op.name);
        else if (lua_type(L, -1) == LUA_TTABLE) {
            for (int q = 0; q < 2; q++) {
                if (lua_rawgeti(L, -1, q + 1) == LUA_TSTRING)
                    op.src[q] = find_src(L, names, lua_tostring(L, -1), line, op.name);
                else if (!lua_isnil(L, -1))
                    return line_error(L, line, "layer '%s': src must name layers", op.name);
                lua_pop(L, 1);
            }
        } else if (!lua_isnil(L, -1))
            return line_error(L, line, "layer '%s': src must name a layer", op.name);
        lua_pop(L, 2);
        if (op.kind == ST_ADD && (op.src[0] == ST_PREV || op.src[1] == ST_PREV))
            return line_error(L, line, "layer '%s': an add needs two sources: st.add{\"a\", \"b\"}",
                              op.name);
        st_err_clear(&err);
        if (ex_netspec_push(s, &op, &err) != 0)
            return luaL_error(L, "%s", err.msg);
        lua_pushinteger(L, s->n - 1);
        lua_setfield(L, names, op.name);
    }
    /* Build it now so that a bad layer is reported where the network is defined. */
    st_err_clear(&err);
    rc = ex_netspec_build(s, &net, &bad, &err);
    st_net_destroy(&net);
    if (rc != 0) {
        return line_error(L, bad >= 0 ? s->ops[bad].line : 0, "%s", err.msg);
    }
    return 1;
}

/* st.sweep(t): returns t, remembering in its metatable the line where the sweep is
 * defined, for messages about the sweep as a whole. */
static int l_sweep(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, caller_line(L));
    lua_setfield(L, -2, "line");
    lua_pushstring(L, SWEEP_MT);
    lua_setfield(L, -2, "__name");
    lua_setmetatable(L, 1);
    return 1;
}

void ex_luamod_open(lua_State *L)
{
    static const luaL_Reg fns[] = {{"range", l_range},
                                   {"pow2", l_pow2},
                                   {"linspace", l_linspace},
                                   {"logspace", l_logspace},
                                   {"uniform", l_uniform},
                                   {"loguniform", l_loguniform},
                                   {"intuniform", l_intuniform},
                                   {"random", l_random},
                                   {"lhs", l_lhs},
                                   {"params", l_params},
                                   {"metrics", l_metrics},
                                   {"area_mm2", l_area_mm2},
                                   {"sram_kib", l_sram_kib},
                                   {"peak_macs", l_peak_macs},
                                   {"networks", l_networks},
                                   {"network", l_network},
                                   {"conv", l_conv},
                                   {"fc", l_fc},
                                   {"maxpool", l_maxpool},
                                   {"avgpool", l_avgpool},
                                   {"relu", l_relu},
                                   {"bn", l_bn},
                                   {"add", l_add},
                                   {"gap", l_gap},
                                   {"sweep", l_sweep},
                                   {NULL, NULL}};

    luaL_newmetatable(L, DOMAIN_MT);
    lua_pop(L, 1);
    luaL_newmetatable(L, SAMPLER_MT);
    lua_pop(L, 1);
    luaL_newmetatable(L, NETWORK_MT);
    lua_pushcfunction(L, net_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    lua_pushliteral(L, "grid");
    lua_setfield(L, -2, "grid");
    lua_setglobal(L, "st");
}
