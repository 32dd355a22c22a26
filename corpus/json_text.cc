#include "corpus/json_text.h"

#include "corpus/analysis.h"

namespace medsearch::corpus::json_text {

bool append_string(std::string& out, std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // bytes copied as they are, in one append
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(v.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(v.data() + run, v.size() - run);
  out += '"';
  return is_valid_utf8(v);
}

bool append_strings(std::string& out, const std::vector<std::string>& values) {
  bool valid = true;
  out += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    valid = append_string(out, values[i]) && valid;
  }
  out += ']';
  return valid;
}

void Object::key(std::string_view key) {
  out_ += first_ ? "\"" : ",\"";
  first_ = false;
  out_ += key;
  out_ += "\":";
}

void Object::text(std::string_view key, std::string_view value, bool optional) {
  if (optional && value.empty()) return;
  this->key(key);
  nested(append_string(out_, value));
}

void Object::list(std::string_view key, const std::vector<std::string>& values) {
  if (values.empty()) return;
  this->key(key);
  nested(append_strings(out_, values));
}

void Object::number(std::string_view key, long long value, bool optional) {
  if (optional && value == 0) return;
  this->key(key);
  out_ += std::to_string(value);
}

void Object::unsigned_number(std::string_view key, unsigned long long value) {
  this->key(key);
  out_ += std::to_string(value);
}

bool append_citation(std::string& out, const Citation& c) {
  constexpr bool kOptional = true;
  Object o(out);
  o.list("authors", c.authors);
  o.text("doi", c.doi, kOptional);
  o.text("journal", c.journal, kOptional);
  o.text("organisation", c.organisation, kOptional);
  o.text("pages", c.pages, kOptional);
  o.text("pmid", c.pmid, kOptional);
  o.text("publisher", c.publisher, kOptional);
  o.text("set_id", c.set_id, kOptional);
  o.text("title", c.title, kOptional);
  o.text("url", c.url, kOptional);
  o.text("volume", c.volume, kOptional);
  o.number("year", c.year, kOptional);
  o.close();
  return o.valid();
}

}  // namespace medsearch::corpus::json_text
