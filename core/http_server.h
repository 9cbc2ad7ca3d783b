// HttpServer: a small HTTP/1.1 GET server on its own thread, for a
// service's /metrics, /healthz and JSON snapshots. Not for the internet:
// it binds loopback by default and answers one request per connection.
//
//   HttpServer server([](absl::string_view path) { return HttpResponse{200, "ok\n"}; });
//   TW_RETURN_IF_ERROR(server.Start("127.0.0.1:8080"));
//   ... server.Stop();
//
// The handler runs on the server thread; it must only read state through
// the owners' snapshot interfaces (it never blocks a writer).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tallywire {

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; version=0.0.4";
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(absl::string_view path)>;
  explicit HttpServer(Handler handler) : handler_(std::move(handler)) {}
  ~HttpServer() { Stop(); }

  // "host:port"; port 0 picks a free one (see port()).
  absl::Status Start(const std::string& listen);
  void Stop();
  int port() const { return port_; }

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tallywire
