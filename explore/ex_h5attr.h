/*
 * ex_h5attr.h - reading attributes of HDF5 objects: what the explorer checks in a file
 * it resumes (ex_h5.c) and what the query layer reads (analysis/an_h5.c). Apart from ex.h
 * because it needs hdf5.h, which ex.h keeps out.
 */
#ifndef EX_H5ATTR_H
#define EX_H5ATTR_H

#include <hdf5.h>

/* 1 when the open attribute a holds exactly one value (a scalar, or an array of one):
 * what every reader here needs before it reads into room for one value. */
int ex_h5_attr_single(hid_t a);

/* Read the string attribute name of obj (variable or fixed length) into a malloc'ed
 * copy the caller frees; NULL when absent, not a single string, or out of memory. */
char *ex_h5_attr_str(hid_t obj, const char *name);
/* ex_h5_attr_str that tells why: 0 with *out set, 1 when absent or not a single string,
 * ST_ENOMEM when the copy cannot be made. */
int ex_h5_attr_text(hid_t obj, const char *name, char **out);

/* Read the numeric attribute name of obj as mtype into *v: 0, or -1 when absent or not
 * a single integer or floating-point value (v is then untouched). */
int ex_h5_attr_num(hid_t obj, const char *name, hid_t mtype, void *v);

/* The length of the 1-D dataset at path in f, or -1 when there is none (or it is not 1-D). */
long long ex_h5_ds_length(hid_t f, const char *path);

#endif
