// The exceptions are `limit_malloc_arenas` and `return_free_memory`, calls into the C library.
#![deny(unsafe_code)]

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    return_free_memory();
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

/// How much freed memory glibc may hold in its arenas before it is handed back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const FREE_HELD_MAX: usize = 32 << 20;

/// glibc returns freed memory to the system only from the top of an arena; what is freed
/// below a block still in use stays resident. The store's compaction (which runs at the first
/// start after a bulk import, and after heavy writing) allocates and frees a key per row
/// among the blocks it caches, and left ~100 MiB of free memory resident at 100k entries
/// (190 MiB anonymous memory after it, 92 MiB once trimmed). A thread looks every few seconds
/// at what the arenas hold free and, past [`FREE_HELD_MAX`], hands it back (`malloc_trim`,
/// which also releases free pages inside an arena).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_free_memory() {
    let spawned = std::thread::Builder::new()
        .name("memory-trim".into())
        .spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                // SAFETY: `mallinfo2` only reads the allocator's statistics (under its locks).
                let free = unsafe { libc::mallinfo2() }.fordblks;
                if free > FREE_HELD_MAX {
                    // SAFETY: `malloc_trim` only releases memory the allocator holds free, under
                    // the arenas' locks; it is safe to call from any thread at any time.
                    unsafe {
                        libc::malloc_trim(0);
                    }
                    tracing::debug!(free_mib = free >> 20, "returned freed memory to the system");
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("warning: freed memory will not be returned to the system: {e}");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_free_memory() {}
