//! Runs a closure over many items with worker threads, within the job slots and a memory budget.
//!
//! The calling thread coordinates; jobs run on scoped worker threads, one per job that may run at
//! once. The process's implicit slot runs jobs without a token; every extra concurrent job holds
//! a token acquired from [`Slots`]'s jobserver for its whole run, on every path (return, panic,
//! signal), as cargo's `job_queue` does. A worker whose job ends starts the next queued job that
//! fits on the same slot and token; when none does, it gives the slot back (the token goes back
//! to the coordinator, which drops it unless a job can use it). Tokens arrive from the jobserver
//! crate's helper thread; one that arrives when nothing can start is dropped at once, which gives
//! it back. Uses [`super::signal`] to stop starting jobs after SIGINT/SIGTERM.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::thread::{self, Scope};
use std::time::Duration;

use jobserver::{Acquired, HelperThread};

use super::signal::{self, Interrupted};
use super::Slots;

/// How often the coordinator looks at the signal flag while it waits.
const POLL: Duration = Duration::from_millis(50);

/// One item waiting to run, with its place in the input and its memory estimate.
struct Pending<T> {
    index: usize,
    cost: u64,
    item: T,
}

/// What the coordinator waits for.
enum Event {
    /// The helper thread answered a token request.
    Token(io::Result<Acquired>),
    /// A worker gave its slot back, or ended a job while a slot was idle: jobs may start.
    Done,
}

/// A job's outcome: its value, or the payload of its panic.
type Outcome<R> = Mutex<Option<thread::Result<R>>>;

/// Applies `f` to every item and returns the results in input order, whatever order jobs end in.
///
/// Parallelism: the implicit slot plus one jobserver token per extra job, at most
/// [`Slots::cap`] jobs. Memory: `cost(item)` estimates a job's peak bytes; a job does not start
/// while others run if the summed estimates would exceed [`Slots::budget`] (a job alone always
/// runs). Big items start first, so one large object (vmlinux) overlaps the many small ones.
///
/// A panic in `f` is caught in its worker, the other jobs finish, every token is given back, and
/// the panic resumes here. After SIGINT/SIGTERM no job starts, running jobs finish (they may poll
/// [`super::interrupted`]), every token is given back, and `Err(Interrupted)` is returned.
pub fn run<T, R, C, F>(slots: &Slots, items: Vec<T>, cost: C, f: F) -> Result<Vec<R>, Interrupted>
where
    T: Send,
    R: Send,
    C: Fn(&T) -> u64,
    F: Fn(T) -> R + Sync,
{
    let outcomes: Vec<Outcome<R>> = items.iter().map(|_| Mutex::new(None)).collect();
    let queue = largest_first(items, cost);
    let (tx, rx) = mpsc::channel();
    let helper = token_helper(slots, queue.len(), &tx);
    let workers = slots.cap().min(queue.len());
    let sched = Mutex::new(Sched::new(slots, queue));
    thread::scope(|scope| {
        let start = Workers::spawn(scope, workers, &f, &outcomes, &sched, &tx);
        let mut coordinator = Coordinator::new(helper);
        coordinator.run(&sched, &start, &rx);
    });
    collect(outcomes)
}

/// A job handed to a worker, with the token it holds (none on the implicit slot).
type Start<T> = (Pending<T>, Option<Acquired>);

/// The worker threads: as many as jobs may run at once. A worker runs the job the coordinator
/// starts on it, then, on the same slot (and token), the next queued job that fits, until none
/// does; only then is the slot given back and the coordinator told. So a batch of thousands of
/// small jobs neither creates a thread per job nor passes every job through the coordinator and
/// the jobserver.
struct Workers<T> {
    start: Sender<Start<T>>,
}

impl<T: Send> Workers<T> {
    fn spawn<'scope, R: Send, F: Fn(T) -> R + Sync>(
        scope: &'scope Scope<'scope, '_>,
        n: usize,
        f: &'scope F,
        outcomes: &'scope [Outcome<R>],
        sched: &'scope Mutex<Sched<T>>,
        done: &Sender<Event>,
    ) -> Self
    where
        T: 'scope,
    {
        let (start, jobs) = mpsc::channel::<Start<T>>();
        let jobs = std::sync::Arc::new(Mutex::new(jobs));
        for _ in 0..n {
            let (jobs, done) = (jobs.clone(), done.clone());
            scope.spawn(move || loop {
                // One worker waits on the channel at a time; the lock is released before the
                // job runs. The channel closes when the coordinator is done.
                let next = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(mut start) = next else {
                    return;
                };
                loop {
                    let (cost, token) = run_job(start, f, outcomes);
                    let (follow, idle) = {
                        let mut sched = lock(sched);
                        let follow = sched.follow(cost, token);
                        (follow, sched.running < sched.cap && !sched.queue.is_empty())
                    };
                    let Some(next) = follow else {
                        break;
                    };
                    // The memory this job held may let a job start on an idle slot.
                    if idle {
                        drop(done.send(Event::Done));
                    }
                    start = next;
                }
                drop(done.send(Event::Done));
            });
        }
        Workers { start }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Orders the items by decreasing cost, input order among equals.
fn largest_first<T>(items: Vec<T>, cost: impl Fn(&T) -> u64) -> VecDeque<Pending<T>> {
    let mut pending: Vec<Pending<T>> = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| Pending {
            index,
            cost: cost(&item),
            item,
        })
        .collect();
    pending.sort_by(|a, b| b.cost.cmp(&a.cost).then(a.index.cmp(&b.index)));
    pending.into()
}

/// A helper thread that acquires tokens on request, when more than one job could ever run.
/// Without one (or if it cannot be started) only the implicit slot is used.
fn token_helper(slots: &Slots, jobs: usize, tx: &Sender<Event>) -> Option<HelperThread> {
    let client = slots.client().filter(|_| jobs > 1)?.clone();
    let tx = tx.clone();
    // A send fails only once the coordinator is gone; the token inside is then dropped,
    // which gives it back.
    let deliver = move |token| drop(tx.send(Event::Token(token)));
    client.into_helper_thread(deliver).ok()
}

/// The results in input order, or the first panic, or the interruption.
fn collect<R>(outcomes: Vec<Outcome<R>>) -> Result<Vec<R>, Interrupted> {
    let mut results = Vec::with_capacity(outcomes.len());
    let mut missing = false;
    for outcome in outcomes {
        match outcome.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(r)) => results.push(r),
            Some(Err(payload)) => panic::resume_unwind(payload),
            None => missing = true,
        }
    }
    match signal::caught() {
        Some(interrupted) => Err(interrupted),
        None if missing => unreachable!("every job runs unless a signal stopped the batch"),
        None => Ok(results),
    }
}

/// The queue and what runs, shared by the coordinator and the workers.
struct Sched<T> {
    queue: VecDeque<Pending<T>>,
    cap: usize,
    budget: u64,
    /// Jobs running now, implicit one included.
    running: usize,
    /// Summed cost estimates of the running jobs.
    memory: u64,
    implicit_free: bool,
    /// Tokens acquired and not yet given to a job.
    spare: Vec<Acquired>,
}

/// Bookkeeping of the coordinating thread.
struct Coordinator {
    helper: Option<HelperThread>,
    /// Token requests the helper has not answered yet.
    requested: usize,
    /// Whether token acquisition failed; then only the implicit slot is used.
    tokens_broken: bool,
}

impl<T: Send> Sched<T> {
    fn new(slots: &Slots, queue: VecDeque<Pending<T>>) -> Self {
        Sched {
            queue,
            cap: slots.cap(),
            budget: slots.budget(),
            running: 0,
            memory: 0,
            implicit_free: true,
            spare: Vec::new(),
        }
    }

    /// After a job of `cost` ended on a slot (`token`, or the implicit one): the next queued job
    /// that fits, to run on the same slot, or `None` when the slot was given back.
    fn follow(&mut self, cost: u64, token: Option<Acquired>) -> Option<Start<T>> {
        self.running -= 1;
        self.memory -= cost;
        if !signal::interrupted() {
            if let Some(job) = self.next_fitting() {
                self.running += 1;
                self.memory += job.cost;
                // The implicit slot, when free, runs it: a token is held only while needed
                // (dropping it gives it back to make).
                let token = match token {
                    Some(spare) if self.implicit_free => {
                        self.implicit_free = false;
                        drop(spare);
                        None
                    }
                    token => token,
                };
                return Some((job, token));
            }
        }
        match token {
            Some(token) => self.spare.push(token),
            None => self.implicit_free = true,
        }
        None
    }

    /// Starts every job that has a slot and fits in the memory budget.
    fn start_jobs(&mut self, workers: &Workers<T>) {
        while self.running < self.cap && (self.implicit_free || !self.spare.is_empty()) {
            let Some(job) = self.next_fitting() else {
                break;
            };
            let token = if self.implicit_free {
                None
            } else {
                self.spare.pop()
            };
            self.implicit_free &= token.is_some();
            self.running += 1;
            self.memory += job.cost;
            if workers.start.send((job, token)).is_err() {
                unreachable!("the workers live until the coordinator returns");
            }
        }
    }

    /// Removes the first (largest) queued job whose cost fits beside the running ones.
    fn next_fitting(&mut self) -> Option<Pending<T>> {
        if self.running == 0 {
            return self.queue.pop_front();
        }
        let room = self.budget.saturating_sub(self.memory);
        let at = self.queue.iter().position(|job| job.cost <= room)?;
        self.queue.remove(at)
    }

    /// How many more tokens could be used now: as many as there are jobs that could start
    /// beside the running ones. Spare tokens beyond that are given back.
    fn tokens_wanted(&mut self) -> usize {
        let room = self.budget.saturating_sub(self.memory);
        let fits = self.running == 0 || self.queue.iter().any(|job| job.cost <= room);
        let startable = if fits { self.queue.len() } else { 0 };
        let extra = startable
            .min(self.cap.saturating_sub(self.running))
            .saturating_sub(usize::from(self.implicit_free));
        self.spare.truncate(extra);
        extra - self.spare.len()
    }
}

impl Coordinator {
    fn new(helper: Option<HelperThread>) -> Self {
        Coordinator {
            helper,
            requested: 0,
            tokens_broken: false,
        }
    }

    /// Starts jobs as slots and memory allow until the queue is empty and every job has ended;
    /// after a signal, only waits for the running jobs.
    fn run<T: Send>(
        &mut self,
        sched: &Mutex<Sched<T>>,
        workers: &Workers<T>,
        rx: &Receiver<Event>,
    ) {
        loop {
            {
                let mut sched = lock(sched);
                if signal::interrupted() {
                    sched.queue.clear();
                }
                sched.start_jobs(workers);
                let wanted = sched.tokens_wanted();
                if sched.queue.is_empty() && sched.running == 0 {
                    break;
                }
                drop(sched);
                self.request_tokens(wanted);
            }
            match rx.recv_timeout(POLL) {
                Ok(event) => self.handle(event, sched),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    unreachable!("the coordinator holds a sender")
                }
            }
        }
        lock(sched).spare.clear();
        // Dropping the helper interrupts a pending acquire; a token it still delivers lands in
        // the channel and is given back when the channel is dropped.
        self.helper = None;
    }

    /// Asks the helper for tokens until `wanted` are on their way.
    fn request_tokens(&mut self, wanted: usize) {
        let Some(helper) = self.helper.as_ref().filter(|_| !self.tokens_broken) else {
            return;
        };
        while self.requested < wanted {
            helper.request_token();
            self.requested += 1;
        }
    }

    fn handle<T: Send>(&mut self, event: Event, sched: &Mutex<Sched<T>>) {
        match event {
            Event::Token(Ok(token)) => {
                self.requested -= 1;
                lock(sched).spare.push(token);
            }
            Event::Token(Err(_)) => {
                // A broken jobserver pipe: keep going on the implicit slot alone.
                self.requested -= 1;
                self.tokens_broken = true;
            }
            Event::Done => {}
        }
    }
}

/// Runs one job on a worker, whether `f` returns or panics; gives back the job's cost and its
/// slot's token, for [`Sched::follow`].
fn run_job<T, R, F>(
    (job, token): Start<T>,
    f: &F,
    outcomes: &[Outcome<R>],
) -> (u64, Option<Acquired>)
where
    F: Fn(T) -> R,
{
    let Pending { index, cost, item } = job;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(item)));
    *lock(&outcomes[index]) = Some(outcome);
    (cost, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn slots(cap: usize) -> Slots {
        let client = jobserver::Client::new(cap - 1).unwrap();
        Slots::new(Some(client), cap, "test".into())
    }

    /// Tracks how many jobs run at once and the highest value seen.
    #[derive(Default)]
    struct Overlap {
        now: AtomicUsize,
        max: AtomicUsize,
    }

    impl Overlap {
        fn during(&self, ms: u64) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(now, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(ms));
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn results_come_back_in_input_order_whatever_order_jobs_end_in() {
        let ends = Mutex::new(Vec::new());
        let items: Vec<u64> = (0..8).collect();
        // Later items sleep less, so they end first.
        let out = run(
            &slots(4),
            items,
            |_| 1,
            |i| {
                thread::sleep(Duration::from_millis(10 * (8 - i)));
                ends.lock().unwrap().push(i);
                i * 10
            },
        )
        .unwrap();
        assert_eq!(out, vec![0, 10, 20, 30, 40, 50, 60, 70]);
        let ends = ends.into_inner().unwrap();
        assert_ne!(
            ends,
            (0..8).collect::<Vec<_>>(),
            "the test must reorder completions"
        );
    }

    #[test]
    fn never_more_jobs_than_the_cap() {
        let overlap = Overlap::default();
        run(&slots(3), vec![(); 12], |_| 1, |()| overlap.during(20)).unwrap();
        assert_eq!(overlap.max.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn serial_slots_run_one_job_at_a_time() {
        let overlap = Overlap::default();
        run(
            &Slots::serial("test"),
            vec![(); 5],
            |_| 1,
            |()| overlap.during(5),
        )
        .unwrap();
        assert_eq!(overlap.max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn memory_budget_limits_overlap_but_a_lone_big_job_runs() {
        let overlap = Overlap::default();
        let slots = slots(4).with_budget(100);
        // Each job costs 60: two never fit together; the 500 one exceeds the budget alone.
        let out = run(
            &slots,
            vec![60, 60, 500, 60],
            |c| *c,
            |c| {
                overlap.during(10);
                c
            },
        )
        .unwrap();
        assert_eq!(out, vec![60, 60, 500, 60]);
        assert_eq!(overlap.max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn tokens_all_come_back_after_a_panic() {
        let client = jobserver::Client::new(3).unwrap();
        let slots = Slots::new(Some(client.clone()), 4, "test".into());
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            run(
                &slots,
                (0..10).collect(),
                |_| 1,
                |i: u32| {
                    thread::sleep(Duration::from_millis(5));
                    assert_ne!(i, 3, "job 3 fails");
                },
            )
        }));
        assert!(result.is_err(), "the job's panic must reach the caller");
        assert_eq!(client.available().unwrap(), 3, "every token is back");
    }

    #[test]
    fn empty_input_runs_nothing() {
        let out: Vec<u8> = run(&slots(2), Vec::<u8>::new(), |_| 0, |x| x).unwrap();
        assert!(out.is_empty());
    }
}
