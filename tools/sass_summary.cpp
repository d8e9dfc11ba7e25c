// SASS summaries (see sass_summary.h): parsing disassembler text and running the disassembler on a temporary file.
#include "tools/sass_summary.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

namespace qjit::tools {
namespace {

bool all_hex(llvm::StringRef s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// The integer after "NAME:" in `line`, if present.
std::optional<int> field(llvm::StringRef line, llvm::StringRef name) {
  for (size_t pos = line.find(name); pos != llvm::StringRef::npos; pos = line.find(name, pos + 1)) {
    // A whole word: "LOCAL:" must not match inside "NONLOCAL:".
    if (pos > 0 && std::isalpha(static_cast<unsigned char>(line[pos - 1]))) continue;
    llvm::StringRef rest = line.drop_front(pos + name.size());
    if (!rest.consume_front(":")) continue;
    int value = 0;
    if (!rest.consumeInteger(10, value)) return value;
  }
  return std::nullopt;
}

// Runs `program args... file` and returns its standard output.
Result<std::string> run_tool(const std::string& program, std::vector<llvm::StringRef> args) {
  llvm::SmallString<128> out_path, err_path;
  if (llvm::sys::fs::createTemporaryFile("qjit-inspect", "txt", out_path) ||
      llvm::sys::fs::createTemporaryFile("qjit-inspect", "err", err_path))
    return Status(StatusCode::CacheIo, "cannot create a temporary file for " + program + "'s output");
  llvm::FileRemover out_remover(out_path), err_remover(err_path);
  std::string message;
  const llvm::Optional<llvm::StringRef> redirects[] = {llvm::None, llvm::StringRef(out_path),
                                                       llvm::StringRef(err_path)};
  const int rc = llvm::sys::ExecuteAndWait(program, args, llvm::None, redirects, /*SecondsToWait=*/120, 0, &message);
  auto out = llvm::MemoryBuffer::getFile(out_path);
  if (rc != 0) {
    auto err = llvm::MemoryBuffer::getFile(err_path);
    std::string detail = err ? (*err)->getBuffer().trim().str() : "";
    return Status(StatusCode::Unsupported, program + " failed (exit " + std::to_string(rc) + ")" +
                                               (message.empty() ? "" : ": " + message) +
                                               (detail.empty() ? "" : ": " + detail));
  }
  if (!out) return Status(StatusCode::CacheIo, "cannot read " + program + "'s output");
  return (*out)->getBuffer().str();
}

}  // namespace

std::int64_t SassSummary::count(std::string_view mnemonic) const {
  for (const auto& [name, n] : mnemonics)
    if (name == mnemonic) return n;
  return 0;
}

void count_sass_mnemonics(std::string_view disassembly, SassSummary* out) {
  std::map<std::string, std::int64_t> counts;
  llvm::StringRef rest(disassembly.data(), disassembly.size());
  while (!rest.empty()) {
    llvm::StringRef line;
    std::tie(line, rest) = rest.split('\n');
    line = line.trim();
    // "/*0a30*/  @!P0 IMMA.16816.S8.S8 R4, R8.ROW, R12.COL, R4 ;   /* 0x... */"
    if (!line.consume_front("/*")) continue;
    const size_t close = line.find("*/");
    if (close == llvm::StringRef::npos || !all_hex(line.take_front(close))) continue;  // not an address
    line = line.drop_front(close + 2).ltrim();
    line.consume_front("{");  // dual-issue groups of older archs
    line = line.ltrim();
    if (line.startswith("@")) line = line.drop_until([](char c) { return c == ' ' || c == '\t'; }).ltrim();
    llvm::StringRef op = line.take_until([](char c) { return c == ' ' || c == '\t' || c == ';'; });
    op = op.take_until([](char c) { return c == '.'; });
    if (op.empty() || !std::isupper(static_cast<unsigned char>(op[0]))) continue;
    ++counts[op.str()];
    ++out->instructions;
  }
  out->mnemonics.assign(counts.begin(), counts.end());
  std::stable_sort(out->mnemonics.begin(), out->mnemonics.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
}

void parse_resource_usage(std::string_view text, std::string_view entry, SassSummary* out) {
  llvm::StringRef rest(text.data(), text.size());
  bool in_function = false;
  while (!rest.empty()) {
    llvm::StringRef line;
    std::tie(line, rest) = rest.split('\n');
    line = line.trim();
    if (line.consume_front("Function ")) {
      in_function = line.rtrim(':') == llvm::StringRef(entry.data(), entry.size());
      continue;
    }
    if (!in_function) continue;
    if (auto v = field(line, "REG")) out->registers = v;
    if (auto v = field(line, "STACK")) out->stack_bytes = v;
    if (auto v = field(line, "LOCAL")) out->local_bytes = v;
    if (out->registers) return;
  }
}

Result<SassSummary> summarize_cubin(const std::vector<std::uint8_t>& cubin, std::string_view entry) {
  auto cuobjdump = llvm::sys::findProgramByName("cuobjdump");
  auto nvdisasm = cuobjdump ? cuobjdump : llvm::sys::findProgramByName("nvdisasm");
  if (!nvdisasm)
    return Status(StatusCode::Unsupported, "neither cuobjdump nor nvdisasm is in PATH (add the CUDA toolkit's bin/)");
  llvm::SmallString<128> path;
  int fd = -1;
  if (llvm::sys::fs::createTemporaryFile("qjit-inspect", "cubin", fd, path))
    return Status(StatusCode::CacheIo, "cannot create a temporary file for the cubin");
  llvm::FileRemover remover(path);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(reinterpret_cast<const char*>(cubin.data()), cubin.size());
  }
  SassSummary s;
  if (cuobjdump) {
    s.tool = "cuobjdump";
    QJIT_ASSIGN_OR_RETURN(std::string sass, run_tool(*cuobjdump, {*cuobjdump, "-sass", path}));
    count_sass_mnemonics(sass, &s);
    if (auto usage = run_tool(*cuobjdump, {*cuobjdump, "-res-usage", path}); usage.has_value())
      parse_resource_usage(*usage, entry, &s);
  } else {
    s.tool = "nvdisasm";
    QJIT_ASSIGN_OR_RETURN(std::string sass, run_tool(*nvdisasm, {*nvdisasm, "-c", path}));
    count_sass_mnemonics(sass, &s);
  }
  if (s.instructions == 0) return Status(StatusCode::Unsupported, s.tool + " printed no instructions for the cubin");
  return s;
}

}  // namespace qjit::tools
