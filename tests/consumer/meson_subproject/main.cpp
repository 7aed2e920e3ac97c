// The smallest program a user writes: one buffered send, one receive.
#include <weft/weft.hpp>

int main() {
    weft::channel<int> ch(1);
    ch.send(42);
    auto v = ch.receive();
    return (v && *v == 42) ? 0 : 1;
}
