// Go allows one `default` per select; so does weft.
#include <weft/select.hpp>

int main() {
    weft::channel<int> ch(1);
#ifdef WEFT_COMPILE_FAIL
    weft::select(weft::on_receive(ch, [] {}), weft::otherwise([] {}), weft::otherwise([] {}));
#endif
    weft::select(weft::on_receive(ch, [] {}), weft::otherwise([] {}));
    return 0;
}
