/*
 * _overclaim: an extension that calls getrandom(), a glibc 2.25 symbol
 * (getrandom@GLIBC_2.25). Its wheel is nevertheless tagged manylinux_2_17, so the
 * filename claims more compatibility than the binary has.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/random.h>

/* answer() -> 42 */
static PyObject *answer(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromLong(42);
}

/* token() -> 8 random bytes from getrandom(2) */
static PyObject *token(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    unsigned char buf[8];
    ssize_t got = getrandom(buf, sizeof buf, 0);

    if (got < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyBytes_FromStringAndSize((const char *)buf, got);
}

static PyMethodDef overclaim_methods[] = {
    {"answer", answer, METH_NOARGS, "Return 42."},
    {"token", token, METH_NOARGS, "Return 8 random bytes (getrandom, GLIBC_2.25)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef overclaim_module = {
    PyModuleDef_HEAD_INIT, "_overclaim", "An extension that needs GLIBC_2.25.", -1,
    overclaim_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__overclaim(void)
{
    return PyModule_Create(&overclaim_module);
}
