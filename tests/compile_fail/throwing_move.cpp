// A channel moves a value after a slot or a receiver has been claimed; a move that could throw
// there would strand the other side, so channel<T> wants a noexcept move.
#include <weft/channel.hpp>

#include <string>

struct throwing_move {
    std::string s;
    throwing_move() = default;
    throwing_move(throwing_move&& o) noexcept(false) : s(std::move(o.s)) {}
};

int main() {
#ifdef WEFT_COMPILE_FAIL
    weft::channel<throwing_move> bad(1);  // must not compile
#endif
    weft::channel<std::string> ok(1);
    return ok.capacity() == 1 ? 0 : 1;
}
