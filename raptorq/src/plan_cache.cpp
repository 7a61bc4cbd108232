// The process-wide cache of encoder solve plans. See plan_cache.hpp.

#include "plan_cache.hpp"

#include <map>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace nextmini::raptorq::detail {
namespace {

// Enough for the handful of block sizes a process uses; the oldest K' is dropped beyond it.
constexpr std::size_t kMaxCachedPlans = 16;

struct Cache {
  std::mutex mutex;
  std::map<std::uint32_t, std::shared_ptr<const SolvePlan>> plans;
  std::vector<std::uint32_t> order;
};

Cache& cache() {
  static Cache instance;
  return instance;
}

}  // namespace

std::shared_ptr<const SolvePlan> encoder_plan(const BlockParameters& params) {
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    auto it = c.plans.find(params.k_prime);
    if (it != c.plans.end()) return it->second;
  }
  std::vector<std::uint32_t> isis(params.k_prime);
  std::iota(isis.begin(), isis.end(), 0u);
  auto built = SolvePlan::build(params, isis);
  // RFC 6330 guarantees the systematic rows 0..K'-1 have full rank for every K' of Table 2.
  if (!built) throw std::logic_error("raptorq: systematic constraint matrix is singular");
  auto plan = std::make_shared<const SolvePlan>(std::move(*built));
  std::lock_guard lock(c.mutex);
  auto [it, inserted] = c.plans.emplace(params.k_prime, plan);
  if (inserted) {
    c.order.push_back(params.k_prime);
    if (c.order.size() > kMaxCachedPlans) {
      c.plans.erase(c.order.front());
      c.order.erase(c.order.begin());
    }
  }
  return it->second;
}

}  // namespace nextmini::raptorq::detail
