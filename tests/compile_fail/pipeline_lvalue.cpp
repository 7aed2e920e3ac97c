// A pipeline is moved into the next one: `p | stage` with an lvalue p is an error that says
// to write std::move(p).
#include <weft/pipeline.hpp>

int main() {
    auto p = weft::pipeline() | weft::stage::source({1, 2, 3});
#ifdef WEFT_COMPILE_FAIL
    auto q = p | weft::stage::sink([](int) {});  // must not compile
#endif
    auto r = std::move(p) | weft::stage::sink([](int) {});
    return r.size() == 2 ? 0 : 1;
}
