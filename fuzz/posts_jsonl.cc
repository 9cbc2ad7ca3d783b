// Fuzz target: a JSONL posts file, read with both error policies, and every
// post it yields encoded and decoded as the producer and the service would.
#include <cstdint>
#include <cstdlib>

#include "core/codec.h"
#include "core/log.h"
#include "fuzz/temp_file.h"
#include "producers/social/posts.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tallywire::SetLogQuiet(true);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  const std::string& path = fuzz::WriteScratch("jsonl", data, size);
  for (OnError on_error : {OnError::kAbort, OnError::kSkip}) {
    PostsReport report;
    absl::StatusOr<std::vector<PostEvent>> posts =
        ReadPostsJsonl({path}, {.on_error = on_error}, &report);
    if (!posts.ok()) continue;
    AlignedBytes aligned;
    for (const PostEvent& post : *posts) {
      const std::string bytes = EncodePost(post);
      (void)DecodePost(aligned.Align(AsBytes(bytes)));
    }
  }
  return 0;
}
