//! The kernel cache's maintenance calls over the C ABI, for deployment tools: where the cache is, what it holds,
//! full verification, LRU pruning and clearing. Compiled kernels are cached automatically; none of this is needed
//! to run plans. `None` for a location means "from the environment" (QJIT_CACHE_DIR, QJIT_CACHE_PATH,
//! QJIT_CACHE_READONLY, QJIT_CACHE_MAX_BYTES), exactly as the plans resolve it.
use crate::error::{check, Error, Result};
use crate::sys;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Where the cache lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheLocation {
    /// The writable store; `None` for none.
    pub writable_dir: Option<String>,
    /// Read-only stores searched after it.
    pub readonly_dirs: Vec<String>,
    /// Never write, not even the writable store.
    pub read_only: bool,
    /// Bound on the writable store; 0 = unbounded.
    pub max_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheStoreUsage {
    pub dir: String,
    pub read_only: bool,
    /// False when the directory does not exist (yet).
    pub present: bool,
    pub entries: u64,
    pub bytes: u64,
    /// Unfinished writes (a writer died); pruning removes stale ones.
    pub temp_files: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// The writable store first.
    pub stores: Vec<CacheStoreUsage>,
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    pub temp_files: u64,
}

/// One entry file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CacheEntryReport {
    pub path: String,
    pub key_hex: String,
    pub store_dir: String,
    pub read_only_store: bool,
    pub bytes: u64,
    /// Seconds since the epoch (what pruning orders by).
    pub last_used: i64,
    pub entry_name: String,
    pub arch: String,
    pub nvrtc_version: String,
    pub registers: i32,
    pub shared_bytes: i32,
    pub compile_seconds: f64,
    pub ok: bool,
    /// Empty when ok.
    pub problem: String,
}

/// What `verify` found: every entry, with `bad` of them failing verification.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CacheVerifyReport {
    pub entries: Vec<CacheEntryReport>,
    pub bad: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachePruneReport {
    pub removed_entries: u64,
    pub removed_bytes: u64,
    pub removed_temp_files: u64,
    pub kept_entries: u64,
    pub kept_bytes: u64,
}

fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidArgument(format!("{what} must not contain a NUL byte, got {s:?}")))
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: the library hands NUL-terminated strings that live until the callback returns.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// The C location and the strings it points into (kept alive together).
struct CLocation {
    raw: sys::qjit_cache_location,
    _strings: (Option<CString>, Option<CString>),
}

impl CLocation {
    fn new(loc: &CacheLocation) -> Result<CLocation> {
        let w = loc.writable_dir.as_deref().map(|d| c_string(d, "CacheLocation.writable_dir")).transpose()?;
        let r = if loc.readonly_dirs.is_empty() {
            None
        } else {
            Some(c_string(&loc.readonly_dirs.join(":"), "CacheLocation.readonly_dirs")?)
        };
        let raw = sys::qjit_cache_location {
            struct_size: sys::struct_size::<sys::qjit_cache_location>(),
            writable_dir: w.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            readonly_dirs: r.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            read_only: loc.read_only as i32,
            max_bytes: loc.max_bytes,
        };
        Ok(CLocation { raw, _strings: (w, r) })
    }
}

/// Runs `f` with the C location for `loc` (NULL for `None`).
fn with_location<T>(loc: Option<&CacheLocation>, f: impl FnOnce(*const sys::qjit_cache_location) -> T) -> Result<T> {
    match loc {
        None => Ok(f(std::ptr::null())),
        Some(l) => {
            let c = CLocation::new(l)?;
            Ok(f(&c.raw))
        }
    }
}

/// The location the environment gives.
pub fn location_from_environment() -> Result<CacheLocation> {
    let (mut wn, mut rn, mut ro, mut max) = (0usize, 0usize, 0i32, 0u64);
    let mut w = vec![0u8; 4096];
    let mut r = vec![0u8; 4096];
    loop {
        // SAFETY: buffers of the stated capacities and valid out pointers.
        check(unsafe {
            sys::qjit_cache_location_from_environment(
                w.as_mut_ptr().cast(), w.len(), &mut wn, r.as_mut_ptr().cast(), r.len(), &mut rn, &mut ro, &mut max,
            )
        })?;
        if wn <= w.len() && rn <= r.len() {
            break;
        }
        w.resize(wn.max(w.len()) + 1, 0);
        r.resize(rn.max(r.len()) + 1, 0);
    }
    let cut = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let writable = cut(&w);
    let readonly = cut(&r);
    Ok(CacheLocation {
        writable_dir: (!writable.is_empty()).then_some(writable),
        readonly_dirs: readonly.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        read_only: ro != 0,
        max_bytes: max,
    })
}

unsafe extern "C" fn on_store(info: *const sys::qjit_cache_store_info, user: *mut c_void) -> c_int {
    // NOTE: a panic must not unwind into C; stop the walk instead.
    catch_unwind(AssertUnwindSafe(|| {
        let stores = &mut *(user as *mut Vec<CacheStoreUsage>);
        let i = &*info;
        stores.push(CacheStoreUsage {
            dir: text(i.dir),
            read_only: i.read_only != 0,
            present: i.present != 0,
            entries: i.entries,
            bytes: i.bytes,
            temp_files: i.temp_files,
        });
        0
    }))
    .unwrap_or(1)
}

/// What every store holds.
pub fn stats(location: Option<&CacheLocation>) -> Result<CacheStats> {
    let mut stores: Vec<CacheStoreUsage> = Vec::new();
    let mut out = sys::qjit_cache_stats {
        struct_size: sys::struct_size::<sys::qjit_cache_stats>(),
        entries: 0,
        bytes: 0,
        max_bytes: 0,
        stores: 0,
        temp_files: 0,
    };
    let code = with_location(location, |l| unsafe {
        // SAFETY: `stores` outlives the call; the callback casts `user` back to it.
        sys::qjit_cache_stats_get(l, &mut out, Some(on_store), (&mut stores as *mut Vec<CacheStoreUsage>).cast())
    })?;
    check(code)?;
    Ok(CacheStats { stores, entries: out.entries, bytes: out.bytes, max_bytes: out.max_bytes, temp_files: out.temp_files })
}

unsafe extern "C" fn on_entry(info: *const sys::qjit_cache_entry_info, user: *mut c_void) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        let entries = &mut *(user as *mut Vec<CacheEntryReport>);
        let e = &*info;
        entries.push(CacheEntryReport {
            path: text(e.path),
            key_hex: text(e.key_hex),
            store_dir: text(e.store_dir),
            read_only_store: e.read_only_store != 0,
            bytes: e.bytes,
            last_used: e.last_used,
            entry_name: text(e.entry_name),
            arch: text(e.arch),
            nvrtc_version: text(e.nvrtc_version),
            registers: e.registers,
            shared_bytes: e.shared_bytes,
            compile_seconds: e.compile_seconds,
            ok: e.ok != 0,
            problem: text(e.problem),
        });
        0
    }))
    .unwrap_or(1)
}

fn walk(location: Option<&CacheLocation>, flags: u32) -> (Vec<CacheEntryReport>, Result<()>) {
    let mut entries: Vec<CacheEntryReport> = Vec::new();
    let code = with_location(location, |l| unsafe {
        // SAFETY: `entries` outlives the call; the callback casts `user` back to it.
        sys::qjit_cache_list(l, flags, Some(on_entry), (&mut entries as *mut Vec<CacheEntryReport>).cast())
    });
    let r = code.and_then(check);
    (entries, r)
}

/// Every entry of every store, header and metadata checked only.
pub fn list(location: Option<&CacheLocation>) -> Result<Vec<CacheEntryReport>> {
    let (entries, r) = walk(location, 0);
    r.map(|_| entries)
}

/// Every entry fully verified (checksum, key, cubin); with `remove_bad`, bad entries of the writable store are
/// deleted. Bad entries are reported in the result (`bad`, and each entry's `ok`/`problem`), not as an error; an
/// error means the walk itself failed.
pub fn verify(location: Option<&CacheLocation>, remove_bad: bool) -> Result<CacheVerifyReport> {
    let flags = sys::QJIT_CACHE_VERIFY | if remove_bad { sys::QJIT_CACHE_REMOVE_BAD } else { 0 };
    let (entries, r) = walk(location, flags);
    let bad = entries.iter().filter(|e| !e.ok).count();
    match r {
        Ok(()) => Ok(CacheVerifyReport { entries, bad }),
        // NOTE: the C call reports bad entries as QJIT_CACHE_IO after listing them all; that is this function's
        // normal result, not a failure of the walk.
        Err(Error::CacheIo(_)) if bad > 0 => Ok(CacheVerifyReport { entries, bad }),
        Err(e) => Err(e),
    }
}

fn prune_report(r: &sys::qjit_cache_prune_report) -> CachePruneReport {
    CachePruneReport {
        removed_entries: r.removed_entries,
        removed_bytes: r.removed_bytes,
        removed_temp_files: r.removed_temp_files,
        kept_entries: r.kept_entries,
        kept_bytes: r.kept_bytes,
    }
}

fn empty_prune_report() -> sys::qjit_cache_prune_report {
    sys::qjit_cache_prune_report {
        struct_size: sys::struct_size::<sys::qjit_cache_prune_report>(),
        removed_entries: 0,
        removed_bytes: 0,
        removed_temp_files: 0,
        kept_entries: 0,
        kept_bytes: 0,
    }
}

/// Evicts least-recently-used entries of the writable store until it holds at most `max_bytes` (0: only stale
/// temporary files). Unsupported when the location is read-only.
pub fn prune(location: Option<&CacheLocation>, max_bytes: u64) -> Result<CachePruneReport> {
    let mut out = empty_prune_report();
    // SAFETY: a valid (or NULL) location and out struct.
    check(with_location(location, |l| unsafe { sys::qjit_cache_prune(l, max_bytes, &mut out) })?)?;
    Ok(prune_report(&out))
}

/// Removes every entry and temporary file of the writable store.
pub fn clear(location: Option<&CacheLocation>) -> Result<CachePruneReport> {
    let mut out = empty_prune_report();
    // SAFETY: as above.
    check(with_location(location, |l| unsafe { sys::qjit_cache_clear(l, &mut out) })?)?;
    Ok(prune_report(&out))
}
