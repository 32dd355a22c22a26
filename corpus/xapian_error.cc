// Xapian exception types to error codes.
#include "corpus/xapian_error.h"

namespace medsearch::corpus {

Error error_from_xapian(const Xapian::Error& e, const std::string& what) {
  const std::string type = e.get_type();
  ErrorCode code = ErrorCode::internal;
  if (type == "DatabaseLockError" || type == "DatabaseOpeningError" || type == "DatabaseNotFoundError" ||
      type == "DatabaseClosedError" || type == "NetworkError" || type == "NetworkTimeoutError" ||
      type == "DatabaseError")
    code = ErrorCode::unavailable;
  else if (type == "DatabaseCorruptError" || type == "DatabaseVersionError")
    code = ErrorCode::corrupt;
  return make_error(code, what + ": " + e.get_description());
}

}  // namespace medsearch::corpus
