/*
 * _extlib: an extension module that needs an external shared library.
 *
 * Linked with -lwfext and an absolute RUNPATH (/opt/wfdemo/lib) that only exists
 * on the (imaginary) build machine; libwfext.so.1 itself is not in the wheel.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "wfext.h"

/* answer() -> wfext_answer(), i.e. 42 */
static PyObject *answer(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromLong(wfext_answer());
}

static PyMethodDef extlib_methods[] = {
    {"answer", answer, METH_NOARGS, "Return wfext_answer() (42) from libwfext.so.1."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef extlib_module = {
    PyModuleDef_HEAD_INIT, "_extlib", "An extension linked against libwfext.so.1.", -1,
    extlib_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__extlib(void)
{
    return PyModule_Create(&extlib_module);
}
