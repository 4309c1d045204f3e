#include "shared/ipc/jsonrpc.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "shared/base/unique_fd.h"

namespace xsup::ipc::jsonrpc {
namespace {

using nlohmann::json;

TEST(JsonRpcTest, BuildsRequestsAndResponses) {
  EXPECT_EQ(
      make_request(1, "user.add", {{"email", "a@b"}}),
      json::parse(R"({"jsonrpc":"2.0","id":1,"method":"user.add","params":{"email":"a@b"}})"));
  EXPECT_EQ(make_request("x", "status", nullptr),
            json::parse(R"({"jsonrpc":"2.0","id":"x","method":"status"})"));
  EXPECT_EQ(make_result(2, {{"ok", true}}),
            json::parse(R"({"jsonrpc":"2.0","id":2,"result":{"ok":true}})"));
  EXPECT_EQ(
      make_error(3, kMethodNotFound, "Method not found"),
      json::parse(
          R"({"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"Method not found"}})"));
  EXPECT_EQ(make_error(4, kOperationFailed, "user exists", {{"email", "a@b"}})["error"]["data"],
            json({{"email", "a@b"}}));
  const std::string line = encode_line(make_request(1, "status", nullptr));
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(JsonRpcTest, StandardCodes) {
  EXPECT_EQ(kParseError, -32700);
  EXPECT_EQ(kInvalidRequest, -32600);
  EXPECT_EQ(kMethodNotFound, -32601);
  EXPECT_EQ(kInvalidParams, -32602);
  EXPECT_EQ(kInternalError, -32603);
  EXPECT_EQ(kOperationFailed, -32000);
}

TEST(JsonRpcTest, ParsesRequest) {
  auto request = parse_request(R"({"jsonrpc":"2.0","id":"7","method":"user.list","params":[1]})");
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->id, "7");
  EXPECT_FALSE(request->notification);
  EXPECT_EQ(request->method, "user.list");
  EXPECT_EQ(request->params, json::array({1}));

  auto notification = parse_request(R"({"jsonrpc":"2.0","method":"stop"})");
  ASSERT_TRUE(notification.has_value());
  EXPECT_TRUE(notification->notification);
  EXPECT_TRUE(notification->params.is_null());
}

int error_code_of(std::string_view line) {
  auto request = parse_request(line);
  EXPECT_FALSE(request.has_value());
  return request ? 0 : request.error()["error"]["code"].get<int>();
}

TEST(JsonRpcTest, RejectsBadRequests) {
  EXPECT_EQ(error_code_of("{\"jsonrpc\":"), kParseError);
  EXPECT_EQ(error_code_of("[]"), kInvalidRequest);
  EXPECT_EQ(error_code_of(R"({"jsonrpc":"1.0","id":1,"method":"status"})"), kInvalidRequest);
  EXPECT_EQ(error_code_of(R"({"jsonrpc":"2.0","id":1})"), kInvalidRequest);
  EXPECT_EQ(error_code_of(R"({"jsonrpc":"2.0","id":1,"method":5})"), kInvalidRequest);
  EXPECT_EQ(error_code_of(R"({"jsonrpc":"2.0","id":1,"method":"x","params":3})"), kInvalidRequest);
  EXPECT_EQ(error_code_of(R"({"jsonrpc":"2.0","id":{},"method":"x"})"), kInvalidRequest);
  // The reply names the request when its id was usable, and null when it was not.
  auto bad = parse_request(R"({"jsonrpc":"2.0","id":9,"method":5})");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error()["id"], 9);
  EXPECT_TRUE(parse_request("nope").error()["id"].is_null());
}

TEST(JsonRpcTest, ParsesResponses) {
  auto result = parse_response(R"({"jsonrpc":"2.0","id":1,"result":{"users":3}})");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->id, 1);
  EXPECT_EQ(result->result["users"], 3);
  EXPECT_FALSE(result->error);

  auto error = parse_response(
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"busy","data":[1]}})");
  ASSERT_TRUE(error.has_value());
  ASSERT_TRUE(error->error);
  EXPECT_EQ(error->error->code, kOperationFailed);
  EXPECT_EQ(error->error->message, "busy");
  EXPECT_EQ(error->error->data, json::array({1}));

  for (const char* bad :
       {"x", "[]", R"({"jsonrpc":"2.0","id":1})",
        R"({"jsonrpc":"2.0","id":1,"result":1,"error":{}})", R"({"jsonrpc":"2.0","result":1})",
        R"({"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}})",
        R"({"id":1,"result":1})"}) {
    SCOPED_TRACE(bad);
    auto parsed = parse_response(bad);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_TRUE(parsed.error().is(base::Errc::kProtocol));
  }
}

TEST(LineSplitterTest, SplitsAcrossFeeds) {
  LineSplitter splitter;
  splitter.feed("one\ntw");
  auto first = splitter.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->value(), "one");
  EXPECT_FALSE(splitter.next()->has_value());
  splitter.feed("o\n\nthree\n");
  EXPECT_EQ(splitter.next()->value(), "two");
  EXPECT_EQ(splitter.next()->value(), "");
  EXPECT_EQ(splitter.next()->value(), "three");
  EXPECT_FALSE(splitter.next()->has_value());
}

TEST(LineSplitterTest, BoundsLineLength) {
  LineSplitter exact(4);
  exact.feed("abcd\n");
  EXPECT_EQ(exact.next()->value(), "abcd");

  LineSplitter complete(4);
  complete.feed("abcde\n");
  EXPECT_TRUE(complete.next().error().is(base::Errc::kTooLarge));

  // Caught before the newline arrives: a client cannot make the server buffer without end.
  LineSplitter open(4);
  open.feed("abc");
  EXPECT_FALSE(open.next()->has_value());
  open.feed("de");
  EXPECT_TRUE(open.next().error().is(base::Errc::kTooLarge));
  open.feed("\n");
  EXPECT_FALSE(open.next().has_value());  // final
}

// A one-connection server on a Unix socket in a temporary directory; `handle` gets the
// request line and returns the reply line (empty: close without a reply; nullopt: hold the
// connection open until the client goes away).
class TinyServer {
 public:
  using Handler = std::function<std::optional<std::string>(const std::string&)>;

  explicit TinyServer(Handler handle) {
    char dir[] = "/tmp/xsup-jsonrpc-XXXXXX";
    EXPECT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/control.sock";
    listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.data(), path_.size());
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listener_.get(), 1), 0);
    thread_ = std::thread([this, handle = std::move(handle)] {
      base::UniqueFd client(::accept(listener_.get(), nullptr, nullptr));
      if (!client) return;
      LineSplitter splitter;
      char buffer[4096];
      for (;;) {
        auto line = splitter.next();
        if (line && line->has_value()) {
          auto reply = handle(**line);
          if (!reply) {
            while (::read(client.get(), buffer, sizeof(buffer)) > 0) {
            }
          } else if (!reply->empty()) {
            (void)!::write(client.get(), reply->data(), reply->size());
          }
          return;
        }
        const ssize_t n = ::read(client.get(), buffer, sizeof(buffer));
        if (n <= 0) return;
        splitter.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
      }
    });
  }
  ~TinyServer() {
    thread_.join();
    std::filesystem::remove_all(dir_);
  }

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  base::UniqueFd listener_;
  std::thread thread_;
};

constexpr auto kTimeout = std::chrono::seconds(5);

TEST(JsonRpcCallTest, ReturnsTheResult) {
  TinyServer server([](const std::string& line) -> std::optional<std::string> {
    auto request = parse_request(line);
    if (!request) return encode_line(request.error());
    if (request->method != "echo") {
      return encode_line(make_error(request->id, kMethodNotFound, "Method not found"));
    }
    return encode_line(make_result(request->id, request->params));
  });
  auto result = call(server.path(), "echo", {{"n", 42}}, kTimeout);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result, json({{"n", 42}}));
}

TEST(JsonRpcCallTest, CarriesTheServersError) {
  TinyServer server([](const std::string& line) -> std::optional<std::string> {
    auto request = parse_request(line);
    return encode_line(
        make_error(request->id, kOperationFailed, "user a@b exists", {{"email", "a@b"}}));
  });
  auto result = call(server.path(), "user.add", {{"email", "a@b"}}, kTimeout);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, kOperationFailed);
  EXPECT_EQ(result.error().message, "user a@b exists");
  EXPECT_EQ(result.error().data["email"], "a@b");
}

TEST(JsonRpcCallTest, ServerClosingWithoutReply) {
  TinyServer server([](const std::string&) -> std::optional<std::string> { return ""; });
  auto result = call(server.path(), "status", nullptr, kTimeout);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, 0);
  EXPECT_TRUE(result.error().cause.is(base::Errc::kClosed));
}

TEST(JsonRpcCallTest, TimesOut) {
  TinyServer server([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  auto result = call(server.path(), "status", nullptr, std::chrono::milliseconds(50));
  ASSERT_FALSE(result.has_value());
  EXPECT_TRUE(result.error().cause.is(base::Errc::kTimeout));
}

TEST(JsonRpcCallTest, GarbageReplyIsAProtocolError) {
  TinyServer server([](const std::string&) -> std::optional<std::string> { return "hello\n"; });
  auto result = call(server.path(), "status", nullptr, kTimeout);
  ASSERT_FALSE(result.has_value());
  EXPECT_TRUE(result.error().cause.is(base::Errc::kProtocol));
}

TEST(JsonRpcCallTest, NoServer) {
  auto result = call("/nonexistent/xsup/control.sock", "status", nullptr, kTimeout);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().cause.code, std::errc::no_such_file_or_directory);
  EXPECT_FALSE(result.error().message.empty());
}

}  // namespace
}  // namespace xsup::ipc::jsonrpc
