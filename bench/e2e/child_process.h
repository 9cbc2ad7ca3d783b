// ChildProcess: a program the benchmark runs beside itself (the Kafka
// Streams peer), with its stdout readable line by line, its stderr in a log
// file, and its CPU time and peak RSS readable from /proc while it runs.
//
//   TW_ASSIGN_OR_RETURN(auto peer, ChildProcess::Spawn({"run", "--brokers", b}, "/tmp/peer.log"));
//   TW_RETURN_IF_ERROR(peer->WaitForLine("tallywire-peer: running", absl::Minutes(3)));
//   TW_RETURN_IF_ERROR(peer->Terminate(absl::Seconds(30)));   // TERM, then KILL
//
// One thread uses a ChildProcess. The destructor kills a child still running,
// so an error path never leaves a JVM behind.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tallywire {

class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv,
                                                             const std::string& stderr_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout until a line equal to `line`; an error if the child exits
  // first or `timeout` passes.
  absl::Status WaitForLine(absl::string_view line, absl::Duration timeout);
  // Waits for the child to exit by itself; its exit code (128+N if killed by
  // signal N).
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // SIGTERM, up to `grace` to exit, then SIGKILL. Its exit code.
  absl::StatusOr<int> Terminate(absl::Duration grace);

  // User+system CPU seconds and peak RSS (VmHWM) of the child's process
  // (after an exec, the program itself); 0 once it has exited.
  double CpuSeconds() const;
  double PeakRssMb() const;
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  bool Reap(int* code);  // non-blocking

  pid_t pid_;
  int out_fd_;
  bool exited_ = false;
  int exit_code_ = 0;
  std::string buffered_;
};

}  // namespace tallywire
