// A medsearch-server for HTTP tests: made from the options given (port 0: the OS picks a free
// loopback port), bound, and run on a background thread until the object goes. A server that
// cannot start is a test failure (ADD_FAILURE), and ok() is then false so that the test can
// stop there. Shared by the HTTP test fixtures, which differ only in their options.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include "server/server.h"

namespace medsearch::test {

class ServingThread {
 public:
  explicit ServingThread(server::ServerOptions options) {
    auto created = server::Server::create(std::move(options));
    if (!created.ok()) {
      ADD_FAILURE() << created.error().message;
      return;
    }
    server_ = std::move(*created);
    auto port = server_->bind();
    if (!port.ok()) {
      ADD_FAILURE() << port.error().message;
      server_.reset();
      return;
    }
    port_ = *port;
    thread_ = std::thread([this] { server_->run(); });
    // httplib 0.11.4 has no wait_until_ready(): poll is_running().
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_->is_running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "the server did not start";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  ~ServingThread() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  ServingThread(const ServingThread&) = delete;
  ServingThread& operator=(const ServingThread&) = delete;

  bool ok() const { return server_ && server_->is_running(); }
  int port() const { return port_; }
  server::Server& server() { return *server_; }

 private:
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace medsearch::test
