// A broadcast gives every subscriber its own copy of each value, so a move-only element type
// must not compile (a static_assert says to publish std::shared_ptr<const T> instead).
#include <memory>

#include <weft/broadcast.hpp>

int main() {
#ifdef WEFT_COMPILE_FAIL
    weft::broadcast<std::unique_ptr<int>> hub;  // must not compile
    auto sub = hub.subscribe();
    (void)hub.publish(std::make_unique<int>(1));
#else
    weft::broadcast<std::shared_ptr<const int>> hub;
    auto sub = hub.subscribe();
    (void)hub.publish(std::make_shared<const int>(1));
#endif
    return sub.rx().try_receive() ? 0 : 1;
}
