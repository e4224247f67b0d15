//! The `ringwall-image` binary as a script sees it: output, stderr and exit
//! status for each command, including the refusals.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ringwall-image");

/// Keys made with wireguard-tools v1.0.20210914 (`wg genkey`, `wg pubkey`).
const PRIVATE: &str = "KJDXm9JQ3YAvzREkiyfptrPOBYrHW5ZtJ2mghDy8wlg=";
const PUBLIC: &str = "VK0UCLhsjK7+AFqkgU8aIakU/ESfvhvnm0B91sxB01A=";
const PEER: &str = "7f5O0oeNPspvt95wM5jCUvQUxKg4ACy7f74yKPwiJgI=";

fn config() -> String {
    format!(
        "[Interface]\nPrivateKey = {PRIVATE}\nListenPort = 51820\nAddress = 10.99.0.1/24\n\n\
         [LAN]\nAddress = 192.168.10.1/24\n\n[WAN]\nAddress = dhcp\n\n\
         [Peer]\nPublicKey = {PEER}\nAllowedIPs = 10.20.0.0/16\n"
    )
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn file(name: &str, contents: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

#[test]
fn pubkey_prints_the_wg_public_key() {
    let out = run(&["pubkey"], &format!("{PRIVATE}\n"));
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), format!("{PUBLIC}\n"));
    let out = run(&["pubkey"], "not a key\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("not valid"));
}

#[test]
fn genkey_output_feeds_pubkey() {
    let key = run(&["genkey"], "");
    assert!(key.status.success());
    let key = text(&key.stdout);
    assert_eq!(key.len(), 45, "{key:?}");
    let public = run(&["pubkey"], &key);
    assert!(public.status.success());
    assert_eq!(text(&public.stdout).len(), 45);
}

#[test]
fn check_passes_a_good_file_and_fails_a_bad_one_with_lines() {
    let good = file("good.conf", &config());
    let out = run(&["check", "--config", good.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("OK (1 peer)"));

    let bad = config().replace("ListenPort = 51820", "ListenPort = 99999") + "Bogus = 1\n";
    let bad = file("bad.conf", &bad);
    let out = run(&["check", "--config", bad.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 3:"), "{err}");
    assert!(err.contains("line 15:"), "{err}");
    assert!(!err.contains(PRIVATE) && !text(&out.stdout).contains(PRIVATE));

    let out = run(&["check", "--config", "/nonexistent/gw.conf"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read config /nonexistent/gw.conf"));
}

#[test]
fn build_refuses_bad_config_and_missing_kernel() {
    let bad = file("bad-build.conf", &config().replace("dhcp", "300.1.1.1/24"));
    let out_img = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("never.img");
    let args = [
        "build",
        "--config",
        bad.to_str().unwrap(),
        "--out",
        out_img.to_str().unwrap(),
        "--kernel",
        "/nonexistent/kernel",
    ];
    let out = run(&args, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 10:"),
        "{}",
        text(&out.stderr)
    );
    assert!(!out_img.exists());

    let good = file("good-build.conf", &config());
    let mut args = args;
    args[2] = good.to_str().unwrap();
    let out = run(&args, "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("kernel not found: /nonexistent/kernel") || err.contains("apt-get install"),
        "{err}"
    );
    assert!(!out_img.exists());
}

#[test]
fn usage_errors_exit_2_with_the_command_usage() {
    let out = run(&["build", "--config", "x"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("`build` needs `--out`"), "{err}");
    assert!(err.contains("Usage: ringwall-image build"), "{err}");
    let out = run(&["frobnicate"], "");
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--help"], "");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("ringwall-image inspect IMAGE"));
}
