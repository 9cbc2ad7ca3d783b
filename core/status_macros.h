// Status propagation macros: Abseil 20220623 ships none, so they live here,
// once.
//
//   absl::StatusOr<int> ParseCount(absl::string_view s);
//   absl::Status Use(absl::string_view s) {
//     TW_ASSIGN_OR_RETURN(int n, ParseCount(s));
//     TW_RETURN_IF_ERROR(Check(n));
//     return absl::OkStatus();
//   }
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TW_RETURN_IF_ERROR(expr)                                               \
  do {                                                                         \
    if (absl::Status tw_status_ = (expr); !tw_status_.ok()) return tw_status_; \
  } while (0)

#define TW_STATUS_CONCAT_INNER_(a, b) a##b
#define TW_STATUS_CONCAT_(a, b) TW_STATUS_CONCAT_INNER_(a, b)

#define TW_ASSIGN_OR_RETURN(lhs, expr) \
  TW_ASSIGN_OR_RETURN_IMPL_(TW_STATUS_CONCAT_(tw_statusor_, __LINE__), lhs, expr)

#define TW_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()
