//! `coinbeat`: see the library ([`coinbeat`]).

/// mimalloc rather than glibc's malloc: the API's read path allocates per request, and mimalloc
/// served it with less CPU (BENCHMARKS.md, "The read path").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    coinbeat::huge_pages::off_unless_asked();
    coinbeat::main()
}
