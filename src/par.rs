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
///
/// The caller works through the items with the pool's workers (see [`pool`]); a panic in `f`
/// is raised again in the caller once every worker has left the items.
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
            results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
        }
    };
    pool::run(&work, threads - 1);
    out.into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// The worker threads `par_map` shares its items with: one fewer than the cores, started on
/// first use and kept for the process.
///
/// Kept rather than started per call: a call costs a few microseconds instead of starting
/// threads (their stacks mapped, touched and unmapped, each unmapping a TLB flush on every
/// core), and each worker's allocator heap keeps the memory it freed for its next call instead
/// of leaving it to be reclaimed.
///
/// A call posts its work as a job. Idle workers join it, up to the number the job wants; the
/// caller works through the items too, then closes the job and waits only for the workers that
/// joined it. A job nobody joined in time is simply closed: a `par_map` inside another's items,
/// with every worker busy, runs on its caller alone and never waits for a free worker.
mod pool {
    use std::any::Any;
    use std::collections::VecDeque;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

    /// The work of one call, its lifetime erased: it is only run between a successful
    /// [`Job::join`] and the matching [`Job::leave`], and the caller does not return from
    /// [`run`] before the job is closed and every worker that joined has left.
    struct Work(*const (dyn Fn() + Sync));

    // The closure is `Sync` and outlives every use (see `Work`).
    unsafe impl Send for Work {}
    unsafe impl Sync for Work {}

    struct Job {
        work: Work,
        state: Mutex<JobState>,
        left: Condvar,
    }

    struct JobState {
        /// Workers still wanted.
        wanted: usize,
        /// Workers running the work now.
        active: usize,
        closed: bool,
        /// The first panic of a worker in the work.
        panic: Option<Box<dyn Any + Send>>,
    }

    /// What a worker found at the front of the queue.
    enum Joined {
        /// It joined, and the job wants more workers.
        More,
        /// It joined the last place.
        Last,
        /// Closed or full: not joined.
        No,
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    impl Job {
        fn join(&self) -> Joined {
            let mut s = lock(&self.state);
            if s.closed || s.wanted == 0 {
                return Joined::No;
            }
            s.wanted -= 1;
            s.active += 1;
            if s.wanted == 0 {
                Joined::Last
            } else {
                Joined::More
            }
        }

        fn leave(&self, panic: Option<Box<dyn Any + Send>>) {
            let mut s = lock(&self.state);
            s.active -= 1;
            if s.panic.is_none() {
                s.panic = panic;
            }
            if s.active == 0 {
                self.left.notify_all();
            }
        }

        /// Closes the job to workers not yet in it and waits for those in it to leave; their
        /// first panic, if any.
        fn close(&self) -> Option<Box<dyn Any + Send>> {
            let mut s = lock(&self.state);
            s.closed = true;
            while s.active > 0 {
                s = self.left.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            s.panic.take()
        }
    }

    struct Pool {
        queue: Mutex<VecDeque<Arc<Job>>>,
        posted: Condvar,
    }

    fn pool() -> &'static Pool {
        static POOL: OnceLock<&'static Pool> = OnceLock::new();
        POOL.get_or_init(|| {
            let pool: &'static Pool = Box::leak(Box::new(Pool {
                queue: Mutex::new(VecDeque::new()),
                posted: Condvar::new(),
            }));
            for i in 1..super::cores() {
                // As deep a stack as the main thread's: evaluating an expression recurses as
                // deep as it nests (bounded by the suite limits).
                std::thread::Builder::new()
                    .name(format!("dq-par-{i}"))
                    .stack_size(super::WORKER_STACK)
                    .spawn(move || pool.serve())
                    .expect("a thread can be started");
            }
            pool
        })
    }

    impl Pool {
        /// A worker: joins the job at the front of the queue, runs its work, and again.
        fn serve(&self) {
            loop {
                let job = {
                    let mut q = lock(&self.queue);
                    loop {
                        let Some(front) = q.front().cloned() else {
                            q = self.posted.wait(q).unwrap_or_else(|p| p.into_inner());
                            continue;
                        };
                        match front.join() {
                            Joined::More => break front,
                            Joined::Last => {
                                q.pop_front();
                                break front;
                            }
                            Joined::No => {
                                q.pop_front();
                            }
                        }
                    }
                };
                // SAFETY: joined and not yet left, so the caller is still inside `run`.
                let work = unsafe { &*job.work.0 };
                let panic = catch_unwind(AssertUnwindSafe(work)).err();
                job.leave(panic);
            }
        }
    }

    /// Runs `work` on the calling thread and on up to `helpers` workers at once, returning when
    /// every run of it has returned; raises the first panic of any of them.
    pub(super) fn run(work: &(dyn Fn() + Sync), helpers: usize) {
        let pool = pool();
        // SAFETY: only the lifetime is erased; `close` below waits for every worker that joined,
        // and none can join after it.
        let erased: *const (dyn Fn() + Sync + 'static) = unsafe { std::mem::transmute(work) };
        let job = Arc::new(Job {
            work: Work(erased),
            state: Mutex::new(JobState {
                wanted: helpers,
                active: 0,
                closed: false,
                panic: None,
            }),
            left: Condvar::new(),
        });
        lock(&pool.queue).push_back(job.clone());
        pool.posted.notify_all();
        let own = catch_unwind(AssertUnwindSafe(work)).err();
        let theirs = job.close();
        if let Some(p) = own.or(theirs) {
            resume_unwind(p);
        }
    }
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

    /// Every item runs once, in order of the results, on more than one thread where the
    /// machine has more than one core (items slow enough that a worker joins).
    #[test]
    fn items_run_once_in_order_on_the_workers() {
        let items: Vec<u64> = (0..10_000).collect();
        let squares = par_map(&items, |x| x * x);
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        let slow: Vec<u64> = (0..40).collect();
        let threads = par_map(&slow, |_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            std::thread::current().id()
        });
        let distinct: std::collections::HashSet<_> = threads.into_iter().collect();
        assert_eq!(distinct.len() > 1, cores() > 1, "{distinct:?}");
    }

    /// A `par_map` inside another's items (every worker busy) and many callers at once all
    /// finish with their own results.
    #[test]
    fn nested_and_concurrent_calls_finish() {
        let outer: Vec<u64> = (0..8).collect();
        let sums = par_map(&outer, |&i| {
            let inner: Vec<u64> = (0..1000).map(|j| i * 1000 + j).collect();
            par_map(&inner, |x| x + 1).into_iter().sum::<u64>()
        });
        let expected: Vec<u64> = outer
            .iter()
            .map(|&i| (0..1000).map(|j| i * 1000 + j + 1).sum())
            .collect();
        assert_eq!(sums, expected);
        std::thread::scope(|s| {
            let callers: Vec<_> = (0..6u64)
                .map(|c| {
                    s.spawn(move || {
                        let items: Vec<u64> = (0..500).map(|i| i + c).collect();
                        (0..50).all(|_| {
                            par_map(&items, |x| x * 2).iter().sum::<u64>()
                                == items.iter().sum::<u64>() * 2
                        })
                    })
                })
                .collect();
            for c in callers {
                assert!(c.join().unwrap());
            }
        });
    }

    /// A panic in an item reaches the caller, whichever thread ran it, and the workers go on
    /// serving later calls.
    #[test]
    fn a_panic_in_an_item_reaches_the_caller() {
        let items: Vec<u32> = (0..64).collect();
        for bad in [0u32, 63] {
            let r = std::panic::catch_unwind(|| {
                par_map(&items, |&x| {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    assert_ne!(x, bad, "item {x}");
                    x
                })
            });
            assert!(r.is_err());
        }
        assert_eq!(par_map(&items, |x| x + 1)[63], 64);
    }

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
