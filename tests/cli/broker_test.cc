// `tallywire broker` prints a bootstrap address that kcat (a client nobody
// here wrote) lists with the four topics.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace {

std::string Output(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(Broker, PrintsABootstrapThatKcatListsWithTheFourTopics) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(TALLYWIRE_BINARY, TALLYWIRE_BINARY, "broker", "--partitions", "3", nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ASSERT_NE(line.find("127.0.0.1:"), std::string::npos) << line;
  const std::string listing = Output("kcat -b " + line + " -L -m 10 2>&1");
  for (const char* topic : {"tallies", "posts", "alerts"}) {
    EXPECT_NE(listing.find(std::string("topic \"") + topic + "\" with 3 partitions"),
              std::string::npos)
        << listing;
  }
  // Dead letters keep one partition: their order is the order of failure.
  EXPECT_NE(listing.find("topic \"dlq\" with 1 partitions"), std::string::npos) << listing;
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(out[0]);
}

}  // namespace
