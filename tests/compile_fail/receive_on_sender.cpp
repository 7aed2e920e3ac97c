// A sender<T> is Go's `chan<- T`: it has no receive.
#include <weft/channel.hpp>

int main() {
    weft::channel<int> ch(1);
    weft::sender<int> tx = ch;
#ifdef WEFT_COMPILE_FAIL
    auto v = tx.receive();  // must not compile
    (void)v;
#endif
    return tx.is_closed() ? 1 : 0;
}
