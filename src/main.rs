// The one exception is `limit_malloc_arenas`, a call into the C library.
#![deny(unsafe_code)]

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    folio::cli::main()
}

/// glibc's allocator gives threads arenas of their own, up to eight per core, and keeps what
/// is freed in each of them for reuse instead of returning it to the system. A server whose
/// searches, lists and database reads run on many tokio and blocking-pool threads thereby
/// keeps the high-water mark of every arena: measured at 100k entries, capping the arenas at
/// one per core took resident memory after the same load from ~300 to ~265 MiB, with the same
/// latencies. An operator's own `MALLOC_ARENA_MAX` wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only sets a tunable of the allocator, with a valid parameter and
    // value; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
