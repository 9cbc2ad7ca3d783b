#include "bench/e2e/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tallywire {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::string& stderr_path) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to run");
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0)
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (err < 0) {
    close(out[0]);
    close(out[1]);
    return absl::InternalError(absl::StrCat(stderr_path, ": ", strerror(errno)));
  }
  // Built before fork: the child may only call async-signal-safe functions.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out[1], 1);
    dup2(err, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0]));
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  close(out_fd_);
}

bool ChildProcess::Reap(int* code) {
  if (exited_) {
    *code = exit_code_;
    return true;
  }
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  exited_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  *code = exit_code_;
  return true;
}

absl::Status ChildProcess::WaitForLine(absl::string_view line, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  while (true) {
    for (size_t nl; (nl = buffered_.find('\n')) != std::string::npos;) {
      const bool match = absl::string_view(buffered_).substr(0, nl) == line;
      buffered_.erase(0, nl + 1);
      if (match) return absl::OkStatus();
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("no \"", line, "\" from pid ", pid_,
                                                      " within ", absl::FormatDuration(timeout)));
    }
    pollfd p{out_fd_, POLLIN, 0};
    const int ready =
        poll(&p, 1, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left), 1000)));
    if (ready < 0 && errno != EINTR)
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    if (ready <= 0) continue;
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      buffered_.append(buf, static_cast<size_t>(n));
      continue;
    }
    // EOF: the child closed stdout, i.e. it exited.
    absl::StatusOr<int> code = Wait(absl::Seconds(5));
    return absl::UnavailableError(absl::StrCat("pid ", pid_, " exited (",
                                               code.ok() ? absl::StrCat("code ", *code) : "running",
                                               ") before printing \"", line, "\""));
  }
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int code = 0;
  while (!Reap(&code)) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " still running"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return code;
}

absl::StatusOr<int> ChildProcess::Terminate(absl::Duration grace) {
  int code = 0;
  if (Reap(&code)) return code;
  kill(pid_, SIGTERM);
  absl::StatusOr<int> done = Wait(grace);
  if (done.ok()) return done;
  kill(pid_, SIGKILL);
  return Wait(absl::Seconds(10));
}

double ChildProcess::CpuSeconds() const {
  if (exited_) return 0;
  std::ifstream f(absl::StrCat("/proc/", pid_, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // Fields after the ")" that closes the command name: state is field 3,
  // utime 14 and stime 15 (1-based), in clock ticks.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return 0;
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

double ChildProcess::PeakRssMb() const {
  if (exited_) return 0;
  std::ifstream f(absl::StrCat("/proc/", pid_, "/status"));
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmHWM:", 0) == 0) {
      int64_t kb = 0;
      std::istringstream(line.substr(6)) >> kb;
      return kb / 1024.0;
    }
  }
  return 0;
}

}  // namespace tallywire
