#pragma once
// Work budget for one verification (after rustls-webpki): path building over attacker-supplied
// certificates is exponential in the worst case, so every costly step draws from a fixed
// allowance. Running out is an error that fails the verification; it is never a silent acceptance
// and never a truncated search reported as "no path".

#include <cstdint>

namespace parley::pki {

struct BudgetLimits {
  std::uint32_t signature_checks = 100;
  std::uint32_t build_calls = 200'000;
  std::uint32_t name_constraint_comparisons = 250'000;
};

enum class BudgetKind { signature_checks, build_calls, name_constraint_comparisons };

class Budget {
 public:
  explicit Budget(BudgetLimits limits = {}) : left_(limits) {}

  // Each returns false (and latches `exhausted()`) when the allowance is used up.
  [[nodiscard]] bool spend_signature_check() {
    return spend(left_.signature_checks, BudgetKind::signature_checks);
  }
  [[nodiscard]] bool spend_build_call() {
    return spend(left_.build_calls, BudgetKind::build_calls);
  }
  [[nodiscard]] bool spend_name_constraint_comparisons(std::uint32_t n = 1) {
    if (left_.name_constraint_comparisons < n) {
      left_.name_constraint_comparisons = 0;
      exhausted_ = BudgetKind::name_constraint_comparisons;
      is_exhausted_ = true;
      return false;
    }
    left_.name_constraint_comparisons -= n;
    return true;
  }

  bool exhausted() const { return is_exhausted_; }
  BudgetKind exhausted_kind() const { return exhausted_; }
  const BudgetLimits& remaining() const { return left_; }

 private:
  bool spend(std::uint32_t& counter, BudgetKind kind) {
    if (counter == 0) {
      exhausted_ = kind;
      is_exhausted_ = true;
      return false;
    }
    --counter;
    return true;
  }

  BudgetLimits left_;
  BudgetKind exhausted_ = BudgetKind::build_calls;
  bool is_exhausted_ = false;
};

}  // namespace parley::pki
