/*
 * libwfext.so.1: built with -shared -Wl,-soname,libwfext.so.1 into the work
 * directory, never shipped in a wheel. _extlib depends on it, so the wheel needs
 * `auditwheel repair` to vendor it.
 */
#include "wfext.h"

/* Kept separate so the library has a little internal structure. */
static int wfext_base(void)
{
    return 40;
}

int wfext_answer(void)
{
    return wfext_base() + 2;
}
