// HttpServer over a real loopback socket: a GET, a PATCH that changes the store, a malformed
// request, and keep-alive (two requests on one connection).

#include "nextmini/controller/http_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <thread>

#include "nextmini/controller/memory_store.hpp"

namespace nextmini::controller {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config =
        parse_config("[topology]\ntype = \"ring\"\nring_config = { n_nodes = 3 }\n", "test.toml");
    ASSERT_TRUE(config);
    auto topology = build_topology(*config);
    auto routes = build_routes(*config, *topology);
    bring_up_ = std::make_unique<BringUp>(*config, *topology, *routes, store_);
    api_ = std::make_unique<HttpApi>(*bring_up_, store_, nullptr, ".");
    server_ = std::make_unique<HttpServer>(io_, *api_, HttpServer::Options{"127.0.0.1", 0});
    ASSERT_TRUE(server_->start());
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] { server_->stop(); });
    if (thread_.joinable()) thread_.join();
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    return socket;
  }

  http::response<http::string_body> exchange(tcp::socket& socket, http::verb verb,
                                             const std::string& target,
                                             const std::string& body = "", bool keep_alive = true) {
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.body() = body;
    request.keep_alive(keep_alive);
    request.prepare_payload();
    http::write(socket, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    return response;
  }

  MemoryStore store_;
  std::unique_ptr<BringUp> bring_up_;
  std::unique_ptr<HttpApi> api_;
  asio::io_context io_;
  asio::io_context client_io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpServerTest, ServesRequestsWithKeepAlive) {
  auto socket = connect();
  auto topology = exchange(socket, http::verb::get, "/api/topology");
  EXPECT_EQ(topology.result_int(), 200u);
  EXPECT_EQ(topology[http::field::content_type], "application/json");
  EXPECT_NE(topology.body().find("\"n_nodes\":3"), std::string::npos) << topology.body();
  // The same connection again: a PATCH that the store sees.
  auto patched = exchange(socket, http::verb::patch, "/api/links/1/2", R"({"delay":"7ms"})");
  EXPECT_EQ(patched.result_int(), 200u) << patched.body();
  auto bad = exchange(socket, http::verb::patch, "/api/links/1/2", R"({"delay":"7xs"})", false);
  EXPECT_EQ(bad.result_int(), 400u);
  EXPECT_NE(bad.body().find("links.delay: '7xs' is not a duration"), std::string::npos)
      << bad.body();

  std::promise<std::uint64_t> delay;
  asio::post(io_, [&] { delay.set_value(*bring_up_->link_params().at({1, 2}).delay_ns); });
  EXPECT_EQ(delay.get_future().get(), 7000000u);
}

TEST_F(HttpServerTest, MalformedRequestGets400AndTheServerKeepsServing) {
  {
    auto socket = connect();
    asio::write(socket, asio::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")));
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    boost::system::error_code error;
    http::read(socket, buffer, response, error);
    EXPECT_FALSE(error) << error.message();
    EXPECT_EQ(response.result_int(), 400u);
  }
  auto socket = connect();
  EXPECT_EQ(exchange(socket, http::verb::get, "/api/routes").result_int(), 200u);
}

}  // namespace
}  // namespace nextmini::controller
