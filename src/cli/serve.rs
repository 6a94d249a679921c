//! `densenas serve RUN_DIR`: the browser example (`examples/web`) on a small local web
//! server, with the run folder's files under `/run/`, so that the page finds the
//! found network at `run/best.onnx`. Static files only (GET and HEAD), one thread per
//! connection; it listens on 127.0.0.1 unless told otherwise.
//!
//! The page's folder is `--web DIR`, or found relative to the program itself (no path
//! is compiled in): `<prefix>/share/densenas/web` beside an installed `bin/densenas`
//! (`make install` puts it there), else the `examples/web` of the checkout the program
//! was built in (`target/release/densenas`: the first folder above it that holds
//! Cargo.toml and `examples/web`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use clap::Args;

use densenas::io::export::onnx::read_model;
use densenas::{Error, Result};

/// The page's folder in an installed prefix, relative to the prefix (the folder above
/// the program's `bin/`).
const INSTALLED_WEB: &str = "share/densenas/web";
/// The page's folder in a checkout, relative to the checkout's root.
const CHECKOUT_WEB: &str = "examples/web";
/// The onnxruntime-web file the page imports, relative to the page's folder.
const ORT_WEB: &str = "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";

/// Options of `densenas serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The run folder (the page loads its best.onnx), or one exported .onnx file.
    run_dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port (0: a free one; the address is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The page's folder, with its npm packages installed [default: found next to the
    /// program: <prefix>/share/densenas/web when installed, the checkout's examples/web
    /// when built there].
    #[arg(long)]
    web: Option<PathBuf>,
}

/// What the server maps: `/run/best.onnx` to `model`, `/run/...` to `run`, the rest
/// to `web`.
struct Site {
    web: PathBuf,
    run: PathBuf,
    model: PathBuf,
}

/// Checks that `model` is a densenas export, with an error a person can act on.
fn check_model(model: &Path) -> Result<()> {
    let proto = read_model(model)?;
    let keys: Vec<&str> = proto.metadata_props.iter().map(|p| p.key.as_str()).collect();
    let missing: Vec<&str> =
        ["densenas.dag", "densenas.classes"].into_iter().filter(|k| !keys.contains(k)).collect();
    if !missing.is_empty() {
        let producer = if proto.producer_name.is_empty() { "unknown".to_string() } else { proto.producer_name.clone() };
        return Err(Error::data(
            model,
            format!("not a densenas export (an ONNX model by {producer} without the {} metadata)", missing.join(", ")),
        ));
    }
    Ok(())
}

/// Where the page is looked for when `--web` is not given, for the program `exe` (its
/// real path): an installed prefix's `share/densenas/web`, then the `examples/web` of
/// the first folder above the program that holds Cargo.toml (a checkout's
/// `target/<profile>/densenas`).
fn web_candidates(exe: &Path) -> Vec<PathBuf> {
    let Some(bin) = exe.parent() else { return Vec::new() };
    let mut candidates: Vec<PathBuf> = bin.parent().map(|prefix| prefix.join(INSTALLED_WEB)).into_iter().collect();
    if let Some(checkout) = bin.ancestors().find(|d| d.join("Cargo.toml").is_file() && d.join(CHECKOUT_WEB).is_dir()) {
        candidates.push(checkout.join(CHECKOUT_WEB));
    }
    candidates
}

/// The page's folder: `given`, or the first candidate next to the program that holds
/// an index.html; none is an error naming `--web`.
fn web_folder(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(web) = given {
        return Ok(web.to_path_buf());
    }
    let exe = std::env::current_exe().map_err(|e| Error::Input(format!("cannot find this program's path ({e}): pass --web DIR")))?;
    let candidates = web_candidates(&exe);
    if let Some(web) = candidates.iter().find(|w| w.join("index.html").is_file()) {
        return Ok(web.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(Error::Input(format!(
        "no page folder found next to {} (looked in {}): pass --web DIR with densenas's examples/web, its npm packages installed",
        exe.display(),
        looked.join(", ")
    )))
}

fn site(args: &ServeArgs) -> Result<Site> {
    let given = &args.run_dir;
    let meta = std::fs::metadata(given).map_err(|e| Error::io(given, e))?;
    let (run, model) = if meta.is_dir() {
        let model = given.join("best.onnx");
        if !model.is_file() {
            return Err(Error::Input(format!("{} holds no best.onnx: give a densenas run folder or an .onnx file", given.display())));
        }
        (given.clone(), model)
    } else {
        let parent = given.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (parent.to_path_buf(), given.clone())
    };
    check_model(&model)?;
    let web = web_folder(args.web.as_deref())?;
    if !web.join("index.html").is_file() {
        return Err(Error::Input(format!(
            "{} holds no index.html: pass --web with the folder of densenas's examples/web",
            web.display()
        )));
    }
    if !web.join(ORT_WEB).is_file() {
        return Err(Error::Input(format!(
            "onnxruntime-web is not installed in {}: run scripts/setup-web.sh (or `npm ci` in that folder)",
            web.display()
        )));
    }
    Ok(Site { web, run, model })
}

/// Runs `densenas serve`.
pub fn run(args: ServeArgs) -> Result<()> {
    let site = std::sync::Arc::new(site(&args)?);
    let address = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&address).map_err(|e| Error::Input(format!("cannot listen on {address}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::Input(format!("no local address: {e}")))?;
    let host = if local.ip().is_unspecified() { "127.0.0.1".to_string() } else { local.ip().to_string() };
    println!("serving {} with {} at http://{host}:{}/ (Ctrl-C stops)", site.web.display(), site.model.display(), local.port());
    std::io::stdout().flush().ok();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let site = site.clone();
        std::thread::spawn(move || {
            if let Err(e) = handle(stream, &site) {
                eprintln!("densenas serve: {e}");
            }
        });
    }
    Ok(())
}

/// Decodes `%XX` escapes; None for a malformed escape or a NUL byte.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// The file a request path names, or None when it leaves the served folders.
fn resolve(site: &Site, raw: &str) -> Option<PathBuf> {
    let path = percent_decode(raw.split(['?', '#']).next()?)?;
    let rel = Path::new(path.strip_prefix('/')?);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    if rel == Path::new("run/best.onnx") {
        return Some(site.model.clone());
    }
    let mut file = match rel.strip_prefix("run") {
        Ok(rest) => site.run.join(rest),
        Err(_) => site.web.join(rel),
    };
    if file.is_dir() {
        file = file.join("index.html");
    }
    Some(file)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" | "jsonl" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "md" | "txt" | "csv" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, length: u64, head_only: bool, body: &mut dyn Read) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {length}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
    )?;
    if !head_only {
        std::io::copy(body, stream)?;
    }
    stream.flush()
}

fn error(stream: &mut TcpStream, status: &str, message: &str) -> std::io::Result<()> {
    let body = format!("{status}: {message}\n");
    respond(stream, status, "text/plain; charset=utf-8", body.len() as u64, false, &mut body.as_bytes())
}

fn handle(mut stream: TcpStream, site: &Site) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(16 * 1024));
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Skip the headers.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return error(&mut stream, "400 Bad Request", "malformed request line");
    };
    if method != "GET" && method != "HEAD" {
        return error(&mut stream, "405 Method Not Allowed", "only GET and HEAD");
    }
    let Some(path) = resolve(site, target) else {
        return error(&mut stream, "404 Not Found", target);
    };
    match std::fs::File::open(&path).and_then(|f| Ok((f.metadata()?.len(), f))) {
        Ok((length, mut file)) if path.is_file() => {
            respond(&mut stream, "200 OK", content_type(&path), length, method == "HEAD", &mut file)
        }
        _ => error(&mut stream, "404 Not Found", target),
    }
}
