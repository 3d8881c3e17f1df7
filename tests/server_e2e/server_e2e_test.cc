// The server starts on the default embedded configuration, answers on
// loopback, and shuts down cleanly on SIGTERM.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cycasd_process.h"

namespace cycas {
namespace {

namespace v2 = build::bazel::remote::execution::v2;

TEST(ServerE2ETest, StartsAnswersAndStopsCleanly) {
  testing::CycasdProcess server;
  ASSERT_TRUE(server.Start()) << server.error();
  auto channel = grpc::CreateChannel(server.address("grpc"), grpc::InsecureChannelCredentials());
  auto stub = v2::Capabilities::NewStub(channel);
  grpc::ClientContext ctx;
  v2::GetCapabilitiesRequest req;
  v2::ServerCapabilities caps;
  grpc::Status st = stub->GetCapabilities(&ctx, req, &caps);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GT(caps.cache_capabilities().max_batch_total_size_bytes(), 0);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

TEST(ServerE2ETest, UnknownOptionIsRefusedAtStartup) {
  testing::CycasdProcess server({"engine.sise=1GiB"});
  EXPECT_FALSE(server.Start(5000));
  EXPECT_NE(server.error().find("engine.sise"), std::string::npos) << server.error();
}

// Values that would be narrowed to 32 bits (4 GiB + 64 KiB would become a valid
// 64 KiB), or make no sense, are refused with
// the option's name instead of silently becoming something else.
TEST(ServerE2ETest, OutOfRangeEngineOptionsAreRefusedByName) {
  for (const char* bad : {"engine.aggregation_buffer=4194368KiB", "engine.fragment_size=4195328KiB",
                          "engine.read_ahead=-1", "engine.read_ahead=1000"}) {
    testing::CycasdProcess server({bad});
    EXPECT_FALSE(server.Start(5000)) << bad;
    std::string name(bad, std::string_view(bad).find('='));
    EXPECT_NE(server.error().find(name), std::string::npos) << bad << ": " << server.error();
  }
}

}  // namespace
}  // namespace cycas
