//! The floor plan of the security core holds: no import cycle among the
//! modules of `app/src/ssr` (a module is one `.rs` file; `mod.rs` is its
//! folder's module). Each floor may import its own and those below (the
//! order is in `app/src/ssr/mod.rs`); an import cycle means two rooms that
//! can no longer be read, tested or moved apart.
//!
//! The graph is read from the source, as a reader would: every `use` line
//! (groups expanded), every inline `crate::ssr::…` path, `super::` and
//! `self::` paths, and a `mod.rs`'s `pub use child::…` re-exports. A path
//! counts for the longest module it names. Unit tests (`#[cfg(test)]` and
//! below) are left out: they may import what they test from anywhere.
//!
//! Also held here: all SQL is in `app/src/ssr/db/`, and a table is written
//! only from its own file there (`db/users.rs` writes `users`). `make lint`
//! runs these tests too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Module name (`ssr::session::store`) of each `.rs` file under `root/ssr`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir)
            .expect("read a source folder")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src.join("ssr"), &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(src).expect("under src");
            let mut parts: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            (parts.join("::"), file)
        })
        .collect()
}

/// The code a module runs in production: comments and unit tests removed.
fn production_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e}, self}` into `a::b`, `a::c::d`, `a::c::e`, `a`.
fn expand(prefix: &str, group: &str, out: &mut Vec<String>) {
    let mut depth = 0;
    let mut item = String::new();
    let mut items = Vec::new();
    for ch in group.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            items.push(std::mem::take(&mut item));
        } else {
            item.push(ch);
        }
    }
    items.push(item);
    for item in items {
        let item: String = item.split_whitespace().collect::<Vec<_>>().join(" ");
        let item = item.split(" as ").next().unwrap_or_default().trim();
        if item.is_empty() {
            continue;
        }
        if let Some((head, inner)) = item.split_once("::{") {
            let inner = inner.strip_suffix('}').unwrap_or(inner);
            expand(&join(prefix, head), inner, out);
        } else if item == "self" {
            out.push(prefix.to_owned());
        } else {
            out.push(join(prefix, item));
        }
    }
}

fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}::{rest}")
    }
}

/// Every path the code names, absolute (`ssr::…`) where it can be made so.
fn paths_named(module: &str, is_folder: bool, code: &str) -> Vec<String> {
    let absolute = |path: &str| -> Option<String> {
        let path = path.trim();
        if let Some(rest) = path.strip_prefix("crate::") {
            return Some(rest.to_owned());
        }
        if let Some(rest) = path.strip_prefix("self::") {
            return Some(join(module, rest));
        }
        if path.starts_with("super::") {
            // `super` is the module's parent, whether it is a file or a
            // folder's `mod.rs`; each further `super` one up again.
            let mut base: Vec<&str> = module.split("::").collect();
            let mut rest = path;
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
            return Some(join(&base.join("::"), rest));
        }
        // A folder's `use child::…` (a re-export) names its own child.
        if is_folder {
            return Some(join(module, path));
        }
        None
    };
    let mut found = Vec::new();
    // `use` statements, possibly over several lines.
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let statement = &rest[..end];
        rest = &rest[end..];
        let mut expanded = Vec::new();
        match statement.split_once("::{") {
            Some((head, group)) => expand(
                head.trim(),
                group.trim_end().strip_suffix('}').unwrap_or(group),
                &mut expanded,
            ),
            None => expanded.push(statement.trim().to_owned()),
        }
        found.extend(expanded.iter().filter_map(|p| absolute(p)));
    }
    // Inline paths: `crate::ssr::a::b`, `super::a::b`.
    for marker in ["crate::ssr::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(marker) {
            let start = from + at;
            let end = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| start + e);
            let path = code[start..end].trim_end_matches(':');
            if let Some(path) = absolute(path) {
                found.push(path);
            }
            from = end.max(start + marker.len());
        }
    }
    found
}

/// The module a path names: its longest prefix that is a module.
fn module_of(path: &str, known: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    while !parts.is_empty() {
        let candidate = parts.join("::");
        if known.contains_key(&candidate) {
            return Some(candidate);
        }
        parts.pop();
    }
    None
}

fn graph(src: &Path) -> Graph {
    let known = modules(src);
    let mut graph = Graph::new();
    for (module, file) in &known {
        let is_folder = file.file_name().is_some_and(|n| n == "mod.rs");
        let code = production_code(&std::fs::read_to_string(file).expect("read a module"));
        let targets = paths_named(module, is_folder, &code)
            .iter()
            .filter_map(|path| module_of(path, &known))
            .filter(|target| target != module)
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

/// One cycle, as the modules along it (the first again at the end).
fn a_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_module_of_the_security_core_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
    let graph = graph(&src);
    assert!(graph.len() > 40, "the modules were found: {}", graph.len());
    // The reader finds what a reader would: a few known edges.
    for (from, to) in [
        ("ssr::session::store", "ssr::session::cache"),
        ("ssr::http::resolve_session", "ssr::page_data"),
        ("ssr::mfa::enrolment", "ssr::mfa::step_up"),
        ("ssr::session", "ssr::session::auth"),
        ("ssr::mfa::factors", "ssr::mfa::recovery"),
    ] {
        assert!(
            graph.get(from).is_some_and(|targets| targets.contains(to)),
            "{from} -> {to}: {:?}",
            graph.get(from)
        );
    }
    if let Some(cycle) = a_cycle(&graph) {
        panic!("an import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_check_finds_a_cycle_through_use_groups_super_and_inline_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    let ssr = src.join("ssr");
    std::fs::create_dir_all(ssr.join("room")).expect("dirs");
    let write = |name: &str, text: &str| std::fs::write(ssr.join(name), text).expect("write");
    write("mod.rs", "pub mod low;\npub mod room;\n");
    write("room/mod.rs", "pub mod a;\npub mod b;\npub use a::Thing;\n");
    write(
        "room/a.rs",
        "use crate::ssr::{low, room::b::Other};\npub struct Thing;\n",
    );
    write(
        "room/b.rs",
        "pub struct Other;\nfn f() { super::super::low::g(); }\n",
    );
    write(
        "low.rs",
        "pub fn g() {}\n// crate::ssr::room::a in a comment is no import\n#[cfg(test)]\nmod tests { use crate::ssr::room::a; }\n",
    );
    let before = graph(src);
    assert_eq!(a_cycle(&before), None, "{before:?}");
    assert!(before["ssr::room::a"].contains("ssr::low"));
    assert!(before["ssr::room::a"].contains("ssr::room::b"));
    assert!(before["ssr::room::b"].contains("ssr::low"));
    assert!(before["ssr::room"].contains("ssr::room::a"));

    // Now `low` imports `room::a` back, inline: a cycle.
    write(
        "low.rs",
        "pub fn g() { let _ = crate::ssr::room::a::Thing; }\n",
    );
    let cycle = a_cycle(&graph(src)).expect("a cycle");
    assert!(cycle.contains(&"ssr::low".to_owned()), "{cycle:?}");
    assert!(cycle.contains(&"ssr::room::a".to_owned()), "{cycle:?}");
}

/// Where SQL may be, by the rule of `app/src/ssr/db/mod.rs`: a statement
/// outside `ssr/db/` (production code of the app or the server), and a
/// write (`INSERT INTO t`, `UPDATE t`, `DELETE FROM t`) outside
/// `ssr/db/t.rs`. `files` are (path relative to the repository, text).
fn sql_out_of_place(files: &[(String, String)]) -> Vec<String> {
    const QUERIES: [&str; 5] = [
        "sqlx::query",
        "query_as(",
        "query_scalar(",
        "query_with(",
        "raw_sql(",
    ];
    let mut found = Vec::new();
    for (path, text) in files {
        let code = production_code(text);
        let in_db = path.contains("app/src/ssr/db/");
        if !in_db {
            if let Some(query) = QUERIES.iter().find(|q| code.contains(*q)) {
                found.push(format!("{path}: `{query}` outside app/src/ssr/db/"));
            }
            continue;
        }
        let file_table = Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for verb in ["INSERT INTO ", "UPDATE ", "DELETE FROM "] {
            for (at, _) in code.match_indices(verb) {
                let table: String = code[at + verb.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                // `DO UPDATE SET` and the like name no table.
                if !table.is_empty() && table != file_table {
                    found.push(format!("{path}: writes `{table}` ({verb}...)"));
                }
            }
        }
    }
    found
}

/// Every `.rs` file under `dir`, relative to the repository root.
fn rust_files(root: &Path, dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root.join(dir), &mut files);
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("a source file");
            let relative = file.strip_prefix(root).expect("under the root");
            (relative.to_string_lossy().replace('\\', "/"), text)
        })
        .collect()
}

#[test]
fn all_sql_is_in_the_database_rooms_and_each_table_has_one_writer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = rust_files(&root, "app/src");
    files.extend(rust_files(&root, "server/src"));
    let tables: Vec<&(String, String)> = files
        .iter()
        .filter(|(path, _)| path.starts_with("app/src/ssr/db/"))
        .collect();
    assert!(
        tables.len() >= 9,
        "the db files were found: {}",
        tables.len()
    );
    let found = sql_out_of_place(&files);
    assert!(found.is_empty(), "SQL out of place:\n{}", found.join("\n"));
}

#[test]
fn the_sql_check_finds_a_query_outside_and_a_write_to_another_table() {
    let file = |path: &str, text: &str| (path.to_owned(), text.to_owned());
    let good = [
        file(
            "app/src/ssr/db/users.rs",
            "fn f() { sqlx::query(\"UPDATE users SET a = 1 ON CONFLICT DO UPDATE SET b = 2\"); }",
        ),
        file(
            "app/src/ssr/auth/accounts.rs",
            "// sqlx::query in a comment\nfn f() {}\n#[cfg(test)]\nmod tests { fn t() { sqlx::query(\"x\"); } }",
        ),
    ];
    assert_eq!(sql_out_of_place(&good), Vec::<String>::new());
    let bad = [
        file(
            "app/src/ssr/admin.rs",
            "fn f() { sqlx::query_scalar(\"SELECT 1\"); }",
        ),
        file(
            "app/src/ssr/db/sessions.rs",
            "fn f() { q(\"DELETE FROM users WHERE id = $1\"); }",
        ),
        file("server/src/main.rs", "fn f() { sqlx::raw_sql(\"x\"); }"),
    ];
    let found = sql_out_of_place(&bad);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[1].contains("writes `users`"), "{found:?}");
}

/// The seam between the server functions and the core is one-way: `api`
/// calls `ssr`; `ssr` uses the types both share from `shared`, never `api`;
/// and `shared`, a leaf, imports neither.
#[test]
fn the_core_never_imports_the_server_functions_and_shared_is_a_leaf() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for (dir, forbidden) in [
        ("app/src/ssr", &["crate::api"][..]),
        (
            "app/src/shared",
            &["crate::api", "crate::ssr", "super::super"][..],
        ),
    ] {
        let files = rust_files(&root, dir);
        assert!(!files.is_empty(), "{dir} was read");
        for (path, text) in files {
            let code = production_code(&text);
            for name in forbidden {
                if code.contains(name) {
                    found.push(format!("{path} names {name}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// `make test` names its test binaries (some run in parallel, some not):
/// a new file in server/tests/ that no line names would never run.
#[test]
fn make_test_runs_every_test_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let makefile = std::fs::read_to_string(root.join("../Makefile")).expect("the Makefile");
    let mut unnamed = Vec::new();
    for entry in std::fs::read_dir(root.join("tests"))
        .expect("server/tests")
        .flatten()
    {
        let path = entry.path();
        let binary = if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem().map(|s| s.to_string_lossy().into_owned())
        } else if path.join("main.rs").exists() {
            path.file_name().map(|s| s.to_string_lossy().into_owned())
        } else {
            None
        };
        if let Some(binary) = binary {
            if !makefile.contains(&format!("--test {binary} "))
                && !makefile.contains(&format!("--test {binary}\n"))
            {
                unnamed.push(binary);
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "test binaries make test does not run: {unnamed:?}"
    );
}
