//! `coinbeat-lab`: see the library ([`coinbeat_lab`]).

fn main() -> std::process::ExitCode {
    coinbeat_lab::main()
}
