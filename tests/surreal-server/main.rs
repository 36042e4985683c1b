//! The ordinary `surreal` server (`surreal start --bind ADDR --user U --pass P memory`), for
//! the tests that run Folio against a SurrealDB server instead of the embedded store.

// The server's query types nest deeper than the default limit allows.
#![recursion_limit = "256"]

fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
