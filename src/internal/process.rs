//! How a process running the gate sets itself up: what `dq-check` does first, and what the
//! benches do to measure what it runs. Each is a no-op where it does not apply (without the
//! `mimalloc` feature, off Linux).

use crate::eval::batch::DEFAULT_BATCH_MEMORY;

/// The share of the memory a process may use that `dq-check` lets one batch hold by default.
const BATCH_SHARE: u64 = 8;

/// The batch memory budget `dq-check` takes unless told (`--batch-memory-mb`): an eighth of the
/// memory this process may use (the machine's, or its control group's limit when lower), and
/// never less than [`DEFAULT_BATCH_MEMORY`], which is also what it takes where neither can be
/// read. A batch held whole is decided in one read; past the budget it is read again
/// (docs/gate.md, "Batches larger than memory"), so a budget sized to the machine keeps the
/// tables it can hold on the fast path.
pub fn batch_memory_budget() -> usize {
    let limit = memory_limit(
        std::fs::read_to_string("/proc/meminfo").ok().as_deref(),
        cgroup_limits().iter().map(String::as_str),
    );
    budget_of(limit)
}

fn budget_of(limit: Option<u64>) -> usize {
    limit.map_or(DEFAULT_BATCH_MEMORY, |m| {
        usize::try_from(m / BATCH_SHARE)
            .unwrap_or(usize::MAX)
            .max(DEFAULT_BATCH_MEMORY)
    })
}

/// The memory limits of this process's control group, as their files read: its own cgroup v2
/// `memory.max`, the root's (inside a container), and cgroup v1's `memory.limit_in_bytes`.
fn cgroup_limits() -> Vec<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .map(|path| format!("/sys/fs/cgroup{}/memory.max", path.trim_end_matches('/')));
    own.into_iter()
        .chain([
            "/sys/fs/cgroup/memory.max".to_string(),
            "/sys/fs/cgroup/memory/memory.limit_in_bytes".to_string(),
        ])
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// The smaller of `MemTotal` in `meminfo` and the numeric limits among `cgroup` (`max` is no
/// limit), in bytes; `None` when neither says.
fn memory_limit<'a>(meminfo: Option<&str>, cgroup: impl Iterator<Item = &'a str>) -> Option<u64> {
    let total = meminfo.and_then(|m| {
        m.lines().find_map(|l| {
            let kib = l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?;
            kib.trim().parse::<u64>().ok().map(|k| k * 1024)
        })
    });
    let cgroup = cgroup.filter_map(|c| c.trim().parse::<u64>().ok()).min();
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:       24571664 kB\nMemFree:        1000 kB\n";

    #[test]
    fn the_budget_is_an_eighth_of_the_smaller_limit_and_never_below_the_floor() {
        let total = 24_571_664 * 1024;
        assert_eq!(memory_limit(Some(MEMINFO), std::iter::empty()), Some(total));
        // cgroup v2 without a limit says `max`; v1 without one says a huge number.
        assert_eq!(
            memory_limit(
                Some(MEMINFO),
                ["max\n", "9223372036854771712\n"].into_iter()
            ),
            Some(total)
        );
        assert_eq!(
            memory_limit(Some(MEMINFO), ["4294967296\n"].into_iter()),
            Some(4 << 30)
        );
        assert_eq!(
            memory_limit(None, ["4294967296"].into_iter()),
            Some(4 << 30)
        );
        assert_eq!(memory_limit(Some("garbage"), ["max"].into_iter()), None);

        assert_eq!(budget_of(Some(total)), (total / 8) as usize);
        assert_eq!(budget_of(Some(4 << 30)), DEFAULT_BATCH_MEMORY);
        assert_eq!(budget_of(None), DEFAULT_BATCH_MEMORY);
        assert!(batch_memory_budget() >= DEFAULT_BATCH_MEMORY);
    }
}
