// A send case needs a channel or a sender<T>: a receiver<T> cannot send, in select either.
#include <weft/select.hpp>

int main() {
    weft::channel<int> ch(1);
    weft::receiver<int> rx = ch;
#ifdef WEFT_COMPILE_FAIL
    weft::select(weft::on_send(rx, 1, [] {}), weft::otherwise([] {}));  // must not compile
#endif
    weft::select(weft::on_send(ch, 1, [] {}), weft::otherwise([] {}));
    return 0;
}
