/*
 * t_err.c - TAP tests of the error record: a message that quotes the one it replaces (the
 * "cannot resume: %s", err->msg pattern), at every length up to the buffer, the NULL
 * record, and clearing. Expected texts are built independently with snprintf.
 */
#include <string.h>

#include "st.h"
#include "tap.h"

/* Wrap a message of length len once; the result must be "outer: " + the old text, cut to
 * the buffer, exactly as snprintf would write it into a separate buffer. */
static int wrap_ok(size_t len)
{
    st_err e;
    char inner[sizeof e.msg], want[sizeof e.msg + 8];
    int rc;

    for (size_t i = 0; i < len; i++)
        inner[i] = (char)('a' + (int)(i % 26));
    inner[len] = '\0';
    st_err_set(&e, ST_EIO, "%s", inner);
    snprintf(want, sizeof want, "outer: %s", inner);
    want[sizeof e.msg - 1] = '\0'; /* where the record cuts */
    rc = st_err_set(&e, ST_EINVAL, "outer: %s", e.msg);
    return rc == ST_EINVAL && e.code == ST_EINVAL && strcmp(e.msg, want) == 0;
}

int main(void)
{
    st_err e;
    size_t bad = 0, lens[] = {0, 1, 7, 100, 400, sizeof e.msg - 8, sizeof e.msg - 1};
    int all = 1;

    tap_plan(5);
    st_err_set(&e, ST_EIO, "cannot open %s", "p/lock/out.h5.journal");
    st_err_set(&e, ST_EINVAL, "cannot resume: %s", e.msg);
    if (!ok(strcmp(e.msg, "cannot resume: cannot open p/lock/out.h5.journal") == 0,
            "err-1.1 a message that quotes the one it replaces reads it whole"))
        diag("  got \"%s\"", e.msg);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++)
        if (!wrap_ok(lens[k])) {
            all = 0;
            bad = lens[k];
        }
    if (!ok(all, "err-1.2 wrapping works at every length up to the buffer (cut like snprintf)"))
        diag("  fails at length %zu", bad);
    /* The same message quoted twice, and as the second argument. */
    st_err_set(&e, ST_EIO, "x");
    st_err_set(&e, ST_EIO, "%s-%d-%s", e.msg, 5, e.msg);
    ok(strcmp(e.msg, "x-5-x") == 0, "err-1.3 the old message quoted twice: \"%s\"", e.msg);
    ok(st_err_set(NULL, ST_ENOMEM, "%s", "no record") == ST_ENOMEM,
       "err-1.4 a NULL record still returns the code");
    st_err_clear(&e);
    ok(e.code == ST_OK && e.msg[0] == '\0', "err-1.5 clear empties the record");
    return tap_done();
}
