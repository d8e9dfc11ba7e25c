// A dlopen'ed shared library and typed symbol lookup, shared by the driver and NVRTC loaders. A handle is never
// closed: function tables built from it live for the whole process.
#pragma once

#include <initializer_list>
#include <string>

#include "qjit/status.h"

namespace qjit::runtime {

class DynamicLibrary {
 public:
  // Tries `override_path` (when non-empty: only it), else each candidate in order. On failure the Status lists
  // every name tried and dlerror()'s last word.
  static Result<DynamicLibrary> open(const std::string& override_path, std::initializer_list<const char*> candidates,
                                     StatusCode unavailable_code, const char* what);
  void* symbol(const char* name) const;
  const std::string& path() const { return path_; }

  // Looks up `name` into `fn`; false (and a message in *missing) if absent.
  template <class Fn>
  bool bind(Fn*& fn, const char* name, std::string* missing) const {
    fn = reinterpret_cast<Fn*>(symbol(name));
    if (!fn && missing) {
      if (!missing->empty()) *missing += ", ";
      *missing += name;
    }
    return fn != nullptr;
  }

 private:
  void* handle_ = nullptr;
  std::string path_;
};

}  // namespace qjit::runtime
