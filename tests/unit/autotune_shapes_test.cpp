// Shape files, M lists and shards: the repo's shapes CSV parses line for line, malformed lines are refused with
// "file:line: ..." errors, M lists and shard strings are checked, the work list is deduplicated in a stable order,
// and the shards of every n from 1 to 7 partition the work exactly (each item in exactly one shard) and balance its
// estimated cost.
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <gtest/gtest.h>

#include "autotune/shapes.h"

namespace qjit::autotune {
namespace {

const std::string kRepoShapes = std::string(QJIT_SOURCE_DIR) + "/data/llm_linear_shapes.csv";

std::string parse_error(const std::string& text) {
  auto r = parse_shapes(text, "shapes.csv");
  if (r) return "(parsed)";
  EXPECT_EQ(r.error().code(), StatusCode::InvalidArgument);
  return r.error().message();
}

TEST(AutotuneShapes, RepoShapesFileParsesEveryDataLine) {
  std::ifstream in(kRepoShapes);
  ASSERT_TRUE(in) << kRepoShapes;
  std::size_t data_lines = 0;
  bool header = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (!header) {
      header = true;
      continue;
    }
    ++data_lines;
  }
  ASSERT_GT(data_lines, 10u);
  auto shapes = load_shapes(kRepoShapes);
  ASSERT_TRUE(shapes) << shapes.error().to_string();
  EXPECT_EQ(shapes->size(), data_lines);
  EXPECT_EQ((*shapes)[0].model, "llama-2-7b");
  EXPECT_EQ((*shapes)[0].layer, "qkv_proj");
  EXPECT_EQ((*shapes)[0].n, 12288);
  EXPECT_EQ((*shapes)[0].k, 4096);
  for (const auto& s : *shapes) {
    EXPECT_GT(s.n, 0);
    EXPECT_GT(s.k, 0);
  }
}

// Issue 15's data/odd_shapes.csv: the optional act_stride column (empty: K), kept per item by work_items.
TEST(AutotuneShapes, ActStrideColumnParsesAndKeepsItemsApart) {
  auto odd = load_shapes(std::string(QJIT_SOURCE_DIR) + "/data/odd_shapes.csv");
  ASSERT_TRUE(odd) << odd.error().to_string();
  ASSERT_EQ(odd->size(), 9u);
  EXPECT_EQ((*odd)[0].k, 4095);
  EXPECT_EQ((*odd)[0].act_stride, 0);
  EXPECT_EQ(odd->back().k, 4096);
  EXPECT_EQ(odd->back().act_stride, 4104);
  auto r = parse_shapes("model,layer,N,K,act_stride\nm,a,64,32,\nm,b,64,32,48\nm,c,64,32,32\n", "s.csv");
  ASSERT_TRUE(r) << r.error().to_string();
  const auto items = work_items(*r, {1}, /*views=*/true);
  ASSERT_EQ(items.size(), 2u);  // a and c share (64, 32, contiguous); b's stride is its own view
  EXPECT_EQ(items[0].act_stride, 0);
  EXPECT_EQ(items[1].act_stride, 48);
  const auto kernels = work_items(*r, {1});  // tune / warmup: the kernels do not depend on the stride
  ASSERT_EQ(kernels.size(), 1u);
  EXPECT_EQ(kernels[0].act_stride, 0);
  EXPECT_EQ(kernels[0].label, "m a, m b, m c");
  auto bad = parse_shapes("model,layer,N,K,act_stride\nm,a,64,32,16\n", "s.csv");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("s.csv:2: act_stride must be empty or an integer in [K = 32"),
            std::string::npos)
      << bad.error().message();
  auto short_line = parse_shapes("model,layer,N,K,act_stride\nm,a,64,32\n", "s.csv");
  ASSERT_FALSE(short_line);
  EXPECT_NE(short_line.error().message().find("expected 5 comma-separated fields"), std::string::npos);
}

TEST(AutotuneShapes, CommentsBlankLinesCrlfAndSpacesAreAccepted) {
  auto r = parse_shapes("# c\r\n\r\n  Model , Layer , N , K \r\n# mid\nm, a ,16, 32\r\nm,b,64,128\n\n", "x.csv");
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].layer, "a");
  EXPECT_EQ((*r)[0].n, 16);
  EXPECT_EQ((*r)[1].k, 128);
}

TEST(AutotuneShapes, MalformedLinesNameFileAndLine) {
  const std::string h = "# shapes\nmodel,layer,N,K\n";  // data starts on line 3
  struct Case {
    std::string text, expect;
  } cases[] = {
      {h + "m,l,16\n", "shapes.csv:3: expected 4 comma-separated fields"},
      {h + "m,l,16,32,64\n", "shapes.csv:3: expected 4 comma-separated fields"},
      {h + "m,l,16,32\nm,l\n", "shapes.csv:4: expected 4"},
      {h + "m,l,x,32\n", "shapes.csv:3: N must be an integer"},
      {h + "m,l,16,3.5\n", "shapes.csv:3: K must be an integer"},
      {h + "m,l,0,32\n", "shapes.csv:3: N must be"},
      {h + "m,l,16,0\n", "shapes.csv:3: K must be"},
      {h + "m,l,-16,32\n", "shapes.csv:3: N must be"},
      {h + "m,l,+16,32\n", "shapes.csv:3: N must be"},
      {h + "m,l,99999999999,32\n", "shapes.csv:3: N must be"},
      {h + ",l,16,32\n", "shapes.csv:3: model must not be empty"},
      {h + "m,,16,32\n", "shapes.csv:3: layer must not be empty"},
      {"# no header\nm,l,16,32\n", "shapes.csv:2: expected the header 'model,layer,N,K'"},
      {"model,layer,K,N\nm,l,16,32\n", "shapes.csv:1: expected the header"},
      {"", "no header"},
      {"# only comments\n\n", "no header"},
      {h, "no shapes after the header"},
      {h + std::string("m,l,1\x01\xff,32\n"), "shapes.csv:3: N must be"},
  };
  for (const auto& c : cases) {
    const std::string msg = parse_error(c.text);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "input:\n" << c.text << "\nmessage: " << msg;
  }
}

TEST(AutotuneShapes, MissingFileIsAnErrorNamingIt) {
  auto r = load_shapes("/nonexistent/dir/shapes.csv");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent/dir/shapes.csv"), std::string::npos);
}

TEST(AutotuneShapes, MListParsesAndRefusesBadItems) {
  auto ms = parse_m_list("1,16, 128,2048 ,8192");
  ASSERT_TRUE(ms) << ms.error().to_string();
  EXPECT_EQ(*ms, (std::vector<std::int64_t>{1, 16, 128, 2048, 8192}));
  EXPECT_EQ(*parse_m_list("7"), (std::vector<std::int64_t>{7}));
  EXPECT_EQ(*parse_m_list("2147483647"), (std::vector<std::int64_t>{2147483647}));
  for (const char* bad : {"", " ", "1,,2", "1,2,", "0", "1,-4", "x", "1;2", "2147483648", "1e3", "0x10", "16 32"}) {
    auto r = parse_m_list(bad);
    ASSERT_FALSE(r) << "'" << bad << "'";
    EXPECT_EQ(r.error().code(), StatusCode::InvalidArgument);
    EXPECT_NE(r.error().message().find("M list"), std::string::npos) << r.error().message();
  }
  EXPECT_NE(parse_m_list("1,16,abc").error().message().find("item 3"), std::string::npos);
  EXPECT_NE(parse_m_list("1,16,abc").error().message().find("'abc'"), std::string::npos);
}

TEST(AutotuneShapes, WorkItemsDeduplicateInStableOrder) {
  const std::vector<LayerShape> shapes = {{"a", "o_proj", 4096, 4096},
                                          {"a", "down", 4096, 11008},
                                          {"b", "o_proj", 4096, 4096},
                                          {"a", "o_proj", 4096, 4096}};
  const auto items = work_items(shapes, {16, 1, 16});
  ASSERT_EQ(items.size(), 4u);  // 2 distinct (N, K) x 2 distinct M
  EXPECT_EQ(items[0].k, 4096);
  EXPECT_EQ(items[0].m, 16);
  EXPECT_EQ(items[1].m, 1);
  EXPECT_EQ(items[2].k, 11008);
  EXPECT_EQ(items[0].label, "a o_proj, b o_proj");
  EXPECT_EQ(items[2].label, "a down");
  EXPECT_TRUE(work_items({}, {1, 2}).empty());
  EXPECT_TRUE(work_items(shapes, {}).empty());
}

TEST(AutotuneShapes, ShardsOfOneToSevenPartitionTheWorkExactlyAndBalanceItsCost) {
  auto shapes = load_shapes(kRepoShapes);
  ASSERT_TRUE(shapes) << shapes.error().to_string();
  const auto items = work_items(*shapes, {1, 16, 128, 2048, 8192});
  ASSERT_GT(items.size(), 20u);
  double total = 0, largest_item = 0;
  for (const auto& w : items) {
    total += work_item_cost(w);
    largest_item = std::max(largest_item, work_item_cost(w));
  }
  for (int n = 1; n <= 7; ++n) {
    std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, int> owners;
    std::size_t count = 0;
    double heaviest = 0;
    for (int i = 0; i < n; ++i) {
      const auto part = shard_items(items, Shard{i, n});
      count += part.size();
      double cost = 0;
      for (const auto& w : part) {
        ++owners[{w.n, w.k, w.m}];
        cost += work_item_cost(w);
      }
      heaviest = std::max(heaviest, cost);
      EXPECT_FALSE(part.empty()) << "shard " << i << "/" << n;
      EXPECT_EQ(part, shard_items(items, Shard{i, n})) << "deterministic";
    }
    EXPECT_EQ(count, items.size()) << "n=" << n;
    EXPECT_EQ(owners.size(), items.size()) << "n=" << n;
    for (const auto& [key, c] : owners) EXPECT_EQ(c, 1) << "n=" << n;
    // Balanced by cost, not by count (the old j % n split gave one shard every M = 8192 GEMM of a model when n
    // divided the M count): no shard exceeds an even share by more than the largest item.
    EXPECT_LE(heaviest, total / n + largest_item) << "n=" << n;
  }
  EXPECT_EQ(shard_items(items, Shard{0, 1}).size(), items.size());
}

TEST(AutotuneShapes, ShardStringsParseAndBadOnesAreRefused) {
  auto s = parse_shard("2/5");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 5);
  EXPECT_EQ(parse_shard("0/1")->count, 1);
  for (const char* bad : {"3/3", "-1/2", "a/b", "1/0", "0/0", "", "1", "/2", "1/", "1/2/3", "1.5/4", "0/99999999999"}) {
    auto r = parse_shard(bad);
    ASSERT_FALSE(r) << "'" << bad << "'";
    EXPECT_EQ(r.error().code(), StatusCode::InvalidArgument);
    EXPECT_NE(r.error().message().find("'i/n'"), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace qjit::autotune
