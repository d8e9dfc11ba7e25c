//! Errors: one variant per qjit status code, each carrying the library's message verbatim (it names the field and
//! what was expected), so a Rust caller can branch on the kind and log the text. `Display` prints
//! `"<Code>: <message>"`, the same text as the C++ API's `Status::to_string`.
use crate::sys;
use std::ffi::CStr;
use std::fmt;

/// A failed qjit call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A caller-supplied value is wrong (shape, pointer, alignment, dtype, NaN).
    InvalidArgument(String),
    /// A valid request this build or device cannot serve.
    Unsupported(String),
    /// NVRTC rejected the rendered source; the message carries the log.
    CompileFailed(String),
    /// A CUDA driver call failed; the message names the call and the CUresult.
    DriverError(String),
    /// libcuda could not be loaded or has no usable device.
    DriverUnavailable(String),
    /// libnvrtc could not be loaded (a warm cache still works without it).
    CompilerUnavailable(String),
    /// The kernel cache could not be read or written.
    CacheIo(String),
    /// The kernel needs more registers or shared memory than the device has.
    OutOfResources(String),
    /// A looked-up entry does not exist.
    NotFound(String),
    /// A bug in qjit; the message says where. Also what a status code this crate does not know becomes.
    Internal(String),
}

/// `std::result::Result` with qjit's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds the error for a C status code (`code` != QJIT_OK) and message.
    pub fn from_code(code: i32, message: String) -> Error {
        match code {
            sys::QJIT_INVALID_ARGUMENT => Error::InvalidArgument(message),
            sys::QJIT_UNSUPPORTED => Error::Unsupported(message),
            sys::QJIT_COMPILE_FAILED => Error::CompileFailed(message),
            sys::QJIT_DRIVER_ERROR => Error::DriverError(message),
            sys::QJIT_DRIVER_UNAVAILABLE => Error::DriverUnavailable(message),
            sys::QJIT_COMPILER_UNAVAILABLE => Error::CompilerUnavailable(message),
            sys::QJIT_CACHE_IO => Error::CacheIo(message),
            sys::QJIT_OUT_OF_RESOURCES => Error::OutOfResources(message),
            sys::QJIT_NOT_FOUND => Error::NotFound(message),
            sys::QJIT_INTERNAL => Error::Internal(message),
            other => Error::Internal(format!("qjit returned status code {other}, unknown to this crate: {message}")),
        }
    }

    /// The C ABI's status code (`qjit_status`): 1 for InvalidArgument ... 10 for Internal.
    pub fn code(&self) -> i32 {
        match self {
            Error::InvalidArgument(_) => sys::QJIT_INVALID_ARGUMENT,
            Error::Unsupported(_) => sys::QJIT_UNSUPPORTED,
            Error::CompileFailed(_) => sys::QJIT_COMPILE_FAILED,
            Error::DriverError(_) => sys::QJIT_DRIVER_ERROR,
            Error::DriverUnavailable(_) => sys::QJIT_DRIVER_UNAVAILABLE,
            Error::CompilerUnavailable(_) => sys::QJIT_COMPILER_UNAVAILABLE,
            Error::CacheIo(_) => sys::QJIT_CACHE_IO,
            Error::OutOfResources(_) => sys::QJIT_OUT_OF_RESOURCES,
            Error::NotFound(_) => sys::QJIT_NOT_FOUND,
            Error::Internal(_) => sys::QJIT_INTERNAL,
        }
    }

    /// The code's name as the library spells it ("InvalidArgument").
    pub fn name(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::Unsupported(_) => "Unsupported",
            Error::CompileFailed(_) => "CompileFailed",
            Error::DriverError(_) => "DriverError",
            Error::DriverUnavailable(_) => "DriverUnavailable",
            Error::CompilerUnavailable(_) => "CompilerUnavailable",
            Error::CacheIo(_) => "CacheIo",
            Error::OutOfResources(_) => "OutOfResources",
            Error::NotFound(_) => "NotFound",
            Error::Internal(_) => "Internal",
        }
    }

    /// The library's message, without the code prefix.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidArgument(m)
            | Error::Unsupported(m)
            | Error::CompileFailed(m)
            | Error::DriverError(m)
            | Error::DriverUnavailable(m)
            | Error::CompilerUnavailable(m)
            | Error::CacheIo(m)
            | Error::OutOfResources(m)
            | Error::NotFound(m)
            | Error::Internal(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.message())
    }
}

impl std::error::Error for Error {}

/// Turns a C status into a Result, reading this thread's last-error message right away (it lives only until the
/// thread's next failing qjit call).
pub(crate) fn check(code: i32) -> Result<()> {
    if code == sys::QJIT_OK {
        return Ok(());
    }
    // SAFETY: the library returns a NUL-terminated string it keeps until this thread's next failing call; we copy
    // it before making any other call.
    let message = unsafe {
        let p = sys::qjit_last_error_message();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    Err(Error::from_code(code, message))
}

/// Reads a string the library returns through `(buf, capacity) -> needed`: first into a stack-sized buffer, then
/// again with the length the first call reported when that was not enough.
pub(crate) fn read_string(mut fill: impl FnMut(*mut std::ffi::c_char, usize) -> usize) -> String {
    let mut buf = vec![0u8; 512];
    loop {
        let needed = fill(buf.as_mut_ptr().cast(), buf.len());
        if needed <= buf.len() {
            break;
        }
        // NOTE: `needed` includes the NUL per the header; one spare byte keeps a library that counts without it
        // from truncating the last character.
        buf = vec![0u8; needed + 1];
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
