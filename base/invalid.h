// The one constructor of an InvalidArgument Status for the library's internal code: `return invalid("x must be > 0,
// got -1");`. It depends on the public qjit/status.h alone, so every room may include it, codegen/ and runtime/
// (the lowest) included, without an include pointing up or sideways; base/ itself includes nothing of qjit's but the
// public headers.
#pragma once

#include <string>
#include <utility>

#include "qjit/status.h"

namespace qjit {

// A caller-supplied value is wrong; `message` names the field, what was expected and what was given.
inline Status invalid(std::string message) { return Status(StatusCode::InvalidArgument, std::move(message)); }

}  // namespace qjit
