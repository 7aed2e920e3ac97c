// A receiver<T> is Go's `<-chan T`: it has no send.
#include <weft/channel.hpp>

int main() {
    weft::channel<int> ch(1);
    weft::receiver<int> rx = ch;
#ifdef WEFT_COMPILE_FAIL
    rx.send(1);  // must not compile
#endif
    return rx.is_closed() ? 1 : 0;
}
