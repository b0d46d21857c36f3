//! The `noisescope` executable: the app, or a subcommand.

use std::process::ExitCode;

use clap::Parser;
use noisescope::cli::{Cli, Interrupted, run};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("{}", parse_error_line(&error.to_string()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(command) => run(command, &mut std::io::stdout().lock()),
        None => noisescope::app::run_native(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<Interrupted>() => ExitCode::from(130),
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// clap's message on one line: what is wrong and the arguments it names (a missing argument
/// is named on the lines after the first), without the usage that follows.
fn parse_error_line(rendered: &str) -> String {
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    if message.is_empty() {
        "error: bad arguments (see --help)".to_owned()
    } else {
        format!("{} (see --help)", message.join(" "))
    }
}

/// The error and its causes on one line.
fn one_line(error: &anyhow::Error) -> String {
    error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
