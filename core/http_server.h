// HttpServer: a small HTTP/1.1 GET server for a service's /metrics,
// /healthz and JSON snapshots, on cpp-httplib with a pool of threads.
//
//   HttpServer server([](absl::string_view path) { return HttpResponse{200, "ok\n"}; });
//   TW_RETURN_IF_ERROR(server.Start("127.0.0.1:8080"));   // or "[::1]:8080"
//   ... server.Stop();
//
// Hostile clients are bounded: each connection has a read and a write
// timeout, a whole request must arrive within a deadline and within a size
// limit, a request with a body is refused (413) and any method but GET/HEAD
// gets 405, so a slow or idle client holds one pool thread for at most the
// deadline (or the keep-alive timeout between requests) and never delays
// the others while a thread is free. Stop() shuts every open connection
// down, so it returns promptly whatever the clients do. A wildcard bind
// (0.0.0.0, [::]) works but logs a warning: the face is meant for loopback
// or one known interface.
//
// The handler runs on pool threads, several at once; it must only read
// state through the owners' snapshot interfaces (it never blocks a writer).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tallywire {

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; version=0.0.4";
};

struct HttpServerOptions {
  int threads = 8;                                       // concurrent connections served
  absl::Duration read_timeout = absl::Seconds(5);        // per read: a silent client goes
  absl::Duration write_timeout = absl::Seconds(5);       // per write: a client that stops reading
  absl::Duration request_deadline = absl::Seconds(10);   // one request, however it trickles
  size_t max_request_bytes = 16 * 1024;                  // request line and headers
  absl::Duration keep_alive_timeout = absl::Seconds(2);  // idle between requests
  int max_requests_per_connection = 100;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(absl::string_view path)>;
  explicit HttpServer(Handler handler, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "host:port" with a numeric IPv4 host or a bracketed IPv6 one; port 0
  // picks a free one (see port()). Binds before returning.
  absl::Status Start(const std::string& listen);
  // Idempotent; safe to call when Start() failed or was never called.
  void Stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace tallywire
