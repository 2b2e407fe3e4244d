//! `jq`: runs a jq filter over JSON input, with [jaq](https://github.com/01mf02/jaq)
//! (jq's language, its standard library included).
//!
//! Params:
//! * `filter` (required): the jq program, e.g. `.items[] | select(.price > 10) | .name`;
//! * `raw` (`true`/`false`, default `false`): strings are written without
//!   quotes, like `jq -r`;
//! * `slurp` (`true`/`false`, default `false`): all input values are read
//!   into one array first, like `jq -s` (memory then grows with the input).
//!
//! Input: one JSON document, or any number of whitespace-separated values
//! (JSON Lines). Values are read and filtered one at a time, so memory is
//! bounded by the largest value, not by the input. Output: each result on a
//! line of its own, compact (`application/x-ndjson`, or `text/plain` with
//! `raw=true`).
//!
//! Fails with `invalid_params` when the filter does not parse or compile
//! (the message shows where), and `invalid_input` on malformed JSON or when
//! the filter raises an error (the message names the input value).

use agensium_sdk::{Failure, Input, Output, Params, Summary};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Native, RcIter};
use jaq_json::Val;
use serde_json::Value;
use std::io::Write;

/// A compiled jq program.
type Filter = jaq_core::Filter<Native<Val>>;

/// The processor.
pub fn jq(params: &Params, input: &mut Input, output: &mut Output) -> Result<Summary, Failure> {
    params.warn_unknown(&["filter", "raw", "slurp"]);
    let code: String = params.require("filter")?;
    let raw: bool = params.get_or("raw", false)?;
    let slurp: bool = params.get_or("slurp", false)?;
    let filter = compile(&code)?;
    let mut counts = Counts::default();
    let mut values = serde_json::Deserializer::from_reader(input).into_iter::<Value>();
    if slurp {
        let all = values
            .enumerate()
            .map(|(n, value)| value.map_err(|e| malformed(n, &e)))
            .collect::<Result<Vec<_>, _>>()?;
        counts.inputs = all.len() as u64;
        apply(&filter, Value::Array(all), 0, raw, output, &mut counts)?;
    } else {
        for (n, value) in values.by_ref().enumerate() {
            let value = value.map_err(|e| malformed(n, &e))?;
            counts.inputs += 1;
            apply(&filter, value, n, raw, output, &mut counts)?;
        }
    }
    agensium_sdk::info!("{} input values, {} results", counts.inputs, counts.outputs);
    let media_type = if raw {
        "text/plain; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    Ok(Summary::new()
        .content_type(media_type)
        .stat("inputs", counts.inputs)
        .stat("outputs", counts.outputs))
}

#[derive(Default)]
struct Counts {
    inputs: u64,
    outputs: u64,
}

/// Parses and compiles `code` with jq's standard library.
fn compile(code: &str) -> Result<Filter, Failure> {
    let program = File { code, path: () };
    let loader = Loader::new(jaq_std::defs().chain(jaq_json::defs()));
    let arena = Arena::default();
    let modules = loader.load(&arena, program).map_err(|errors| {
        let why: Vec<String> = errors
            .into_iter()
            .flat_map(|(_, error)| load_error(code, error))
            .collect();
        bad_filter(&why.join("; "))
    })?;
    Compiler::default()
        .with_funs(jaq_std::funs().chain(jaq_json::funs()))
        .compile(modules)
        .map_err(|errors| {
            let why: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, undefined)| undefined)
                .map(|(name, kind)| format!("undefined {} {name}", kind.as_str()))
                .collect();
            bad_filter(&why.join("; "))
        })
}

/// Describes one load error, with the byte offset in `code` where it is.
fn load_error(code: &str, error: jaq_core::load::Error<&str>) -> Vec<String> {
    use jaq_core::load::Error;
    let at = |part: &str| jaq_core::load::span(code, part).start;
    match error {
        Error::Io(errors) => errors
            .into_iter()
            .map(|(path, e)| format!("{path}: {e}"))
            .collect(),
        Error::Lex(errors) => errors
            .into_iter()
            .map(|(expected, part)| {
                format!("expected {} at offset {}", expected.as_str(), at(part))
            })
            .collect(),
        Error::Parse(errors) => errors
            .into_iter()
            .map(|(expected, part)| {
                format!("expected {} at offset {}", expected.as_str(), at(part))
            })
            .collect(),
    }
}

fn bad_filter(why: &str) -> Failure {
    Failure::invalid_params(format!("param \"filter\" is not a valid jq program: {why}"))
}

fn malformed(n: usize, error: &serde_json::Error) -> Failure {
    Failure::invalid_input(format!("input value {} is not valid JSON: {error}", n + 1))
}

/// Runs the filter on one input value and writes each result as a line.
fn apply(
    filter: &Filter,
    value: Value,
    n: usize,
    raw: bool,
    output: &mut Output,
    counts: &mut Counts,
) -> Result<(), Failure> {
    let inputs = RcIter::new(core::iter::empty());
    for result in filter.run((Ctx::new([], &inputs), Val::from(value))) {
        let result = result.map_err(|e| {
            Failure::invalid_input(format!("the filter failed on input value {}: {e}", n + 1))
        })?;
        match result {
            Val::Str(s) if raw => writeln!(output, "{s}")?,
            other => writeln!(output, "{other}")?,
        }
        counts.outputs += 1;
    }
    Ok(())
}

agensium_sdk::processor!(jq);

#[cfg(test)]
mod tests {
    use super::jq;
    use agensium_sdk::testing::run;

    fn text(output: &[u8]) -> &str {
        std::str::from_utf8(output).unwrap()
    }

    #[test]
    fn filters_a_document_with_the_standard_library() {
        let input = br#"{"items":[{"name":"a","price":5},{"name":"b","price":12},{"name":"c","price":30}]}"#;
        let done = run(
            jq,
            input,
            &[(
                "filter",
                "[.items[] | select(.price > 10) | .name] | map(ascii_upcase)",
            )],
        );
        let summary = done.result.unwrap();
        assert_eq!(text(&done.output), "[\"B\",\"C\"]\n");
        assert_eq!(summary.get("inputs"), Some("1"));
        assert_eq!(summary.get("outputs"), Some("1"));
    }

    #[test]
    fn streams_json_lines_one_result_per_line_and_raw_strings() {
        let input: String = (0..10_000)
            .map(|i| format!("{{\"id\":{i},\"tag\":\"t{}\"}}\n", i % 3))
            .collect();
        let done = run(
            jq,
            input.as_bytes(),
            &[
                ("filter", "select(.id % 1000 == 0) | .tag"),
                ("raw", "true"),
            ],
        );
        let summary = done.result.unwrap();
        assert_eq!(
            text(&done.output),
            "t0\nt1\nt2\nt0\nt1\nt2\nt0\nt1\nt2\nt0\n"
        );
        assert_eq!(summary.get("inputs"), Some("10000"));
        assert_eq!(summary.get("outputs"), Some("10"));
        assert_eq!(
            summary.content_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn slurp_gathers_every_value_into_one_array() {
        let done = run(jq, b"1 2 3\n4", &[("filter", "add"), ("slurp", "true")]);
        done.result.unwrap();
        assert_eq!(text(&done.output), "10\n");
    }

    #[test]
    fn a_bad_filter_is_invalid_params_and_says_where() {
        let done = run(jq, b"{}", &[("filter", ".a | (")]);
        let failure = done.result.unwrap_err();
        assert_eq!(failure.code, "invalid_params");
        assert!(failure.message.contains("offset"), "{failure}");
        let done = run(jq, b"{}", &[("filter", "no_such_function(1)")]);
        let failure = done.result.unwrap_err();
        assert_eq!(failure.code, "invalid_params");
        assert!(failure.message.contains("no_such_function"), "{failure}");
        let done = run(jq, b"{}", &[]);
        assert_eq!(done.result.unwrap_err().code, "invalid_params");
    }

    #[test]
    fn malformed_json_and_runtime_errors_are_invalid_input() {
        let done = run(jq, b"{\"a\":1}\n{\"a\":", &[("filter", ".a")]);
        let failure = done.result.unwrap_err();
        assert_eq!(failure.code, "invalid_input");
        assert!(failure.message.contains("input value 2"), "{failure}");
        assert_eq!(
            text(&done.output),
            "1\n",
            "the first value's result was written"
        );
        let done = run(jq, b"3", &[("filter", ".a")]);
        let failure = done.result.unwrap_err();
        assert_eq!(failure.code, "invalid_input");
        assert!(failure.message.contains("input value 1"), "{failure}");
    }
}
