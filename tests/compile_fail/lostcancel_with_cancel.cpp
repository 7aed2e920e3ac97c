// The lostcancel case in its plainest form, `weft::with_cancel(ctx);`: the same check as
// lostcancel.cpp for the factory without a deadline, which nothing else would ever cancel.
#pragma GCC diagnostic error "-Wunused-result"
#include <weft/context.hpp>

int main() {
    auto parent = weft::background();
#ifdef WEFT_COMPILE_FAIL
    weft::with_cancel(parent);  // must not compile
#else
    auto [ctx, cancel] = weft::with_cancel(parent);
    cancel();
    if (!ctx.err()) return 1;
#endif
    return 0;
}
