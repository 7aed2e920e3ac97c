// weft/pipeline/emitter.hpp - weft::emitter<T>, what a function given to
// weft::stage::source<T>(f) pushes its values with. Part of <weft/pipeline.hpp>.
#pragma once

#include <utility>

#include "../context.hpp"
#include "../detail/config.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail::pipe {
template <class F>
struct push_gen;
}  // namespace detail::pipe

// What a function given to source<T>(f) pushes values with: emit(v) sends v to the next stage,
// waiting while it is full, and returns false once the pipeline is stopping (v is then
// dropped and counted; f should return).
template <class T>
class emitter {
public:
    emitter(const emitter&) = delete;
    emitter& operator=(const emitter&) = delete;

    bool operator()(T v) { return send_(self_, std::move(v)); }
    // The pipeline's context: for waits inside f that should end when the pipeline stops.
    const weft::context& ctx() const noexcept { return *ctx_; }
    bool stopping() const noexcept { return static_cast<bool>(ctx_->err()); }

private:
    template <class E>
    emitter(E& e, const weft::context& c) noexcept
        : self_(&e),
          send_(+[](void* s, T&& v) -> bool { return (*static_cast<E*>(s))(std::move(v)); }),
          ctx_(&c) {}

    void* self_;
    bool (*send_)(void*, T&&);
    const weft::context* ctx_;
    template <class>
    friend struct detail::pipe::push_gen;
};

WEFT_END_NAMESPACE
