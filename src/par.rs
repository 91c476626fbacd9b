//! A parallel map over the machine's cores, in order: the one way dq-gate uses more than one
//! core (decoding a file's columns, evaluating a batch's chunks, marking repeated values).

/// The machine's cores (1 when unknown).
pub(crate) fn cores() -> usize {
    // Asked once: the answer reads the process's cgroup limits from files.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Stack of a worker thread (the main thread's default on Linux).
const WORKER_STACK: usize = 8 << 20;

/// Runs `f` over `items` on up to the machine's cores, keeping order.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = cores().min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut out);
    let work = || {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= items.len() {
                break;
            }
            let r = f(&items[i]);
            results.lock().expect("not poisoned")[i] = Some(r);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            // As deep a stack as the main thread's: evaluating an expression recurses as deep
            // as it nests (bounded by the suite limits).
            std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(s, work)
                .expect("a thread can be started");
        }
        work();
    });
    out.into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}
