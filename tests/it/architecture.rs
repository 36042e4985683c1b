//! The dependency rules ARCHITECTURE.md states, checked on the sources: which modules may not
//! import which, no SurrealQL outside `storage`, and no cycle between the crate's modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of the crate and the crate modules its code (tests left out)
/// names through `crate::…`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "main" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let used = out.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != top {
                used.insert(name);
            }
        }
    }
    out
}

#[test]
fn modules_import_only_what_the_architecture_allows() {
    let imports = imports();
    let absent: &[(&str, &[&str])] = &[
        (
            "storage",
            &[
                "content", "accounts", "media", "search", "api", "access", "mail",
            ],
        ),
        ("query_model", &["content", "storage", "access", "accounts"]),
        (
            "schema",
            &["content", "storage", "access", "accounts", "api"],
        ),
        ("time", &["content", "storage", "schema", "error"]),
        ("access", &["content", "storage", "api"]),
        ("accounts", &["content", "media", "api", "search"]),
        ("config", &["accounts", "content", "storage", "api"]),
    ];
    for (module, forbidden) in absent {
        let used = &imports[*module];
        for f in *forbidden {
            assert!(!used.contains(*f), "`{module}` imports `{f}`");
        }
    }
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let imports = imports();
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for next in imports.get(&m).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        false
    };
    for (module, used) in &imports {
        for other in used {
            assert!(
                !reaches(other, module),
                "`{module}` imports `{other}`, which leads back to `{module}`"
            );
        }
    }
}

#[test]
fn only_storage_writes_surrealql() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let statement = regex::Regex::new(
        r#""\s*(SELECT|UPDATE|DELETE|CREATE|UPSERT|INSERT|RELATE|DEFINE|REMOVE|BEGIN|LET \$)\b"#,
    )
    .unwrap();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            if path != src.join("storage") {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(m) = statement.find(&text) {
            let line = text[..m.start()].lines().count();
            panic!("{}:{line}: a query outside storage", path.display());
        }
    }
}
