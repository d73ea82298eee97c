//! `drydock config sample` (a commented TOML file of every `drydock serve`
//! option with its default) and the `drydock serve --config FILE` reader:
//! a TOML table keyed by the long option names, applied below the command
//! line and the environment (flags > env > file > defaults).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Subcommand};

/// `drydock config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented sample configuration for `drydock serve --config`.
    Sample,
}

/// Options a configuration file cannot set.
const NOT_IN_FILE: [&str; 3] = ["help", "config", "print-openapi"];

fn serve_command() -> clap::Command {
    let command = <super::Cli as clap::CommandFactory>::command();
    command.find_subcommand("serve").cloned().unwrap_or_else(|| clap::Command::new("serve"))
}

fn file_options(command: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    command.get_arguments().filter(|arg| arg.get_long().is_some_and(|long| !NOT_IN_FILE.contains(&long)))
}

fn toml_scalar(text: &str) -> String {
    if text.parse::<i64>().is_ok() || text == "true" || text == "false" {
        text.to_owned()
    } else {
        toml::Value::String(text.to_owned()).to_string()
    }
}

/// The sample configuration text.
pub fn sample() -> String {
    let command = serve_command();
    let mut out = String::from(
        "# drydock serve configuration (drydock serve --config FILE).\n\
         # Keys are the long option names; the command line and the environment\n\
         # take precedence over this file. Every line below shows the default.\n",
    );
    for arg in file_options(&command) {
        let long = arg.get_long().unwrap_or_default();
        out.push('\n');
        if let Some(help) = arg.get_help() {
            for line in help.to_string().lines() {
                out.push_str(&format!("# {line}\n"));
            }
        }
        if let Some(env) = arg.get_env() {
            out.push_str(&format!("# Environment: {}\n", env.to_string_lossy()));
        }
        let defaults: Vec<String> = arg.get_default_values().iter().map(|value| toml_scalar(&value.to_string_lossy())).collect();
        let line = match arg.get_action() {
            ArgAction::SetTrue => format!("#{long} = false"),
            ArgAction::Append => format!("#{long} = [{}]", defaults.join(", ")),
            _ if arg.get_value_delimiter().is_some() => format!("#{long} = [{}]", defaults.join(", ")),
            _ => match defaults.first() {
                Some(value) => format!("#{long} = {value}"),
                None => format!("#{long} = \"\"  # not set by default"),
            },
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Run a config subcommand.
pub fn run(command: ConfigCommand) -> ExitCode {
    match command {
        ConfigCommand::Sample => {
            print!("{}", sample());
            ExitCode::SUCCESS
        }
    }
}

/// Command-line arguments for the options `path` sets that neither the
/// command line nor the environment set (`matches` are the serve
/// subcommand's).
pub fn file_arguments(path: &Path, matches: &ArgMatches) -> Result<Vec<OsString>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read the configuration {}: {error}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|error: toml::de::Error| format!("the configuration {} is not valid TOML: {}", path.display(), error.message()))?;
    let command = serve_command();
    let mut out = Vec::new();
    for (key, value) in &table {
        let arg = file_options(&command)
            .find(|arg| arg.get_long() == Some(key.as_str()))
            .ok_or_else(|| format!("the configuration {} has an unknown key {key:?}", path.display()))?;
        let explicit = matches!(matches.value_source(arg.get_id().as_str()), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        if explicit {
            continue;
        }
        let option = OsString::from(format!("--{key}"));
        let bad = || format!("the configuration {}: {key} has a value of the wrong type", path.display());
        match (arg.get_action(), value) {
            (ArgAction::SetTrue, toml::Value::Boolean(true)) => out.push(option),
            (ArgAction::SetTrue, toml::Value::Boolean(false)) => {}
            (ArgAction::SetTrue, _) => return Err(bad()),
            (_, toml::Value::Array(items)) if matches!(arg.get_action(), ArgAction::Append) || arg.get_value_delimiter().is_some() => {
                for item in items {
                    out.push(option.clone());
                    out.push(scalar_text(item).ok_or_else(bad)?.into());
                }
            }
            (_, value) => {
                out.push(option);
                out.push(scalar_text(value).ok_or_else(bad)?.into());
            }
        }
    }
    Ok(out)
}

fn scalar_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(number) => Some(number.to_string()),
        toml::Value::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_uncommented_is_valid_toml_with_every_option() {
        let text: String = sample()
            .lines()
            .filter(|line| line.starts_with('#') && !line.starts_with("# "))
            .map(|line| format!("{}\n", line.trim_start_matches('#')))
            .collect();
        let table: toml::Table = text.parse().expect("TOML");
        assert_eq!(table["listen"].as_str(), Some("0.0.0.0:9000"));
        assert_eq!(table["body-limit"].as_integer(), Some(32 << 20));
        assert_eq!(table["trusted-proxy"].as_array().map(Vec::len), Some(2));
        assert_eq!(table["no-orchestrator"].as_bool(), Some(false));
        let command = serve_command();
        assert_eq!(table.len(), file_options(&command).count());
        assert!(!table.contains_key("config") && !table.contains_key("print-openapi"));
    }
}
