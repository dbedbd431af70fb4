/*
 * ex_netfile.c - a network read from a Lua file: the file returns st.network{...}, or a
 * sweep table whose `network` is one (or a built-in name). The Lua syntax is ex_luamod.c's.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex.h"

/* Copy the network value at the top of L's stack into out. */
static int take_value(lua_State *L, const char *path, ex_netspec *out, st_err *err)
{
    const ex_netspec *s;
    int rc = ST_OK;

    if (lua_type(L, -1) == LUA_TSTRING) {
        st_net *net = NULL;
        if ((rc = st_net_builtin(lua_tostring(L, -1), &net, err)) != 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return st_err_set(err, rc, "%s: network: %s", path, msg);
        }
        st_net_destroy(&net);
        out->builtin = 1;
        snprintf(out->name, sizeof out->name, "%s", lua_tostring(L, -1));
        return ST_OK;
    }
    s = luaL_testudata(L, -1, "st.network");
    if (!s)
        return st_err_set(err, ST_EINVAL,
                          "%s: the file must return st.network{...} or a sweep with a network, "
                          "not %s",
                          path, luaL_typename(L, -1));
    snprintf(out->name, sizeof out->name, "%s", s->name);
    out->c = s->c, out->h = s->h, out->w = s->w;
    for (int i = 0; i < s->n && rc == ST_OK; i++)
        rc = ex_netspec_push(out, &s->ops[i], err);
    return rc;
}

int ex_netspec_load(const char *path, ex_netspec *out, st_err *err)
{
    ex_lua_opts o;
    ex_lua *lua = NULL;
    lua_State *L;
    char *dir = NULL, *slash;
    int rc;

    ex_netspec_fini(out);
    ex_lua_opts_init(&o);
    if ((rc = ex_lua_create(&o, &lua, err)) != 0)
        goto done;
    L = ex_lua_state(lua);
    if (!(dir = strdup(path))) {
        rc = st_err_set(err, ST_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if ((rc = ex_lua_set_dir(lua, slash ? dir : ".", err)) != 0)
        goto done;
    /* "t" refuses precompiled chunks; luaL_loadfilex names the file in its messages */
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        rc = st_err_set(err, ST_EINVAL, "%s", lua_tostring(L, -1));
        goto done;
    }
    if ((rc = ex_lua_call(lua, 0, 1, err)) != 0)
        goto done;
    if (lua_istable(L, -1))
        lua_getfield(L, -1, "network");
    rc = take_value(L, path, out, err);
done:
    if (rc != ST_OK)
        ex_netspec_fini(out);
    free(dir);
    ex_lua_destroy(&lua);
    return rc;
}
