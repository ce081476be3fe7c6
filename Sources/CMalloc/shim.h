// glibc's allocator statistics and trimming (<malloc.h>, which Swift's Glibc module does not export).
#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H

#include <stddef.h>

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>

/// Bytes the allocator holds free in its arenas (free chunks not yet given back to the system).
static inline size_t chat_malloc_free_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return info.fordblks;
}

/// Gives every arena's free pages back to the system; nonzero when some were.
static inline int chat_malloc_trim(void) { return malloc_trim(0); }
#else
static inline size_t chat_malloc_free_bytes(void) { return 0; }
static inline int chat_malloc_trim(void) { return 0; }
#endif

#endif
