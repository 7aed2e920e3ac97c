// Only the sending side may close (Go rejects close on a `<-chan T` at compile time).
#include <weft/channel.hpp>

int main() {
    weft::channel<int> ch(1);
    weft::receiver<int> rx = ch;
#ifdef WEFT_COMPILE_FAIL
    rx.close();  // must not compile
#endif
    return rx.is_closed() ? 1 : 0;
}
