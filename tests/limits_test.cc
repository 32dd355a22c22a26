// HTTP hardening (issue 8): a real Server on a loopback port, driven by raw sockets where
// httplib's client would not send what is tested. Limits on the request URI, the headers and the
// time to send a request; the bounded queue (503 with Retry-After); caps on query terms, limit
// and offset; the request deadline; CORS off and on; the loopback bind; the API key comparison.
// No assertion depends on how fast the machine is: waits only make an outcome certain.
#include "server/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "searcher/searcher.h"
#include "tests/serving.h"
#include "tests/test_util.h"

namespace medsearch::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(2);
constexpr auto kWaitLimit = std::chrono::seconds(30);  // for polls that cannot fail unless broken

// True once `done()` holds, false after kWaitLimit.
bool poll_until(const std::function<bool()>& done) {
  const auto until = Clock::now() + kWaitLimit;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

// An HTTP answer as read off a raw socket.
struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  std::string header(const std::string& name) const {
    std::istringstream lines(head);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.size() > name.size() && strncasecmp(line.c_str(), name.c_str(), name.size()) == 0 &&
          line[name.size()] == ':') {
        std::string value = line.substr(name.size() + 1);
        while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
        while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
        return value;
      }
    }
    return {};
  }
  json json_body() const { return json::parse(body, nullptr, false); }
};

// A connection to 127.0.0.1:port that sends bytes as given and reads one answer.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // False when the server has closed the connection (or it broke).
  bool send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads until the answer is whole (Content-Length) or the server closes; status 0 if none.
  RawResponse read_response() {
    std::string data;
    char buf[8192];
    const auto until = Clock::now() + kWaitLimit;
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
      if (whole(data)) break;
    }
    RawResponse res;
    const auto end = data.find("\r\n\r\n");
    if (end == std::string::npos) return res;
    res.head = data.substr(0, end + 2);
    res.body = data.substr(end + 4);
    std::sscanf(res.head.c_str(), "HTTP/1.%*d %d", &res.status);
    return res;
  }

  // True when the server has sent something (or closed).
  bool readable() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  // True when the server has closed its side (reads EOF), waiting up to kWaitLimit.
  bool closed_by_server() {
    char buf[4096];
    const auto until = Clock::now() + kWaitLimit;
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  static bool whole(const std::string& data) {
    const auto end = data.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const std::string head = data.substr(0, end);
    auto at = head.find("Content-Length: ");
    if (at == std::string::npos) return false;
    const std::size_t length = std::stoul(head.substr(at + 16));
    return data.size() >= end + 4 + length;
  }

  int fd_ = -1;
  bool connected_ = false;
};

// A server over tests/fixtures/http.jsonl with the options `configure` sets, on a port the OS
// chose, serving on a background thread.
class LimitsServer {
 public:
  LimitsServer(const test::TempDir& dir, const std::function<void(ServerOptions&)>& configure) {
    const std::string db = dir.str("index");
    test::build_index(db, {test::fixture("http.jsonl")});
    ServerOptions options;
    options.db_path = db;
    options.port = 0;
    options.threads = 4;
    options.access_log = false;
    options.web_dir.clear();
    configure(options);
    serving_ = std::make_unique<test::ServingThread>(options);
    port_ = serving_->port();
  }
  bool ok() const { return serving_->ok(); }
  int port() const { return port_; }
  Server& server() { return serving_->server(); }

  std::unique_ptr<httplib::Client> client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(30, 0);
    client->set_url_encode(false);
    return client;
  }

  // One request on a fresh connection, answer read whole.
  RawResponse raw(const std::string& request) const {
    RawConnection connection(port_);
    EXPECT_TRUE(connection.connected());
    connection.send(request);
    return connection.read_response();
  }

  // The server still answers a plain request.
  bool healthy() const {
    auto res = client()->Get("/health");
    return res && res->status == 200;
  }

 private:
  std::unique_ptr<test::ServingThread> serving_;
  int port_ = 0;
};

void expect_error(const RawResponse& res, int status, const std::string& code) {
  EXPECT_EQ(res.status, status) << res.head << res.body;
  EXPECT_EQ(res.header("Content-Type"), "application/json") << res.head;
  const json body = res.json_body();
  ASSERT_FALSE(body.is_discarded()) << res.body;
  EXPECT_EQ(body["error"]["code"], code) << res.body;
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
}

TEST(UriLimit, LongerThanTheLimitIs414AndTheServerCarriesOn) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) { o.max_uri_bytes = 200; });
  ASSERT_TRUE(server.ok());
  // Just over the limit (the exact check) and far over it (cut while it arrives).
  for (std::size_t length : {std::size_t{201}, std::size_t{100000}}) {
    SCOPED_TRACE(length);
    std::string target = "/search?q=";
    target.append(length - target.size(), 'a');
    auto res = server.raw("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_error(res, 414, "uri_too_long");
  }
  std::string fits = "/search?q=riluzole&drug=";
  fits.append(200 - fits.size(), 'a');
  EXPECT_EQ(server.raw("GET " + fits + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 200);
  EXPECT_TRUE(server.healthy());
}

TEST(HeaderLimits, TooManyHeadersOrTooManyHeaderBytesIs431) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) {
    o.max_headers = 10;
    o.max_header_bytes = 1024;
  });
  ASSERT_TRUE(server.ok());
  std::string many = "GET /health HTTP/1.1\r\n";
  for (int i = 0; i < 11; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  expect_error(server.raw(many + "\r\n"), 431, "headers_too_large");

  // 1,100 bytes in one header; then a megabyte, which is cut as it arrives.
  for (std::size_t size : {std::size_t{1100}, std::size_t{1} << 20}) {
    SCOPED_TRACE(size);
    expect_error(server.raw("GET /health HTTP/1.1\r\nX-Big: " + std::string(size, 'b') + "\r\n\r\n"), 431,
                 "headers_too_large");
  }
  std::string ten = "GET /health HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) ten += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(server.raw(ten + "Connection: close\r\n\r\n").status, 200);
  EXPECT_TRUE(server.healthy());
}

TEST(HeaderLimits, OneHeaderLineOverHttplibsLimitIs431) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions&) {});
  ASSERT_TRUE(server.ok());
  expect_error(server.raw("GET /health HTTP/1.1\r\nX-Big: " + std::string(9000, 'b') + "\r\n\r\n"), 431,
               "headers_too_large");
  EXPECT_TRUE(server.healthy());
}

TEST(MalformedRequest, IsAnswered400OnceAndTheConnectionClosed) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions&) {});
  ASSERT_TRUE(server.ok());
  // A request line httplib cannot parse: one 400, then the connection ends. Kept open, the
  // header lines that follow were read as requests of their own and each got a 400 too.
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.send("BAD LINE\r\nHost: x\r\nAccept: y\r\n\r\n"));
  expect_error(connection.read_response(), 400, "invalid_argument");
  std::string more;
  char buf[4096];
  const auto until = Clock::now() + kWaitLimit;
  while (Clock::now() < until) {
    pollfd p{connection.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(connection.fd(), buf, sizeof buf, 0);
    if (n <= 0) break;
    more.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(more, "") << "answers after the first";
  EXPECT_TRUE(server.healthy());
}

TEST(MalformedRequest, BecomesNoMetricsLabel) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions&) {});
  ASSERT_TRUE(server.ok());
  // httplib sets the method from the request line before refusing it: the label must not
  // carry it (quotes and braces break the exposition format; every new text is a new series).
  expect_error(server.raw("GE\"T}\\x{evil=\"1 /search HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "invalid_argument");
  expect_error(server.raw("FOO /search HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "invalid_argument");
  ASSERT_TRUE(server.healthy());
  auto res = server.client()->Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->body.find("evil"), std::string::npos) << res->body;
  EXPECT_EQ(res->body.find("FOO"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("medsearch_http_requests_total{method=\"other\",route=\"unmatched\",status=\"400\"} 2\n"),
            std::string::npos)
      << res->body;
  // Every sample line is `name{label="value",...} number` with no quote inside a value.
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto open = line.find('{');
    if (open == std::string::npos) continue;
    const auto close = line.rfind('}');
    ASSERT_NE(close, std::string::npos) << line;
    std::string labels = line.substr(open + 1, close - open - 1);
    std::size_t quotes = std::count(labels.begin(), labels.end(), '"');
    std::size_t equals = std::count(labels.begin(), labels.end(), '=');
    EXPECT_EQ(quotes, 2 * equals) << line;
  }
}

TEST(RequestBody, APostWithoutContentLengthHasAnEmptyBody) {
  test::TempDir dir;
  // A long read timeout: before the fix the request waited for it, then got a 408.
  LimitsServer server(dir, [](ServerOptions& o) { o.read_timeout_s = 30; });
  ASSERT_TRUE(server.ok());
  for (const char* path : {"/search", "/context"}) {
    SCOPED_TRACE(path);
    RawConnection connection(server.port());
    ASSERT_TRUE(connection.send(std::string("POST ") + path +
                                " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"));
    const auto start = Clock::now();
    const RawResponse res = connection.read_response();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
    expect_error(res, 400, "invalid_argument");
    EXPECT_EQ(res.json_body()["error"]["param"], "body") << res.body;
  }
  EXPECT_TRUE(server.healthy());
}

TEST(ReceiveTimeout, AWaitForTheNextByteOverTheReadTimeoutIs408) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) {
    o.read_timeout_s = 1;
    o.receive_timeout_ms = 60000;
  });
  ASSERT_TRUE(server.ok());
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.send("POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"q\":"));
  expect_error(connection.read_response(), 408, "request_timeout");
}

TEST(ReceiveTimeout, ARequestThatNeverEndsIs408) {
  test::TempDir dir;
  // Each wait for bytes may last 30 s, the whole request only 300 ms.
  LimitsServer server(dir, [](ServerOptions& o) {
    o.receive_timeout_ms = 300;
    o.read_timeout_s = 30;
  });
  ASSERT_TRUE(server.ok());
  {
    RawConnection connection(server.port());
    ASSERT_TRUE(connection.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
    expect_error(connection.read_response(), 408, "request_timeout");
    EXPECT_TRUE(connection.closed_by_server());
  }
  {
    // Slowloris: a byte at a time, each well within the read timeout; stops when answered.
    RawConnection connection(server.port());
    ASSERT_TRUE(connection.send("GET /health HTTP/1.1\r\n"));
    for (int i = 0; i < 400 && !connection.readable(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      if (!connection.send("X")) break;
    }
    expect_error(connection.read_response(), 408, "request_timeout");
  }
  {
    // A body that never arrives whole.
    RawConnection connection(server.port());
    ASSERT_TRUE(connection.send("POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "Content-Length: 100\r\n\r\n{\"q\":"));
    expect_error(connection.read_response(), 408, "request_timeout");
  }
  EXPECT_TRUE(server.healthy());
}

TEST(BoundedQueue, FullQueueAnswers503WithRetryAfter) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) {
    o.threads = 1;
    o.max_queued = 1;
    o.retry_after_s = 7;
    o.read_timeout_s = 60;
    o.receive_timeout_ms = 60000;
  });
  ASSERT_TRUE(server.ok());
  // The pool comes into being when the listening thread starts serving, which may be just
  // after the port is bound (a sanitizer run once read 0 here).
  ASSERT_TRUE(poll_until([&] { return server.server().load().workers == 1u; }));

  // A slow request holds the only worker: its head is not finished.
  RawConnection slow(server.port());
  ASSERT_TRUE(slow.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
  ASSERT_TRUE(poll_until([&] { return server.server().load().busy == 1; }));

  // A second connection waits in the queue...
  RawConnection queued(server.port());
  ASSERT_TRUE(queued.send("GET /search?q=riluzole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(poll_until([&] { return server.server().load().queued == 1; }));

  // ...and a third finds the queue full.
  RawResponse refused = server.raw("GET /search?q=riluzole HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_error(refused, 503, "overloaded");
  EXPECT_EQ(refused.header("Retry-After"), "7");
  EXPECT_EQ(server.server().load().rejected, 1u);

  // When the slow request ends, both it and the queued one are answered.
  ASSERT_TRUE(slow.send("Connection: close\r\n\r\n"));
  EXPECT_EQ(slow.read_response().status, 200);
  RawResponse later = queued.read_response();
  EXPECT_EQ(later.status, 200) << later.body;
  EXPECT_TRUE(server.healthy());
}

TEST(RequestDeadline, ARequestThatWaitedPastItsDeadlineGets503) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) {
    o.threads = 1;
    o.max_queued = 4;
    o.request_deadline_ms = 200;
    o.read_timeout_s = 60;
    o.receive_timeout_ms = 60000;
  });
  ASSERT_TRUE(server.ok());
  RawConnection slow(server.port());
  ASSERT_TRUE(slow.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
  ASSERT_TRUE(poll_until([&] { return server.server().load().busy == 1; }));
  RawConnection queued(server.port());
  ASSERT_TRUE(queued.send("GET /search?q=riluzole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(poll_until([&] { return server.server().load().queued == 1; }));
  // At least the deadline passes while it waits (the wait makes the outcome certain).
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(slow.send("Connection: close\r\n\r\n"));
  EXPECT_EQ(slow.read_response().status, 200);  // /health has no deadline
  RawResponse late = queued.read_response();
  expect_error(late, 503, "deadline_exceeded");
  EXPECT_EQ(late.header("Retry-After"), "1");
}

TEST(RequestDeadline, ASearchWithinItsDeadlineIsNotFlagged) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions&) {});
  ASSERT_TRUE(server.ok());
  auto res = server.client()->Get("/search?q=riluzole");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json body = json::parse(res->body);
  EXPECT_FALSE(body.contains("deadline_exceeded"));
  EXPECT_FALSE(body["hits"].empty());
}

// The searcher's side: a deadline already passed becomes Xapian's (tiny) time limit; the
// answer still has its hits and says the deadline was exceeded.
TEST(RequestDeadline, SearcherFlagsAMatchThatRanIntoItsDeadline) {
  test::TempDir dir;
  // The demonstration corpus: "riluzole" matches more passages than any match needs for its
  // top (the feedback pass takes 18), so a passed deadline cuts the facets' count short.
  std::vector<std::filesystem::path> samples;
  for (const auto& entry : std::filesystem::directory_iterator(test::source_dir() / "corpus" / "samples"))
    if (entry.path().extension() == ".jsonl") samples.push_back(entry.path());
  std::sort(samples.begin(), samples.end());
  test::build_index(dir.str("index"), samples);
  auto searcher = searcher::Searcher::open(dir.str("index"));
  ASSERT_TRUE(searcher.ok()) << searcher.error().message;
  searcher::SearchRequest request;
  request.query = "riluzole";
  request.facets = true;
  auto on_time = (*searcher)->search(request);
  ASSERT_TRUE(on_time.ok());
  EXPECT_FALSE(on_time->deadline_exceeded);
  request.deadline = Clock::now() - std::chrono::seconds(1);
  auto late = (*searcher)->search(request);
  ASSERT_TRUE(late.ok()) << late.error().message;
  EXPECT_TRUE(late->deadline_exceeded);
  EXPECT_FALSE(late->hits.empty());
  ASSERT_TRUE(late->facets.has_value());
  EXPECT_FALSE(late->facets->exact);
  ASSERT_FALSE(late->warnings.empty());
  EXPECT_EQ(late->hits.front().stored.passage.id, on_time->hits.front().stored.passage.id);
}

TEST(SearchCaps, TooManyTermsLimitAndOffsetAre400NamingTheField) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) {
    o.max_query_terms = 5;
    o.max_query_bytes = 40;
    o.max_limit = 20;
    o.max_offset = 50;
  });
  ASSERT_TRUE(server.ok());
  auto client = server.client();
  struct Case {
    std::string path;
    int status;
    std::string param;
  };
  const Case cases[] = {
      {"/search?q=riluzole+als+survival+dose+trial", 200, ""},
      {"/search?q=riluzole+als+survival+dose+trial+adults", 400, "q"},
      {"/search?q=riluzole-amyotrophic-lateral-sclerosis-survival", 400, "q"},  // 5 words, 47 bytes
      {"/search?q=riluzole-amyotrophic-lateral-sclerosis", 200, ""},  // 4 words, 38 bytes
      {"/search?q=riluzole&limit=20", 200, ""},
      {"/search?q=riluzole&limit=21", 400, "limit"},
      {"/search?q=riluzole&offset=50", 200, ""},
      {"/search?q=riluzole&offset=51", 400, "offset"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    auto res = client->Get(c.path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status) << res->body;
    if (c.status == 400) {
      const json body = json::parse(res->body);
      EXPECT_EQ(body["error"]["code"], "invalid_argument");
      EXPECT_EQ(body["error"]["param"], c.param);
    }
  }
  auto post = client->Post("/search", R"({"q":"a b c d e f"})", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 400);
  EXPECT_EQ(json::parse(post->body)["error"]["param"], "q");
  auto context = client->Post("/context", R"({"question":"a b c d e f"})", "application/json");
  ASSERT_TRUE(context);
  EXPECT_EQ(context->status, 400);
  EXPECT_EQ(json::parse(context->body)["error"]["param"], "q");
}

TEST(SearchCaps, CountQueryTerms) {
  EXPECT_EQ(count_query_terms(""), 0u);
  EXPECT_EQ(count_query_terms("  ,;  "), 0u);
  EXPECT_EQ(count_query_terms("riluzole"), 1u);
  EXPECT_EQ(count_query_terms("β-blocker HbA1c"), 3u);
  EXPECT_EQ(count_query_terms("5-FU and COVID-19"), 5u);
  // Operators are words too: the cap is on what the client sends.
  EXPECT_EQ(count_query_terms("\"heart failure\" AND (beta OR blocker)"), 6u);
}

TEST(Cors, OffByDefault) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions&) {});
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(ServerOptions().cors_origins.empty());
  auto client = server.client();
  auto get = client->Get("/search?q=riluzole", {{"Origin", "https://a.example"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Origin"));
  auto preflight = client->Options("/search", {{"Origin", "https://a.example"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_FALSE(preflight->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(preflight->has_header("Access-Control-Allow-Methods"));
}

TEST(Cors, ListedOriginsOnlyWithPreflight) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) { o.cors_origins = {"https://a.example", "http://localhost:3000"}; });
  ASSERT_TRUE(server.ok());
  auto client = server.client();
  auto get = client->Get("/search?q=riluzole", {{"Origin", "https://a.example"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(get->get_header_value("Vary"), "Origin");
  auto error = client->Get("/search?limit=0", {{"Origin", "http://localhost:3000"}});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 400);
  EXPECT_EQ(error->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  auto other = client->Get("/search?q=riluzole", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));

  auto preflight = client->Options(
      "/search", {{"Origin", "https://a.example"}, {"Access-Control-Request-Method", "POST"},
                  {"Access-Control-Request-Headers", "content-type"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Headers").find("Content-Type"), std::string::npos);
  auto refused = client->Options("/search", {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->has_header("Access-Control-Allow-Origin"));
}

TEST(Cors, AnyOrigin) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) { o.cors_origins = {"*"}; });
  ASSERT_TRUE(server.ok());
  auto get = server.client()->Get("/health", {{"Origin", "https://b.example"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "*");
}

// The listening socket of a default server is bound to 127.0.0.1, as /proc/net/tcp shows
// (local address 0100007F, state 0A = LISTEN): no other address is tried.
TEST(LoopbackBind, DefaultHostIsLoopback) {
  EXPECT_EQ(ServerOptions().host, "127.0.0.1");
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions&) {});
  ASSERT_TRUE(server.ok());
  std::ifstream tcp("/proc/net/tcp");
  if (!tcp) GTEST_SKIP() << "no /proc/net/tcp";
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, ":%04X", server.port());
  std::string line;
  int listening = 0;
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state != "0A" || local.size() < 5 || local.substr(local.size() - 5) != wanted) continue;
    ++listening;
    EXPECT_EQ(local.substr(0, 8), "0100007F") << line;
  }
  EXPECT_EQ(listening, 1);
}

TEST(ApiKey, KeysEqualComparesWholeKeysOfAnyLength) {
  EXPECT_TRUE(keys_equal("s3cret-key", "s3cret-key"));
  EXPECT_FALSE(keys_equal("s3cret-kex", "s3cret-key"));
  EXPECT_FALSE(keys_equal("s3cret", "s3cret-key"));          // a prefix
  EXPECT_FALSE(keys_equal("s3cret-keys3cret-key", "s3cret-key"));  // the key twice (cycled)
  EXPECT_FALSE(keys_equal("s3cret-key-and-more", "s3cret-key"));
  EXPECT_FALSE(keys_equal("", "s3cret-key"));
  EXPECT_FALSE(keys_equal("anything", ""));
  EXPECT_FALSE(keys_equal("", ""));
}

TEST(ApiKey, TheBearerSchemeIsCaseInsensitive) {
  test::TempDir dir;
  LimitsServer server(dir, [](ServerOptions& o) { o.api_key = "secret"; });
  ASSERT_TRUE(server.ok());
  // An empty body is refused after the key is checked: 400 when the key was taken, 401 when not.
  for (const char* scheme : {"Bearer", "bearer", "BEARER"}) {
    SCOPED_TRACE(scheme);
    auto res = server.client()->Post("/records", {{"Authorization", std::string(scheme) + " secret"}}, "",
                                     "application/x-ndjson");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
  }
  auto wrong = server.client()->Post("/records", {{"Authorization", "bearer nope"}}, "", "application/x-ndjson");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
}

TEST(LimitOptions, OutOfRangeOptionsAreRefused) {
  test::TempDir dir;
  test::build_index(dir.str("index"), {test::fixture("http.jsonl")});
  const std::pair<std::function<void(ServerOptions&)>, std::string> cases[] = {
      {[](ServerOptions& o) { o.max_uri_bytes = kMaxUriBytesCeiling + 1; }, "max_uri_bytes"},
      {[](ServerOptions& o) { o.max_headers = 0; }, "max_headers"},
      {[](ServerOptions& o) { o.receive_timeout_ms = 0; }, "receive_timeout"},
      {[](ServerOptions& o) { o.max_limit = searcher::kMaxLimit + 1; }, "max_limit"},
      {[](ServerOptions& o) { o.max_query_bytes = searcher::kMaxQueryBytes + 1; }, "max_query_bytes"},
      {[](ServerOptions& o) { o.max_offset = -1; }, "max_offset"},
      {[](ServerOptions& o) { o.cors_origins = {"https://a.example\r\nX-Evil: 1"}; }, "cors_origin"},
  };
  for (const auto& [configure, param] : cases) {
    ServerOptions options;
    options.db_path = dir.str("index");
    options.web_dir.clear();
    configure(options);
    auto created = Server::create(options);
    ASSERT_FALSE(created.ok()) << param;
    EXPECT_EQ(created.error().code, ErrorCode::invalid_argument) << param;
    EXPECT_EQ(created.error().param, param);
  }
}

}  // namespace
}  // namespace medsearch::server
