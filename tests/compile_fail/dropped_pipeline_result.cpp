// A pipeline's run() is the only carrier of its error: dropping its pipeline_result loses the
// first exception of every stage. pipeline_result is [[nodiscard]].
#pragma GCC diagnostic error "-Wunused-result"
#include <vector>

#include <weft/pipeline.hpp>

int main() {
    int sum = 0;
    auto p = weft::pipeline() | weft::stage::source(std::vector<int>{1, 2, 3}) |
             weft::stage::sink([&](int v) { sum += v; });
#ifdef WEFT_COMPILE_FAIL
    p.run();  // must not compile
#else
    if (p.run().error) return 1;
#endif
    return sum == 6 ? 0 : 1;
}
