// The HTTP server's implementation: routes, query-parameter parsing, the mapping from error
// codes to statuses, JSON bodies for httplib's own errors, a Searcher per worker thread, the
// access log and the web page's static files.
#include "server/server.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "corpus/record.h"
#include "indexer/indexer.h"
#include "indexer/pipeline.h"
#include "searcher/answer.h"
#include "searcher/context.h"
#include "searcher/mapped_reads.h"
#include "server/metrics.h"
#include "server/search_gate.h"
#include "server/openapi.h"

#ifndef MEDSEARCH_VERSION
#define MEDSEARCH_VERSION "unknown"
#endif
#ifndef MEDSEARCH_WEB_DIR
#define MEDSEARCH_WEB_DIR ""
#endif

namespace medsearch::server {
namespace {

using nlohmann::json;
using searcher::SearchRequest;

constexpr const char* kJsonType = "application/json";
// Longest part of a bad parameter value quoted back in an error message.
constexpr std::size_t kMaxQuotedBytes = 40;

// Serialises a body. Stored text, ids from the path and quoted parameters may carry invalid
// UTF-8; replacing it beats failing the response (nlohmann throws by default).
std::string dump(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), kJsonType);
}

void send_error(httplib::Response& res, const Error& error) {
  send_json(res, http_status(error.code), error_to_json(error));
}

// An error body whose code is the HTTP layer's own ("overloaded", "uri_too_long", ...), finer
// than the library's error codes.
json coded_error(const std::string& code, const std::string& message) {
  return json{{"error", {{"code", code}, {"message", message}}}};
}

Error bad_param(const std::string& param, std::string message) {
  return corpus::make_error(ErrorCode::invalid_argument, std::move(message), param);
}

std::string quote_value(const std::string& value) {
  if (value.size() <= kMaxQuotedBytes) return "'" + value + "'";
  return "'" + value.substr(0, kMaxQuotedBytes) + "...'";
}

// The single value of a parameter, nullopt when absent. A parameter given twice is
// ambiguous, and silently picking one would hide a client bug.
Result<std::optional<std::string>> single_param(const Params& params, const std::string& name) {
  auto [first, last] = params.equal_range(name);
  if (first == last) return std::optional<std::string>();
  if (std::next(first) != last) return bad_param(name, name + " must be given at most once");
  return std::optional<std::string>(first->second);
}

// A parameter the endpoint does not know is refused, as a request body's unknown field is: a
// misspelt `limt=5` would otherwise be dropped in silence and the client get ten hits, unaware.
Status only_known_params(const Params& params, std::initializer_list<std::string_view> known) {
  for (const auto& entry : params) {
    const std::string& name = entry.first;
    if (std::find(known.begin(), known.end(), name) == known.end())
      return Status(bad_param(name, "unknown parameter " + quote_value(name) + " (GET /openapi.json lists them)"));
  }
  return {};
}

// A request body as a JSON object, or the reason it is not one. A key given twice in one object
// is refused: JSON leaves its meaning open and nlohmann keeps the last, so {"q": "a", "q": "b"}
// would search "b" where a repeated GET parameter is an error (single_param).
Result<json> parse_body_object(const std::string& body) {
  std::vector<std::set<std::string>> open;  // the keys seen in each object being parsed
  std::optional<std::string> repeated;
  json::parser_callback_t watch = [&open, &repeated](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == json::parse_event_t::key && !open.empty() && !repeated) {
      const std::string key = parsed.get<std::string>();
      if (!open.back().insert(key).second) repeated = key;
    }
    return true;
  };
  json j = json::parse(body, watch, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad_param("body", "the request body is not valid JSON");
  if (!j.is_object()) return bad_param("body", "the request body must be a JSON object");
  if (repeated) return bad_param(*repeated, "the request body gives " + quote_value(*repeated) + " more than once");
  return j;
}

// A whole decimal number (optional '-', digits, nothing else) that fits an int. The range
// the field allows is searcher::validate's business.
Result<int> parse_int(const std::string& name, const std::string& text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end) {
    return bad_param(name, name + " must be a whole decimal number, got " + quote_value(text));
  }
  if (ec == std::errc::result_out_of_range || value < INT_MIN || value > INT_MAX) {
    return bad_param(name, name + " is out of range, got " + quote_value(text));
  }
  return static_cast<int>(value);
}

// Sources from every `source` parameter, each a comma-separated list; returned in
// kAllSources order without repeats so equal requests search identically.
Result<std::vector<corpus::Source>> parse_sources(const Params& params) {
  bool wanted[std::size(corpus::kAllSources)] = {};
  auto [first, last] = params.equal_range("source");
  for (auto it = first; it != last; ++it) {
    std::string_view list = it->second;
    while (true) {
      auto comma = list.find(',');
      std::string name(list.substr(0, comma));
      auto source = corpus::parse_source(name);
      if (!source) {
        return bad_param("source", "unknown source " + quote_value(name) +
                                       "; expected guideline, fda_label or research");
      }
      wanted[static_cast<std::size_t>(*source)] = true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  std::vector<corpus::Source> sources;
  for (auto source : corpus::kAllSources) {
    if (wanted[static_cast<std::size_t>(source)]) sources.push_back(source);
  }
  return sources;
}

// Every value of a list parameter: repeated, and (with `split_commas`) comma-separated.
// Empty items are refused: "a,,b" is more likely a client bug than a wish.
Result<std::vector<std::string>> list_param(const Params& params, const std::string& name, bool split_commas) {
  std::vector<std::string> out;
  auto [first, last] = params.equal_range(name);
  for (auto it = first; it != last; ++it) {
    std::string_view list = it->second;
    while (true) {
      auto comma = split_commas ? list.find(',') : std::string_view::npos;
      std::string value(list.substr(0, comma));
      if (value.empty()) return bad_param(name, name + ": empty value");
      out.push_back(std::move(value));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return out;
}

// A 0|1 switch.
Result<std::optional<bool>> bool_param(const Params& params, const std::string& name) {
  auto text = single_param(params, name);
  if (!text.ok()) return text.error();
  if (!*text) return std::optional<bool>();
  if (**text == "1" || **text == "true") return std::optional<bool>(true);
  if (**text == "0" || **text == "false") return std::optional<bool>(false);
  return bad_param(name, name + " must be 0 or 1, got " + quote_value(**text));
}

// The error body for a status httplib produced itself (no route, a malformed request, a body
// over the limit...), so that clients see the same JSON shape for every failure.
Error error_for_status(const httplib::Request& req, int status, std::size_t max_payload) {
  using corpus::make_error;
  switch (status) {
    case 400: return make_error(ErrorCode::invalid_argument, "malformed HTTP request");
    case 404: return make_error(ErrorCode::not_found, "no route for " + req.method + " " + req.path);
    case 413:
      // httplib also caps form-encoded bodies (curl's default type for -d) at 8 KiB.
      return make_error(ErrorCode::invalid_argument,
                        "request body is larger than " + std::to_string(max_payload) +
                            " bytes (8,192 bytes when sent as application/x-www-form-urlencoded: send "
                            "application/json or application/x-ndjson)");
    case 414: return make_error(ErrorCode::invalid_argument, "request URI is too long");
    case 416: return make_error(ErrorCode::invalid_argument, "requested range not satisfiable");
    case 503: return make_error(ErrorCode::unavailable, "service unavailable");
    default: break;
  }
  if (status >= 500) return make_error(ErrorCode::internal, "internal error (HTTP " + std::to_string(status) + ")");
  return make_error(ErrorCode::invalid_argument, "request rejected (HTTP " + std::to_string(status) + ")");
}

// "2024-05-01T12:00:00.123Z"
std::string utc_timestamp(std::chrono::system_clock::time_point now) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

// When the current worker started on its request; set by the pre-routing handler and taken
// by the logger. A worker handles one request at a time, so a thread_local suffices.
thread_local std::optional<std::chrono::steady_clock::time_point> t_request_start;

// The worker thread's Searcher. Keyed by the owning server's id rather than its address, so
// a later server at the same address never inherits another's database.
struct WorkerSearcher {
  std::uint64_t owner = 0;
  std::unique_ptr<searcher::Searcher> searcher;
};
thread_local WorkerSearcher t_worker_searcher;

std::atomic<std::uint64_t> g_next_server_id{1};

// What the searcher opens: the shard list, or the one index folder.
std::vector<std::string> searcher_targets(const ServerOptions& options) {
  return options.shards.empty() ? std::vector<std::string>{options.db_path} : options.shards;
}

}  // namespace

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
    case ErrorCode::parse: return 400;
    case ErrorCode::not_found: return 404;
    case ErrorCode::unavailable: return 503;
    case ErrorCode::corrupt:
    case ErrorCode::internal: return 500;
  }
  return 500;
}

json error_to_json(const Error& error) {
  json body = {{"code", std::string(corpus::to_string(error.code))}, {"message", error.message}};
  if (!error.param.empty()) body["param"] = error.param;
  return json{{"error", std::move(body)}};
}

std::string_view version() { return MEDSEARCH_VERSION; }

std::size_t count_query_terms(std::string_view question) {
  std::size_t terms = 0;
  bool in_word = false;
  for (unsigned char c : question) {
    const bool word = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (word && !in_word) ++terms;
    in_word = word;
  }
  return terms;
}

bool keys_equal(std::string_view given, std::string_view expected) {
  // One pass over the given key, whatever the expected key's length: each of its bytes is
  // compared with the expected key's byte at the same position, cycling through it. The time
  // depends on the given key's length alone, which the caller knows anyway; a different
  // length fails through `diff` without an early return.
  if (expected.empty()) return false;
  std::size_t diff = given.size() ^ expected.size();
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i]) ^ static_cast<unsigned char>(expected[i % expected.size()]);
  }
  // Keep the compiler from turning the loop into an early exit.
  volatile std::size_t result = diff;
  return result == 0;
}

Result<SearchRequest> parse_search_request(const Params& params) {
  SearchRequest request;
  if (auto known = only_known_params(params, {"q", "limit", "offset", "year_from", "year_to", "per_record", "source",
                                               "drug", "section", "evidence", "snippet_bytes", "facets", "intent",
                                               "rerank"});
      !known.ok())
    return known.error();

  auto q = single_param(params, "q");
  if (!q.ok()) return q.error();
  // A missing q is searched as an empty one, which validate() rejects with param "q".
  if (*q) request.query = **q;

  struct IntParam {
    const char* name;
    int* field;
  };
  const IntParam ints[] = {{"limit", &request.limit},
                           {"offset", &request.offset},
                           {"per_record", &request.per_record}};
  for (const auto& [name, field] : ints) {
    auto text = single_param(params, name);
    if (!text.ok()) return text.error();
    if (!*text) continue;
    auto value = parse_int(name, **text);
    if (!value.ok()) return value.error();
    *field = *value;
  }
  // A year given is a year (validate() checks its range, 0 included); absent = open.
  for (auto [name, field] : {std::pair{"year_from", &request.year_from}, std::pair{"year_to", &request.year_to}}) {
    auto text = single_param(params, name);
    if (!text.ok()) return text.error();
    if (!*text) continue;
    auto value = parse_int(name, **text);
    if (!value.ok()) return value.error();
    *field = *value;
  }

  auto sources = parse_sources(params);
  if (!sources.ok()) return sources.error();
  request.sources = std::move(*sources);

  // Drug names may contain commas ("sodium phenylbutyrate, taurursodiol"): repeat instead.
  auto drugs = list_param(params, "drug", false);
  if (!drugs.ok()) return drugs.error();
  request.drugs = std::move(*drugs);
  auto sections = list_param(params, "section", true);
  if (!sections.ok()) return sections.error();
  request.sections = std::move(*sections);
  auto evidence = list_param(params, "evidence", true);
  if (!evidence.ok()) return evidence.error();
  request.evidence_levels = std::move(*evidence);

  auto snippet = single_param(params, "snippet_bytes");
  if (!snippet.ok()) return snippet.error();
  if (*snippet) {
    auto value = parse_int("snippet_bytes", **snippet);
    if (!value.ok()) return value.error();
    if (*value < 0) return bad_param("snippet_bytes", "snippet_bytes must be 0 or more");
    request.snippet_bytes = static_cast<std::size_t>(*value);
  }
  // Over HTTP facets are on unless facets=0 (the web page shows them beside every answer).
  request.facets = true;
  for (auto [name, field] : {std::pair<const char*, bool*>{"facets", &request.facets},
                             {"intent", &request.intent},
                             {"rerank", &request.rerank}}) {
    auto flag = bool_param(params, name);
    if (!flag.ok()) return flag.error();
    if (*flag) *field = **flag;
  }

  // The ranges (limit 1..kMaxLimit, offset, years), the query's length and its UTF-8 are the
  // searcher's rules; checking them here again would let the two drift apart.
  if (auto status = searcher::validate(request); !status.ok()) return status.error();
  return request;
}

// A body's "sources" array, checked as GET's `source` parameter is (one name per element).
Result<std::vector<corpus::Source>> parse_source_array(const std::string& key, const json& value) {
  if (!value.is_array()) return bad_param(key, "sources must be an array of strings");
  Params as_params;
  for (const auto& item : value) {
    if (!item.is_string()) return bad_param(key, "sources must be an array of strings");
    const std::string name = item.get<std::string>();
    if (name.empty() || name.find(',') != std::string::npos)
      return bad_param(key, "unknown source " + quote_value(name) + "; expected guideline, fda_label or research");
    as_params.emplace("source", name);
  }
  auto sources = parse_sources(as_params);
  if (!sources.ok()) return bad_param(key, sources.error().message);
  return sources;
}

Result<SearchRequest> parse_search_body(const std::string& body) {
  auto parsed = parse_body_object(body);
  if (!parsed.ok()) return parsed.error();
  const json& j = *parsed;
  SearchRequest request;
  request.facets = true;
  auto want_int = [](const std::string& key, const json& v) -> Result<int> {
    if (!v.is_number_integer()) return bad_param(key, key + " must be a whole number");
    const auto value = v.get<long long>();
    if (value < INT_MIN || value > INT_MAX) return bad_param(key, key + " is out of range");
    return static_cast<int>(value);
  };
  auto want_strings = [](const std::string& key, const json& v) -> Result<std::vector<std::string>> {
    if (!v.is_array()) return bad_param(key, key + " must be an array of strings");
    std::vector<std::string> out;
    for (const auto& item : v) {
      if (!item.is_string()) return bad_param(key, key + " must be an array of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  };
  for (const auto& [key, value] : j.items()) {
    if (value.is_null()) continue;  // null = the default
    if (key == "q") {
      if (!value.is_string()) return bad_param(key, "q must be a string");
      request.query = value.get<std::string>();
    } else if (key == "limit" || key == "offset" || key == "year_from" || key == "year_to" || key == "per_record" ||
               key == "snippet_bytes") {
      auto n = want_int(key, value);
      if (!n.ok()) return n.error();
      if (key == "limit") request.limit = *n;
      if (key == "offset") request.offset = *n;
      if (key == "year_from") request.year_from = *n;
      if (key == "year_to") request.year_to = *n;
      if (key == "per_record") request.per_record = *n;
      if (key == "snippet_bytes") {
        if (*n < 0) return bad_param(key, "snippet_bytes must be 0 or more");
        request.snippet_bytes = static_cast<std::size_t>(*n);
      }
    } else if (key == "sources") {
      auto sources = parse_source_array(key, value);
      if (!sources.ok()) return sources.error();
      request.sources = std::move(*sources);
    } else if (key == "drugs" || key == "sections" || key == "evidence_levels") {
      auto values = want_strings(key, value);
      if (!values.ok()) return values.error();
      (key == "drugs" ? request.drugs : key == "sections" ? request.sections : request.evidence_levels) = std::move(*values);
    } else if (key == "facets" || key == "intent" || key == "rerank") {
      if (!value.is_boolean()) return bad_param(key, key + " must be true or false");
      (key == "facets" ? request.facets : key == "intent" ? request.intent : request.rerank) = value.get<bool>();
    } else {
      return bad_param(key, "unknown field " + quote_value(key) + " in the request body");
    }
  }
  if (auto status = searcher::validate(request); !status.ok()) {
    // The searcher names GET's parameters; the body's list fields are plural.
    Error error = status.error();
    if (error.param == "drug") error.param = "drugs";
    if (error.param == "section") error.param = "sections";
    if (error.param == "evidence") error.param = "evidence_levels";
    return error;
  }
  return request;
}

Result<searcher::ContextRequest> parse_context_body(const std::string& body) {
  auto parsed = parse_body_object(body);
  if (!parsed.ok()) return parsed.error();
  const json& j = *parsed;
  searcher::ContextRequest request;
  for (const auto& [key, value] : j.items()) {
    if (value.is_null()) continue;
    if (key == "question") {
      if (!value.is_string()) return bad_param(key, "question must be a string");
      request.question = value.get<std::string>();
    } else if (key == "history") {
      if (!value.is_array()) return bad_param(key, "history must be an array of {question, answer?}");
      if (value.size() > searcher::kMaxHistoryTurns)
        return bad_param(key, "history: at most " + std::to_string(searcher::kMaxHistoryTurns) + " turns");
      for (const auto& turn : value) {
        if (!turn.is_object()) return bad_param(key, "history must be an array of {question, answer?}");
        searcher::ContextTurn t;
        for (const auto& [field, v] : turn.items()) {
          if (field == "question" && v.is_string()) {
            t.question = v.get<std::string>();
          } else if (field == "answer" && (v.is_string() || v.is_null())) {
            if (v.is_string()) t.answer = v.get<std::string>();
          } else {
            return bad_param(key, "history: each turn is {\"question\": string, \"answer\": string (optional)}; got " +
                                      quote_value(field));
          }
        }
        request.history.push_back(std::move(t));
      }
    } else if (key == "budget_tokens" || key == "per_record") {
      if (!value.is_number_integer()) return bad_param(key, key + " must be a whole number");
      const auto n = value.get<long long>();
      if (n < INT_MIN || n > INT_MAX) return bad_param(key, key + " is out of range");
      (key == "budget_tokens" ? request.budget_tokens : request.per_record) = static_cast<int>(n);
    } else if (key == "sources") {
      auto sources = parse_source_array(key, value);
      if (!sources.ok()) return sources.error();
      request.sources = std::move(*sources);
    } else {
      return bad_param(key, "unknown field " + quote_value(key) + " in the request body");
    }
  }
  if (auto status = searcher::validate(request); !status.ok()) return status.error();
  return request;
}

// ---- The web page ------------------------------------------------------------------------
// Static files from ServerOptions::web_dir, under one catch-all GET route registered after
// every API route: httplib tries routes in registration order (and would try a mount point
// before any route), so /search, /health and the rest win over a file of the same name.
// Only regular files inside the folder, with a known extension, are served: a path with a
// "..", "." or hidden segment is refused before the file system is asked, and the resolved
// path (symlinks followed) must still lie inside the folder. httplib has already
// percent-decoded the path, so "/%2e%2e/x" arrives as "/../x".
namespace {

// Content types by extension; anything else is not served.
const char* web_content_type(const std::filesystem::path& file) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},               {".png", "image/png"},
      {".ico", "image/x-icon"},                {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  const std::string ext = file.extension().string();
  for (const auto& [known, type] : kTypes) {
    if (ext == known) return type;
  }
  return nullptr;
}

// The file under `root` that the URL path `rel` (without its leading '/') names, or nullopt.
std::optional<std::filesystem::path> web_file(const std::filesystem::path& root, std::string rel) {
  namespace fs = std::filesystem;
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  if (rel.find('\0') != std::string::npos || rel.find('\\') != std::string::npos) return std::nullopt;
  for (std::size_t start = 0; start <= rel.size();) {
    std::size_t end = std::min(rel.find('/', start), rel.size());
    std::string_view segment(rel.data() + start, end - start);
    if (segment.empty() || segment.front() == '.') return std::nullopt;  // "", ".", "..", dotfiles
    start = end + 1;
  }
  std::error_code ec;
  fs::path file = fs::canonical(root / rel, ec);
  if (ec || !fs::is_regular_file(file, ec)) return std::nullopt;
  // Inside the folder even after symlinks: root must be a prefix of the path, segment-wise.
  auto [root_end, file_it] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (root_end != root.end()) return std::nullopt;
  return file;
}

void install_web_routes(httplib::Server& http, const std::string& web_dir) {
  std::error_code ec;
  std::filesystem::path root = std::filesystem::canonical(web_dir, ec);
  if (ec) root = std::filesystem::absolute(web_dir);
  http.Get(R"(/(.*))", [root](const httplib::Request& req, httplib::Response& res) {
    auto file = web_file(root, req.matches[1]);
    const char* type = file ? web_content_type(*file) : nullptr;
    std::ifstream in;
    if (type) in.open(*file, std::ios::binary);
    if (!in.is_open()) {
      return send_error(res, corpus::make_error(ErrorCode::not_found, "no route for " + req.method + " " + req.path));
    }
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Revalidate every time: a page from a newer build must not meet a cached older app.js.
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    if (file->extension() == ".html") {
      // Everything the page needs comes from this server; search results never run code.
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                     "form-action 'self'; frame-ancestors 'none'");
    }
    res.set_content(std::move(body), type);
  });
}

}  // namespace

std::string_view default_web_dir() { return MEDSEARCH_WEB_DIR; }
// ---- end of the web page -----------------------------------------------------------------

// ---- Connections: limits on the request head, a whole-request receive deadline, a bounded
// queue ---------------------------------------------------------------------------------------
// httplib 0.11.4 (Debian's, a compiled library) reads a request line and headers of any
// length and any number, and bounds only each wait for bytes (read_timeout), so a client that
// trickles one byte every few seconds holds a worker for hours; its ThreadPool queues without
// bound. Its compile-time CPPHTTPLIB_* limits were fixed when Debian built the library, so
// defining them here would change nothing. Instead HttpServer below overrides
// process_and_close_socket (virtual in httplib) to serve each connection through a
// GuardedStream, which counts what httplib reads of each request head, and BoundedPool
// replaces the ThreadPool.
namespace {

enum class StreamLimit { none, uri, headers, timeout };

// Bytes a request line may have beyond its target: method, two spaces, "HTTP/1.1", CRLF.
constexpr std::size_t kRequestLineSlack = 32;
// httplib's own limit on one header line (CPPHTTPLIB_HEADER_MAX_LENGTH, compiled in), past
// which it answers 400: counted here too, so that it is a 431 like the other header limits.
constexpr std::size_t kMaxHeaderLineBytes = 8192;
// How often an idle keep-alive connection looks whether the server is stopping.
constexpr int kIdlePollMs = 50;

using Clock = std::chrono::steady_clock;

// Set by BoundedPool's rejecter thread: the connection its task serves gets a 503.
thread_local bool t_rejecting = false;
// When the connection the worker is running was accepted (queued).
thread_local Clock::time_point t_accepted_at{};
// When the request being handled began: its connection's acceptance for the first request
// on a connection, its first byte for later ones. The receive and request deadlines count
// from here.
thread_local Clock::time_point t_request_began{};

int to_poll_ms(Clock::duration d) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, INT_MAX));
}

// Waits for `events` on `sock` for up to `timeout_ms` (poll, which unlike httplib's select has
// no FD_SETSIZE ceiling). True when ready.
bool wait_socket(socket_t sock, short events, int timeout_ms) {
  pollfd p{sock, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

void ip_and_port(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  char host[NI_MAXHOST] = "";
  char serv[NI_MAXSERV] = "";
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

// A socket as httplib::Stream, counting the request head as httplib reads it (httplib reads a
// head one byte at a time): the request line, the header lines and their bytes. At a limit,
// or when a wait for bytes (read_timeout_s) or the request's receive deadline passes, reads fail (after a line end, when the
// request line is unfinished, so that httplib still answers) and limit() says which; the
// error handler turns httplib's 400 into 414, 431 or 408, and the connection is closed.
class GuardedStream final : public httplib::Stream {
 public:
  GuardedStream(socket_t sock, const ServerOptions& options) : sock_(sock), options_(options) {}

  // Before each request: the head starts again, and the receive deadline counts from `began`.
  void begin_request(Clock::time_point began) {
    deadline_ = began + std::chrono::milliseconds(options_.receive_timeout_ms);
    in_head_ = true;
    in_request_line_ = true;
    line_bytes_ = 0;
    prev_cr_ = false;
    header_lines_ = 0;
    header_bytes_ = 0;
  }

  // Waits for the next request's first byte for up to `timeout`, giving up early when the
  // server stops (its listening socket closed). False when none came.
  bool wait_for_request(Clock::duration timeout, const std::atomic<socket_t>& listening) {
    if (off_ < len_) return true;
    const auto until = Clock::now() + timeout;
    while (listening != INVALID_SOCKET) {
      const auto left = until - Clock::now();
      if (left <= Clock::duration::zero()) return false;
      if (wait_socket(sock_, POLLIN, std::min(kIdlePollMs, std::max(1, to_poll_ms(left))))) return true;
    }
    return false;
  }

  StreamLimit limit() const { return limit_; }

  bool is_readable() const override {
    return off_ < len_ || wait_socket(sock_, POLLIN, static_cast<int>(options_.read_timeout_s) * 1000);
  }
  bool is_writable() const override {
    return wait_socket(sock_, POLLOUT, static_cast<int>(options_.write_timeout_s) * 1000);
  }

  ssize_t read(char* ptr, std::size_t size) override {
    if (size == 0) return 0;
    if (inject_ > 0) {  // the line end that lets httplib answer an unfinished request line
      const std::size_t n = std::min(size, inject_);
      static constexpr char kCrlf[] = "\r\n";
      std::memcpy(ptr, kCrlf + (2 - inject_), n);
      inject_ -= n;
      return static_cast<ssize_t>(n);
    }
    if (limit_ != StreamLimit::none) return -1;
    if (off_ == len_ && !fill()) return -1;
    std::size_t n = std::min(size, len_ - off_);
    if (in_head_) n = count_head(n);
    if (n == 0) return read(ptr, size);  // a limit was hit on the first byte
    std::memcpy(ptr, buf_ + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    if (!is_writable()) return -1;
    for (;;) {
      const ssize_t n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip_and_port(addr, len, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip_and_port(addr, len, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // Refills the buffer, waiting at most read_timeout_s each time and never past the deadline.
  bool fill() {
    for (;;) {
      const auto left = deadline_ - Clock::now();
      if (left <= Clock::duration::zero()) return hit(StreamLimit::timeout);
      const int wait_ms = std::min(static_cast<int>(options_.read_timeout_s) * 1000, std::max(1, to_poll_ms(left)));
      // No byte for read_timeout_s, or the deadline passed: either way the request is late.
      if (!wait_socket(sock_, POLLIN, wait_ms)) return hit(StreamLimit::timeout);
      const ssize_t n = ::recv(sock_, buf_, sizeof buf_, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off_ = 0;
      len_ = static_cast<std::size_t>(n);
      return true;
    }
  }

  // Marks a limit; an unfinished request line gets a line end so httplib answers it. False.
  bool hit(StreamLimit what) {
    limit_ = what;
    if (in_head_ && in_request_line_ && line_bytes_ > 0) inject_ = 2;
    return false;
  }

  // How many of the next `n` buffered bytes may be handed to httplib: all of them, or those
  // before the byte that passes a limit (which is then marked). Past the blank line that
  // ends the head, nothing more is counted.
  std::size_t count_head(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const char c = buf_[off_ + i];
      ++line_bytes_;
      if (in_request_line_) {
        if (line_bytes_ > options_.max_uri_bytes + kRequestLineSlack) return hit(StreamLimit::uri), i;
      } else if (++header_bytes_ > options_.max_header_bytes || line_bytes_ > kMaxHeaderLineBytes) {
        return hit(StreamLimit::headers), i;
      }
      if (c == '\n') {
        if (in_request_line_) {
          in_request_line_ = false;
        } else if (line_bytes_ == 2 && prev_cr_) {
          in_head_ = false;
          return i + 1;
        } else if (++header_lines_ > options_.max_headers) {
          return hit(StreamLimit::headers), i;
        }
        line_bytes_ = 0;
      }
      prev_cr_ = c == '\r';
    }
    return n;
  }

  socket_t sock_;
  const ServerOptions& options_;
  char buf_[4096];
  std::size_t off_ = 0;
  std::size_t len_ = 0;
  std::size_t inject_ = 0;
  StreamLimit limit_ = StreamLimit::none;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool in_head_ = true;
  bool in_request_line_ = true;
  std::size_t line_bytes_ = 0;
  bool prev_cr_ = false;
  std::size_t header_lines_ = 0;
  std::size_t header_bytes_ = 0;
};

// The stream of the connection this worker serves, for the error handler.
thread_local const GuardedStream* t_stream = nullptr;
// Set by the error handler when httplib could not parse a request: where it ended is unknown,
// so the connection is closed after the answer rather than read on from the middle of it.
thread_local bool t_close_connection = false;

// Counters shared by the pool (which httplib creates and deletes inside run()) and load().
struct PoolState {
  std::atomic<std::size_t> workers{0};
  std::atomic<std::size_t> busy{0};
  std::atomic<std::size_t> queued{0};
  std::atomic<std::uint64_t> rejected{0};
};

// httplib's ThreadPool with a bound: a connection waits for a worker only while fewer than
// max_queued others do. Past that its task still has to run (httplib's task owns the socket
// and closes it), so it goes to one rejecter thread, which runs it with t_rejecting set: the
// server then answers 503 at once and closes (HttpServer::reject).
class BoundedPool final : public httplib::TaskQueue {
 public:
  BoundedPool(std::size_t workers, std::size_t max_queued, PoolState& state) : max_queued_(max_queued), state_(state) {
    state_.workers = workers;
    for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
    rejecter_ = std::thread([this] { reject_loop(); });
  }
  ~BoundedPool() override = default;

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mutex_);
      const std::size_t idle = workers_.size() - busy_;
      if (jobs_.size() < idle + max_queued_) {
        jobs_.push_back({std::move(fn), Clock::now()});
        state_.queued = jobs_.size();
        cond_.notify_one();
        return;
      }
      rejects_.push_back(std::move(fn));
      ++state_.rejected;
    }
    reject_cond_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    cond_.notify_all();
    reject_cond_.notify_all();
    for (auto& t : workers_) t.join();
    rejecter_.join();
    state_.workers = 0;
  }

  // Rejected connections waiting for the rejecter: past a few, it answers without waiting
  // for their requests.
  static thread_local std::size_t t_reject_backlog;

 private:
  struct Job {
    std::function<void()> fn;
    Clock::time_point accepted;
  };

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        cond_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;  // shutting down with nothing left
        job = std::move(jobs_.front());
        jobs_.pop_front();
        ++busy_;
        state_.busy = busy_;
        state_.queued = jobs_.size();
      }
      t_accepted_at = job.accepted;
      job.fn();
      std::lock_guard lock(mutex_);
      --busy_;
      state_.busy = busy_;
    }
  }

  void reject_loop() {
    t_rejecting = true;
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        reject_cond_.wait(lock, [this] { return !rejects_.empty() || shutdown_; });
        if (rejects_.empty()) return;
        fn = std::move(rejects_.front());
        rejects_.pop_front();
        t_reject_backlog = rejects_.size();
      }
      fn();
    }
  }

  const std::size_t max_queued_;
  PoolState& state_;
  std::vector<std::thread> workers_;
  std::thread rejecter_;
  std::mutex mutex_;
  std::condition_variable cond_;
  std::condition_variable reject_cond_;
  std::deque<Job> jobs_;
  std::deque<std::function<void()>> rejects_;
  std::size_t busy_ = 0;
  bool shutdown_ = false;
};
thread_local std::size_t BoundedPool::t_reject_backlog = 0;

}  // namespace

// httplib::Server serving each connection through a GuardedStream, and answering the
// connections BoundedPool rejects.
class HttpServer final : public httplib::Server {
 public:
  explicit HttpServer(const ServerOptions& options) : options_(options) {}

 private:
  bool process_and_close_socket(socket_t sock) override {
    if (t_rejecting) {
      reject(sock);
    } else if (serve(sock) != StreamLimit::none) {
      linger(sock);
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return true;
  }

  // Closing a socket with unread bytes makes the kernel reset the connection, and the client
  // may lose the answer it has not read yet (a 431 while it still sends a huge header). So
  // stop sending, and read and drop what still comes, for a short while.
  static void linger(socket_t sock) {
    ::shutdown(sock, SHUT_WR);
    char buf[16384];
    std::size_t dropped = 0;
    const auto until = Clock::now() + std::chrono::seconds(2);
    while (dropped < (std::size_t{8} << 20) && wait_socket(sock, POLLIN, to_poll_ms(until - Clock::now()))) {
      const ssize_t n = ::recv(sock, buf, sizeof buf, 0);
      if (n <= 0) break;
      dropped += static_cast<std::size_t>(n);
    }
  }

  // httplib's keep-alive loop (detail::process_server_socket), over a GuardedStream. Returns
  // the limit that ended the connection, if one did.
  StreamLimit serve(socket_t sock) {
    GuardedStream stream(sock, options_);
    t_stream = &stream;
    const auto receive = std::chrono::milliseconds(options_.receive_timeout_ms);
    for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
      const bool first = left == keep_alive_max_count_;
      // The first request gets no longer to start than to arrive whole.
      Clock::duration wait = std::chrono::seconds(keep_alive_timeout_sec_);
      if (first) wait = std::min<Clock::duration>(wait, receive);
      if (!stream.wait_for_request(wait, svr_sock_)) break;
      // Receiving is timed from now (time spent queued is not the client's doing); the
      // request's deadline from the connection's acceptance.
      t_request_began = first ? t_accepted_at : Clock::now();
      stream.begin_request(Clock::now());
      bool closed = false;
      t_close_connection = false;
      if (!process_request(stream, left == 1, closed, nullptr) || closed) break;
      if (stream.limit() != StreamLimit::none || t_close_connection) break;
    }
    t_stream = nullptr;
    return stream.limit();
  }

  // 503 with Retry-After, without reading more than the client sent at once: the request is
  // read (briefly, and not at all when many wait) so that closing does not reset the
  // connection before the client has read the answer.
  void reject(socket_t sock) {
    const bool hurry = BoundedPool::t_reject_backlog > 8;
    const auto until = Clock::now() + std::chrono::milliseconds(hurry ? 0 : 200);
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
      if (!wait_socket(sock, POLLIN, to_poll_ms(until - Clock::now()))) break;
      const ssize_t n = ::recv(sock, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    const std::string body = dump(coded_error("overloaded", "the server is busy: every worker is serving and the "
                                                         "queue is full; retry later"));
    std::string response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: ";
    response += std::to_string(options_.retry_after_s);
    response += "\r\nConnection: close\r\nContent-Length: ";
    response += std::to_string(body.size());
    response += "\r\n\r\n";
    response += body;
    std::size_t sent = 0;
    while (sent < response.size() && wait_socket(sock, POLLOUT, 1000)) {
      const ssize_t n = ::send(sock, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(sock, SHUT_WR);
    // Let the client read the answer and close first (bounded).
    const auto drain_until = Clock::now() + std::chrono::milliseconds(hurry ? 0 : 200);
    while (wait_socket(sock, POLLIN, to_poll_ms(drain_until - Clock::now()))) {
      if (::recv(sock, buf, sizeof buf, 0) <= 0) break;
    }
  }

  const ServerOptions& options_;
};

struct Server::Impl {
  explicit Impl(ServerOptions options)
      : options_(std::move(options)), id_(g_next_server_id.fetch_add(1)) {}

  void configure();
  void install_routes();

  // This worker's Searcher, opened on first use and reopened before each request so that a
  // commit made after the server started is seen by the next request.
  Result<searcher::Searcher*> worker_searcher();

  void handle_search(const httplib::Request& req, httplib::Response& res);
  void handle_passage(const httplib::Request& req, httplib::Response& res);
  void handle_suggest(const httplib::Request& req, httplib::Response& res);
  void handle_context(const httplib::Request& req, httplib::Response& res);
  void handle_health(httplib::Response& res);
  void handle_metrics(httplib::Response& res);
  bool authorised(const httplib::Request& req, httplib::Response& res);
  void handle_records_post(const httplib::Request& req, httplib::Response& res);
  void handle_records_delete(const httplib::Request& req, httplib::Response& res);
  void handle_stats(httplib::Response& res);

  void log_request(const httplib::Request& req, const httplib::Response& res);

  // Checks a search's question, limit and offset against this server's caps (400 naming the
  // field), and its deadline (503 when it has passed). False when `res` holds the answer.
  bool within_caps(const std::string& question, int limit, int offset, httplib::Response& res);
  // The current request's deadline, if the server has one.
  std::optional<Clock::time_point> deadline() const;
  bool past_deadline(httplib::Response& res);
  // The CORS headers for a request whose Origin is allowed (none when CORS is off).
  void add_cors_headers(const httplib::Request& req, httplib::Response& res) const;

  ServerOptions options_;
  std::optional<searcher::rerank::Model> model_;  // from options_.rerank_model_path, if given
  const std::uint64_t id_;
  HttpServer http_{options_};
  PoolState pool_;
  SearchGate search_gate_{options_.search_slots > 0 ? static_cast<std::size_t>(options_.search_slots)
                                                    : std::max(1u, std::thread::hardware_concurrency()) + 1};
  std::atomic<bool> bound_{false};
  // stop() and run() may race: run_active_ says run() is past its stop check and heading into
  // (or inside) listen_after_bind, which stop() must then wait for before closing the socket.
  std::atomic<bool> run_active_{false};
  std::atomic<bool> stop_requested_{false};
  std::mutex log_mutex_;
  std::mutex write_mutex_;
  // Held shared while a worker reopens its searcher, exclusively while a write request
  // commits its shards: the server's readers never see one shard's part of a batch alone.
  std::shared_mutex commit_mutex_;
  Metrics metrics_;
};

Result<searcher::Searcher*> Server::Impl::worker_searcher() {
  std::shared_lock commits(commit_mutex_);  // not between the commits of one write request
  WorkerSearcher& cache = t_worker_searcher;
  if (cache.owner == id_ && cache.searcher) {
    Status reopened = cache.searcher->reopen();
    if (reopened.ok()) return cache.searcher.get();
    // A shard that is down: the searcher keeps it in its back-off and tries it again when
    // that has passed (a fresh open would connect again to every shard, at every request).
    if (reopened.error().param == "shard") return reopened.error();
    // The index was replaced or damaged underneath; a fresh open either recovers or says why.
    cache.searcher.reset();
  }
  auto opened = searcher::Searcher::open(searcher_targets(options_), options_.shard_options);
  if (!opened.ok()) return opened.error();
  if (model_) (*opened)->set_model(*model_);
  (*opened)->set_helper_thread(options_.helper_threads);
  cache.owner = id_;
  cache.searcher = std::move(*opened);
  return cache.searcher.get();
}

void Server::Impl::handle_search(const httplib::Request& req, httplib::Response& res) {
  auto request = req.method == "POST" ? parse_search_body(req.body) : parse_search_request(req.params);
  if (!request.ok()) return send_error(res, request.error());
  if (!within_caps(request->query, request->limit, request->offset, res)) return;
  request->deadline = deadline();
  SearchGate::Pass pass(search_gate_);
  if (past_deadline(res)) return;  // it waited its turn past the deadline
  auto searcher = worker_searcher();
  if (!searcher.ok()) return send_error(res, searcher.error());
  auto response = (*searcher)->search(*request);
  if (!response.ok()) return send_error(res, response.error());
  send_json(res, 200, searcher::to_json(*response, searcher::build_answer(*response)));
}

void Server::Impl::handle_passage(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  auto searcher = worker_searcher();
  if (!searcher.ok()) return send_error(res, searcher.error());
  auto stored = (*searcher)->passage(id);
  if (!stored.ok()) return send_error(res, stored.error());
  send_json(res, 200, searcher::passage_to_json(*stored));
}

void Server::Impl::handle_suggest(const httplib::Request& req, httplib::Response& res) {
  if (auto known = only_known_params(req.params, {"prefix", "limit"}); !known.ok()) return send_error(res, known.error());
  auto prefix = single_param(req.params, "prefix");
  if (!prefix.ok()) return send_error(res, prefix.error());
  if (!*prefix || (*prefix)->empty()) return send_error(res, bad_param("prefix", "prefix: is required"));
  int limit = 8;
  auto limit_text = single_param(req.params, "limit");
  if (!limit_text.ok()) return send_error(res, limit_text.error());
  if (*limit_text) {
    auto value = parse_int("limit", **limit_text);
    if (!value.ok()) return send_error(res, value.error());
    limit = *value;
  }
  auto searcher = worker_searcher();
  if (!searcher.ok()) return send_error(res, searcher.error());
  auto response = (*searcher)->suggest(**prefix, limit);
  if (!response.ok()) return send_error(res, response.error());
  send_json(res, 200, searcher::suggest_to_json(*response));
}

void Server::Impl::handle_context(const httplib::Request& req, httplib::Response& res) {
  auto request = parse_context_body(req.body);
  if (!request.ok()) return send_error(res, request.error());
  if (!within_caps(request->question, 1, 0, res)) return;
  SearchGate::Pass pass(search_gate_);
  if (past_deadline(res)) return;
  auto searcher = worker_searcher();
  if (!searcher.ok()) return send_error(res, searcher.error());
  auto response = (*searcher)->context(*request);
  if (!response.ok()) return send_error(res, response.error());
  send_json(res, 200, searcher::context_to_json(*response));
}

bool Server::Impl::within_caps(const std::string& question, int limit, int offset, httplib::Response& res) {
  if (question.size() > options_.max_query_bytes) {
    send_error(res, bad_param("q", "q: the question is longer than " + std::to_string(options_.max_query_bytes) +
                                       " bytes"));
    return false;
  }
  if (const std::size_t terms = count_query_terms(question); terms > options_.max_query_terms) {
    send_error(res, bad_param("q", "q: the question has " + std::to_string(terms) + " words; at most " +
                                       std::to_string(options_.max_query_terms) + " are searched"));
    return false;
  }
  if (limit > options_.max_limit) {
    send_error(res, bad_param("limit", "limit: must be between 1 and " + std::to_string(options_.max_limit)));
    return false;
  }
  if (offset > options_.max_offset) {
    send_error(res, bad_param("offset", "offset: must be between 0 and " + std::to_string(options_.max_offset)));
    return false;
  }
  return !past_deadline(res);
}

std::optional<Clock::time_point> Server::Impl::deadline() const {
  if (options_.request_deadline_ms <= 0) return std::nullopt;
  return t_request_began + std::chrono::milliseconds(options_.request_deadline_ms);
}

bool Server::Impl::past_deadline(httplib::Response& res) {
  const auto until = deadline();
  if (!until || Clock::now() < *until) return false;
  res.set_header("Retry-After", std::to_string(options_.retry_after_s));
  send_json(res, 503,
            coded_error("deadline_exceeded", "the request waited past its deadline of " +
                                                 std::to_string(options_.request_deadline_ms) +
                                                 " ms before it could be searched; retry later"));
  return true;
}

void Server::Impl::add_cors_headers(const httplib::Request& req, httplib::Response& res) const {
  if (options_.cors_origins.empty() || !req.has_header("Origin")) return;
  const std::string origin = req.get_header_value("Origin");
  const auto& allowed = options_.cors_origins;
  const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
  if (!any && std::find(allowed.begin(), allowed.end(), origin) == allowed.end()) return;
  res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
  if (!any) res.set_header("Vary", "Origin");
  res.set_header("Access-Control-Expose-Headers", "Retry-After");
  if (req.method == "OPTIONS" && req.has_header("Access-Control-Request-Method")) {
    // A preflight: the route's own OPTIONS handler adds Allow and the 204.
    res.set_header("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key");
    res.set_header("Access-Control-Max-Age", "600");
  }
}

bool Server::Impl::authorised(const httplib::Request& req, httplib::Response& res) {
  if (options_.api_key.empty()) {
    send_error(res, corpus::make_error(ErrorCode::not_found,
                                       "the write API is off on this server (start it with --api-key-file or "
                                       "MEDSEARCH_API_KEY to turn it on)"));
    return false;
  }
  std::string given = req.get_header_value("X-API-Key");
  const std::string authorization = req.get_header_value("Authorization");
  // The scheme is case-insensitive (RFC 9110, 11.1): "bearer KEY" is the same credential.
  if (authorization.size() > 7 && strncasecmp(authorization.c_str(), "Bearer ", 7) == 0) given = authorization.substr(7);
  if (!given.empty() && keys_equal(given, options_.api_key)) return true;
  res.set_header("WWW-Authenticate", "Bearer realm=\"medsearch\"");
  send_json(res, 401,
            json{{"error",
                  {{"code", "unauthenticated"},
                   {"message", given.empty() ? "this request needs the API key (Authorization: Bearer <key>)"
                                             : "the API key is not valid"}}}});
  return false;
}

void Server::Impl::handle_records_post(const httplib::Request& req, httplib::Response& res) {
  if (!authorised(req, res)) return;
  // Native JSONL: one record a line; blank lines are skipped, bad lines reported by number.
  struct Line {
    std::size_t number;
    corpus::Record record;
  };
  std::vector<Line> records;
  std::vector<std::string> errors;
  std::uint64_t read = 0;
  std::size_t number = 0;
  for (std::size_t start = 0; start < req.body.size();) {
    std::size_t end = req.body.find('\n', start);
    if (end == std::string::npos) end = req.body.size();
    std::string_view line(req.body.data() + start, end - start);
    start = end + 1;
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    ++read;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      errors.push_back("line " + std::to_string(number) + ": not valid JSON");
      continue;
    }
    auto record = corpus::record_from_json(j);
    if (!record.ok()) {
      errors.push_back("line " + std::to_string(number) + ": " + record.error().message);
      continue;
    }
    records.push_back({number, std::move(*record)});
  }
  if (read == 0) return send_error(res, bad_param("body", "the request body holds no records (native JSONL, one a line)"));

  std::uint64_t added = 0, replaced = 0, unchanged = 0, superseded = 0, passages = 0;
  {
    // One writer: Xapian allows one per database, and requests arrive on many threads.
    std::lock_guard lock(write_mutex_);
    auto layout = indexer::open_layout(options_.db_path, std::nullopt);
    if (!layout.ok()) return send_error(res, layout.error());
    const auto shard_count = static_cast<std::uint32_t>(layout->shard_paths.size());
    // Every writer the request needs is opened before anything is written, so a shard that
    // cannot be opened (locked by another writer) leaves the whole index as it was.
    std::vector<std::unique_ptr<indexer::Indexer>> writers(shard_count);
    indexer::IndexerOptions writer_options;
    writer_options.commit_every = 0;  // one commit at the end: a reader sees the batch whole or not at all
    for (const auto& line : records) {
      const std::uint32_t shard = indexer::shard_of(line.record.id, shard_count);
      if (writers[shard]) continue;
      auto opened = indexer::Indexer::open(layout->shard_paths[shard], writer_options);
      if (!opened.ok()) return send_error(res, opened.error());
      writers[shard] = std::move(*opened);
    }
    // A failure half-way drops what this request wrote (the writers would commit it on close).
    auto fail = [&](const Error& error) {
      for (auto& writer : writers)
        if (writer) writer->discard();
      send_error(res, error);
    };
    indexer::DocumentBuilder builder;
    for (auto& [line_number, record] : records) {
      const std::uint32_t shard = indexer::shard_of(record.id, shard_count);
      auto prepared = builder.build(record);
      if (!prepared.ok()) {
        errors.push_back("line " + std::to_string(line_number) + ": " + prepared.error().message);
        continue;
      }
      auto outcome = writers[shard]->write(*prepared);
      if (!outcome.ok()) return fail(outcome.error());
      switch (*outcome) {
        case indexer::WriteOutcome::added: ++added; passages += prepared->passages.size(); break;
        case indexer::WriteOutcome::replaced: ++replaced; passages += prepared->passages.size(); break;
        case indexer::WriteOutcome::unchanged: ++unchanged; break;
        case indexer::WriteOutcome::superseded: ++superseded; break;
      }
    }
    // A commit per request: the records are searchable when the response arrives. Xapian
    // cannot commit several databases at once; this server's own readers reopen only between
    // the commits of a request (commit_mutex_), so they see a batch over several shards whole.
    std::unique_lock commits(commit_mutex_);
    for (auto& writer : writers) {
      if (!writer) continue;
      Status committed = writer->commit();
      if (!committed.ok()) return fail(committed.error());
    }
  }
  const std::uint64_t indexed = added + replaced + unchanged + superseded;
  send_json(res, 200,
            json{{"read", read},
                 {"indexed", indexed},
                 {"rejected", read - indexed},
                 {"added", added},
                 {"replaced", replaced},
                 {"unchanged", unchanged},
                 {"superseded", superseded},
                 {"passages", passages},
                 {"errors", errors}});
}

void Server::Impl::handle_records_delete(const httplib::Request& req, httplib::Response& res) {
  if (!authorised(req, res)) return;
  const std::string id = req.matches[1];
  std::lock_guard lock(write_mutex_);
  auto layout = indexer::open_layout(options_.db_path, std::nullopt);
  if (!layout.ok()) return send_error(res, layout.error());
  const auto shard = indexer::shard_of(id, static_cast<std::uint32_t>(layout->shard_paths.size()));
  auto writer = indexer::Indexer::open(layout->shard_paths[shard]);
  if (!writer.ok()) return send_error(res, writer.error());
  auto removed = (*writer)->remove(id);
  if (!removed.ok()) return send_error(res, removed.error());
  Status committed = (*writer)->commit();
  if (!committed.ok()) return send_error(res, committed.error());
  send_json(res, 200, json{{"deleted", id}, {"passages", *removed}});
}

void Server::Impl::handle_metrics(httplib::Response& res) {
  auto searcher = worker_searcher();
  if (!searcher.ok()) return send_error(res, searcher.error());
  auto stats = (*searcher)->stats();
  if (!stats.ok()) return send_error(res, stats.error());
  // Xapian gives no revision for a stub of several shards; the indexer sums theirs.
  auto revision = indexer::index_revision(options_.db_path);
  const searcher::mapped_reads::Stats mapped = searcher::mapped_reads::stats();
  const std::string body = metrics_.render({
      {"medsearch_index_documents", "Passages (Xapian documents) in the index.", static_cast<double>(stats->passages)},
      {"medsearch_index_records", "Records in the index.", static_cast<double>(stats->records)},
      {"medsearch_index_revision", "Revision of the index (the sum over shards for a sharded index).", revision.ok() ? static_cast<double>(*revision) : 0.0},
      {"medsearch_shards_missing", "Shards left out of answers because they did not answer (partial answers on); the index counts above leave them out too.", static_cast<double>(stats->missing_shards.size())},
      {"medsearch_http_workers", "Worker threads serving connections.", static_cast<double>(pool_.workers.load())},
      {"medsearch_http_workers_busy", "Workers serving a connection now.", static_cast<double>(pool_.busy.load())},
      {"medsearch_http_queued", "Connections waiting for a worker.", static_cast<double>(pool_.queued.load())},
      {"medsearch_http_rejected", "Connections answered 503 (queue full) since the server started.", static_cast<double>(pool_.rejected.load())},
      {"medsearch_search_slots", "Searches that may run at once (--search-slots).", static_cast<double>(search_gate_.slots())},
      {"medsearch_searches_running", "Searches running now.", static_cast<double>(search_gate_.running())},
      {"medsearch_searches_waiting", "Searches waiting for a slot, in arrival order.", static_cast<double>(search_gate_.waiting())},
      {"medsearch_index_map_budget_bytes", "Most bytes of the index mapped into memory at once (--index-map-mb).", static_cast<double>(mapped.budget_bytes)},
      {"medsearch_index_mapped_bytes", "Bytes of the index mapped into memory now.", static_cast<double>(mapped.mapped_bytes)},
      {"medsearch_index_block_reads_mapped", "Index block reads served from memory maps since the server started.", static_cast<double>(mapped.mapped_reads)},
      {"medsearch_index_block_reads_system", "Index reads passed to the pread system call since the server started (other files, past a window, faults).", static_cast<double>(mapped.system_reads)},
  });
  res.status = 200;
  res.set_content(body, "text/plain; version=0.0.4; charset=utf-8");
}

void Server::Impl::handle_health(httplib::Response& res) {
  auto searcher = worker_searcher();
  if (!searcher.ok()) return send_error(res, searcher.error());
  auto stats = (*searcher)->stats();
  if (!stats.ok()) return send_error(res, stats.error());
  // Serving from some shards only (partial answers on, a shard down): still 200, since every
  // read route answers, but "degraded" and the missing shards named, so that an operator (or a
  // health check reading the body) sees it. Without partial answers a shard down is a 503 here
  // as everywhere (worker_searcher or stats, naming it).
  json body{{"status", stats->partial ? "degraded" : "ok"},
            {"medsearch_version", std::string(version())},
            {"xapian_version", searcher::xapian_version()},
            {"documents", stats->passages}};
  searcher::add_missing_shards(body, stats->missing_shards);
  send_json(res, 200, body);
}

void Server::Impl::handle_stats(httplib::Response& res) {
  auto searcher = worker_searcher();
  if (!searcher.ok()) return send_error(res, searcher.error());
  auto stats = (*searcher)->stats();
  if (!stats.ok()) return send_error(res, stats.error());
  send_json(res, 200, searcher::stats_to_json(*stats));
}

void Server::Impl::log_request(const httplib::Request& req, const httplib::Response& res) {
  double ms = 0;
  if (t_request_start) {
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - *t_request_start).count();
    t_request_start.reset();
  }
  metrics_.observe(req.method, route_of(req.path), res.status, ms / 1000);
  if (!options_.access_log) return;
  // The path only: query strings are clinical questions, which do not belong in a log.
  nlohmann::ordered_json line = {{"ts", utc_timestamp(std::chrono::system_clock::now())},
                                 {"method", req.method},
                                 {"path", req.path},
                                 {"status", res.status},
                                 {"ms", static_cast<double>(static_cast<long long>(ms * 1000)) / 1000}};
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(log_mutex_);
  std::fwrite(text.data(), 1, text.size(), stderr);
}

void Server::Impl::configure() {
  // At least 8 by default: a browser opens several connections at once and each idle
  // keep-alive connection holds a worker for keep_alive_timeout_s, so with 2 workers (a
  // 2-core machine) the web page's third request waited 5 s for a free one.
  const int threads = options_.threads > 0
                          ? options_.threads
                          : std::max(8, static_cast<int>(std::thread::hardware_concurrency()));
  http_.new_task_queue = [this, threads] {
    return new BoundedPool(static_cast<std::size_t>(threads), options_.max_queued, pool_);
  };

  http_.set_payload_max_length(options_.max_payload_bytes);
  http_.set_read_timeout(options_.read_timeout_s, 0);
  http_.set_write_timeout(options_.write_timeout_s, 0);
  http_.set_keep_alive_timeout(options_.keep_alive_timeout_s);
  http_.set_keep_alive_max_count(options_.keep_alive_max_requests);
  // httplib's default adds SO_REUSEPORT, which lets a second server bind the same port and
  // silently take half the connections, perhaps over another index. SO_REUSEADDR alone
  // still allows a quick restart while old connections sit in TIME_WAIT.
  http_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // httplib writes an answer's headers and body separately; with Nagle's algorithm on, the body
  // waits for the client's (delayed) ACK of the headers: 40 ms on every keep-alive request on
  // Linux. Accepted sockets inherit TCP_NODELAY from the listening one.
  http_.set_tcp_nodelay(true);

  http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request_start = std::chrono::steady_clock::now();
    add_cors_headers(req, res);
    // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112, 6.3),
    // but httplib 0.11.4 reads the body of a POST, PUT or PATCH until the client closes: a
    // client that sends no body (curl -X POST) waited for the read timeout and got a 408.
    // The request is not const (httplib's own local); saying its length is 0 makes it read
    // none, and the handler answers the empty body.
    if ((req.method == "POST" || req.method == "PUT" || req.method == "PATCH") &&
        !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
    }
    // The stream already cut request lines far over the limit; this is the exact check.
    if (req.target.size() > options_.max_uri_bytes) {
      send_json(res, 414,
                coded_error("uri_too_long", "the request URI is longer than " +
                                                std::to_string(options_.max_uri_bytes) + " bytes"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) { log_request(req, res); });

  // httplib calls this for every status >= 400, ours included; only its own bare statuses
  // (no route, malformed request, body too large) still need a body. Declared with its type
  // because a lambda fits both set_error_handler overloads.
  httplib::Server::HandlerWithResponse on_error = [this](const httplib::Request& req, httplib::Response& res) {
    // A request the connection's stream cut short: httplib saw a malformed request (400) or
    // a long line (414); say what it was. The connection is closed after this answer.
    if (const StreamLimit limit = t_stream ? t_stream->limit() : StreamLimit::none; limit != StreamLimit::none) {
      json body;
      if (limit == StreamLimit::uri) {
        res.status = 414;
        body = coded_error("uri_too_long",
                           "the request URI is longer than " + std::to_string(options_.max_uri_bytes) + " bytes");
      } else if (limit == StreamLimit::headers) {
        res.status = 431;
        body = coded_error("headers_too_large", "the request has more than " + std::to_string(options_.max_headers) +
                                                    " header lines or " + std::to_string(options_.max_header_bytes) +
                                                    " bytes of headers");
      } else {
        res.status = 408;
        body = coded_error("request_timeout", "the request did not arrive whole within " +
                                                  std::to_string(options_.receive_timeout_ms) + " ms");
      }
      res.set_header("Connection", "close");
      res.set_content(dump(body), kJsonType);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 400) {
      // httplib's own 400: a request line, header or body it could not parse. It would keep
      // the connection and read the rest of that request (its header lines) as new requests,
      // answering each; HTTP/1.1 has the server close instead (RFC 9112, 6.3).
      res.set_header("Connection", "close");
      t_close_connection = true;
    }
    res.set_content(dump(error_to_json(error_for_status(req, res.status, options_.max_payload_bytes))),
                    kJsonType);
    return httplib::Server::HandlerResponse::Handled;
  };
  http_.set_error_handler(std::move(on_error));

  // A handler that throws (Xapian::Error is not a std::exception, so anything goes) answers
  // a JSON 500 and the worker carries on with the next request.
  http_.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    nlohmann::ordered_json line = {{"ts", utc_timestamp(std::chrono::system_clock::now())},
                                   {"level", "error"},
                                   {"method", req.method},
                                   {"path", req.path},
                                   {"exception", what}};
    std::fprintf(stderr, "%s\n", line.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    res.headers.clear();
    send_error(res, corpus::make_error(ErrorCode::internal, "internal error while handling " + req.path));
  });

  install_routes();
  if (!options_.web_dir.empty()) install_web_routes(http_, options_.web_dir);  // last: API first
}

void Server::Impl::install_routes() {
  using Handler = httplib::Server::Handler;
  struct Route {
    std::string pattern;
    Handler get;   // also answers HEAD
    Handler post;
    Handler del;
  };
  const std::vector<Route> routes = {
      {"/search", [this](const auto& req, auto& res) { handle_search(req, res); },
       [this](const auto& req, auto& res) { handle_search(req, res); }, nullptr},
      {R"(/passages/([^/]+))", [this](const auto& req, auto& res) { handle_passage(req, res); }, nullptr, nullptr},
      {"/context", nullptr, [this](const auto& req, auto& res) { handle_context(req, res); }, nullptr},
      {"/suggest", [this](const auto& req, auto& res) { handle_suggest(req, res); }, nullptr, nullptr},
      {"/health", [this](const auto&, auto& res) { handle_health(res); }, nullptr, nullptr},
      {"/stats", [this](const auto&, auto& res) { handle_stats(res); }, nullptr, nullptr},
      {"/metrics", [this](const auto&, auto& res) { handle_metrics(res); }, nullptr, nullptr},
      {"/openapi.json", [](const auto&, auto& res) { res.set_content(std::string(openapi_json()), kJsonType); }, nullptr,
       nullptr},
      {"/records", nullptr, [this](const auto& req, auto& res) { handle_records_post(req, res); }, nullptr},
      {R"(/records/([^/]+))", nullptr, nullptr, [this](const auto& req, auto& res) { handle_records_delete(req, res); }},
  };

  for (const Route& route : routes) {
    std::string allowed;
    auto allow = [&allowed](const char* methods) { allowed += allowed.empty() ? methods : std::string(", ") + methods; };
    if (route.get) allow("GET, HEAD");
    if (route.post) allow("POST");
    if (route.del) allow("DELETE");
    allow("OPTIONS");
    // Without these httplib would answer 404 to a wrong method, as if the resource did not exist.
    Handler not_allowed = [allowed](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allowed);
      send_error(res, corpus::make_error(ErrorCode::invalid_argument,
                                         "method " + req.method + " is not allowed on " + req.path +
                                             "; allowed: " + allowed));
      res.status = 405;
    };
    http_.Get(route.pattern, route.get ? route.get : not_allowed);
    http_.Post(route.pattern, route.post ? route.post : not_allowed);
    http_.Delete(route.pattern, route.del ? route.del : not_allowed);
    http_.Put(route.pattern, not_allowed);
    http_.Patch(route.pattern, not_allowed);
    http_.Options(route.pattern, [allowed](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", allowed);
      res.status = 204;
    });
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  if (options.db_path.empty()) return corpus::make_error(ErrorCode::invalid_argument, "no index path given", "db_path");
  if (options.port < 0 || options.port > 65535) {
    return corpus::make_error(ErrorCode::invalid_argument,
                              "port must be 0..65535, got " + std::to_string(options.port), "port");
  }
  if (options.threads < 0) {
    return corpus::make_error(ErrorCode::invalid_argument,
                              "threads must be 0 or more, got " + std::to_string(options.threads), "threads");
  }
  if (options.read_timeout_s < 0 || options.write_timeout_s < 0 || options.keep_alive_timeout_s < 0) {
    return corpus::make_error(ErrorCode::invalid_argument, "timeouts must be 0 or more", "timeout");
  }
  auto bad_option = [](const char* param, const std::string& message) {
    return corpus::make_error(ErrorCode::invalid_argument, message, param);
  };
  if (options.max_uri_bytes < 16 || options.max_uri_bytes > kMaxUriBytesCeiling)
    return bad_option("max_uri_bytes", "max_uri_bytes must be 16.." + std::to_string(kMaxUriBytesCeiling));
  if (options.max_headers < 1 || options.max_header_bytes < 64)
    return bad_option("max_headers", "max_headers must be at least 1 and max_header_bytes at least 64");
  if (options.receive_timeout_ms < 1) return bad_option("receive_timeout", "receive_timeout_ms must be at least 1");
  if (options.request_deadline_ms < 0) return bad_option("request_deadline", "request_deadline_ms must be 0 or more");
  if (options.search_slots < 0) return bad_option("search_slots", "search_slots must be 0 or more");
  if (options.retry_after_s < 0) return bad_option("retry_after", "retry_after_s must be 0 or more");
  if (options.max_query_terms < 1) return bad_option("max_query_terms", "max_query_terms must be at least 1");
  if (options.max_query_bytes < 1 || options.max_query_bytes > searcher::kMaxQueryBytes)
    return bad_option("max_query_bytes", "max_query_bytes must be 1.." + std::to_string(searcher::kMaxQueryBytes));
  if (options.max_limit < 1 || options.max_limit > searcher::kMaxLimit)
    return bad_option("max_limit", "max_limit must be 1.." + std::to_string(searcher::kMaxLimit));
  if (options.max_offset < 0 || options.max_offset > searcher::kMaxOffset)
    return bad_option("max_offset", "max_offset must be 0.." + std::to_string(searcher::kMaxOffset));
  for (const std::string& origin : options.cors_origins) {
    if (origin.empty() || origin.find_first_of("\r\n, ") != std::string::npos)
      return bad_option("cors_origin", "a CORS origin is \"*\" or one origin such as https://example.org, got '" + origin + "'");
  }
  if (std::error_code ec; !options.web_dir.empty() && !std::filesystem::is_directory(options.web_dir, ec)) {
    return corpus::make_error(ErrorCode::invalid_argument, "web_dir " + options.web_dir + " is not a folder", "web_dir");
  }
  if (!options.shards.empty() && !options.api_key.empty()) {
    return corpus::make_error(ErrorCode::invalid_argument,
                              "the write API needs one local index (--db DIR), not a list of shards: index "
                              "remote shards with medsearch-index where they live", "api_key");
  }
  if (options.shard_options.timeout_ms < 1 || options.shard_options.connect_timeout_ms < 1) {
    return corpus::make_error(ErrorCode::invalid_argument, "shard timeouts must be at least 1 ms", "shard_timeout");
  }
  // Every worker's searcher shares what is known of the shards' health: a shard one worker
  // found down is in its back-off for all of them, not tried (and waited for) by each.
  if (!options.shard_options.health) options.shard_options.health = std::make_shared<searcher::ShardHealth>();
  // Open once now so that a wrong path fails at start-up rather than on the first request.
  // A shard that is down at start-up is fine with partial answers on (it is retried).
  auto opened = searcher::Searcher::open(searcher_targets(options), options.shard_options);
  if (!opened.ok()) {
    Error error = opened.error();
    // The caller prints this as is, so it must name the path (the searcher's message may).
    const std::string where = options.shards.empty() ? options.db_path : std::string();
    if (!where.empty() && error.message.find(where) == std::string::npos) {
      error.message = "cannot open index at " + where + ": " + error.message;
    }
    return error;
  }
  std::optional<searcher::rerank::Model> model;
  if (!options.rerank_model_path.empty()) {
    auto loaded = searcher::rerank::Model::load(options.rerank_model_path);
    if (!loaded.ok()) {
      return corpus::make_error(ErrorCode::invalid_argument, loaded.error().message, "rerank_model");
    }
    model = std::move(*loaded);
  }
  if ((*opened)->lacks_lexicon()) {
    std::cerr << "medsearch-server: warning: remote shards without --lexicon: no synonym expansion and no "
                 "spelling suggestions (Xapian's remote backend serves neither)\n";
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->model_ = std::move(model);
  impl->configure();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Result<int> Server::bind() {
  Impl& impl = *impl_;
  const std::string where = impl.options_.host + ":" + std::to_string(impl.options_.port);
  if (impl.bound_) return corpus::make_error(ErrorCode::internal, "already bound");
  int port = impl.options_.port;
  // httplib reports only failure; errno still holds why the socket call failed (address in
  // use, not an address of this machine, a privileged port).
  auto failed = [&where] {
    const int error = errno;
    return corpus::make_error(ErrorCode::unavailable,
                              "cannot bind " + where + (error != 0 ? std::string(": ") + std::strerror(error) : ""));
  };
  errno = 0;
  if (port == 0) {
    port = impl.http_.bind_to_any_port(impl.options_.host);
    if (port < 0) return failed();
  } else if (!impl.http_.bind_to_port(impl.options_.host, port)) {
    return failed();
  }
  impl.bound_ = true;
  return port;
}

void Server::run() {
  Impl& impl = *impl_;
  impl.run_active_ = true;
  if (!impl.stop_requested_ && impl.bound_) impl.http_.listen_after_bind();
  impl.run_active_ = false;
}

void Server::stop() {
  Impl& impl = *impl_;
  impl.stop_requested_ = true;
  // httplib's stop() does nothing until listen_after_bind has marked the server running, so
  // a stop that lands between run()'s check and that moment waits for it.
  while (impl.run_active_ && !impl.http_.is_running()) std::this_thread::yield();
  if (impl.http_.is_running()) impl.http_.stop();
}

bool Server::is_running() const { return impl_->http_.is_running(); }

ServerLoad Server::load() const {
  const PoolState& pool = impl_->pool_;
  return {pool.workers.load(), pool.busy.load(), pool.queued.load(), pool.rejected.load()};
}

const ServerOptions& Server::options() const { return impl_->options_; }

}  // namespace medsearch::server
