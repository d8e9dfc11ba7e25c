// The public cache API (include/qjit/cache.h): thin wrappers that open a DiskStore for a CacheLocation and run one
// maintenance operation on it. Each call opens its own store object, so nothing global is kept.
#include "cache/disk_store.h"
#include "qjit/cache.h"

namespace qjit {
namespace {

cache::StoreOptions to_options(const CacheLocation& l) {
  cache::StoreOptions o;
  o.writable_dir = l.writable_dir;
  o.readonly_dirs = l.readonly_dirs;
  o.read_only = l.read_only;
  o.max_bytes = l.max_bytes;
  return o;
}

}  // namespace

Result<CacheLocation> cache_location_from_environment() {
  QJIT_ASSIGN_OR_RETURN(auto o, cache::options_from_environment());
  return CacheLocation{o.writable_dir, o.readonly_dirs, o.read_only, o.max_bytes};
}

Result<CacheStats> cache_stats(const CacheLocation& location) {
  QJIT_ASSIGN_OR_RETURN(auto store, cache::DiskStore::open(to_options(location)));
  return store->stats();
}

Result<std::vector<CacheEntryReport>> list_cache(const CacheLocation& location) {
  QJIT_ASSIGN_OR_RETURN(auto store, cache::DiskStore::open(to_options(location)));
  return store->list();
}

Result<std::vector<CacheEntryReport>> verify_cache(const CacheLocation& location, bool remove_bad) {
  QJIT_ASSIGN_OR_RETURN(auto store, cache::DiskStore::open(to_options(location)));
  return store->verify(remove_bad);
}

Result<CachePruneReport> prune_cache(const CacheLocation& location, std::uint64_t max_bytes) {
  QJIT_ASSIGN_OR_RETURN(auto store, cache::DiskStore::open(to_options(location)));
  return store->prune(max_bytes);
}

Result<CachePruneReport> clear_cache(const CacheLocation& location) {
  QJIT_ASSIGN_OR_RETURN(auto store, cache::DiskStore::open(to_options(location)));
  return store->clear();
}

}  // namespace qjit
