//! What the service's test binaries share.
#![allow(dead_code)] // each test binary uses a part of it

/// A free loopback port, for the service under test.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The tests' PostgreSQL (`MANIFEST_PG_URL`, which `scripts/test.sh` sets), or `None` after
/// saying the test is skipped; under `CI=true` a missing one is a failure.
pub fn pg_url() -> Option<String> {
    match std::env::var("MANIFEST_PG_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh")
        }
        Err(_) => {
            eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
            None
        }
    }
}
