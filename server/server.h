// The HTTP server: /search, /passages/{id}, /health and /stats over the searcher library,
// with JSON bodies for every answer and every error, and the web page's static files. httplib stays behind a pimpl so that
// code including this header does not see it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "corpus/result.h"
#include "searcher/context.h"
#include "searcher/searcher.h"

namespace medsearch::server {

using corpus::Error;
using corpus::ErrorCode;
using corpus::Result;
using corpus::Status;

// The web page's folder this server was built with (server/web in the source tree).
std::string_view default_web_dir();

struct ServerOptions {
  std::string db_path;
  // Shards searched as one index instead of db_path (searcher/shards.h): folders, tcp://HOST:PORT
  // shards served by xapian-tcpsrv, stub files. Empty = db_path alone. The write API needs
  // one local index (db_path) and is refused with shards.
  std::vector<std::string> shards;
  // Per-shard timeouts, partial answers (a 503 naming the shard when off) and the lexicon
  // that gives remote shards their synonyms and spellings.
  searcher::ShardOptions shard_options;
  std::string host = "127.0.0.1";
  int port = 8080;                            // 0 = let the OS choose (see Server::bind)
  int threads = 0;                            // worker threads; 0 = hardware concurrency, at least 8
  std::size_t max_payload_bytes = 1 << 20;    // larger request bodies get 413
  int read_timeout_s = 5;
  int write_timeout_s = 5;
  int keep_alive_timeout_s = 5;               // an idle keep-alive connection holds a worker
  std::size_t keep_alive_max_requests = 100;  // requests per connection before it is closed
  // Connections accepted while every worker is busy wait in a queue of this many; past it they
  // are answered 503 with Retry-After (code "overloaded") and closed. 0 = no waiting at all.
  std::size_t max_queued = 64;
  int retry_after_s = 1;                      // the Retry-After of every 503 the server chooses
  // The request line's target (path and query string): longer gets 414 (code
  // "uri_too_long"). At most kMaxUriBytesCeiling, httplib's compiled-in limit.
  std::size_t max_uri_bytes = 8192;
  // Header lines after the request line, and their bytes in all: more gets 431 (code
  // "headers_too_large"), as does any one header line over 8,192 bytes (httplib's limit).
  std::size_t max_headers = 64;
  std::size_t max_header_bytes = 16384;
  // The longest a client may take to send one whole request (line, headers and body), from
  // its first byte (from the connection's acceptance for its first request); slower gets 408
  // (code "request_timeout") and the connection is closed. So does a wait of read_timeout_s
  // for the next byte of a request.
  int receive_timeout_ms = 10000;
  // A request's deadline, counted as receive_timeout_ms is: a search or context request still
  // unanswered when it passes is refused with 503 and Retry-After (code "deadline_exceeded")
  // before searching, or searches with it (checking stops at the best hits once it passes) and says
  // "deadline_exceeded": true (searcher::SearchRequest::deadline). 0 = none.
  int request_deadline_ms = 10000;
  // Searches (GET/POST /search, POST /context) that run at once; the others wait their turn in
  // arrival order. 0 = one more than cores. More workers than cores serve connections (see threads),
  // but searches are CPU work: run together, they time-slice and every one finishes late,
  // the longest ones latest; queued, each runs at full speed after the ones ahead of it.
  int search_slots = 0;
  // Each worker's searcher counts a search's facets on a helper thread of its own, beside the
  // search (searcher::Searcher::set_helper_thread): sooner answers while a core is free.
  bool helper_threads = true;
  // Caps on a search (GET/POST /search, and /context's question): at most this many words and
  // bytes in the question (400, param "q"), and limit and offset at most these (400), each no
  // more than the searcher's own ceilings (searcher::kMaxQueryBytes, kMaxLimit, kMaxOffset).
  std::size_t max_query_terms = 64;
  std::size_t max_query_bytes = searcher::kMaxQueryBytes;
  int max_limit = searcher::kMaxLimit;
  int max_offset = searcher::kMaxOffset;
  // Origins allowed to call the API from a browser page served elsewhere (CORS): an origin
  // ("https://example.org") or "*". Empty = CORS off: no Access-Control-* headers at all.
  std::vector<std::string> cors_origins;
  bool access_log = true;                     // one JSON line per request on stderr
  // The write API (POST /records, DELETE /records/{id}) is on only when this is set; requests
  // must then carry it as "Authorization: Bearer <key>" or "X-API-Key: <key>".
  std::string api_key;
  // Rerank weights from medsearch-train; empty = the shipped ones (searcher/rerank_model.json).
  std::string rerank_model_path;
  // The web page: GET / and the files in this folder (nothing outside it); empty = no page.
  // API routes win over a file of the same name.
  std::string web_dir = std::string(default_web_dir());
};

// httplib 0.11.4 reads request lines up to this long (CPPHTTPLIB_REQUEST_URI_MAX_LENGTH, fixed
// when Debian built its library): ServerOptions::max_uri_bytes may only lower it.
inline constexpr std::size_t kMaxUriBytesCeiling = 8192;

// What the worker pool is doing, for tests and /metrics.
struct ServerLoad {
  std::size_t workers = 0;      // threads serving connections
  std::size_t busy = 0;         // of which serving a connection now
  std::size_t queued = 0;       // connections accepted and waiting for a worker
  std::uint64_t rejected = 0;   // connections answered 503 "overloaded" since start
};

// An HTTP server over one on-disk index.
//
// Thread safety: bind() and run() are called from one thread; stop() and is_running() may be
// called from any thread, including while run() blocks in another. Each worker thread opens
// its own Searcher (a Xapian::Database must not be shared) and reopens it before every
// request, so commits made while the server runs become visible to the next request.
// Destroy the Server only after run() has returned.
class Server {
 public:
  // Checks the options and opens the index once to verify it. Errors: invalid_argument for
  // bad options (param names the option; web_dir when it is set but not a folder),
  // unavailable/corrupt when the index at options.db_path cannot be opened (the message
  // names the path).
  static Result<std::unique_ptr<Server>> create(ServerOptions options);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and returns the bound port (the OS's choice when options.port is 0).
  // Error: unavailable, naming host:port, when the address cannot be bound.
  Result<int> bind();

  // Serves until stop(); must follow a successful bind(). Returns at once if stop() was
  // called before.
  void run();

  // Asks run() to return: closes the listening socket, lets requests being handled finish and
  // joins the workers. Safe from any thread, idempotent, and effective even when it races with
  // the start of run(). Connections accepted but not yet picked up by a worker are closed
  // unanswered (httplib 0.11.4 checks the listening socket before each request).
  void stop();

  // True while run() is accepting connections.
  bool is_running() const;

  // The worker pool's state now (zeros before run()). Safe from any thread.
  ServerLoad load() const;

  const ServerOptions& options() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Query parameters as httplib decodes them (httplib::Params is this multimap).
using Params = std::multimap<std::string, std::string>;

// Turns /search's query parameters into a SearchRequest: q, limit, offset, source, section and
// evidence (repeated or comma-separated), drug (repeated), year_from, year_to, per_record,
// snippet_bytes, facets and intent (0|1; facets default to 1 over HTTP). Integers must be
// whole decimal numbers; a scalar parameter given twice is an error; ranges, the query's
// length and its UTF-8 are checked by searcher::validate. Errors are invalid_argument with
// param naming the parameter. Unknown parameters are ignored.
Result<searcher::SearchRequest> parse_search_request(const Params& params);

// Turns POST /search's JSON body into a SearchRequest: {"q", "limit", "offset", "sources":[],
// "year_from", "year_to", "drugs":[], "sections":[], "evidence_levels":[], "per_record",
// "facets": bool, "intent": bool, "snippet_bytes"}; null means the default. Unknown keys and
// wrong types are invalid_argument naming the key ("body" when it is not a JSON object).
Result<searcher::SearchRequest> parse_search_body(const std::string& body);

// Turns POST /context's JSON body into a ContextRequest: {"question", "history":[{"question",
// "answer"?}], "budget_tokens", "sources":[], "per_record"}; errors as parse_search_body.
Result<searcher::ContextRequest> parse_context_body(const std::string& body);

// True when the two keys are equal, in time that depends only on the given key's length (not
// on where they first differ, nor on the expected key's length), so a client cannot guess the
// key, or its length, from response times. False when `expected` is empty.
bool keys_equal(std::string_view given, std::string_view expected);

// Words in a question as the limit on query terms counts them: runs of letters and digits
// (every byte of a multi-byte UTF-8 character counts as a letter), so "β-blocker HbA1c" is 3.
std::size_t count_query_terms(std::string_view question);

// The HTTP status for an error code: invalid_argument/parse 400, not_found 404,
// unavailable 503, corrupt/internal 500.
int http_status(ErrorCode code);

// {"error":{"code":"...","message":"...","param":"..."}}, param omitted when empty.
nlohmann::json error_to_json(const Error& error);

// The medsearch version this server was built as.
std::string_view version();

}  // namespace medsearch::server
