// A receiver<T> is Go's `<-chan T`: it has no try_send either.
#include <weft/channel.hpp>

int main() {
    weft::channel<int> ch(1);
    weft::receiver<int> rx = ch;
#ifdef WEFT_COMPILE_FAIL
    (void)rx.try_send(1);  // must not compile
#endif
    return rx.is_closed() ? 1 : 0;
}
