//! The `xl` binary: parses the command line and hands over to `xl_server`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = xl_server::Cli::parse();
    match xl_server::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}
