//! Library and ABI versions. The crate is written against ABI 1; a library accepts callers of its own ABI and older
//! ones, so a library reporting an older ABI than this crate's is refused (once, at the first select).
use crate::error::{Error, Result};
use crate::sys;
use std::ffi::CStr;
use std::sync::OnceLock;

/// The ABI this crate's `sys` module declares.
pub const ABI_VERSION: u32 = sys::QJIT_ABI_VERSION;

/// The library's version string ("0.1.0").
pub fn version() -> &'static str {
    // SAFETY: static storage per the header.
    let p = unsafe { sys::qjit_version_string() };
    if p.is_null() {
        return "";
    }
    unsafe { CStr::from_ptr::<'static>(p) }.to_str().unwrap_or("")
}

/// (major, minor, patch) of the library.
pub fn version_numbers() -> (i32, i32, i32) {
    let (mut a, mut b, mut c) = (0, 0, 0);
    // SAFETY: three valid out pointers.
    unsafe { sys::qjit_version(&mut a, &mut b, &mut c) };
    (a, b, c)
}

/// The C ABI version of the loaded library.
pub fn abi_version() -> u32 {
    // SAFETY: no arguments, no state.
    unsafe { sys::qjit_abi_version() }
}

/// Ok when the loaded library serves this crate's ABI.
pub fn check_abi() -> Result<()> {
    static CHECKED: OnceLock<Result<()>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let lib = abi_version();
            if lib >= ABI_VERSION {
                Ok(())
            } else {
                Err(Error::Unsupported(format!(
                    "libqjit.so {} has C ABI version {lib}, older than the {ABI_VERSION} this crate was written for",
                    version()
                )))
            }
        })
        .clone()
}

/// The library's name for a status code ("InvalidArgument"; "?" when unknown).
pub fn status_name(code: i32) -> &'static str {
    // SAFETY: static storage per the header.
    let p = unsafe { sys::qjit_status_name(code) };
    if p.is_null() {
        return "?";
    }
    unsafe { CStr::from_ptr::<'static>(p) }.to_str().unwrap_or("?")
}
