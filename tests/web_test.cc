// HTTP tests of the web page's static files: GET / and its assets with the right content
// types and cache headers, nothing outside ServerOptions::web_dir (dot-dot segments,
// percent-encoded or not, hidden files, symlinks out), API routes winning over a file of the
// same name, and no page at all when web_dir is empty.
#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/serving.h"
#include "tests/test_util.h"

namespace medsearch::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSecret = "secret outside the web folder";

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A server over tests/fixtures/http.jsonl whose web_dir is `web_dir`, on a loopback port the
// OS chooses, with a client that sends paths byte for byte.
class WebServer {
 public:
  WebServer(const test::TempDir& dir, const std::string& web_dir) {
    const std::string db = dir.str("index");
    if (!fs::exists(db)) test::build_index(db, {test::fixture("http.jsonl")});
    ServerOptions options;
    options.db_path = db;
    options.port = 0;
    options.access_log = false;
    options.web_dir = web_dir;
    serving_ = std::make_unique<test::ServingThread>(options);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", serving_->port());
    client_->set_url_encode(false);
    client_->set_read_timeout(30, 0);
  }

  httplib::Result get(const std::string& path) { return client_->Get(path); }
  bool ok() const { return serving_->ok(); }

 private:
  std::unique_ptr<test::ServingThread> serving_;
  std::unique_ptr<httplib::Client> client_;
};

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_ = dir_.path() / "web";
    write_file(web_ / "index.html", "<!doctype html><title>medsearch</title>");
    write_file(web_ / "app.js", "export {};\n");
    write_file(web_ / "style.css", "body {}\n");
    write_file(web_ / "favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write_file(web_ / "notes.unknown", "not a served type");
    write_file(web_ / ".hidden.txt", "hidden");
    write_file(web_ / "search", "a file that must not shadow the API");
    write_file(web_ / "sub" / "index.html", "<p>sub</p>");
    write_file(dir_.path() / "secret.txt", kSecret);
    fs::create_symlink(dir_.path() / "secret.txt", web_ / "link.txt");
    // A folder inside the web folder that is a symlink to one outside it.
    write_file(dir_.path() / "outside" / "page.html", kSecret);
    fs::create_symlink(dir_.path() / "outside", web_ / "linkdir");
    server_ = std::make_unique<WebServer>(dir_, web_.string());
    ASSERT_TRUE(server_->ok());
  }

  // Expects a JSON 404 and that nothing of the secret leaked.
  void expect_refused(const std::string& path) {
    auto res = server_->get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    EXPECT_EQ(res->body.find(kSecret), std::string::npos) << path;
    json body = json::parse(res->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << path << ": " << res->body;
    EXPECT_EQ(body["error"]["code"], "not_found") << path;
  }

  test::TempDir dir_;
  fs::path web_;
  std::unique_ptr<WebServer> server_;
};

TEST_F(WebTest, RootServesIndexHtmlUncached) {
  for (const std::string path : {"/", "/index.html", "/?q=als&source=guideline"}) {
    auto res = server_->get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8") << path;
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache") << path;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff") << path;
    EXPECT_NE(res->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
    EXPECT_EQ(res->body, "<!doctype html><title>medsearch</title>") << path;
  }
}

TEST_F(WebTest, AssetsHaveTheirContentTypes) {
  const std::pair<std::string, std::string> cases[] = {
      {"/app.js", "text/javascript; charset=utf-8"},
      {"/style.css", "text/css; charset=utf-8"},
      {"/favicon.svg", "image/svg+xml"},
      {"/sub/", "text/html; charset=utf-8"},
  };
  for (const auto& [path, type] : cases) {
    auto res = server_->get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->get_header_value("Content-Type"), type) << path;
  }
  auto head = server_->get("/app.js");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->body, "export {};\n");
}

TEST_F(WebTest, NothingOutsideTheFolderIsServed) {
  for (const std::string path : {
           "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/..%2fsecret.txt",
           "/%2e%2e%2fsecret.txt", "/sub/../../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
           "/./index.html", "//etc/passwd", "/..", "/%2e%2e", "/link.txt", "/.hidden.txt",
           "/%2ehidden.txt", "/notes.unknown", "/missing.js", "/sub", "/index.html%00.js",
           "/..\\secret.txt", "/../CMakeLists.txt", "/%2e%2e/%2e%2e/CMakeLists.txt", "/linkdir/page.html",
           "/linkdir/", "/sub%2f..%2f..%2fsecret.txt", "/sub%2F%2E%2E%2F%2E%2E%2Fsecret.txt", "/%252e%252e/secret.txt",
           "/sub/..%5c..%5csecret.txt", "/.%2e/secret.txt"}) {
    SCOPED_TRACE(path);
    expect_refused(path);
  }
}

TEST_F(WebTest, ApiRoutesWinOverFiles) {
  auto res = server_->get("/search?q=riluzole");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_TRUE(json::parse(res->body).contains("hits"));
  auto health = server_->get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->get_header_value("Content-Type"), "application/json");
}

TEST(WebOptionsTest, EmptyWebDirServesNoPage) {
  test::TempDir dir;
  WebServer server(dir, "");
  ASSERT_TRUE(server.ok());
  auto res = server.get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
}

TEST(WebOptionsTest, MissingWebDirIsRefused) {
  test::TempDir dir;
  test::build_index(dir.str("index"), {test::fixture("http.jsonl")});
  ServerOptions options;
  options.db_path = dir.str("index");
  options.web_dir = dir.str("no-such-folder");
  auto created = Server::create(options);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(created.error().param, "web_dir");
}

// The page in the source tree, as the built server serves it by default.
TEST(WebOptionsTest, DefaultWebDirIsTheSourceTreePage) {
  EXPECT_EQ(fs::path(std::string(default_web_dir())), test::source_dir() / "server" / "web");
  test::TempDir dir;
  WebServer server(dir, std::string(default_web_dir()));
  ASSERT_TRUE(server.ok());
  auto res = server.get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("Clinical question"), std::string::npos);
  EXPECT_NE(res->body.find("not clinical advice"), std::string::npos);
  for (const std::string asset : {"/app.js", "/style.css", "/favicon.svg"}) {
    auto file = server.get(asset);
    ASSERT_TRUE(file) << asset;
    EXPECT_EQ(file->status, 200) << asset;
  }
}

}  // namespace
}  // namespace medsearch::server
