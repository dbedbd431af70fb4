/*
 * stparams - print the design-point parameter table as Markdown: docs/parameters.md is
 * this program's output (build/bin/stparams > docs/parameters.md), and a test fails when
 * the committed page differs. The rows themselves live in core/param.c only.
 */
#include <stdio.h>
#include <string.h>

#include "st.h"
#include "ex_revision.h" /* EX_GIT_REVISION, written at build time */

#define EXIT_USAGE 2

/* The page's text before the tables: the conventions every row follows. */
static const char *const preamble =
    "# Design-point parameters\n"
    "\n"
    "Every setting of one design point is one row of a single table, `core/param.c`\n"
    "(`st_params()` in `core/st.h`). The command-line programs, the Lua scripts, the checks,\n"
    "the sparsity model's configuration (`st_sparsity_cfg`) and the result files all use\n"
    "these names, units, defaults and ranges. This page is generated from the table by\n"
    "`build/bin/stparams > docs/parameters.md` (`explore/stparams.c`); `tests/prog/stparams.t`\n"
    "fails when it differs. Adding a parameter means adding one row to the table and\n"
    "regenerating this page.\n"
    "\n"
    "Conventions:\n"
    "\n"
    "- **Names** are the fields of `st_point`. An unknown name is an error that suggests the\n"
    "  closest name when one is within two edits: `unknown parameter 'pe_row'; did you mean\n"
    "  'pe_rows'?`.\n"
    "- **Types.** `int` takes a whole decimal number (`2.5` is the wrong type); `real` takes\n"
    "  any finite decimal number (`1e3` is fine, `inf` and `nan` are not); `bool` takes\n"
    "  `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`; `enum` takes one of the listed\n"
    "  names. Surrounding spaces are ignored, and so is the case of bools and enums.\n"
    "- **Ranges** are intervals: `[` and `]` include the bound, `(` and `)` exclude it, so\n"
    "  `p` in `[0, 1)` accepts 0 but not 1. A value outside is rejected with a message naming\n"
    "  the parameter, the value and the range: `pe_rows = 0: must be in [1, 4096]`,\n"
    "  `sync = 'fast': must be one of lockstep, fifo`.\n"
    "- **Cross-field rule** (checked by `st_point_check`): `psum_bits >= data_bits`.\n"
    "- **Defaults** are printed as the shortest decimal that reads back to the exact value.\n"
    "  The SparseTrain paper (Dai et al., DAC 2020) does not publish its PE count, clock,\n"
    "  buffer sizes, precision, energy or area figures; the architecture defaults below are\n"
    "  our choices, and the technology defaults (groups `energy` and `area`) are derived from\n"
    "  published figures in [energy-area.md](energy-area.md). The defaults of the groups\n"
    "  `pruning` and `sparsity` are also those of `st_sparsity_cfg_init` and\n"
    "  `st_prune_opts_init`, which read them from the table; their reasons are in\n"
    "  [sparsity.md](sparsity.md).\n"
    "- The DRAM default is one DDR4-3200 channel: 3200 MT/s on a 64-bit (8-byte) bus is\n"
    "  25.6 GB/s (JEDEC JESD79-4), with 100 ns latency.\n"
    "- A PE's area is `macs_per_pe * area_mac_mm2` plus its registers, `kreg_len` entries of\n"
    "  `data_bits` and `oreg_len` of `psum_bits`, at `area_reg_bit_mm2` a bit; its leakage is\n"
    "  `leak_mw_per_mm2` times that area. So wider PEs and longer registers cost area and\n"
    "  leakage.\n";

static const char *type_name(st_ptype t)
{
    static const char *const names[] = {"int", "real", "bool", "enum"};
    return (int)t >= 0 && t <= ST_PT_ENUM ? names[t] : "unknown";
}

/* Print s as the text of a Markdown table cell: '|' would end the cell. */
static void cell(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else
            putchar(*s);
    }
}

int main(int argc, char **argv)
{
    int n;
    const st_param *rows = st_params(&n);
    const char *group = NULL;
    st_point pt;

    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("stparams %s (git %s)\n", EX_VERSION, EX_GIT_REVISION);
        return 0;
    }
    if (argc > 1) {
        FILE *f = (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
        fputs("usage: stparams\n\nPrint the design-point parameter table as Markdown, the text "
              "of\ndocs/parameters.md. It takes no arguments.\n",
              f);
        return f == stdout ? 0 : EXIT_USAGE;
    }
    st_point_init(&pt);
    fputs(preamble, stdout);
    for (int i = 0; i < n; i++) {
        char def[64], range[160];
        if (!group || strcmp(group, rows[i].group)) {
            group = rows[i].group;
            printf("\n### %s\n\n| name | type | unit | default | range | help |\n"
                   "|---|---|---|---|---|---|\n",
                   group);
        }
        st_point_format(&pt, &rows[i], def, sizeof def);
        st_param_format_range(&rows[i], range, sizeof range);
        printf("| `%s` | %s | ", rows[i].name, type_name(rows[i].type));
        cell(rows[i].unit[0] ? rows[i].unit : "-");
        fputs(" | ", stdout);
        cell(def);
        fputs(" | ", stdout);
        cell(range);
        fputs(" | ", stdout);
        cell(rows[i].help);
        fputs(" |\n", stdout);
    }
    return ferror(stdout) ? 1 : 0;
}
