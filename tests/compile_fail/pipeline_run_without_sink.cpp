// run() needs a sink; a pipeline whose output is read elsewhere is start()ed instead.
#include <weft/pipeline.hpp>

int main() {
    auto p = weft::pipeline() | weft::stage::source({1, 2, 3}) |
             weft::stage::map([](int x) { return x * 2; });
#ifdef WEFT_COMPILE_FAIL
    (void)p.run();  // must not compile
#endif
    return p.size() == 2 ? 0 : 1;
}
