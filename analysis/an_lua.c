/*
 * an_lua.c - the Lua module `an`: result files read as Lua tables whose columns load on
 * first use, and the front, ranks, hypervolume and filters of stquery over them or over
 * tables a script makes. Everything malloc'ed lives in userdata with a __gc, so a Lua
 * error never leaks; the algorithms are the C ones.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "an.h"

#define TABLE_MT "an.table" /* userdata: an_table * */
#define EXPR_MT  "an.expr"  /* userdata: an_expr * */

static int table_gc(lua_State *L)
{
    an_table **box = luaL_checkudata(L, 1, TABLE_MT);
    an_table_destroy(box);
    return 0;
}

static int expr_gc(lua_State *L)
{
    an_expr **box = luaL_checkudata(L, 1, EXPR_MT);
    an_expr_destroy(box);
    return 0;
}

/* A new empty box for a table at the top of the stack. */
static an_table **push_table_box(lua_State *L)
{
    an_table **box = lua_newuserdatauv(L, sizeof *box, 0);

    *box = NULL;
    luaL_setmetatable(L, TABLE_MT);
    return box;
}

/* Scratch memory that the collector frees, pushed on the stack. */
static void *push_scratch(lua_State *L, size_t count, size_t size)
{
    if (count > ((size_t)-1) / 2 / (size ? size : 1))
        luaL_error(L, "an: %zu values are too many", count);
    return lua_newuserdatauv(L, count ? count * size : 1, 0);
}

/* Push the value of column c at row as Lua sees it: choices as their names, booleans,
 * ids as hexadecimal text, whole numbers as integers. */
static void push_value(lua_State *L, const an_table *t, int c, size_t row)
{
    const an_col *col = &t->col[c];
    double v = col->v[row];
    char buf[32];

    switch (col->type) {
    case AN_T_ID:
        snprintf(buf, sizeof buf, "%016llx", (unsigned long long)col->u[row]);
        lua_pushstring(L, buf);
        return;
    case AN_T_U64:
        if (col->u[row] <= (uint64_t)LUA_MAXINTEGER)
            lua_pushinteger(L, (lua_Integer)col->u[row]);
        else
            lua_pushnumber(L, (lua_Number)col->u[row]);
        return;
    case AN_T_BOOL:
        if (!isnan(v)) {
            lua_pushboolean(L, v != 0);
            return;
        }
        break;
    case AN_T_ENUM:
        if (v >= 0 && v < col->nchoice && v == floor(v)) {
            lua_pushstring(L, col->choice[(int)v]);
            return;
        }
        break;
    case AN_T_INT:
        if (v == floor(v) && fabs(v) < 9e15) {
            lua_pushinteger(L, (lua_Integer)v);
            return;
        }
        break;
    case AN_T_REAL:
        break;
    }
    lua_pushnumber(L, v);
}

/* __index of r.col: load the column from the file, keep it in the table, return it. */
static int col_index(lua_State *L)
{
    an_table **box = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 2);
    an_table *t = *box;
    st_err err;
    int c;

    if (!t || (c = an_table_find(t, name)) < 0)
        return 0;
    if (an_table_load_col(t, c, &err) != ST_OK)
        return luaL_error(L, "an: %s", err.msg);
    lua_createtable(L, t->n > INT_MAX ? INT_MAX : (int)t->n, 0);
    for (size_t i = 0; i < t->n; i++) {
        push_value(L, t, c, i);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

/* an.read(path): the result file as a table; see docs/analysis.md. */
static int l_read(lua_State *L)
{
    static const char *const types[] = {"int", "real", "bool", "enum", "u64", "id"};
    const char *path = luaL_checkstring(L, 1);
    an_table **box = push_table_box(L);
    int boxi = lua_gettop(L);
    an_table *t;
    st_err err;

    if (an_h5_load(path, box, &err) != ST_OK)
        return luaL_error(L, "an.read: %s", err.msg);
    t = *box;
    lua_createtable(L, 0, 12);
    lua_pushstring(L, t->path);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, t->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)t->n);
    lua_setfield(L, -2, "n");
    lua_pushboolean(L, t->complete);
    lua_setfield(L, -2, "complete");
    lua_pushboolean(L, t->has_detail);
    lua_setfield(L, -2, "detail");
    /* columns (names in order), and by name: unit, type, group, role, choices */
    lua_createtable(L, t->ncol, 0);
    for (int c = 0; c < t->ncol; c++) {
        lua_pushstring(L, t->col[c].name);
        lua_rawseti(L, -2, c + 1);
    }
    lua_setfield(L, -2, "columns");
    lua_newtable(L);
    for (int c = 0; c < t->ncol; c++) {
        const an_col *col = &t->col[c];
        lua_createtable(L, 0, 6);
        lua_pushstring(L, col->unit);
        lua_setfield(L, -2, "unit");
        lua_pushstring(L, types[col->type]);
        lua_setfield(L, -2, "type");
        lua_pushstring(L, col->group == AN_G_PARAM    ? "param"
                          : col->group == AN_G_METRIC ? "metric"
                                                      : "point");
        lua_setfield(L, -2, "group");
        lua_pushstring(L, col->role);
        lua_setfield(L, -2, "role");
        lua_pushstring(L, col->help);
        lua_setfield(L, -2, "help");
        if (col->type == AN_T_ENUM) {
            lua_createtable(L, col->nchoice, 0);
            for (int k = 0; k < col->nchoice; k++) {
                lua_pushstring(L, col->choice[k]);
                lua_rawseti(L, -2, k + 1);
            }
            lua_setfield(L, -2, "choices");
        }
        lua_setfield(L, -2, col->name);
    }
    lua_setfield(L, -2, "info");
    lua_newtable(L);
    for (int i = 0; i < t->nprov; i++) {
        lua_pushstring(L, t->prov[i].value);
        lua_setfield(L, -2, t->prov[i].key);
    }
    lua_setfield(L, -2, "provenance");
    lua_createtable(L, t->nfail > INT_MAX ? INT_MAX : (int)t->nfail, 0);
    for (size_t i = 0; i < t->nfail; i++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)t->fail_row[i] + 1);
        lua_setfield(L, -2, "i");
        lua_pushstring(L, t->fail_msg[i]);
        lua_setfield(L, -2, "message");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "failures");
    lua_createtable(L, t->nlayer, 0);
    for (int i = 0; i < t->nlayer; i++) {
        lua_pushstring(L, t->layer_name[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "layers");
    /* r.col: columns load on first use; its metatable keeps the file open. */
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, boxi);
    lua_pushcclosure(L, col_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, boxi);
    lua_setfield(L, -2, "__an");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "col");
    return 1;
}

/* A table a script made: every array among the columns becomes a column of doubles
 * (numbers and booleans), n from the longest. Pushes the box and returns the table. */
static an_table *table_of_arrays(lua_State *L, int cols, const char *fn)
{
    an_table **box = push_table_box(L);
    lua_Integer n = 0;
    st_err err;
    int c;

    lua_pushnil(L);
    while (lua_next(L, cols)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1) &&
            (lua_Integer)lua_rawlen(L, -1) > n)
            n = (lua_Integer)lua_rawlen(L, -1);
        lua_pop(L, 1);
    }
    if (an_table_create("(a Lua table)", (size_t)n, box, &err) != ST_OK)
        luaL_error(L, "%s: %s", fn, err.msg);
    lua_pushnil(L);
    while (lua_next(L, cols)) {
        const char *name;
        an_col *col;
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        name = lua_tostring(L, -2);
        if (an_table_add(*box, name, "", AN_G_METRIC, AN_T_REAL, &c, &err) != ST_OK)
            luaL_error(L, "%s: %s", fn, err.msg);
        col = &(*box)->col[c];
        if (!(col->v = malloc(n ? (size_t)n * sizeof *col->v : 1)))
            luaL_error(L, "%s: out of memory", fn);
        for (lua_Integer i = 0; i < n; i++) {
            int tp = lua_rawgeti(L, -1, i + 1), ok = 1;
            if (tp == LUA_TNUMBER)
                col->v[i] = lua_tonumber(L, -1);
            else if (tp == LUA_TBOOLEAN)
                col->v[i] = lua_toboolean(L, -1);
            else
                ok = 0;
            lua_pop(L, 1);
            if (!ok)
                luaL_error(L, "%s: column '%s' [%d] is a %s, not a number", fn, name, (int)i + 1,
                           lua_typename(L, tp));
        }
        lua_pop(L, 1);
    }
    return *box;
}

/* The table behind argument idx: a result of an.read, or a table of arrays (its field col,
 * or itself). May push a box, which must stay on the stack while the table is used. */
static an_table *get_table(lua_State *L, int idx, const char *fn)
{
    an_table *t = NULL;

    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "col");
    if (lua_istable(L, -1) && lua_getmetatable(L, -1)) {
        if (lua_getfield(L, -1, "__an") == LUA_TUSERDATA) {
            an_table **box = luaL_checkudata(L, -1, TABLE_MT);
            t = *box;
        }
        lua_pop(L, 2);
    }
    if (t) {
        lua_pop(L, 1);
        return t;
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, idx);
    }
    return table_of_arrays(L, lua_gettop(L), fn);
}

/* Read the names of spec[key] (a string or a list) as objectives of the given sense. */
static void add_objectives(lua_State *L, int spec, const char *key, an_sense sense, an_table *t,
                           an_query *q, const char *fn)
{
    char what[64];
    st_err err;
    int tp = lua_getfield(L, spec, key), n;

    if (tp == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (tp == LUA_TSTRING) {
        lua_createtable(L, 1, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
    } else if (tp != LUA_TTABLE) {
        luaL_error(L, "%s: %s must be a column name or a list of them, not a %s", fn, key,
                   lua_typename(L, tp));
    }
    n = (int)lua_rawlen(L, -1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        if (!lua_isstring(L, -1))
            luaL_error(L, "%s: %s[%d] must be a column name", fn, key, i);
        if (q->nobj == AN_K_MAX)
            luaL_error(L, "%s: more than %d objectives", fn, AN_K_MAX);
        snprintf(what, sizeof what, "%s %s", fn, key);
        if (an_table_column(t, lua_tostring(L, -1), what, &q->col[q->nobj], &err) != ST_OK)
            luaL_error(L, "%s", err.msg);
        q->sense[q->nobj++] = sense;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* The filters of spec.where (a string or a list), compiled into boxes left on the stack;
 * the expressions go into where[] (room for 16). */
static int add_filters(lua_State *L, int spec, an_table *t, an_expr **where, const char *fn)
{
    int tp = lua_getfield(L, spec, "where"), n, listi;
    st_err err;

    if (tp == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (tp == LUA_TSTRING) {
        lua_createtable(L, 1, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
    } else if (tp != LUA_TTABLE) {
        luaL_error(L, "%s: where must be a filter or a list of them, not a %s", fn,
                   lua_typename(L, tp));
    }
    listi = lua_gettop(L);
    n = (int)lua_rawlen(L, listi);
    if (n > 16)
        luaL_error(L, "%s: %d filters: at most 16", fn, n);
    for (int i = 1; i <= n; i++) {
        an_expr **box;
        lua_rawgeti(L, listi, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: where[%d] must be a string", fn, i);
        box = lua_newuserdatauv(L, sizeof *box, 0);
        *box = NULL;
        luaL_setmetatable(L, EXPR_MT);
        if (an_expr_compile(t, lua_tostring(L, -2), box, &err) != ST_OK)
            luaL_error(L, "%s: %s", fn, err.msg);
        where[i - 1] = *box;
        lua_remove(L, -2); /* the text; the box stays */
    }
    return n;
}

/* Everything a question needs: the table, the query, the rows and their objectives. All
 * memory is on the Lua stack. */
typedef struct question {
    an_table *t;
    an_query q;
    an_expr *where[16];
    size_t *rows, count;
    double *x;
    const char *names[AN_K_MAX];
    an_points p;
} question;

static void ask(lua_State *L, question *s, int need_obj, const char *fn)
{
    st_err err;

    memset(s, 0, sizeof *s);
    /* What stays on the stack: a box, up to 16 filters and their list, the scratch. */
    luaL_checkstack(L, 32, fn);
    s->t = get_table(L, 1, fn);
    luaL_checktype(L, 2, LUA_TTABLE);
    add_objectives(L, 2, "min", AN_MIN, s->t, &s->q, fn);
    add_objectives(L, 2, "max", AN_MAX, s->t, &s->q, fn);
    if (need_obj && s->q.nobj == 0)
        luaL_error(L, "%s: no objectives: give min = {...} and/or max = {...}", fn);
    s->q.nwhere = add_filters(L, 2, s->t, s->where, fn);
    s->q.where = s->where;
    s->q.ok_only = 1;
    s->rows = push_scratch(L, s->t->n, sizeof *s->rows);
    if (an_query_rows(s->t, &s->q, s->rows, &s->count, &err) != ST_OK)
        luaL_error(L, "%s: %s", fn, err.msg);
    if (s->q.nobj > 0) {
        s->x = push_scratch(L, s->count * (size_t)s->q.nobj, sizeof *s->x);
        an_query_points(s->t, &s->q, s->rows, s->count, s->x, s->names, &s->p);
    }
}

/* an.rows(r [, {where = ...}]): the successful points that pass, as indices. */
static int l_rows(lua_State *L)
{
    question s;

    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    ask(L, &s, 0, "an.rows");
    lua_createtable(L, s.count > INT_MAX ? INT_MAX : (int)s.count, 0);
    for (size_t i = 0; i < s.count; i++) {
        lua_pushinteger(L, (lua_Integer)s.rows[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* an.front(r, {min = {...}, max = {...}, where = ...}): the indices of the front. */
static int l_front(lua_State *L)
{
    question s;
    size_t *idx, nf = 0;
    st_err err;

    ask(L, &s, 1, "an.front");
    idx = push_scratch(L, s.count, sizeof *idx);
    if (an_front(&s.p, idx, &nf, &err) != ST_OK)
        return luaL_error(L, "an.front: %s", err.msg);
    lua_createtable(L, nf > INT_MAX ? INT_MAX : (int)nf, 0);
    for (size_t i = 0; i < nf; i++) {
        lua_pushinteger(L, (lua_Integer)s.rows[idx[i]] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* an.ranks(r, spec): rank[i] = 1 on the front, 2 next, ...; 0 for points left out. */
static int l_ranks(lua_State *L)
{
    question s;
    size_t *rank, nr = 0, next = 0;
    st_err err;

    ask(L, &s, 1, "an.ranks");
    rank = push_scratch(L, s.count, sizeof *rank);
    if (an_ranks(&s.p, rank, &nr, &err) != ST_OK)
        return luaL_error(L, "an.ranks: %s", err.msg);
    lua_createtable(L, s.t->n > INT_MAX ? INT_MAX : (int)s.t->n, 0);
    for (size_t i = 0; i < s.t->n; i++) {
        lua_Integer r = 0;
        if (next < s.count && s.rows[next] == i)
            r = (lua_Integer)rank[next++] + 1;
        lua_pushinteger(L, r);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)nr);
    return 2;
}

/* an.hypervolume(r, {min = ..., max = ..., ref = {...}}): the volume. */
static int l_hypervolume(lua_State *L)
{
    question s;
    double ref[AN_K_MAX], hv = 0;
    st_err err;

    ask(L, &s, 1, "an.hypervolume");
    if (lua_getfield(L, 2, "ref") != LUA_TTABLE)
        return luaL_error(L, "an.hypervolume: ref must be a list of %d numbers", s.q.nobj);
    if ((int)lua_rawlen(L, -1) != s.q.nobj)
        return luaL_error(L, "an.hypervolume: ref has %d values for %d objectives",
                          (int)lua_rawlen(L, -1), s.q.nobj);
    for (int j = 0; j < s.q.nobj; j++) {
        int isnum;
        lua_rawgeti(L, -1, j + 1);
        ref[j] = lua_tonumberx(L, -1, &isnum);
        if (!isnum)
            return luaL_error(L, "an.hypervolume: ref[%d] must be a number", j + 1);
        lua_pop(L, 1);
    }
    if (an_hypervolume(&s.p, ref, &hv, &err) != ST_OK)
        return luaL_error(L, "an.hypervolume: %s", err.msg);
    lua_pushnumber(L, hv);
    return 1;
}

/* an.row(r, i): every column of point i by name. */
static int l_row(lua_State *L)
{
    lua_Integer i = luaL_checkinteger(L, 2);
    int n;

    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "columns") != LUA_TTABLE || lua_getfield(L, 1, "col") != LUA_TTABLE)
        return luaL_error(L, "an.row: not a table from an.read");
    n = (int)lua_rawlen(L, -2);
    lua_createtable(L, 0, n);
    for (int c = 1; c <= n; c++) {
        lua_rawgeti(L, -3, c); /* name */
        lua_pushvalue(L, -1);
        lua_gettable(L, -4); /* the column, loaded on first use */
        if (!lua_istable(L, -1))
            return luaL_error(L, "an.row: no column '%s'", lua_tostring(L, -2));
        if (i < 1 || i > (lua_Integer)lua_rawlen(L, -1))
            return luaL_error(L, "an.row: i = %d: must be in [1, %d]", (int)i,
                              (int)lua_rawlen(L, -1));
        lua_rawgeti(L, -1, i);
        lua_remove(L, -2);
        lua_rawset(L, -3);
    }
    return 1;
}

void an_lua_open(lua_State *L)
{
    static const luaL_Reg fns[] = {{"read", l_read},
                                   {"rows", l_rows},
                                   {"front", l_front},
                                   {"ranks", l_ranks},
                                   {"hypervolume", l_hypervolume},
                                   {"row", l_row},
                                   {NULL, NULL}};

    luaL_newmetatable(L, TABLE_MT);
    lua_pushcfunction(L, table_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, EXPR_MT);
    lua_pushcfunction(L, expr_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "an");
    /* package.loaded.an, when there is a package library: a sandbox's stand-in for it has
     * a metatable that raises on every access, and is left alone. */
    if (lua_getglobal(L, "package") == LUA_TTABLE) {
        if (lua_getmetatable(L, -1)) {
            lua_pop(L, 1);
        } else {
            if (lua_getfield(L, -1, "loaded") == LUA_TTABLE) {
                lua_pushvalue(L, -3);
                lua_setfield(L, -2, "an");
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);
}
