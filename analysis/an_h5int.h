/*
 * an_h5int.h - what the readers of result files in analysis/ share (an_h5.c, an_merge.c):
 * HDF5's error printing switched off around a call, and the names in a group. Apart from
 * an.h because it needs hdf5.h, which an.h keeps out.
 */
#ifndef AN_H5INT_H
#define AN_H5INT_H

#include <stddef.h>

#include <hdf5.h>

/* HDF5 prints its error stack on stderr unless told not to; every entry point of the
 * query layer turns that off (an_h5_quiet_on) and back to what it was (an_h5_quiet_off). */
typedef struct an_h5_quiet {
    H5E_auto2_t fn;
    void *data;
} an_h5_quiet;

void an_h5_quiet_on(an_h5_quiet *q);
void an_h5_quiet_off(const an_h5_quiet *q);

/* A growing list of names, collected by iteration before anything is read. nomem is set
 * when a name could not be kept. */
typedef struct an_names {
    size_t n, cap;
    char **s;
    int nomem;
} an_names;

/* Append a copy of name to l. */
void an_names_push(an_names *l, const char *name);
/* Free the names and zero l. */
void an_names_fini(an_names *l);
/* Fill out (zeroed first) with the links of group path, in name order. -1 when the group
 * cannot be read or memory runs out. */
int an_h5_list_links(hid_t f, const char *path, an_names *out);

#endif
