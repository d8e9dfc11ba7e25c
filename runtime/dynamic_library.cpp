// dlopen / dlsym with error reporting that says what was tried.
#include "runtime/dynamic_library.h"

#include <dlfcn.h>

namespace qjit::runtime {

Result<DynamicLibrary> DynamicLibrary::open(const std::string& override_path,
                                            std::initializer_list<const char*> candidates, StatusCode unavailable_code,
                                            const char* what) {
  std::string tried;
  std::string last_error;
  auto attempt = [&](const char* path) -> void* {
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!tried.empty()) tried += ", ";
    tried += path;
    if (!h) {
      const char* e = dlerror();
      last_error = e ? e : "unknown dlopen error";
    }
    return h;
  };
  DynamicLibrary lib;
  if (!override_path.empty()) {
    lib.handle_ = attempt(override_path.c_str());
    if (lib.handle_) lib.path_ = override_path;
  } else {
    for (const char* c : candidates) {
      if ((lib.handle_ = attempt(c))) {
        lib.path_ = c;
        break;
      }
    }
  }
  if (!lib.handle_)
    return Status(unavailable_code, std::string(what) + " could not be loaded (tried " + tried + "): " + last_error);
  return lib;
}

void* DynamicLibrary::symbol(const char* name) const { return handle_ ? dlsym(handle_, name) : nullptr; }

}  // namespace qjit::runtime
