/* Part of scripts/wine-setup.sh; built with mingw into a Wine prefix. */
#include <windows.h>
/* Stand-in for bcryptprimitives.dll, which Wine 8.0 lacks: Go's runtime needs ProcessPrng. */
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
