//! meta-rustc: cargo's RUSTC_WRAPPER (`meta-rustc <rustc> <args…>`), the native, thin half of the
//! meta package flakes:meta-rustc (docs/build-layer.md, "Meta packages"; the daemon's half is
//! src/build/meta/index.ts). It is started once per rustc invocation, so it does as little as possible
//! (std only, no crates): every decision — is the invocation cacheable, its key, its manifests, where
//! its outputs go — is made by the store daemon, a warm process.
//!
//! 1. Cargo's probes (`-vV`, `--print …`, `-` from stdin), or no `$PKG_STORE_SOCKET`: exec rustc.
//! 2. One `invoke` request, phase `lookup`, on `$PKG_STORE_SOCKET`: argv, cwd, the whole environment
//!    (the daemon needs every variable a manifest's `env!` reads, and PATH/RUSTUP_* for the version),
//!    the uid. The answer's `action`:
//!    - `hit`: the outputs are in the out-dir (written by the daemon when it runs as our uid, else
//!      copied here from `files`, dep-info with `roots` put back); `stderr` (paths already restored:
//!      cargo's JSON messages) is written verbatim; exit 0.
//!    - `miss`: run rustc with the answer's `args` (`-C incremental` removed), stdin/stdout and every
//!      other descriptor inherited (cargo's jobserver), stderr teed (passed on as it comes, and kept);
//!      then phase `store` with the exit status, the stderr and when the run started: the daemon
//!      collects the outputs from the out-dir itself. Exit with rustc's status.
//!    - `pass`: not cacheable (the reason is logged): exec rustc unchanged.
//! 3. Any protocol or IO error before rustc ran: one line `meta-rustc: warning: … (running rustc
//!    directly)` and exec rustc unchanged. The build never fails because of the cache.
//!
//! Wire format: the daemon's NDJSON (one JSON object per line; `event` lines come before the answer
//! `{"id", "ok", "result" | "error"}`). Hence the tiny JSON encoder and parser below.
//! `$PKG_META_LOG` (a file): one JSON line per invocation (tests and benchmarks count them).
//!
//! One source for every tool: the tool is the program's own name without `meta-` (`meta-rustc`,
//! `meta-cc`: the same binary under two names, like ccache's), sent as the request's `tool`; the
//! daemon has a planner per tool (src/build/meta/plan/). Only rustc's probes are answered here.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{exit, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(120);
const STORE_TIMEOUT: Duration = Duration::from_secs(300);

extern "C" {
    // libc's, linked by std anyway: the daemon writes a hit's files itself only for its own uid.
    fn getuid() -> u32;
}

// ---- JSON ----

#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Json::Str(s)) => Some(s),
            _ => None,
        }
    }
    fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(Json::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    fn arr(&self, key: &str) -> Option<&Vec<Json>> {
        match self.get(key) {
            Some(Json::Arr(a)) => Some(a),
            _ => None,
        }
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn parse(text: &'a str) -> Result<Json, String> {
        let mut p = Parser { b: text.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing characters at {}", p.i));
        }
        Ok(v)
    }
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", c as char, self.i))
        }
    }
    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.b.get(self.i) {
            None => Err("unexpected end".into()),
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.expect(b':')?;
                    let v = self.value()?;
                    fields.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return Err(format!("expected ',' or '}}' at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("expected ',' or ']' at {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'n') => self.lit("null", Json::Null),
            Some(_) => {
                let start = self.i;
                while self.i < self.b.len() && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                text.parse::<f64>().map(Json::Num).map_err(|_| format!("bad value at {}", start))
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let s = self.b.get(self.i..self.i + 4).ok_or("short \\u escape")?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(s).map_err(|_| "bad \\u escape")?, 16).map_err(|_| "bad \\u escape".into())
    }
    fn string(&mut self) -> Result<String, String> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(format!("expected a string at {}", self.i));
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = *self.b.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| "string is not UTF-8".into()),
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut u = self.hex4()?;
                            if (0xd800..0xdc00).contains(&u) && self.b[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let low = self.hex4()?;
                                u = 0x10000 + ((u - 0xd800) << 10) + (low.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            char::from_u32(u).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(format!("bad escape at {}", self.i)),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c => out.push(c),
            }
        }
    }
}

// ---- the invocation ----

/// The tool this shim stands in for: its own file name without `meta-` (`rustc` when it has no such name).
fn tool() -> &'static str {
    static TOOL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOOL.get_or_init(|| {
        env::args_os()
            .next()
            .and_then(|a| Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()))
            .and_then(|n| n.strip_prefix("meta-").map(str::to_string))
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'+'))
            .unwrap_or_else(|| "rustc".to_string())
    })
}

fn warn(message: &str) {
    let first = message.lines().next().unwrap_or("");
    let _ = writeln!(io::stderr(), "meta-{}: warning: {} (running {} directly)", tool(), first, tool());
}

/// Appends one JSON line to `$PKG_META_LOG` (a convenience: never fails the build).
fn record(started: Instant, result: &str, label: Option<&str>, reason: Option<&str>, drv: Option<&str>) {
    record_run(started, result, label, reason, drv, None)
}

/// `tool_ms`: of `ms`, how long rustc itself ran (misses): the rest is the cache's cost.
fn record_run(started: Instant, result: &str, label: Option<&str>, reason: Option<&str>, drv: Option<&str>, tool_ms: Option<u128>) {
    let file = match env::var_os("PKG_META_LOG") {
        Some(f) if !f.is_empty() => f,
        _ => return,
    };
    let mut line = format!("{{\"pid\":{},\"tool\":\"{}\",\"result\":", std::process::id(), tool());
    quote(&mut line, result);
    for (name, value) in [("label", label), ("reason", reason), ("drv", drv)] {
        if let Some(v) = value {
            line.push_str(&format!(",\"{}\":", name));
            quote(&mut line, v);
        }
    }
    if let Some(t) = tool_ms {
        line.push_str(&format!(",\"toolMs\":{}", t));
    }
    line.push_str(&format!(",\"ms\":{}}}\n", started.elapsed().as_millis()));
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Replaces this process by the tool with the original arguments (inherits everything: jobserver, stdio).
fn exec_tool(program: &OsString, args: &[OsString]) -> ! {
    let error = Command::new(program).args(args).exec();
    let _ = writeln!(io::stderr(), "error: could not execute {}: {}", program.to_string_lossy(), error);
    exit(127)
}

/// What only the real rustc should answer: cargo's probes (the daemon is not asked).
fn probe(args: &[OsString]) -> Option<String> {
    for a in args {
        let s = a.as_bytes();
        if s == b"-" {
            return Some("reads the crate from stdin".into());
        }
        for flag in ["-vV", "-V", "--version", "-h", "--help", "--print", "--explain"] {
            let f = flag.as_bytes();
            if s == f || (f.starts_with(b"--") && s.starts_with(f) && s.get(f.len()) == Some(&b'=')) {
                return Some(format!("probe ({})", flag));
            }
        }
    }
    None
}

/// `--crate-name X` / `--crate-name=X`: the label of a log line written without the daemon.
fn crate_name(args: &[OsString]) -> Option<String> {
    for (i, a) in args.iter().enumerate() {
        let s = a.to_string_lossy();
        if s == "--crate-name" {
            return args.get(i + 1).map(|v| v.to_string_lossy().into_owned());
        }
        if let Some(v) = s.strip_prefix("--crate-name=") {
            return Some(v.to_string());
        }
    }
    None
}

/// One connection to the daemon: a request line out, the answer (after any event lines) back.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn open(socket: &OsString) -> io::Result<Conn> {
        let s = UnixStream::connect(socket)?;
        Ok(Conn { reader: BufReader::new(s.try_clone()?), writer: s })
    }

    fn request(&mut self, id: u32, body: &str, timeout: Duration) -> Result<Json, String> {
        self.writer.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        let line = format!("{{\"id\":{},{}}}\n", id, body);
        self.writer.write_all(line.as_bytes()).map_err(|e| format!("cannot write to the store daemon: {}", e))?;
        loop {
            let mut answer = String::new();
            let n = self.reader.read_line(&mut answer).map_err(|e| format!("cannot read the store daemon's answer: {}", e))?;
            if n == 0 {
                return Err("the store daemon closed the connection".into());
            }
            if answer.trim().is_empty() {
                continue;
            }
            let message = Parser::parse(answer.trim()).map_err(|e| format!("the store daemon's answer is not JSON ({})", e))?;
            if message.get("event").is_some() {
                continue; // log/progress events
            }
            match message.get("id") {
                Some(Json::Num(n)) if *n == id as f64 => {}
                _ => continue,
            }
            if message.bool("ok") == Some(true) {
                return message.get("result").cloned().ok_or_else(|| "an answer without a result".into());
            }
            let error = message.get("error");
            let code = error.and_then(|e| e.str("code")).unwrap_or("ERR_INTERNAL");
            let text = error.and_then(|e| e.str("message")).unwrap_or("daemon error");
            return Err(format!("{}: {}", code, text));
        }
    }
}

/// `"argv":[…],"cwd":…,"env":{…}` — sent with both requests (the daemon plans from them).
fn invocation_fields(argv: &[OsString]) -> String {
    let mut out = String::from("\"argv\":[");
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(&mut out, &a.to_string_lossy());
    }
    out.push_str("],\"cwd\":");
    let cwd = env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
    quote(&mut out, &cwd);
    out.push_str(",\"env\":{");
    let vars: BTreeMap<String, String> = env::vars_os().map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned())).collect();
    for (i, (k, v)) in vars.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(&mut out, k);
        out.push(':');
        quote(&mut out, v);
    }
    out.push('}');
    out
}

/// Copies a hit's stored files into the out-dir (the daemon runs as another user): each written
/// beside its destination and renamed in; dep-info gets the invocation's roots back.
fn restore_files(hit: &Json) -> Result<(), String> {
    let out_dir = hit.str("outDir").ok_or("hit without outDir")?;
    let mut roots: Vec<(String, String)> = Vec::new();
    for r in hit.arr("roots").ok_or("hit without roots")? {
        match r {
            Json::Arr(pair) if pair.len() == 2 => match (&pair[0], &pair[1]) {
                (Json::Str(root), Json::Str(token)) => roots.push((root.clone(), token.clone())),
                _ => return Err("bad root".into()),
            },
            _ => return Err("bad root".into()),
        }
    }
    fs::create_dir_all(out_dir).map_err(|e| format!("{}: {}", out_dir, e))?;
    for f in hit.arr("files").ok_or("hit without files")? {
        let name = f.str("name").ok_or("file without name")?;
        let from = f.str("path").ok_or("file without path")?;
        if name.contains('/') {
            return Err(format!("bad output name {}", name));
        }
        let destination = Path::new(out_dir).join(name);
        let temporary = Path::new(out_dir).join(format!("{}.meta-{}.tmp", name, std::process::id()));
        let result = (|| -> io::Result<()> {
            if f.bool("rewrite") == Some(true) {
                let mut text = fs::read_to_string(from)?;
                for (root, token) in &roots {
                    text = text.replace(token.as_str(), root);
                }
                fs::write(&temporary, text)?;
            } else {
                fs::copy(from, &temporary)?;
            }
            let mode = if f.bool("executable") == Some(true) { 0o755 } else { 0o644 };
            fs::set_permissions(&temporary, fs::Permissions::from_mode(mode))?;
            fs::rename(&temporary, &destination)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&temporary);
            return Err(format!("{}: {}", destination.display(), e));
        }
    }
    Ok(())
}

/// rustc with stderr teed (each chunk passed on at once — cargo reads its JSON messages as they come —
/// and kept for the store); everything else inherited. Returns (exit code, stderr).
fn run_teed(program: &OsString, args: &[String]) -> io::Result<(i32, Vec<u8>)> {
    let mut child = Command::new(program).args(args).stderr(Stdio::piped()).spawn()?;
    let mut pipe = child.stderr.take().expect("piped stderr");
    let mut kept = Vec::new();
    let mut chunk = [0u8; 65536];
    let stderr = io::stderr();
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let _ = stderr.lock().write_all(&chunk[..n]);
                kept.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let status = child.wait()?;
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(1));
    Ok((code, kept))
}

fn strings(v: Option<&Vec<Json>>) -> Option<Vec<String>> {
    v?.iter().map(|x| if let Json::Str(s) = x { Some(s.clone()) } else { None }).collect()
}

fn main() {
    let started = Instant::now();
    let argv: Vec<OsString> = env::args_os().skip(1).collect();
    if argv.is_empty() {
        let _ = writeln!(io::stderr(), "usage: meta-{0} <path-to-{0}> [args…] (cargo runs meta-rustc as RUSTC_WRAPPER; CC=\"meta-cc cc\")", tool());
        exit(2);
    }
    let program = &argv[0];
    let args = &argv[1..];
    let rustc = tool() == "rustc";
    if let Some(reason) = if rustc { probe(args) } else { None } {
        record(started, "pass", None, Some(&reason), None);
        exec_tool(program, args);
    }
    let socket = match env::var_os("PKG_STORE_SOCKET") {
        Some(s) if !s.is_empty() => s,
        _ => {
            record(started, "pass", if rustc { crate_name(args) } else { None }.as_deref(), Some("PKG_STORE_SOCKET is not set"), None);
            exec_tool(program, args);
        }
    };
    let fallback = |message: String| -> ! {
        warn(&format!("store daemon at {}: {}", socket.to_string_lossy(), message));
        record(started, "fallback", if rustc { crate_name(args) } else { None }.as_deref(), Some(&message), None);
        exec_tool(program, args);
    };

    let build_id = env::var("PKG_BUILD_ID").ok().filter(|s| !s.is_empty());
    let mut common = format!("\"op\":\"invoke\",\"tool\":\"{}\",\"buildId\":", tool());
    match &build_id {
        Some(b) => quote(&mut common, b),
        None => common.push_str("null"),
    }
    common.push(',');
    common.push_str(&invocation_fields(&argv));

    let mut conn = Conn::open(&socket).unwrap_or_else(|e| fallback(e.to_string()));
    // Our uid lets the daemon (same user) write a hit's outputs itself; PKG_META_SHIM_RESTORE=1 makes us copy them.
    let uid = if env::var("PKG_META_SHIM_RESTORE").as_deref() == Ok("1") { "null".to_string() } else { unsafe { getuid() }.to_string() };
    let answer = conn
        .request(1, &format!("{},\"phase\":\"lookup\",\"uid\":{}", common, uid), LOOKUP_TIMEOUT)
        .unwrap_or_else(|e| fallback(e));
    let label = answer.str("label").map(str::to_string);
    match answer.str("action") {
        Some("pass") => {
            record(started, "pass", label.as_deref(), answer.str("reason"), None);
            exec_tool(program, args);
        }
        Some("hit") => {
            if answer.bool("restored") != Some(true) {
                if let Err(e) = restore_files(&answer) {
                    fallback(format!("could not restore the stored outputs of {}: {}", answer.str("drv").unwrap_or("?"), e));
                }
            }
            let _ = io::stderr().write_all(answer.str("stderr").unwrap_or("").as_bytes());
            record(started, "hit", label.as_deref(), None, answer.str("drv"));
            exit(0);
        }
        Some("miss") => {}
        other => fallback(format!("unexpected answer (action {:?})", other)),
    }
    let (key, run_args) = match (answer.str("key"), strings(answer.arr("args"))) {
        (Some(k), Some(a)) => (k.to_string(), a),
        _ => fallback("a miss without key or args".into()),
    };
    let reason = answer.str("reason").unwrap_or("").to_string();

    let run_started_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let run_started = Instant::now();
    let (code, stderr) = match run_teed(program, &run_args) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: could not execute {}: {}", program.to_string_lossy(), e);
            (127, Vec::new())
        }
    };
    let ms = run_started.elapsed().as_millis();
    // Sent on failure too: the daemon then stops waiting for this tool run.
    let mut body = format!("{},\"phase\":\"store\",\"key\":", common);
    quote(&mut body, &key);
    body.push_str(&format!(",\"status\":{},\"started\":{},\"ms\":{},\"stderr\":", code, run_started_ms, ms));
    quote(&mut body, &String::from_utf8_lossy(&stderr));
    let stored = conn.request(2, &body, STORE_TIMEOUT);
    if code != 0 {
        record(started, "failed", label.as_deref(), Some(&format!("exit {}", code)), None);
        exit(code);
    }
    match stored {
        Ok(result) => record_run(started, "miss", label.as_deref(), Some(&reason), result.str("drv"), Some(ms)),
        Err(e) => {
            // The build itself succeeded; only the cache missed out.
            let _ = writeln!(io::stderr(), "meta-{}: warning: outputs of {} not stored: {}", tool(), label.as_deref().unwrap_or("?"), e.lines().next().unwrap_or(""));
            record(started, "miss", label.as_deref(), Some(&format!("not stored: {}", e)), None);
        }
    }
    exit(code);
}
