/*
 * an_expr.c - filters over the columns of a table (`--where 'p >= 0.5 and sync = fifo'`):
 * a recursive-descent parser that compiles the text into postfix code, and the evaluator
 * of that code at a row. Choices and booleans compare by name. What rows a question is
 * about is an_query.c's business.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define DEPTH_MAX 64  /* evaluation stack */
#define NEST_MAX  200 /* parentheses, signs and nots inside one another (parser recursion) */

typedef enum op {
    OP_NUM = 0,
    OP_COL,
    OP_WORD, /* a bare word or a quoted text, resolved to a choice when compared */
    OP_NEG,
    OP_NOT,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_AND,
    OP_OR
} op;

typedef struct ins {
    op op;
    int col;              /* OP_COL */
    double num;           /* OP_NUM */
    int pos, len, quoted; /* OP_WORD: where the word is in the text */
} ins;

struct an_expr {
    char *text;
    int n, cap;
    ins *code;
};

/* The parser's state: the text, the position, the code so far and the first error. */
typedef struct parser {
    an_table *t;
    an_expr *e;
    const char *s;
    int pos;
    int depth, max_depth;
    int nest;
    int rc;
    st_err *err;
    char quote[80]; /* the text as messages quote it: cut short when long */
} parser;

static void skip_space(parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n')
        p->pos++;
}

static int fail(parser *p, const char *what)
{
    if (p->rc == ST_OK) {
        if (p->s[p->pos])
            p->rc = st_err_set(p->err, ST_EINVAL, "filter '%s': %s at character %d ('%.12s')",
                               p->quote, what, p->pos + 1, p->s + p->pos);
        else
            p->rc = st_err_set(p->err, ST_EINVAL, "filter '%s': %s at the end", p->quote, what);
    }
    return p->rc;
}

static int emit(parser *p, ins in)
{
    an_expr *e = p->e;

    if (p->rc != ST_OK)
        return p->rc;
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 16;
        ins *g = realloc(e->code, (size_t)cap * sizeof *g);
        if (!g)
            return p->rc = st_err_set(p->err, ST_ENOMEM, "filter '%s': out of memory", p->quote);
        e->code = g;
        e->cap = cap;
    }
    e->code[e->n++] = in;
    /* The stack depth of postfix code: operands push one, binary operators pop one. */
    if (in.op == OP_NUM || in.op == OP_COL || in.op == OP_WORD)
        p->depth++;
    else if (in.op != OP_NEG && in.op != OP_NOT)
        p->depth--;
    if (p->depth > p->max_depth)
        p->max_depth = p->depth;
    if (p->max_depth > DEPTH_MAX)
        return fail(p, "too deeply nested");
    return ST_OK;
}

static int emit_op(parser *p, op o)
{
    ins in = {.op = o};
    return emit(p, in);
}

/* Does the text at the position start with word, as a whole word? Consumes it if so. */
static int accept_word(parser *p, const char *word)
{
    size_t len = strlen(word);
    char next;

    skip_space(p);
    if (strncmp(p->s + p->pos, word, len) != 0)
        return 0;
    next = p->s[p->pos + (int)len];
    if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
        (next >= '0' && next <= '9') || next == '_')
        return 0;
    p->pos += (int)len;
    return 1;
}

/* Does the text at the position start with the symbol sym (and not with any of the longer
 * symbols in unless)? Consumes it if so. */
static int accept_sym(parser *p, const char *sym, const char *unless)
{
    size_t len = strlen(sym);

    skip_space(p);
    if (strncmp(p->s + p->pos, sym, len) != 0)
        return 0;
    if (unless && p->s[p->pos + (int)len] && strchr(unless, p->s[p->pos + (int)len]))
        return 0;
    p->pos += (int)len;
    return 1;
}

static int is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int parse_or(parser *p);

/* atom := number | name | 'text' | "text" | ( or ) */
static int parse_atom(parser *p)
{
    const char *s = p->s;
    ins in = {.op = OP_NUM};

    skip_space(p);
    if ((s[p->pos] >= '0' && s[p->pos] <= '9') || s[p->pos] == '.') {
        char *end;
        in.num = strtod(s + p->pos, &end);
        if (end == s + p->pos || is_name_start(*end))
            return fail(p, "a malformed number");
        p->pos = (int)(end - s);
        return emit(p, in);
    }
    if (s[p->pos] == '\'' || s[p->pos] == '"') {
        const char *close = strchr(s + p->pos + 1, s[p->pos]);
        if (!close)
            return fail(p, "a quote that is never closed");
        in.op = OP_WORD;
        in.pos = p->pos + 1;
        in.len = (int)(close - s) - in.pos;
        in.quoted = 1;
        p->pos = (int)(close - s) + 1;
        return emit(p, in);
    }
    if (is_name_start(s[p->pos])) {
        int start = p->pos, col;
        char name[128];
        while (is_name_char(s[p->pos]))
            p->pos++;
        /* A group prefix: params/p, metrics/cycles, points/status. */
        if (s[p->pos] == '/' && is_name_start(s[p->pos + 1]) &&
            ((p->pos - start == 6 && !strncmp(s + start, "params", 6)) ||
             (p->pos - start == 7 && !strncmp(s + start, "metrics", 7)) ||
             (p->pos - start == 6 && !strncmp(s + start, "points", 6)))) {
            p->pos++;
            while (is_name_char(s[p->pos]))
                p->pos++;
        }
        snprintf(name, sizeof name, "%.*s", p->pos - start, s + start);
        col = an_table_find(p->t, name);
        if (col >= 0) {
            in.op = OP_COL;
            in.col = col;
        } else if (!strcmp(name, "true") || !strcmp(name, "false")) {
            in.num = !strcmp(name, "true");
        } else {
            in.op = OP_WORD;
            in.pos = start;
            in.len = p->pos - start;
        }
        return emit(p, in);
    }
    if (accept_sym(p, "(", NULL)) {
        if (++p->nest > NEST_MAX)
            return fail(p, "too deeply nested");
        if (parse_or(p) != ST_OK)
            return p->rc;
        p->nest--;
        if (!accept_sym(p, ")", NULL))
            return fail(p, "expected ')'");
        return ST_OK;
    }
    return fail(p, "expected a number, a column name or '('");
}

/* unary := - unary | + unary | atom */
static int parse_unary(parser *p)
{
    int rc;

    if (++p->nest > NEST_MAX)
        return fail(p, "too deeply nested");
    if (accept_sym(p, "-", NULL)) {
        if (parse_unary(p) == ST_OK)
            emit_op(p, OP_NEG);
    } else if (accept_sym(p, "+", NULL)) {
        parse_unary(p);
    } else {
        parse_atom(p);
    }
    rc = p->rc;
    p->nest--;
    return rc;
}

/* prod := unary ((* | /) unary)* */
static int parse_prod(parser *p)
{
    if (parse_unary(p) != ST_OK)
        return p->rc;
    for (;;) {
        op o;
        if (accept_sym(p, "*", NULL))
            o = OP_MUL;
        else if (accept_sym(p, "/", NULL))
            o = OP_DIV;
        else
            return ST_OK;
        if (parse_unary(p) != ST_OK || emit_op(p, o) != ST_OK)
            return p->rc;
    }
}

/* sum := prod ((+ | -) prod)* */
static int parse_sum(parser *p)
{
    if (parse_prod(p) != ST_OK)
        return p->rc;
    for (;;) {
        op o;
        if (accept_sym(p, "+", NULL))
            o = OP_ADD;
        else if (accept_sym(p, "-", NULL))
            o = OP_SUB;
        else
            return ST_OK;
        if (parse_prod(p) != ST_OK || emit_op(p, o) != ST_OK)
            return p->rc;
    }
}

/* A word compared with a column of choices becomes the index of the choice. */
static int resolve_choice(parser *p, ins *word, const an_col *c)
{
    char text[128];

    snprintf(text, sizeof text, "%.*s", word->len, p->s + word->pos);
    if (c->type == AN_T_BOOL && (!strcmp(text, "true") || !strcmp(text, "false"))) {
        word->op = OP_NUM;
        word->num = !strcmp(text, "true");
        return ST_OK;
    }
    for (int i = 0; c->type == AN_T_ENUM && i < c->nchoice; i++)
        if (!strcmp(c->choice[i], text)) {
            word->op = OP_NUM;
            word->num = i;
            return ST_OK;
        }
    if (p->rc == ST_OK) {
        char list[256] = "true, false";
        size_t used = 0;
        for (int i = 0; c->type == AN_T_ENUM && i < c->nchoice; i++)
            used = an_appendf(list, sizeof list, used, "%s%s", i ? ", " : "", c->choice[i]);
        p->rc = st_err_set(p->err, ST_EINVAL, "filter '%s': %s = '%s': not one of %s", p->quote,
                           c->name, text, list);
    }
    return p->rc;
}

/* cmp := sum (op sum)? */
static int parse_cmp(parser *p)
{
    static const struct {
        const char *sym, *unless;
        op o;
    } ops[] = {{"==", NULL, OP_EQ}, {"!=", NULL, OP_NE}, {"~=", NULL, OP_NE},
               {"<>", NULL, OP_NE}, {"<=", NULL, OP_LE}, {">=", NULL, OP_GE},
               {"=", NULL, OP_EQ},  {"<", NULL, OP_LT},  {">", NULL, OP_GT}};
    int left = p->e->n, mid, o = -1;

    if (parse_sum(p) != ST_OK)
        return p->rc;
    mid = p->e->n;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && o < 0; i++)
        if (accept_sym(p, ops[i].sym, ops[i].unless))
            o = (int)i;
    if (o < 0)
        return ST_OK;
    if (parse_sum(p) != ST_OK)
        return p->rc;
    /* column = word, or word = column: a single instruction on each side. */
    if (mid - left == 1 && p->e->n - mid == 1) {
        ins *a = &p->e->code[left], *b = &p->e->code[mid];
        if (a->op == OP_WORD) {
            ins *s = a;
            a = b;
            b = s;
        }
        if (a->op == OP_COL && b->op == OP_WORD &&
            (p->t->col[a->col].type == AN_T_ENUM || p->t->col[a->col].type == AN_T_BOOL) &&
            resolve_choice(p, b, &p->t->col[a->col]) != ST_OK)
            return p->rc;
    }
    return emit_op(p, ops[o].o);
}

/* not := (not | !) not | cmp */
static int parse_not(parser *p)
{
    int rc;

    if (++p->nest > NEST_MAX)
        return fail(p, "too deeply nested");
    if (accept_word(p, "not") || accept_sym(p, "!", "=")) {
        if (parse_not(p) == ST_OK)
            emit_op(p, OP_NOT);
    } else {
        parse_cmp(p);
    }
    rc = p->rc;
    p->nest--;
    return rc;
}

/* and := not ((and | && | ,) not)* */
static int parse_and(parser *p)
{
    if (parse_not(p) != ST_OK)
        return p->rc;
    while (accept_word(p, "and") || accept_sym(p, "&&", NULL) || accept_sym(p, ",", NULL))
        if (parse_not(p) != ST_OK || emit_op(p, OP_AND) != ST_OK)
            return p->rc;
    return ST_OK;
}

/* or := and ((or | ||) and)* */
static int parse_or(parser *p)
{
    if (parse_and(p) != ST_OK)
        return p->rc;
    while (accept_word(p, "or") || accept_sym(p, "||", NULL))
        if (parse_and(p) != ST_OK || emit_op(p, OP_OR) != ST_OK)
            return p->rc;
    return ST_OK;
}

int an_expr_compile(an_table *t, const char *text, an_expr **out, st_err *err)
{
    an_expr *e = calloc(1, sizeof *e);
    parser p = {.t = t, .s = text, .err = err};
    size_t len = strlen(text);
    char what[160];
    int rc = ST_OK;

    *out = NULL;
    if (!e || !(e->text = malloc(len + 1))) {
        rc = st_err_set(err, ST_ENOMEM, "filter '%.60s': out of memory", text);
        goto done;
    }
    memcpy(e->text, text, len + 1);
    p.e = e;
    snprintf(p.quote, sizeof p.quote, len < 64 ? "%s" : "%.60s...", text);
    if (parse_or(&p) == ST_OK) {
        skip_space(&p);
        if (p.s[p.pos])
            fail(&p, "unexpected text");
    }
    if ((rc = p.rc) != ST_OK)
        goto done;
    /* A word left over was neither a column nor a choice. */
    for (int i = 0; i < e->n && rc == ST_OK; i++) {
        ins *in = &e->code[i];
        char word[128];
        int col;
        if (in->op != OP_WORD)
            continue;
        snprintf(word, sizeof word, "%.*s", in->len, text + in->pos);
        snprintf(what, sizeof what, "filter '%s'", p.quote);
        if (in->quoted)
            rc = st_err_set(err, ST_EINVAL,
                            "filter '%s': the text '%s' compares only with a column of choices "
                            "(sync = '%s')",
                            p.quote, word, word);
        else
            rc = an_table_lookup(t, word, what, &col, err);
    }
    for (int i = 0; i < e->n && rc == ST_OK; i++)
        if (e->code[i].op == OP_COL)
            rc = an_table_load_col(t, e->code[i].col, err);
    if (rc != ST_OK)
        goto done;
    *out = e;
    e = NULL;
done:
    an_expr_destroy(&e);
    return rc;
}

void an_expr_destroy(an_expr **e)
{
    if (!e || !*e)
        return;
    free((*e)->text);
    free((*e)->code);
    free(*e);
    *e = NULL;
}

const char *an_expr_text(const an_expr *e)
{
    return e->text;
}

static int truth(double v)
{
    return v != 0 && !isnan(v);
}

double an_expr_eval(const an_expr *e, const an_table *t, size_t row)
{
    double st[DEPTH_MAX + 1], a, b;
    int sp = 0;

    for (int i = 0; i < e->n; i++) {
        const ins *in = &e->code[i];
        switch (in->op) {
        case OP_NUM:
            st[sp++] = in->num;
            continue;
        case OP_COL:
            st[sp++] = t->col[in->col].v[row];
            continue;
        case OP_WORD: /* resolved or refused at compile time */
            st[sp++] = NAN;
            continue;
        case OP_NEG:
            st[sp - 1] = -st[sp - 1];
            continue;
        case OP_NOT:
            st[sp - 1] = !truth(st[sp - 1]);
            continue;
        default:
            break;
        }
        b = st[--sp];
        a = st[sp - 1];
        switch (in->op) {
        case OP_ADD:
            a = a + b;
            break;
        case OP_SUB:
            a = a - b;
            break;
        case OP_MUL:
            a = a * b;
            break;
        case OP_DIV:
            a = a / b;
            break;
        /* Every comparison with NaN is false, != included: a failed point's missing value
         * matches no filter. */
        case OP_EQ:
            a = !isnan(a) && !isnan(b) && a == b;
            break;
        case OP_NE:
            a = !isnan(a) && !isnan(b) && a != b;
            break;
        case OP_LT:
            a = a < b;
            break;
        case OP_LE:
            a = a <= b;
            break;
        case OP_GT:
            a = a > b;
            break;
        case OP_GE:
            a = a >= b;
            break;
        case OP_AND:
            a = truth(a) && truth(b);
            break;
        case OP_OR:
            a = truth(a) || truth(b);
            break;
        default:
            break;
        }
        st[sp - 1] = a;
    }
    return sp > 0 ? st[sp - 1] : NAN;
}

int an_expr_test(const an_expr *e, const an_table *t, size_t row)
{
    return truth(an_expr_eval(e, t, row));
}

/* Is text more than a name: an expression to compute? Names are letters, digits, '_' and a
 * group's '/'. */
static int is_computed(const char *text)
{
    for (const char *c = text; *c; c++)
        if (!is_name_char(*c) && *c != '/')
            return 1;
    return 0;
}

int an_table_column(an_table *t, const char *text, const char *what, int *col, st_err *err)
{
    an_expr *e = NULL;
    an_col *c;
    int rc;

    if ((*col = an_table_find(t, text)) >= 0)
        return ST_OK;
    if (!is_computed(text))
        return an_table_lookup(t, text, what, col, err);
    if ((rc = an_expr_compile(t, text, &e, err)) != ST_OK) {
        /* "filter 'a*b': ..." becomes "--sort 'a*b': ...": the option it came from. */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return st_err_set(err, rc, "%s %s", what ? what : "column",
                          strncmp(msg, "filter ", 7) ? msg : msg + 7);
    }
    if ((rc = an_table_add(t, text, "", AN_G_COMPUTED, AN_T_REAL, col, err)) != ST_OK)
        goto done;
    c = &t->col[*col];
    if (!(c->v = malloc(t->n ? t->n * sizeof *c->v : 1))) {
        rc = st_err_set(err, ST_ENOMEM, "%s %s: out of memory", what ? what : "column", text);
        goto done;
    }
    for (size_t r = 0; r < t->n; r++)
        c->v[r] = an_expr_eval(e, t, r);
done:
    an_expr_destroy(&e);
    return rc;
}
