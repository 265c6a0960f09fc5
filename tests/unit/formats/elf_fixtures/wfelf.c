/* A small shared library for the ELF reader tests (tests/unit/test_elf.py).
 *
 * The build script compiles it in several ways (release, debug info, stripped, ISA note);
 * the tests then corrupt copies byte by byte. What matters here is what the ELF file ends
 * up containing: exported functions and data in .dynsym, a dependency on libm (DT_NEEDED,
 * GLIBC_* version needs), and a PyInit_ symbol so the file looks like an extension module.
 * Built with -DWFELF_MAIN it is a program instead (it then has a PT_INTERP segment).
 */
#include <math.h>
#include <stdio.h>

int wfelf_counter = 3;

double wfelf_hypot(double a, double b)
{
    return sqrt(a * a + b * b) + cos(a);
}

const char *wfelf_greeting(void)
{
    static char buffer[32];
    snprintf(buffer, sizeof buffer, "hello %d", wfelf_counter);
    return buffer;
}

/* Not a real module initialiser: the symbol only has to exist. */
int PyInit_wfelf(void)
{
    return wfelf_counter;
}

#ifdef WFELF_MAIN
int main(void)
{
    return PyInit_wfelf() == 3 ? 0 : 1;
}
#endif
