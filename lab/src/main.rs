//! `coinbeat-lab`: see the library ([`coinbeat_lab`]).

/// mimalloc rather than glibc's malloc, as the production binary (`cli/src/main.rs`): the lab
/// runs the components it measures as `coinbeat-lab run <name>`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    coinbeat::huge_pages::off_unless_asked();
    coinbeat_lab::main()
}
