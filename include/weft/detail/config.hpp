// weft/detail/config.hpp - namespace and version macros shared by every weft header.
#pragma once

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

// Every public name lives in weft::v0 (an inline namespace, as {fmt} does), so a future
// ABI break can bump the inline namespace without changing user code.
#define WEFT_BEGIN_NAMESPACE \
    namespace weft {         \
    inline namespace v0 {
#define WEFT_END_NAMESPACE \
    }                      \
    }
