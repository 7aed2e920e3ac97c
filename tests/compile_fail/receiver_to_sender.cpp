// A receive-only view cannot be turned back into a sender.
#include <weft/channel.hpp>

int main() {
    weft::channel<int> ch(1);
    weft::receiver<int> rx = ch;
#ifdef WEFT_COMPILE_FAIL
    weft::sender<int> tx = rx;  // must not compile
    (void)tx;
#endif
    return rx.is_closed() ? 1 : 0;
}
