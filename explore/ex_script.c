/*
 * ex_script.c - a sweep script: loading and running it, reading the table it returns
 * into a resolved ex_sweep (every value checked against the engine's parameter table,
 * errors naming the script, the line and the value), and the hooks through which the
 * enumerator calls its Lua functions (derived parameters, where, keep).
 * The Lua helpers the script calls are ex_luamod.c; the sandbox is ex_lua.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <lua.h>

#include "ex.h"

#define LIST_MAX 10000000 /* values of one parameter */

struct ex_script {
    ex_lua *lua;
    const ex_ptab *ptab;
    char *path, *text;
    ex_sweep sw;
    ex_hooks hooks;
    int ref_where, ref_keep, ref_derived;
    int nderived;
    int *derived_rows; /* in name order */
};

/* ------------------------------------------------------------- resolving */

typedef struct rctx {
    const ex_ptab *t;
    const char *path, *text;
    int sweep_line;
    char msg[1024];
} rctx;

static int is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The first `key =` (not `==`) in s that is not inside a -- comment; NULL if none. */
static const char *find_key(const char *text, const char *s, const char *key)
{
    size_t n = strlen(key);

    for (const char *p = strstr(s, key); p; p = strstr(p + 1, key)) {
        const char *q = p + n, *ls = p;
        int comment = 0;
        if ((p > text && is_ident(p[-1])) || is_ident(*q))
            continue;
        while (*q == ' ' || *q == '\t')
            q++;
        if (q[0] != '=' || q[1] == '=')
            continue;
        while (ls > text && ls[-1] != '\n')
            ls--;
        for (const char *c = ls; c + 1 < p; c++)
            if (c[0] == '-' && c[1] == '-')
                comment = 1;
        if (!comment)
            return p;
    }
    return NULL;
}

static int line_at(const char *text, const char *p)
{
    int line = 1;

    for (const char *c = text; c < p; c++)
        line += *c == '\n';
    return line;
}

/* Where a setting is written: `name =` after `section =`, else anywhere, else the
 * section, else the sweep itself. A table constructor keeps no line numbers, so the
 * script text is searched; a value made by a helper (st.range, ...) knows its line. */
static int find_line(const rctx *c, const char *section, const char *name)
{
    const char *sec = section ? find_key(c->text, c->text, section) : NULL, *p = NULL;

    if (name) {
        if (sec)
            p = find_key(c->text, sec, name);
        if (!p)
            p = find_key(c->text, c->text, name);
    }
    if (!p)
        p = sec;
    return p ? line_at(c->text, p) : c->sweep_line;
}

static int fail(rctx *c, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(rctx *c, int line, const char *fmt, ...)
{
    char what[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(c->msg, sizeof c->msg, "%s:%d: %s", c->path, line, what);
    else
        snprintf(c->msg, sizeof c->msg, "%s: %s", c->path, what);
    return -1;
}

/* How a Lua value is shown in a message. */
static const char *shown(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING)
        return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
    return luaL_tolstring(L, idx, NULL);
}

static void choices_list(const st_param *row, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int k = 0; row->choices[k] && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", k ? ", " : "", row->choices[k]);
}

/* Convert the Lua value at idx to a value of row i: the type, then (when check) whole
 * numbers and the range.
 * Returns 0, or -1 with msg holding "name = value: must be ..." (no position). */
static int to_value(lua_State *L, int idx, const ex_ptab *t, int i, int check, double *out,
                    char *msg, size_t size)
{
    const st_param *row = &t->rows[i];
    int ty = lua_type(L, idx), isint = 0, rc = -1;
    char list[256];
    st_err err;
    double v = 0;

    switch (row->type) {
    case ST_PT_INT:
    case ST_PT_REAL:
        if (ty != LUA_TNUMBER) {
            snprintf(msg, size, "%s = %s: must be a number, not a %s", row->name, shown(L, idx),
                     lua_typename(L, ty));
            lua_pop(L, 1);
            goto done;
        }
        v = lua_isinteger(L, idx) ? (double)lua_tointeger(L, idx) : lua_tonumber(L, idx);
        /* Unchecked (derived) values may be fractional: the point then fails alone. */
        if (check && row->type == ST_PT_INT && (v != floor(v) || !isfinite(v))) {
            snprintf(msg, size, "%s = %s: must be a whole number", row->name, shown(L, idx));
            lua_pop(L, 1);
            goto done;
        }
        break;
    case ST_PT_BOOL:
        if (ty == LUA_TBOOLEAN)
            v = lua_toboolean(L, idx);
        else if (ty == LUA_TNUMBER && (lua_tonumber(L, idx) == 0 || lua_tonumber(L, idx) == 1))
            v = lua_tonumber(L, idx);
        else {
            snprintf(msg, size, "%s = %s: must be true or false", row->name, shown(L, idx));
            lua_pop(L, 1);
            goto done;
        }
        break;
    case ST_PT_ENUM:
        if (ty == LUA_TSTRING) {
            int k;
            for (k = 0; row->choices[k] && strcmp(row->choices[k], lua_tostring(L, idx)); k++)
                ;
            if (row->choices[k]) {
                v = k;
                break;
            }
        } else if (ty == LUA_TNUMBER) {
            v = (double)lua_tointegerx(L, idx, &isint);
            if (isint && v >= row->min && v <= row->max)
                break;
        }
        choices_list(row, list, sizeof list);
        snprintf(msg, size, "%s = %s: must be one of %s", row->name, shown(L, idx), list);
        lua_pop(L, 1);
        goto done;
    }
    st_err_clear(&err);
    if (check && ex_ptab_check(t, i, v, &err) != 0) {
        snprintf(msg, size, "%s", err.msg);
        goto done;
    }
    *out = v == 0 ? 0.0 : v;
    rc = 0;
done:
    return rc;
}

/* Round to 15 significant digits: st.range(0.1, 0.9, 0.1) gives 0.3, not
 * 0.30000000000000004. */
static double tidy(double v)
{
    char buf[40];

    snprintf(buf, sizeof buf, "%.15g", v);
    return strtod(buf, NULL);
}

/* A number field of a domain table at idx. */
static double dom_num(lua_State *L, int idx, const char *key, double def)
{
    double v = def;

    if (lua_getfield(L, idx, key) == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Add a value to a list after checking it; duplicates (equal doubles) are dropped,
 * keeping the first, so a grid never repeats a point. */
static int list_push(rctx *c, lua_State *L, ex_dim *d, ex_idset *seen, double v, int line)
{
    char msg[512];
    uint64_t bits;
    int added;
    st_err err;

    (void)L;
    st_err_clear(&err);
    if (ex_ptab_check(c->t, d->param, v, &err) != 0)
        return fail(c, line, "%s", err.msg);
    if (c->t->rows[d->param].type != ST_PT_REAL && v != floor(v)) {
        ex_ptab_format(c->t, d->param, v, msg, sizeof msg);
        return fail(c, line, "%s = %s: must be a whole number", c->t->rows[d->param].name, msg);
    }
    memcpy(&bits, &v, sizeof bits);
    if (ex_idset_add(seen, bits, &added, &err) != 0)
        return fail(c, line, "%s", err.msg);
    if (added)
        d->v[d->n++] = v;
    return 0;
}

/* Expand a helper's domain (st.range, ...) at idx into d. */
static int domain_expand(rctx *c, lua_State *L, int idx, ex_dim *d, ex_idset *seen)
{
    const st_param *row = &c->t->rows[d->param];
    const char *kind;
    double a, b, z;
    uint64_t n = 0;
    int line, rc = 0;

    lua_getfield(L, idx, "line");
    line = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "kind");
    kind = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays alive: the table holds it */
    a = dom_num(L, idx, "a", 0);
    b = dom_num(L, idx, "b", 0);
    z = dom_num(L, idx, "c", 1);
    if (!strcmp(kind, "uniform") || !strcmp(kind, "loguniform") || !strcmp(kind, "intuniform")) {
        st_err err;
        d->kind = !strcmp(kind, "uniform")      ? EX_DOM_UNIFORM
                  : !strcmp(kind, "loguniform") ? EX_DOM_LOGUNIFORM
                                                : EX_DOM_INTUNIFORM;
        d->lo = a;
        d->hi = b;
        st_err_clear(&err);
        if (!(a <= b))
            return fail(c, line, "%s: st.%s(%g, %g): the lower end must not exceed the upper",
                        row->name, kind, a, b);
        if (d->kind == EX_DOM_LOGUNIFORM && !(a > 0))
            return fail(c, line, "%s: st.loguniform(%g, %g): the ends must be positive", row->name,
                        a, b);
        if (row->type != ST_PT_REAL && d->kind != EX_DOM_INTUNIFORM)
            return fail(c, line, "%s is a %s parameter: use st.intuniform or a list", row->name,
                        row->type == ST_PT_INT ? "whole-number" : "choice");
        if (ex_ptab_check(c->t, d->param, a, &err) != 0 ||
            ex_ptab_check(c->t, d->param, b, &err) != 0)
            return fail(c, line, "%s", err.msg);
        return 0;
    }
    if (!strcmp(kind, "range")) {
        double q;
        if (!(z != 0) || !isfinite(a) || !isfinite(b) || !isfinite(z))
            return fail(c, line, "%s: st.range(%g, %g, %g): needs finite ends and a step",
                        row->name, a, b, z);
        q = (b - a) / z;
        n = q < -1e-9 ? 0 : (uint64_t)fmin(floor(q + 1e-9) + 1, 1e18);
    } else if (!strcmp(kind, "pow2")) {
        if (!(a > 0) || !(b >= a))
            return fail(c, line, "%s: st.pow2(%g, %g): needs 0 < lo <= hi", row->name, a, b);
        n = (uint64_t)(floor(log2(b)) - ceil(log2(a)) + 1);
    } else if (!strcmp(kind, "linspace") || !strcmp(kind, "logspace")) {
        if (!(z >= 1))
            return fail(c, line, "%s: st.%s(%g, %g, %g): the count must be at least 1", row->name,
                        kind, a, b, z);
        if (!strcmp(kind, "logspace") && !(a > 0 && b > 0))
            return fail(c, line, "%s: st.logspace(%g, %g, %g): the ends must be positive",
                        row->name, a, b, z);
        n = (uint64_t)z;
    }
    if (n == 0)
        return fail(c, line, "%s: st.%s(%g, %g%s) has no values (the space is empty)", row->name,
                    kind, a, b, strcmp(kind, "pow2") ? ", ..." : "");
    if (n > LIST_MAX)
        return fail(c, line, "%s: st.%s gives %llu values: at most %d per parameter", row->name,
                    kind, (unsigned long long)n, LIST_MAX);
    d->v = malloc(n * sizeof *d->v);
    if (!d->v)
        return fail(c, line, "%s: out of memory for %llu values", row->name, (unsigned long long)n);
    for (uint64_t k = 0; k < n && rc == 0; k++) {
        double v = 0;
        if (!strcmp(kind, "range"))
            v = tidy(a + (double)k * z);
        else if (!strcmp(kind, "pow2"))
            v = ldexp(1.0, (int)ceil(log2(a)) + (int)k);
        else if (n == 1)
            v = a;
        else if (k == n - 1)
            v = b; /* the end exactly, whatever the rounding on the way */
        else if (!strcmp(kind, "linspace"))
            v = tidy(a + (b - a) * (double)k / (double)(n - 1));
        else
            v = tidy(exp(log(a) + (log(b) - log(a)) * (double)k / (double)(n - 1)));
        rc = list_push(c, L, d, seen, v, line);
    }
    return rc;
}

/* Read the values of parameter row i at idx (a list, a helper's domain or one value)
 * into a new dimension of the space. */
static int read_dim(rctx *c, lua_State *L, int idx, int i, const char *section, ex_sweep *sw)
{
    const st_param *row = &c->t->rows[i];
    int line = find_line(c, section, row->name), rc = -1;
    ex_dim d;
    ex_idset seen;
    st_err err;
    char msg[512];
    double v;

    memset(&d, 0, sizeof d);
    ex_idset_init(&seen);
    d.param = i;
    d.kind = EX_DOM_LIST;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE && luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
        int dom = !strcmp(lua_tostring(L, -1), "st.domain");
        lua_pop(L, 1);
        if (!dom) {
            fail(c, line, "%s: not a list of values", row->name);
            goto done;
        }
        if (domain_expand(c, L, idx, &d, &seen) != 0)
            goto done;
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx), keys = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            keys++;
            lua_pop(L, 1);
        }
        if (keys != n) {
            fail(c, line, "%s: values must be a list {v1, v2, ...} or st.range(...)", row->name);
            goto done;
        }
        if (n == 0) {
            fail(c, line, "%s = {}: no values (the space is empty)", row->name);
            goto done;
        }
        d.v = malloc((size_t)n * sizeof *d.v);
        if (!d.v) {
            fail(c, line, "%s: out of memory", row->name);
            goto done;
        }
        for (lua_Integer k = 1; k <= n; k++) {
            lua_rawgeti(L, idx, k);
            if (to_value(L, -1, c->t, i, 1, &v, msg, sizeof msg) != 0) {
                lua_pop(L, 1);
                fail(c, line, "%s", msg);
                goto done;
            }
            lua_pop(L, 1);
            if (list_push(c, L, &d, &seen, v, line) != 0)
                goto done;
        }
    } else {
        if (to_value(L, idx, c->t, i, 1, &v, msg, sizeof msg) != 0) {
            fail(c, line, "%s", msg);
            goto done;
        }
        d.v = malloc(sizeof *d.v);
        if (!d.v) {
            fail(c, line, "%s: out of memory", row->name);
            goto done;
        }
        d.v[d.n++] = v;
    }
    st_err_clear(&err);
    /* The space owns d.v from here, even when adding fails. */
    if (ex_space_add(&sw->space, &d, &err) != 0) {
        fail(c, line, "%s", err.msg);
        goto done;
    }
    sw->role[i] = EX_ROLE_SWEPT;
    rc = 0;
done:
    free(d.v);
    ex_idset_fini(&seen);
    return rc;
}

/* Look a parameter name up; an unknown one gets the core's message with its suggestion. */
static int param_row(rctx *c, lua_State *L, int key, const char *section, int *row)
{
    st_point pt;
    st_err err;
    const char *name;

    if (lua_type(L, key) != LUA_TSTRING)
        return fail(c, find_line(c, section, NULL), "%s: keys must be parameter names, not %s",
                    section, shown(L, key));
    name = lua_tostring(L, key);
    *row = ex_ptab_find(c->t, name);
    if (*row < 0) {
        st_point_init(&pt);
        st_err_clear(&err);
        st_point_set_num(&pt, name, 0, &err);
        return fail(c, find_line(c, section, name), "%s", err.msg);
    }
    return 0;
}

static int check_dup(rctx *c, const ex_sweep *sw, int i, const char *section)
{
    if (sw->role[i] != EX_ROLE_DEFAULT)
        return fail(c, find_line(c, section, c->t->rows[i].name),
                    "duplicate parameter '%s': already %s, also in %s", c->t->rows[i].name,
                    sw->role[i] == EX_ROLE_SWEPT ? "swept" : ex_role_name((ex_role)sw->role[i]),
                    section);
    return 0;
}

static int cmp_dim(const void *a, const void *b)
{
    return ((const ex_dim *)a)->param - ((const ex_dim *)b)->param;
}

/* Read an optional non-negative integer field of table idx. */
static int opt_u64(rctx *c, lua_State *L, int idx, const char *key, const char *section,
                   uint64_t *out, int *given)
{
    int isint = 0, rc = 0;
    lua_Integer v;

    if (given)
        *given = 0;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 0)
            rc = fail(c, find_line(c, section, key), "%s = %s: must be a whole number >= 0", key,
                      shown(L, -1));
        else {
            *out = (uint64_t)v;
            if (given)
                *given = 1;
        }
    }
    lua_pop(L, 1);
    return rc;
}

/* Does name end in ".csv" (any case)? Such a network is a SCALE-Sim layer list. */
static int is_csv(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".csv") == 0;
}

/* The path of a layer list named in the script at script_path: an absolute name as it is,
 * a relative one from the script's folder, like the script's own require(). Returns a new
 * string (the caller frees it), or NULL when out of memory. */
static char *csv_path(const char *script_path, const char *name)
{
    const char *slash = strrchr(script_path, '/');
    size_t dir = slash ? (size_t)(slash - script_path) + 1 : 0, n = strlen(name);
    char *p;

    if (name[0] == '/')
        dir = 0;
    p = malloc(dir + n + 1);
    if (p) {
        memcpy(p, script_path, dir);
        memcpy(p + dir, name, n + 1);
    }
    return p;
}

static int sweep_gc(lua_State *L)
{
    ex_sweep_fini(lua_touserdata(L, 1));
    return 0;
}

/* The protected resolver: (sweep table, rctx) -> the sweep box, or nil and a message.
 * Everything it allocates hangs off the box, whose __gc frees it if Lua raises. */
static int l_resolve(lua_State *L)
{
    static const char *const fields[] = {"name",  "description", "network", "batch",  "params",
                                         "fixed", "derived",     "sample",  "where",  "keep",
                                         "seed",  "common_seed", "eval",    "detail", NULL};
    rctx *c = lua_touserdata(L, 2);
    const ex_ptab *t = c->t;
    ex_sweep *sw;
    char msg[512];
    int T = 1, row, ty, given;
    uint64_t u;
    double v;

    sw = lua_newuserdatauv(L, sizeof *sw, 0);
    ex_sweep_init(sw);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, sweep_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    sw->base = malloc((size_t)t->n * sizeof *sw->base);
    sw->role = calloc((size_t)t->n, 1);
    if (!sw->base || !sw->role)
        return luaL_error(L, "out of memory");
    memcpy(sw->base, t->def, (size_t)t->n * sizeof *sw->base);
    sw->seed = 1;
    if (luaL_getmetafield(L, T, "line") != LUA_TNIL) {
        c->sweep_line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }

    /* Unknown fields are typos: say so rather than ignore them. */
    lua_pushnil(L);
    while (lua_next(L, T)) {
        int k = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (k = 0; fields[k] && strcmp(fields[k], lua_tostring(L, -1)); k++)
                ;
        if (lua_type(L, -1) != LUA_TSTRING || !fields[k]) {
            /* The line first: shown() pushes onto the stack. */
            int line = lua_type(L, -1) == LUA_TSTRING ? find_line(c, NULL, lua_tostring(L, -1)) : 0;
            fail(c, line,
                 "unknown field %s in the sweep (fields: name, network, batch, params, fixed, "
                 "derived, sample, where, keep, seed, common_seed, eval, detail, description)",
                 shown(L, -1));
            goto fail;
        }
    }

    /* name: it names the output file, so it is kept to safe characters. */
    if (lua_getfield(L, T, "name") != LUA_TSTRING || lua_rawlen(L, -1) == 0 ||
        lua_rawlen(L, -1) >= sizeof sw->name) {
        fail(c, find_line(c, NULL, "name"),
             "name = %s: the sweep needs a name (a string of 1 to %zu characters)", shown(L, -1),
             sizeof sw->name - 1);
        goto fail;
    }
    for (const char *p = lua_tostring(L, -1); *p; p++)
        if (!is_ident(*p) && *p != '-' && *p != '.') {
            fail(c, find_line(c, NULL, "name"),
                 "name = '%s': letters, digits, '_', '-' and '.' only (it names the result file)",
                 lua_tostring(L, -1));
            goto fail;
        }
    snprintf(sw->name, sizeof sw->name, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);

    /* network: a built-in name, a layer list (*.csv) or st.network{...} */
    ty = lua_getfield(L, T, "network");
    if (ty == LUA_TSTRING && is_csv(lua_tostring(L, -1))) {
        st_err err;
        char *path = csv_path(c->path, lua_tostring(L, -1));
        st_err_clear(&err);
        if (!path)
            return luaL_error(L, "out of memory");
        if (ex_netspec_load_csv(&sw->net, path, &err) != 0) {
            fail(c, find_line(c, NULL, "network"), "network = '%s': %s", lua_tostring(L, -1),
                 err.msg);
            free(path);
            goto fail;
        }
        free(path);
    } else if (ty == LUA_TSTRING) {
        st_net *net = NULL;
        st_err err;
        st_err_clear(&err);
        if (st_net_builtin(lua_tostring(L, -1), &net, &err) != 0) {
            fail(c, find_line(c, NULL, "network"), "network = '%s': %s", lua_tostring(L, -1),
                 err.msg);
            goto fail;
        }
        st_net_destroy(&net);
        sw->net.builtin = 1;
        snprintf(sw->net.name, sizeof sw->net.name, "%s", lua_tostring(L, -1));
    } else if (ty == LUA_TUSERDATA && luaL_testudata(L, -1, "st.network")) {
        const ex_netspec *s = lua_touserdata(L, -1);
        st_err err;
        st_err_clear(&err);
        snprintf(sw->net.name, sizeof sw->net.name, "%s", s->name);
        sw->net.c = s->c;
        sw->net.h = s->h;
        sw->net.w = s->w;
        for (int i = 0; i < s->n; i++)
            if (ex_netspec_push(&sw->net, &s->ops[i], &err) != 0)
                return luaL_error(L, "%s", err.msg);
    } else {
        fail(c, find_line(c, NULL, "network"),
             "network = %s: must be a built-in name (st.networks()), a layer list "
             "('NAME.csv') or st.network{...}",
             shown(L, -1));
        goto fail;
    }
    lua_pop(L, 1);

    /* seeds, switches, eval mode */
    if (opt_u64(c, L, T, "seed", NULL, &sw->seed, NULL) != 0)
        goto fail;
    if (lua_getfield(L, T, "common_seed") != LUA_TNIL && !lua_isboolean(L, -1)) {
        fail(c, find_line(c, NULL, "common_seed"), "common_seed = %s: must be true or false",
             shown(L, -1));
        goto fail;
    }
    sw->common_seed = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, T, "detail") != LUA_TNIL && !lua_isboolean(L, -1)) {
        fail(c, find_line(c, NULL, "detail"), "detail = %s: must be true or false", shown(L, -1));
        goto fail;
    }
    sw->detail = lua_toboolean(L, -1);
    lua_pop(L, 1);
    ty = lua_getfield(L, T, "eval");
    if (ty == LUA_TNIL || (ty == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "sim")))
        sw->eval = EX_EVAL_SIM;
    else if (ty == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "none"))
        sw->eval = EX_EVAL_NONE;
    else {
        fail(c, find_line(c, NULL, "eval"), "eval = %s: must be 'sim' or 'none'", shown(L, -1));
        goto fail;
    }
    lua_pop(L, 1);

    /* params: swept values */
    if ((ty = lua_getfield(L, T, "params")) != LUA_TNIL) {
        int P = lua_gettop(L);
        if (ty != LUA_TTABLE) {
            fail(c, find_line(c, NULL, "params"), "params = %s: must be a table name = values",
                 shown(L, -1));
            goto fail;
        }
        lua_pushnil(L);
        while (lua_next(L, P)) {
            if (param_row(c, L, -2, "params", &row) != 0 || check_dup(c, sw, row, "params") != 0 ||
                read_dim(c, L, -1, row, "params", sw) != 0)
                goto fail;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    /* batch: a shorthand for params.batch or fixed.batch */
    if ((ty = lua_getfield(L, T, "batch")) != LUA_TNIL) {
        row = ex_ptab_find(t, "batch");
        if (check_dup(c, sw, row, "batch") != 0)
            goto fail;
        if (ty == LUA_TTABLE) {
            if (read_dim(c, L, -1, row, "batch", sw) != 0)
                goto fail;
        } else if (to_value(L, -1, t, row, 1, &v, msg, sizeof msg) != 0) {
            fail(c, find_line(c, NULL, "batch"), "%s", msg);
            goto fail;
        } else {
            sw->base[row] = v;
            sw->role[row] = EX_ROLE_FIXED;
        }
    }
    lua_pop(L, 1);
    /* fixed: one value each */
    if ((ty = lua_getfield(L, T, "fixed")) != LUA_TNIL) {
        int F = lua_gettop(L);
        if (ty != LUA_TTABLE) {
            fail(c, find_line(c, NULL, "fixed"), "fixed = %s: must be a table name = value",
                 shown(L, -1));
            goto fail;
        }
        lua_pushnil(L);
        while (lua_next(L, F)) {
            if (param_row(c, L, -2, "fixed", &row) != 0 || check_dup(c, sw, row, "fixed") != 0)
                goto fail;
            if (to_value(L, -1, t, row, 1, &v, msg, sizeof msg) != 0) {
                fail(c, find_line(c, "fixed", t->rows[row].name), "%s", msg);
                goto fail;
            }
            sw->base[row] = v;
            sw->role[row] = EX_ROLE_FIXED;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    /* derived: functions */
    if ((ty = lua_getfield(L, T, "derived")) != LUA_TNIL) {
        int D = lua_gettop(L);
        if (ty != LUA_TTABLE) {
            fail(c, find_line(c, NULL, "derived"),
                 "derived = %s: must be a table name = function(p) ... end", shown(L, -1));
            goto fail;
        }
        lua_pushnil(L);
        while (lua_next(L, D)) {
            if (param_row(c, L, -2, "derived", &row) != 0 || check_dup(c, sw, row, "derived") != 0)
                goto fail;
            if (!lua_isfunction(L, -1)) {
                fail(c, find_line(c, "derived", t->rows[row].name),
                     "derived %s = %s: must be a function(p) returning the value",
                     t->rows[row].name, shown(L, -1));
                goto fail;
            }
            sw->role[row] = EX_ROLE_DERIVED;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "keep" : "where";
        ty = lua_getfield(L, T, key);
        if (ty != LUA_TNIL && ty != LUA_TFUNCTION) {
            fail(c, find_line(c, NULL, key), "%s = %s: must be a function", key, shown(L, -1));
            goto fail;
        }
        if (k)
            sw->has_keep = ty == LUA_TFUNCTION;
        else
            sw->has_where = ty == LUA_TFUNCTION;
        lua_pop(L, 1);
    }
    if (t->seed_row >= 0)
        sw->seed_given = sw->role[t->seed_row] != EX_ROLE_DEFAULT;

    /* sample: "grid", st.random{...} or st.lhs{...} */
    ty = lua_getfield(L, T, "sample");
    if (ty == LUA_TNIL || (ty == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "grid"))) {
        sw->space.sampler = EX_GRID;
    } else if (ty == LUA_TTABLE && lua_getfield(L, -1, "method") == LUA_TSTRING &&
               (!strcmp(lua_tostring(L, -1), "random") || !strcmp(lua_tostring(L, -1), "lhs"))) {
        int S = lua_gettop(L) - 1;
        sw->space.sampler = !strcmp(lua_tostring(L, -1), "lhs") ? EX_LHS : EX_RANDOM;
        lua_pop(L, 1);
        if (opt_u64(c, L, S, "count", "sample", &sw->space.count, &given) != 0)
            goto fail;
        if (!given || sw->space.count == 0 || sw->space.count > EX_SPACE_MAX) {
            lua_getfield(L, S, "count");
            fail(c, find_line(c, "sample", "count"),
                 "sample: count = %s: must be a whole number in [1, %llu]", shown(L, -1),
                 (unsigned long long)EX_SPACE_MAX);
            goto fail;
        }
        sw->space.seed = sw->seed;
        if (opt_u64(c, L, S, "seed", "sample", &u, &given) != 0)
            goto fail;
        if (given)
            sw->space.seed = u;
    } else {
        fail(c, find_line(c, NULL, "sample"),
             "sample = %s: must be \"grid\", st.random{count = N} or st.lhs{count = N}",
             shown(L, lua_type(L, -1) == LUA_TSTRING && ty == LUA_TTABLE ? -2 : -1));
        goto fail;
    }
    lua_settop(L, 3);
    /* Grid order is the table's, so it does not depend on Lua's hash order. */
    if (sw->space.ndim > 1)
        qsort(sw->space.dims, (size_t)sw->space.ndim, sizeof *sw->space.dims, cmp_dim);
    {
        st_err err;
        st_err_clear(&err);
        if (ex_space_count(&sw->space, &u, &err) != 0) {
            fail(c, find_line(c, NULL, sw->space.ndim ? "params" : "name"), "%s", err.msg);
            goto fail;
        }
    }
    return 1;
fail:
    lua_pushnil(L);
    lua_pushstring(L, c->msg);
    return 2;
}

/* ------------------------------------------------------------------ hooks */

/* Push the point table p: every parameter by name, enums as names, bools as booleans. */
static void push_point(lua_State *L, const ex_ptab *t, const double *vals)
{
    lua_createtable(L, 0, t->n);
    for (int i = 0; i < t->n; i++) {
        const st_param *row = &t->rows[i];
        double v = vals[i];
        if (row->type == ST_PT_ENUM && v >= row->min && v <= row->max && v == floor(v))
            lua_pushstring(L, row->choices[(int)v]);
        else if (row->type == ST_PT_BOOL)
            lua_pushboolean(L, v != 0);
        else if (row->type == ST_PT_INT && v == floor(v) && fabs(v) < 9e15)
            lua_pushinteger(L, (lua_Integer)v);
        else
            lua_pushnumber(L, v);
        lua_setfield(L, -2, row->name);
    }
}

static int hook_derive(void *ctx, double *vals, st_err *err)
{
    ex_script *s = ctx;
    lua_State *L = ex_lua_state(s->lua);
    char msg[512];
    int rc = ST_OK, P;

    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_derived);
    push_point(L, s->ptab, vals);
    P = lua_gettop(L);
    for (int k = 0; k < s->nderived; k++) {
        int i = s->derived_rows[k];
        const char *name = s->ptab->rows[i].name;
        lua_getfield(L, P - 1, name);
        lua_pushvalue(L, P);
        if ((rc = ex_lua_call(s->lua, 1, 1, err)) != 0)
            goto done;
        /* Types are the script's to get right; ranges are the point's (it fails alone). */
        if (to_value(L, -1, s->ptab, i, 0, &vals[i], msg, sizeof msg) != 0) {
            rc = st_err_set(err, ST_EINVAL, "%s: derived %s", s->path, msg);
            goto done;
        }
        lua_setfield(L, P, name); /* later derived functions see this value */
    }
done:
    lua_settop(L, P - 2);
    return rc;
}

static int hook_where(void *ctx, const double *vals, int *keep, st_err *err)
{
    ex_script *s = ctx;
    lua_State *L = ex_lua_state(s->lua);
    int rc;

    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_where);
    push_point(L, s->ptab, vals);
    if ((rc = ex_lua_call(s->lua, 1, 1, err)) == 0) {
        *keep = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return rc;
}

static int hook_keep(void *ctx, const ex_record *rec, int *keep, st_err *err)
{
    ex_script *s = ctx;
    lua_State *L = ex_lua_state(s->lua);
    int n, rc;
    const ex_metric *m = ex_metrics(&n);

    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_keep);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        if (m[i].type == EX_U64)
            lua_pushinteger(L, (lua_Integer)rec->metrics[i].u);
        else
            lua_pushnumber(L, rec->metrics[i].f);
        lua_setfield(L, -2, m[i].name);
    }
    push_point(L, s->ptab, rec->vals);
    if ((rc = ex_lua_call(s->lua, 2, 1, err)) == 0) {
        *keep = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return rc;
}

/* ------------------------------------------------------------------ loading */

static int read_text(const char *path, char **out, size_t *len, st_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    int rc = ST_OK;

    *out = NULL;
    if (!f) {
        rc = st_err_set(err, ST_EINVAL, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        n > (16L << 20)) {
        rc = st_err_set(err, ST_EINVAL, "cannot read %s: not a regular file of at most 16 MiB",
                        path);
        goto done;
    }
    if (!(buf = malloc((size_t)n + 1))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        rc = st_err_set(err, ST_EINVAL, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    buf[n] = '\0';
    *len = (size_t)n;
    *out = buf;
    buf = NULL;
done:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

int ex_script_load(ex_lua *lua, const char *path, const ex_ptab *ptab, ex_script **out, st_err *err)
{
    lua_State *L = ex_lua_state(lua);
    ex_script *s = NULL;
    char *dir = NULL, *slash;
    size_t len = 0;
    rctx c;
    int rc, top = lua_gettop(L);

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path)) || !(dir = strdup(path))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory");
        goto done;
    }
    s->lua = lua;
    s->ptab = ptab;
    s->ref_where = s->ref_keep = s->ref_derived = LUA_NOREF;
    ex_sweep_init(&s->sw);
    if ((rc = read_text(path, &s->text, &len, err)) != 0)
        goto done;
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if ((rc = ex_lua_set_dir(lua, slash ? dir : ".", err)) != 0)
        goto done;
    /* "@path" makes messages read "path:line: ..."; "t" refuses precompiled chunks. */
    lua_pushfstring(L, "@%s", path);
    if (luaL_loadbufferx(L, s->text, len, lua_tostring(L, -1), "t") != LUA_OK) {
        rc = st_err_set(err, ST_EINVAL, "%s", lua_tostring(L, -1));
        goto done;
    }
    lua_remove(L, -2);
    if ((rc = ex_lua_call(lua, 0, 1, err)) != 0) {
        /* Lua's messages start with the position; those without one get the script. */
        if (strncmp(err->msg, path, strlen(path)) != 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            st_err_set(err, rc, "%s: %s", path, msg);
        }
        goto done;
    }
    if (!lua_istable(L, -1)) {
        rc = st_err_set(err, ST_EINVAL, "%s: the script must return a sweep table, not %s", path,
                        luaL_typename(L, -1));
        goto done;
    }
    memset(&c, 0, sizeof c);
    c.t = ptab;
    c.path = path;
    c.text = s->text;
    for (const char *p = strstr(s->text, "return"); p; p = strstr(p + 1, "return"))
        c.sweep_line = line_at(s->text, p);
    lua_pushcfunction(L, l_resolve);
    lua_pushvalue(L, -2);
    lua_pushlightuserdata(L, &c);
    if ((rc = ex_lua_call(lua, 2, 2, err)) != 0)
        goto done;
    if (lua_isnil(L, -2)) {
        rc = st_err_set(err, ST_EINVAL, "%s", lua_tostring(L, -1));
        goto done;
    }
    /* Take the sweep out of its box: the box's __gc then finds nothing to free. */
    s->sw = *(ex_sweep *)lua_touserdata(L, -2);
    ex_sweep_init(lua_touserdata(L, -2));
    lua_pop(L, 2);
    /* What the sweep depends on besides its script is known now, and stays so. */
    if (*ex_lua_deps(lua) && !(s->sw.deps = strdup(ex_lua_deps(lua)))) {
        rc = st_err_set(err, ST_ENOMEM, "out of memory");
        goto done;
    }
    ex_lua_deps_freeze(lua);
    /* The sweep table stays on the stack: its functions are referenced from the registry. */
    if (s->sw.has_where) {
        lua_getfield(L, -1, "where");
        s->ref_where = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    if (s->sw.has_keep) {
        lua_getfield(L, -1, "keep");
        s->ref_keep = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    for (int i = 0; i < ptab->n; i++)
        s->nderived += s->sw.role[i] == EX_ROLE_DERIVED;
    if (s->nderived) {
        int k = 0;
        if (!(s->derived_rows = malloc((size_t)s->nderived * sizeof *s->derived_rows))) {
            rc = st_err_set(err, ST_ENOMEM, "out of memory");
            goto done;
        }
        /* In name order: later ones see earlier ones' values. */
        for (int q = 0; q < ptab->n; q++) {
            int i = ptab->by_name[q];
            if (s->sw.role[i] == EX_ROLE_DERIVED)
                s->derived_rows[k++] = i;
        }
        lua_getfield(L, -1, "derived");
        s->ref_derived = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    s->hooks.ctx = s;
    s->hooks.derive = s->nderived ? hook_derive : NULL;
    s->hooks.where = s->sw.has_where ? hook_where : NULL;
    s->hooks.keep = s->sw.has_keep ? hook_keep : NULL;
    *out = s;
    s = NULL;
done:
    lua_settop(L, top);
    free(dir);
    ex_script_destroy(&s);
    return rc;
}

void ex_script_destroy(ex_script **sp)
{
    ex_script *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    if (s->lua) {
        lua_State *L = ex_lua_state(s->lua);
        luaL_unref(L, LUA_REGISTRYINDEX, s->ref_where);
        luaL_unref(L, LUA_REGISTRYINDEX, s->ref_keep);
        luaL_unref(L, LUA_REGISTRYINDEX, s->ref_derived);
    }
    ex_sweep_fini(&s->sw);
    free(s->derived_rows);
    free(s->path);
    free(s->text);
    free(s);
    *sp = NULL;
}

const ex_sweep *ex_script_sweep(const ex_script *s)
{
    return &s->sw;
}
const ex_hooks *ex_script_hooks(const ex_script *s)
{
    return &s->hooks;
}
const char *ex_script_text(const ex_script *s)
{
    return s->text;
}
const char *ex_script_path(const ex_script *s)
{
    return s->path;
}
