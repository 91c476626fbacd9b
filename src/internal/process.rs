//! How a process running the gate sets itself up: what `dq-check` does first, and what the
//! benches do to measure what it runs. Each is a no-op where it does not apply (without the
//! `mimalloc` feature, off Linux).

/// `validate` holds about one round of chunks at a time, so it keeps freed memory until it
/// exits instead of letting mimalloc purge it and fault fresh pages in again; `run` keeps
/// purging, which bounds its peak over many batches (docs/performance.md).
pub fn keep_freed_memory() {
    #[cfg(feature = "mimalloc")]
    {
        /// `mi_option_purge_delay` (milliseconds; -1: never) in mimalloc's option enum, v2 and v3.
        const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
        // SAFETY: sets a plain option of the allocator; no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
    }
}

/// mimalloc asks for transparent huge pages on the memory it maps. Each first touch of such a
/// region then makes the kernel find (compacting if it must) and zero 2 MiB at once: a third
/// of a `run`'s CPU, and the slow rounds of a `validate` that touches a gigabyte
/// (docs/performance.md, "The allocator"). Plain pages cost less here. mimalloc has mapped its
/// first arena before `main`, so the process opts out as a whole, as mimalloc itself does when
/// `MIMALLOC_ALLOW_THP=0` is set.
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        const PR_SET_THP_DISABLE: std::ffi::c_int = 41;
        unsafe extern "C" {
            fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
        }
        // SAFETY: a flag of the process's memory map; no memory is touched. Failing (an old
        // kernel) leaves the default, which is correct, only slower.
        let _ = unsafe {
            prctl(
                PR_SET_THP_DISABLE,
                1 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
            )
        };
    }
}
