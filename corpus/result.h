// Result<T> and Status: how medsearch reports expected failures (bad input, missing
// records, unavailable indexes) without exceptions crossing library boundaries.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace medsearch::corpus {

// What kind of failure an Error is. Only server/ maps these to HTTP statuses.
enum class ErrorCode {
  invalid_argument,  // the caller's input is wrong (a bad query, a bad option)
  parse,             // input data could not be parsed (a bad JSON line)
  not_found,         // the thing asked for does not exist
  unavailable,       // a resource (index, file) cannot be opened right now
  corrupt,           // stored data is damaged
  internal,          // a bug or an unexpected library failure
};

std::string_view to_string(ErrorCode code);

// An error: its code, a message that says where and why, and optionally the name of the
// parameter or field that caused it.
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  std::string param;
};

// Either a value or an Error. Access value() only after checking ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}            // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// A Result with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static Status success() { return Status(); }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *error_; }

 private:
  std::optional<Error> error_;
};

inline Error make_error(ErrorCode code, std::string message, std::string param = {}) {
  return Error{code, std::move(message), std::move(param)};
}

}  // namespace medsearch::corpus
