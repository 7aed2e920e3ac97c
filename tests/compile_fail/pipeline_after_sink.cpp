// A sink ends a pipeline: nothing can follow it.
#include <weft/pipeline.hpp>

int main() {
    auto p = weft::pipeline() | weft::source({1, 2, 3}) | weft::sink([](int) {});
#ifdef WEFT_COMPILE_FAIL
    auto q = std::move(p) | weft::map([](int x) { return x; });  // must not compile
#endif
    return p.size() == 2 ? 0 : 1;
}
