// Tests of weft/errors.hpp: op_status and its names, the one table-driven error category behind
// context_errc and rate_errc (names, messages, portable conditions, unknown codes, one object
// per enum), make_error_code found by argument-dependent lookup, error_as and error_message.
#include <weft/errors.hpp>
#include <weft/rate.hpp>

#include <doctest/doctest.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

namespace {

struct base_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct derived_error : base_error {
    using base_error::base_error;
};
struct not_a_std_exception {};

}  // namespace

TEST_CASE("op_status: every value has its own name") {
    using weft::op_status;
    CHECK(std::string(weft::to_string(op_status::ok)) == "ok");
    CHECK(std::string(weft::to_string(op_status::closed)) == "closed");
    CHECK(std::string(weft::to_string(op_status::full)) == "full");
    CHECK(std::string(weft::to_string(op_status::empty)) == "empty");
    CHECK(std::string(weft::to_string(op_status::timeout)) == "timeout");
    CHECK(std::string(weft::to_string(op_status::canceled)) == "canceled");
    CHECK(std::string(weft::to_string(static_cast<op_status>(42))) == "unknown");
    static_assert(weft::to_string(op_status::ok)[0] == 'o', "usable in constant expressions");
}

TEST_CASE("context_errc: category, messages and portable conditions from one table") {
    const std::error_code canceled = weft::context_errc::canceled;  // is_error_code_enum
    const std::error_code deadline = make_error_code(weft::context_errc::deadline_exceeded);  // ADL
    CHECK(&canceled.category() == &weft::context_category());
    CHECK(&canceled.category() == &weft::error_category_of<weft::context_errc>());
    CHECK(std::string(canceled.category().name()) == "weft.context");
    CHECK(canceled.message() == "context canceled");
    CHECK(deadline.message() == "context deadline exceeded");
    CHECK(canceled == std::errc::operation_canceled);
    CHECK(deadline == std::errc::timed_out);
    CHECK(canceled != std::errc::timed_out);
    CHECK(canceled != deadline);
    // A code the table does not have: its own message, and a condition of its own category.
    const std::error_code unknown(7, weft::context_category());
    CHECK(unknown.message() == "unknown context error");
    CHECK(unknown.default_error_condition() == std::error_condition(7, weft::context_category()));
    CHECK(unknown != std::errc::operation_canceled);
}

TEST_CASE("rate_errc: the same helper, a distinct category") {
    const std::error_code burst = weft::rate_errc::exceeds_burst;
    const std::error_code late = make_error_code(weft::rate_errc::would_exceed_deadline);  // ADL
    CHECK(&burst.category() == &weft::rate_category());
    CHECK(&burst.category() != &weft::context_category());
    CHECK(std::string(burst.category().name()) == "weft.rate");
    CHECK(burst.message() == "rate: wait(n) exceeds the limiter's burst");
    CHECK(late.message() == "rate: wait(n) would exceed the context's deadline");
    CHECK(burst == std::errc::invalid_argument);
    CHECK(late == std::errc::timed_out);
    // Same value, different enums: not equal, though both mean "timed out".
    CHECK(late != std::error_code(weft::context_errc::deadline_exceeded));
    CHECK(std::error_code(99, weft::rate_category()).message() == "unknown rate error");
}

TEST_CASE("context_error carries its code; error_as finds a type, a base, or nothing") {
    const weft::context_error e(weft::context_errc::deadline_exceeded);
    CHECK(e.code() == weft::context_errc::deadline_exceeded);
    CHECK(std::string(e.what()).find("context deadline exceeded") != std::string::npos);

    CHECK(weft::error_as<std::exception>(nullptr) == nullptr);
    const auto p = std::make_exception_ptr(derived_error("boom"));
    REQUIRE(weft::error_as<derived_error>(p) != nullptr);
    CHECK(std::string(weft::error_as<base_error>(p)->what()) == "boom");
    CHECK(weft::error_as<std::logic_error>(p) == nullptr);
    CHECK(weft::error_as<std::exception>(std::make_exception_ptr(42)) == nullptr);
    CHECK(weft::error_as<int>(std::make_exception_ptr(42)) != nullptr);
}

TEST_CASE("error_message: empty for null, what() for std::exception, a fixed text otherwise") {
    CHECK(weft::error_message(nullptr).empty());
    CHECK(weft::error_message(std::make_exception_ptr(std::runtime_error("disk full"))) ==
          "disk full");
    CHECK(weft::error_message(std::make_exception_ptr(derived_error("derived"))) == "derived");
    CHECK(weft::error_message(std::make_exception_ptr(
              std::system_error(weft::context_errc::canceled))) == "context canceled");
    CHECK(weft::error_message(std::make_exception_ptr(42)) == "unknown exception");
    CHECK(weft::error_message(std::make_exception_ptr(not_a_std_exception{})) ==
          "unknown exception");
    // An empty what() is reported as it is, not replaced.
    CHECK(weft::error_message(std::make_exception_ptr(std::runtime_error(""))).empty());
}
