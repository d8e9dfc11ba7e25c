#!/usr/bin/env python3
"""The rooms' one-way include rule (docs/ARCHITECTURE.md, "Rooms"): every `#include "room/..."` in a room's
sources must name the room itself or one the table allows. Prints each violation (file:line, the include, what the
room may include) and exits 1; exits 0 when the tree keeps the rule."""
import pathlib
import re
import sys

ALLOWED = {
    "base": {"qjit"},
    "runtime": {"base", "qjit", "llvm"},
    "cache": {"runtime", "base", "qjit", "llvm"},
    "codegen": {"runtime", "base", "templates", "qjit", "llvm"},
    "jit": {"codegen", "cache", "runtime", "base", "templates", "qjit", "llvm"},
    "autotune": {"jit", "codegen", "cache", "runtime", "base", "qjit", "llvm"},
    "ops": {"autotune", "jit", "codegen", "cache", "runtime", "base", "qjit", "llvm"},
    "quant": {"runtime", "base", "qjit", "llvm"},
    "perf": {"autotune", "runtime", "base", "qjit", "llvm"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def main(root: pathlib.Path) -> int:
    bad = []
    for room, allowed in ALLOWED.items():
        for path in sorted((root / room).rglob("*")):
            if path.suffix not in {".h", ".cpp", ".c"}:
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if m and m.group(1) != room and m.group(1) not in allowed:
                    bad.append(f"{path.relative_to(root)}:{n}: includes {m.group(1)}/ but {room}/ may include only "
                               f"{', '.join(sorted(allowed))}")
    for b in bad:
        print(b)
    print(f"include directions: {len(bad)} violation(s) in {len(ALLOWED)} rooms")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
