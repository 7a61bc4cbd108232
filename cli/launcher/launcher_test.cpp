// Unit tests of the launcher library pieces that need no root: naming and addressing, the
// state file, the controller status parser, running commands, the lock and process control.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api_client.hpp"
#include "command_runner.hpp"
#include "controller_status.hpp"
#include "launcher_state.hpp"
#include "process_control.hpp"
#include "state_lock.hpp"
#include "underlay_plan.hpp"

namespace nextmini::launcher {
namespace {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/nextmini-launcher-test-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(UnderlayPlanTest, NamesAndAddresses) {
  EXPECT_EQ(UnderlayPlan::node_namespace(3), "nm-n3");
  EXPECT_EQ(UnderlayPlan::bridge_port(12), "nmv12");
  EXPECT_EQ(UnderlayPlan::node_underlay_address(1), "100.127.0.1");
  EXPECT_EQ(UnderlayPlan::node_underlay_address(255), "100.127.0.255");
  EXPECT_EQ(UnderlayPlan::node_underlay_address(256), "100.127.1.0");
  EXPECT_EQ(UnderlayPlan::node_underlay_address(1000), "100.127.3.232");
  // No node address may collide with the controller's.
  EXPECT_NE(UnderlayPlan::node_underlay_address(kMaxNodes), kControllerUnderlayAddress);
}

TEST(UnderlayPlanTest, ParsesNodeNamespaces) {
  EXPECT_EQ(UnderlayPlan::node_from_namespace("nm-n7"), 7u);
  EXPECT_EQ(UnderlayPlan::node_from_namespace("nm-n65000"), 65000u);
  EXPECT_FALSE(UnderlayPlan::node_from_namespace("nm-ctl"));
  EXPECT_FALSE(UnderlayPlan::node_from_namespace("nm-n"));
  EXPECT_FALSE(UnderlayPlan::node_from_namespace("nm-n0"));
  EXPECT_FALSE(UnderlayPlan::node_from_namespace("nm-n07"));
  EXPECT_FALSE(UnderlayPlan::node_from_namespace("nm-n3x"));
  EXPECT_FALSE(UnderlayPlan::node_from_namespace("nm-n99999"));
  EXPECT_FALSE(UnderlayPlan::node_from_namespace("other"));
  EXPECT_TRUE(UnderlayPlan::is_launcher_namespace("nm-ctl"));
  EXPECT_FALSE(UnderlayPlan::is_launcher_namespace("netns1"));
  EXPECT_TRUE(UnderlayPlan::is_launcher_interface("nmbr0"));
  EXPECT_TRUE(UnderlayPlan::is_launcher_interface("nmv4"));
  EXPECT_FALSE(UnderlayPlan::is_launcher_interface("eth0"));
}

LauncherState sample_state() {
  LauncherState state;
  state.config_path = "/tmp/with \"quotes\" and \\ backslash.toml";
  state.started_at = "2026-11-24T13:00:00Z";
  state.started_at_unix = 1795000000;
  state.launcher_pid = 4242;
  state.detached = true;
  state.ready = true;
  state.ready_seconds = 1.25;
  state.stopping = true;
  state.port = 3000;
  state.status_file = "/run/nextmini/status.json";
  state.namespaces = {"nm-ctl", "nm-n1", "nm-n2"};
  state.controller = {"controller",
                      100,
                      {"ip", "netns", "exec", "nm-ctl", "/bin/nextmini"},
                      "/run/nextmini/logs/controller.log",
                      "nm-ctl"};
  for (std::uint32_t id : {1u, 2u}) {
    NodeRecord node;
    node.id = id;
    node.overlay_address = "10.0.0." + std::to_string(id);
    node.overlay_address6 = id == 1 ? "fd00:6e6d::1" : "";  // node 2: IPv6 off
    node.underlay_address = UnderlayPlan::node_underlay_address(id);
    node.process = {"node " + std::to_string(id),
                    static_cast<pid_t>(200 + id),
                    {"ip", "netns", "exec", UnderlayPlan::node_namespace(id), "/bin/nextmini",
                     "node", "--id", std::to_string(id)},
                    "/run/nextmini/logs/node-" + std::to_string(id) + ".log",
                    UnderlayPlan::node_namespace(id)};
    state.nodes.push_back(node);
  }
  return state;
}

TEST(LauncherStateTest, RoundTripsThroughJson) {
  LauncherState state = sample_state();
  auto decoded = decode_state(encode_state(state));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->config_path, state.config_path);
  EXPECT_EQ(decoded->started_at, state.started_at);
  EXPECT_EQ(decoded->started_at_unix, state.started_at_unix);
  EXPECT_EQ(decoded->launcher_pid, 4242);
  EXPECT_TRUE(decoded->detached);
  EXPECT_TRUE(decoded->ready);
  EXPECT_TRUE(decoded->stopping);
  EXPECT_DOUBLE_EQ(decoded->ready_seconds, 1.25);
  EXPECT_EQ(decoded->port, 3000);
  EXPECT_EQ(decoded->namespaces, state.namespaces);
  EXPECT_EQ(decoded->controller.argv, state.controller.argv);
  EXPECT_EQ(decoded->controller.pid, 100);
  ASSERT_EQ(decoded->nodes.size(), 2u);
  EXPECT_EQ(decoded->nodes[1].id, 2u);
  EXPECT_EQ(decoded->nodes[1].overlay_address, "10.0.0.2");
  EXPECT_EQ(decoded->nodes[0].overlay_address6, "fd00:6e6d::1");
  EXPECT_EQ(decoded->nodes[1].overlay_address6, "");
  EXPECT_EQ(decoded->nodes[1].underlay_address, "100.127.0.2");
  EXPECT_EQ(decoded->nodes[1].process.argv, state.nodes[1].process.argv);
  EXPECT_EQ(decoded->nodes[1].process.log, state.nodes[1].process.log);
  ASSERT_NE(decoded->find_node(1), nullptr);
  EXPECT_EQ(decoded->find_node(1)->process.pid, 201);
  EXPECT_EQ(decoded->find_node(3), nullptr);
}

TEST(LauncherStateTest, RejectsBrokenFilesWithClearErrors) {
  auto not_json = decode_state("{\"config\": ");
  ASSERT_FALSE(not_json);
  EXPECT_NE(not_json.error().message.find("not valid JSON"), std::string::npos);

  auto missing = decode_state("{\"config\": \"x\"}");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("'port'"), std::string::npos);

  auto bad_pid = decode_state(
      "{\"config\": \"x\", \"port\": 3000, \"controller\": {\"name\": \"c\", \"pid\": \"abc\", "
      "\"argv\": []}}");
  ASSERT_FALSE(bad_pid);
  EXPECT_NE(bad_pid.error().message.find("state.controller.pid"), std::string::npos);
}

TEST(LauncherStateTest, WritesAtomicallyAndReadsBack) {
  TempDir dir;
  RunDirectory run_dir(dir.path() + "/run");
  ASSERT_TRUE(run_dir.ensure());
  EXPECT_TRUE(std::filesystem::is_directory(run_dir.log_dir()));

  auto absent = read_state(run_dir.state_path());
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());

  ASSERT_TRUE(write_state(run_dir.state_path(), sample_state()));
  auto present = read_state(run_dir.state_path());
  ASSERT_TRUE(present) << present.error().message;
  ASSERT_TRUE(present->has_value());
  EXPECT_EQ((*present)->nodes.size(), 2u);
  // No temporary file is left next to it.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir.root())) {
    if (entry.is_regular_file()) ++files;
  }
  EXPECT_EQ(files, 1u);

  std::ofstream(run_dir.state_path()) << "garbage";
  auto corrupt = read_state(run_dir.state_path());
  ASSERT_FALSE(corrupt);
  EXPECT_NE(corrupt.error().message.find(run_dir.state_path()), std::string::npos);
}

TEST(RunDirectoryTest, HonoursEnvironment) {
  ::setenv("NEXTMINI_RUN_DIR", "/tmp/elsewhere", 1);
  EXPECT_EQ(RunDirectory::from_environment().state_path(), "/tmp/elsewhere/state.json");
  ::unsetenv("NEXTMINI_RUN_DIR");
  EXPECT_EQ(RunDirectory::from_environment().root(), "/run/nextmini");
}

TEST(ControllerStatusTest, ParsesCounts) {
  auto status = parse_controller_status(
      R"({"n_nodes": 4, "connected": 3, "ready": 2, "topology_ready": false, "routes": 12,
          "edges": 4, "pid": 77, "errors": []})");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->n_nodes, 4u);
  EXPECT_EQ(status->connected, 3u);
  EXPECT_EQ(status->ready, 2u);
  EXPECT_FALSE(status->topology_ready);
  EXPECT_EQ(status->routes, 12u);
  EXPECT_EQ(status->edges, 4u);
  EXPECT_EQ(status->pid, 77);
  EXPECT_TRUE(status->errors.empty());
  EXPECT_FALSE(status->ready_ids);
  EXPECT_EQ(status->progress_line(), "nodes: 3/4 connected, 2/4 ready");
}

TEST(ControllerStatusTest, ParsesListsAndErrors) {
  auto status = parse_controller_status(
      R"({"n_nodes": 4, "connected": [1, 2, 4], "ready": [2], "topology_ready": true,
          "routes": 12, "edges": [[1, 2], [2, 3]], "pid": 5,
          "errors": ["no path from 3 to 7", {"node": 2, "message": "link down"}]})");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->connected, 3u);
  ASSERT_TRUE(status->connected_ids);
  EXPECT_EQ(*status->connected_ids, (std::vector<std::uint32_t>{1, 2, 4}));
  ASSERT_TRUE(status->ready_ids);
  EXPECT_EQ(*status->ready_ids, (std::vector<std::uint32_t>{2}));
  EXPECT_TRUE(status->topology_ready);
  EXPECT_EQ(status->edges, 2u);
  ASSERT_EQ(status->errors.size(), 2u);
  EXPECT_EQ(status->errors[0], "no path from 3 to 7");
  EXPECT_NE(status->errors[1].find("link down"), std::string::npos);
}

TEST(ControllerStatusTest, ReadsOptionalNodeLists) {
  auto status = parse_controller_status(
      R"({"n_nodes": 3, "connected": 3, "ready": 2, "ready_nodes": [1, 3],
          "connected_nodes": [1, 2, 3], "topology_ready": false})");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->ready, 2u);
  ASSERT_TRUE(status->ready_ids);
  EXPECT_EQ(*status->ready_ids, (std::vector<std::uint32_t>{1, 3}));
  ASSERT_TRUE(status->connected_ids);
  EXPECT_EQ(status->connected_ids->size(), 3u);
}

TEST(ControllerStatusTest, ReadsFlowsAsTheControllerWritesThem) {
  auto status = parse_controller_status(
      R"({"n_nodes": 4, "connected": 4, "ready": 4, "topology_ready": true, "flows": [
          {"id":1,"src":1,"dst":3,"state":"finished","bytes":10000000,"start_ns":100,
           "finish_ns":900500100,"completion_ms":900.500,"error":""},
          {"id":2,"src":2,"dst":4,"state":"running","bytes":0,"start_ns":5,"finish_ns":null,
           "completion_ms":null,"error":""},
          {"id":3,"src":4,"dst":1,"state":"failed","bytes":0,"start_ns":null,"finish_ns":7,
           "completion_ms":null,"error":"refused"}]})");
  ASSERT_TRUE(status) << status.error().message;
  ASSERT_EQ(status->flows.size(), 3u);
  EXPECT_EQ(status->flows[0].id, 1u);
  EXPECT_EQ(status->flows[0].dst, 3u);
  EXPECT_EQ(status->flows[0].state, "finished");
  EXPECT_EQ(status->flows[0].bytes, 10000000u);
  ASSERT_TRUE(status->flows[0].completion_ms);
  EXPECT_DOUBLE_EQ(*status->flows[0].completion_ms, 900.5);
  EXPECT_EQ(status->flows[1].state, "running");
  EXPECT_FALSE(status->flows[1].completion_ms);
  EXPECT_EQ(status->flows[2].error, "refused");
}

TEST(ControllerStatusTest, RejectsMalformedFiles) {
  EXPECT_FALSE(parse_controller_status("{\"n_nodes\": 4,"));
  auto bad = parse_controller_status(R"({"n_nodes": "four"})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("n_nodes"), std::string::npos);
}

TEST(ControllerStatusTest, MissingFileIsNotYetWritten) {
  auto status = read_controller_status("/nonexistent/nextmini/status.json");
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->has_value());
}

TEST(CommandRunnerTest, CapturesOutputAndExitCode) {
  auto echoed = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(echoed) << echoed.error().message;
  EXPECT_EQ(echoed->exit_code, 3);
  EXPECT_NE(echoed->output.find("out"), std::string::npos);
  EXPECT_NE(echoed->output.find("err"), std::string::npos);

  auto killed = run_command({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->exit_code, 128 + 9);
}

TEST(CommandRunnerTest, RunCheckedNamesTheFailingCommand) {
  auto good = run_checked({"echo", "hello"});
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, "hello\n");

  auto bad = run_checked({"sh", "-c", "echo broken pipe dream; exit 4"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'sh -c echo broken pipe dream; exit 4'"), std::string::npos);
  EXPECT_NE(bad.error().message.find("exit status 4"), std::string::npos);
  EXPECT_NE(bad.error().message.find("broken pipe dream"), std::string::npos);

  auto missing = run_command({"/nonexistent/program"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/program"), std::string::npos);
}

TEST(CommandRunnerTest, SpawnsIntoALogFileInItsOwnSession) {
  TempDir dir;
  std::string log = dir.path() + "/child.log";
  auto pid = spawn_logged({"sh", "-c", "echo first; echo second >&2; ps -o sid= -p $$"}, log);
  ASSERT_TRUE(pid) << pid.error().message;
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string text = tail_file(log, 10);
  EXPECT_NE(text.find("first\nsecond\n"), std::string::npos);
  // The child leads its own session: its session id is its pid.
  EXPECT_NE(text.find(std::to_string(*pid)), std::string::npos);

  EXPECT_EQ(tail_file(log, 1).find("first"), std::string::npos);
  EXPECT_FALSE(spawn_logged({"/nonexistent/program"}, log));
  EXPECT_FALSE(spawn_logged({"true"}, dir.path() + "/no/such/dir/log"));
}

TEST(StateLockTest, IsExclusiveAndNamesItsHolder) {
  TempDir dir;
  std::string path = dir.path() + "/lock";
  auto first = StateLock::try_acquire(path, "up");
  ASSERT_TRUE(first) << first.error().message;
  // flock locks belong to the open file description, so a second open in this process
  // conflicts just as another process would.
  auto second = StateLock::try_acquire(path, "down");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "launcher.busy");
  EXPECT_NE(second.error().message.find("`nextmini up`"), std::string::npos);
  first->release();
  auto third = StateLock::acquire(path, "down", 1000);
  EXPECT_TRUE(third);
}

TEST(ProcessControlTest, RecognisesItsProcessAndStopsIt) {
  TempDir dir;
  std::vector<std::string> argv = {"sleep", "30"};
  auto pid = spawn_logged(argv, dir.path() + "/sleep.log");
  ASSERT_TRUE(pid);
  // Give exec a moment to replace the forked image.
  for (int i = 0; i < 100 && ProcessControl::command_line(*pid) != argv; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ProcessControl::is_alive(*pid));
  EXPECT_TRUE(ProcessControl::runs_command(*pid, argv));
  // As recorded behind `ip netns exec`, which execs the rest of its arguments.
  EXPECT_TRUE(ProcessControl::runs_command(*pid, {"ip", "netns", "exec", "nm-n1", "sleep", "30"}));
  EXPECT_FALSE(ProcessControl::runs_command(*pid, {"sleep", "31"}));

  auto killed = ProcessControl::stop({*pid}, std::chrono::milliseconds(2000));
  EXPECT_TRUE(killed.empty());  // sleep ends on SIGTERM
  EXPECT_FALSE(ProcessControl::is_alive(*pid));
  EXPECT_FALSE(ProcessControl::runs_command(*pid, argv));
}

TEST(ProcessControlTest, EscalatesToSigkill) {
  TempDir dir;
  auto pid = spawn_logged({"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"},
                          dir.path() + "/stubborn.log");
  ASSERT_TRUE(pid);
  for (int i = 0; i < 200 && tail_file(dir.path() + "/stubborn.log", 1) != "ready\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto killed = ProcessControl::stop({*pid}, std::chrono::milliseconds(300));
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0], *pid);
  EXPECT_FALSE(ProcessControl::is_alive(*pid));
}

TEST(ApiClientTest, ParsesUrls) {
  auto url = parse_api_url("http://127.0.0.1:3080/");
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 3080);
  EXPECT_TRUE(url->netns.empty());
  EXPECT_EQ(url->describe(), "http://127.0.0.1:3080");
  for (const char* bad : {"127.0.0.1:3080", "http://localhost:3080", "http://127.0.0.1",
                          "http://127.0.0.1:99999", "https://127.0.0.1:3080"}) {
    auto refused = parse_api_url(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, "ctl.url");
    EXPECT_NE(refused.error().message.find(bad), std::string::npos) << refused.error().message;
  }
}

TEST(ApiClientTest, FindsTheRunningNetworksApiInItsNamespace) {
  TempDir dir;
  RunDirectory run_dir(dir.path() + "/run");
  ASSERT_TRUE(run_dir.ensure());
  auto none = find_running_api(run_dir);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "ctl.no_network");
  EXPECT_NE(none.error().message.find("is a network up? try --url"), std::string::npos);

  LauncherState state = sample_state();
  state.status_file = run_dir.status_path();
  state.controller.netns = "nm-ctl";
  ASSERT_TRUE(write_state(run_dir.state_path(), state));
  auto not_yet = find_running_api(run_dir);
  ASSERT_FALSE(not_yet);
  EXPECT_EQ(not_yet.error().code, "ctl.no_api");

  std::ofstream(run_dir.status_path()) << R"({"n_nodes": 2, "http": "0.0.0.0:3081"})";
  auto found = find_running_api(run_dir);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->host, "127.0.0.1");  // a wildcard address is reached on loopback
  EXPECT_EQ(found->port, 3081);
  EXPECT_EQ(found->netns, "nm-ctl");

  std::ofstream(run_dir.status_path()) << R"({"n_nodes": 2, "http": ""})";
  auto off = find_running_api(run_dir);
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, "ctl.no_api");
}

TEST(ApiClientTest, ConnectionFailureSaysWhere) {
  // Port 1 on loopback: nothing listens there.
  auto reply = call_api({"127.0.0.1", 1, ""}, "GET", "/api/routes", "");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, "ctl.connect");
  EXPECT_NE(reply.error().message.find("http://127.0.0.1:1"), std::string::npos)
      << reply.error().message;
}

}  // namespace
}  // namespace nextmini::launcher
