//! Builds the admin UI (`admin-ui/`, TypeScript + Vite) into `OUT_DIR/admin-ui`, which the
//! binary embeds and serves at `/admin/`. Installs the locked packages when the lock file
//! changed since the last install, then type-checks (against types generated from the admin
//! OpenAPI document) and bundles. Cargo runs this again only when the UI's sources change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let ui = root.join("admin-ui");
    for p in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "bundle-size.mjs",
    ] {
        println!("cargo:rerun-if-changed=admin-ui/{p}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("admin-ui");
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let version = Command::new(npm).arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        panic!(
            "\n\nbuilding Folio needs Node.js (20.19 or newer) with npm on the PATH, for the \
             admin UI in admin-ui/.\nInstall Node.js, then build again.\n\n"
        );
    }
    // npm records what it installed in node_modules/.package-lock.json. `npm install` with a
    // complete lock installs exactly what it pins; `npm ci` would also insist that the lock
    // lists the native packages of other platforms (rollup's, esbuild's), which a registry
    // mirror carrying only this platform's cannot provide.
    let installed = ui.join("node_modules").join(".package-lock.json");
    if modified(&installed) < modified(&ui.join("package-lock.json")) {
        run(
            Command::new(npm)
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&ui),
            "npm install",
        );
    }
    run(
        Command::new(npm)
            .args(["run", "build", "--silent"])
            .env("FOLIO_UI_OUT_DIR", &out)
            .current_dir(&ui),
        "npm run build",
    );
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("\n\n`{what}` in admin-ui/ failed ({s}); its output is above.\n\n"),
        Err(e) => panic!("\n\n`{what}` in admin-ui/ could not start: {e}\n\n"),
    }
}
