//! The task list's rendered pages, shared between requests. A page (one
//! store read, rendered to JSON) is rendered by one request at a time; a
//! request for it takes a page rendered since it arrived (so it never
//! misses a write its client saw complete) — in practice, requests that
//! arrive while a page is being rendered wait and share the next render —
//! or, when the store counts its writes
//! ([`StateStore::task_revision`](drydock_core::store::StateStore::task_revision):
//! redb), any page rendered at the store's current revision. So many
//! clients polling one list cost one read and one render per change (or
//! per render time), and one copy of the page in memory however many
//! connections are sending it. When a render fails (the store is down),
//! the requests that were waiting for it render on their own, at once, as
//! if nothing were shared.
//!
//! Bounded: at most [`MAX_PAGES`] distinct pages (page size and marker)
//! are tracked, and the kept pages take at most [`BUDGET`] bytes together
//! besides the newest one (least recently used first out).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use drydock_core::ids::TaskId;
use hyper::body::Bytes;

/// Distinct pages tracked at once.
pub const MAX_PAGES: usize = 32;

/// Bytes the kept pages may take together, besides the newest one.
pub const BUDGET: usize = 32 << 20;

/// Which page: its size and the cursor it starts after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// Page size.
    pub limit: usize,
    /// Creation time and id of the task the page starts after.
    pub after: Option<(DateTime<Utc>, TaskId)>,
}

/// A rendered page: the JSON body and the next page's marker.
#[derive(Debug, Clone)]
pub struct Page {
    /// The JSON array of tasks.
    pub body: Bytes,
    /// `X-Drydock-Next-Marker`, when more tasks follow.
    pub next: Option<String>,
}

/// The shared pages of one server.
#[derive(Debug, Default)]
pub struct TaskPages {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    pages: HashMap<PageKey, Entry>,
    /// Bytes of the kept pages.
    bytes: usize,
    /// Use counter, for least-recently-used eviction.
    tick: u64,
}

#[derive(Debug)]
struct Entry {
    /// Held while the page is being rendered.
    render: Arc<tokio::sync::Mutex<()>>,
    /// Renders of this page started so far.
    started: u64,
    /// The number of the last render that failed (0: none).
    failed: u64,
    /// The last page rendered, if kept.
    kept: Option<Kept>,
    used: u64,
}

#[derive(Debug)]
struct Kept {
    /// Which render it was (the value of `started` when it began).
    render: u64,
    /// The store's revision read before that render, if it counts.
    revision: Option<u64>,
    page: Page,
}

impl Kept {
    /// Whether a request that arrived after `arrived` renders had started,
    /// seeing the store at `revision`, may be answered with this page.
    fn serves(&self, arrived: u64, revision: Option<u64>) -> bool {
        self.render > arrived || (revision.is_some() && self.revision == revision)
    }
}

impl Inner {
    fn touch(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The entry of `key` (made if missing, within [`MAX_PAGES`]).
    fn entry(&mut self, key: PageKey) -> &mut Entry {
        if !self.pages.contains_key(&key) && self.pages.len() >= MAX_PAGES {
            self.evict_entry();
        }
        let used = self.touch();
        let entry = self.pages.entry(key).or_insert_with(|| Entry { render: Arc::default(), started: 0, failed: 0, kept: None, used });
        entry.used = used;
        entry
    }

    /// The kept page of `key` if it may answer a request that arrived after
    /// `arrived` renders, seeing `revision`.
    fn serving(&mut self, key: PageKey, arrived: u64, revision: Option<u64>) -> Option<Page> {
        let entry = self.entry(key);
        entry.kept.as_ref().filter(|kept| kept.serves(arrived, revision)).map(|kept| kept.page.clone())
    }

    /// Keep `page`, the result of render number `render` of `key`, then
    /// drop the least recently used other pages while over the budget.
    fn keep(&mut self, key: PageKey, render: u64, revision: Option<u64>, page: &Page) {
        let used = self.touch();
        let entry = self.entry(key);
        if entry.kept.as_ref().is_some_and(|kept| kept.render > render) {
            return;
        }
        entry.used = used;
        let old = entry.kept.replace(Kept { render, revision, page: page.clone() }).map_or(0, |kept| kept.page.body.len());
        self.bytes = self.bytes - old + page.body.len();
        // The newest page stays even when it alone is over the budget: it
        // is being sent anyway.
        while self.bytes > BUDGET {
            let victim = self
                .pages
                .iter()
                .filter(|(other, entry)| **other != key && entry.kept.is_some())
                .min_by_key(|(_, entry)| entry.used)
                .map(|(other, _)| *other);
            let Some(victim) = victim else { break };
            if let Some(kept) = self.pages.get_mut(&victim).and_then(|entry| entry.kept.take()) {
                self.bytes -= kept.page.body.len();
            }
        }
    }

    /// Forget the least recently used page nobody is rendering or waiting for.
    fn evict_entry(&mut self) {
        let victim = self
            .pages
            .iter()
            .filter(|(_, entry)| Arc::strong_count(&entry.render) == 1)
            .min_by_key(|(_, entry)| entry.used)
            .map(|(key, _)| *key);
        if let Some(entry) = victim.and_then(|key| self.pages.remove(&key)) {
            self.bytes -= entry.kept.map_or(0, |kept| kept.page.body.len());
        }
    }
}

impl TaskPages {
    /// No pages yet.
    pub fn new() -> Self {
        TaskPages::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map consistent before anything can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The page `key` for a request that saw the store at `revision` (read
    /// before calling; `None` when the store does not count its writes):
    /// a kept page rendered since this call began or at that revision,
    /// else `render`'s result — renders of one page run one at a time, and
    /// the requests waiting meanwhile share the next one (or, when that one
    /// fails, each run `render` on their own).
    pub async fn page<E, F, Fut>(&self, key: PageKey, revision: Option<u64>, render: F) -> Result<Page, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Page, E>>,
    {
        let (lock, arrived) = {
            let mut inner = self.inner();
            let entry = inner.entry(key);
            let arrived = entry.started;
            if let Some(page) = inner.serving(key, arrived, revision) {
                return Ok(page);
            }
            (inner.entry(key).render.clone(), arrived)
        };
        let rendering = lock.lock().await;
        let number = {
            let mut inner = self.inner();
            if let Some(page) = inner.serving(key, arrived, revision) {
                return Ok(page);
            }
            let entry = inner.entry(key);
            if entry.failed > arrived {
                None
            } else {
                entry.started += 1;
                Some(entry.started)
            }
        };
        let Some(number) = number else {
            // A render begun since this request came failed: the others that
            // waited for it try at once, side by side, not one after another.
            drop(rendering);
            return render().await;
        };
        match render().await {
            Ok(page) => {
                self.inner().keep(key, number, revision, &page);
                Ok(page)
            }
            Err(error) => {
                let mut inner = self.inner();
                let entry = inner.entry(key);
                entry.failed = entry.failed.max(number);
                Err(error)
            }
        }
    }

    /// Bytes of the pages kept now (for tests and diagnostics).
    pub fn kept_bytes(&self) -> usize {
        self.inner().bytes
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key(limit: usize) -> PageKey {
        PageKey { limit, after: None }
    }

    fn page(text: &str) -> Page {
        Page { body: Bytes::from(text.to_owned()), next: None }
    }

    #[tokio::test]
    async fn a_page_is_reused_at_the_same_revision_only() {
        let pages = TaskPages::new();
        let renders = AtomicUsize::new(0);
        let render = |text: &'static str| {
            let renders = &renders;
            move || async move {
                renders.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(page(text))
            }
        };
        assert_eq!(pages.page(key(10), Some(1), render("a")).await.expect("page").body, "a");
        assert_eq!(pages.page(key(10), Some(1), render("b")).await.expect("page").body, "a", "kept at revision 1");
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        assert_eq!(pages.page(key(10), Some(2), render("c")).await.expect("page").body, "c", "a write moved the revision");
        assert_eq!(pages.page(key(20), Some(2), render("d")).await.expect("page").body, "d", "another page size");
        assert_eq!(pages.page(key(10), None, render("e")).await.expect("page").body, "e");
        assert_eq!(pages.page(key(10), None, render("f")).await.expect("page").body, "f", "a later request without a revision renders");
        assert_eq!(renders.load(Ordering::SeqCst), 5);
        assert_eq!(pages.kept_bytes(), 2);
        // A failed render keeps nothing and the next one runs.
        let failed: Result<Page, &str> = pages.page(key(30), Some(2), || async { Err("store down") }).await;
        assert_eq!(failed.expect_err("fails"), "store down");
        assert_eq!(pages.page(key(30), Some(2), render("g")).await.expect("page").body, "g");
    }

    /// Requests arriving while a render of their page runs wait for it and
    /// share the next one (never the one that began before they came).
    async fn share_renders(revision: Option<u64>) {
        let pages = Arc::new(TaskPages::new());
        let renders = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let request = |pages: Arc<TaskPages>, renders: Arc<AtomicUsize>, gate: Arc<tokio::sync::Semaphore>| {
            tokio::spawn(async move {
                pages
                    .page(key(5), revision, || async move {
                        let number = renders.fetch_add(1, Ordering::SeqCst) + 1;
                        gate.acquire().await.expect("open").forget();
                        Ok::<_, ()>(page(&format!("render {number}")))
                    })
                    .await
            })
        };
        let first = request(pages.clone(), renders.clone(), gate.clone());
        until(|| renders.load(Ordering::SeqCst) == 1).await;
        let waiting: Vec<_> = (0..8).map(|_| request(pages.clone(), renders.clone(), gate.clone())).collect();
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(2);
        assert_eq!(first.await.expect("joined").expect("page").body, "render 1");
        for task in waiting {
            let body = task.await.expect("joined").expect("page").body;
            let expected = if revision.is_some() { "render 1" } else { "render 2" };
            assert_eq!(body, expected, "revision {revision:?}");
        }
        let expected = if revision.is_some() { 1 } else { 2 };
        assert_eq!(renders.load(Ordering::SeqCst), expected, "revision {revision:?}");
    }

    #[tokio::test]
    async fn concurrent_requests_share_renders() {
        // At one revision the first render serves everyone; without one,
        // those that came during it share the next.
        share_renders(Some(3)).await;
        share_renders(None).await;
    }

    /// Yield until `done` holds (a bounded number of times: a test that
    /// would wait forever fails instead).
    async fn until(done: impl Fn() -> bool) {
        for _ in 0..1_000_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the condition never held");
    }

    #[tokio::test]
    async fn after_a_failed_render_the_waiting_requests_render_side_by_side() {
        let pages = Arc::new(TaskPages::new());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let request = || {
            let (pages, running, most, gate) = (pages.clone(), running.clone(), most.clone(), gate.clone());
            tokio::spawn(async move {
                pages
                    .page(key(7), None, || async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        gate.acquire().await.expect("open").forget();
                        running.fetch_sub(1, Ordering::SeqCst);
                        Err::<Page, _>("store down")
                    })
                    .await
            })
        };
        let first = request();
        until(|| running.load(Ordering::SeqCst) == 1).await;
        // Four requests arrive while the first render runs; it fails.
        let waiting: Vec<_> = (0..4).map(|_| request()).collect();
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        assert_eq!(first.await.expect("joined").expect_err("fails"), "store down");
        // It began before they came, so one of them renders for them all;
        // when that fails too, the other three try at once.
        until(|| running.load(Ordering::SeqCst) == 1).await;
        gate.add_permits(1);
        until(|| running.load(Ordering::SeqCst) == 3).await;
        gate.add_permits(3);
        for task in waiting {
            assert_eq!(task.await.expect("joined").expect_err("fails"), "store down");
        }
        assert_eq!(most.load(Ordering::SeqCst), 3, "the three left rendered side by side");
    }

    #[test]
    fn kept_pages_stay_within_their_bounds() {
        let mut inner = Inner::default();
        let chunk = BUDGET / 4;
        let big = Page { body: Bytes::from(vec![b' '; chunk]), next: None };
        for limit in 0..7 {
            inner.keep(key(limit), 1, Some(1), &big);
            assert!(inner.bytes <= BUDGET, "{} bytes kept", inner.bytes);
        }
        assert!(inner.serving(key(0), 0, Some(1)).is_none(), "the least recently used went first");
        assert!(inner.serving(key(6), 0, Some(1)).is_some(), "the newest stays");
        // A page larger than the budget is kept alone (it is being sent anyway).
        let huge = Page { body: Bytes::from(vec![b' '; BUDGET + 1]), next: None };
        inner.keep(key(999), 1, Some(1), &huge);
        assert!(inner.serving(key(999), 0, Some(1)).is_some());
        assert_eq!(inner.bytes, BUDGET + 1, "everything else went");
        for limit in 1000..1000 + 2 * MAX_PAGES {
            inner.entry(key(limit));
            assert!(inner.pages.len() <= MAX_PAGES);
        }
        let kept: usize = inner.pages.values().filter_map(|entry| entry.kept.as_ref()).map(|kept| kept.page.body.len()).sum();
        assert_eq!(kept, inner.bytes, "the count matches what is kept");
        // An older render does not replace a newer page.
        inner.keep(key(1), 5, Some(5), &page("new"));
        inner.keep(key(1), 4, Some(4), &page("old"));
        assert_eq!(inner.serving(key(1), 0, Some(5)).expect("kept").body, "new");
    }
}
