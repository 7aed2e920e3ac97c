// A map function must accept the values of the stage before it: here the source makes
// std::strings and the function takes an int. The error names weft::stage::map and says so.
#include <string>
#include <vector>

#include <weft/pipeline.hpp>

int main() {
    std::vector<std::string> words{"a", "b"};
#ifdef WEFT_COMPILE_FAIL
    auto bad = weft::pipeline() | weft::stage::source(words) |
               weft::stage::map([](int x) { return x; }) |
               weft::stage::sink([](int) {});  // must not compile
#endif
    auto p = weft::pipeline() | weft::stage::source(words) |
             weft::stage::map([](const std::string& s) { return s.size(); }) |
             weft::stage::sink([](std::size_t) {});
    return p.size() == 3 ? 0 : 1;
}
