#include "core/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace tallywire {
namespace {

// The coarse clock (a few ms of resolution) because httplib reads the
// request head a byte at a time, through read() below.
int64_t CoarseNowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t ToMs(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Milliseconds(d)); }

// 1: ready; 0: timed out; -1: error.
int PollFor(int fd, int16_t events, int64_t timeout_ms) {
  pollfd pfd{fd, events, 0};
  int r;
  do {
    r = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(timeout_ms, 1 << 30)));
  } while (r < 0 && errno == EINTR);
  return r > 0 ? 1 : r;
}

// One connection's socket as an httplib::Stream. httplib's own stream
// lives for one request (its read buffer, and a pipelined request in it,
// die with it) and its timeouts are per read and per write, so a client
// sending a byte just inside each is never cut. This one lives for the
// connection and adds per-request limits: a deadline and a byte budget.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int fd, const HttpServerOptions& o)
      : fd_(fd),
        read_timeout_ms_(ToMs(o.read_timeout)),
        write_timeout_ms_(ToMs(o.write_timeout)),
        deadline_span_ms_(ToMs(o.request_deadline)),
        max_read_(o.max_request_bytes) {}

  // Starts the next request's budget and deadline.
  void BeginRequest() {
    read_ = 0;
    deadline_ms_ = CoarseNowMs() + deadline_span_ms_;
  }
  // Whether a limit cut the exchange.
  bool exhausted() const { return exhausted_; }
  // Whether the next request starts within `timeout_ms`; bytes already
  // buffered (a pipelined request) count.
  bool WaitForRequest(int64_t timeout_ms) const {
    return begin_ < end_ || PollFor(fd_, POLLIN, timeout_ms) == 1;
  }

  bool is_readable() const override { return WaitForRequest(read_timeout_ms_); }
  bool is_writable() const override { return PollFor(fd_, POLLOUT, write_timeout_ms_) == 1; }

  ssize_t read(char* ptr, size_t size) override {
    if (read_ >= max_read_ || CoarseNowMs() >= deadline_ms_) {
      exhausted_ = true;
      return -1;
    }
    size = std::min(size, max_read_ - read_);
    if (begin_ == end_) {
      if (PollFor(fd_, POLLIN, std::min(read_timeout_ms_, Remaining())) != 1) return -1;
      const ssize_t n = recv(fd_, buf_, sizeof(buf_), 0);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buf_ + begin_, n);
    begin_ += n;
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (CoarseNowMs() >= deadline_ms_) {
      exhausted_ = true;
      return -1;
    }
    if (PollFor(fd_, POLLOUT, std::min(write_timeout_ms_, Remaining())) != 1) return -1;
    return send(fd_, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Name(getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Name(getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  int64_t Remaining() const { return std::max<int64_t>(1, deadline_ms_ - CoarseNowMs()); }
  void Name(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    char text[INET6_ADDRSTRLEN] = "";
    port = 0;
    if (get(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    if (addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
      port = ntohs(a->sin6_port);
    }
    ip = text;
  }

  const int fd_;
  const int64_t read_timeout_ms_, write_timeout_ms_, deadline_span_ms_;
  const size_t max_read_;
  int64_t deadline_ms_ = 0;
  size_t read_ = 0;
  bool exhausted_ = false;
  char buf_[4096];
  size_t begin_ = 0, end_ = 0;
};

// Set by a refusal: the unread body (or whatever follows) is no request,
// so the connection ends after the response. The handler runs on the
// thread that owns the connection, inside process_request().
thread_local bool t_close_after_response = false;

// httplib::Server with its connections tracked, so Stop() can shut down
// the ones blocked on a client: httplib's stop() closes only the listening
// socket and then waits for every pool thread.
class TrackedServer : public httplib::Server {
 public:
  explicit TrackedServer(const HttpServerOptions& options) : options_(options) {}

  void ShutdownConnections() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stopping_flag_.store(true, std::memory_order_relaxed);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  // Keep-alive on one ConnectionStream; an idle connection is closed after
  // keep_alive_timeout, so it frees its pool thread.
  bool process_and_close_socket(socket_t sock) override {
    thread_local bool named = false;
    if (!named) {
      pthread_setname_np(pthread_self(), "tw-http");
      named = true;
    }
    bool ok = false;
    bool admitted = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Only a socket in open_ may be shut down by Stop(); it leaves the set
      // before it is closed, so Stop() never touches a reused descriptor.
      if (!stopping_) admitted = open_.insert(sock).second;
    }
    if (admitted) {
      // httplib writes the head and the body separately: without this,
      // Nagle holds the body for the client's delayed ACK (40 ms a request).
      int one = 1;
      setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      try {
        ConnectionStream strm(sock, options_);
        for (int n = 0; n < options_.max_requests_per_connection; ++n) {
          if (n > 0 && !strm.WaitForRequest(ToMs(options_.keep_alive_timeout))) break;
          strm.BeginRequest();
          const bool last = n + 1 == options_.max_requests_per_connection ||
                            stopping_flag_.load(std::memory_order_relaxed);
          bool closed = false;
          t_close_after_response = false;
          ok = process_request(strm, last, closed, nullptr);
          // Over a limit, the rest of the stream is not a request.
          if (!ok || closed || last || strm.exhausted() || t_close_after_response) break;
        }
      } catch (...) {
        ok = false;  // never unwind into httplib's pool thread (std::terminate)
      }
      std::lock_guard<std::mutex> lock(mu_);
      open_.erase(sock);
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  const HttpServerOptions options_;
  std::mutex mu_;
  absl::flat_hash_set<int> open_;
  bool stopping_ = false;                   // guarded by mu_: admission
  std::atomic<bool> stopping_flag_{false};  // read between requests
};

struct ListenAddress {
  std::string host;  // without brackets
  int port = 0;
  int family = AF_INET;
  bool wildcard = false;
};

absl::StatusOr<ListenAddress> ParseListen(const std::string& listen) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("--http: expected IPV4:PORT or [IPV6]:PORT, got ", listen));
  };
  const size_t colon = listen.rfind(':');
  ListenAddress a;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &a.port) ||
      a.port < 0 || a.port > 65535) {
    return bad();
  }
  a.host = listen.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, a.host.c_str(), &v6) != 1) return bad();
    a.family = AF_INET6;
    a.wildcard = IN6_IS_ADDR_UNSPECIFIED(&v6);
    return a;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, a.host.c_str(), &v4) != 1) return bad();
  a.wildcard = v4.s_addr == htonl(INADDR_ANY);
  return a;
}

}  // namespace

struct HttpServer::Impl {
  Impl(Handler h, const HttpServerOptions& o) : handler(std::move(h)), options(o), server(o) {}

  Handler handler;
  HttpServerOptions options;
  TrackedServer server;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
};

HttpServer::HttpServer(Handler handler, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), options)) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start(const std::string& listen) {
  if (impl_->thread.joinable() || impl_->listen_returned) {
    return absl::FailedPreconditionError("HttpServer: started twice");
  }
  absl::StatusOr<ListenAddress> addr = ParseListen(listen);
  if (!addr.ok()) return addr.status();
  Impl* impl = impl_.get();
  TrackedServer& s = impl->server;
  const int threads = std::max(1, impl->options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_address_family(addr->family);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a
  // second process bind the same port and silently take half the probes.
  s.set_socket_options([](socket_t fd) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  s.set_keep_alive_max_count(
      static_cast<size_t>(std::max(1, impl->options.max_requests_per_connection)));
  s.set_keep_alive_timeout(std::max<time_t>(
      1, absl::ToInt64Seconds(impl->options.keep_alive_timeout)));  // the header it sends
  s.set_payload_max_length(0);
  // Everything is answered here, before httplib reads a body or matches
  // its std::regex routes (recursive in libstdc++, on a client's path).
  s.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      res.set_header("Connection", "close");
      t_close_after_response = true;
      res.set_content("only GET\n", "text/plain");
    } else if (req.has_header("Transfer-Encoding") ||
               (req.has_header("Content-Length") &&
                req.get_header_value("Content-Length") != "0")) {
      res.status = 413;
      res.set_header("Connection", "close");
      t_close_after_response = true;
      res.set_content("no request body\n", "text/plain");
    } else {
      HttpResponse r = impl->handler(req.path);
      res.status = r.status;
      res.set_content(r.body, r.content_type);
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        Log(LogLevel::kError, "http_handler_exception", {{"path", req.path}});
        res.status = 500;
        res.set_content("internal error\n", "text/plain");
      });

  errno = 0;
  try {
    port_ = addr->port == 0 ? s.bind_to_any_port(addr->host)
                            : (s.bind_to_port(addr->host, addr->port) ? addr->port : -1);
  } catch (...) {
    port_ = -1;
  }
  if (port_ <= 0) {
    const int e = errno;
    port_ = 0;
    return absl::UnavailableError(absl::StrCat("--http ", listen, ": cannot listen",
                                               e ? absl::StrCat(": ", std::strerror(e)) : ""));
  }
  if (addr->wildcard) {
    Log(LogLevel::kWarn, "http_wildcard_bind",
        {{"address", listen},
         {"note", "serving on every interface; bind loopback or one interface's address"}});
  }
  impl->thread = std::thread([impl] {
    pthread_setname_np(pthread_self(), "tw-http-listen");
    try {
      impl->server.listen_after_bind();
    } catch (...) {
      Log(LogLevel::kError, "http_listen_failed");
    }
    impl->listen_returned.store(true, std::memory_order_release);
  });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  Impl* impl = impl_.get();
  if (!impl->thread.joinable()) return;
  // stop() is a no-op until the listen thread has marked itself running,
  // so repeat it until that thread is out.
  while (!impl->listen_returned.load(std::memory_order_acquire)) {
    impl->server.ShutdownConnections();
    impl->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl->thread.join();
}

}  // namespace tallywire
