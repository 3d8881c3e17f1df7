// Which failures are retried, how long the waits are, and how every outcome
// maps to a Status (absent vs unavailable).
#include "cas/s3/retry_policy.h"

#include <gtest/gtest.h>

namespace cycas::s3 {
namespace {

TEST(RetryPolicyTest, TransientFailuresAreRetried) {
  EXPECT_TRUE(RetryPolicy::IsRetryable(TransportError::kConnect, 0));
  EXPECT_TRUE(RetryPolicy::IsRetryable(TransportError::kTimeout, 0));
  EXPECT_TRUE(RetryPolicy::IsRetryable(TransportError::kIo, 0));
  for (long s : {408L, 429L, 500L, 502L, 503L, 504L}) EXPECT_TRUE(RetryPolicy::IsRetryable(TransportError::kNone, s)) << s;
}

TEST(RetryPolicyTest, AnswersAndPermanentFailuresAreNot) {
  for (long s : {200L, 204L, 206L, 400L, 403L, 404L, 416L}) {
    EXPECT_FALSE(RetryPolicy::IsRetryable(TransportError::kNone, s)) << s;
  }
  EXPECT_FALSE(RetryPolicy::IsRetryable(TransportError::kCancelled, 0));
  EXPECT_FALSE(RetryPolicy::IsRetryable(TransportError::kOther, 0));
}

TEST(RetryPolicyTest, BackoffGrowsExponentiallyUpToTheCap) {
  RetryPolicy p;
  p.base = std::chrono::milliseconds(100);
  p.max = std::chrono::milliseconds(1000);
  uint64_t top = ~uint64_t{0};
  // With the largest random value the wait is the ceiling of each step, minus rounding.
  EXPECT_LE(p.Backoff(0, top).count(), 100);
  EXPECT_LE(p.Backoff(1, top).count(), 200);
  EXPECT_LE(p.Backoff(2, top).count(), 400);
  EXPECT_LE(p.Backoff(10, top).count(), 1000);
  EXPECT_LE(p.Backoff(60, top).count(), 1000);  // no overflow
  for (uint64_t r = 0; r < 1000; r++) {
    auto b = p.Backoff(3, r * 7919);
    EXPECT_GE(b.count(), 0);
    EXPECT_LE(b.count(), 800);
  }
  EXPECT_EQ(p.Backoff(3, 0).count(), 0);  // full jitter reaches zero
}

TEST(StatusFromHttpTest, OnlyAMissingObjectIsNotFound) {
  EXPECT_TRUE(StatusFromHttp("GET k", TransportError::kNone, "", 200, "", "").ok());
  EXPECT_EQ(StatusFromHttp("GET k", TransportError::kNone, "", 404, "NoSuchKey", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusFromHttp("HEAD k", TransportError::kNone, "", 404, "", "").code(), StatusCode::kNotFound);
  Status bucket = StatusFromHttp("GET k", TransportError::kNone, "", 404, "NoSuchBucket", "");
  EXPECT_EQ(bucket.code(), StatusCode::kUnavailable);
  EXPECT_NE(bucket.message().find("bucket"), std::string::npos);
}

TEST(StatusFromHttpTest, FailuresToAskAreUnavailable) {
  EXPECT_EQ(StatusFromHttp("HEAD k", TransportError::kConnect, "refused", 0, "", "").code(), StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromHttp("HEAD k", TransportError::kTimeout, "", 0, "", "").code(), StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromHttp("HEAD k", TransportError::kNone, "", 503, "SlowDown", "").code(), StatusCode::kUnavailable);
  // S3 answers 403 for absent objects when the credentials may not list: never "absent".
  EXPECT_EQ(StatusFromHttp("HEAD k", TransportError::kNone, "", 403, "", "").code(), StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromHttp("GET k", TransportError::kNone, "", 400, "InvalidRequest", "").code(), StatusCode::kInternal);
  EXPECT_EQ(StatusFromHttp("GET k", TransportError::kCancelled, "", 0, "", "").code(), StatusCode::kCancelled);
}

TEST(StatusFromHttpTest, MessageNamesTheOperationAndS3Code) {
  Status st = StatusFromHttp("GET cas/sha256/ab", TransportError::kNone, "", 500, "InternalError", "oops");
  EXPECT_NE(st.message().find("GET cas/sha256/ab"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("InternalError"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("oops"), std::string::npos) << st.message();
}

TEST(XmlTest, ReadsElementsAndDecodesEntities) {
  std::string xml =
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>a &amp; b &lt;c&gt;</Message></Error>";
  EXPECT_EQ(XmlElement(xml, "Code"), "NoSuchKey");
  EXPECT_EQ(XmlElement(xml, "Message"), "a & b <c>");
  EXPECT_EQ(XmlElement(xml, "UploadId"), "");
  EXPECT_EQ(XmlEscape("\"a\"&<b>"), "&quot;a&quot;&amp;&lt;b&gt;");
}

}  // namespace
}  // namespace cycas::s3
