#include "core/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tallywire {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A client socket whose reads give up after `timeout_s`, so a server that
// stalls fails the test instead of hanging it.
int Connect(int port, double timeout_s = 3.0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout_s),
             static_cast<suseconds_t>((timeout_s - static_cast<time_t>(timeout_s)) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Reply {
  int status = 0;  // 0: no answer (timeout, reset)
  std::string body;
};

// Sends `request` whole and reads until the server closes or the read times out.
Reply Exchange(int port, const std::string& request, double timeout_s = 3.0) {
  Reply reply;
  int fd = Connect(port, timeout_s);
  if (fd < 0) return reply;
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // a server may answer and close before reading it all
    off += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  if (raw.size() > 12 && raw.compare(0, 5, "HTTP/") == 0) reply.status = std::atoi(raw.c_str() + 9);
  if (size_t body = raw.find("\r\n\r\n"); body != std::string::npos) {
    reply.body = raw.substr(body + 4);
  }
  return reply;
}

// Connection: close, as a client that reads to the end must say.
Reply Get(int port, const std::string& path) {
  return Exchange(port,
                  "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

HttpResponse Echo(absl::string_view path) {
  if (path == "/healthz") return {200, "ok\n"};
  return {404, "not found\n"};
}

// Sends a request head one byte every `every`, until told to stop: the
// slow-loris client.
class SlowClient {
 public:
  SlowClient(int port, std::chrono::milliseconds every) {
    fd_ = Connect(port);
    thread_ = std::thread([this, every] {
      const std::string head = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
      for (size_t i = 0; !stop_.load(); ++i) {
        const char c = i < head.size() ? head[i] : 'a';
        if (send(fd_, &c, 1, MSG_NOSIGNAL) != 1) break;
        for (auto slept = std::chrono::milliseconds(0); slept < every && !stop_.load();
             slept += std::chrono::milliseconds(10)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
  }
  ~SlowClient() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(HttpServer, ServesTheHandlersResponseAndClosesTheConnection) {
  HttpServer server(Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ASSERT_GT(server.port(), 0);
  const Reply ok = Get(server.port(), "/healthz?verbose=1");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "ok\n");
  EXPECT_EQ(Get(server.port(), "/nope").status, 404);
  const Reply head =
      Exchange(server.port(), "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST(HttpServer, KeepsAliveAndAnswersPipelinedRequestsInOrder) {
  HttpServer server(Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  const Clock::time_point t = Clock::now();
  const Reply r = Exchange(server.port(),
                           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_LT(SecondsSince(t), 1.0);  // closed after the third, not at the idle timeout
  EXPECT_EQ(r.status, 200);
  // The three responses, in order, on the one connection.
  const size_t a = r.body.find("HTTP/1.1 404");
  const size_t b = r.body.find("HTTP/1.1 200", a == std::string::npos ? 0 : a);
  EXPECT_NE(a, std::string::npos) << r.body;
  EXPECT_NE(b, std::string::npos) << r.body;
}

TEST(HttpServer, AnIdleKeptAliveConnectionIsClosedAfterTheTimeout) {
  HttpServerOptions options;
  options.keep_alive_timeout = absl::Milliseconds(300);
  HttpServer server(Echo, options);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  const Clock::time_point t = Clock::now();
  const Reply r = Exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(SecondsSince(t), 0.25);
  EXPECT_LT(SecondsSince(t), 1.5);
}

TEST(HttpServer, ASlowClientDoesNotDelayHealthz) {
  HttpServer server(Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  SlowClient slow(server.port(), std::chrono::milliseconds(1500));
  ASSERT_TRUE(slow.connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its first byte is in
  for (int i = 0; i < 3; ++i) {
    const Clock::time_point t = Clock::now();
    const Reply r = Get(server.port(), "/healthz");
    EXPECT_EQ(r.status, 200) << "request " << i;
    EXPECT_LT(SecondsSince(t), 1.0) << "request " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
}

TEST(HttpServer, FiveIdleSocketsDoNotDelayHealthz) {
  HttpServer server(Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  std::vector<int> idle;
  for (int i = 0; i < 5; ++i) idle.push_back(Connect(server.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const Clock::time_point t = Clock::now();
  const Reply r = Get(server.port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(SecondsSince(t), 1.0);
  for (int fd : idle) close(fd);
}

TEST(HttpServer, StopReturnsPromptlyWhileASlowClientIsConnected) {
  auto server = std::make_unique<HttpServer>(Echo);
  ASSERT_TRUE(server->Start("127.0.0.1:0").ok());
  auto slow = std::make_unique<SlowClient>(server->port(), std::chrono::milliseconds(1500));
  ASSERT_TRUE(slow->connected());
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Connect(server->port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const Clock::time_point t = Clock::now();
  std::future<void> stopped = std::async(std::launch::async, [&] { server->Stop(); });
  // The slow client stays connected (and keeps sending) for the whole wait.
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(2)), std::future_status::ready)
      << "Stop() still blocked after " << SecondsSince(t) << " s";
  slow.reset();
  for (int fd : idle) close(fd);
  stopped.wait();  // a server that waits for its clients finishes once they go
}

TEST(HttpServer, AnOversizedRequestHeadIsRefusedNotServed) {
  HttpServer server(Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 200; ++i) {
    request += "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'a') + "\r\n";
  }
  request += "\r\n";
  const Clock::time_point t = Clock::now();
  const Reply r = Exchange(server.port(), request);
  EXPECT_TRUE(r.status == 400 || r.status == 413 || r.status == 431) << r.status;
  EXPECT_LT(SecondsSince(t), 2.0);
  EXPECT_EQ(Get(server.port(), "/healthz").status, 200);  // and it still serves
}

TEST(HttpServer, ARequestBodyIsRefusedWithoutWaitingForIt) {
  HttpServer server(Echo);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  // Announces 100 MB and sends none of it: answered at once, not after a timeout.
  const Clock::time_point t = Clock::now();
  const Reply r = Exchange(server.port(),
                           "POST /healthz HTTP/1.1\r\nHost: localhost\r\n"
                           "Content-Length: 100000000\r\n\r\n");
  EXPECT_TRUE(r.status == 405 || r.status == 413) << r.status;
  EXPECT_LT(SecondsSince(t), 2.0);
}

TEST(HttpServer, ARequestHeadTrickledForeverIsCutAtTheDeadline) {
  HttpServerOptions options;
  options.request_deadline = absl::Seconds(2);
  HttpServer server(Echo, options);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  const Clock::time_point t = Clock::now();
  // A byte every 300 ms never trips the 5 s read timeout; only the deadline
  // ends it: the server then answers 400 or closes, and reading ends.
  bool cut = false;
  while (!cut && SecondsSince(t) < 8) {
    cut = send(fd, "a", 1, MSG_NOSIGNAL) != 1;
    pollfd pfd{fd, POLLIN, 0};
    if (!cut && poll(&pfd, 1, 300) > 0) cut = true;
  }
  const double elapsed = SecondsSince(t);
  close(fd);
  EXPECT_TRUE(cut);
  EXPECT_GT(elapsed, 1.5);
  EXPECT_LT(elapsed, 4.0);
}

TEST(HttpServer, RejectsMalformedListenAddressesAndABusyPort) {
  HttpServer a(Echo);
  EXPECT_FALSE(a.Start("127.0.0.1").ok());
  EXPECT_FALSE(a.Start("127.0.0.1:70000").ok());
  EXPECT_FALSE(a.Start("not-an-ip:80").ok());
  ASSERT_TRUE(a.Start("127.0.0.1:0").ok());
  HttpServer b(Echo);
  EXPECT_FALSE(b.Start("127.0.0.1:" + std::to_string(a.port())).ok());
  EXPECT_EQ(Get(a.port(), "/healthz").status, 200);
}

TEST(HttpServer, WarnsOnAWildcardBindOnly) {
  HttpServer loopback(Echo);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(loopback.Start("127.0.0.1:0").ok());
  EXPECT_EQ(::testing::internal::GetCapturedStderr().find("http_wildcard_bind"), std::string::npos);
  HttpServer wildcard(Echo);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(wildcard.Start("0.0.0.0:0").ok());
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("WARN http_wildcard_bind"), std::string::npos) << log;
  EXPECT_EQ(Get(wildcard.port(), "/healthz").status, 200);
}

TEST(HttpServer, ServesIpv6Loopback) {
  HttpServer server(Echo);
  if (!server.Start("[::1]:0").ok()) GTEST_SKIP() << "no IPv6 loopback here";
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>(server.port()));
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  char buf[256];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");
}

}  // namespace
}  // namespace tallywire
