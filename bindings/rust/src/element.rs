//! Element kinds and their host types. f16 and bf16 are 16-bit storage newtypes (no arithmetic beyond exact
//! conversions): engines hand qjit device pointers, and the host only needs conversions to build test data and
//! references. The traits are sealed: a type qjit has no kernel for cannot be named as an element.
use crate::sys;

/// The element kinds of qjit_c.h's `qjit_element`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementKind {
    F16,
    Bf16,
    F32,
    F64,
    S8,
    U8,
    S32,
}

impl ElementKind {
    /// The C ABI's value.
    pub fn to_raw(self) -> i32 {
        match self {
            ElementKind::F16 => sys::QJIT_F16,
            ElementKind::Bf16 => sys::QJIT_BF16,
            ElementKind::F32 => sys::QJIT_F32,
            ElementKind::F64 => sys::QJIT_F64,
            ElementKind::S8 => sys::QJIT_S8,
            ElementKind::U8 => sys::QJIT_U8,
            ElementKind::S32 => sys::QJIT_S32,
        }
    }
    /// The kind for a C value, if this crate knows it.
    pub fn from_raw(v: i32) -> Option<ElementKind> {
        Some(match v {
            sys::QJIT_F16 => ElementKind::F16,
            sys::QJIT_BF16 => ElementKind::Bf16,
            sys::QJIT_F32 => ElementKind::F32,
            sys::QJIT_F64 => ElementKind::F64,
            sys::QJIT_S8 => ElementKind::S8,
            sys::QJIT_U8 => ElementKind::U8,
            sys::QJIT_S32 => ElementKind::S32,
            _ => return None,
        })
    }
    /// The name the library prints ("bf16", "s8").
    pub fn name(self) -> &'static str {
        match self {
            ElementKind::F16 => "f16",
            ElementKind::Bf16 => "bf16",
            ElementKind::F32 => "f32",
            ElementKind::F64 => "f64",
            ElementKind::S8 => "s8",
            ElementKind::U8 => "u8",
            ElementKind::S32 => "s32",
        }
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ElementKind::S8 | ElementKind::U8 => 1,
            ElementKind::F16 | ElementKind::Bf16 => 2,
            ElementKind::F32 | ElementKind::S32 => 4,
            ElementKind::F64 => 8,
        }
    }
    pub fn is_floating(self) -> bool {
        matches!(self, ElementKind::F16 | ElementKind::Bf16 | ElementKind::F32 | ElementKind::F64)
    }
}

/// IEEE binary16, as its bits.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct F16(pub u16);

/// bfloat16, as its bits.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bf16(pub u16);

/// The seed's name for the int8 element.
pub type S8 = i8;

mod sealed {
    pub trait Sealed {}
}

/// A type qjit knows as an element of a device tensor.
pub trait Element: sealed::Sealed + Copy + Send + Sync + 'static {
    const KIND: ElementKind;
}
/// The floating element kinds a plan computes in: f16, bf16, f32, f64.
pub trait FloatElement: Element {}
/// The integer element kinds of quantized operands.
pub trait IntElement: Element {}

macro_rules! element {
    ($t:ty, $kind:ident, $class:ident) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const KIND: ElementKind = ElementKind::$kind;
        }
        impl $class for $t {}
    };
}
element!(F16, F16, FloatElement);
element!(Bf16, Bf16, FloatElement);
element!(f32, F32, FloatElement);
element!(f64, F64, FloatElement);
element!(i8, S8, IntElement);
element!(u8, U8, IntElement);
element!(i32, S32, IntElement);

impl Bf16 {
    /// Rounds to nearest even; NaN stays NaN (quiet).
    pub fn from_f32(f: f32) -> Bf16 {
        let x = f.to_bits();
        if x & 0x7fff_ffff > 0x7f80_0000 {
            return Bf16(((x >> 16) | 0x40) as u16);
        }
        let rounding = 0x7fff + ((x >> 16) & 1);
        Bf16((x.wrapping_add(rounding) >> 16) as u16)
    }
    /// Exact.
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }
}

impl F16 {
    /// Rounds to nearest even; overflow goes to infinity, NaN stays NaN.
    pub fn from_f32(f: f32) -> F16 {
        let x = f.to_bits();
        let sign = ((x >> 16) & 0x8000) as u16;
        let abs = x & 0x7fff_ffff;
        if abs > 0x7f80_0000 {
            return F16(sign | 0x7e00);
        }
        if abs >= 0x477f_f000 {
            return F16(sign | 0x7c00);
        }
        if abs < 0x3880_0000 {
            if abs < 0x3300_0000 {
                return F16(sign);
            }
            let e = abs >> 23;
            let m = (abs & 0x7f_ffff) | 0x80_0000;
            let shift = 126 - e;
            let q = m >> shift;
            let rem = m & ((1 << shift) - 1);
            let half = 1 << (shift - 1);
            let r = q + u32::from(rem > half || (rem == half && q & 1 == 1));
            return F16(sign | r as u16);
        }
        let mut r = abs - 0x3800_0000;
        let rem = r & 0x1fff;
        r >>= 13;
        if rem > 0x1000 || (rem == 0x1000 && r & 1 == 1) {
            r += 1;
        }
        F16(sign | r as u16)
    }
    /// Exact.
    pub fn to_f32(self) -> f32 {
        let h = self.0 as u32;
        let sign = (h & 0x8000) << 16;
        let exp = (h >> 10) & 0x1f;
        let mant = h & 0x3ff;
        let bits = if exp == 0x1f {
            sign | 0x7f80_0000 | (mant << 13)
        } else if exp != 0 {
            sign | ((exp + 112) << 23) | (mant << 13)
        } else if mant == 0 {
            sign
        } else {
            let (mut e, mut m) = (113u32, mant);
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        };
        f32::from_bits(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversions_round_to_nearest_even() {
        assert_eq!(Bf16::from_f32(1.0).0, 0x3f80);
        assert_eq!(Bf16::from_f32(1.0 + 1.0 / 256.0).0, 0x3f80); // tie -> even
        assert_eq!(Bf16::from_f32(1.0 + 3.0 / 256.0).0, 0x3f82); // tie -> even (up)
        assert!(Bf16::from_f32(f32::NAN).to_f32().is_nan());
        assert_eq!(F16::from_f32(1.0).0, 0x3c00);
        assert_eq!(F16::from_f32(65520.0).0, 0x7c00);
        assert_eq!(F16::from_f32(-2.0).to_f32(), -2.0);
        assert_eq!(F16(0x0001).to_f32(), 2f32.powi(-24));
        assert_eq!(F16::from_f32(2f32.powi(-24)).0, 0x0001);
        for bits in [0x3555u16, 0x0200, 0x7bff, 0x8001] {
            assert_eq!(F16::from_f32(F16(bits).to_f32()).0, bits);
        }
    }

    #[test]
    fn kinds_round_trip_through_the_c_values() {
        for k in [ElementKind::F16, ElementKind::Bf16, ElementKind::F32, ElementKind::F64, ElementKind::S8,
                  ElementKind::U8, ElementKind::S32] {
            assert_eq!(ElementKind::from_raw(k.to_raw()), Some(k));
        }
        assert_eq!(ElementKind::from_raw(99), None);
        assert_eq!(<Bf16 as Element>::KIND.name(), "bf16");
        assert_eq!(<i8 as Element>::KIND.size(), 1);
    }
}
