#pragma once
// Test helper shared by every unit and integration test that drives an io_context by hand.

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace nextmini::test_support {

// Runs `io` a handler at a time (waiting at most 10 ms for each) until done() holds. Returns
// false if `limit` passes first, so a test can ASSERT_TRUE on it.
template <typename Predicate>
bool run_until(boost::asio::io_context& io, Predicate done,
               std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace nextmini::test_support
