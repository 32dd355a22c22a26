// HTTP tests: a real Server on a loopback port the OS chooses, driven by a real
// httplib::Client. Statuses, content types, JSON shapes, error bodies, filters and paging,
// arbitrary bytes as queries, concurrent clients, and an index committed while serving.
#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "indexer/indexer.h"
#include "indexer/pipeline.h"
#include "server/search_gate.h"
#include "tests/serving.h"
#include "tests/test_util.h"

namespace medsearch::server {
namespace {

using nlohmann::json;

constexpr int kRecordsInFixture = 8;

// Percent-encodes every byte outside RFC 3986's unreserved set, so that arbitrary bytes
// reach the server exactly as generated.
std::string encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string search_path(const std::string& query, const std::string& extra = {}) {
  return "/search?q=" + encode(query) + (extra.empty() ? "" : "&" + extra);
}

// The body without took_ms, the one field allowed to differ between equal requests.
json without_timing(json body) {
  body.erase("took_ms");
  return body;
}

// A test server's options: the API alone over `db` ("/" is a 404 here; web_test covers the
// page), a free loopback port, no access log.
ServerOptions api_options(const std::string& db, int threads) {
  ServerOptions options;
  options.db_path = db;
  options.port = 0;
  options.threads = threads;
  options.access_log = false;
  options.web_dir.clear();
  return options;
}

// A server over its own index of tests/fixtures/http.jsonl, serving on a background thread.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_path_ = dir_.str("index");
    test::build_index(db_path_, {test::fixture("http.jsonl")});
    if (HasFatalFailure()) return;

    ServerOptions options = api_options(db_path_, 4);
    serving_ = std::make_unique<test::ServingThread>(options);
    ASSERT_TRUE(serving_->ok());
    port_ = serving_->port();
    ASSERT_GT(port_, 0);

    client_ = make_client();
  }

  void TearDown() override { serving_.reset(); }

  std::unique_ptr<httplib::Client> make_client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_connection_timeout(5, 0);
    client->set_read_timeout(30, 0);
    // The tests encode paths themselves, byte for byte.
    client->set_url_encode(false);
    return client;
  }

  // GETs `path`, expects `status` and a JSON body, and returns the body.
  json get_json(const std::string& path, int status = 200) {
    auto res = client_->Get(path);
    EXPECT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    if (!res) return json();
    EXPECT_EQ(res->status, status) << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(body.is_discarded()) << path << ": not JSON: " << res->body;
    return body;
  }

  // Checks the error shape every failure shares; `param` empty means "any or none".
  static void expect_error_body(const json& body, const std::string& code, const std::string& param,
                                const std::string& where) {
    ASSERT_TRUE(body.is_object()) << where;
    ASSERT_TRUE(body.contains("error")) << where << ": " << body;
    const json& error = body["error"];
    ASSERT_TRUE(error["code"].is_string()) << where;
    ASSERT_TRUE(error["message"].is_string()) << where;
    EXPECT_EQ(error["code"], code) << where << ": " << body;
    EXPECT_FALSE(error["message"].get<std::string>().empty()) << where;
    if (!param.empty()) {
      EXPECT_EQ(error.value("param", ""), param) << where << ": " << body;
    }
  }

  std::vector<std::string> passage_ids(const json& body) {
    std::vector<std::string> ids;
    for (const auto& hit : body["hits"]) ids.push_back(hit["passage_id"]);
    return ids;
  }

  test::TempDir dir_;
  std::string db_path_;
  std::unique_ptr<test::ServingThread> serving_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerTest, SearchAnswersWithTheDocumentedJsonShape) {
  json body = get_json(search_path("riluzole"));
  EXPECT_EQ(body["query"], "riluzole");
  EXPECT_TRUE(body["total_estimate"].is_number_unsigned());
  EXPECT_TRUE(body["took_ms"].is_number());
  ASSERT_TRUE(body["hits"].is_array());
  ASSERT_FALSE(body["hits"].empty());
  ASSERT_TRUE(body["groups"].is_array());
  ASSERT_TRUE(body["references"].is_array());

  int expected_rank = 1;
  for (const auto& hit : body["hits"]) {
    for (const char* key : {"rank", "score", "passage_id", "record_id", "source", "title", "section", "text",
                            "snippet", "citation", "ref"}) {
      EXPECT_TRUE(hit.contains(key)) << "hit lacks " << key << ": " << hit;
    }
    EXPECT_EQ(hit["rank"], expected_rank++);
    EXPECT_TRUE(hit["score"].is_number());
    EXPECT_TRUE(hit["citation"].is_object());
    EXPECT_TRUE(hit["ref"].is_number_integer());
  }
  // Every hit's reference number is in the references list, numbered 1..n.
  std::set<int> numbers;
  int expected_number = 1;
  for (const auto& ref : body["references"]) {
    EXPECT_EQ(ref["number"], expected_number++);
    numbers.insert(ref["number"].get<int>());
  }
  for (const auto& hit : body["hits"]) EXPECT_TRUE(numbers.count(hit["ref"].get<int>())) << hit["ref"];
}

// rerank=0 (GET) and "rerank": false (POST) rank by the first stage alone, exactly as the
// library does with SearchRequest::rerank off; the default is the library's default.
TEST_F(ServerTest, RerankParameterSwitchesTheSecondStage) {
  auto searcher = searcher::Searcher::open(db_path_);
  ASSERT_TRUE(searcher.ok()) << searcher.error().message;
  const std::string question = "amyotrophic lateral sclerosis";  // reordered by the linear and the tree models
  auto library_ids = [&](bool rerank) {
    searcher::SearchRequest request;
    request.query = question;
    request.limit = 20;
    request.rerank = rerank;
    auto response = (*searcher)->search(request);
    EXPECT_TRUE(response.ok());
    std::vector<std::string> ids;
    if (response.ok())
      for (const auto& hit : response->hits) ids.push_back(hit.stored.passage.id);
    return ids;
  };
  const auto first_stage = library_ids(false);
  const auto both_stages = library_ids(true);
  ASSERT_GE(first_stage.size(), 3u);
  ASSERT_NE(first_stage, both_stages) << "the fixture question must be one the reranker reorders";

  EXPECT_EQ(passage_ids(get_json(search_path(question, "limit=20&rerank=0"))), first_stage);
  EXPECT_EQ(passage_ids(get_json(search_path(question, "limit=20&rerank=1"))), both_stages);
  EXPECT_EQ(passage_ids(get_json(search_path(question, "limit=20"))), both_stages);

  auto post = client_->Post("/search", json{{"q", question}, {"limit", 20}, {"rerank", false}}.dump(), "application/json");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  EXPECT_EQ(passage_ids(json::parse(post->body)), first_stage);

  expect_error_body(get_json(search_path(question, "rerank=yes"), 400), "invalid_argument", "rerank", "GET rerank=yes");
  auto bad = client_->Post("/search", json{{"q", question}, {"rerank", "no"}}.dump(), "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  expect_error_body(json::parse(bad->body), "invalid_argument", "rerank", "POST rerank: \"no\"");
}

TEST_F(ServerTest, RiluzoleQueryFindsTheRiluzoleLabel) {
  json body = get_json(search_path("riluzole dosage"));
  bool found = false;
  for (const auto& hit : body["hits"]) {
    if (hit["record_id"] == "als-riluzole-label") {
      found = true;
      EXPECT_EQ(hit["source"], "fda_label");
    }
  }
  EXPECT_TRUE(found) << body;
}

TEST_F(ServerTest, GroupsReadGuidelinesThenLabelThenResearch) {
  // The fixture has riluzole in a guideline, a label and two research abstracts.
  json body = get_json(search_path("riluzole amyotrophic lateral sclerosis", "limit=20"));
  ASSERT_TRUE(body["groups"].is_array());
  std::vector<std::string> sources;
  std::vector<std::string> labels;
  for (const auto& group : body["groups"]) {
    sources.push_back(group["source"]);
    labels.push_back(group["label"]);
    EXPECT_TRUE(group["refs"].is_array());
  }
  EXPECT_EQ(sources, (std::vector<std::string>{"guideline", "fda_label", "research"})) << body["groups"];
  EXPECT_EQ(labels, (std::vector<std::string>{"From the Guidelines", "From the FDA Drug Label", "From the Research"}));
}

TEST_F(ServerTest, SourceFilterIsRespected) {
  for (const char* source : {"guideline", "fda_label", "research"}) {
    json body = get_json(search_path("riluzole metformin", std::string("per_record=0&limit=50&source=") + source));
    ASSERT_FALSE(body["hits"].empty()) << source;
    for (const auto& hit : body["hits"]) EXPECT_EQ(hit["source"], source) << hit["passage_id"];
  }
  // Comma-separated and repeated forms mean the same.
  json comma = get_json(search_path("riluzole metformin", "per_record=0&limit=50&source=guideline,research"));
  json repeated =
      get_json(search_path("riluzole metformin", "per_record=0&limit=50&source=research&source=guideline"));
  ASSERT_FALSE(comma["hits"].empty());
  for (const auto& hit : comma["hits"]) EXPECT_NE(hit["source"], "fda_label");
  EXPECT_EQ(passage_ids(comma), passage_ids(repeated));
}

TEST_F(ServerTest, YearFilterIsRespected) {
  json body = get_json(search_path("riluzole", "year_from=2015&year_to=2020&per_record=0&limit=50"));
  ASSERT_FALSE(body["hits"].empty());
  for (const auto& hit : body["hits"]) {
    ASSERT_TRUE(hit["year"].is_number_integer()) << hit;
    EXPECT_GE(hit["year"].get<int>(), 2015) << hit["passage_id"];
    EXPECT_LE(hit["year"].get<int>(), 2020) << hit["passage_id"];
    EXPECT_NE(hit["record_id"], "als-riluzole-trial");  // 1994
  }
  json only_1994 = get_json(search_path("riluzole", "year_from=1990&year_to=1999"));
  ASSERT_EQ(only_1994["hits"].size(), 1u) << only_1994;
  EXPECT_EQ(only_1994["hits"][0]["record_id"], "als-riluzole-trial");
}

TEST_F(ServerTest, PagesContinueEachOther) {
  const std::string query = "metformin riluzole";
  json all = get_json(search_path(query, "per_record=0&limit=100"));
  std::vector<std::string> every = passage_ids(all);
  ASSERT_GE(every.size(), 5u);

  json page1 = get_json(search_path(query, "per_record=0&limit=2&offset=0"));
  json page2 = get_json(search_path(query, "per_record=0&limit=2&offset=2"));
  EXPECT_EQ(passage_ids(page1), (std::vector<std::string>{every[0], every[1]}));
  EXPECT_EQ(passage_ids(page2), (std::vector<std::string>{every[2], every[3]}));
  EXPECT_EQ(page2["hits"][0]["rank"], 3);
  // Past the end: an empty page, not an error.
  json beyond = get_json(search_path(query, "per_record=0&limit=10&offset=" + std::to_string(every.size())));
  EXPECT_TRUE(beyond["hits"].empty());
}

TEST_F(ServerTest, EqualRequestsGiveEqualBodiesApartFromTiming) {
  const std::string path = search_path("riluzole liver monitoring", "limit=5");
  json first = get_json(path);
  json second = get_json(path);
  EXPECT_EQ(without_timing(first).dump(), without_timing(second).dump());
}

// The facet count on each worker's helper thread (the default) answers as the worker alone does
// (--no-helper-threads): the same bodies from two servers over the same index.
TEST_F(ServerTest, HelperThreadsGiveTheSameAnswers) {
  ServerOptions options = api_options(db_path_, 2);
  options.helper_threads = false;
  test::ServingThread alone(options);
  ASSERT_TRUE(alone.ok());
  httplib::Client other("127.0.0.1", alone.port());
  other.set_url_encode(false);
  for (const char* q : {"riluzole", "riluzole liver monitoring", "side effects", "treatment options for ALS"}) {
    for (const std::string extra : {"facets=1", "facets=1&source=fda_label", "facets=1&offset=2&limit=3&rerank=0"}) {
      const std::string path = search_path(q, extra);
      json helped = get_json(path);
      auto res = other.Get(path);
      ASSERT_TRUE(res) << path;
      ASSERT_EQ(res->status, 200) << path << ": " << res->body;
      EXPECT_TRUE(helped.contains("facets")) << path;
      EXPECT_EQ(without_timing(helped).dump(), without_timing(json::parse(res->body)).dump()) << path;
    }
  }
}

TEST_F(ServerTest, PassageByIdAndMissingPassage) {
  json found = get_json(search_path("riluzole aminotransferases", "source=fda_label"));
  ASSERT_FALSE(found["hits"].empty());
  const std::string id = found["hits"][0]["passage_id"];
  ASSERT_NE(id.find(':'), std::string::npos) << id;

  json passage = get_json("/passages/" + encode(id));
  EXPECT_EQ(passage["passage_id"], id);
  EXPECT_EQ(passage["record_id"], "als-riluzole-label");
  EXPECT_EQ(passage["text"], found["hits"][0]["text"]);
  // The colon may also come unencoded, as links usually carry it.
  EXPECT_EQ(get_json("/passages/" + id)["passage_id"], id);

  json missing = get_json("/passages/no-such-record.v2_x:p7", 404);
  expect_error_body(missing, "not_found", "", "missing passage");
}

TEST_F(ServerTest, ContextQuestionAtItsLengthLimitStillCarriesTheTopic) {
  // A follow-up of exactly 1,024 bytes (the documented limit) whose topic comes from the
  // history: the question and the topic together are longer than the searcher takes, which
  // once made a valid request a 400 naming "q", a field /context does not have.
  std::string question = "what are its side effects ";
  question += std::string(1024 - question.size(), 'x');
  ASSERT_EQ(question.size(), 1024u);
  const json request = {{"question", question}, {"history", json::array({{{"question", "riluzole"}}})}};
  auto res = client_->Post("/context", request.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json body = json::parse(res->body);
  EXPECT_EQ(body["carried"], json::array({"riluzole"}));
  const std::string resolved = body["resolved_query"];
  EXPECT_LE(resolved.size(), 1024u);
  EXPECT_NE(resolved.find("riluzole"), std::string::npos) << resolved;
}

TEST_F(ServerTest, HealthReportsVersionsAndDocuments) {
  json body = get_json("/health");
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["medsearch_version"], std::string(version()));
  EXPECT_EQ(body["xapian_version"], Xapian::version_string());
  ASSERT_TRUE(body["documents"].is_number_unsigned());
  EXPECT_GE(body["documents"].get<int>(), kRecordsInFixture);
}

TEST_F(ServerTest, StatsCountRecordsAndPassages) {
  json body = get_json("/stats");
  EXPECT_EQ(body["records"], kRecordsInFixture);
  EXPECT_GE(body["passages"].get<int>(), kRecordsInFixture);
  EXPECT_TRUE(body["passages_by_source"].is_object());
}

struct BadSearch {
  std::string query_string;  // after "/search?"
  std::string param;         // the parameter the error must name
};

TEST_F(ServerTest, BadSearchParametersGive400NamingTheParameter) {
  const BadSearch cases[] = {
      {"", "q"},
      {"q=", "q"},
      {"q=%FF%FE", "q"},
      {"q=a&q=b", "q"},
      {"q=riluzole&limit=0", "limit"},
      {"q=riluzole&limit=101", "limit"},
      {"q=riluzole&limit=abc", "limit"},
      {"q=riluzole&limit=", "limit"},
      {"q=riluzole&limit=1.5", "limit"},
      {"q=riluzole&limit=%2B5", "limit"},
      {"q=riluzole&limit=%205", "limit"},
      {"q=riluzole&limit=99999999999999999999", "limit"},
      {"q=riluzole&limit=5&limit=6", "limit"},
      {"q=riluzole&offset=-1", "offset"},
      {"q=riluzole&offset=100000", "offset"},
      {"q=riluzole&source=pubmed", "source"},
      {"q=riluzole&source=guideline,", "source"},
      {"q=riluzole&source=Guideline", "source"},
      {"q=riluzole&year_from=abc", "year_from"},
      {"q=riluzole&per_record=-1", "per_record"},
      // A misspelt or unknown parameter is refused, not ignored.
      {"q=riluzole&limt=5", "limt"},
      {"q=riluzole&Limit=5", "Limit"},
      {"q=riluzole&sources=research", "sources"},
  };
  for (const auto& c : cases) {
    json body = get_json("/search?" + c.query_string, 400);
    expect_error_body(body, "invalid_argument", c.param, c.query_string);
  }
  // Which year the message blames is the searcher's choice; it must blame one of them.
  json years = get_json("/search?q=riluzole&year_from=2020&year_to=2010", 400);
  expect_error_body(years, "invalid_argument", "", "year_from > year_to");
  const std::string param = years["error"].value("param", "");
  EXPECT_TRUE(param == "year_from" || param == "year_to") << param;
}

// A year is four digits, 1000-9999, in GET and POST /search and in the question's year:. Found
// by an audit: year_from=99 was searched as the year 99 (every record passed the filter) and
// year_to=99 answered an empty 200; a client that meant 1999 never learnt of it.
TEST_F(ServerTest, ShortYearsAre400NamingTheParameterAndTheRange) {
  const std::pair<std::string, std::string> gets[] = {
      {"year_from=99", "year_from"}, {"year_to=99", "year_to"},   {"year_from=0", "year_from"},
      {"year_to=0", "year_to"},      {"year_from=999", "year_from"}, {"year_to=10000", "year_to"},
  };
  for (const auto& [query, param] : gets) {
    json body = get_json(search_path("riluzole", query), 400);
    expect_error_body(body, "invalid_argument", param, query);
    EXPECT_NE(body["error"]["message"].get<std::string>().find("between 1000 and 9999"), std::string::npos) << body.dump();
  }
  for (const auto& [key, value] : {std::pair{"year_from", 99}, std::pair{"year_to", 99}, std::pair{"year_from", 0}}) {
    auto res = client_->Post("/search", json{{"q", "riluzole"}, {key, value}}.dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    const json body = json::parse(res->body);
    expect_error_body(body, "invalid_argument", key, std::string("POST ") + key);
    EXPECT_NE(body["error"]["message"].get<std::string>().find("between 1000 and 9999"), std::string::npos) << body.dump();
  }
  json in_question = get_json(search_path("riluzole year:99"), 400);
  expect_error_body(in_question, "invalid_argument", "q", "year:99");
  EXPECT_NE(in_question["error"]["message"].get<std::string>().find("year:99"), std::string::npos) << in_question.dump();
  EXPECT_NE(in_question["error"]["message"].get<std::string>().find("between 1000 and 9999"), std::string::npos);
  // Whole years at the ends of the range, and null (the default) in a body, are searched.
  get_json(search_path("riluzole", "year_from=1000&year_to=9999"), 200);
  auto open = client_->Post("/search", R"({"q": "riluzole", "year_from": null, "year_to": 2030})", "application/json");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200) << open->body;
}

TEST_F(ServerTest, SuggestCompletesANameAndRefusesBadParameters) {
  json body = get_json("/suggest?prefix=ril&limit=3", 200);
  EXPECT_EQ(body.value("prefix", ""), "ril");
  ASSERT_TRUE(body["suggestions"].is_array());
  ASSERT_FALSE(body["suggestions"].empty());
  EXPECT_LE(body["suggestions"].size(), 3u);
  EXPECT_EQ(body["suggestions"][0].value("text", ""), "riluzole");
  expect_error_body(get_json("/suggest", 400), "invalid_argument", "prefix", "no prefix");
  expect_error_body(get_json("/suggest?prefix=ril&limit=x", 400), "invalid_argument", "limit", "limit=x");
  expect_error_body(get_json("/suggest?prefix=ril&q=ril", 400), "invalid_argument", "q", "unknown q");
}

TEST_F(ServerTest, UnknownRouteIsJson404) {
  for (const char* path : {"/", "/nope", "/search/extra", "/passages", "/passages/a/b"}) {
    json body = get_json(path, 404);
    expect_error_body(body, "not_found", "", path);
  }
}

TEST_F(ServerTest, WrongMethodIsJson405WithAllow) {
  std::vector<std::pair<std::string, httplib::Result>> results;
  results.emplace_back("POST /stats", client_->Post("/stats", "{}", "application/json"));
  results.emplace_back("PUT /stats", client_->Put("/stats", "x", "text/plain"));
  results.emplace_back("PATCH /passages/x:p0", client_->Patch("/passages/x:p0", "x", "text/plain"));
  results.emplace_back("DELETE /health", client_->Delete("/health"));
  for (auto& [what, res] : results) {
    ASSERT_TRUE(res) << what << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 405) << what;
    EXPECT_NE(res->get_header_value("Allow").find("GET"), std::string::npos) << what;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << what;
    expect_error_body(json::parse(res->body), "invalid_argument", "", what);
  }
}

TEST_F(ServerTest, OversizedBodyIsJson413) {
  const std::string body((1 << 20) + 1, 'x');
  auto res = client_->Post("/search", body, "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  expect_error_body(json::parse(res->body), "invalid_argument", "", "413");
  get_json("/health");
}

// Property: whatever bytes a user types, the answer is 200 or 400 (never 5xx, never a dropped
// connection), a 200 has scores that never increase down the list, and the server survives.
TEST_F(ServerTest, ArbitraryByteQueriesGive200Or400) {
  std::mt19937 rng(20240517);  // fixed: a failure must reproduce
  // Query syntax and multi-byte text alongside random bytes, to reach the parser's corners.
  const std::vector<std::string> pieces = {"riluzole", " ", "AND", "OR", "NOT", "\"", "(", ")", "+", "-", "*",
                                           "title:", "metformin", "\xce\xb2", "\xe2\x80\x91", "\xef\xbc\x95",
                                           "NEAR", "~", "%", "&", "=", "\t", "ALS", "?"};
  std::uniform_int_distribution<int> length(0, 24);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> piece(0, pieces.size() - 1);
  std::bernoulli_distribution use_piece(0.6);

  int ok = 0;
  int rejected = 0;
  for (int i = 0; i < 200; ++i) {
    std::string query;
    for (int n = length(rng); n > 0; --n) {
      if (use_piece(rng)) {
        query += pieces[piece(rng)];
      } else {
        query += static_cast<char>(byte(rng));
      }
    }
    const std::string path = search_path(query, "per_record=0&limit=20");
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << "query #" << i << " " << path << ": " << httplib::to_string(res.error());
    ASSERT_TRUE(res->status == 200 || res->status == 400) << "query #" << i << " " << path << ": " << res->status
                                                          << " " << res->body;
    json body = json::parse(res->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << path;
    if (res->status == 400) {
      ++rejected;
      expect_error_body(body, "invalid_argument", "", path);
      continue;
    }
    ++ok;
    double previous = std::numeric_limits<double>::infinity();
    for (const auto& hit : body["hits"]) {
      const double score = hit["score"];
      EXPECT_LE(score, previous) << path;
      previous = score;
    }
  }
  // Both outcomes must occur, or the generator is not testing what it claims.
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
  json health = get_json("/health");
  EXPECT_EQ(health["status"], "ok");
}

TEST_F(ServerTest, ConcurrentClientsGetEqualAnswers) {
  const std::string path = search_path("riluzole survival", "limit=10");
  const std::string expected = without_timing(get_json(path)).dump();
  constexpr int kClients = 8;
  constexpr int kRequestsEach = 10;
  std::vector<std::thread> clients;
  std::vector<int> mismatches(kClients, 0);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto client = make_client();
      for (int r = 0; r < kRequestsEach; ++r) {
        auto res = client->Get(path);
        if (!res || res->status != 200 ||
            without_timing(json::parse(res->body, nullptr, false)).dump() != expected) {
          ++mismatches[static_cast<std::size_t>(c)];
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(mismatches[static_cast<std::size_t>(c)], 0) << "client " << c;
}

TEST_F(ServerTest, RecordCommittedWhileServingIsVisibleToTheNextSearch) {
  const std::string path = search_path("nusinersen spinal muscular atrophy", "limit=5");
  // Warm every worker's Searcher first, so the test sees reopen() at work rather than a
  // first open.
  for (int i = 0; i < 8; ++i) {
    json before = get_json(path);
    for (const auto& hit : before["hits"]) EXPECT_NE(hit["record_id"], "sma-nusinersen-trial");
  }

  {
    auto indexer = indexer::Indexer::open(db_path_);
    ASSERT_TRUE(indexer.ok()) << indexer.error().message;
    corpus::Record record;
    record.id = "sma-nusinersen-trial";
    record.source = corpus::Source::research;
    record.title = "Nusinersen versus sham control in infantile-onset spinal muscular atrophy";
    record.sections.push_back(corpus::Section{
        "", "", "Intrathecal nusinersen improved motor milestones and event-free survival in infants with spinal "
                "muscular atrophy compared with a sham procedure."});
    record.citation.authors = {"Finkel RS"};
    record.citation.journal = "N Engl J Med";
    record.citation.year = 2017;
    record.evidence_level = "randomized_controlled_trial";
    ASSERT_TRUE((*indexer)->add(record).ok());
    auto committed = (*indexer)->commit();
    ASSERT_TRUE(committed.ok()) << committed.error().message;
  }

  // Several requests, so that several workers (each with its own Searcher) answer.
  for (int i = 0; i < 8; ++i) {
    json after = get_json(path);
    ASSERT_FALSE(after["hits"].empty()) << "request " << i;
    EXPECT_EQ(after["hits"][0]["record_id"], "sma-nusinersen-trial") << "request " << i;
  }
  EXPECT_EQ(get_json("/stats")["records"], kRecordsInFixture + 1);
}

TEST_F(ServerTest, SecondServerOnTheSamePortFailsToBind) {
  ServerOptions options;
  options.db_path = db_path_;
  options.port = port_;
  options.access_log = false;
  auto other = Server::create(options);
  ASSERT_TRUE(other.ok()) << other.error().message;
  auto bound = (*other)->bind();
  ASSERT_FALSE(bound.ok());
  EXPECT_EQ(bound.error().code, ErrorCode::unavailable);
  EXPECT_NE(bound.error().message.find("127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << bound.error().message;
  // And why: the operator's next step differs for a port in use and a wrong address.
  EXPECT_NE(bound.error().message.find("in use"), std::string::npos) << bound.error().message;
}

// Without an HTTP round trip: lifecycle and the pure functions.

TEST(ServerLifecycle, CreateFailsWhenTheIndexCannotBeOpened) {
  test::TempDir dir;
  ServerOptions options;
  options.db_path = dir.str("no-such-index");
  options.access_log = false;
  auto created = Server::create(options);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::unavailable);
  EXPECT_NE(created.error().message.find(options.db_path), std::string::npos) << created.error().message;

  // A folder that holds no index: the index cannot be opened, said once, with Xapian's reason;
  // not a shard "unavailable" with a retry that nothing will make.
  std::filesystem::create_directories(dir.str("empty"));
  options.db_path = dir.str("empty");
  auto empty = Server::create(options);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message.rfind("cannot open index " + options.db_path + ": ", 0), 0u) << empty.error().message;
  EXPECT_EQ(empty.error().message.find("next attempt"), std::string::npos) << empty.error().message;
}

TEST(ServerLifecycle, StopBeforeRunMakesRunReturnAtOnce) {
  test::TempDir dir;
  test::build_index(dir.str("index"), {test::fixture("http.jsonl")});
  ServerOptions options;
  options.db_path = dir.str("index");
  options.port = 0;
  options.access_log = false;
  auto created = Server::create(options);
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_TRUE((*created)->bind().ok());
  (*created)->stop();
  (*created)->stop();  // idempotent
  (*created)->run();   // must not block
  EXPECT_FALSE((*created)->is_running());
}

TEST(ServerLifecycle, StopFromAnotherThreadEndsRun) {
  test::TempDir dir;
  test::build_index(dir.str("index"), {test::fixture("http.jsonl")});
  ServerOptions options;
  options.db_path = dir.str("index");
  options.port = 0;
  options.access_log = false;
  auto created = Server::create(options);
  ASSERT_TRUE(created.ok()) << created.error().message;
  Server& server = **created;
  ASSERT_TRUE(server.bind().ok());
  // stop() issued immediately races with run()'s start; it must win either way.
  std::thread runner([&] { server.run(); });
  server.stop();
  runner.join();
  EXPECT_FALSE(server.is_running());
}

TEST(ParseSearchRequest, DefaultsAndSources) {
  auto request = parse_search_request({{"q", "riluzole"}});
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->query, "riluzole");
  EXPECT_EQ(request->limit, searcher::SearchRequest{}.limit);
  EXPECT_EQ(request->offset, 0);
  EXPECT_TRUE(request->sources.empty());

  // Repeated, comma-separated and duplicated sources come out once each, in answer order.
  auto sources = parse_search_request(
      {{"q", "x"}, {"source", "research,guideline"}, {"source", "research"}, {"limit", "100"}, {"offset", "7"}});
  ASSERT_TRUE(sources.ok()) << sources.error().message;
  EXPECT_EQ(sources->sources, (std::vector<corpus::Source>{corpus::Source::guideline, corpus::Source::research}));
  EXPECT_EQ(sources->limit, 100);
  EXPECT_EQ(sources->offset, 7);

  auto years = parse_search_request({{"q", "x"}, {"year_from", "2015"}, {"year_to", "2020"}, {"per_record", "0"}});
  ASSERT_TRUE(years.ok()) << years.error().message;
  EXPECT_EQ(years->year_from, 2015);
  EXPECT_EQ(years->year_to, 2020);
  EXPECT_EQ(years->per_record, 0);
}

TEST(ParseSearchRequest, ErrorsNameTheParameter) {
  const std::pair<Params, std::string> cases[] = {
      {{}, "q"},
      {{{"q", "x"}, {"limit", "0x10"}}, "limit"},
      {{{"q", "x"}, {"limit", "10 "}}, "limit"},
      {{{"q", "x"}, {"limit", "-"}}, "limit"},
      {{{"q", "x"}, {"offset", "2147483648"}}, "offset"},
      {{{"q", "x"}, {"source", ""}}, "source"},
      {{{"q", "x"}, {"source", ",research"}}, "source"},
      {{{"q", "x"}, {"year_to", "2020"}, {"year_to", "2021"}}, "year_to"},
  };
  for (const auto& [params, param] : cases) {
    auto request = parse_search_request(params);
    ASSERT_FALSE(request.ok()) << param;
    EXPECT_EQ(request.error().code, ErrorCode::invalid_argument) << param;
    EXPECT_EQ(request.error().param, param) << request.error().message;
  }
}

TEST(ParseSearchRequest, EveryDocumentedParameterIsKnown) {
  // The web page's own request (server/web/app.js) and every parameter the README lists.
  auto request = parse_search_request({{"q", "x"},
                                       {"limit", "10"},
                                       {"offset", "0"},
                                       {"year_from", "2000"},
                                       {"year_to", "2020"},
                                       {"per_record", "1"},
                                       {"source", "research"},
                                       {"drug", "riluzole"},
                                       {"section", "dosage_and_administration"},
                                       {"evidence", "practice_guideline"},
                                       {"snippet_bytes", "200"},
                                       {"facets", "1"},
                                       {"intent", "1"},
                                       {"rerank", "0"}});
  ASSERT_TRUE(request.ok()) << request.error().message;
}

TEST(ParseBody, AKeyGivenTwiceIsRefusedNamingIt) {
  auto search = parse_search_body(R"({"q": "riluzole", "limit": 5, "q": "als"})");
  ASSERT_FALSE(search.ok());
  EXPECT_EQ(search.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(search.error().param, "q");
  // Inside a nested object too (a history turn of /context).
  auto context = parse_context_body(
      R"({"question": "its dose?", "history": [{"question": "riluzole", "question": "edaravone"}]})");
  ASSERT_FALSE(context.ok());
  EXPECT_EQ(context.error().param, "question");
  // The same key in two different objects is no repetition.
  auto two_turns = parse_context_body(
      R"({"question": "its dose?", "history": [{"question": "riluzole"}, {"question": "edaravone"}]})");
  EXPECT_TRUE(two_turns.ok()) << two_turns.error().message;
  auto plain = parse_search_body(R"({"q": "riluzole", "limit": 5})");
  EXPECT_TRUE(plain.ok()) << plain.error().message;
}

TEST(HttpStatus, MapsEveryErrorCode) {
  EXPECT_EQ(http_status(ErrorCode::invalid_argument), 400);
  EXPECT_EQ(http_status(ErrorCode::parse), 400);
  EXPECT_EQ(http_status(ErrorCode::not_found), 404);
  EXPECT_EQ(http_status(ErrorCode::unavailable), 503);
  EXPECT_EQ(http_status(ErrorCode::corrupt), 500);
  EXPECT_EQ(http_status(ErrorCode::internal), 500);
}

TEST(ErrorToJson, OmitsAnEmptyParam) {
  EXPECT_EQ(error_to_json(corpus::make_error(ErrorCode::not_found, "gone")).dump(),
            R"({"error":{"code":"not_found","message":"gone"}})");
  EXPECT_EQ(error_to_json(corpus::make_error(ErrorCode::invalid_argument, "bad", "limit")).dump(),
            R"({"error":{"code":"invalid_argument","message":"bad","param":"limit"}})");
}

// The search slots: never more searches at once than slots, and waiting ones go in the order
// they arrived.
TEST(SearchGate, AdmitsAtMostItsSlotsInArrivalOrder) {
  using medsearch::server::SearchGate;
  {
    SearchGate gate(2);
    std::atomic<int> inside{0}, most{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] {
        SearchGate::Pass pass(gate);
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        --inside;
      });
    for (auto& t : threads) t.join();
    EXPECT_LE(most.load(), 2);
    EXPECT_GE(most.load(), 1);
    EXPECT_EQ(gate.running(), 0u);
    EXPECT_EQ(gate.waiting(), 0u);
  }
  {
    SearchGate gate(1);
    std::vector<int> order;
    std::mutex order_mutex;
    std::vector<std::thread> threads;
    auto held = std::make_unique<SearchGate::Pass>(gate);  // the slot is busy: all below wait
    for (int i = 0; i < 5; ++i) {
      threads.emplace_back([&, i] {
        SearchGate::Pass pass(gate);
        std::lock_guard lock(order_mutex);
        order.push_back(i);
      });
      // The next one arrives only after this one is waiting.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (gate.waiting() < static_cast<std::size_t>(i + 1) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ASSERT_EQ(gate.waiting(), static_cast<std::size_t>(i + 1));
    }
    EXPECT_EQ(gate.running(), 1u);
    held.reset();
    for (auto& t : threads) t.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  }
}

// Over HTTP: /metrics names the slots, and searches beyond them still all answer.
TEST_F(ServerTest, SearchSlotsShowInMetricsAndConcurrentSearchesAllAnswer) {
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  const std::string expected_slots =
      "medsearch_search_slots " + std::to_string(std::max(1u, std::thread::hardware_concurrency()) + 1);
  EXPECT_NE(res->body.find(expected_slots), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("medsearch_searches_waiting 0"), std::string::npos) << res->body;

  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto client = make_client();
      for (int k = 0; k < 3; ++k) {
        auto r = client->Get("/search?q=riluzole&limit=3");
        if (r && r->status == 200) ++ok;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 18);
  res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("medsearch_searches_running 0"), std::string::npos) << res->body;
  // The searches read the index's blocks through memory maps (searcher/mapped_reads.h).
  auto gauge = [&body = res->body](const std::string& name) {
    const auto at = body.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + name.size() + 2));
  };
  EXPECT_GT(gauge("medsearch_index_block_reads_mapped"), 0) << res->body;
  EXPECT_GT(gauge("medsearch_index_mapped_bytes"), 0) << res->body;
  EXPECT_LE(gauge("medsearch_index_mapped_bytes"), gauge("medsearch_index_map_budget_bytes")) << res->body;
}

// The write API over an index of `shards` shards of tests/fixtures/http.jsonl, with its key.
class WriteApiServer {
 public:
  WriteApiServer(const test::TempDir& dir, std::uint32_t shards) : db_(dir.str("index")) {
    auto layout = indexer::open_layout(db_, shards);
    if (!layout.ok()) {
      ADD_FAILURE() << layout.error().message;
      return;
    }
    indexer::BulkOptions bulk;
    bulk.threads = 1;
    if (auto run = indexer::index_files(*layout, {test::fixture("http.jsonl").string()}, corpus::Format::automatic, bulk);
        !run.ok()) {
      ADD_FAILURE() << run.error().message;
      return;
    }
    ServerOptions options = api_options(db_, 8);
    options.api_key = "secret";
    serving_ = std::make_unique<test::ServingThread>(options);
    port_ = serving_->port();
  }
  const std::string& db() const { return db_; }
  std::unique_ptr<httplib::Client> client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(60, 0);
    return client;
  }
  httplib::Result post(const std::string& jsonl) const {
    return client()->Post("/records", {{"Authorization", "Bearer secret"}}, jsonl, "application/x-ndjson");
  }
  std::uint64_t records() const {
    auto res = client()->Get("/stats");
    return res && res->status == 200 ? json::parse(res->body)["records"].get<std::uint64_t>() : 0;
  }

 private:
  std::string db_;
  std::unique_ptr<test::ServingThread> serving_;
  int port_ = 0;
};

// `count` small records whose ids start with `prefix`, one a line.
std::string small_records(const std::string& prefix, int count) {
  std::string body;
  for (int i = 0; i < count; ++i)
    body += R"({"id":")" + prefix + std::to_string(i) + R"(","source":"research","title":"Batch","text":"zyxbatch word )" +
            std::to_string(i) + "\"}\n";
  return body;
}

// A batch is committed once, however many records it holds: a reader never sees part of it.
// Before: the writers kept the bulk indexer's commit every 10,000 records, so a batch of
// 12,000 records was two commits and a reader polling /stats saw 10,000 of them in between.
TEST(WriteApi, ABatchIsOneCommitWhateverItsSize) {
  test::TempDir dir;
  WriteApiServer server(dir, 1);
  // Commits a request makes, counted by the index's revision (opening a writer commits too).
  auto commits_of = [&](const std::string& batch) -> std::uint64_t {
    auto before = indexer::index_revision(server.db());
    auto res = server.post(batch);
    auto after = indexer::index_revision(server.db());
    EXPECT_TRUE(res && res->status == 200 && before.ok() && after.ok());
    return before.ok() && after.ok() ? *after - *before : 0;
  };
  const std::uint64_t small = commits_of(small_records("one-", 1));
  const std::string big = small_records("big-", 10050);
  const std::uint64_t large = commits_of(big);
  EXPECT_EQ(small, 1u) << "opening the writer committed too";
  EXPECT_EQ(large, small) << "the batch was committed in several steps";
  auto res = server.post(big);  // the same records again: all unchanged, and the counts add up
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  const json body = json::parse(res->body);
  EXPECT_EQ(body["read"], 10050);
  EXPECT_EQ(body["unchanged"], 10050);
  EXPECT_EQ(body["indexed"].get<int>() + body["rejected"].get<int>(), body["read"].get<int>());
  EXPECT_EQ(server.records(), static_cast<std::uint64_t>(kRecordsInFixture + 1 + 10050));
}

// A shard that cannot be opened for writing (another writer holds it) fails the request and
// leaves every shard as it was. Before: the records of shards opened earlier in the batch
// were committed when their writers closed, under a 503 that said nothing had been written.
TEST(WriteApi, AShardThatCannotBeOpenedLeavesTheOthersUntouched) {
  test::TempDir dir;
  WriteApiServer server(dir, 3);
  // One record for shard 0, then one for shard 2, which another writer holds.
  auto id_on = [](std::uint32_t shard) {
    for (int i = 0;; ++i)
      if (const std::string id = "locked-" + std::to_string(i); indexer::shard_of(id, 3) == shard) return id;
  };
  const std::string first = id_on(0), second = id_on(2);
  auto holder = indexer::Indexer::open(server.db() + "/shard-002");
  ASSERT_TRUE(holder.ok()) << holder.error().message;
  const std::string batch = R"({"id":")" + first + R"(","source":"research","title":"T","text":"zyxlocked one"})" "\n" +
                            R"({"id":")" + second + R"(","source":"research","title":"T","text":"zyxlocked two"})" "\n";
  auto res = server.post(batch);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_NE(res->body.find("locked"), std::string::npos) << res->body;
  EXPECT_EQ(server.records(), static_cast<std::uint64_t>(kRecordsInFixture)) << "part of a refused batch was written";
  holder->reset();
  auto again = server.post(batch);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(server.records(), static_cast<std::uint64_t>(kRecordsInFixture + 2));
}

// Over several shards a batch is one commit per shard, and Xapian commits no two databases at
// once; the server's own readers still see it whole (they reopen only between write requests'
// commits). Before: a reader polling /stats during a 6,000-record batch over 3 shards saw one
// shard's part of it (138 records, then 2,153, then 6,138).
TEST(WriteApi, ReadersSeeABatchOverShardsWholeOrNotAtAll) {
  test::TempDir dir;
  WriteApiServer server(dir, 3);
  const std::uint64_t before = server.records();
  constexpr int kBatch = 6000;
  std::atomic<bool> done{false};
  std::mutex seen_mutex;
  std::set<std::uint64_t> seen;
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      auto client = server.client();
      while (!done) {
        auto res = client->Get("/stats");
        if (!res || res->status != 200) continue;
        std::lock_guard lock(seen_mutex);
        seen.insert(json::parse(res->body)["records"].get<std::uint64_t>());
      }
    });
  for (int round = 0; round < 3; ++round) {
    auto res = server.post(small_records("round" + std::to_string(round) + "-", kBatch));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body.substr(0, 300);
  }
  done = true;
  for (auto& t : readers) t.join();
  for (const std::uint64_t records : seen)
    EXPECT_EQ((records - before) % kBatch, 0u) << records << " records: part of a batch";
  EXPECT_EQ(server.records(), before + 3 * kBatch);
}

}  // namespace
}  // namespace medsearch::server
