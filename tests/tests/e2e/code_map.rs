//! ARCHITECTURE.md's code map against the source tree: every `.rs` file of
//! the repository is named in the map, and everything the map names exists.
//! How the map names files is written above its block in ARCHITECTURE.md;
//! this reads it exactly that way. Only std: it needs no app and no backend.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Files a directory's own line also names: the module the directory is.
const ROOT_MODULES: [&str; 3] = ["lib.rs", "main.rs", "mod.rs"];

#[test]
fn the_code_map_names_every_source_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository")
        .to_path_buf();
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let named = named_paths(&root, &code_map(&architecture));

    let mut sources = BTreeSet::new();
    rust_files(&root, &root, &mut sources);
    assert!(
        !sources.is_empty(),
        "no .rs file found under {}",
        root.display()
    );

    let unnamed: Vec<_> = sources.iter().filter(|f| !named.contains(*f)).collect();
    let absent: Vec<_> = named
        .iter()
        .filter(|p| !root.join(p.trim_end_matches('/')).exists())
        .collect();
    let mut problems = String::new();
    for file in &unnamed {
        problems.push_str(&format!("\n  not in the code map: {file}"));
    }
    for path in &absent {
        problems.push_str(&format!(
            "\n  named by the code map, does not exist: {path}"
        ));
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's code map is out of date:{problems}"
    );
}

/// The lines of the fenced block that follows the `## Code map` heading.
fn code_map(architecture: &str) -> Vec<&str> {
    let section = architecture
        .split_once("\n## Code map\n")
        .expect("ARCHITECTURE.md has a `## Code map` section")
        .1;
    let block = section
        .split_once("\n```\n")
        .expect("the code map section has a ``` block")
        .1;
    let block = block
        .split_once("\n```")
        .expect("the code map's block is closed")
        .0;
    block.lines().collect()
}

/// Every path the map names, relative to the repository root (a directory
/// with its trailing `/`). A line indented two spaces deeper than the
/// innermost open directory's line is in that directory; a line indented
/// deeper still continues the description above it and names nothing.
fn named_paths(root: &Path, map: &[&str]) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    // The open directories: (indent of their line, path).
    let mut open: Vec<(usize, String)> = Vec::new();
    for line in map {
        let text = line.trim_start_matches(' ');
        if text.trim().is_empty() {
            continue;
        }
        let indent = line.len() - text.len();
        let deepest_entry = open.last().map_or(0, |(i, _)| i + 2);
        if indent > deepest_entry {
            continue;
        }
        while open.last().is_some_and(|(i, _)| *i >= indent) {
            open.pop();
        }
        let parent = open.last().map_or(String::new(), |(_, dir)| dir.clone());
        let names = text.split_once("  ").map_or(text, |(names, _)| names);
        let mut opened = None;
        for name in names.trim_end().split(", ") {
            let path = format!("{parent}{name}");
            if name.ends_with('/') {
                for module in ROOT_MODULES {
                    if root.join(&path).join(module).is_file() {
                        named.insert(format!("{path}{module}"));
                    }
                }
                opened = Some(path.clone());
            }
            named.insert(path);
        }
        if let Some(dir) = opened {
            open.push((indent, dir));
        }
    }
    named
}

/// Every `.rs` file under `dir`, relative to `root` with `/` separators;
/// build output (`target/`) and hidden directories are not sources.
fn rust_files(root: &Path, dir: &Path, found: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path: PathBuf = entry.path();
        let name = path.file_name().unwrap().to_string_lossy();
        if entry.file_type().unwrap().is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(root, &path, found);
            }
        } else if name.ends_with(".rs") {
            let relative = path.strip_prefix(root).unwrap();
            let parts: Vec<_> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.insert(parts.join("/"));
        }
    }
}
