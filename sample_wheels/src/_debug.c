/*
 * _debug: a typical "builder stage" extension module.
 *
 * Built with -g -O2 (like CPython's own CFLAGS) and not stripped, so the .so keeps
 * its .symtab and .debug_* sections. A couple of structs and helper functions make
 * the DWARF a visible share of the file.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Running statistics over a stream of integers. */
struct wf_stats {
    long count;
    long sum;
    long min;
    long max;
};

/* A point on a grid, with a label for debugging. */
struct wf_point {
    long x;
    long y;
    const char *label;
};

static void stats_init(struct wf_stats *st)
{
    st->count = 0;
    st->sum = 0;
    st->min = 0;
    st->max = 0;
}

static void stats_add(struct wf_stats *st, long value)
{
    if (st->count == 0 || value < st->min)
        st->min = value;
    if (st->count == 0 || value > st->max)
        st->max = value;
    st->count++;
    st->sum += value;
}

static double stats_mean(const struct wf_stats *st)
{
    return st->count ? (double)st->sum / (double)st->count : 0.0;
}

static long manhattan(const struct wf_point *a, const struct wf_point *b)
{
    long dx = a->x - b->x;
    long dy = a->y - b->y;
    return (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
}

/* answer() -> 42, computed the long way round: |(0,0) - (20,22)|. */
static PyObject *answer(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    struct wf_point origin = {0, 0, "origin"};
    struct wf_point target = {20, 22, "target"};
    return PyLong_FromLong(manhattan(&origin, &target));
}

/* stats(iterable of int) -> (count, min, max, mean) */
static PyObject *stats(PyObject *self, PyObject *iterable)
{
    (void)self;
    struct wf_stats st;
    PyObject *iter = PyObject_GetIter(iterable);
    PyObject *item;

    if (iter == NULL)
        return NULL;
    stats_init(&st);
    while ((item = PyIter_Next(iter)) != NULL) {
        long value = PyLong_AsLong(item);
        Py_DECREF(item);
        if (value == -1 && PyErr_Occurred()) {
            Py_DECREF(iter);
            return NULL;
        }
        stats_add(&st, value);
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return NULL;
    return Py_BuildValue("(llld)", st.count, st.min, st.max, stats_mean(&st));
}

/* distance(x1, y1, x2, y2) -> Manhattan distance between two points */
static PyObject *distance(PyObject *self, PyObject *args)
{
    (void)self;
    struct wf_point a = {0, 0, "a"};
    struct wf_point b = {0, 0, "b"};

    if (!PyArg_ParseTuple(args, "llll", &a.x, &a.y, &b.x, &b.y))
        return NULL;
    return PyLong_FromLong(manhattan(&a, &b));
}

static PyMethodDef debug_methods[] = {
    {"answer", answer, METH_NOARGS, "Return 42."},
    {"stats", stats, METH_O, "Return (count, min, max, mean) of an iterable of ints."},
    {"distance", distance, METH_VARARGS, "Manhattan distance between (x1, y1) and (x2, y2)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef debug_module = {
    PyModuleDef_HEAD_INIT, "_debug", "An unstripped extension built with -g.", -1,
    debug_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__debug(void)
{
    return PyModule_Create(&debug_module);
}
