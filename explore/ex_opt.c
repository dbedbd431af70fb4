/*
 * ex_opt.c - the one shape of option with a value that the programs share:
 * "--NAME=VALUE" or "--NAME VALUE". What each option means is each program's.
 */
#include <stdio.h>
#include <string.h>

#include "ex.h"

int ex_opt_value(int argc, char **argv, int *i, char *name, size_t size, const char **value)
{
    const char *a = argv[*i] + 2, *eq = strchr(a, '=');

    *value = NULL;
    if (eq) {
        snprintf(name, size, "%.*s", (int)(eq - a), a);
        *value = eq + 1;
        return 0;
    }
    snprintf(name, size, "%s", a);
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 0;
}
