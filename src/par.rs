//! A parallel map over the machine's cores, in order: the one way dq-gate uses more than one
//! core (decoding a file's columns, evaluating a batch's chunks, marking repeated values); and
//! one vector per part filled at once over it (the keys uniqueness groups).

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

/// One vector per part, filled at once on every core: part `p` puts its items through
/// `fill(p, put)` into a vector made for `sizes[p]` of them (it may put more or fewer). The
/// parts' vectors in order, or the first part's error.
pub(crate) fn fill_parts<T: Send, E: Send>(
    sizes: &[usize],
    fill: impl Fn(usize, &mut dyn FnMut(T)) -> Result<(), E> + Sync,
) -> Result<Vec<Vec<T>>, E> {
    let idx: Vec<usize> = (0..sizes.len()).collect();
    par_map(&idx, |&p| {
        let mut part = Vec::with_capacity(sizes[p]);
        fill(p, &mut |item| part.push(item))?;
        Ok(part)
    })
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts that put fewer items than their size, all of it, or more: each its own vector, in
    /// order; an error of any part is the result.
    #[test]
    fn parts_fill_their_vectors_in_order() {
        let sizes = [3, 0, 4, 2];
        let puts: [usize; 4] = [2, 0, 4, 5];
        let v = fill_parts(&sizes, |p, put: &mut dyn FnMut(u32)| -> Result<(), ()> {
            (0..puts[p]).for_each(|i| put((10 * p + i) as u32));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            v,
            vec![
                vec![0, 1],
                vec![],
                vec![20, 21, 22, 23],
                vec![30, 31, 32, 33, 34]
            ]
        );
        let failed = fill_parts(
            &sizes,
            |p, _: &mut dyn FnMut(u32)| if p == 2 { Err(p) } else { Ok(()) },
        );
        assert_eq!(failed.err(), Some(2));
    }
}
