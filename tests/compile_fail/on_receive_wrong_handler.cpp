// A receive case's function takes std::optional<T> (empty when closed) or nothing; a T alone
// could not be called when the channel closes.
#include <weft/select.hpp>

int main() {
    weft::channel<int> ch(1);
    (void)ch.try_send(1);
#ifdef WEFT_COMPILE_FAIL
    weft::select(weft::on_receive(ch, [](int) {}));  // must not compile
#endif
    weft::select(weft::on_receive(ch, [](std::optional<int>) {}));
    return 0;
}
