// examples/hello.cpp - a goroutine, a channel, range and close.
#include <cstdio>

#include <weft/weft.hpp>

int main() {
    weft::channel<int> squares(0);  // unbuffered: each send waits for the receiver
    weft::go([out = weft::sender<int>(squares)]() {
        for (int i = 1; i <= 5; ++i) out.send(i * i);
        out.close();  // ends the range-for below
    });
    for (int v : squares) std::printf("received %d\n", v);
    std::puts("closed and drained");
}
