/*
 * err.c - the error record every fallible core function fills.
 * Only formatting lives here; what a message says is up to its caller. A message may
 * quote the one it replaces.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "st.h"

int st_err_set(st_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof err->msg];

    if (err) {
        /* Callers may quote the message they replace ("cannot resume: %s", err->msg):
         * format into a copy, so the arguments are read whole before the buffer changes. */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        err->code = code;
        memcpy(err->msg, msg, sizeof msg);
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
