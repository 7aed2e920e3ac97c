// Go vet's lostcancel: a with_* factory whose result is dropped leaks the child context until
// its parent ends, and its cancel function is lost. cancelable is [[nodiscard]]; the pragma
// makes the warning an error whatever flags the compile gets (the failing compile gets none).
#pragma GCC diagnostic error "-Wunused-result"
#include <chrono>

#include <weft/context.hpp>

int main() {
    using namespace std::chrono_literals;
    auto parent = weft::background();
#ifdef WEFT_COMPILE_FAIL
    weft::with_timeout(parent, 1h);  // must not compile: the child and its cancel are lost
#else
    auto [ctx, cancel] = weft::with_timeout(parent, 1h);
    cancel();
    if (!ctx.err()) return 1;
#endif
    return 0;
}
