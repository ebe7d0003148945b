//! testdata-gen's command line; the generator is the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = testdata_gen::Args::parse();
    match testdata_gen::generate(&args) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testdata-gen: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
