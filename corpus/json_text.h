// JSON text written directly, byte for byte as nlohmann's dump() writes the same object (keys in
// std::map order, UTF-8 kept, its escapes), without building the object first. For the
// indexer's hot paths: the stored passage (schema::encode_document_data) and a record's
// content hash (record_json_text). Callers write keys in sorted order; tests compare the
// results with nlohmann's on random values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "corpus/record.h"

namespace medsearch::corpus::json_text {

// A string as nlohmann's dump writes it: \" \\ \b \f \n \r \t, other control characters as
// \u00xx (lowercase hex), every other byte as it is. Returns false when `v` is not valid UTF-8,
// which nlohmann refuses with an exception: the caller then lets nlohmann write the object.
[[nodiscard]] bool append_string(std::string& out, std::string_view v);
[[nodiscard]] bool append_strings(std::string& out, const std::vector<std::string>& values);

// An object's members, written in the order given (give them sorted, as nlohmann writes them).
// `optional` members are left out when empty or zero, as the objects they mirror leave them.
// valid() is false once a string that is not valid UTF-8 was written (append_string).
class Object {
 public:
  explicit Object(std::string& out) : out_(out) { out_ += '{'; }
  void text(std::string_view key, std::string_view value, bool optional = false);
  void list(std::string_view key, const std::vector<std::string>& values);  // left out when empty
  void number(std::string_view key, long long value, bool optional = false);
  void unsigned_number(std::string_view key, unsigned long long value);
  // Starts a member whose value the caller writes next (an object, an array), passing on
  // whether its strings were valid.
  void key(std::string_view key);
  void nested(bool valid) { valid_ = valid_ && valid; }
  void close() { out_ += '}'; }
  bool valid() const { return valid_; }

 private:
  std::string& out_;
  bool first_ = true;
  bool valid_ = true;
};

// citation_to_json(c), written; false when one of its strings is not valid UTF-8.
[[nodiscard]] bool append_citation(std::string& out, const Citation& c);

}  // namespace medsearch::corpus::json_text
