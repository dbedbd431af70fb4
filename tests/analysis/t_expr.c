/*
 * t_expr.c - TAP tests of the filters (an_expr): every operator, precedence, choices and
 * booleans by name, NaN, against the same expressions written in C over random rows; and
 * every error with its message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"
#include "an_test.h"
#include "tap.h"

#define ROWS 2000

enum { A = 0, B, S, F, N, COLS };

/* A table of ROWS rows: a real in [0, 1), b whole in [0, 5], s a choice (lockstep, fifo),
 * f a boolean, n a real that is NaN one time in five. a is a parameter (for params/a). */
static an_table *make_table(uint64_t *seed)
{
    static const struct {
        const char *name;
        an_group g;
        an_type type;
    } cols[COLS] = {{"a", AN_G_PARAM, AN_T_REAL},
                    {"b", AN_G_PARAM, AN_T_INT},
                    {"s", AN_G_PARAM, AN_T_ENUM},
                    {"f", AN_G_PARAM, AN_T_BOOL},
                    {"n", AN_G_METRIC, AN_T_REAL}};
    an_table *t = NULL;
    st_err err;
    int c;

    if (an_table_create("test.h5", ROWS, &t, &err) != ST_OK)
        return NULL;
    for (int j = 0; j < COLS; j++) {
        if (an_table_add(t, cols[j].name, "", cols[j].g, cols[j].type, &c, &err) != ST_OK)
            return NULL;
        t->col[c].v = malloc(ROWS * sizeof(double));
    }
    an_table_set_choices(t, S, "lockstep, fifo", &err);
    for (size_t i = 0; i < ROWS; i++) {
        t->col[A].v[i] = next_unit(seed);
        t->col[B].v[i] = (double)(next_u64(seed) % 6);
        t->col[S].v[i] = (double)(next_u64(seed) % 2);
        t->col[F].v[i] = (double)(next_u64(seed) % 2);
        t->col[N].v[i] = next_u64(seed) % 5 == 0 ? NAN : next_unit(seed);
    }
    return t;
}

/* The expressions, and what they mean written in C. */
static int truth_of(int which, const double *r)
{
    double a = r[A], b = r[B], s = r[S], f = r[F], n = r[N];

    switch (which) {
    case 0:
        return a > 0.5;
    case 1:
        return a > 0.5 && b <= 3;
    case 2:
        return a > 0.5 || !(b == 2);
    case 3:
        return a * b + 1 >= 2 * a - b / 4;
    case 4:
        return s == 1;
    case 5:
        return s != 0;
    case 6:
        return f == 0 && b > 1;
    case 7:
        return -(a - 1) < 0.3;
    case 8:
        return !isnan(n) && n > 0.5;
    case 9:
        return !isnan(n) && n != 0.5;
    case 10:
        return isnan(n);
    case 11:
        return (a > 0.2 || b == 4) && !(s == 0);
    case 12:
        return a > 0.5;
    case 13:
        return (a > 0.5 && b > 1) || s == 1;
    case 14:
        return 1;
    case 15:
        return f != 0;
    case 16:
        return 1;
    case 17:
        return b - 1 - 1 == b - 2 && a / 2 / 2 <= a;
    case 18:
        return f == 1 || b >= 5;
    case 19:
        return !(a < 0.1) && !(a >= 0.9);
    default:
        return 0;
    }
}

static const char *const texts[] = {
    "a > 0.5",
    "a > 0.5 and b <= 3",
    "a > 0.5 or not b = 2",
    "a * b + 1 >= 2 * a - b / 4",
    "s = fifo",
    "s != 'lockstep'",
    "f = false, b > 1",
    "-(a - 1) < 0.3",
    "n > 0.5",
    "n ~= 0.5",
    "not (n == n)",
    "(a > 0.2 || b == 4) && !(s = lockstep)",
    "params/a > 5e-1",
    "a > 0.5 and b > 1 or s = fifo",
    "1 + 2 * 3 = 7",
    "f",
    "true",
    "b - 1 - 1 = b - 2 and a / 2 / 2 <= a",
    "\"true\" = f or b >= +5",
    "!(a < .1) && !(a >= 0.9)",
};

static void test_values(an_table *t)
{
    size_t n = sizeof texts / sizeof texts[0];

    for (size_t k = 0; k < n; k++) {
        an_expr *e = NULL;
        st_err err;
        size_t bad = SIZE_MAX, pass = 0;
        int rc = an_expr_compile(t, texts[k], &e, &err);
        for (size_t i = 0; rc == ST_OK && i < ROWS; i++) {
            double r[COLS];
            for (int j = 0; j < COLS; j++)
                r[j] = t->col[j].v[i];
            if (an_expr_test(e, t, i) != truth_of((int)k, r) && bad == SIZE_MAX)
                bad = i;
            pass += (size_t)truth_of((int)k, r);
        }
        if (!ok(rc == ST_OK && bad == SIZE_MAX, "expr-1.%zu '%s' on %d rows (%zu pass)", k + 1,
                texts[k], ROWS, pass))
            diag("  rc %d (%s), first wrong row %zu", rc, rc ? err.msg : "", bad);
        an_expr_destroy(&e);
    }
}

static void test_eval(an_table *t)
{
    an_expr *e = NULL;
    st_err err;

    an_expr_compile(t, "2 * (3 + 4) - 10 / 4", &e, &err);
    ok(e && an_expr_eval(e, t, 0) == 11.5, "expr-2.1 arithmetic: 2 * (3 + 4) - 10 / 4 = 11.5");
    ok(e && !strcmp(an_expr_text(e), "2 * (3 + 4) - 10 / 4"), "expr-2.2 the text is kept");
    an_expr_destroy(&e);
    an_expr_compile(t, "a + 1", &e, &err);
    ok(e && an_expr_eval(e, t, 7) == t->col[A].v[7] + 1, "expr-2.3 a column's value at a row");
    an_expr_destroy(&e);
    an_expr_destroy(&e);
    ok(e == NULL, "expr-2.4 destroy sets NULL and accepts NULL");
}

static void test_errors(an_table *t)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"a > ", "filter 'a > ': expected a number, a column name or '(' at the end"},
        {"a >> 1", "at character 4 ('> 1')"},
        {"bb > 1", "test.h5 has no column 'bb'; did you mean 'b'?"},
        {"zzzz > 1", "has no column 'zzzz' (stquery info lists the parameters and metrics)"},
        {"s = fast", "filter 's = fast': s = 'fast': not one of lockstep, fifo"},
        {"f = maybe", "f = 'maybe': not one of true, false"},
        {"a = 'x'", "the text 'x' compares only with a column of choices"},
        {"(a > 1", "expected ')' at the end"},
        {"a > 1 b", "unexpected text at character 7 ('b')"},
        {"'abc", "a quote that is never closed"},
        {"5kib > a", "a malformed number at character 1"},
        {"", "expected a number, a column name or '(' at the end"},
        {"params/n > 1", "has no column 'params/n'"},
    };
    char deep[4096];
    size_t len = 0;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        an_expr *e = NULL;
        st_err err;
        int rc = an_expr_compile(t, cases[k].text, &e, &err);
        if (!ok(rc == ST_EINVAL && !e && strstr(err.msg, cases[k].want),
                "expr-3.%zu '%s' fails: %s", k + 1, cases[k].text, cases[k].want))
            diag("  rc %d: %s", rc, rc ? err.msg : "(compiled)");
    }
    /* Nesting is bounded, so that no text can exhaust the C stack. */
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(deep + len, sizeof deep - len, "(");
    snprintf(deep + len, sizeof deep - len, "a");
    {
        an_expr *e = NULL;
        st_err err;
        int rc = an_expr_compile(t, deep, &e, &err);
        ok(rc == ST_EINVAL && strstr(err.msg, "too deeply nested"),
           "expr-3.%zu 1000 nested parentheses: too deeply nested",
           sizeof cases / sizeof cases[0] + 1);
        len = 0;
        for (int i = 0; i < 100; i++)
            len += (size_t)snprintf(deep + len, sizeof deep - len, "1+(");
        len += (size_t)snprintf(deep + len, sizeof deep - len, "a");
        for (int i = 0; i < 100; i++)
            len += (size_t)snprintf(deep + len, sizeof deep - len, ")");
        rc = an_expr_compile(t, deep, &e, &err);
        ok(rc == ST_EINVAL && strstr(err.msg, "too deeply nested"),
           "expr-3.%zu 100 pending additions: too deeply nested for the evaluation stack",
           sizeof cases / sizeof cases[0] + 2);
        len = 0;
        for (int i = 0; i < 30; i++)
            len += (size_t)snprintf(deep + len, sizeof deep - len, "1+(");
        len += (size_t)snprintf(deep + len, sizeof deep - len, "a");
        for (int i = 0; i < 30; i++)
            len += (size_t)snprintf(deep + len, sizeof deep - len, ")");
        rc = an_expr_compile(t, deep, &e, &err);
        ok(rc == ST_OK && e && an_expr_eval(e, t, 3) == 30 + t->col[A].v[3],
           "expr-3.%zu 30 pending additions evaluate", sizeof cases / sizeof cases[0] + 3);
        an_expr_destroy(&e);
    }
}

int main(void)
{
    uint64_t seed = 42;
    an_table *t = make_table(&seed);

    if (!t) {
        printf("Bail out! cannot make the test table\n");
        return 1;
    }
    test_values(t);
    test_eval(t);
    test_errors(t);
    an_table_destroy(&t);
    return tap_done();
}
