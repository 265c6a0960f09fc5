/* wfext: a tiny shared library (libwfext.so.1) that _extlib links against. */
#ifndef WFEXT_H
#define WFEXT_H

/* Return 42 (40 + 2, computed inside the library). */
int wfext_answer(void);

#endif
