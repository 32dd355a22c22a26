// libFuzzer target for the whole HTTP path: the input is the raw bytes a client sends. A real
// medsearch-server (httplib's request framing, routing, every handler, the write API with its
// key) runs in-process on a loopback port over an index of corpus/samples; each input is sent
// on a fresh connection, whose write side is then closed, and the answer read to the end.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "server/server.h"
#include "tests/fuzz/samples_index.h"

namespace {

using namespace medsearch;

struct Running {
  std::unique_ptr<server::Server> server;
  int port = 0;
};

Running start() {
  const std::string db = fuzz::index_samples();
  server::ServerOptions options;
  options.db_path = db;
  options.port = 0;
  options.threads = 2;
  options.access_log = false;
  options.api_key = "fuzz-key";
  options.read_timeout_s = 1;
  auto created = server::Server::create(options);
  if (!created.ok()) std::abort();
  Running r;
  r.server = std::move(*created);
  auto port = r.server->bind();
  if (!port.ok()) std::abort();
  r.port = *port;
  server::Server* s = r.server.get();
  std::thread([s] { s->run(); }).detach();  // serves until the process ends
  while (!s->is_running()) std::this_thread::yield();
  return r;
}

// Never destroyed: the server thread is still serving when the process exits.
Running& running() {
  static Running& instance = *new Running(start());
  return instance;
}

// After connect() failed: true if it failed only because a signal interrupted it and the
// connection then completed (errno is left describing the failure otherwise).
bool connected_after_interrupt(int fd) {
  if (errno != EINTR) return false;
  pollfd p{fd, POLLOUT, 0};
  int ready;
  do {
    ready = poll(&p, 1, 10000);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) {
    if (ready == 0) errno = ETIMEDOUT;
    return false;
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return false;
  errno = error;
  return error == 0;
}

}  // namespace

// Builds the index and starts the server before the first input, outside the per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  running();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int port = running().port;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's -timeout alarm (SIGALRM every 16 s here) interrupts system calls: a connect()
  // it interrupts (EINTR) goes on in the background, so wait for it rather than abort (a CI run
  // aborted here once, 16.0 s into fuzzing: most likely the first alarm).
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && !connected_after_interrupt(fd)) {
    std::fprintf(stderr, "fuzz_server: cannot connect to the server on port %d: %s\n", port, std::strerror(errno));
    std::abort();
  }
  for (std::size_t sent = 0; sent < size;) {
    ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may answer (400, 413) and close before reading it all
    sent += static_cast<std::size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  close(fd);
  return 0;
}
