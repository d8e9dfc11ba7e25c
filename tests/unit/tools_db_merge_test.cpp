// `qjit db merge` as the last step of a sharded tuning job: merging the parts in every order gives the same
// database, byte for byte (records of equal time settled by content, not arrival); merging a part twice, or the
// output into itself, changes nothing; one merge of all parts equals merging them one call at a time; and per key
// the fastest record wins while other devices' records stay side by side.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "autotune/tuning_db.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/command_runner.h"
#include "tests/support/process_runner.h"
#include "tests/support/tuning_test_util.h"
#include "tools/commands.h"

namespace qjit::testing {
namespace {

using autotune::TuningDb;
using autotune::TuningRecord;
using autotune::testing::record;

CommandResult db(const std::vector<std::string>& args) { return run_command(tools::run_db_command, "db", args); }

// record()'s config with another pipeline depth: the same key and time, another config.
codegen::TileConfig stages_of_record_tile(int stages) {
  codegen::Sm90Tile t = autotune::testing::record_tile();
  t.stages = stages;
  return t;
}

class ToolsDbMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Four shard outputs. Keys overlap on purpose: (4096, 1) is timed by A and B (B faster); (4096, 16) by A and C
    // with the same time but other configs (a tie); D holds another device's record of A's key.
    TuningRecord tie = record(4096, 16, 20.0);
    tie.config = stages_of_record_tile(4);
    write("a.json", {record(4096, 1, 10.0), record(4096, 16, 20.0), record(12288, 1, 14.0)});
    write("b.json", {record(4096, 1, 9.5), record(8192, 1, 12.0)});
    write("c.json", {tie, record(8192, 128, 30.0)});
    write("d.json", {record(4096, 1, 11.0, "NVIDIA H100 80GB HBM3"), record(4096, 2048, 80.0)});
    parts_ = {tmp_.sub("a.json"), tmp_.sub("b.json"), tmp_.sub("c.json"), tmp_.sub("d.json")};
  }

  void write(const std::string& name, const std::vector<TuningRecord>& records) {
    TuningDb d;
    for (const auto& r : records) d.put(r);
    ASSERT_TRUE(d.save(tmp_.sub(name)).ok());
  }

  // `qjit db merge OUT parts...` into a fresh OUT; returns OUT's bytes.
  std::string merge_into_fresh(const std::string& name, const std::vector<std::string>& inputs) {
    std::vector<std::string> args = {"merge", tmp_.sub(name)};
    args.insert(args.end(), inputs.begin(), inputs.end());
    const CommandResult r = db(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return read_text(tmp_.sub(name));
  }

  cache::testing::TempDir tmp_;
  std::vector<std::string> parts_;
};

TEST_F(ToolsDbMergeTest, EveryOrderGivesTheSameBytes) {
  std::vector<std::string> order = parts_;
  std::sort(order.begin(), order.end());
  const std::string reference = merge_into_fresh("ref.json", order);
  ASSERT_FALSE(reference.empty());
  int permutations = 0;
  do {
    EXPECT_EQ(merge_into_fresh("perm" + std::to_string(permutations) + ".json", order), reference)
        << "order " << order[0] << " " << order[1] << " " << order[2] << " " << order[3];
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 24);
  // One call per part, in reverse order, as shards finishing one by one would merge.
  for (auto it = parts_.rbegin(); it != parts_.rend(); ++it) {
    const CommandResult r = db({"merge", tmp_.sub("stepwise.json"), *it});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  EXPECT_EQ(read_text(tmp_.sub("stepwise.json")), reference);
}

TEST_F(ToolsDbMergeTest, MergingTwiceChangesNothing) {
  const std::string once = merge_into_fresh("out.json", parts_);
  std::vector<std::string> twice = parts_;
  twice.insert(twice.end(), parts_.begin(), parts_.end());
  EXPECT_EQ(merge_into_fresh("twice.json", twice), once);
  // Again into the same OUT, and OUT into itself.
  for (const std::vector<std::string>& again :
       {std::vector<std::string>{"merge", tmp_.sub("out.json"), parts_[0], parts_[2]},
        std::vector<std::string>{"merge", tmp_.sub("out.json"), tmp_.sub("out.json")}}) {
    const CommandResult r = db(again);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read_text(tmp_.sub("out.json")), once);
    EXPECT_NE(r.out.find("0 added, 0 replaced"), std::string::npos) << r.out;
  }
}

TEST_F(ToolsDbMergeTest, FastestRecordWinsPerKeyAndDevicesStaySideBySide) {
  merge_into_fresh("out.json", parts_);
  auto merged = TuningDb::load(tmp_.sub("out.json"));
  ASSERT_TRUE(merged) << merged.error().to_string();
  EXPECT_EQ(merged->size(), 7u);  // 6 distinct keys on the H200 + 1 on the H100
  const auto* fast = merged->find(record(4096, 1, 0).key);
  ASSERT_NE(fast, nullptr);
  EXPECT_DOUBLE_EQ(fast->time_us, 9.5);
  const auto* other = merged->find(record(4096, 1, 0, "NVIDIA H100 80GB HBM3").key);
  ASSERT_NE(other, nullptr);
  EXPECT_DOUBLE_EQ(other->time_us, 11.0);
  // The tie is settled by content: the same record whichever part came first.
  const auto* tied = merged->find(record(4096, 16, 0).key);
  ASSERT_NE(tied, nullptr);
  TuningDb ab, ba;
  TuningRecord tie = record(4096, 16, 20.0);
  tie.config = stages_of_record_tile(4);
  ab.put(record(4096, 16, 20.0));
  ab.put(tie);
  ba.put(tie);
  ba.put(record(4096, 16, 20.0));
  EXPECT_EQ(ab.to_json(), ba.to_json());
  EXPECT_EQ(tied->config, ab.records()[0].config);
}

}  // namespace
}  // namespace qjit::testing
