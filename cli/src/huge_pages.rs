//! Transparent huge pages, off for every coinbeat process.

/// Turns transparent huge pages off for this process (and the components `coinbeat up` starts,
/// which inherit it), unless `MIMALLOC_ALLOW_THP` says otherwise. Called first in `main`.
///
/// Where THP is `always` (Debian's default), mimalloc's arenas are backed by 2 MiB pages as soon
/// as they are touched: a price-worker that used 20 MiB held 30 (BENCHMARKS.md, "Memory"). No
/// component's working set is large enough for huge pages to save it TLB misses, so they are only
/// memory. This is what `MIMALLOC_ALLOW_THP=0` does at mimalloc's start (`PR_SET_THP_DISABLE`);
/// an operator who sets that variable decides instead. Elsewhere than Linux, there is nothing to
/// turn off.
pub fn off_unless_asked() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // A kernel without the call (before 3.15) or a sandbox refusing it costs only memory.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}
