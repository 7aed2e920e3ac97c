// A fan (merge, fan_out, tee) is a running thread owned by its handle: dropped at once, it is
// canceled and joined before the statement ends, and its inputs are left half-read. fan is
// [[nodiscard]]; the pragma makes the warning an error whatever flags the compile gets.
#pragma GCC diagnostic error "-Wunused-result"
#include <weft/fan.hpp>

int main() {
    weft::channel<int> a(1), b(1);
    a.close();
    b.close();
#ifdef WEFT_COMPILE_FAIL
    weft::merge(a, b);  // must not compile: the merge would be stopped at once
#else
    auto m = weft::merge(a, b);
    for (int v : m.output()) return v;
    if (m.wait()) return 1;
#endif
    return 0;
}
