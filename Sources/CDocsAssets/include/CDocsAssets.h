#ifndef CDOCSASSETS_H
#define CDOCSASSETS_H

#include <stddef.h>

/// One file of Swagger UI or ReDoc compiled into the binary (the files under assets/, see assets/VERSIONS).
typedef struct {
    const char *_Nonnull name;
    const unsigned char *_Nonnull bytes;
    size_t count;
    /// The SHA-256 of `bytes` in hexadecimal, computed when the files were refreshed (AssetHashes.h).
    const char *_Nonnull sha256;
} CDocsAsset;

/// The embedded files; `*count` receives how many there are.
const CDocsAsset *_Nonnull cdocs_assets(size_t *_Nonnull count);

#endif
