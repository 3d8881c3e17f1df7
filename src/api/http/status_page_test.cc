#include "api/http/status_page.h"

#include <gtest/gtest.h>

namespace cycas::api::http {
namespace {

// A tier that reports fixed figures, including a string that tries to close the
// status page's <script> element.
class FakeTier final : public TierReport {
 public:
  std::string_view report_name() const override { return "s3"; }
  void RenderPrometheus(std::string& out) const override {
    out += "# HELP cycas_s3_up Test.\n# TYPE cycas_s3_up gauge\ncycas_s3_up 0\n";
  }
  std::string StatusJson() const override {
    return R"({"state":"down","last_error":"\u003c/script>","queue":{"depth":7}})";
  }
};

TEST(StatusPageTest, TierReportsAppearOnMetricsAndStatus) {
  HttpMetrics metrics;
  FakeTier tier;
  StatusPageInputs in;
  in.metrics = &metrics;
  in.tier_reports.push_back(&tier);

  std::string text;
  AppendStoreMetrics(in, text);
  EXPECT_NE(text.find("cycas_s3_up 0\n"), std::string::npos) << text;

  std::string json = BuildStatusJson(in);
  EXPECT_NE(json.find(R"("tier_reports":{"s3":{"state":"down")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("queue":{"depth":7})"), std::string::npos) << json;

  std::string html = BuildStatusHtml(json);
  // Exactly the two script elements of the page: nothing in the data closed one early.
  size_t closes = 0;
  for (size_t p = html.find("</script>"); p != std::string::npos;
       p = html.find("</script>", p + 1)) {
    closes++;
  }
  EXPECT_EQ(closes, 2u);
}

TEST(StatusPageTest, NoTierReportsIsAnEmptyObject) {
  HttpMetrics metrics;
  StatusPageInputs in;
  in.metrics = &metrics;
  std::string json = BuildStatusJson(in);
  EXPECT_NE(json.find(R"("tier_reports":{})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("engine":null)"), std::string::npos) << json;
}

}  // namespace
}  // namespace cycas::api::http
