// Xapian's exceptions turned into our Error codes, in one place for the indexer and the
// searcher (the only layers that call Xapian).
#pragma once

#include <string>

#include <xapian.h>

#include "corpus/result.h"

namespace medsearch::corpus {

// unavailable: the database cannot be opened, is locked, closed, or the network failed (also
// a plain DatabaseError, usually I/O such as a full disk); corrupt: damaged or of another
// format version; internal: anything else. The message is `what: <Xapian's description>`.
Error error_from_xapian(const Xapian::Error& e, const std::string& what);

}  // namespace medsearch::corpus
