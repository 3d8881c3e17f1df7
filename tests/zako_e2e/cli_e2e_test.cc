// The `cycas` client binary against the real cycasd: every subcommand, its
// output and exit codes, a client killed mid-upload, and TLS / mutual TLS.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "cycasd_process.h"
#include "zako_test_util.h"

namespace cycas::zako_e2e {
namespace {

using namespace std::chrono_literals;
using testing::CycasdProcess;

std::vector<std::string> Defaults(std::vector<std::string> extra = {}) {
  std::vector<std::string> o = {"zako.transport_listen=127.0.0.1:0", "http.listen=", "log.level=warn"};
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cycas-cli-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool Has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<CycasdProcess>(Defaults());
    ASSERT_TRUE(server_->Start()) << server_->error();
  }
  RunResult Cycas(std::vector<std::string> args, int timeout_s = 60) {
    args.insert(args.begin(), {"--server", server_->address("grpc"), "-q"});
    return RunCycas(args, timeout_s);
  }
  std::string Arg(std::string_view bytes) {
    Digest d = Blake3Of(bytes);
    return d.hex() + "/" + std::to_string(d.size_bytes());
  }
  std::unique_ptr<CycasdProcess> server_;
  TempDir dir_;
};

TEST(CliBasicsTest, HelpAndVersion) {
  auto h = RunCycas({"--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_TRUE(Has(h.out, "cycas put FILE") || Has(h.out, "put FILE")) << h.out;
  auto v = RunCycas({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(Has(v.out, "cycas ")) << v.out;
  EXPECT_EQ(RunCycas({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunCycas({"--nope"}).exit_code, 2);
  EXPECT_EQ(RunCycas({"bench", "--help"}).exit_code, 0);
}

TEST_F(CliTest, PutUploadsOnlyWhatIsMissing) {
  std::string a = Bytes(3 << 20, 1), b = Bytes(100, 2);
  WriteFile(dir_ / "a", a);
  WriteFile(dir_ / "b", b);
  WriteFile(dir_ / "b2", b);  // same content twice
  WriteFile(dir_ / "empty", "");
  auto r = Cycas({"put", dir_ / "a", dir_ / "b", dir_ / "b2", dir_ / "empty"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0], Arg(a) + " uploaded " + (dir_ / "a"));
  EXPECT_EQ(lines[1], Arg(b) + " uploaded " + (dir_ / "b"));
  EXPECT_EQ(lines[2], Arg(b) + " uploaded " + (dir_ / "b2"));
  EXPECT_EQ(lines[3], Arg("") + " present " + (dir_ / "empty"));
  r = Cycas({"put", dir_ / "a", dir_ / "b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out)[0], Arg(a) + " present " + (dir_ / "a"));
  r = Cycas({"put", dir_ / "no-such-file"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.out, "error")) << r.out;
}

TEST_F(CliTest, PutManyFilesInParallel) {
  std::vector<std::string> args = {"put", "--concurrency", "4"};
  for (int i = 0; i < 30; ++i) {
    WriteFile(dir_ / std::to_string(i), Bytes(10'000 + i * 1000, 100 + i));
    args.push_back(dir_ / std::to_string(i));
  }
  auto r = Cycas(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 30u);
  for (const auto& l : lines) EXPECT_TRUE(Has(l, " uploaded ")) << l;
  std::vector<std::string> stat = {"missing"};
  for (int i = 0; i < 30; ++i) stat.push_back(Arg(Bytes(10'000 + i * 1000, 100 + i)));
  auto m = Cycas(stat);
  EXPECT_EQ(m.exit_code, 0);
  EXPECT_EQ(m.out, "");
}

TEST_F(CliTest, GetVerifiesAndWritesOnlyCompleteFiles) {
  std::string a = Bytes(2'500'000, 3);
  WriteFile(dir_ / "a", a);
  ASSERT_EQ(Cycas({"put", dir_ / "a"}).exit_code, 0);
  auto r = Cycas({"get", Arg(a), "-o", dir_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFileOrEmpty(dir_ / "out"), a);
  r = Cycas({"get", Arg(a)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, a);
  r = Cycas({"get", Arg(a), "--range", "1000:24"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, a.substr(1000, 24));
  r = Cycas({"get", Arg(a), "--range", std::to_string(a.size() - 7)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, a.substr(a.size() - 7));
  // Errors: unknown blob (nothing written), bad range, bad digest.
  r = Cycas({"get", Arg("never stored"), "-o", dir_ / "nothing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "NOT_FOUND")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nothing"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()), {}), 2);  // a, out
  r = Cycas({"get", Arg(a), "--range", std::to_string(a.size())});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "bytes long")) << r.err;
  r = Cycas({"get", "abc/1"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CliTest, MissingAndStat) {
  std::string a = Bytes(1234, 4);
  WriteFile(dir_ / "a", a);
  ASSERT_EQ(Cycas({"put", dir_ / "a"}).exit_code, 0);
  auto r = Cycas({"missing", Arg(a), Arg("absent"), Arg("")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Arg("absent") + "\n");
  r = Cycas({"stat", Arg(a), Arg("absent")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Arg(a) + " present 1234\n" + Arg("absent") + " missing\n");
  EXPECT_EQ(Cycas({"stat", "zz"}).exit_code, 2);
}

TEST_F(CliTest, ClientKilledMidUploadLeavesNothingBehind) {
  std::string big = Bytes(16 << 20, 5);
  WriteFile(dir_ / "big", big);
  pid_t pid = SpawnCycas({"--server", server_->address("grpc"), "-q", "put", "--limit-rate", "2MiB",
                          dir_ / "big"},
                         dir_ / "put.out", dir_ / "put.err");
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(1500ms);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::this_thread::sleep_for(300ms);
  auto r = Cycas({"stat", Arg(big)});
  EXPECT_EQ(r.out, Arg(big) + " missing\n") << r.err;
  // A new upload of the same file goes through at once.
  auto t0 = std::chrono::steady_clock::now();
  r = Cycas({"put", dir_ / "big"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, " uploaded ")) << r.out;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
  r = Cycas({"get", Arg(big), "-o", dir_ / "back"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFileOrEmpty(dir_ / "back"), big);
}

TEST_F(CliTest, ServerDownIsAnErrorNotAHang) {
  int port = server_->port("grpc");
  server_->Stop();
  auto r = RunCycas({"--server", "127.0.0.1:" + std::to_string(port), "--timeout", "3s", "missing",
                     Arg("x")},
                    30);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "UNAVAILABLE") || Has(r.err, "DEADLINE")) << r.err;
}

// ---------------------------------------------------------------------------
// TLS

// A CA, a server certificate for 127.0.0.1 and a client certificate, made
// with the openssl command (skipped where it is missing).
class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl";
    std::string d = dir_.path();
    std::string script =
        "cd " + d + " && exec >openssl.log 2>&1 && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=cycas-test-ca && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext && "
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=cycas-client && "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2";
    ASSERT_EQ(std::system(script.c_str()), 0) << ReadFileOrEmpty(dir_ / "openssl.log");
  }
  TempDir dir_;
};

TEST_F(TlsTest, ServerCertificate) {
  CycasdProcess server(Defaults({"tls.cert_file=" + (dir_ / "server.pem"), "tls.key_file=" + (dir_ / "server.key")}));
  ASSERT_TRUE(server.Start()) << server.error();
  WriteFile(dir_ / "blob", Bytes(300'000, 6));
  std::string srv = server.address("grpc");
  auto r = RunCycas({"--server", srv, "--tls-ca", dir_ / "ca.pem", "-q", "put", dir_ / "blob"});
  ASSERT_EQ(r.exit_code, 0) << r.err << server.log();
  EXPECT_TRUE(Has(r.out, " uploaded ")) << r.out;
  Digest d = Blake3Of(Bytes(300'000, 6));
  std::string arg = d.hex() + "/" + std::to_string(d.size_bytes());
  r = RunCycas({"--server", srv, "--tls-ca", dir_ / "ca.pem", "get", arg, "-o", dir_ / "back"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFileOrEmpty(dir_ / "back"), Bytes(300'000, 6));
  // Plaintext is refused.
  r = RunCycas({"--server", srv, "--timeout", "3s", "missing", arg}, 30);
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificate) {
  CycasdProcess server(Defaults({"tls.cert_file=" + (dir_ / "server.pem"), "tls.key_file=" + (dir_ / "server.key"),
                                 "tls.client_ca_file=" + (dir_ / "ca.pem")}));
  ASSERT_TRUE(server.Start()) << server.error();
  WriteFile(dir_ / "blob", Bytes(1000, 7));
  std::string srv = server.address("grpc");
  auto r = RunCycas({"--server", srv, "--tls-ca", dir_ / "ca.pem", "--timeout", "3s", "-q", "put",
                     dir_ / "blob"},
                    30);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  r = RunCycas({"--server", srv, "--tls-ca", dir_ / "ca.pem", "--tls-cert", dir_ / "client.pem",
                "--tls-key", dir_ / "client.key", "-q", "put", dir_ / "blob"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, " uploaded ")) << r.out;
}

}  // namespace
}  // namespace cycas::zako_e2e
