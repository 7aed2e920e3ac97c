// Two using-directives, std's and weft's, leave every name unambiguous: the pipeline's stage
// factories live in weft::stage, so `map` is std::map and `filter` is nobody's.
#include <map>
#include <string>

#include <weft/weft.hpp>

using namespace std;
using namespace weft;

int main() {
    map<string, int> counts;
    auto p = pipeline() | stage::source({1, 2, 3}) | stage::map([](int v) { return v * 2; }) |
             stage::sink([&](int v) { counts[to_string(v)] = v; });
    return p.run().ok() && counts.size() == 3 ? 0 : 1;
}
