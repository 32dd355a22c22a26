// Prometheus metrics for the HTTP server: request counts and latency histograms by route
// and status, rendered in Prometheus's text exposition format (version 0.0.4).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace medsearch::server {

// Latency bucket upper bounds, in seconds.
inline constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

// Thread-safe: observe() is called by every worker after each request, render() by /metrics.
class Metrics {
 public:
  // `route` is the route's template ("/passages/{id}"), never the raw path, and `method` goes
  // through method_of, so label cardinality stays bounded and no label needs escaping;
  // "unmatched" for paths no route serves.
  void observe(const std::string& method, const std::string& route, int status, double seconds);

  // The exposition text: medsearch_http_requests_total{method,route,status} (counter),
  // medsearch_http_request_duration_seconds{route,status} (histogram), and the gauges given.
  std::string render(const std::vector<std::tuple<std::string, std::string, double>>& gauges) const;

 private:
  struct Histogram {
    std::uint64_t buckets[std::size(kLatencyBuckets)] = {};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;  // {method, route, status}
  std::map<std::pair<std::string, int>, Histogram> latency_;                     // {route, status}
};

// The route template a path belongs to ("/passages/x:p0" -> "/passages/{id}").
std::string route_of(const std::string& path);

// The method label for a request: the method when it is one the server knows, else "other".
// httplib fills Request::method from the request line before it checks it, so a malformed
// request's method is any text the client sent (quotes, braces, a header line).
std::string method_of(const std::string& method);

}  // namespace medsearch::server
