// ThreadSanitizer shim, linked into the test binaries and the CLI of the
// `tsan` preset only.
//
// Debian's librdkafka starts its threads with C11 thrd_create and locks with
// mtx_*/cnd_*. glibc implements those on internal pthread entry points that
// libtsan does not intercept, so TSan never learns of librdkafka's threads
// and crashes in them. Defining the C11 functions here, on top of the public
// pthread API that TSan does intercept, makes the executable's definitions
// win symbol resolution for librdkafka too (glibc's thrd_t, mtx_t and cnd_t
// are pthread_t, pthread_mutex_t and pthread_cond_t underneath).
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdint>
#include <cstdlib>

namespace {
struct Start {
  thrd_start_t fn;
  void* arg;
};
void* Trampoline(void* p) {
  Start s = *static_cast<Start*>(p);
  std::free(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(s.fn(s.arg)));
}
int FromErrno(int e) {
  return e == 0           ? thrd_success
         : e == ETIMEDOUT ? thrd_timedout
         : e == EBUSY     ? thrd_busy
                          : thrd_error;
}
pthread_mutex_t* M(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* C(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }
}  // namespace

extern "C" {
int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  auto* s = static_cast<Start*>(std::malloc(sizeof(Start)));
  *s = {fn, arg};
  int e = pthread_create(reinterpret_cast<pthread_t*>(thr), nullptr, Trampoline, s);
  if (e != 0) std::free(s);
  return FromErrno(e);
}
int thrd_join(thrd_t thr, int* res) {
  void* r = nullptr;
  int e = pthread_join(static_cast<pthread_t>(thr), &r);
  if (res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(r));
  return FromErrno(e);
}
int thrd_detach(thrd_t thr) { return FromErrno(pthread_detach(static_cast<pthread_t>(thr))); }
int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (type & mtx_recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  int e = pthread_mutex_init(M(m), &a);
  pthread_mutexattr_destroy(&a);
  return FromErrno(e);
}
int mtx_lock(mtx_t* m) { return FromErrno(pthread_mutex_lock(M(m))); }
int mtx_trylock(mtx_t* m) { return FromErrno(pthread_mutex_trylock(M(m))); }
int mtx_timedlock(mtx_t* m, const struct timespec* ts) {
  return FromErrno(pthread_mutex_timedlock(M(m), ts));
}
int mtx_unlock(mtx_t* m) { return FromErrno(pthread_mutex_unlock(M(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(M(m)); }
int cnd_init(cnd_t* c) { return FromErrno(pthread_cond_init(C(c), nullptr)); }
int cnd_signal(cnd_t* c) { return FromErrno(pthread_cond_signal(C(c))); }
int cnd_broadcast(cnd_t* c) { return FromErrno(pthread_cond_broadcast(C(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return FromErrno(pthread_cond_wait(C(c), M(m))); }
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* ts) {
  return FromErrno(pthread_cond_timedwait(C(c), M(m), ts));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(C(c)); }
}
