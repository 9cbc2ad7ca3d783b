// Checks the scope of tests/tsan.supp under the `tsan` preset: the shape of
// librdkafka's mutex reports is suppressed, a race of ours is not.
//
//   tsan_suppressions_check librdkafka-mutex   # exits 0
//   tsan_suppressions_check our-race           # TSan reports a data race
#include <threads.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

// A mutex initialised on one thread and locked on another, published through
// a relaxed atomic: TSan sees no happens-before, as with librdkafka's own
// uninstrumented atomics.
int LibrdkafkaMutex() {
  static std::atomic<mtx_t*> shared{nullptr};
  std::thread t([] {
    auto* m = static_cast<mtx_t*>(std::calloc(1, sizeof(mtx_t)));
    mtx_init(m, mtx_plain);
    shared.store(m, std::memory_order_relaxed);
  });
  mtx_t* m = nullptr;
  while ((m = shared.load(std::memory_order_relaxed)) == nullptr) {
  }
  mtx_lock(m);
  mtx_unlock(m);
  t.join();
  mtx_destroy(m);
  std::free(m);
  return 0;
}

// A plain race on a thread started through thrd_create, as our callbacks run
// on librdkafka's threads. Both threads are kept inside their loops at once
// (a relaxed flag gives TSan no happens-before), so the report does not hang
// on how the scheduler orders one increment each: CI once saw none.
int counter = 0;
std::atomic<bool> child_running{false};
std::atomic<bool> stop{false};
int OurRace() {
  thrd_t t;
  thrd_create(
      &t,
      [](void*) {
        child_running.store(true, std::memory_order_relaxed);
        while (!stop.load(std::memory_order_relaxed)) ++counter;
        return 0;
      },
      nullptr);
  while (!child_running.load(std::memory_order_relaxed)) {
  }
  for (int i = 0; i < 100000; ++i) ++counter;
  stop.store(true, std::memory_order_relaxed);
  thrd_join(t, nullptr);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "librdkafka-mutex") == 0) return LibrdkafkaMutex();
  if (argc == 2 && std::strcmp(argv[1], "our-race") == 0) return OurRace();
  return 2;
}
