//! The cache and warm-up calls over the C ABI, against an empty temporary store (its own test binary, since it sets
//! QJIT_CACHE_DIR for the process).
use qjit::cache::{self, CacheLocation};
use qjit::{ElementKind, Error, WarmupRequest};

#[test]
fn cache_calls_on_an_empty_store() {
    let dir = std::env::temp_dir().join(format!("qjit-rust-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_text = dir.to_str().unwrap().to_string();
    std::env::set_var("QJIT_CACHE_DIR", &dir_text);
    std::env::remove_var("QJIT_CACHE_PATH");
    std::env::remove_var("QJIT_CACHE_READONLY");

    let env = cache::location_from_environment().expect("location from the environment");
    assert_eq!(env.writable_dir.as_deref(), Some(dir_text.as_str()), "{env:?}");
    assert!(!env.read_only);

    let loc = CacheLocation { writable_dir: Some(dir_text.clone()), ..Default::default() };
    let stats = cache::stats(Some(&loc)).expect("stats");
    assert_eq!(stats.entries, 0);
    assert_eq!(stats.stores.first().map(|s| s.dir.as_str()), Some(dir_text.as_str()), "{stats:?}");
    let from_env = cache::stats(None).expect("stats from the environment");
    assert_eq!(from_env.entries, 0);

    let v = cache::verify(Some(&loc), false).expect("verify");
    assert_eq!((v.entries.len(), v.bad), (0, 0));
    assert!(cache::list(None).expect("list").is_empty());
    let p = cache::prune(Some(&loc), 0).expect("prune");
    assert_eq!(p.removed_entries, 0);
    cache::clear(Some(&loc)).expect("clear");

    let ro = CacheLocation { read_only: true, ..loc.clone() };
    assert!(matches!(cache::prune(Some(&ro), 0), Err(Error::Unsupported(_))), "prune of a read-only location");

    let bad = CacheLocation { writable_dir: Some("a\0b".into()), ..Default::default() };
    assert!(matches!(cache::stats(Some(&bad)), Err(Error::InvalidArgument(_))));

    let mut req = WarmupRequest::new("sm_12", ElementKind::Bf16, vec![(4096, 4096)], vec![1, 16]);
    let e = qjit::warmup(&req).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)) && e.message().contains("arch"), "{e}");
    req.arch = "sm_90a".into();
    req.quantized_linear = false;
    req.smooth_quant_linear = false;
    assert!(matches!(qjit::warmup(&req), Err(Error::InvalidArgument(_))));
    let _ = std::fs::remove_dir_all(&dir);
}
