// openFDA drug label JSON: an API response or bulk download file ({"meta": ..., "results":
// [label, ...]}) or JSON Lines of label objects, turned into fda_label records.
//
// Bulk files run to gigabytes, so they are never parsed into one DOM: next_raw() scans the text
// with a small JSON-aware scanner (strings, escapes, nesting depth) and frames each element of
// `results` as its own item; parse() then parses that one element. A malformed element is
// rejected alone as long as its brackets balance (a bad literal, a missing comma, bad UTF-8);
// a truncated file rejects only its last, incomplete element.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "corpus/analysis.h"
#include "corpus/formats.h"
#include "corpus/label_sections.h"

namespace medsearch::corpus::formats {

namespace {

using nlohmann::json;

// An element (or a JSON line) larger than this is rejected without being parsed: real labels
// are well under 10 MB, and parsing costs several times the text in memory.
constexpr std::size_t kMaxElementBytes = std::size_t{256} << 20;
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
// How much of the file decides between bulk and JSON Lines (as detect_format sees it).
constexpr std::size_t kHeadBytes = std::size_t{1} << 16;

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_bom_and_space(std::string_view text) {
  std::size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  while (i < text.size() && is_json_space(text[i])) ++i;
  return i;
}

// The member names of the first JSON object in `text`, as far as the text goes (it may be cut
// off): enough to recognise a file from its first bytes without parsing it.
std::vector<std::string> top_level_keys(std::string_view text) {
  std::vector<std::string> keys;
  std::size_t i = skip_bom_and_space(text);
  if (i >= text.size() || text[i] != '{') return keys;
  int depth = 0;
  bool in_string = false;
  bool escape = false;
  bool collecting = false;
  std::string current;
  std::string last_string;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
        if (collecting) last_string = current;
        collecting = false;
        continue;
      }
      if (collecting) current += c;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        collecting = depth == 1;
        current.clear();
        break;
      case ':':
        if (depth == 1) keys.push_back(last_string);
        break;
      case '{':
      case '[':
        ++depth;
        break;
      case '}':
      case ']':
        if (--depth == 0) return keys;
        break;
      default:
        break;
    }
  }
  return keys;
}

bool has_key(const std::vector<std::string>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// A bulk file or API response: {"meta": ..., "results": [...]}.
bool is_bulk(const std::vector<std::string>& keys) {
  return !keys.empty() && (keys.front() == "meta" || keys.front() == "results" || has_key(keys, "results"));
}

// ---- label -> record ----------------------------------------------------------------------

Error field_error(ErrorCode code, const std::string& field, const std::string& what) {
  return make_error(code, "field '" + field + "': " + what, field);
}

// An optional string member; a present non-string is an error.
Result<std::string> string_member(const json& j, const char* key, const std::string& path = {}) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return field_error(ErrorCode::parse, path + key, "must be a string");
  return it->get<std::string>();
}

// The strings of an openFDA array-of-strings field (a lone string is taken as a list of one),
// pointing into `value` (fields can be megabytes: no copies). nullopt when the value is
// anything else.
std::optional<std::vector<const std::string*>> string_list(const json& value) {
  std::vector<const std::string*> out;
  if (value.is_string()) {
    out.push_back(&value.get_ref<const std::string&>());
    return out;
  }
  if (!value.is_array()) return std::nullopt;
  for (const auto& v : value) {
    if (!v.is_string()) return std::nullopt;
    out.push_back(&v.get_ref<const std::string&>());
  }
  return out;
}

std::vector<std::string> string_list_copy(const json& value) {
  std::vector<std::string> out;
  if (auto list = string_list(value))
    for (const std::string* s : *list) out.push_back(*s);
  return out;
}

// openFDA text fields are arrays of paragraphs: joined with blank lines, blank ones dropped.
std::string join_paragraphs(const std::vector<const std::string*>& parts) {
  std::size_t size = 0;
  for (const std::string* p : parts) size += p->size() + 2;
  std::string text;
  text.reserve(size);
  for (const std::string* p : parts) {
    if (p->find_first_not_of(" \t\r\n") == std::string::npos) continue;
    if (!text.empty()) text += "\n\n";
    text += *p;
  }
  return text;
}

// The first line of `text`, collapsed, cut at a word boundary near 120 bytes.
std::string first_line(std::string_view text) {
  std::string line = label::collapse_space(text.substr(0, text.find('\n')));
  constexpr std::size_t kMax = 120;
  if (line.size() > kMax) {
    std::size_t cut = line.rfind(' ', kMax);
    line.resize(cut == std::string::npos ? kMax : cut);
    while (!line.empty() && (static_cast<unsigned char>(line.back()) & 0xC0) == 0x80) line.pop_back();
  }
  return line;
}

Result<Record> label_to_record(const json& j) {
  if (!j.is_object()) return make_error(ErrorCode::parse, "an openFDA label must be a JSON object");
  Record r;
  r.source = Source::fda_label;

  auto set_id = string_member(j, "set_id");
  if (!set_id.ok()) return set_id.error();
  auto doc_id = string_member(j, "id");
  if (!doc_id.ok()) return doc_id.error();
  const std::string set = label::collapse_space(*set_id);
  const std::string id = label::collapse_space(*doc_id);
  if (set.empty() && id.empty())
    return field_error(ErrorCode::invalid_argument, "set_id",
                       "is required (the label has neither 'set_id' nor 'id' to make a record id from)");
  // The set id names the label across its versions, so a newer version replaces an older one;
  // the document id names one version only and is the fallback.
  r.id = "fda-" + (set.empty() ? id : set);
  if (!valid_record_id(r.id))
    return field_error(ErrorCode::invalid_argument, set.empty() ? "id" : "set_id",
                       "'" + (set.empty() ? id : set) + "' cannot make a record id (A-Z a-z 0-9 . _ : - only)");

  if (auto it = j.find("version"); it != j.end() && !it->is_null()) {
    if (it->is_number_unsigned()) {
      r.version = static_cast<long long>(std::min<unsigned long long>(it->get<unsigned long long>(), 1ULL << 62));
    } else if (it->is_string()) {
      const auto& v = it->get_ref<const std::string&>();
      if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); }))
        return field_error(ErrorCode::parse, "version", "must be a whole number, not '" + v.substr(0, 40) + "'");
      r.version = std::stoll(v);
    } else {
      return field_error(ErrorCode::parse, "version", "must be a whole number");
    }
  }

  auto effective = string_member(j, "effective_time");
  if (!effective.ok()) return effective.error();
  if (!effective->empty()) {
    r.updated = label::date_from_compact(*effective);
    if (r.updated.empty())
      return field_error(ErrorCode::parse, "effective_time", "must be a date YYYYMMDD, not '" + effective->substr(0, 40) + "'");
    r.citation.year = std::stoi(r.updated.substr(0, 4));
  }

  // Names from the openfda block (present when openFDA could match the label to a product).
  std::vector<std::string> brands;
  std::vector<std::string> generics;
  std::string manufacturer;
  if (auto it = j.find("openfda"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return field_error(ErrorCode::parse, "openfda", "must be an object");
    auto names = [&](const char* key) {
      auto f = it->find(key);
      return f == it->end() ? std::vector<std::string>() : string_list_copy(*f);
    };
    brands = names("brand_name");
    generics = names("generic_name");
    for (const auto& b : brands) label::add_drug(r.drugs, b);
    for (const auto& g : generics) label::add_drug(r.drugs, label::generic_for_drugs(g));
    for (const auto& s : names("substance_name")) label::add_drug(r.drugs, label::generic_for_drugs(s));
    auto makers = names("manufacturer_name");
    if (!makers.empty()) manufacturer = label::collapse_space(makers.front());
  }

  // Sections: known fields in the table's order, then other text fields alphabetically
  // (nlohmann's object keeps keys sorted).
  const auto table = label::label_sections();
  std::vector<std::optional<Section>> known(table.size());
  std::vector<Section> unknown;
  for (const auto& [field, value] : j.items()) {
    if (label::is_openfda_metadata_field(field)) continue;
    const label::LabelSection* entry = label::find_section_by_key(field);
    auto parts = string_list(value);
    if (!parts) {
      if (entry != nullptr) return field_error(ErrorCode::parse, field, "must be an array of strings");
      continue;  // not text: some other openFDA structure we do not use
    }
    std::string text = join_paragraphs(*parts);
    if (text.empty()) continue;
    if (entry != nullptr) {
      known[static_cast<std::size_t>(entry - table.data())] =
          Section{std::string(entry->heading), std::string(entry->key), std::move(text)};
    } else {
      unknown.push_back(Section{label::heading_from_field(field), field, std::move(text)});
    }
  }
  for (auto& s : known)
    if (s) r.sections.push_back(std::move(*s));
  for (auto& s : unknown) r.sections.push_back(std::move(s));
  if (r.sections.empty())
    return field_error(ErrorCode::invalid_argument, "text", "the label has no text sections");

  r.title = label::label_title(brands.empty() ? "" : brands.front(), generics.empty() ? "" : generics.front());
  if (r.title.empty()) {
    if (auto it = j.find("spl_product_data_elements"); it != j.end()) {
      auto parts = string_list(*it);
      if (parts && !parts->empty()) r.title = first_line(*parts->front());
    }
  }
  if (r.title.empty()) r.title = "FDA drug label " + (set.empty() ? id : set);

  r.citation.organisation = std::string(label::kFdaOrganisation);
  r.citation.title = r.title;
  r.citation.publisher = manufacturer;
  r.citation.set_id = set;
  if (!set.empty()) r.citation.url = label::dailymed_url(set);

  Status valid = validate(r);
  if (!valid.ok()) return valid.error();
  return r;
}

Result<Record> parse_label_text(std::string_view text) {
  if (std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos)
    return make_error(ErrorCode::parse, "invalid UTF-8 at byte " + std::to_string(bad + 1));
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." -> from "line".
    std::string what = e.what();
    auto pos = what.find("line ");
    return make_error(ErrorCode::parse, "invalid JSON" + (pos == std::string::npos ? ": " + what : " at " + what.substr(pos)));
  }
  return label_to_record(j);
}

// ---- the reader -----------------------------------------------------------------------------

class OpenFdaReader : public RecordReader {
 public:
  explicit OpenFdaReader(std::unique_ptr<InputFile> in) : in_(std::move(in)) {}

  bool next_raw(RawItem& item) override {
    item.location.clear();
    item.text.clear();
    item.error.clear();
    if (mode_ == Mode::undecided) {
      mode_ = is_bulk(top_level_keys(in_->peek(kHeadBytes))) ? Mode::bulk : Mode::lines;
    }
    return mode_ == Mode::bulk ? next_element(item) : next_line(item);
  }

  void parse(const RawItem& raw, std::vector<ReadItem>& out) const override {
    ReadItem item;
    item.location = raw.location;
    try {
      if (!raw.error.empty()) {
        item.error = make_error(ErrorCode::corrupt, raw.error);
        item.raw = truncate_raw(raw.text);
      } else {
        auto record = parse_label_text(raw.text);
        if (record.ok()) {
          item.record = std::move(record.value());
        } else {
          item.error = record.error();
          item.raw = truncate_raw(raw.text);
        }
      }
    } catch (const std::exception& e) {  // std::bad_alloc on a huge element, or a bug
      item.record.reset();
      item.error = make_error(ErrorCode::internal, std::string("cannot read the label: ") + e.what());
      item.raw = truncate_raw(raw.text);
    }
    out.push_back(std::move(item));
  }

  const InputFile& input() const override { return *in_; }

 private:
  enum class Mode { undecided, bulk, lines };
  // Where the bulk scanner is: before the root object, among its members, inside `results`,
  // or finished (after the root object, or after reporting a problem that ends the file).
  enum class State { before_root, in_root, in_results, done };

  // ---- JSON Lines ----
  bool next_line(RawItem& item) {
    std::string line;
    while (in_->getline(line)) {
      ++line_no_;
      if (line_no_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      item.location = in_->path() + ":" + std::to_string(line_no_);
      if (line.size() > kMaxElementBytes) {
        item.error = "the line is " + std::to_string(line.size() >> 20) + " MiB, more than the " +
                     std::to_string(kMaxElementBytes >> 20) + " MiB a label may take";
        item.text = truncate_raw(line);
      } else {
        item.text = std::move(line);
      }
      return true;
    }
    return report_read_error(item, in_->path() + ":" + std::to_string(line_no_ + 1));
  }

  // A read error or corrupt compressed data ends the file: report it once, where it happened.
  bool report_read_error(RawItem& item, const std::string& location) {
    if (in_->error().empty() || reported_error_) return false;
    reported_error_ = true;
    item.location = location;
    item.error = in_->error();
    return true;
  }

  // ---- bulk ----
  std::string element_location() const {
    return in_->path() + ":results[" + std::to_string(element_index_) + "]";
  }

  // Copies the captured part of the buffer, [capture_from_, end), into the element's text.
  void flush_capture(RawItem& item, std::size_t end) {
    if (!capturing_ || end <= capture_from_) return;
    const std::size_t n = end - capture_from_;
    if (item.text.size() + n > kMaxElementBytes) {
      oversize_ = true;
      if (item.text.size() < kMaxRawBytes) item.text.append(buf_, capture_from_, kMaxRawBytes - item.text.size());
    } else if (!oversize_) {
      item.text.append(buf_, capture_from_, n);
    }
    element_bytes_ += n;
    capture_from_ = end;
  }

  void start_element(RawItem& item, std::size_t at) {
    in_element_ = true;
    capturing_ = true;
    capture_from_ = at;
    oversize_ = false;
    element_bytes_ = 0;
    item.text.clear();
  }

  // Ends the element whose last byte is before `end`; returns true (an item is ready).
  bool finish_element(RawItem& item, std::size_t end) {
    flush_capture(item, end);
    capturing_ = false;
    in_element_ = false;
    scalar_element_ = false;
    string_element_ = false;
    item.location = element_location();
    if (oversize_) {
      item.error = "the element is " + std::to_string(element_bytes_ >> 20) + " MiB, more than the " +
                   std::to_string(kMaxElementBytes >> 20) + " MiB a label may take";
      item.text = truncate_raw(item.text);
    }
    ++element_index_;
    return true;
  }

  bool fill(RawItem& item) {
    flush_capture(item, buf_.size());
    buf_.resize(kChunkBytes);
    const std::size_t n = in_->read(buf_.data(), buf_.size());
    buf_.resize(n);
    pos_ = 0;
    capture_from_ = 0;
    if (first_fill_ && buf_.rfind("\xEF\xBB\xBF", 0) == 0) pos_ = 3;  // a byte-order mark
    first_fill_ = false;
    return n > 0;
  }

  // What the end of the input means, given where the scanner stopped.
  bool at_end(RawItem& item) {
    const State state = state_;
    state_ = State::done;
    if (!in_->error().empty()) {
      const std::string where = in_element_ || state == State::in_results ? element_location() : in_->path();
      return report_read_error(item, where);
    }
    if (in_element_) {
      capturing_ = false;
      in_element_ = false;
      item.location = element_location();
      item.error = "the file ends inside results[" + std::to_string(element_index_) + "] (truncated?)";
      item.text = truncate_raw(item.text);
      ++element_index_;
      return true;
    }
    switch (state) {
      case State::in_results:
        item.location = element_location();
        item.error = "the file ends before the results array is closed (truncated?)";
        return true;
      case State::in_root:
        if (results_seen_) return false;  // only the closing brace is missing: nothing lost
        item.location = in_->path();
        item.error = "the file ends without a \"results\" array";
        return true;
      case State::before_root:
      case State::done:
        return false;
    }
    return false;
  }

  bool not_an_object(RawItem& item) {
    state_ = State::done;
    item.location = in_->path();
    item.error = "an openFDA file must be a JSON object with a \"results\" array";
    return true;
  }

  bool next_element(RawItem& item) {
    while (state_ != State::done) {
      if (pos_ >= buf_.size()) {
        if (!fill(item)) return at_end(item);
        continue;
      }
      if (in_string_) {
        // Fast path: skip ordinary string bytes (a label field can be megabytes long).
        if (!escape_ && !collecting_key_) {
          const char* p = buf_.data() + pos_;
          const char* end = buf_.data() + buf_.size();
          while (p < end && *p != '"' && *p != '\\') ++p;
          pos_ = static_cast<std::size_t>(p - buf_.data());
          if (pos_ >= buf_.size()) continue;
        }
        const char c = buf_[pos_++];
        if (escape_) {
          escape_ = false;
        } else if (c == '\\') {
          escape_ = true;
        } else if (c == '"') {
          in_string_ = false;
          if (collecting_key_) last_string_ = key_buffer_;
          collecting_key_ = false;
          if (string_element_) return finish_element(item, pos_);
          continue;
        }
        if (collecting_key_ && key_buffer_.size() < 64) key_buffer_ += c;
        continue;
      }

      const char c = buf_[pos_++];
      if (scalar_element_ && (c == ',' || c == ']' || is_json_space(c))) {
        --pos_;  // the terminator belongs to the array
        return finish_element(item, pos_);
      }
      if (is_json_space(c)) continue;
      if (state_ == State::before_root) {
        if (c != '{') return not_an_object(item);
        state_ = State::in_root;
        depth_ = 1;
        continue;
      }

      // A new element of results: anything that is not a separator at the array's level.
      if (state_ == State::in_results && depth_ == 2 && !in_element_ && c != ',' && c != ']') {
        start_element(item, pos_ - 1);
        if (c == '"') {
          string_element_ = true;
        } else if (c != '{' && c != '[') {
          scalar_element_ = true;
          continue;
        }
      }

      switch (c) {
        case '"':
          in_string_ = true;
          collecting_key_ = state_ == State::in_root && depth_ == 1;
          key_buffer_.clear();
          break;
        case ':':
          if (state_ == State::in_root && depth_ == 1) key_ = last_string_;
          break;
        case ',':
          if (state_ == State::in_root && depth_ == 1) key_.clear();
          break;
        case '{':
        case '[':
          if (state_ == State::in_root && depth_ == 1 && c == '[' && key_ == "results" && !results_seen_) {
            state_ = State::in_results;
            results_seen_ = true;
            depth_ = 2;
          } else {
            ++depth_;
          }
          break;
        case '}':
        case ']':
          --depth_;
          if (in_element_ && depth_ == 2) return finish_element(item, pos_);
          if (state_ == State::in_results && depth_ == 1) state_ = State::in_root;
          if (depth_ <= 0) {  // the end of the root object: whatever follows is ignored
            state_ = State::done;
            if (!results_seen_) {
              item.location = in_->path();
              item.error = "the file has no \"results\" array";
              return true;
            }
          }
          break;
        default:
          if (state_ == State::in_root && depth_ == 1 && key_ == "results" && !results_seen_) {
            // "results": null or a number: no labels, and worth saying so.
            state_ = State::done;
            item.location = in_->path() + ":results";
            item.error = "\"results\" must be an array of labels";
            return true;
          }
          break;
      }
    }
    return false;
  }

  std::unique_ptr<InputFile> in_;
  Mode mode_ = Mode::undecided;
  // JSON Lines.
  std::uint64_t line_no_ = 0;
  bool reported_error_ = false;
  // Bulk scanner.
  State state_ = State::before_root;
  bool first_fill_ = true;
  std::string buf_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  bool collecting_key_ = false;
  std::string key_buffer_;
  std::string last_string_;
  std::string key_;  // the root member whose value is being scanned
  bool results_seen_ = false;
  bool in_element_ = false;
  bool string_element_ = false;
  bool scalar_element_ = false;
  bool capturing_ = false;
  bool oversize_ = false;
  std::size_t capture_from_ = 0;
  std::uint64_t element_bytes_ = 0;
  std::uint64_t element_index_ = 0;
};

}  // namespace

std::unique_ptr<RecordReader> make_openfda_reader(std::unique_ptr<InputFile> in) {
  return std::make_unique<OpenFdaReader>(std::move(in));
}

bool looks_like_openfda(std::string_view head) {
  const std::vector<std::string> keys = top_level_keys(head);
  if (keys.empty()) return false;
  if (has_key(keys, "meta") && has_key(keys, "results")) return true;
  if (keys.front() == "meta") return true;  // {"meta": ... with results beyond the head
  // {"results": [...]} without meta (a trimmed API response): results that are labels.
  if (keys.front() == "results" && head.find("\"set_id\"") != std::string_view::npos) return true;
  // One label per line. Native records have "source", BEIR lines "_id"; a label has neither,
  // and has its set id beside openFDA's own fields.
  if (has_key(keys, "source") || has_key(keys, "_id") || !has_key(keys, "set_id")) return false;
  if (has_key(keys, "openfda") || has_key(keys, "effective_time")) return true;
  return std::any_of(keys.begin(), keys.end(), [](const std::string& k) {
    const label::LabelSection* s = label::find_section_by_key(k);
    return s != nullptr && s->indexed;
  });
}

}  // namespace medsearch::corpus::formats
