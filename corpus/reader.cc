// Readers for line-oriented JSON formats: native medsearch JSONL and BEIR corpus.jsonl.
#include "corpus/reader.h"

#include <nlohmann/json.hpp>

#include "corpus/analysis.h"

namespace medsearch::corpus {

using nlohmann::json;

std::string_view to_string(Format format) {
  switch (format) {
    case Format::automatic: return "auto";
    case Format::medsearch: return "medsearch";
    case Format::beir: return "beir";
  }
  return "auto";
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "auto") return Format::automatic;
  if (name == "medsearch") return Format::medsearch;
  if (name == "beir") return Format::beir;
  return std::nullopt;
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


class JsonlReader : public RecordReader {
 public:
  JsonlReader(std::string path, Format format, std::ifstream in)
      : path_(std::move(path)), format_(format), in_(std::move(in)) {}

  bool next(ReadItem& item) override {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_no_;
      if (line_no_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // BOM
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      item.location = path_ + ":" + std::to_string(line_no_);
      auto record = format_ == Format::beir ? parse_beir_line(line) : parse_medsearch_line(line);
      if (record.ok()) {
        item.record = std::move(record.value());
        item.error = Error{};
      } else {
        item.record.reset();
        item.error = record.error();
      }
      return true;
    }
    if (in_.bad()) {
      item.location = path_ + ":" + std::to_string(line_no_ + 1);
      item.record.reset();
      item.error = make_error(ErrorCode::unavailable, "read error");
      in_.clear(std::ios::eofbit);
      return true;
    }
    return false;
  }

 private:
  std::string path_;
  Format format_;
  std::ifstream in_;
  std::uint64_t line_no_ = 0;
};

}  // namespace

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

Result<std::unique_ptr<RecordReader>> open_reader(const std::string& path, Format format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::unavailable, path + ": cannot open for reading");
  if (format == Format::automatic) {
    // Look at the first non-blank line, then start again from the top.
    std::string line;
    int scanned = 0;
    int nonblank = 0;
    while (std::getline(in, line) && ++scanned < 1000) {
      if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j = json::parse(line, nullptr, false);
      ++nonblank;
      if (j.is_object() && j.contains("_id")) format = Format::beir;
      else if (j.is_object() && j.contains("id") && j.contains("source")) format = Format::medsearch;
      if (format != Format::automatic) break;  // else a bad line: look further
    }
    if (format == Format::automatic) {
      if (nonblank == 0) format = Format::medsearch;  // an empty file reads as nothing
      else return make_error(ErrorCode::parse, path + ":1: cannot detect the format (not medsearch or BEIR JSONL); use --format");
    }
    in.clear();
    in.seekg(0);
  }
  return std::unique_ptr<RecordReader>(new JsonlReader(path, format, std::move(in)));
}

}  // namespace medsearch::corpus
