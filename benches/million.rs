//! A 1,000,000-user tenant: how long `userName eq`, `emails.value eq` and a cursor page at
//! depth 1, 500,000 and 999,900 take through the code path the server uses
//! (`Provisioner::search` → `Repository::list_page`), without HTTP.
//!
//! `cargo bench --bench million` runs it on a temporary SQLite file; with
//! `ROSTER_BENCH_DATABASE_URL=postgres://user:pass@host/db` it runs on a fresh database created
//! on that server (and dropped afterwards) instead. `ROSTER_BENCH_USERS` changes the size.
//! Seeding goes through `Repository::insert` in transactions of 10,000 users and takes minutes.
//! Figures and how to read them: docs/benchmarks-million.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use roster::provision::{Paging, Provisioner, SearchQuery, SearchScope};
use roster::scim::cursor::{Cursor, Direction, QueryFingerprint};
use roster::scim::filter::parse_filter;
use roster::scim::schema::{ResourceKind, SchemaRegistry};
use roster::store::{Backend, DatabaseUrl, PageQuery, ResourceWrite, Store};
use roster::tenant::TenantId;
use serde_json::json;

const BATCH: usize = 10_000;
const PAGE: u64 = 100;
const CURSOR_TIMEOUT_SECS: u64 = 3600;

fn main() -> anyhow::Result<()> {
    let users: usize = std::env::var("ROSTER_BENCH_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let samples: usize = std::env::var("ROSTER_BENCH_SAMPLES").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let target = BenchDatabase::create(&dir)?;
    let schemas = Arc::new(SchemaRegistry::standard());
    let store = Store::open(&DatabaseUrl::parse(&target.url), 4, schemas.clone())?;
    let tenant = TenantId::parse("bench").map_err(anyhow::Error::msg)?;

    println!("# {users} users on {:?}", store.backend());
    println!("machine: {}", machine());
    println!("commit:  {}", commit());
    let started = Instant::now();
    seed(&store, &tenant, users)?;
    println!("seeded in {:.0} s", started.elapsed().as_secs_f64());
    target.analyze()?;

    let provisioner = Provisioner::new(store.clone(), schemas);
    let no_relations = |_: ResourceKind| false;
    let search = |filter: Option<&str>, paging: Paging| -> anyhow::Result<usize> {
        let query = SearchQuery {
            filter: filter.map(parse_filter).transpose()?,
            sort: None,
            paging,
            count: PAGE,
            cursor_timeout_secs: CURSOR_TIMEOUT_SECS,
        };
        let page = provisioner.search(&tenant, SearchScope::One(ResourceKind::User), &query, &no_relations)?;
        Ok(page.resources.len())
    };
    let spread = |i: usize| (i * 7919 + 13) % users;

    let mut rows = Vec::new();
    rows.push(measure("userName eq (index page, count=100)", samples, |i| {
        let filter = format!("userName eq \"user{:07}@bench.example\"", spread(i));
        expect_one(search(Some(&filter), Paging::Index { start_index: 1 })?)
    })?);
    rows.push(measure("emails.value eq (index page, count=100)", samples, |i| {
        let filter = format!("emails.value eq \"U{:07}@MAIL.example\"", spread(i));
        expect_one(search(Some(&filter), Paging::Index { start_index: 1 })?)
    })?);
    rows.push(measure("first cursor page (cursor=, counts totalResults)", samples.min(20), |_| {
        expect_page(search(None, Paging::Cursor(String::new()))?)
    })?);
    for depth in [1, users / 2, users.saturating_sub(100)] {
        let cursor = cursor_at(&store, &tenant, depth, users as u64)?;
        rows.push(measure(&format!("cursor page at depth {depth}"), samples, |_| {
            expect_page(search(None, Paging::Cursor(cursor.clone()))?)
        })?);
    }
    rows.push(measure(&format!("index page at startIndex={} (OFFSET, for contrast)", users / 2), 5, |_| {
        expect_page(search(None, Paging::Index { start_index: (users / 2) as u64 })?)
    })?);

    println!();
    println!("| query | median | p99 | samples |");
    println!("|---|---:|---:|---:|");
    for row in &rows {
        println!("| {} | {} | {} | {} |", row.name, millis(row.median), millis(row.p99), row.samples);
    }
    drop(provisioner);
    drop(store);
    target.drop_database();
    Ok(())
}

/// The database under test: a SQLite file in a temporary directory, or a fresh PostgreSQL
/// database on the server of `ROSTER_BENCH_DATABASE_URL`.
struct BenchDatabase {
    url: String,
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    fn create(dir: &tempfile::TempDir) -> anyhow::Result<BenchDatabase> {
        let Some(server) = std::env::var("ROSTER_BENCH_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
            let url = dir.path().join("million.db").to_string_lossy().into_owned();
            return Ok(BenchDatabase { url, postgres: None });
        };
        let name = format!("roster_bench_{}", uuid::Uuid::new_v4().simple());
        diesel::PgConnection::establish(&server)?.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let (prefix, _) = server.rsplit_once('/').ok_or_else(|| anyhow::anyhow!("the URL must end with /database"))?;
        Ok(BenchDatabase { url: format!("{prefix}/{name}"), postgres: Some((server, name)) })
    }

    /// PostgreSQL's autovacuum analyzes a freshly loaded table soon after; do it now so the
    /// figures do not depend on when it runs. SQLite gets no statistics, as in a default setup.
    fn analyze(&self) -> anyhow::Result<()> {
        if self.postgres.is_some() {
            diesel::PgConnection::establish(&self.url)?.batch_execute("ANALYZE")?;
        }
        Ok(())
    }

    fn drop_database(&self) {
        if let Some((server, name)) = &self.postgres {
            if let Ok(mut admin) = diesel::PgConnection::establish(server) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Inserts `users` users in transactions of `BATCH`, through `Repository::insert` (which also
/// fills the email index table). PostgreSQL gets two writers, SQLite one.
fn seed(store: &Store, tenant: &TenantId, users: usize) -> anyhow::Result<()> {
    let writers = if store.backend() == Backend::Postgres { 2 } else { 1 };
    let batches: Vec<usize> = (0..users).step_by(BATCH).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&from) = batches.get(index) else {
                            return Ok(());
                        };
                        store.write(|repo| {
                            for n in from..(from + BATCH).min(users) {
                                let id = uuid::Uuid::new_v4().to_string();
                                repo.insert(tenant, ResourceKind::User, &id, &user(n))?;
                            }
                            Ok::<(), roster::store::StoreError>(())
                        })?;
                        if (from / BATCH) % 10 == 9 {
                            eprintln!("  {} users", from + BATCH);
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        }
        Ok(())
    })
}

fn user(n: usize) -> ResourceWrite {
    ResourceWrite {
        data: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{n:07}@bench.example"),
            "externalId": format!("ext-{n}"),
            "name": {"givenName": "Bench", "familyName": format!("User {n}")},
            "displayName": format!("Bench User {n}"),
            "active": true,
            "emails": [{"value": format!("u{n:07}@mail.example"), "type": "work", "primary": true}]
        }),
        password_hash: None,
    }
}

/// The cursor a client holds after reading `depth` users in creation order (as a `nextCursor`
/// carries it: with the total counted on the first page). Found once, with an OFFSET read.
fn cursor_at(store: &Store, tenant: &TenantId, depth: usize, total: u64) -> anyhow::Result<String> {
    let mut query = PageQuery::first(None, None, 1);
    query.skip = depth.saturating_sub(1) as u64;
    let page = store.read(|repo| repo.list_page(tenant, ResourceKind::User, &query))?;
    let row = page.rows.into_iter().next().ok_or_else(|| anyhow::anyhow!("no row at depth {depth}"))?;
    let cursor = Cursor {
        direction: Direction::Next,
        resource_type: ResourceKind::User,
        key: row.key,
        total_results: Some(total),
        issued_at: chrono::Utc::now().timestamp(),
    };
    Ok(cursor.encode(&QueryFingerprint::of("Users", tenant.as_str(), None, None)))
}

fn expect_one(found: usize) -> anyhow::Result<()> {
    anyhow::ensure!(found == 1, "expected one match, got {found}");
    Ok(())
}

fn expect_page(found: usize) -> anyhow::Result<()> {
    anyhow::ensure!(found == PAGE as usize, "expected a full page, got {found}");
    Ok(())
}

struct Figure {
    name: String,
    median: Duration,
    p99: Duration,
    samples: usize,
}

/// Runs `work` a few times to warm caches, then `samples` times, timing each run.
fn measure(name: &str, samples: usize, mut work: impl FnMut(usize) -> anyhow::Result<()>) -> anyhow::Result<Figure> {
    for i in 0..samples.min(5) {
        work(samples + i)?;
    }
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let started = Instant::now();
        work(i)?;
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    let figure = Figure { name: name.to_string(), median: at(0.5), p99: at(0.99), samples };
    eprintln!("{name}: median {}, p99 {}", millis(figure.median), millis(figure.p99));
    Ok(figure)
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kb| format!(", {} GiB RAM", kb / 1024 / 1024));
    format!("{cpu}, {cores} cores{memory}")
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}
