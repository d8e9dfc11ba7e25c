// The tuning database: save -> load round trips exactly, put keeps the faster record, merge lets the best time win
// per key while other devices' records coexist, files of another format or qjit version are refused naming the path
// and both versions, corrupt files (not JSON, truncated, wrong types, missing fields, non-positive sizes) give an
// InvalidArgument naming the record and field, a missing file is an empty database, an unwritable directory an error.
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "autotune/tuning_db.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/tuning_test_util.h"

namespace qjit::autotune {
namespace {

using cache::testing::TempDir;
using codegen::KernelFamily;

using testing::record;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A valid one-record file with `field` of the record replaced by `value` (JSON text), or removed when value is "".
std::string one_record_with(const std::string& field, const std::string& value) {
  TuningDb db;
  db.put(record(4096, 16, 10.5));
  std::string json = db.to_json();
  const std::string needle = "\"" + field + "\": ";
  const auto at = json.find(needle);
  EXPECT_NE(at, std::string::npos) << field;
  const auto end = json.find_first_of(",\n", at + needle.size());
  if (!value.empty()) return json.replace(at + needle.size(), end - at - needle.size(), value);
  if (json[end] == ',') return json.erase(at, end - at + 1);
  const auto comma = json.rfind(',', at);  // the last field: drop the comma before it instead
  return json.erase(comma, end - comma);
}

std::string parse_error(const std::string& json) {
  auto db = TuningDb::parse(json, "/some/dir/tuning.json");
  if (db) return "(parsed)";
  EXPECT_EQ(db.error().code(), StatusCode::InvalidArgument);
  return db.error().message();
}

TEST(TuningDb, SaveLoadRoundTripIsExactAndSorted) {
  TempDir dir;
  TuningDb db;
  db.put(record(12288, 1, 7.25));
  db.put(record(4096, 2048, 81.0));
  db.put(record(4096, 16, 9.5, "NVIDIA H100 80GB HBM3"));
  TuningRecord q = record(0, 128, 3.0);
  q.key.op = "quantize_rowwise";
  q.key.in_dtype = "f16";
  q.key.out_dtype = "s8";
  q.config = codegen::QuantizeTile{.rows_per_cta = 4, .threads_per_row = 128};
  db.put(q);
  const std::string path = dir.sub("nested/deeper/tuning.json");
  ASSERT_TRUE(db.save(path).ok());
  auto loaded = TuningDb::load(path);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  ASSERT_EQ(loaded->size(), 4u);
  for (const auto& r : db.records()) {
    const TuningRecord* got = loaded->find(r.key);
    ASSERT_NE(got, nullptr) << r.key.to_string();
    EXPECT_EQ(got->key, r.key);
    EXPECT_EQ(got->config, r.config);
    EXPECT_EQ(got->time_us, r.time_us);
    EXPECT_EQ(got->heuristic_time_us, r.heuristic_time_us);
    EXPECT_EQ(got->candidates, r.candidates);
  }
  // Saved twice, the bytes are identical (sorted records, stable printing): the file diffs well.
  EXPECT_EQ(loaded->to_json(), db.to_json());
  EXPECT_NE(db.to_json().find("\"family\": \"gemm_sm90\""), std::string::npos);
  EXPECT_NE(db.to_json().find("\"qjit_version\": \"" + std::string(qjit_version()) + "\""), std::string::npos);
  // No temporary file is left next to the database.
  EXPECT_TRUE(cache::testing::names_with_prefix(dir.sub("nested/deeper"), "tuning.json.tmp").empty());
}

// A gemm_sm80 record as the flat config struct wrote it (before each family had its own config type): written by
// `qjit db merge` of that build, so these are its exact bytes.
constexpr std::string_view kSm80File = R"({
  "format": 1,
  "qjit_version": "@VERSION@",
  "records": [
    {
      "arch": 89,
      "candidates": 120,
      "config": {
        "block_k": 128,
        "block_m": 16,
        "block_n": 64,
        "consumers": 0,
        "family": "gemm_sm80",
        "split_k": 2,
        "stages": 4,
        "swap_ab": false,
        "warps_m": 1,
        "warps_n": 4
      },
      "device": "NVIDIA L40S",
      "has_bias": true,
      "heuristic_config": {
        "block_k": 128,
        "block_m": 16,
        "block_n": 64,
        "consumers": 0,
        "family": "gemm_sm80",
        "split_k": 1,
        "stages": 6,
        "swap_ab": false,
        "warps_m": 1,
        "warps_n": 4
      },
      "heuristic_time_us": 22.25,
      "in_dtype": "s8",
      "k": 4096,
      "m_bucket": 16,
      "n": 11008,
      "op": "gemm_s8",
      "out_dtype": "f16",
      "per_token_scale": true,
      "sm_count": 142,
      "time_us": 20.5
    }
  ]
}
)";

// `text` with its "qjit_version" value set to this build's, so files of an older version number still test the layout.
std::string with_this_version(std::string text) {
  const std::string key = "\"qjit_version\": \"";
  const auto at = text.find(key);
  if (at == std::string::npos) return text;
  const auto end = text.find('"', at + key.size());
  return text.replace(at + key.size(), end - at - key.size(), qjit_version());
}

// Files written before the per-family config types read unchanged and write the same bytes: the H200 database of
// docs/bench (gemm_sm90 with ping-pong and clusters, quantize) and a gemm_sm80 record.
TEST(TuningDb, FilesOfTheFlatConfigStructReadAndWriteByteForByte) {
  const std::string h200 = with_this_version(read_text(std::string(QJIT_SOURCE_DIR) + "/docs/bench/tuning-h200.json"));
  ASSERT_FALSE(h200.empty());
  for (const std::string& text : {h200, with_this_version(std::string(kSm80File))}) {
    auto db = TuningDb::parse(text, "flat");
    ASSERT_TRUE(db) << db.error().to_string();
    EXPECT_EQ(db->to_json(), text);
  }
  auto db = TuningDb::parse(h200, "flat");
  ASSERT_TRUE(db);
  int sm90 = 0, quantize = 0, pingpong = 0;
  for (const TuningRecord& r : db->records()) {
    sm90 += r.config.family() == KernelFamily::GemmSm90;
    quantize += r.config.family() == KernelFamily::Quantize;
    if (const auto* t = r.config.get_if<codegen::Sm90Tile>()) pingpong += t->pingpong && t->cluster_m == 2;
  }
  EXPECT_GT(sm90, 0);
  EXPECT_GT(quantize, 0);
  EXPECT_GT(pingpong, 0);
  auto sm80 = TuningDb::parse(with_this_version(std::string(kSm80File)), "flat");
  ASSERT_TRUE(sm80);
  EXPECT_EQ(sm80->records()[0].config,
            codegen::TileConfig(codegen::Sm80Tile{
                .block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 4, .split_k = 2}));
}

// The keys stay for every family, but a field the family does not have must hold the value the family writes there:
// a gemm_sm80 record with consumers = 2 is not a gemm_sm80 config, and is refused naming the record and the field.
TEST(TuningDb, FieldsTheFamilyDoesNotHaveMustHoldTheirFixedValues) {
  struct Case {
    const char* from;
    const char* to;
    const char* expect;
  } cases[] = {{"\"consumers\": 0", "\"consumers\": 2", "field 'consumers' must be 0 for family gemm_sm80"},
               {"\"swap_ab\": false", "\"swap_ab\": true", "field 'swap_ab' must be false for family gemm_sm80"},
               {"\"swap_ab\": false", "\"swap_ab\": false, \"pingpong\": true", "field 'pingpong' must be false"},
               {"\"swap_ab\": false", "\"swap_ab\": false, \"cluster_m\": 2", "field 'cluster_m' must be 1"}};
  for (const Case& c : cases) {
    std::string text = with_this_version(std::string(kSm80File));
    text.replace(text.find(c.from), std::string_view(c.from).size(), c.to);
    const std::string msg = parse_error(text);
    EXPECT_NE(msg.find("records[0].config: " + std::string(c.expect)), std::string::npos) << c.to << ": " << msg;
    EXPECT_NE(msg.find("/some/dir/tuning.json"), std::string::npos) << msg;
  }
  // gemm_sm90 has one K stage (128 bytes) and no warp grid.
  EXPECT_NE(parse_error(one_record_with("block_k", "64")).find("field 'block_k' must be 128 for family gemm_sm90"),
            std::string::npos)
      << parse_error(one_record_with("block_k", "64"));
  EXPECT_NE(parse_error(one_record_with("warps_n", "4")).find("field 'warps_n' must be 1 for family gemm_sm90"),
            std::string::npos);
  // quantize has only rows per CTA (block_m) and threads per row (block_n).
  TuningDb db;
  TuningRecord q = record(0, 128, 3.0);
  q.key.op = "quantize_rowwise";
  q.key.in_dtype = "f16";
  q.key.out_dtype = "s8";
  q.config = codegen::QuantizeTile{.rows_per_cta = 4, .threads_per_row = 128};
  db.put(q);
  std::string text = db.to_json();
  text.replace(text.find("\"stages\": 1"), 11, "\"stages\": 2");
  EXPECT_NE(parse_error(text).find("field 'stages' must be 1 for family quantize"), std::string::npos)
      << parse_error(text);
}

TEST(TuningDb, TuningKeyFromSpecMatchesRecordFields) {
  codegen::KernelSpec s;
  s.op = codegen::KernelOp::GemmS8;
  s.out_element = ElementKind::BF16;
  s.n = 4096;
  s.k = 4096;
  s.m_bucket = 16;
  s.arch = 90;
  const TuningKey k = tuning_key(s, "NVIDIA H200", 132);
  EXPECT_EQ(k, record(4096, 16, 1.0).key);
  EXPECT_NE(k.to_string().find("n=4096 k=4096 m<=16"), std::string::npos) << k.to_string();
  EXPECT_NE(k.to_string().find("NVIDIA H200"), std::string::npos);
}

TEST(TuningDb, PutKeepsTheFasterRecord) {
  TuningDb db;
  EXPECT_TRUE(db.put(record(4096, 16, 10.0)));
  TuningRecord slower = record(4096, 16, 12.0);
  codegen::Sm90Tile wider = testing::record_tile();
  wider.block_n = 256;
  slower.config = wider;
  EXPECT_FALSE(db.put(slower));
  EXPECT_EQ(db.find(slower.key)->config, codegen::TileConfig(testing::record_tile()));
  EXPECT_FALSE(db.put(record(4096, 16, 10.0)));  // a tie keeps the stored one
  TuningRecord faster = record(4096, 16, 8.0);
  codegen::Sm90Tile shallower = testing::record_tile();
  shallower.stages = 3;
  faster.config = shallower;
  EXPECT_TRUE(db.put(faster));
  EXPECT_EQ(db.size(), 1u);
  EXPECT_EQ(db.find(faster.key)->config.as<codegen::Sm90Tile>().stages, 3);
  EXPECT_EQ(db.find(faster.key)->time_us, 8.0);
  EXPECT_EQ(db.find(record(4096, 32, 1.0).key), nullptr);
}

TEST(TuningDb, MergeBestTimeWinsPerKeyAndOtherDevicesCoexist) {
  TuningDb a, b;
  a.put(record(4096, 1, 5.0));
  a.put(record(4096, 16, 9.0));
  b.put(record(4096, 1, 4.0));                           // faster: replaces
  b.put(record(4096, 16, 11.0));                         // slower: ignored
  b.put(record(4096, 64, 20.0));                         // new key: added
  b.put(record(4096, 1, 3.0, "NVIDIA H100 80GB HBM3"));  // same shape on another device: added, never compared
  EXPECT_EQ(a.merge(b), 3);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.find(record(4096, 1, 0).key)->time_us, 4.0);
  EXPECT_EQ(a.find(record(4096, 16, 0).key)->time_us, 9.0);
  EXPECT_EQ(a.find(record(4096, 1, 0, "NVIDIA H100 80GB HBM3").key)->time_us, 3.0);
  EXPECT_EQ(a.merge(b), 0);  // idempotent
  EXPECT_EQ(a.merge(a), 0);
}

TEST(TuningDb, MissingFileIsAnEmptyDatabase) {
  TempDir dir;
  auto db = TuningDb::load(dir.sub("absent/tuning.json"));
  ASSERT_TRUE(db) << db.error().to_string();
  EXPECT_EQ(db->size(), 0u);
}

TEST(TuningDb, OtherFormatVersionIsRefusedNamingPathAndBothVersions) {
  std::string json = TuningDb().to_json();
  json.replace(json.find("\"format\": 1"), 11, "\"format\": 7");
  const std::string msg = parse_error(json);
  EXPECT_NE(msg.find("/some/dir/tuning.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("format 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("format 1"), std::string::npos) << msg;
}

TEST(TuningDb, OtherQjitVersionIsRefusedNamingPathAndBothVersions) {
  TempDir dir;
  std::string json = TuningDb().to_json();
  const std::string mine = "\"" + std::string(qjit_version()) + "\"";
  json.replace(json.find(mine), mine.size(), "\"0.0.1-old\"");
  write_text(dir.sub("tuning.json"), json);
  auto db = TuningDb::load(dir.sub("tuning.json"));
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), StatusCode::InvalidArgument);
  const std::string& msg = db.error().message();
  EXPECT_NE(msg.find(dir.sub("tuning.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("0.0.1-old"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::string(qjit_version())), std::string::npos) << msg;
}

TEST(TuningDb, NotJsonOrTruncatedIsAClearError) {
  EXPECT_NE(parse_error("").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("tuning, please").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("\xff\xfe{}").find("not valid JSON"), std::string::npos);
  TuningDb db;
  db.put(record(4096, 16, 10.5));
  const std::string full = db.to_json();
  for (std::size_t cut : {std::size_t{1}, full.size() / 3, full.size() / 2, full.size() - 3}) {
    const std::string msg = parse_error(full.substr(0, cut));
    EXPECT_NE(msg.find("/some/dir/tuning.json"), std::string::npos) << cut << ": " << msg;
  }
  EXPECT_NE(parse_error("[1, 2]").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(parse_error("{\"format\": 1, \"qjit_version\": \"" + std::string(qjit_version()) + "\"}").find("records"),
            std::string::npos);
}

TEST(TuningDb, WrongTypesAndMissingFieldsNameRecordAndField) {
  struct Case {
    const char* field;
    const char* value;  // "" removes the field
  } cases[] = {{"n", "\"4096\""},
               {"n", ""},
               {"k", "4096.5"},
               {"m_bucket", "true"},
               {"has_bias", "0"},
               {"op", "\"gemm_f8\""},
               {"in_dtype", "7"},
               {"out_dtype", "\"bf17\""},
               {"device", "\"\""},
               {"device", ""},
               {"arch", "75"},
               {"time_us", "\"fast\""},
               {"time_us", ""},
               {"candidates", "-1"},
               {"family", "\"gemm_sm70\""},
               {"family", "\"quantize\""},
               {"swap_ab", "null"},
               {"stages", "1e400"},
               {"split_k", ""},
               {"warps_n", ""}};
  for (const auto& c : cases) {
    const std::string msg = parse_error(one_record_with(c.field, c.value));
    EXPECT_NE(msg.find("/some/dir/tuning.json"), std::string::npos) << c.field << ": " << msg;
    EXPECT_NE(msg.find("records[0]"), std::string::npos) << c.field << ": " << msg;
    EXPECT_NE(msg.find("'" + std::string(c.field) + "'"), std::string::npos) << c.field << ": " << msg;
    EXPECT_NE(msg.find("must be"), std::string::npos) << c.field << ": " << msg;
  }
  const std::string unknown = parse_error(one_record_with("split_k", "1, \"splitk\": 4"));
  EXPECT_NE(unknown.find("unknown field 'splitk'"), std::string::npos) << unknown;
  std::string json = one_record_with("n", "4096");
  const auto config = json.find("\"config\": {");
  json.replace(config, json.find('}', config) + 1 - config, "\"config\": []");
  EXPECT_NE(parse_error(json).find("records[0]: field 'config' must be an object"), std::string::npos)
      << parse_error(json);
  const std::string v = "\"qjit_version\": \"" + std::string(qjit_version()) + "\"";
  EXPECT_NE(parse_error("{\"format\": 1, " + v + ", \"records\": {}}").find("'records'"), std::string::npos);
}

TEST(TuningDb, NonPositiveSizesAndTimesAreRefused) {
  for (const char* field : {"n", "k", "m_bucket", "sm_count", "block_m", "block_n", "block_k", "warps_m", "warps_n",
                            "stages", "split_k", "time_us"})
    for (const char* value : {"0", "-4"}) {
      const std::string msg = parse_error(one_record_with(field, value));
      EXPECT_NE(msg.find("'" + std::string(field) + "'"), std::string::npos) << field << "=" << value << ": " << msg;
    }
  EXPECT_NE(parse_error(one_record_with("m_bucket", "24")).find("power of two"), std::string::npos);
  EXPECT_NE(parse_error(one_record_with("n", "99999999999999999999")).find("'n'"), std::string::npos);
  EXPECT_EQ(parse_error(one_record_with("heuristic_time_us", "0")), "(parsed)");  // 0: heuristic not timed
}

TEST(TuningDb, SecondRecordErrorsNameItsIndexAndDuplicatesAreRefused) {
  TuningDb db;
  db.put(record(4096, 1, 1.0));
  db.put(record(4096, 2, 1.0));
  std::string json = db.to_json();
  const auto second = json.rfind("\"sm_count\": 132");
  json.replace(second, 15, "\"sm_count\": -1");
  EXPECT_NE(parse_error(json).find("records[1]: field 'sm_count'"), std::string::npos) << parse_error(json);
  std::string dup = db.to_json();
  dup.replace(dup.rfind("\"m_bucket\": 2"), 13, "\"m_bucket\": 1");
  EXPECT_NE(parse_error(dup).find("same key"), std::string::npos) << parse_error(dup);
}

TEST(TuningDb, UnreadableOrUnwritablePathsAreErrorsNotCrashes) {
  TempDir dir;
  // A directory where the file should be.
  ASSERT_EQ(::mkdir(dir.sub("adir").c_str(), 0700), 0);
  auto loaded = TuningDb::load(dir.sub("adir"));
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find(dir.sub("adir")), std::string::npos) << loaded.error().message();
  TuningDb db;
  db.put(record(4096, 1, 1.0));
  EXPECT_FALSE(db.save(dir.sub("adir")).ok());
  EXPECT_FALSE(db.save("").ok());
  // A parent that is a file, and (unless we are root, who may write anywhere) a read-only directory.
  write_text(dir.sub("plain"), "x");
  const Status under_file = db.save(dir.sub("plain/tuning.json"));
  EXPECT_EQ(under_file.code(), StatusCode::CacheIo) << under_file.to_string();
  ASSERT_EQ(::mkdir(dir.sub("ro").c_str(), 0500), 0);
  if (::geteuid() != 0) {
    const Status s = db.save(dir.sub("ro/tuning.json"));
    EXPECT_EQ(s.code(), StatusCode::CacheIo) << s.to_string();
    EXPECT_NE(s.message().find(dir.sub("ro")), std::string::npos) << s.message();
  }
  ::chmod(dir.sub("ro").c_str(), 0700);
}

TEST(TuningDb, DefaultPathFollowsEnvironment) {
  ::setenv("QJIT_TUNING_DB", "/tmp/x/my.json", 1);
  EXPECT_EQ(default_tuning_db_path(), "/tmp/x/my.json");
  ::unsetenv("QJIT_TUNING_DB");
  const char* old = std::getenv("QJIT_CACHE_DIR");
  const std::string saved = old ? old : "";
  ::setenv("QJIT_CACHE_DIR", "/tmp/qjit-cache-dir-test", 1);
  EXPECT_EQ(default_tuning_db_path(), "/tmp/qjit-cache-dir-test/tuning.json");
  if (old)
    ::setenv("QJIT_CACHE_DIR", saved.c_str(), 1);
  else
    ::unsetenv("QJIT_CACHE_DIR");
}

}  // namespace
}  // namespace qjit::autotune
