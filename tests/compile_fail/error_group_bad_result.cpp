// An error_group task reports an error by throwing, or by returning a std::error_code or a
// std::exception_ptr. Any other result (an int, a bool) would be dropped without a word, so a
// task that returns one must not compile.
#include <weft/error_group.hpp>

int main() {
    weft::error_group g;
#ifdef WEFT_COMPILE_FAIL
    g.go([] { return 1; });  // must not compile
#endif
    g.go([] {});
    return g.wait() ? 1 : 0;
}
