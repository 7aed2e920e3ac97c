// Control for the compile-fail tests: correct use of the directional views must compile, so a
// broken include path or flag cannot make every compile-fail test pass for the wrong reason.
#include <weft/channel.hpp>

int main() {
    weft::channel<int> ch(1);
    weft::sender<int> tx = ch;
    weft::receiver<int> rx = ch;
    if (!tx.send(42)) return 1;
    auto v = rx.receive();
    tx.close();
    return (v && *v == 42) ? 0 : 1;
}
