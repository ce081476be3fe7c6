// The files /docs and /redoc load, in the binary itself: C23 `#embed` (clang 19 and later; Swift 6.3 ships
// clang 21) reads them at compile time, in milliseconds. SwiftPM's `.embedInCode` resources were tried first:
// the array literal it generates for the 1.5 MB Swagger UI bundle kept the Swift compiler busy for over
// 10 minutes and 5 GB of memory without finishing.
#include "CDocsAssets.h"
#include "AssetHashes.h"

// `#embed` is C23; clang accepts it in the older modes SwiftPM compiles with, with this warning.
#pragma clang diagnostic ignored "-Wc23-extensions"

static const unsigned char swagger_ui_bundle_js[] = {
#embed "assets/swagger-ui/swagger-ui-bundle.js"
};
static const unsigned char swagger_ui_css[] = {
#embed "assets/swagger-ui/swagger-ui.css"
};
static const unsigned char favicon_32x32_png[] = {
#embed "assets/swagger-ui/favicon-32x32.png"
};
static const unsigned char redoc_standalone_js[] = {
#embed "assets/redoc/redoc.standalone.js"
};

static const CDocsAsset assets[] = {
    {"swagger-ui-bundle.js", swagger_ui_bundle_js, sizeof(swagger_ui_bundle_js), SWAGGER_UI_BUNDLE_JS_SHA256},
    {"swagger-ui.css", swagger_ui_css, sizeof(swagger_ui_css), SWAGGER_UI_CSS_SHA256},
    {"favicon-32x32.png", favicon_32x32_png, sizeof(favicon_32x32_png), FAVICON_32X32_PNG_SHA256},
    {"redoc.standalone.js", redoc_standalone_js, sizeof(redoc_standalone_js), REDOC_STANDALONE_JS_SHA256},
};

const CDocsAsset *_Nonnull cdocs_assets(size_t *_Nonnull count) {
    *count = sizeof(assets) / sizeof(assets[0]);
    return assets;
}
