#include "nextmini/controller/status_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace nextmini::controller {
namespace {

ControllerStatus sample() {
  ControllerStatus status;
  status.bring_up.n_nodes = 4;
  status.bring_up.connected = 2;
  status.bring_up.ready = 1;
  status.bring_up.routes = 12;
  status.bring_up.edges = 4;
  status.bring_up.connected_nodes = {1, 3};
  status.bring_up.ready_nodes = {3};
  status.port = 3000;
  status.pid = 77;
  status.http = "127.0.0.1:3080";
  status.errors = {"no path from 3 to 7", "quote \" and \\ and\nnewline"};
  return status;
}

TEST(StatusFileTest, JsonHasEveryFieldAndEscapesStrings) {
  EXPECT_EQ(status_json(sample()),
            "{\"n_nodes\":4,\"connected\":2,\"ready\":1,\"topology_ready\":false,\"routes\":12,"
            "\"edges\":4,\"port\":3000,\"pid\":77,\"errors\":[\"no path from 3 to 7\","
            "\"quote \\\" and \\\\ and\\nnewline\"],\"connected_nodes\":[1,3],"
            "\"ready_nodes\":[3],\"http\":\"127.0.0.1:3080\",\"flows\":[]}\n");
}

TEST(StatusFileTest, FlowsWithStateTimesAndCompletion) {
  auto status = sample();
  FlowRecord pending;
  pending.spec.flow_id = 1;
  pending.spec.src = 1;
  pending.spec.dst = 3;
  FlowRecord finished = pending;
  finished.spec.flow_id = 2;
  finished.start_time_ns = 1'000'000'000;
  finished.finish_time_ns = 1'900'500'000;
  finished.bytes = 10'000'000;
  FlowRecord failed = pending;
  failed.spec.flow_id = 3;
  failed.start_time_ns = 1;
  failed.finish_time_ns = 5;
  failed.error = "refused \"x\"";
  status.flows = {pending, finished, failed};
  const std::string json = status_json(status);
  EXPECT_NE(json.find("\"flows\":[{\"id\":1,\"src\":1,\"dst\":3,\"state\":\"pending\",\"bytes\":0,"
                      "\"start_ns\":null,\"finish_ns\":null,\"completion_ms\":null,\"error\":\"\"},"
                      "{\"id\":2,\"src\":1,\"dst\":3,\"state\":\"finished\",\"bytes\":10000000,"
                      "\"start_ns\":1000000000,\"finish_ns\":1900500000,\"completion_ms\":900.500,"
                      "\"error\":\"\"},"
                      "{\"id\":3,\"src\":1,\"dst\":3,\"state\":\"failed\",\"bytes\":0,"
                      "\"start_ns\":1,\"finish_ns\":5,\"completion_ms\":null,"
                      "\"error\":\"refused \\\"x\\\"\"}]}"),
            std::string::npos)
      << json;
}

TEST(StatusFileTest, WriteReplacesTheFileAndLeavesNoTemporary) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("nextmini_status_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "status.json").string();
  ASSERT_TRUE(write_status_file(path, sample()));
  auto second = sample();
  second.bring_up.topology_ready = true;
  ASSERT_TRUE(write_status_file(path, second));
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), status_json(second));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);

  auto failed = write_status_file("/nonexistent-dir/status.json", sample());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, "status.io");
}

}  // namespace
}  // namespace nextmini::controller
