// tee gives every output its own copy of each item, so a move-only element type must not
// compile (a static_assert says to use fan_out or std::shared_ptr<const T> instead).
#include <memory>

#include <weft/fan.hpp>

int main() {
    weft::channel<std::unique_ptr<int>> in(0);
    in.close();
#ifdef WEFT_COMPILE_FAIL
    auto copies = weft::tee(in, 2);  // must not compile
#else
    auto copies = weft::fan_out(in, 2, [](std::unique_ptr<int> p) { return p; });
#endif
    return copies.wait() ? 1 : 0;
}
