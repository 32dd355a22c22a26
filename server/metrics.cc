// Request counters and latency histograms, rendered for Prometheus.
#include "server/metrics.h"

#include <cstdio>

namespace medsearch::server {

namespace {

std::string number(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

}  // namespace

void Metrics::observe(const std::string& method, const std::string& route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{method_of(method), route, status}];
  Histogram& h = latency_[{route, status}];
  for (std::size_t i = 0; i < std::size(kLatencyBuckets); ++i)
    if (seconds <= kLatencyBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render(const std::vector<std::tuple<std::string, std::string, double>>& gauges) const {
  std::string out;
  std::lock_guard lock(mutex_);
  out += "# HELP medsearch_http_requests_total HTTP requests answered, by method, route and status.\n";
  out += "# TYPE medsearch_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [method, route, status] = key;
    out += "medsearch_http_requests_total{method=\"" + method + "\",route=\"" + route + "\",status=\"" +
           std::to_string(status) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP medsearch_http_request_duration_seconds Time from reading a request to logging its response.\n";
  out += "# TYPE medsearch_http_request_duration_seconds histogram\n";
  for (const auto& [key, h] : latency_) {
    const std::string labels = "route=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"";
    for (std::size_t i = 0; i < std::size(kLatencyBuckets); ++i)
      out += "medsearch_http_request_duration_seconds_bucket{" + labels + ",le=\"" + number(kLatencyBuckets[i]) +
             "\"} " + std::to_string(h.buckets[i]) + "\n";
    out += "medsearch_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += "medsearch_http_request_duration_seconds_sum{" + labels + "} " + number(h.sum) + "\n";
    out += "medsearch_http_request_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
  }
  for (const auto& [name, help, value] : gauges) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + number(value) + "\n";
  }
  return out;
}

std::string route_of(const std::string& path) {
  static const char* kExact[] = {"/search", "/suggest", "/context", "/health", "/stats", "/openapi.json", "/metrics", "/records"};
  for (const char* route : kExact)
    if (path == route) return route;
  auto under = [&path](const std::string& prefix) {
    return path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
           path.find('/', prefix.size()) == std::string::npos;
  };
  if (under("/passages/")) return "/passages/{id}";
  if (under("/records/")) return "/records/{id}";
  return "unmatched";
}

std::string method_of(const std::string& method) {
  static const char* kKnown[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  for (const char* known : kKnown)
    if (method == known) return known;
  return "other";
}

}  // namespace medsearch::server
