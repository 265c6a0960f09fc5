/*
 * _clean: the smallest well-behaved extension module.
 *
 * Built -O2 without -g and linked with -s (stripped). The only libc function it
 * uses is strlen (GLIBC_2.2.5), so the wheel is genuinely manylinux compliant.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* answer() -> 42 */
static PyObject *answer(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    return PyLong_FromLong(42);
}

/* utf8_len(s) -> number of bytes in the UTF-8 encoding of s (uses strlen). */
static PyObject *utf8_len(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *text = PyUnicode_AsUTF8(arg);
    if (text == NULL)
        return NULL;
    return PyLong_FromSize_t(strlen(text));
}

static PyMethodDef clean_methods[] = {
    {"answer", answer, METH_NOARGS, "Return 42."},
    {"utf8_len", utf8_len, METH_O, "Length in bytes of the UTF-8 encoding of a str."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef clean_module = {
    PyModuleDef_HEAD_INIT, "_clean", "A clean, stripped extension.", -1, clean_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__clean(void)
{
    return PyModule_Create(&clean_module);
}
