// Issue 7: shards served by xapian-tcpsrv on loopback. A shard that is down or slow gives a 503
// naming it, or with partial answers on an answer from the others that lists it as missing;
// when it returns, the next request uses it again without a restart. Also the shard-list and
// stub-file parsing. Skipped where xapian-tcpsrv is not installed.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "indexer/pipeline.h"
#include "searcher/context.h"
#include "searcher/searcher.h"
#include "searcher/shards.h"
#include "server/server.h"
#include "tests/serving.h"
#include "tests/test_util.h"

namespace ms = medsearch::searcher;
namespace mi = medsearch::indexer;
namespace mc = medsearch::corpus;
using medsearch::test::TcpShards;
using medsearch::test::TempDir;
using nlohmann::json;

namespace {

// Three shards of tests/fixtures/golden.jsonl + http.jsonl, their lexicon, one database of the
// same records, and xapian-tcpsrv serving each shard.
class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TcpShards::available()) GTEST_SKIP() << "xapian-tcpsrv not installed (Debian package xapian-tools)";
    const std::vector<std::string> inputs = {medsearch::test::fixture("golden.jsonl").string(),
                                             medsearch::test::fixture("http.jsonl").string()};
    for (auto [name, shards] : {std::pair{"one", 1u}, std::pair{"three", 3u}}) {
      auto layout = mi::open_layout(dir_.str(name), shards);
      ASSERT_TRUE(layout.ok());
      mi::BulkOptions options;
      options.threads = 1;
      ASSERT_TRUE(mi::index_files(*layout, inputs, mc::Format::automatic, options).ok());
    }
    ASSERT_TRUE(mi::export_lexicon(dir_.str("three"), dir_.str("lexicon")).ok());
    servers_ = std::make_unique<TcpShards>(std::vector<std::string>{
        dir_.str("three/shard-000"), dir_.str("three/shard-001"), dir_.str("three/shard-002")});
    ASSERT_TRUE(servers_->ok());
  }

  // No back-off unless a test asks for it: these tests restart a shard and expect the next
  // request to use it.
  std::unique_ptr<ms::Searcher> open(bool partial, int timeout_ms = 5000, ms::ShardOptions options = no_backoff()) {
    options.partial = partial;
    options.timeout_ms = timeout_ms;
    options.lexicon = dir_.str("lexicon");
    auto opened = ms::Searcher::open(servers_->urls(), options);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // A server over the three shards (no web page, no access log), partial answers as given; the
  // restarted shard is used at the next request.
  medsearch::server::ServerOptions server_options(bool partial) {
    medsearch::server::ServerOptions options;
    options.shards = servers_->urls();
    options.db_path = options.shards[0];
    options.port = 0;
    options.threads = 2;
    options.access_log = false;
    options.web_dir.clear();
    options.shard_options.partial = partial;
    options.shard_options.retry_initial_ms = 0;
    options.shard_options.lexicon = dir_.str("lexicon");
    return options;
  }

  static ms::ShardOptions no_backoff() {
    ms::ShardOptions options;
    options.retry_initial_ms = 0;
    return options;
  }

  static ms::SearchRequest request(const std::string& q) {
    ms::SearchRequest r;
    r.query = q;
    r.limit = 20;
    r.snippet_bytes = 0;
    return r;
  }

  static std::vector<std::string> ids(const ms::SearchResponse& response) {
    std::vector<std::string> out;
    for (const auto& hit : response.hits) out.push_back(hit.stored.passage.id);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<TcpShards> servers_;
};

TEST_F(RemoteTest, ShardDownIsAnErrorNamingItWithoutPartialAnswers) {
  auto searcher = open(false);
  ASSERT_TRUE(searcher);
  const auto before = searcher->search(request("riluzole"));
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->partial);

  servers_->stop(1);
  const std::string down = servers_->urls()[1];
  // Mid-connection (the shard died under an open connection) and at the next reopen alike.
  auto during = searcher->search(request("riluzole"));
  ASSERT_FALSE(during.ok());
  EXPECT_EQ(during.error().code, mc::ErrorCode::unavailable);
  EXPECT_EQ(during.error().param, "shard");
  EXPECT_NE(during.error().message.find(down), std::string::npos) << during.error().message;
  auto reopened = searcher->reopen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message.find(down), std::string::npos);
  // Every other read names the shard too, not just searches.
  auto expect_names_shard = [&](const mc::Error& error, const std::string& what) {
    EXPECT_EQ(error.code, mc::ErrorCode::unavailable) << what;
    EXPECT_EQ(error.param, "shard") << what << ": " << error.message;
    EXPECT_NE(error.message.find(down), std::string::npos) << what << ": " << error.message;
  };
  auto passage = searcher->passage(before->hits.front().stored.passage.id);
  ASSERT_FALSE(passage.ok());
  expect_names_shard(passage.error(), "passage");
  auto suggest = searcher->suggest("rilu", 5);
  ASSERT_FALSE(suggest.ok());
  expect_names_shard(suggest.error(), "suggest");
  auto stats = searcher->stats();
  ASSERT_FALSE(stats.ok());
  expect_names_shard(stats.error(), "stats");
  ms::ContextRequest context;
  context.question = "riluzole dose";
  auto answer = searcher->context(context);
  ASSERT_FALSE(answer.ok());
  expect_names_shard(answer.error(), "context");
  auto fresh = ms::Searcher::open(servers_->urls(), ms::ShardOptions{});
  ASSERT_FALSE(fresh.ok());
  EXPECT_EQ(fresh.error().param, "shard");

  // Back on the same port: the next reopen reconnects and answers as before.
  ASSERT_TRUE(servers_->start(1));
  ASSERT_TRUE(searcher->reopen().ok());
  const auto after = searcher->search(request("riluzole"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(ids(*after), ids(*before));
}

TEST_F(RemoteTest, PartialAnswersListTheMissingShardAndRecover) {
  auto searcher = open(true);
  ASSERT_TRUE(searcher);
  const auto before = searcher->search(request("riluzole metformin zinc"));
  ASSERT_TRUE(before.ok());

  servers_->stop(2);
  auto partial = searcher->search(request("riluzole metformin zinc"));
  ASSERT_TRUE(partial.ok()) << partial.error().message;
  EXPECT_TRUE(partial->partial);
  EXPECT_EQ(partial->missing_shards, std::vector<std::string>{servers_->urls()[2]});
  EXPECT_LT(partial->hits.size(), before->hits.size());
  // Every hit it gives is one the whole index gives: the other shards' records only.
  const auto before_ids = ids(*before);
  const auto partial_ids = ids(*partial);
  for (const auto& id : partial_ids)
    EXPECT_NE(std::find(before_ids.begin(), before_ids.end(), id), before_ids.end()) << id;
  // Still missing at the next request (reopen tries again and fails), still an answer.
  ASSERT_TRUE(searcher->reopen().ok());
  auto again = searcher->search(request("riluzole metformin zinc"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->partial);
  auto json_body = ms::to_json(*again, ms::build_answer(*again));
  EXPECT_EQ(json_body["partial"], true);
  EXPECT_EQ(json_body["missing_shards"], json::array({servers_->urls()[2]}));
  // The assistant's route says so too; a passage on the missing shard is unavailable, not
  // absent; one on a shard that answers is found.
  ms::ContextRequest context;
  context.question = "riluzole metformin zinc";
  auto answer = searcher->context(context);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_TRUE(answer->partial);
  EXPECT_EQ(answer->missing_shards, std::vector<std::string>{servers_->urls()[2]});
  EXPECT_EQ(ms::context_to_json(*answer)["missing_shards"], json::array({servers_->urls()[2]}));
  // So do the counts and the names for autocomplete (and their JSON).
  auto stats = searcher->stats();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_TRUE(stats->partial);
  EXPECT_EQ(stats->missing_shards, std::vector<std::string>{servers_->urls()[2]});
  EXPECT_EQ(ms::stats_to_json(*stats)["missing_shards"], json::array({servers_->urls()[2]}));
  auto names = searcher->suggest("ri", 5);
  ASSERT_TRUE(names.ok()) << names.error().message;
  EXPECT_TRUE(names->partial);
  EXPECT_EQ(ms::suggest_to_json(*names)["missing_shards"], json::array({servers_->urls()[2]}));
  // The indexer routes each record to shard_of(record id); find a passage routed to shard 2.
  std::string on_missing;
  for (const auto& hit : before->hits)
    if (mi::shard_of(hit.stored.passage.record_id, 3) == 2) on_missing = hit.stored.passage.id;
  ASSERT_FALSE(on_missing.empty());
  auto gone = searcher->passage(on_missing);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, mc::ErrorCode::unavailable);
  EXPECT_EQ(gone.error().param, "shard");
  EXPECT_TRUE(searcher->passage(partial_ids.front()).ok());

  ASSERT_TRUE(servers_->start(2));
  ASSERT_TRUE(searcher->reopen().ok());
  const auto after = searcher->search(request("riluzole metformin zinc"));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->partial);
  EXPECT_TRUE(after->missing_shards.empty());
  EXPECT_EQ(ids(*after), ids(*before));
  EXPECT_FALSE(ms::to_json(*after, ms::build_answer(*after)).contains("partial"));
  auto whole = searcher->context(context);
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(whole->partial);
  EXPECT_FALSE(ms::context_to_json(*whole).contains("partial"));
  auto whole_stats = searcher->stats();
  ASSERT_TRUE(whole_stats.ok());
  EXPECT_FALSE(whole_stats->partial);
  EXPECT_FALSE(ms::stats_to_json(*whole_stats).contains("partial"));
  auto whole_names = searcher->suggest("ri", 5);
  ASSERT_TRUE(whole_names.ok());
  EXPECT_FALSE(ms::suggest_to_json(*whole_names).contains("partial"));
}

// A shard found down is not tried again before its back-off has passed (1 s, then 2 s, ...),
// so requests meanwhile do not wait for it; once the back-off has passed, it is used again.
// The clock is injected; "not tried" shows as a shard that is back up but still left out.
TEST_F(RemoteTest, DownShardIsTriedAgainOnlyAfterItsBackOff) {
  auto now = std::chrono::steady_clock::now();
  ms::ShardOptions options;
  options.retry_initial_ms = 1000;
  options.retry_max_ms = 3000;
  options.clock = [&now] { return now; };
  auto searcher = open(true, 5000, options);
  ASSERT_TRUE(searcher);
  const std::string down = servers_->urls()[2];
  auto missing = [&]() -> std::vector<std::string> {
    EXPECT_TRUE(searcher->reopen().ok());
    auto response = searcher->search(request("riluzole metformin zinc"));
    EXPECT_TRUE(response.ok()) << response.error().message;
    return response.ok() ? response->missing_shards : std::vector<std::string>{"(error)"};
  };
  EXPECT_TRUE(missing().empty());

  servers_->stop(2);
  EXPECT_EQ(missing(), std::vector<std::string>{down});  // failure 1: back off 1 s
  ASSERT_TRUE(servers_->start(2));
  now += std::chrono::milliseconds(999);
  EXPECT_EQ(missing(), std::vector<std::string>{down}) << "tried again before its back-off";
  now += std::chrono::milliseconds(1);
  EXPECT_TRUE(missing().empty()) << "not tried again after its back-off";

  // Failures in a row double the back-off, up to retry_max_ms.
  servers_->stop(2);
  EXPECT_EQ(missing(), std::vector<std::string>{down});  // failure 1: 1 s
  now += std::chrono::milliseconds(1000);
  EXPECT_EQ(missing(), std::vector<std::string>{down});  // failure 2: 2 s
  now += std::chrono::milliseconds(2000);
  EXPECT_EQ(missing(), std::vector<std::string>{down});  // failure 3: 4 s, capped at 3 s
  ASSERT_TRUE(servers_->start(2));
  now += std::chrono::milliseconds(2999);
  EXPECT_EQ(missing(), std::vector<std::string>{down});
  now += std::chrono::milliseconds(1);
  EXPECT_TRUE(missing().empty());
}

// Without partial answers, a request during the back-off fails at once, naming the shard and
// when it will be tried again.
TEST_F(RemoteTest, BackOffIsNamedInTheError) {
  auto now = std::chrono::steady_clock::now();
  ms::ShardOptions options;
  options.retry_initial_ms = 1000;
  options.clock = [&now] { return now; };
  auto searcher = open(false, 5000, options);
  ASSERT_TRUE(searcher);
  servers_->stop(0);
  EXPECT_FALSE(searcher->search(request("riluzole")).ok());
  now += std::chrono::milliseconds(400);
  auto reopened = searcher->reopen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().param, "shard");
  EXPECT_NE(reopened.error().message.find(servers_->urls()[0]), std::string::npos) << reopened.error().message;
  EXPECT_NE(reopened.error().message.find("next attempt in 600 ms"), std::string::npos) << reopened.error().message;
}

// /stats sums the shards' revisions, as the indexer does for a sharded index; remote shards
// report none (Xapian 1.4), local ones do.
TEST_F(RemoteTest, StatsRevisionSumsTheLocalShards) {
  auto local = ms::Searcher::open({dir_.str("three")}, no_backoff());
  ASSERT_TRUE(local.ok()) << local.error().message;
  auto stats = (*local)->stats();
  ASSERT_TRUE(stats.ok());
  auto expected = mi::index_revision(dir_.str("three"));
  ASSERT_TRUE(expected.ok());
  EXPECT_GT(*expected, 0u);
  EXPECT_EQ(stats->revision, *expected);
}

TEST_F(RemoteTest, SlowShardTimesOutAndIsLeftOut) {
  auto searcher = open(true, 300);
  ASSERT_TRUE(searcher);
  servers_->pause(0);  // accepts connections, never answers
  const auto start = std::chrono::steady_clock::now();
  auto response = searcher->search(request("riluzole"));
  const auto took = std::chrono::steady_clock::now() - start;
  servers_->resume(0);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_TRUE(response->partial);
  EXPECT_EQ(response->missing_shards, std::vector<std::string>{servers_->urls()[0]});
  EXPECT_LT(took, std::chrono::seconds(5));
  ASSERT_TRUE(searcher->reopen().ok());
  auto back = searcher->search(request("riluzole"));
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->partial);
}

// Over HTTP: 503 with a JSON error naming the shard, or 200 with "partial" and
// "missing_shards", as configured; reconnection without a restart.
TEST_F(RemoteTest, ServerAnswers503OrPartialAsConfigured) {
  for (bool partial : {false, true}) {
    medsearch::test::ServingThread serving(server_options(partial));
    ASSERT_TRUE(serving.ok());
    httplib::Client client("127.0.0.1", serving.port());
    auto ok = client.Get("/search?q=riluzole");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);

    servers_->stop(1);
    for (int i = 0; i < 3; ++i) {  // every worker, whatever state its connection is in
      auto res = client.Get("/search?q=riluzole");
      ASSERT_TRUE(res);
      const json body = json::parse(res->body);
      if (partial) {
        EXPECT_EQ(res->status, 200) << res->body;
        EXPECT_EQ(body["partial"], true);
        EXPECT_EQ(body["missing_shards"], json::array({servers_->urls()[1]}));
      } else {
        EXPECT_EQ(res->status, 503) << res->body;
        EXPECT_EQ(body["error"]["code"], "unavailable");
        EXPECT_EQ(body["error"]["param"], "shard");
        EXPECT_NE(body["error"]["message"].get<std::string>().find(servers_->urls()[1]), std::string::npos);
      }
    }
    ASSERT_TRUE(servers_->start(1));
    auto back = client.Get("/search?q=riluzole");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->status, 200);
    EXPECT_FALSE(json::parse(back->body).contains("partial"));
  }
}

// Without partial answers, two shards down: the 503 of /health (and of /search) names both,
// not only the first, so that an operator restarts them all at once (with partial answers on,
// /health lists every missing shard already). The error body has no room for a list
// (openapi's Error is closed), so the message names them. Before: "shard <first> is
// unavailable: ... (2 of 3 shards are down)".
TEST_F(RemoteTest, ServerNamesEveryShardThatIsDownWithoutPartialAnswers) {
  medsearch::test::ServingThread serving(server_options(false));
  ASSERT_TRUE(serving.ok());
  httplib::Client client("127.0.0.1", serving.port());
  client.set_read_timeout(60, 0);
  auto ok = client.Get("/health");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;

  servers_->stop(0);
  servers_->stop(2);
  const std::vector<std::string> down = {servers_->urls()[0], servers_->urls()[2]};
  for (int i = 0; i < 3; ++i) {  // every worker, whatever state its connections are in
    for (const char* path : {"/health", "/search?q=riluzole"}) {
      auto res = client.Get(path);
      ASSERT_TRUE(res) << path;
      EXPECT_EQ(res->status, 503) << path << ": " << res->body;
      const json body = json::parse(res->body);
      EXPECT_EQ(body["error"]["code"], "unavailable") << path;
      EXPECT_EQ(body["error"]["param"], "shard") << path;
      const std::string message = body["error"]["message"];
      for (const std::string& shard : down) EXPECT_NE(message.find(shard), std::string::npos) << path << ": " << message;
      EXPECT_EQ(message.find(servers_->urls()[1]), std::string::npos) << path << ": names the shard that is up: " << message;
    }
  }
  // One back: the message names only the one still down.
  ASSERT_TRUE(servers_->start(0));
  auto res = client.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  const std::string message = json::parse(res->body)["error"]["message"];
  EXPECT_NE(message.find(down[1]), std::string::npos) << message;
  EXPECT_EQ(message.find(down[0]), std::string::npos) << message;
}

// With partial answers on and a shard down, every read route that answers from the other
// shards says so as /search does ("partial": true, "missing_shards" naming it), /health says
// "degraded" and /metrics counts the missing shards; a passage that may be on the missing
// shard is a 503 naming it, not a 404; one on a shard that answered is whole, with no flag.
// Found by an audit: /stats, /suggest and /health answered from two of three shards as if
// they were the whole index.
TEST_F(RemoteTest, EveryReadRouteSaysWhenItsAnswerIsPartial) {
  medsearch::test::ServingThread serving(server_options(true));
  ASSERT_TRUE(serving.ok());
  httplib::Client client("127.0.0.1", serving.port());
  client.set_read_timeout(60, 0);
  auto get = [&](const std::string& path, int status) {
    auto res = client.Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, status) << path << ": " << res->body;
    return path == "/metrics" ? json(res->body) : json::parse(res->body);
  };
  auto post_context = [&] {
    auto res = client.Post("/context", R"({"question":"riluzole metformin zinc"})", "application/json");
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  };
  const std::string down = servers_->urls()[2];
  const json missing = json::array({down});

  // Whole: no route carries the fields; passages on shard 0 and on shard 2 to ask for later.
  const json whole = get("/search?q=riluzole+metformin+zinc&limit=20&facets=0", 200);
  std::string on_up, on_down;
  for (const auto& hit : whole["hits"]) {
    const std::uint32_t shard = mi::shard_of(hit["record_id"].get<std::string>(), 3);
    if (shard == 0 && on_up.empty()) on_up = hit["passage_id"];
    if (shard == 2 && on_down.empty()) on_down = hit["passage_id"];
  }
  ASSERT_FALSE(on_up.empty());
  ASSERT_FALSE(on_down.empty());
  const json stats_whole = get("/stats", 200);
  const json health_whole = get("/health", 200);
  EXPECT_EQ(health_whole["status"], "ok");
  for (const json& body : {whole, stats_whole, health_whole, get("/suggest?prefix=ri", 200), post_context(),
                           get("/passages/" + on_down, 200)}) {
    EXPECT_FALSE(body.contains("partial")) << body.dump().substr(0, 300);
    EXPECT_FALSE(body.contains("missing_shards")) << body.dump().substr(0, 300);
  }
  EXPECT_NE(get("/metrics", 200).get<std::string>().find("medsearch_shards_missing 0\n"), std::string::npos);

  servers_->stop(2);
  auto expect_partial = [&](const json& body, const std::string& what) {
    EXPECT_EQ(body.value("partial", false), true) << what << ": " << body.dump().substr(0, 300);
    EXPECT_EQ(body.value("missing_shards", json()), missing) << what;
  };
  for (int i = 0; i < 2; ++i) {  // each worker, whether its connection to the shard broke or not
    expect_partial(get("/search?q=riluzole&facets=0", 200), "/search");
    const json stats = get("/stats", 200);
    expect_partial(stats, "/stats");
    EXPECT_LT(stats["passages"].get<std::uint64_t>(), stats_whole["passages"].get<std::uint64_t>());
    EXPECT_LT(stats["records"].get<std::uint64_t>(), stats_whole["records"].get<std::uint64_t>());
    expect_partial(get("/suggest?prefix=ri", 200), "/suggest");
    expect_partial(post_context(), "/context");
    const json health = get("/health", 200);
    expect_partial(health, "/health");
    EXPECT_EQ(health["status"], "degraded");
    EXPECT_EQ(health["documents"], stats["passages"]);
    EXPECT_NE(get("/metrics", 200).get<std::string>().find("medsearch_shards_missing 1\n"), std::string::npos);
    // A passage is whole or not there: found on a shard that answered, unflagged...
    const json found = get("/passages/" + on_up, 200);
    EXPECT_EQ(found["passage_id"], on_up);
    EXPECT_FALSE(found.contains("partial"));
    // ...and one the shards that answered lack (on the missing shard, or nowhere: they cannot
    // tell) is unavailable, naming the shard, not a 404.
    for (const std::string& id : {on_down, std::string("no-such-record:p0")}) {
      const json error = get("/passages/" + id, 503);
      EXPECT_EQ(error["error"]["code"], "unavailable") << id;
      EXPECT_EQ(error["error"]["param"], "shard") << id;
      EXPECT_NE(error["error"]["message"].get<std::string>().find(down), std::string::npos) << error.dump();
    }
  }

  ASSERT_TRUE(servers_->start(2));
  EXPECT_FALSE(get("/stats", 200).contains("partial"));
  const json health = get("/health", 200);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_FALSE(health.contains("missing_shards"));
  EXPECT_EQ(get("/passages/" + on_down, 200)["passage_id"], on_down);
  EXPECT_EQ(get("/passages/no-such-record:p0", 404)["error"]["code"], "not_found");
}

// A hung shard (SIGSTOP: it accepts connections and never answers) costs the server the
// request that finds it, not every request after it: the workers share its back-off, so a
// worker whose own connection to it is stale, or that has not connected yet, does not wait
// out the timeouts again. Before: without partial answers each request reopened from
// scratch and waited 5 s (12 s when its old connection hung first); with them, each of the 8
// workers waited on its own, and sequential requests spread over the workers outlived the
// per-worker back-off, so every request took about 7 s.
TEST_F(RemoteTest, HungShardCostsTheServerOneTimeoutNotOnePerRequest) {
  for (bool partial : {false, true}) {
    SCOPED_TRACE(partial ? "partial answers" : "503s");
    auto offset = std::make_shared<std::atomic<long long>>(0);  // ms added to the clock
    medsearch::server::ServerOptions options = server_options(partial);
    options.threads = 8;
    // Long enough that no answer from the shards that are up comes near it, even under
    // sanitizers on a loaded machine: a request that took this long waited for the hung one.
    options.shard_options.timeout_ms = 4000;
    options.shard_options.connect_timeout_ms = 4000;
    options.shard_options.retry_initial_ms = 60000;  // not tried again during the test...
    options.shard_options.clock = [offset] {         // ...until the clock says so
      return std::chrono::steady_clock::now() + std::chrono::milliseconds(offset->load());
    };
    options.shard_options.lexicon = dir_.str("lexicon");
    medsearch::test::ServingThread serving(options);
    ASSERT_TRUE(serving.ok());
    // A fresh connection per request, so requests land on any worker, as from many clients.
    auto get = [&] {
      httplib::Client client("127.0.0.1", serving.port());
      client.set_read_timeout(60, 0);
      return client.Get("/search?q=riluzole&limit=5&facets=0");
    };
    for (int i = 0; i < 8; ++i) {  // most workers connected to every shard
      auto res = get();
      ASSERT_TRUE(res);
      ASSERT_EQ(res->status, 200);
    }

    servers_->pause(0);
    const std::string hung = servers_->urls()[0];
    auto first = get();  // finds it: waits out the timeouts once
    ASSERT_TRUE(first);
    for (int i = 0; i < 12; ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto res = get();
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      ASSERT_TRUE(res);
      EXPECT_LT(took.count(), options.shard_options.timeout_ms) << "request " << i << " waited for the hung shard";
      const json body = json::parse(res->body);
      if (partial) {
        EXPECT_EQ(res->status, 200) << res->body;
        EXPECT_EQ(body["missing_shards"], json::array({hung}));
      } else {
        EXPECT_EQ(res->status, 503) << res->body;
        const std::string message = body["error"]["message"];
        EXPECT_NE(message.find(hung), std::string::npos) << message;
        EXPECT_NE(message.find("next attempt in"), std::string::npos) << message;
      }
    }

    // Back, and its back-off passed: every worker uses it again, stale connections replaced.
    servers_->resume(0);
    *offset += 61000;
    for (int i = 0; i < 12; ++i) {
      auto res = get();
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200) << res->body;
      EXPECT_FALSE(json::parse(res->body).contains("partial")) << res->body;
    }
  }
}

TEST(Shards, NamesAndStubFilesExpandInOrder) {
  TempDir dir;
  {
    std::ofstream stub(dir.str("cluster.stub"));
    stub << "# a comment\n\nremote 10.0.0.1:7001\nremote [::1]:7002\nremote :ssh -q host xapian-progsrv /srv/db\n";
  }
  auto specs = ms::expand_shards({"tcp://127.0.0.1:7000", dir.str("cluster.stub")});
  ASSERT_TRUE(specs.ok()) << specs.error().message;
  ASSERT_EQ(specs->size(), 4u);
  EXPECT_EQ((*specs)[0].name, "tcp://127.0.0.1:7000");
  EXPECT_EQ((*specs)[1].name, "tcp://10.0.0.1:7001");
  EXPECT_EQ((*specs)[2].host, "::1");
  EXPECT_EQ((*specs)[2].name, "tcp://[::1]:7002");
  EXPECT_EQ((*specs)[3].kind, ms::ShardSpec::Kind::prog);
  EXPECT_EQ((*specs)[3].path, "ssh");
  EXPECT_EQ((*specs)[3].args, "-q host xapian-progsrv /srv/db");
  for (const std::string bad : {"tcp://host", "tcp://host:0", "tcp://host:99999", "tcp://::1:7000"}) {
    auto refused = ms::expand_shards({bad});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().code, mc::ErrorCode::invalid_argument);
    EXPECT_EQ(refused.error().param, "db");
  }
  {
    std::ofstream stub(dir.str("bad.stub"));
    stub << "flint /old/db\n";
  }
  auto unknown = ms::expand_shards({dir.str("bad.stub")});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("bad.stub:1"), std::string::npos) << unknown.error().message;
  EXPECT_FALSE(ms::expand_shards({dir.str("no-such-folder")}).ok());
  // A file that is no stub at all (a data file given as --db) says so, whatever its first word.
  for (const char* content : {"garbage\n", "\x01\x02binary junk\n", "{\"id\": \"r1\"}\n"}) {
    {
      std::ofstream junk(dir.str("data.jsonl"), std::ios::binary);
      junk << content;
    }
    auto junk = ms::expand_shards({dir.str("data.jsonl")});
    ASSERT_FALSE(junk.ok()) << content;
    EXPECT_NE(junk.error().message.find("data.jsonl:1: not a Xapian stub file"), std::string::npos) << junk.error().message;
    EXPECT_EQ(junk.error().message.find('\x01'), std::string::npos) << junk.error().message;
  }
}

}  // namespace
