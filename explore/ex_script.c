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
    ex_ptab *tw; /* the same table: the resolver names the choices of network and trace */
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

/* How a Lua value is shown in a message: strings quoted (a NUL byte as \0), other values
 * without calling any of the script's metamethods. */
static const char *shown(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *v = lua_tolstring(L, idx, &len);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addchar(&b, '\'');
        for (size_t k = 0; k < len && k < 200; k++) {
            if (v[k] == '\0')
                luaL_addstring(&b, "\\0");
            else
                luaL_addchar(&b, v[k]);
        }
        luaL_addstring(&b, len > 200 ? "...'" : "'");
        luaL_pushresult(&b);
        return lua_tostring(L, -1);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, idx));
        return lua_pushfstring(L, "%f", (LUAI_UACNUMBER)lua_tonumber(L, idx));
    case LUA_TBOOLEAN:
        return lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
    case LUA_TNIL:
        return lua_pushliteral(L, "nil");
    default:
        return lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx));
    }
}

/* The string at idx, or NULL when it is not a string or holds a NUL byte (C would read
 * only the part before it). */
static const char *cstring(lua_State *L, int idx)
{
    size_t len;
    const char *v;

    if (lua_type(L, idx) != LUA_TSTRING)
        return NULL;
    v = lua_tolstring(L, idx, &len);
    return strlen(v) == len ? v : NULL;
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
        if (cstring(L, idx)) {
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
 * 0.30000000000000004. The value is the double nearest to the decimal that "%.15g"
 * prints, as strtod would read it back. The fast way scales by an exact power of ten,
 * rounds to a whole number below 2^50 and scales back with one correctly rounded
 * division or multiplication, which gives that same double; it is taken only when the
 * scaled value is far enough from a half (its rounding error is at most 1/16) and the
 * power of ten is exact; otherwise the text round trip decides. */
static double tidy(double v)
{
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    char buf[40];
    double m, x, f, r;
    int e;

    if (v == 0 || !isfinite(v))
        return v;
    e = (int)floor(log10(fabs(v)));
    if (e <= 14 && 14 - e <= 22) {
        x = v * p10[14 - e];
        m = nearbyint(x);
        f = fabs(x - trunc(x));
        r = m / p10[14 - e];
    } else if (e > 14 && e - 14 <= 22) {
        x = v / p10[e - 14];
        m = nearbyint(x);
        f = fabs(x - trunc(x));
        r = m * p10[e - 14];
        f = 0.5; /* the division rounded too: always the slow way */
    } else
        f = 0.5;
    if (fabs(f - 0.5) > 0.07 && fabs(m) >= 1e14 && fabs(m) < 1e15)
        return r;
    snprintf(buf, sizeof buf, "%.15g", v);
    return strtod(buf, NULL);
}

/* A field of a domain table at idx, read raw (no metamethod of the script runs): its Lua
 * type, the value left on the stack. */
static int dom_field(lua_State *L, int idx, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, idx);
}

/* A number field of a domain table; def when absent (def_ok) . -1 when the field is there
 * but not a finite number, or absent and required. */
static int dom_num(lua_State *L, int idx, const char *key, int required, double def, double *out)
{
    int ty = dom_field(L, idx, key), rc = 0;

    if (ty == LUA_TNUMBER && isfinite(lua_tonumber(L, -1)))
        *out = lua_tonumber(L, -1);
    else if (ty == LUA_TNIL && !required)
        *out = def;
    else
        rc = -1;
    lua_pop(L, 1);
    return rc;
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

enum { K_RANGE, K_POW2, K_LINSPACE, K_LOGSPACE, K_UNIFORM, K_LOGUNIFORM, K_INTUNIFORM };

/* The k-th value of a generated domain of n values (before the checks). */
static double dom_value(int kind, double a, double b, double z, uint64_t n, uint64_t k)
{
    if (kind == K_RANGE)
        return tidy(a + (double)k * z);
    if (kind == K_POW2)
        return ldexp(1.0, (int)ceil(log2(a)) + (int)k);
    if (n == 1)
        return a;
    if (k == n - 1)
        return b; /* the end exactly, whatever the rounding on the way */
    if (kind == K_LINSPACE)
        return tidy(a + (b - a) * (double)k / (double)(n - 1));
    return tidy(exp(log(a) + (log(b) - log(a)) * (double)k / (double)(n - 1)));
}

#define POLL_VALUES 65536 /* values expanded between two looks for a stop signal */

/* Expand a helper's domain (st.range, ...) at idx into d. The table is the script's and
 * may have been changed or forged: every field is checked. Values come in order (each
 * kind is monotone), so a repeat is the previous value, and the parameter's range (an
 * interval) is checked at both ends; whole numbers, choices and switches value by value. */
static int domain_expand(rctx *c, lua_State *L, int idx, ex_dim *d, ex_idset *seen)
{
    static const char *const kinds[] = {"range",   "pow2",       "linspace",   "logspace",
                                        "uniform", "loguniform", "intuniform", NULL};
    const st_param *row = &c->t->rows[d->param];
    const char *kname;
    double a = 0, b = 0, z = 1, lo, hi;
    uint64_t n = 0;
    int line = 0, kind, ty, interval = row->type == ST_PT_REAL || row->type == ST_PT_INT;
    st_err err;

    st_err_clear(&err);
    ty = dom_field(L, idx, "line");
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0 &&
        lua_tointeger(L, -1) < 1000000000)
        line = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (line == 0)
        line = find_line(c, "params", row->name);
    dom_field(L, idx, "kind");
    kname = cstring(L, -1);
    for (kind = 0; kname && kinds[kind] && strcmp(kinds[kind], kname); kind++)
        ;
    if (!kname || !kinds[kind]) {
        fail(c, line,
             "%s: the domain's kind = %s is not one that st.range, st.pow2, st.linspace, "
             "st.logspace, st.uniform, st.loguniform or st.intuniform make (was it "
             "changed?)",
             row->name, shown(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    lua_pop(L, 1); /* kname stays alive: kinds[kind] is used from here */
    kname = kinds[kind];
    if (dom_num(L, idx, "a", 1, 0, &a) != 0 || dom_num(L, idx, "b", 1, 0, &b) != 0 ||
        dom_num(L, idx, "c", kind == K_LINSPACE || kind == K_LOGSPACE, 1, &z) != 0)
        return fail(c, line,
                    "%s: st.%s needs finite numbers (its fields a, b and c: was the domain "
                    "changed?)",
                    row->name, kname);
    if (kind >= K_UNIFORM) {
        d->kind = kind == K_UNIFORM      ? EX_DOM_UNIFORM
                  : kind == K_LOGUNIFORM ? EX_DOM_LOGUNIFORM
                                         : EX_DOM_INTUNIFORM;
        d->lo = a;
        d->hi = b;
        if (!(a <= b))
            return fail(c, line, "%s: st.%s(%g, %g): the lower end must not exceed the upper",
                        row->name, kname, a, b);
        if (d->kind == EX_DOM_LOGUNIFORM && !(a > 0))
            return fail(c, line, "%s: st.loguniform(%g, %g): the ends must be positive", row->name,
                        a, b);
        if (d->kind == EX_DOM_INTUNIFORM && (a != floor(a) || b != floor(b)))
            return fail(c, line, "%s: st.intuniform(%g, %g): the ends must be whole numbers",
                        row->name, a, b);
        if (row->type != ST_PT_REAL && d->kind != EX_DOM_INTUNIFORM)
            return fail(c, line, "%s is a %s parameter: use st.intuniform or a list", row->name,
                        row->type == ST_PT_INT ? "whole-number" : "choice");
        if (ex_ptab_check(c->t, d->param, a, &err) != 0 ||
            ex_ptab_check(c->t, d->param, b, &err) != 0)
            return fail(c, line, "%s", err.msg);
        return 0;
    }
    if (kind == K_RANGE) {
        double q;
        if (!(z != 0))
            return fail(c, line, "%s: st.range(%g, %g, %g): needs finite ends and a step",
                        row->name, a, b, z);
        q = (b - a) / z;
        n = !(q >= -1e-9) ? 0 : q > 1e18 ? (uint64_t)1e18 : (uint64_t)(floor(q + 1e-9) + 1);
    } else if (kind == K_POW2) {
        if (!(a > 0) || !(b >= a))
            return fail(c, line, "%s: st.pow2(%g, %g): needs 0 < lo <= hi", row->name, a, b);
        n = (uint64_t)(floor(log2(b)) - ceil(log2(a)) + 1);
    } else {
        if (!(z >= 1) || z != floor(z))
            return fail(c, line,
                        "%s: st.%s(%g, %g, %g): the count must be a whole number of at "
                        "least 1",
                        row->name, kname, a, b, z);
        if (kind == K_LOGSPACE && !(a > 0 && b > 0))
            return fail(c, line, "%s: st.logspace(%g, %g, %g): the ends must be positive",
                        row->name, a, b, z);
        n = z > 1e18 ? (uint64_t)1e18 : (uint64_t)z;
    }
    if (n == 0)
        return fail(c, line, "%s: st.%s(%g, %g%s) has no values (the space is empty)", row->name,
                    kname, a, b, kind != K_POW2 ? ", ..." : "");
    if (n > LIST_MAX)
        return fail(c, line, "%s: st.%s gives %s%llu values: at most %d per parameter", row->name,
                    kname, n >= (uint64_t)1e18 ? "more than " : "", (unsigned long long)n,
                    LIST_MAX);
    d->v = malloc(n * sizeof *d->v);
    if (!d->v)
        return fail(c, line, "%s: out of memory for %llu values", row->name, (unsigned long long)n);
    lo = dom_value(kind, a, b, z, n, 0);
    hi = dom_value(kind, a, b, z, n, n - 1);
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (interval &&
        (list_push(c, L, d, seen, lo, line) != 0 || list_push(c, L, d, seen, hi, line) != 0))
        return -1;
    d->n = 0;
    for (uint64_t k = 0; k < n; k++) {
        double v = dom_value(kind, a, b, z, n, k);
        if (k % POLL_VALUES == POLL_VALUES - 1 && ex_lua_poll_stop(L))
            return fail(c, line, "%s: stopped by a signal while expanding st.%s", row->name, kname);
        if (interval) {
            v = v < lo ? lo : v > hi ? hi : v;
            if (row->type == ST_PT_INT && v != floor(v)) {
                char msg[64];
                ex_ptab_format(c->t, d->param, v, msg, sizeof msg);
                return fail(c, line, "%s = %s: must be a whole number", row->name, msg);
            }
            if (d->n == 0 || d->v[d->n - 1] != v)
                d->v[d->n++] = v;
        } else if (list_push(c, L, d, seen, v, line) != 0)
            return -1;
    }
    return 0;
}

/* Read the values of parameter row i at idx (a list, a helper's domain or one value)
 * into a new dimension of the space. */
static int read_dim(rctx *c, lua_State *L, int idx, int i, const char *section, ex_sweep *sw)
{
    const st_param *row = &c->t->rows[i];
    int line = find_line(c, section, row->name), rc = -1, mt;
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
    if (lua_type(L, idx) == LUA_TTABLE && (mt = luaL_getmetafield(L, idx, "__name")) != LUA_TNIL) {
        int dom = mt == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "st.domain");
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

    if (!cstring(L, key))
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

/* One network value at idx (a built-in name, a layer list "NAME.csv" or st.network{...})
 * added to sw; *index is its index among the sweep's networks. */
static int net_value(rctx *c, lua_State *L, int idx, int line, ex_sweep *sw, int *index)
{
    ex_netspec spec;
    st_err err;
    st_net *net = NULL;
    int ty = lua_type(L, idx), rc = -1;

    idx = lua_absindex(L, idx);
    ex_netspec_init(&spec);
    st_err_clear(&err);
    if (ty == LUA_TSTRING && cstring(L, idx) && is_csv(lua_tostring(L, idx))) {
        char *path = csv_path(c->path, lua_tostring(L, idx));
        if (!path)
            return luaL_error(L, "out of memory");
        if (ex_netspec_load_csv(&spec, path, &err) != 0) {
            fail(c, line, "network = '%s': %s", lua_tostring(L, idx), err.msg);
            free(path);
            goto done;
        }
        free(path);
    } else if (ty == LUA_TSTRING && cstring(L, idx)) {
        if (st_net_builtin(lua_tostring(L, idx), &net, &err) != 0) {
            fail(c, line, "network = '%s': %s", lua_tostring(L, idx), err.msg);
            goto done;
        }
        st_net_destroy(&net);
        spec.builtin = 1;
        snprintf(spec.name, sizeof spec.name, "%s", lua_tostring(L, idx));
    } else if (ty == LUA_TUSERDATA && luaL_testudata(L, idx, "st.network")) {
        const ex_netspec *u = lua_touserdata(L, idx);
        snprintf(spec.name, sizeof spec.name, "%s", u->name);
        spec.c = u->c;
        spec.h = u->h;
        spec.w = u->w;
        for (int i = 0; i < u->n; i++)
            if (ex_netspec_push(&spec, &u->ops[i], &err) != 0) {
                ex_netspec_fini(&spec);
                return luaL_error(L, "%s", err.msg);
            }
    } else {
        fail(c, line,
             "network = %s: must be a built-in name (st.networks()), a layer list "
             "('NAME.csv') or st.network{...}",
             shown(L, idx));
        goto done;
    }
    /* Network names label a column of choices, which commas would split. */
    if (strchr(spec.name, ',')) {
        fail(c, line, "network '%s': a network name with a comma cannot label its points",
             spec.name);
        goto done;
    }
    if (ex_sweep_add_net(sw, &spec, index, &err) != 0) {
        fail(c, line, "%s", err.msg);
        goto done;
    }
    rc = 0;
done:
    ex_netspec_fini(&spec);
    return rc;
}

/* One trace value at idx, a file name (relative to the script's folder, as layer lists);
 * *index is 1 + its index among the sweep's traces, which are read once the networks are
 * known (nets_traces_load), or 0 for "none". */
static int trace_value(rctx *c, lua_State *L, int idx, int line, ex_sweep *sw, int *index)
{
    ex_tracemem **grown, *t = NULL;
    const char *name = cstring(L, idx);
    st_err err;

    st_err_clear(&err);
    if (!name || !*name || strchr(name, ','))
        return fail(c, line,
                    "trace = %s: must be the name of a trace file that sttrain --trace wrote "
                    "(without a comma)",
                    shown(L, idx));
    /* "none": the sparsity model, so that a list can set traces beside the model. */
    if (!strcmp(name, "none")) {
        *index = 0;
        return 0;
    }
    for (*index = 0; *index < sw->ntrace; ++*index)
        if (!strcmp(sw->traces[*index]->path, name)) {
            ++*index;
            return 0;
        }
    if (!(grown = realloc(sw->traces, ((size_t)sw->ntrace + 1) * sizeof *grown)) ||
        ex_tracemem_create(name, 0, &t, &err) != 0) {
        if (grown)
            sw->traces = grown;
        return luaL_error(L, "out of memory");
    }
    sw->traces = grown;
    sw->traces[sw->ntrace++] = t;
    *index = sw->ntrace;
    return 0;
}

/* The value of `network` or `trace` at idx, in section (NULL: the sweep's own field): one
 * value (fixed), or in `params` or the sweep's field a list of them (swept). */
static int named_values(rctx *c, lua_State *L, int idx, const char *section, int row, ex_sweep *sw)
{
    const char *name = c->t->rows[row].name;
    int line = find_line(c, section, name), index = 0, n, list;
    ex_dim d;
    st_err err;

    idx = lua_absindex(L, idx);
    if (check_dup(c, sw, row, section ? section : name) != 0)
        return -1;
    /* A plain table is a list; anything else (a string, st.network{...}) one value. */
    list = lua_type(L, idx) == LUA_TTABLE && !lua_getmetatable(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE && !list)
        lua_pop(L, 1);
    if (!list) {
        if ((row == c->t->net_row ? net_value(c, L, idx, line, sw, &index)
                                  : trace_value(c, L, idx, line, sw, &index)) != 0)
            return -1;
        sw->base[row] = index;
        sw->role[row] = EX_ROLE_FIXED;
        return 0;
    }
    if (section && strcmp(section, "params") != 0)
        return fail(c, line, "%s: %s takes one value, not a list", section, name);
    n = (int)lua_rawlen(L, idx);
    if (n < 1 || n > 4096)
        return fail(c, line, "%s = %s: must be a list of 1 to 4096 values", name, shown(L, idx));
    memset(&d, 0, sizeof d);
    d.param = row;
    d.kind = EX_DOM_LIST;
    if (!(d.v = malloc((size_t)n * sizeof *d.v)))
        return luaL_error(L, "out of memory");
    for (int i = 1; i <= n; i++) {
        int rc, seen = 0;
        lua_rawgeti(L, idx, i);
        rc = row == c->t->net_row ? net_value(c, L, -1, line, sw, &index)
                                  : trace_value(c, L, -1, line, sw, &index);
        lua_pop(L, 1);
        if (rc != 0) {
            free(d.v);
            return -1;
        }
        for (uint64_t k = 0; k < d.n; k++)
            seen |= d.v[k] == index;
        if (!seen)
            d.v[d.n++] = index;
    }
    st_err_clear(&err);
    if (ex_space_add(&sw->space, &d, &err) != 0)
        return luaL_error(L, "%s", err.msg);
    sw->role[row] = EX_ROLE_SWEPT;
    return 0;
}

/* train = {epochs = 1, batch = 64, ...}: a training per point (sttrain's settings). */
static int train_read(rctx *c, lua_State *L, int idx, ex_sweep *sw)
{
    static const char *const keys[] = {"epochs",       "batch",        "lr",
                                       "momentum",     "weight_decay", "seed",
                                       "train_images", "test_images",  NULL};
    ex_train *tr = &sw->train;
    int line = find_line(c, NULL, "train");

    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        return fail(c, line, "train = %s: must be a table {epochs = N, train_images = N, ...}",
                    shown(L, idx));
    tr->on = 1;
    tr->epochs = 1;
    tr->batch = 64;
    tr->lr = 0.01;
    tr->momentum = 0.9;
    tr->weight_decay = 5e-4;
    tr->seed = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int i = 0, isnum = lua_type(L, -1) == LUA_TNUMBER;
        double v = lua_tonumber(L, -1);
        while (k && keys[i] && strcmp(keys[i], k))
            i++;
        if (!k || !keys[i])
            return fail(c, line,
                        "train: unknown setting %s (settings: epochs, batch, lr, momentum, "
                        "weight_decay, seed, train_images, test_images)",
                        shown(L, -2));
        line = find_line(c, "train", k);
        /* The integer settings and their bounds are sttrain's. */
        if (!isnum || !isfinite(v) || (i != 2 && i != 3 && i != 4 && v != floor(v)) ||
            (i == 0 && (v < 1 || v > 1000)) || (i == 1 && (v < 1 || v > 65536)) ||
            (i == 2 && !(v > 0)) || (i >= 3 && i <= 4 && v < 0) ||
            (i == 5 && (v < 0 || v > 2147483647.0)) || (i >= 6 && (v < 0 || v > 1e7)))
            return fail(c, line, "train: %s = %s: must be %s", k, shown(L, -1),
                        i == 0   ? "a whole number in [1, 1000]"
                        : i == 1 ? "a whole number in [1, 65536]"
                        : i == 2 ? "a number > 0"
                        : i <= 4 ? "a number >= 0"
                        : i == 5 ? "a whole number in [0, 2147483647]"
                                 : "a whole number in [0, 10000000] (0: all)");
        switch (i) {
        case 0:
            tr->epochs = (long)v;
            break;
        case 1:
            tr->batch = (int)v;
            break;
        case 2:
            tr->lr = v;
            break;
        case 3:
            tr->momentum = v;
            break;
        case 4:
            tr->weight_decay = v;
            break;
        case 5:
            tr->seed = (uint64_t)v;
            break;
        case 6:
            tr->train_images = (long)v;
            break;
        default:
            tr->test_images = (long)v;
            break;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* With every network known: name the choices of `network`, read each trace (of one of the
 * networks), name the choices of `trace`, and refuse a fixed batch larger than a trace. */
static int nets_traces_load(rctx *c, ex_sweep *sw, long iter)
{
    const ex_ptab *t = c->t;
    const char **names = NULL;
    uint64_t *fps = NULL;
    ex_nets ns;
    st_err err;
    char tnet[ST_NAME_MAX];
    int bad_net, bad_op, rc = -1, brow = ex_ptab_find(t, "batch");

    st_err_clear(&err);
    if (ex_nets_build(&ns, sw->nets, sw->nnet, &bad_net, &bad_op, &err) != 0) {
        fail(c, find_line(c, NULL, "network"), "network '%s': %s",
             bad_net >= 0 ? sw->nets[bad_net].name : "?", err.msg);
        return -1;
    }
    names = calloc((size_t)(sw->nnet > sw->ntrace ? sw->nnet : sw->ntrace) + 1, sizeof *names);
    fps = calloc((size_t)(sw->nnet > sw->ntrace ? sw->nnet : sw->ntrace) + 1, sizeof *fps);
    if (!names || !fps) {
        fail(c, 0, "out of memory");
        goto done;
    }
    for (int i = 0; i < sw->nnet; i++)
        names[i] = sw->nets[i].name;
    if (ex_ptab_set_labels(c->tw, t->net_row, names, ns.fp, sw->nnet, &err) != 0) {
        fail(c, 0, "%s", err.msg);
        goto done;
    }
    names[0] = "none";
    fps[0] = 0;
    for (int i = 0; i < sw->ntrace; i++) {
        ex_tracemem *tm = NULL;
        char *label = sw->traces[i]->path, *path = csv_path(c->path, label);
        uint64_t fp = 0;
        int k = 0, line = find_line(c, NULL, "trace");

        if (!path) {
            fail(c, 0, "out of memory");
            goto done;
        }
        if (ex_trace_network(path, tnet, sizeof tnet, &fp, &err) != 0) {
            fail(c, line, "trace = '%s': %s", label, err.msg);
            free(path);
            goto done;
        }
        while (k < ns.n && ns.fp[k] != fp)
            k++;
        if (k == ns.n) {
            char *list = ex_ptab_labels_text(t, t->net_row);
            if (ns.n > 1)
                fail(c, line,
                     "trace = '%s': a trace of network '%s', not of any of the sweep's networks "
                     "(%s)",
                     label, tnet, list ? list : "?");
            else
                fail(c, line, "trace = '%s': a trace of network '%s', not of the sweep's '%s'",
                     label, tnet, list ? list : "?");
            free(list);
            free(path);
            goto done;
        }
        if (ex_trace_load(path, ns.net[k], iter, &tm, &err) != 0) {
            fail(c, line, "trace = '%s': %s", label, err.msg);
            free(path);
            goto done;
        }
        free(path);
        /* The name the script gave labels the trace; the loaded masks replace the stub. */
        free(tm->path);
        tm->path = label;
        sw->traces[i]->path = NULL;
        ex_tracemem_destroy(&sw->traces[i]);
        sw->traces[i] = tm;
        tm->net = k;
        names[i + 1] = tm->path;
        fps[i + 1] = tm->fp;
        if (brow >= 0 && sw->role[brow] != EX_ROLE_SWEPT && sw->role[brow] != EX_ROLE_DERIVED &&
            sw->base[brow] > tm->images) {
            fail(c, find_line(c, NULL, "batch"),
                 "batch = %g: trace '%s' holds %d images of %s (sttrain --batch sets how many)",
                 sw->base[brow], label, tm->images, tm->iter);
            goto done;
        }
    }
    if (ex_ptab_set_labels(c->tw, t->trace_row, names, fps, sw->ntrace + 1, &err) != 0) {
        fail(c, 0, "%s", err.msg);
        goto done;
    }
    rc = 0;
done:
    free(names);
    free(fps);
    ex_nets_fini(&ns);
    return rc;
}

static int sweep_gc(lua_State *L)
{
    ex_sweep_fini(lua_touserdata(L, 1));
    return 0;
}

/* Past a string literal or comment that starts at p, or p itself when none does. Long
 * brackets ([[...]], [==[...]==], --[[...]]) are skipped whole. */
static const char *skip_literal(const char *p)
{
    int comment = p[0] == '-' && p[1] == '-', level = 0;
    const char *q = comment ? p + 2 : p;

    if (q[0] == '[') {
        const char *r = q + 1;
        while (*r == '=')
            r++, level++;
        if (*r == '[') {
            for (r++; *r; r++) {
                int k = 0;
                if (*r != ']')
                    continue;
                while (k < level && r[1 + k] == '=')
                    k++;
                if (k == level && r[1 + k] == ']')
                    return r + 2 + k;
            }
            return r;
        }
    }
    if (comment)
        return q + strcspn(q, "\n");
    if (*p == '"' || *p == '\'') {
        for (q = p + 1; *q && *q != *p && *q != '\n'; q++)
            if (*q == '\\' && q[1])
                q++;
        return *q == *p ? q + 1 : q;
    }
    return p;
}

/* The entries of the list written at brace (its '{'): the commas at its own depth, plus
 * one when something follows the last; 0 for {}. Keyed entries count too, so a caller
 * compares only with the length of a plain list, and only when the text has no more. */
static int list_items(const char *brace)
{
    int depth = 0, n = 0, pending = 0;

    for (const char *p = brace; *p; p++) {
        const char *q = skip_literal(p);
        if (q != p) {
            p = q - 1;
            pending = 1;
            continue;
        }
        if (*p == '{' || *p == '(' || *p == '[') {
            if (depth++ > 0)
                pending = 1;
        } else if (*p == '}' || *p == ')' || *p == ']') {
            if (--depth == 0)
                break;
        } else if (depth == 1 && (*p == ',' || *p == ';')) {
            n += pending;
            pending = 0;
        } else if (depth >= 1 && !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
            pending = 1;
        }
    }
    return n + pending;
}

/* A table written in the text at brace (its '{') whose field `key = value` is written but
 * missing from the table at idx, whose keys are those of `known` (a parameter name, or
 * one of the names list): the value was nil, an undefined local or a misspelt field
 * (`pe_rows = cfg.row`). Lua drops such a field silently, so the text is read. Returns 0,
 * or -1 with c->msg naming the line and the key. */
static int nil_fields(rctx *c, lua_State *L, int idx, const char *brace,
                      const char *const *names, const char *section)
{
    int depth = 0, field_start = 0;

    for (const char *p = brace; *p; p++) {
        const char *q = skip_literal(p);
        if (q != p) {
            p = q - 1;
            continue;
        }
        if (*p == '{' || *p == '(' || *p == '[') {
            depth++;
            field_start = depth == 1;
        } else if (*p == '}' || *p == ')' || *p == ']') {
            if (--depth == 0)
                break;
        } else if (depth == 1 && (*p == ',' || *p == ';')) {
            field_start = 1;
        } else if (is_ident(*p) && (p == brace || !is_ident(p[-1]))) {
            const char *e = p, *eq;
            char key[64];
            int known = 0, start = depth == 1 && field_start;
            while (is_ident(*e))
                e++;
            for (eq = e; *eq == ' ' || *eq == '\t' || *eq == '\r' || *eq == '\n'; eq++)
                ;
            field_start = 0;
            snprintf(key, sizeof key, "%.*s", (int)(e - p < 63 ? e - p : 63), p);
            /* A function body's blocks nest like brackets, so its locals are no fields. */
            if (!strcmp(key, "function") || !strcmp(key, "if") || !strcmp(key, "do") ||
                !strcmp(key, "repeat"))
                depth++;
            else if (!strcmp(key, "end") || !strcmp(key, "until"))
                depth--;
            else if (start && (size_t)(e - p) < sizeof key && eq[0] == '=' && eq[1] != '=') {
                snprintf(key, sizeof key, "%.*s", (int)(e - p), p);
                if (names)
                    for (int k = 0; names[k] && !known; k++)
                        known = !strcmp(names[k], key);
                else
                    known = ex_ptab_find(c->t, key) >= 0;
                if (known && lua_getfield(L, idx, key) == LUA_TNIL) {
                    lua_pop(L, 1);
                    return fail(c, line_at(c->text, p),
                                "%s%s%s = nil: the value is nil (an undefined local or a "
                                "misspelt field?)",
                                section ? section : "", section ? ": " : "", key);
                }
                if (known) {
                    const char *v = eq + 1;
                    while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
                        v++;
                    /* A list of values written in place with a nil among them: {4, x}
                     * with x nil reads as {4}, {x, 8} as a list with a hole. */
                    if ((!names || !strcmp(key, "batch")) && *v == '{' &&
                        lua_type(L, -1) == LUA_TTABLE && !lua_getmetatable(L, -1)) {
                        int written = list_items(v), hole = 0;
                        for (int k = 1; k <= written && !hole; k++) {
                            hole = lua_rawgeti(L, -1, k) == LUA_TNIL ? k : 0;
                            lua_pop(L, 1);
                        }
                        if (hole) {
                            lua_pop(L, 1);
                            return fail(c, line_at(c->text, p),
                                        "%s%s%s: value %d of the %d written is nil (an "
                                        "undefined local or a misspelt field?)",
                                        section ? section : "", section ? ": " : "", key, hole,
                                        written);
                        }
                    }
                    lua_pop(L, 1);
                }
            }
            p = e - 1;
        } else if (!(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
            field_start = 0;
        }
    }
    return 0;
}

/* The '{' that opens the table written as `section = {`, or NULL when it is written
 * otherwise (a variable, a call). */
static const char *section_brace(const rctx *c, const char *section)
{
    const char *p = find_key(c->text, c->text, section);

    if (!p)
        return NULL;
    p = strchr(p, '=') + 1;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return *p == '{' ? p : NULL;
}

/* The protected resolver: (sweep table, rctx) -> the sweep box, or nil and a message.
 * Everything it allocates hangs off the box, whose __gc frees it if Lua raises. */
static int l_resolve(lua_State *L)
{
    static const char *const fields[] = {"name",  "description", "network", "batch",  "params",
                                         "fixed", "derived",     "sample",  "where",  "keep",
                                         "seed",  "common_seed", "eval",    "detail", "trace_iter",
                                         "train", NULL};
    rctx *c = lua_touserdata(L, 2);
    const ex_ptab *t = c->t;
    ex_sweep *sw;
    char msg[512];
    int T = 1, row, ty, given;
    long trace_iter;
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
                 "derived, sample, where, keep, seed, common_seed, eval, detail, trace_iter, "
                 "train, description)",
                 shown(L, -1));
            goto fail;
        }
    }

    /* A field written with a nil value is missing from the table: find it in the text. */
    {
        const char *ret = NULL, *b;
        for (const char *p = strstr(c->text, "return"); p; p = strstr(p + 1, "return"))
            ret = p;
        /* `return st.sweep {`, `return st.sweep({` or `return {` */
        for (b = ret ? ret + 6 : ""; *b && *b != '{'; b++)
            if (!(is_ident(*b) || *b == '.' || *b == '(' || *b == ' ' || *b == '\t' ||
                  *b == '\r' || *b == '\n'))
                break;
        if (*b == '{' && nil_fields(c, L, T, b, fields, NULL) != 0)
            goto fail;
    }
    for (int k = 0; k < 3; k++) {
        static const char *const secs[] = {"params", "fixed", "derived"};
        const char *b = section_brace(c, secs[k]);
        if (b && lua_getfield(L, T, secs[k]) == LUA_TTABLE &&
            nil_fields(c, L, lua_gettop(L), b, NULL, secs[k]) != 0)
            goto fail;
        if (b)
            lua_pop(L, 1);
    }

    /* name: it names the output file, so it is kept to safe characters. */
    if (lua_getfield(L, T, "name") != LUA_TSTRING || !cstring(L, -1) || lua_rawlen(L, -1) == 0 ||
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

    /* network: a built-in name, a layer list (*.csv) or st.network{...}, or a list of them */
    if (lua_getfield(L, T, "network") != LUA_TNIL &&
        named_values(c, L, -1, NULL, t->net_row, sw) != 0)
        goto fail;
    lua_pop(L, 1);
    if (opt_u64(c, L, T, "trace_iter", NULL, &u, &given) != 0)
        goto fail;
    trace_iter = given ? (long)(u > 100000000 ? 100000000 : u) : -1;

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
    if (ty == LUA_TNIL || (cstring(L, -1) && !strcmp(lua_tostring(L, -1), "sim")))
        sw->eval = EX_EVAL_SIM;
    else if (cstring(L, -1) && !strcmp(lua_tostring(L, -1), "none"))
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
            if (param_row(c, L, -2, "params", &row) != 0)
                goto fail;
            if (row == t->net_row || row == t->trace_row) {
                if (named_values(c, L, -1, "params", row, sw) != 0)
                    goto fail;
            } else if (check_dup(c, sw, row, "params") != 0 ||
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
            if (param_row(c, L, -2, "fixed", &row) != 0)
                goto fail;
            if (row == t->net_row || row == t->trace_row) {
                if (named_values(c, L, -1, "fixed", row, sw) != 0)
                    goto fail;
                lua_pop(L, 1);
                continue;
            }
            if (check_dup(c, sw, row, "fixed") != 0)
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
            if (row == t->net_row || row == t->trace_row) {
                fail(c, find_line(c, "derived", t->rows[row].name),
                     "derived %s: the networks and traces of a sweep are listed, not computed "
                     "(use params)",
                     t->rows[row].name);
                goto fail;
            }
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
    if (sw->nnet == 0) {
        fail(c, c->sweep_line,
             "the sweep needs a network (network = a built-in name, 'NAME.csv' or "
             "st.network{...}, or a list of them in params)");
        goto fail;
    }
    if (nets_traces_load(c, sw, trace_iter) != 0)
        goto fail;
    if (lua_getfield(L, T, "train") != LUA_TNIL) {
        int brow = ex_ptab_find(t, "batch");
        if (train_read(c, L, -1, sw) != 0)
            goto fail;
        if (sw->role[t->trace_row] != EX_ROLE_DEFAULT) {
            fail(c, find_line(c, NULL, "train"),
                 "train: the points replay the traces of their own training; the sweep cannot "
                 "set trace too");
            goto fail;
        }
        if (brow >= 0 && sw->role[brow] != EX_ROLE_SWEPT && sw->role[brow] != EX_ROLE_DERIVED &&
            sw->base[brow] > sw->train.batch) {
            fail(c, find_line(c, NULL, "batch"),
                 "batch = %g: more than the training's batch of %d (train.batch): the points "
                 "replay one batch of their training",
                 sw->base[brow], sw->train.batch);
            goto fail;
        }
    }
    lua_pop(L, 1);

    /* sample: "grid", st.random{...} or st.lhs{...} */
    ty = lua_getfield(L, T, "sample");
    if (ty == LUA_TNIL || (cstring(L, -1) && !strcmp(lua_tostring(L, -1), "grid"))) {
        sw->space.sampler = EX_GRID;
    } else if (ty == LUA_TTABLE && lua_getfield(L, -1, "method") == LUA_TSTRING && cstring(L, -1) &&
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
/* The __index of point and metric tables: a name that is not there is a typo (p.pe_row
 * would be nil, and `p.pe_row ~= 4` true for every point), so reading it is an error. The
 * upvalue says which table: "p" or "m". */
static int l_no_field(lua_State *L)
{
    const char *what = lua_tostring(L, lua_upvalueindex(1));
    const char *key = luaL_tolstring(L, 2, NULL);
    st_point pt;
    st_err err;

    if (what[0] == 'm')
        return luaL_error(L, "m.%s: no metric '%s' (st.metrics() lists them)", key, key);
    st_point_init(&pt);
    st_err_clear(&err);
    st_point_set_num(&pt, key, 0, &err); /* its message suggests the name meant */
    return luaL_error(L, "p.%s: %s", key, err.msg);
}

/* Set the metatable of the table at the top: registry["ex.strict_p"] or ["ex.strict_m"],
 * made at the first use. */
static void set_strict(lua_State *L, const char *what)
{
    char name[32];

    snprintf(name, sizeof name, "ex.strict_%s", what);
    if (luaL_newmetatable(L, name)) {
        lua_pushstring(L, what);
        lua_pushcclosure(L, l_no_field, 1);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
}

static void push_point(lua_State *L, const ex_ptab *t, const double *vals)
{
    lua_createtable(L, 0, t->n);
    set_strict(L, "p");
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

/* Call the script's function below its nargs arguments, as ex_lua_call does. A message
 * that names no position (the memory cap, a coroutine.yield outside a coroutine) gets the
 * script, the line where the function is defined and which hook it is. */
static int call_hook(ex_script *s, const char *what, int nargs, int nres, st_err *err)
{
    lua_State *L = ex_lua_state(s->lua);
    lua_Debug ar;
    char src[LUA_IDSIZE] = "";
    int line = 0, rc;

    lua_pushvalue(L, -1 - nargs);
    if (lua_getinfo(L, ">S", &ar)) {
        line = ar.linedefined;
        if (ar.what[0] != 'C')
            snprintf(src, sizeof src, "%s", ar.short_src);
    }
    rc = ex_lua_call(s->lua, nargs, nres, err);
    if (rc != 0 && rc != EX_ESTOPPED && (!src[0] || strncmp(err->msg, src, strlen(src)) != 0)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        if (line > 0)
            st_err_set(err, rc, "%s:%d: in %s: %s", s->path, line, what, msg);
        else
            st_err_set(err, rc, "%s: in %s: %s", s->path, what, msg);
    }
    return rc;
}

static int hook_derive(void *ctx, double *vals, st_err *err)
{
    ex_script *s = ctx;
    lua_State *L = ex_lua_state(s->lua);
    char msg[512], what[80];
    int rc = ST_OK, P;

    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_derived);
    push_point(L, s->ptab, vals);
    P = lua_gettop(L);
    for (int k = 0; k < s->nderived; k++) {
        int i = s->derived_rows[k];
        const char *name = s->ptab->rows[i].name;
        lua_Debug ar;
        int line = 0;
        lua_getfield(L, P - 1, name);
        lua_pushvalue(L, -1);
        if (lua_getinfo(L, ">S", &ar))
            line = ar.linedefined;
        lua_pushvalue(L, P);
        snprintf(what, sizeof what, "derived %s", name);
        if ((rc = call_hook(s, what, 1, 1, err)) != 0)
            goto done;
        /* Types are the script's to get right; ranges are the point's (it fails alone). */
        if (to_value(L, -1, s->ptab, i, 0, &vals[i], msg, sizeof msg) != 0) {
            if (line > 0)
                rc = st_err_set(err, ST_EINVAL, "%s:%d: derived %s", s->path, line, msg);
            else
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
    if ((rc = call_hook(s, "where", 1, 1, err)) == 0) {
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
    set_strict(L, "m");
    for (int i = 0; i < n; i++) {
        if (m[i].type == EX_U64)
            lua_pushinteger(L, (lua_Integer)rec->metrics[i].u);
        else
            lua_pushnumber(L, rec->metrics[i].f);
        lua_setfield(L, -2, m[i].name);
    }
    push_point(L, s->ptab, rec->vals);
    if ((rc = call_hook(s, "keep", 2, 1, err)) == 0) {
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

/* The line where brackets, braces and parentheses first nest 150 deep (Lua's parser
 * allows about 200 C levels), strings and comments skipped roughly; 1 if none. */
static int deep_line(const char *text)
{
    int depth = 0, line = 1;

    for (const char *c = text; *c; c++) {
        if (*c == '\n')
            line++;
        else if (c[0] == '-' && c[1] == '-')
            while (c[1] && c[1] != '\n')
                c++;
        else if (*c == '"' || *c == '\'') {
            char q = *c;
            while (c[1] && c[1] != q && c[1] != '\n')
                c += c[1] == '\\' && c[2] ? 2 : 1;
            if (c[1])
                c++;
        } else if (*c == '(' || *c == '{' || *c == '[') {
            if (++depth >= 150)
                return line;
        } else if (*c == ')' || *c == '}' || *c == ']')
            depth--;
    }
    return 1;
}

int ex_script_load(ex_lua *lua, const char *path, ex_ptab *ptab, ex_script **out, st_err *err)
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
        const char *m = lua_tostring(L, -1);
        if (m && strncmp(m, path, strlen(path)) == 0)
            rc = st_err_set(err, ST_EINVAL, "%s", m);
        else /* the parser's own limits ("C stack overflow") name no line */
            rc = st_err_set(err, ST_EINVAL, "%s:%d: %s (nested deeper than Lua's parser allows)",
                            path, deep_line(s->text), m ? m : "cannot load");
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
    c.tw = ptab;
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
        /* An expansion that a stop signal cut short says so, and is a stop. */
        rc = st_err_set(err, ex_lua_stopped(lua) ? EX_ESTOPPED : ST_EINVAL, "%s",
                        lua_tostring(L, -1));
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

ex_sweep *ex_script_sweep_edit(ex_script *s)
{
    return &s->sw;
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
