/*
 * ex_h5attr.h - reading attributes of HDF5 objects: what the explorer checks in a file
 * it resumes (ex_h5.c) and what the query layer reads (analysis/an_h5.c). Apart from ex.h
 * because it needs hdf5.h, which ex.h keeps out.
 */
#ifndef EX_H5ATTR_H
#define EX_H5ATTR_H

#include <hdf5.h>

/* Read the string attribute name of obj (variable or fixed length) into a malloc'ed
 * copy the caller frees; NULL when absent, not a string, or out of memory. */
char *ex_h5_attr_str(hid_t obj, const char *name);

/* Read the numeric attribute name of obj as mtype into *v: 0, or -1 when absent or not
 * an integer or floating-point attribute (v is then untouched). */
int ex_h5_attr_num(hid_t obj, const char *name, hid_t mtype, void *v);

#endif
