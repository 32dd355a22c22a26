// Format names and detection, the two-step reader protocol, and the line-oriented JSON
// formats: native medsearch JSONL and BEIR corpus.jsonl.
#include "corpus/reader.h"

#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/formats.h"

namespace medsearch::corpus {

using nlohmann::json;

namespace {

struct FormatName {
  Format format;
  std::string_view name;
};
constexpr FormatName kFormatNames[] = {
    {Format::automatic, "auto"}, {Format::medsearch, "medsearch"}, {Format::beir, "beir"},
    {Format::openfda, "openfda"}, {Format::spl, "spl"},            {Format::medline, "medline"},
    {Format::pubmed_xml, "pubmed-xml"}};

}  // namespace

std::string_view to_string(Format format) {
  for (const auto& f : kFormatNames)
    if (f.format == format) return f.name;
  return "auto";
}

std::optional<Format> parse_format(std::string_view name) {
  for (const auto& f : kFormatNames)
    if (f.name == name) return f.format;
  return std::nullopt;
}

const std::vector<std::string>& format_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& f : kFormatNames) out.emplace_back(f.name);
    return out;
  }();
  return names;
}

std::string truncate_raw(std::string_view text) {
  if (text.size() <= kMaxRawBytes) return std::string(text);
  std::size_t cut = kMaxRawBytes;
  // Back up over UTF-8 continuation bytes so the cut does not split a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut));
}

bool RecordReader::next(ReadItem& item) {
  while (pending_pos_ >= pending_.size()) {
    pending_.clear();
    pending_pos_ = 0;
    RawItem raw;
    if (!next_raw(raw)) return false;
    parse(raw, pending_);
  }
  item = std::move(pending_[pending_pos_++]);
  return true;
}

namespace {

Result<json> parse_json_line(std::string_view line) {
  if (std::size_t bad = find_invalid_utf8(line); bad != std::string_view::npos)
    return make_error(ErrorCode::parse, "invalid UTF-8 at byte " + std::to_string(bad + 1));
  try {
    return json::parse(line);
  } catch (const json::parse_error& e) {
    // nlohmann's message starts "[json.exception.parse_error.101] parse error at line 1, column N: ..."
    std::string what = e.what();
    auto pos = what.find("column");
    return make_error(ErrorCode::parse, "invalid JSON" + (pos == std::string::npos ? std::string(": ") + what
                                                                                    : " at " + what.substr(pos)));
  }
}

// One record per non-blank line.
class JsonlReader : public RecordReader {
 public:
  JsonlReader(std::unique_ptr<InputFile> in, Format format) : in_(std::move(in)), format_(format) {}

  bool next_raw(RawItem& item) override {
    std::string line;
    while (in_->getline(line)) {
      ++line_no_;
      if (line_no_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // BOM
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      item.location = in_->path() + ":" + std::to_string(line_no_);
      item.text = std::move(line);
      item.error.clear();
      return true;
    }
    if (!in_->error().empty() && !reported_error_) {
      // A read error or corrupt compressed data ends the file: report it once, where it happened.
      reported_error_ = true;
      item.location = in_->path() + ":" + std::to_string(line_no_ + 1);
      item.text.clear();
      item.error = in_->error();
      return true;
    }
    return false;
  }

  void parse(const RawItem& raw, std::vector<ReadItem>& out) const override {
    ReadItem item;
    item.location = raw.location;
    if (!raw.error.empty()) {
      item.error = make_error(ErrorCode::corrupt, raw.error);
      out.push_back(std::move(item));
      return;
    }
    auto record = format_ == Format::beir ? parse_beir_line(raw.text) : parse_medsearch_line(raw.text);
    if (record.ok()) {
      item.record = std::move(record.value());
    } else {
      item.error = record.error();
      item.raw = raw.text;
    }
    out.push_back(std::move(item));
  }

  const InputFile& input() const override { return *in_; }

 private:
  std::unique_ptr<InputFile> in_;
  Format format_;
  std::uint64_t line_no_ = 0;
  bool reported_error_ = false;
};

bool starts_with_ignoring_space(std::string_view text, std::string_view prefix) {
  std::size_t i = 0;
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) i = 3;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) ++i;
  return text.substr(i).rfind(prefix, 0) == 0;
}

// How much of a file detection reads, and how far it reads on for a first JSON line that is
// longer than that.
constexpr std::size_t kDetectBytes = std::size_t{1} << 16;
constexpr std::size_t kMaxDetectBytes = std::size_t{256} << 20;

// True when the first non-blank line of `head` starts a JSON object and does not end in `head`.
bool first_json_line_incomplete(std::string_view head) {
  std::size_t i = head.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  while (i < head.size() && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')) ++i;
  return i < head.size() && head[i] == '{' && head.find('\n', i) == std::string_view::npos;
}

// For JSON lines: the first complete line that parses decides between medsearch and BEIR.
Format detect_jsonl(std::string_view head) {
  std::size_t start = 0;
  while (start < head.size()) {
    std::size_t end = head.find('\n', start);
    if (end == std::string_view::npos) break;  // an incomplete last line decides nothing
    std::string_view line = head.substr(start, end - start);
    start = end + 1;
    if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.remove_prefix(3);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (!j.is_object()) continue;  // a bad line: look further
    if (j.contains("_id")) return Format::beir;
    if (j.contains("id") && j.contains("source")) return Format::medsearch;
  }
  return Format::automatic;
}

}  // namespace

namespace formats {
std::unique_ptr<RecordReader> make_jsonl_reader(std::unique_ptr<InputFile> in, Format format) {
  return std::make_unique<JsonlReader>(std::move(in), format);
}
}  // namespace formats

Format detect_format(std::string_view head, std::string_view name) {
  if (starts_with_ignoring_space(head, "<")) {
    if (formats::looks_like_pubmed_xml(head)) return Format::pubmed_xml;
    if (formats::looks_like_spl(head)) return Format::spl;
    return Format::automatic;
  }
  if (formats::looks_like_medline(head)) return Format::medline;
  if (formats::looks_like_openfda(head)) return Format::openfda;
  const Format jsonl = detect_jsonl(head);
  if (jsonl != Format::automatic) return jsonl;
  // An empty file reads as nothing, whatever it is.
  if (head.find_first_not_of(" \t\r\n") == std::string_view::npos) return Format::medsearch;
  (void)name;
  return Format::automatic;
}

Result<Record> parse_medsearch_line(std::string_view line) {
  auto j = parse_json_line(line);
  if (!j.ok()) return j.error();
  return record_from_json(*j);
}

Result<Record> parse_beir_line(std::string_view line) {
  auto parsed = parse_json_line(line);
  if (!parsed.ok()) return parsed.error();
  const json& j = *parsed;
  if (!j.is_object()) return make_error(ErrorCode::parse, "a BEIR corpus line must be a JSON object");
  json native = json::object();
  auto id = j.find("_id");
  if (id == j.end()) return make_error(ErrorCode::invalid_argument, "field '_id': is required", "_id");
  native["id"] = *id;
  native["source"] = "research";
  if (auto t = j.find("title"); t != j.end()) native["title"] = *t;
  if (auto t = j.find("text"); t != j.end()) native["text"] = *t;
  auto record = record_from_json(native, /*require_title=*/false);
  if (!record.ok()) {
    Error e = record.error();
    if (e.param == "id") {
      e.param = "_id";
      e.message.replace(e.message.find("'id'"), 4, "'_id'");
    }
    return e;
  }
  return record;
}

Result<std::unique_ptr<RecordReader>> open_reader(const std::string& path, Format format, Format* chosen) {
  auto in = InputFile::open(path);
  if (!in.ok()) return in.error();
  if (format == Format::automatic) {
    std::size_t n = kDetectBytes;
    std::string head;
    bool whole = false;
    auto detect = [&] {
      head = (*in)->peek(n);
      whole = head.size() < n;
      // The whole file: its last line is complete even without a final newline.
      if (whole && !head.empty() && head.back() != '\n') head += '\n';
      return detect_format(head, path);
    };
    format = detect();
    // A first JSON line longer than the head (a long full text) decides nothing from the head:
    // look on to its end, as the reader will hold that line whole anyway.
    while (format == Format::automatic && !whole && n < kMaxDetectBytes && first_json_line_incomplete(head)) {
      n = std::min(n * 4, kMaxDetectBytes);
      format = detect();
    }
    if (format == Format::automatic)
      return make_error(ErrorCode::parse, path + ":1: cannot detect the format; use --format (" +
                                              std::string("medsearch, beir, openfda, spl, medline, pubmed-xml)"));
  }
  if (chosen != nullptr) *chosen = format;
  switch (format) {
    case Format::medsearch:
    case Format::beir:
      return formats::make_jsonl_reader(std::move(in.value()), format);
    case Format::openfda:
      return formats::make_openfda_reader(std::move(in.value()));
    case Format::spl:
      return formats::make_spl_reader(std::move(in.value()));
    case Format::medline:
      return formats::make_medline_reader(std::move(in.value()));
    case Format::pubmed_xml:
      return formats::make_pubmed_xml_reader(std::move(in.value()));
    case Format::automatic:
      break;
  }
  return make_error(ErrorCode::internal, "unhandled format");
}

}  // namespace medsearch::corpus
