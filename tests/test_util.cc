// Implementation of the shared test helpers.
#include "tests/test_util.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <cstdlib>
#include <fstream>
#include <random>

#include "corpus/reader.h"
#include "indexer/indexer.h"

namespace medsearch::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "medsearch-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::str(const std::string& child) const {
  return child.empty() ? path_.string() : (path_ / child).string();
}

std::filesystem::path source_dir() { return MEDSEARCH_SOURCE_DIR; }
std::filesystem::path fixture(const std::string& name) { return source_dir() / "tests" / "fixtures" / name; }
std::filesystem::path data_dir() { return MEDSEARCH_DATA_DIR; }
std::filesystem::path bin_dir() { return MEDSEARCH_BIN_DIR; }

std::vector<std::string> sample_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "corpus" / "samples"))
    if (entry.path().extension() == ".jsonl") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

bool sanitized() {
#ifdef MEDSEARCH_SANITIZED
  return true;
#else
  return false;
#endif
}

std::filesystem::path slice_when_sanitized(const std::filesystem::path& path, const TempDir& dir, std::size_t lines) {
  if (!sanitized()) return path;
  const std::filesystem::path out = dir.path() / ("slice-" + path.filename().string());
  std::ifstream in(path, std::ios::binary);
  std::ofstream sliced(out, std::ios::binary);
  std::string line;
  for (std::size_t n = 0; n < lines && std::getline(in, line); ++n) sliced << line << '\n';
  return out;
}

std::vector<corpus::Record> load_records(const std::filesystem::path& path) {
  std::vector<corpus::Record> records;
  auto reader = corpus::open_reader(path.string(), corpus::Format::medsearch);
  EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().message);
  if (!reader.ok()) return records;
  corpus::ReadItem item;
  while ((*reader)->next(item)) {
    EXPECT_TRUE(item.record.has_value()) << item.location << ": " << item.error.message;
    if (item.record) records.push_back(std::move(*item.record));
  }
  return records;
}

void build_index(const std::string& db_path, const std::vector<std::filesystem::path>& inputs) {
  auto indexer = indexer::Indexer::open(db_path);
  ASSERT_TRUE(indexer.ok()) << indexer.error().message;
  for (const auto& input : inputs) {
    for (const auto& record : load_records(input)) {
      auto added = (*indexer)->add(record);
      ASSERT_TRUE(added.ok()) << record.id << ": " << added.error().message;
    }
  }
  auto committed = (*indexer)->commit();
  ASSERT_TRUE(committed.ok()) << committed.error().message;
}

namespace {

// A loopback port free right now (bound to port 0, then released).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool TcpShards::available() { return std::system("command -v xapian-tcpsrv >/dev/null 2>&1") == 0; }

TcpShards::TcpShards(std::vector<std::string> paths) {
  for (auto& path : paths) shards_.push_back({std::move(path), 0, 0});
  for (std::size_t i = 0; i < shards_.size(); ++i) ok_ = start(i) && ok_;
}

TcpShards::~TcpShards() {
  for (std::size_t i = 0; i < shards_.size(); ++i) stop(i);
}

std::vector<std::string> TcpShards::urls() const {
  std::vector<std::string> out;
  for (const auto& s : shards_) out.push_back("tcp://127.0.0.1:" + std::to_string(s.port));
  return out;
}

bool TcpShards::start(std::size_t i) {
  Shard& shard = shards_[i];
  // A first start picks a free port (again if another process took it meanwhile); a restart
  // keeps the shard's port, as a machine coming back would.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const bool restart = shard.port != 0 && attempt == 0;
    if (!restart && (shard.port == 0 || attempt > 0)) shard.port = free_port();
    const std::string port = std::to_string(shard.port);
    const pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      execlp("xapian-tcpsrv", "xapian-tcpsrv", "--quiet", "--interface", "127.0.0.1", "--port", port.c_str(),
             shard.path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid < 0) return false;
    setpgid(pid, pid);
    shard.pid = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (accepts(shard.port)) return true;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) break;  // it died (port taken?): try again
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop(i);
  }
  return false;
}

void TcpShards::stop(std::size_t i) {
  Shard& shard = shards_[i];
  if (shard.pid <= 0) return;
  kill(-shard.pid, SIGKILL);
  kill(-shard.pid, SIGCONT);
  waitpid(shard.pid, nullptr, 0);
  shard.pid = 0;
}

void TcpShards::pause(std::size_t i) {
  if (shards_[i].pid > 0) kill(-shards_[i].pid, SIGSTOP);
}

void TcpShards::resume(std::size_t i) {
  if (shards_[i].pid > 0) kill(-shards_[i].pid, SIGCONT);
}

}  // namespace medsearch::test
