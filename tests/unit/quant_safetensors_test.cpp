// safetensors reader and writer: round trips of every supported dtype (with metadata, scalars and empty tensors),
// header alignment, atomic file writes, and one test per kind of malformed input the reader must refuse.
#include <cstring>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "qjit/quant/safetensors.h"

namespace qjit::quant {
namespace {

std::vector<std::byte> image(const std::string& header, std::size_t data_bytes) {
  std::vector<std::byte> out(8 + header.size() + data_bytes, std::byte{0});
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

Status parse_error(const std::string& header, std::size_t data_bytes) {
  auto f = SafetensorsFile::parse(image(header, data_bytes), "t.safetensors");
  return f.has_value() ? Status() : f.error();
}

TEST(QuantSafetensorsTest, RoundTripsEveryDtypeWithMetadataAndAlignment) {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  const std::vector<float> f = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 7.0f};
  const std::vector<std::int8_t> q = {-128, 0, 127};
  const std::vector<std::int32_t> i = {-5};
  const std::vector<f16> h = {float_to_f16(1.5f), float_to_f16(-0.25f)};
  const std::vector<bf16> b = {float_to_bf16(3.0f), float_to_bf16(-1.0f)};
  ASSERT_TRUE(w.add_typed<float>("layer.weight", {2, 3}, f).ok());
  ASSERT_TRUE(w.add_typed<std::int8_t>("layer.q", {3}, q).ok());
  ASSERT_TRUE(w.add_typed<std::int32_t>("scalar", {}, i).ok());
  ASSERT_TRUE(w.add_typed<f16>("half", {2}, h).ok());
  ASSERT_TRUE(w.add_typed<bf16>("brain", {1, 2}, b).ok());
  ASSERT_TRUE(w.add_typed<float>("empty", {0, 4}, std::span<const float>()).ok());
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.has_value());
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, bytes->data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);
  auto file = SafetensorsFile::parse(*bytes);
  ASSERT_TRUE(file.has_value()) << file.error().to_string();
  EXPECT_EQ(file->metadata().at("format"), "pt");
  ASSERT_EQ(file->tensors().size(), 6u);
  EXPECT_EQ(file->tensors()[0].name, "brain");  // listed sorted by name
  const TensorInfo* t = file->find("layer.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(*file->read_f32("layer.weight"), f);
  EXPECT_EQ(*file->read_f32("half"), (std::vector<float>{1.5f, -0.25f}));
  EXPECT_EQ(*file->read_f32("brain"), (std::vector<float>{3.0f, -1.0f}));
  auto qb = *file->read_bytes(*file->find("layer.q"));
  EXPECT_EQ(std::memcmp(qb.data(), q.data(), 3), 0);
  EXPECT_EQ(file->find("scalar")->numel(), 1);
  EXPECT_EQ(file->find("empty")->nbytes(), 0u);
  EXPECT_EQ(file->find("missing"), nullptr);
  EXPECT_EQ(file->read_f32("missing").error().code(), StatusCode::NotFound);
  EXPECT_FALSE(file->read_f32("layer.q").has_value());
  // The header is plain JSON that other readers accept.
  auto json = llvm::json::parse(llvm::StringRef(reinterpret_cast<const char*>(bytes->data()) + 8, header_len));
  ASSERT_TRUE(static_cast<bool>(json));
}

// Every dtype the format names is read, described and written back byte for byte (qjit only decodes F32/F16/BF16,
// but a model's I64 position ids, BOOL masks or F8 tensors must survive a copy).
TEST(QuantSafetensorsTest, EveryFormatDtypeRoundTripsByteExact) {
  const char* names[] = {"BOOL",    "U8",      "I8",      "I16",     "U16",     "I32", "U32",  "I64", "U64", "F4",
                         "F6_E2M3", "F6_E3M2", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F16", "BF16", "F32", "F64"};
  SafetensorsWriter w;
  std::map<std::string, std::vector<std::byte>> data;
  for (const char* n : names) {
    auto d = parse_safetensors_dtype(n);
    ASSERT_TRUE(d.has_value()) << n;
    EXPECT_EQ(d->name(), n);
    std::vector<std::byte> bytes(static_cast<std::size_t>(4 * d->bits() / 8));  // 4 elements (F6: 3 bytes)
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 37 + std::strlen(n));
    ASSERT_TRUE(w.add(std::string("t.") + n, *d, {2, 2}, bytes).ok()) << n;
    data[std::string("t.") + n] = bytes;
  }
  auto image = w.serialize();
  ASSERT_TRUE(image.has_value());
  auto file = SafetensorsFile::parse(*image);
  ASSERT_TRUE(file.has_value()) << file.error().to_string();
  for (const auto& [name, bytes] : data) {
    const TensorInfo* t = file->find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ("t." + std::string(t->dtype.name()), name);
    EXPECT_EQ(*file->read_bytes(*t), bytes) << name;
    EXPECT_EQ(file->read_f32(name).has_value(), t->dtype.readable_as_f32()) << name;
  }
  EXPECT_EQ(file->find("t.I64")->dtype.element(), std::nullopt);
  EXPECT_EQ(file->find("t.I8")->dtype, ElementKind::S8);
}

TEST(QuantSafetensorsTest, StreamedTensorsAndAtomicFileWrite) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qjit-st", dir));
  const std::string path = std::string(dir) + "/m.safetensors";
  SafetensorsWriter w;
  int calls = 0;
  ASSERT_TRUE(w.add_streamed("s", ElementKind::S32, {4}, [&](std::span<std::byte> out) {
                 ++calls;
                 for (int i = 0; i < 4; ++i) std::memcpy(out.data() + 4 * i, &i, 4);
                 return Status();
               }).ok());
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_EQ(calls, 1);
  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.has_value()) << file.error().to_string();
  std::int32_t v[4];
  std::memcpy(v, file->read_bytes(file->tensors()[0])->data(), 16);
  EXPECT_EQ(v[3], 3);
  SafetensorsWriter failing;
  ASSERT_TRUE(failing
                  .add_streamed("x", ElementKind::F32, {1},
                                [](std::span<std::byte>) { return Status(StatusCode::InvalidArgument, "boom"); })
                  .ok());
  Status s = failing.write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("boom"), std::string::npos);
  EXPECT_TRUE(SafetensorsFile::open(path).has_value());  // the old file survived the failed write
  std::error_code ec;
  int leftovers = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec)) ++leftovers;
  EXPECT_EQ(leftovers, 1);  // no temporary left behind
  llvm::sys::fs::remove_directories(dir);
}

// A failure of the file system while writing is an I/O error naming the file, not an InvalidArgument: here the
// producer deletes the writer's temporary from under it, so the final rename finds nothing to move.
TEST(QuantSafetensorsTest, FailedRenameIsAnIoErrorNamingThePath) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qjit-st", dir));
  const std::string path = std::string(dir) + "/m.safetensors";
  SafetensorsWriter w;
  int removed = 0;
  ASSERT_TRUE(w.add_streamed("x", ElementKind::F32, {1}, [&](std::span<std::byte> out) {
                 std::memset(out.data(), 0, out.size());
                 std::error_code ec;
                 for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec))
                   if (llvm::StringRef(it->path()).contains(".tmp-") && !llvm::sys::fs::remove(it->path())) ++removed;
                 return Status();
               }).ok());
  Status s = w.write(path);
  ASSERT_EQ(removed, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::CacheIo) << s.to_string();
  EXPECT_NE(s.message().find("cannot rename"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("to '" + path + "'"), std::string::npos) << s.message();
  EXPECT_FALSE(llvm::sys::fs::exists(path));
  llvm::sys::fs::remove_directories(dir);
}

TEST(QuantSafetensorsTest, WriterRejectsBadEntries) {
  SafetensorsWriter w;
  const std::vector<float> one = {1.0f};
  ASSERT_TRUE(w.add_typed<float>("a", {1}, one).ok());
  EXPECT_NE(w.add_typed<float>("a", {1}, one).message().find("unique"), std::string::npos);
  EXPECT_FALSE(w.add_typed<float>("", {1}, one).ok());
  EXPECT_FALSE(w.add_typed<float>("__metadata__", {1}, one).ok());
  EXPECT_EQ(w.add_typed<float>("b", {2}, one).message(),
            "bytes.size() of \"b\" must equal numel * itemsize = 8, got 4");
  EXPECT_FALSE(w.add_typed<float>("c", {-1}, one).ok());
  const std::vector<double> d = {1.0};
  EXPECT_TRUE(w.add_typed<double>("d", {1}, d).ok());  // F64 is a format dtype like any other
  EXPECT_FALSE(w.add_streamed("e", ElementKind::F32, {1}, nullptr).ok());
}

TEST(QuantSafetensorsTest, RejectsMalformedFilesWithClearErrors) {
  EXPECT_NE(SafetensorsFile::parse(std::vector<std::byte>(5)).error().message().find("file size must be >= 8"),
            std::string::npos);
  auto too_long = image("{}", 0);
  too_long[0] = std::byte{0xff};
  EXPECT_NE(SafetensorsFile::parse(too_long).error().message().find("header length must be <="), std::string::npos);
  EXPECT_NE(parse_error("{\"a\": ", 0).message().find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("[]", 0).message().find("must be a JSON object"), std::string::npos);
  Status dtype = parse_error(R"({"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})", 16);
  EXPECT_EQ(dtype.code(), StatusCode::Unsupported);
  EXPECT_NE(
      dtype.message().find("dtype must be one of the safetensors dtypes (BOOL, U8, I8, I16, U16, I32, U32, I64, "
                           "U64, F4, F6_E2M3, F6_E3M2, F8_E4M3, F8_E5M2, F8_E8M0, F16, BF16, F32, F64), got \"F128\""),
      std::string::npos)
      << dtype.message();
  // Packed sub-byte dtypes must fill whole bytes: three F4 values are 1.5 bytes.
  EXPECT_NE(parse_error(R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2)
                .message()
                .find("not a whole number of bytes"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)
                .message()
                .find("data_offsets end must be <= the data section size 8, got 16"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16)
                .message()
                .find("must span numel * itemsize = 12 bytes, got 16"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        12)
                .message()
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", 0)
                .message()
                .find("overflows"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"a":{"dtype":"I8","shape":[-1],"data_offsets":[0,0]}})", 0)
                .message()
                .find("shape[0] must be a non-negative integer"),
            std::string::npos);
  EXPECT_NE(
      parse_error(R"({"a":{"dtype":"I8","shape":[0],"data_offsets":[4,0]}})", 4).message().find("begin must be <= end"),
      std::string::npos);
  EXPECT_NE(parse_error(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0]}})", 1).message().find("two integers"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"__metadata__":{"k":1}})", 0).message().find("__metadata__"), std::string::npos);
  EXPECT_NE(parse_error(R"({"a":5})", 0).message().find("must map to an object"), std::string::npos);
  EXPECT_NE(parse_error(std::string(1000, '['), 0).message().find("nest at most"), std::string::npos);
  EXPECT_NE(SafetensorsFile::open("/nonexistent/x.safetensors").error().message().find("does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace qjit::quant
