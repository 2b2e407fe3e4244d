//! No two files of a crate import each other, even through others: the
//! modules of the API, the engine, the worker, the use cases, xtask and the
//! bench form no circle. A circle means neither file can be read (or
//! moved) without the other; state, router and handlers stay apart. Only
//! std: it reads `crate::` and `super::` paths in the sources, tests left
//! out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The crates whose files must form no circle.
const CRATES: [&str; 6] = [
    "api/src",
    "engine/src",
    "worker/src",
    "usecases/src",
    "xtask/src",
    "bench/src",
];

#[test]
fn no_module_imports_itself_through_others() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository");
    let mut circles = Vec::new();
    for dir in CRATES {
        let graph = imports(&root.join(dir));
        assert!(!graph.is_empty(), "no module under {dir}");
        for circle in strongly_connected(&graph) {
            circles.push(format!("{dir}: {}", circle.join(" ↔ ")));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n  {}",
        circles.join("\n  ")
    );
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &["a"][..]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.iter().map(|t| (*t).to_owned()).collect()))
    .collect();
    assert_eq!(strongly_connected(&graph), vec![vec!["a", "b", "c"]]);
}

/// Module → the modules of the same crate it names, per file under `src`
/// (`a/b.rs` and `a/b/mod.rs` are `a::b`; the crate root is left out).
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = BTreeMap::new();
    collect(src, src, &mut files);
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, text)| {
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let named = named_modules(module, code, &modules);
            (module.clone(), named)
        })
        .collect()
}

fn collect(src: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(src, &path, out);
            continue;
        }
        let Some(rel) = path.strip_prefix(src).ok().and_then(Path::to_str) else {
            continue;
        };
        let Some(stem) = rel.strip_suffix(".rs") else {
            continue;
        };
        let module = stem.trim_end_matches("/mod").replace('/', "::");
        if !matches!(module.as_str(), "lib" | "main") {
            out.insert(module, fs::read_to_string(&path).unwrap());
        }
    }
}

/// The modules `code` (of `module`) names through `crate::` or `super::`.
fn named_modules(module: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let mut named = BTreeSet::new();
    for (prefix, base) in [("crate::", ""), ("super::", parent)] {
        for (at, _) in code.match_indices(prefix) {
            let path: String = code[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut parts = path.split("::").filter(|p| !p.is_empty());
            let Some(first) = parts.next() else { continue };
            let join = |a: &str, b: &str| {
                if a.is_empty() {
                    b.to_owned()
                } else {
                    format!("{a}::{b}")
                }
            };
            let one = join(base, first);
            let two = parts.next().map(|second| join(&one, second));
            let target = two
                .filter(|t| modules.contains(t))
                .or_else(|| Some(one).filter(|o| modules.contains(o)));
            if let Some(t) = target.filter(|t| t != module) {
                named.insert(t);
            }
        }
    }
    named
}

/// The circles of `graph`: its strongly connected parts of more than one
/// module, each sorted (Tarjan's algorithm).
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let lw = self.low[w.as_str()];
                    self.low.entry(v).and_modify(|l| *l = (*l).min(lw));
                } else if self.stack.contains(&w.as_str()) {
                    let iw = self.index[w.as_str()];
                    self.low.entry(v).and_modify(|l| *l = (*l).min(iw));
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|m| *m == v).unwrap_or(0);
                let mut part: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if part.len() > 1 {
                    part.sort();
                    self.found.push(part);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}
