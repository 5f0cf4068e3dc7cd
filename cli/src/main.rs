//! `coinbeat`: see the library ([`coinbeat`]).

fn main() -> std::process::ExitCode {
    coinbeat::main()
}
