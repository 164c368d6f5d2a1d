// Status propagation helpers. Debian's Abseil ships no status_macros.h, so these are ours.
//
//   RETURN_IF_ERROR(expr);            // returns the status of expr if it is not OK
//   ASSIGN_OR_RETURN(auto x, expr);   // expr is a StatusOr<T>; returns its status on error
#ifndef HFSHIM_CORE_BASE_STATUS_MACROS_H_
#define HFSHIM_CORE_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HFSHIM_CONCAT_INNER_(a, b) a##b
#define HFSHIM_CONCAT_(a, b) HFSHIM_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    const ::absl::Status hfshim_status_ = (expr);    \
    if (!hfshim_status_.ok()) return hfshim_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  HFSHIM_ASSIGN_OR_RETURN_IMPL_(HFSHIM_CONCAT_(hfshim_statusor_, __LINE__), lhs, expr)

#define HFSHIM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // HFSHIM_CORE_BASE_STATUS_MACROS_H_
