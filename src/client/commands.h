// The `cycas` subcommands. Each returns the process exit status:
// 0 success, 1 the operation failed, 2 bad usage.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "client/zako_client.h"

namespace cycas::client {

// Parsed command line: flags (without their leading dashes, last one wins)
// and positional arguments after the subcommand.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
  bool Has(const std::string& flag) const { return flags.contains(flag); }
  std::string Get(const std::string& flag, const std::string& fallback = "") const {
    auto it = flags.find(flag);
    return it == flags.end() ? fallback : it->second;
  }
};

int CmdPut(ZakoClient& client, const Args& args);
int CmdGet(ZakoClient& client, const Args& args);
int CmdMissing(ZakoClient& client, const Args& args);
int CmdStat(ZakoClient& client, const Args& args);
int CmdBench(ZakoClient& client, const Args& args);
void PrintBenchUsage();

}  // namespace cycas::client
