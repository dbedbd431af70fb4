/*
 * tap.h - a minimal Test Anything Protocol producer for the C tests.
 * Header-only on purpose: each test is one executable that includes it once.
 * Every assertion carries a stable id in its description ("prune-1.3 ...").
 */
#ifndef ST_TAP_H
#define ST_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run_, tap_failed_, tap_planned_ = -1;

static inline void tap_plan(int n)
{
    tap_planned_ = n;
    printf("1..%d\n", n);
}

static inline void tap_vreport_(int ok, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
static inline void tap_vreport_(int ok, const char *fmt, va_list ap)
{
    tap_run_++;
    if (!ok)
        tap_failed_++;
    printf("%sok %d - ", ok ? "" : "not ", tap_run_);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

/* Report one assertion; return cond so callers can add diagnostics. */
static inline int ok(int cond, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vreport_(cond != 0, fmt, ap);
    va_end(ap);
    return cond != 0;
}

/* A diagnostic line, shown by prove -v and on failure. */
static inline void diag(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static inline void skip(const char *why, const char *id)
{
    tap_run_++;
    printf("ok %d - %s # SKIP %s\n", tap_run_, id, why);
}

/* Equality of integers and closeness of doubles, with the values printed. */
#define ok_eq_u64(got, want, ...)                                                          \
    do {                                                                                   \
        unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
        if (!ok(g_ == w_, __VA_ARGS__))                                                    \
            diag("  got %llu, want %llu", g_, w_);                                         \
    } while (0)

#define ok_near(got, want, tol, ...)                                             \
    do {                                                                         \
        double g_ = (double)(got), w_ = (double)(want), t_ = (double)(tol);      \
        if (!ok(fabs(g_ - w_) <= t_, __VA_ARGS__))                               \
            diag("  got %.10g, want %.10g within %.3g (off by %.3g)", g_, w_, t_, \
                 fabs(g_ - w_));                                                 \
    } while (0)

/* Does s contain every one of the NULL-terminated needles? */
static inline int tap_has_all(const char *s, ...)
{
    va_list ap;
    const char *n;
    int all = 1;
    va_start(ap, s);
    while ((n = va_arg(ap, const char *)) != NULL)
        if (!s || !strstr(s, n))
            all = 0;
    va_end(ap);
    return all;
}

/* Close the plan; the exit status is non-zero when anything failed. */
static inline int tap_done(void)
{
    if (tap_planned_ < 0)
        printf("1..%d\n", tap_run_);
    else if (tap_planned_ != tap_run_) {
        diag("planned %d tests but ran %d", tap_planned_, tap_run_);
        return 1;
    }
    return tap_failed_ ? 1 : 0;
}

#endif
