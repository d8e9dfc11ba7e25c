// Element kinds and their host storage types. f16 and bf16 are plain 16-bit storage structs (no arithmetic):
// engines hand qjit device pointers, and the host only needs exact conversions to build references and test data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace qjit {

enum class ElementKind : std::uint8_t { F16, BF16, F32, F64, S8, U8, S32 };

struct f16 {
  std::uint16_t bits = 0;
};
struct bf16 {
  std::uint16_t bits = 0;
};

constexpr std::size_t element_size(ElementKind kind) noexcept {
  switch (kind) {
    case ElementKind::F16:
    case ElementKind::BF16: return 2;
    case ElementKind::F32:
    case ElementKind::S32: return 4;
    case ElementKind::F64: return 8;
    case ElementKind::S8:
    case ElementKind::U8: return 1;
  }
  return 0;
}

constexpr std::string_view element_name(ElementKind kind) noexcept {
  switch (kind) {
    case ElementKind::F16: return "f16";
    case ElementKind::BF16: return "bf16";
    case ElementKind::F32: return "f32";
    case ElementKind::F64: return "f64";
    case ElementKind::S8: return "s8";
    case ElementKind::U8: return "u8";
    case ElementKind::S32: return "s32";
  }
  return "?";
}

constexpr bool is_floating(ElementKind kind) noexcept {
  return kind == ElementKind::F16 || kind == ElementKind::BF16 || kind == ElementKind::F32 || kind == ElementKind::F64;
}

template <class T>
struct ElementTraits;  // undefined for types qjit does not know
template <>
struct ElementTraits<f16> {
  static constexpr ElementKind kKind = ElementKind::F16;
};
template <>
struct ElementTraits<bf16> {
  static constexpr ElementKind kKind = ElementKind::BF16;
};
template <>
struct ElementTraits<float> {
  static constexpr ElementKind kKind = ElementKind::F32;
};
template <>
struct ElementTraits<double> {
  static constexpr ElementKind kKind = ElementKind::F64;
};
template <>
struct ElementTraits<std::int8_t> {
  static constexpr ElementKind kKind = ElementKind::S8;
};
template <>
struct ElementTraits<std::uint8_t> {
  static constexpr ElementKind kKind = ElementKind::U8;
};
template <>
struct ElementTraits<std::int32_t> {
  static constexpr ElementKind kKind = ElementKind::S32;
};

template <class T>
concept Element = requires {
  ElementTraits<std::remove_cv_t<T>>::kKind;
};
template <class T>
concept FloatElement = Element<T> && is_floating(ElementTraits<std::remove_cv_t<T>>::kKind);

template <Element T>
inline constexpr ElementKind kind_of = ElementTraits<std::remove_cv_t<T>>::kKind;

// ---- exact host conversions (round to nearest even, NaN stays NaN, overflow goes to infinity) ----

inline float f16_to_float(f16 h) noexcept {
  const std::uint32_t sign = (h.bits & 0x8000u) << 16;
  std::uint32_t exp = (h.bits >> 10) & 0x1fu;
  std::uint32_t mant = h.bits & 0x3ffu;
  std::uint32_t out;
  if (exp == 0x1f) {
    out = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    out = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    out = sign;
  } else {  // subnormal: normalise
    exp = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    out = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &out, 4);
  return f;
}

inline f16 float_to_f16(float f) noexcept {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return f16{static_cast<std::uint16_t>(sign | 0x7e00u)};   // NaN
  if (abs >= 0x477ff000u) return f16{static_cast<std::uint16_t>(sign | 0x7c00u)};  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {                    // below the smallest normal f16: subnormal or zero
    if (abs < 0x33000000u) return f16{sign};  // < 2^-25 rounds to zero
    const std::uint32_t e = abs >> 23;
    const std::uint32_t m = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - e;  // 14 + (112 - e) + 1 ... maps 2^-24 to 1 ulp
    const std::uint32_t q = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    std::uint32_t r = q + ((rem > half || (rem == half && (q & 1))) ? 1 : 0);
    return f16{static_cast<std::uint16_t>(sign | r)};
  }
  std::uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  const std::uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
  return f16{static_cast<std::uint16_t>(sign | r)};
}

inline float bf16_to_float(bf16 b) noexcept {
  const std::uint32_t x = static_cast<std::uint32_t>(b.bits) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

inline bf16 float_to_bf16(float f) noexcept {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((x >> 16) | 0x40u)};  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return bf16{static_cast<std::uint16_t>((x + rounding) >> 16)};
}

// Widening to double for references; narrowing from double rounds once (via float for f16/bf16, which is exact
// enough for test data since every value we narrow is first produced in f32 by the contract's epilogue).
template <FloatElement T>
inline double to_double(T v) noexcept {
  if constexpr (std::is_same_v<T, f16>)
    return f16_to_float(v);
  else if constexpr (std::is_same_v<T, bf16>)
    return bf16_to_float(v);
  else
    return static_cast<double>(v);
}

template <FloatElement T>
inline T from_float(float v) noexcept {
  if constexpr (std::is_same_v<T, f16>)
    return float_to_f16(v);
  else if constexpr (std::is_same_v<T, bf16>)
    return float_to_bf16(v);
  else
    return static_cast<T>(v);
}

}  // namespace qjit
