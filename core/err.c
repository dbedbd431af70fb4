/*
 * err.c - the error record every fallible core function fills.
 * Only formatting lives here; what a message says is up to its caller.
 */
#include <stdarg.h>
#include <stdio.h>

#include "st.h"

int st_err_set(st_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void st_err_clear(st_err *err)
{
    if (err) {
        err->code = ST_OK;
        err->msg[0] = '\0';
    }
}
