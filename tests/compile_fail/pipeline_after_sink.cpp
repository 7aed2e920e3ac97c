// A sink ends a pipeline: nothing can follow it.
#include <weft/pipeline.hpp>

int main() {
    auto p = weft::pipeline() | weft::stage::source({1, 2, 3}) | weft::stage::sink([](int) {});
#ifdef WEFT_COMPILE_FAIL
    auto q = std::move(p) | weft::stage::map([](int x) { return x; });  // must not compile
#endif
    return p.size() == 2 ? 0 : 1;
}
