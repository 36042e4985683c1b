//! `SmtpSink`: a small, real SMTP server for tests. It listens on `127.0.0.1:0`, accepts every
//! message and keeps it in memory for the test to read, with helpers that find a header, the
//! plain-text body and a link in it.
//!
//! It speaks plain ESMTP (RFC 5321) and no more. EHLO advertises `8BITMIME`, `SMTPUTF8` and
//! `SIZE`, never `PIPELINING`, `STARTTLS` or `AUTH`, so a client must be set up without TLS
//! or credentials (lettre: `builder_dangerous`). Commands are answered one at a time, in
//! order. `fail_next` makes MAIL FROM fail with a 451, as a busy relay would, to test retries.
//!
//! It is not a mail parser: it reads only what tests need (top-level headers, nested
//! multipart, quoted-printable and base64 bodies, all taken as UTF-8) and leaves RFC 2047
//! encoded words in headers as they are. A message may be at most 10 MiB. It sends nothing on
//! and writes nothing to disk. Dropping the sink stops the server and every open connection.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The largest message the sink accepts, in bytes.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// The longest command line. RFC 5321 asks for 512; a little slack costs nothing.
const MAX_COMMAND: usize = 4096;

const GREETING: &str = "220 folio-test-sink ESMTP";

/// The EHLO reply. No PIPELINING: the sink answers each command before reading the next.
/// SIZE is `MAX_MESSAGE` (a test checks).
const EHLO_REPLY: &str = "250-folio-test-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760";

/// A message the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The MAIL FROM address without angle brackets; empty for the null sender `<>`.
    pub from: String,
    /// The RCPT TO addresses without angle brackets, in the order given.
    pub to: Vec<String>,
    /// The raw DATA, dot-unstuffed, CRLF kept (bytes that are not UTF-8 become U+FFFD).
    pub data: String,
}

impl Received {
    /// The value of a header (case-insensitive name), unfolded; None if absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_entity(&self.data);
        header_value(headers, name)
    }

    /// The text of the body: for a single-part message, or the first text/plain part of a
    /// multipart one, decoded from quoted-printable or base64 per Content-Transfer-Encoding
    /// (7bit/8bit as is); soft line breaks removed. UTF-8 (lossy).
    ///
    /// Line breaks stay CRLF, as on the wire. A multipart message with no text/plain part
    /// (attachments aside) gives "".
    pub fn text(&self) -> String {
        let (headers, body) = split_entity(&self.data);
        if boundary(headers).is_some() {
            find_plain_text(&self.data).unwrap_or_default()
        } else {
            decode_body(headers, body)
        }
    }

    /// The first URL in text() starting with `prefix` (ends at whitespace, '"', '<' or '>').
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(prefix)?;
        let url = text[start..]
            .split(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>'))
            .next()?;
        Some(url.to_owned())
    }
}

/// A running SMTP server that keeps what it receives. Each test starts its own.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// What the server's tasks and the test both see.
struct Shared {
    /// A watch channel rather than a plain list, so `wait_for` wakes on every new message.
    messages: watch::Sender<Vec<Received>>,
    failures_left: Mutex<usize>,
}

impl Shared {
    /// Uses up one pending failure; true if there was one.
    fn take_failure(&self) -> bool {
        let mut left = self.failures_left.lock().unwrap();
        if *left == 0 {
            return false;
        }
        *left -= 1;
        true
    }
}

impl SmtpSink {
    /// Listens on 127.0.0.1:0 and serves in a background task until dropped.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the SMTP sink binds a port");
        let port = listener.local_addr().expect("a bound address").port();
        let shared = Arc::new(Shared {
            messages: watch::Sender::new(Vec::new()),
            failures_left: Mutex::new(0),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        SmtpSink {
            port,
            shared,
            server,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answer the next `n` MAIL FROM commands with `451 4.3.0 try again later` (a temporary
    /// failure), to test retries. Replaces any count still pending; 0 stops failing.
    pub fn fail_next(&self, n: usize) {
        *self.shared.failures_left.lock().unwrap() = n;
    }

    /// Everything received so far, in the order the messages were completed.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.borrow().clone()
    }

    /// Waits up to `timeout` until at least `n` messages arrived; returns them (or what there is).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let mut changes = self.shared.messages.subscribe();
        // Running out of time is not an error here: the caller asserts on what arrived.
        let _ = tokio::time::timeout(timeout, changes.wait_for(|m| m.len() >= n)).await;
        self.messages()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Accepts connections until aborted. The connections live in a `JoinSet`, so aborting this
/// task ends them too.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // Forget finished connections so the set does not grow with every one.
        while connections.try_join_next().is_some() {}
        connections.spawn(Session::new(stream, Arc::clone(&shared)).run());
    }
}

/// One SMTP connection and the mail transaction in progress on it.
struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    from: Option<String>,
    to: Vec<String>,
}

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Session {
        let (read, writer) = stream.into_split();
        Session {
            reader: BufReader::new(read),
            writer,
            shared,
            from: None,
            to: Vec::new(),
        }
    }

    /// Talks SMTP until QUIT or the client hangs up. An I/O error just ends the connection,
    /// which is all a real server could do about it.
    async fn run(mut self) {
        let _ = self.talk().await;
    }

    async fn talk(&mut self) -> io::Result<()> {
        self.reply(GREETING).await?;
        while let Some(line) = read_line(&mut self.reader, MAX_COMMAND).await? {
            if line.len() > MAX_COMMAND {
                self.reply("500 5.5.2 line too long").await?;
                continue;
            }
            let line = String::from_utf8_lossy(&line);
            let (verb, arg) = split_command(&line);
            match verb.as_str() {
                "DATA" => self.data().await?,
                "QUIT" => return self.reply("221 2.0.0 bye").await,
                _ => {
                    let reply = self.command(&verb, arg);
                    self.reply(reply).await?;
                }
            }
        }
        Ok(())
    }

    /// Answers every command but DATA and QUIT, which need the connection.
    fn command(&mut self, verb: &str, arg: &str) -> &'static str {
        match verb {
            "EHLO" => {
                self.reset();
                EHLO_REPLY
            }
            "HELO" => {
                self.reset();
                "250 folio-test-sink"
            }
            "MAIL" => self.mail(arg),
            "RCPT" => self.rcpt(arg),
            "RSET" => {
                self.reset();
                "250 2.0.0 ok"
            }
            "NOOP" => "250 2.0.0 ok",
            "VRFY" | "EXPN" | "HELP" | "TURN" | "ETRN" | "STARTTLS" | "AUTH" | "BDAT" => {
                "502 5.5.1 command not implemented"
            }
            _ => "500 5.5.2 command not recognised",
        }
    }

    fn mail(&mut self, arg: &str) -> &'static str {
        if self.from.is_some() {
            return "503 5.5.1 sender already given";
        }
        let Some((address, params)) = parse_path(arg, "FROM:") else {
            return "501 5.5.4 syntax: MAIL FROM:<address>";
        };
        if declared_size(params) > MAX_MESSAGE {
            return "552 5.3.4 message too big";
        }
        if self.shared.take_failure() {
            return "451 4.3.0 try again later";
        }
        self.from = Some(address);
        "250 2.1.0 ok"
    }

    fn rcpt(&mut self, arg: &str) -> &'static str {
        if self.from.is_none() {
            return "503 5.5.1 MAIL first";
        }
        match parse_path(arg, "TO:") {
            Some((address, _)) if !address.is_empty() => {
                self.to.push(address);
                "250 2.1.5 ok"
            }
            _ => "501 5.5.4 syntax: RCPT TO:<address>",
        }
    }

    /// Reads the message after a 354 and stores it. Hanging up before the final `.` loses it.
    async fn data(&mut self) -> io::Result<()> {
        if self.from.is_none() {
            return self.reply("503 5.5.1 MAIL first").await;
        }
        if self.to.is_empty() {
            return self.reply("503 5.5.1 RCPT first").await;
        }
        self.reply("354 end data with <CRLF>.<CRLF>").await?;
        let data = read_data(&mut self.reader).await?;
        let from = self.from.take().unwrap_or_default();
        let to = std::mem::take(&mut self.to);
        let Some(data) = data else {
            return self.reply("552 5.3.4 message too big").await;
        };
        let message = Received {
            from,
            to,
            data: String::from_utf8_lossy(&data).into_owned(),
        };
        self.shared.messages.send_modify(|m| m.push(message));
        self.reply("250 2.0.0 ok: queued").await
    }

    fn reset(&mut self) {
        self.from = None;
        self.to.clear();
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        self.writer
            .write_all(format!("{text}\r\n").as_bytes())
            .await
    }
}

/// Reads one line and strips its CRLF or bare LF; None once the client has hung up (a last
/// line without LF is dropped). Keeps at most `max + 1` bytes and drops the rest of the
/// line, so the caller can tell a line longer than `max` without holding all of it.
async fn read_line<R>(reader: &mut R, max: usize) -> io::Result<Option<Vec<u8>>>
where
    R: AsyncBufRead + Unpin,
{
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(None);
        }
        let (part, used, ends) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = (max + 1).saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        reader.consume(used);
        if ends {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

/// Reads DATA up to the line `.`, dot-unstuffed, with CRLF line ends. None if it grew past
/// `MAX_MESSAGE`: the rest is still read, so the reply comes at the right moment.
async fn read_data<R>(reader: &mut R) -> io::Result<Option<Vec<u8>>>
where
    R: AsyncBufRead + Unpin,
{
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let Some(line) = read_line(reader, MAX_MESSAGE).await? else {
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        if line == b"." {
            return Ok((!too_big).then_some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        too_big |= data.len() + line.len() + 2 > MAX_MESSAGE;
        if !too_big {
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
    }
}

/// Splits a command line into its verb, upper-cased, and the rest.
fn split_command(line: &str) -> (String, &str) {
    let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
    (verb.trim().to_ascii_uppercase(), arg.trim())
}

/// Splits `FROM:<address> PARAMS` (or `TO:...`) into the address, without angle brackets,
/// and the parameters. Tolerates a space after the colon and missing brackets.
fn parse_path<'a>(arg: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let (path, params) = match rest.strip_prefix('<') {
        Some(inside) => inside.split_once('>')?,
        None => rest.split_once(' ').unwrap_or((rest, "")),
    };
    Some((path.to_owned(), params.trim()))
}

/// The `SIZE=` a client declared in MAIL FROM's parameters; 0 if none.
fn declared_size(params: &str) -> usize {
    params
        .split_whitespace()
        .find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.eq_ignore_ascii_case("SIZE")
                .then(|| value.parse().ok())?
        })
        .unwrap_or(0)
}

/// Splits a message or body part at its first empty line into header block and body.
fn split_entity(entity: &str) -> (&str, &str) {
    let mut start = 0;
    for line in entity.split_inclusive('\n') {
        let end = start + line.len();
        if line.trim_end_matches(['\r', '\n']).is_empty() {
            return (&entity[..start], &entity[end..]);
        }
        start = end;
    }
    (entity, "")
}

/// The first header called `name` (any case) in a header block, unfolded and trimmed.
fn header_value(headers: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in headers.lines() {
        let folded = line.starts_with([' ', '\t']);
        match value.as_mut() {
            // Unfolding removes the line break and keeps the whitespace (RFC 5322 2.2.3).
            Some(v) if folded => v.push_str(line),
            Some(_) => break,
            None => {
                let (field, rest) = line.split_once(':').unwrap_or((line, ""));
                if !folded && field.trim().eq_ignore_ascii_case(name) {
                    value = Some(rest.to_owned());
                }
            }
        }
    }
    value.map(|v| v.trim().to_owned())
}

/// The media type of an entity, lower-case and without parameters; text/plain if unsaid.
fn media_type(headers: &str) -> String {
    let Some(content_type) = header_value(headers, "content-type") else {
        return "text/plain".to_owned();
    };
    let media = content_type.split(';').next().unwrap_or_default();
    media.trim().to_ascii_lowercase()
}

/// The boundary of a multipart entity, from its Content-Type; None for a single part.
fn boundary(headers: &str) -> Option<String> {
    if !media_type(headers).starts_with("multipart/") {
        return None;
    }
    let content_type = header_value(headers, "content-type")?;
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"');
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.to_owned())
    })
}

fn is_attachment(headers: &str) -> bool {
    header_value(headers, "content-disposition")
        .is_some_and(|d| d.to_ascii_lowercase().starts_with("attachment"))
}

/// The first text/plain part of an entity that is not an attachment, looking inside nested
/// multiparts, decoded.
fn find_plain_text(entity: &str) -> Option<String> {
    let (headers, body) = split_entity(entity);
    if let Some(boundary) = boundary(headers) {
        return parts(body, &boundary)
            .iter()
            .find_map(|part| find_plain_text(part));
    }
    let plain = media_type(headers) == "text/plain" && !is_attachment(headers);
    plain.then(|| decode_body(headers, body))
}

/// Splits a multipart body into its parts, leaving out the preamble and the epilogue.
fn parts(body: &str, boundary: &str) -> Vec<String> {
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.lines() {
        // A delimiter line may carry trailing whitespace (RFC 2046 5.1.1).
        let trimmed = line.trim_end();
        if trimmed == close {
            break;
        }
        if trimmed == open {
            parts.extend(current.take().map(|lines| lines.join("\r\n")));
            current = Some(Vec::new());
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    parts.extend(current.map(|lines| lines.join("\r\n")));
    parts
}

/// Decodes a body per its Content-Transfer-Encoding; 7bit, 8bit and unknown ones pass as is.
fn decode_body(headers: &str, body: &str) -> String {
    let encoding = header_value(headers, "content-transfer-encoding").unwrap_or_default();
    let bytes = match encoding.to_ascii_lowercase().as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body),
        _ => return body.to_owned(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Decodes quoted-printable (RFC 2045 6.7): `=XX` is a byte, and a line ending in `=` is a
/// soft break that joins the next. A malformed `=` is kept as written.
fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in body.split_inclusive('\n') {
        let hard_break = line.ends_with('\n');
        // Trailing whitespace is transport padding, never content.
        let content = line.trim_end_matches(['\r', '\n', ' ', '\t']);
        match content.strip_suffix('=') {
            Some(soft) => decode_qp_line(soft.as_bytes(), &mut out),
            None => {
                decode_qp_line(content.as_bytes(), &mut out);
                if hard_break {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }
    out
}

fn decode_qp_line(line: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < line.len() {
        let escaped = line.get(i + 1..i + 3).and_then(hex_byte);
        match escaped {
            Some(byte) if line[i] == b'=' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(line[i]);
                i += 1;
            }
        }
    }
}

/// Two hex digits as a byte.
fn hex_byte(digits: &[u8]) -> Option<u8> {
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u8::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Decodes base64, skipping line breaks and anything else outside the alphabet, up to `=`.
fn decode_base64(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    // Each character adds six bits; a byte is ready whenever eight are waiting.
    let mut bits: u32 = 0;
    let mut waiting = 0;
    for c in body.bytes() {
        if c == b'=' {
            break;
        }
        let Some(value) = base64_value(c) else {
            continue;
        };
        bits = (bits << 6) | u32::from(value);
        waiting += 6;
        if waiting >= 8 {
            waiting -= 8;
            out.push((bits >> waiting) as u8);
            bits &= (1 << waiting) - 1;
        }
    }
    out
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::AsyncReadExt;

    /// Enough for anything on loopback; only reached when a test is failing.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn received(data: &str) -> Received {
        Received {
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            data: data.into(),
        }
    }

    /// A hand-driven SMTP client, to say exactly what goes over the wire.
    struct Client {
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
    }

    impl Client {
        /// Connects and reads the greeting.
        async fn connect(sink: &SmtpSink) -> Client {
            let stream = TcpStream::connect(("127.0.0.1", sink.port()))
                .await
                .unwrap();
            let (read, writer) = stream.into_split();
            let mut client = Client {
                reader: BufReader::new(read),
                writer,
            };
            assert_eq!(client.reply().await, GREETING);
            client
        }

        async fn send(&mut self, raw: &str) {
            self.writer.write_all(raw.as_bytes()).await.unwrap();
        }

        /// Reads one reply, all lines of a multi-line one, joined with CRLF.
        async fn reply(&mut self) -> String {
            let mut lines = Vec::new();
            loop {
                let line = tokio::time::timeout(PATIENCE, read_line(&mut self.reader, 1000))
                    .await
                    .expect("a reply in time")
                    .unwrap()
                    .expect("the server answers");
                let line = String::from_utf8(line).unwrap();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return lines.join("\r\n");
                }
            }
        }

        /// Sends one command and returns the reply's code.
        async fn command(&mut self, line: &str) -> u16 {
            self.send(&format!("{line}\r\n")).await;
            self.reply().await[..3].parse().unwrap()
        }

        /// A whole transaction: MAIL, RCPT, DATA and `body` (already dot-stuffed, ending in
        /// CRLF), then the final `.`. Returns the code of the reply to the message.
        async fn mail(&mut self, body: &str) -> u16 {
            assert_eq!(self.command("MAIL FROM:<a@example.com>").await, 250);
            assert_eq!(self.command("RCPT TO:<b@example.com>").await, 250);
            assert_eq!(self.command("DATA").await, 354);
            self.send(body).await;
            self.command(".").await
        }
    }

    #[tokio::test]
    async fn dot_stuffed_lines_lose_one_dot() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(&sink).await;
        assert_eq!(client.command("EHLO test").await, 250);
        let body = "Subject: dots\r\n\r\n..\r\n..leading\r\n...two\r\n. .\r\nend\r\n";
        assert_eq!(client.mail(body).await, 250);
        assert_eq!(client.command("QUIT").await, 221);

        let messages = sink.wait_for(1, PATIENCE).await;
        assert_eq!(
            messages[0].data,
            "Subject: dots\r\n\r\n.\r\n.leading\r\n..two\r\n .\r\nend\r\n"
        );
        assert_eq!(messages[0].from, "a@example.com");
        assert_eq!(messages[0].to, ["b@example.com"]);
    }

    #[tokio::test]
    async fn bare_lf_is_a_line_end_and_stored_as_crlf() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(&sink).await;
        client.send("HELO test\n").await;
        assert!(client.reply().await.starts_with("250"));
        client
            .send("MAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\nDATA\n")
            .await;
        for code in ["250", "250", "354"] {
            assert!(client.reply().await.starts_with(code));
        }
        client.send("Subject: lf\n\nbody\n.\n").await;
        assert!(client.reply().await.starts_with("250"));

        let messages = sink.wait_for(1, PATIENCE).await;
        assert_eq!(messages[0].data, "Subject: lf\r\n\r\nbody\r\n");
    }

    #[tokio::test]
    async fn ehlo_advertises_no_pipelining_tls_or_auth() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(&sink).await;
        client.send("EHLO test\r\n").await;
        let reply = client.reply().await;
        assert!(reply.contains("8BITMIME") && reply.contains("SMTPUTF8"));
        assert!(
            reply.ends_with(&format!("250 SIZE {MAX_MESSAGE}")),
            "{reply}"
        );
        for absent in ["PIPELINING", "STARTTLS", "AUTH"] {
            assert!(!reply.contains(absent), "{reply}");
        }
    }

    #[tokio::test]
    async fn several_messages_on_one_connection_and_rset_forgets() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(&sink).await;
        assert_eq!(client.command("EHLO test").await, 250);
        assert_eq!(client.mail("Subject: one\r\n\r\n1\r\n").await, 250);
        assert_eq!(client.command("NOOP").await, 250);
        assert_eq!(client.command("MAIL FROM:<lost@x.test>").await, 250);
        assert_eq!(client.command("RCPT TO:<lost@x.test>").await, 250);
        assert_eq!(client.command("RSET").await, 250);
        assert_eq!(client.command("DATA").await, 503);
        let with_params = "MAIL FROM:<> SIZE=100 BODY=8BITMIME SMTPUTF8";
        assert_eq!(client.command(with_params).await, 250);
        assert_eq!(client.command("RCPT TO:<c@x.test>").await, 250);
        assert_eq!(client.command("RCPT TO:<d@x.test>").await, 250);
        assert_eq!(client.command("DATA").await, 354);
        client.send("Subject: two\r\n\r\n2\r\n").await;
        assert_eq!(client.command(".").await, 250);

        let messages = sink.wait_for(2, PATIENCE).await;
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].header("subject").as_deref(), Some("one"));
        assert_eq!(messages[1].from, "");
        assert_eq!(messages[1].to, ["c@x.test", "d@x.test"]);
    }

    #[tokio::test]
    async fn out_of_order_and_unknown_commands_are_refused() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(&sink).await;
        assert_eq!(client.command("RCPT TO:<b@x.test>").await, 503);
        assert_eq!(client.command("MAIL TO:<b@x.test>").await, 501);
        assert_eq!(client.command("MAIL FROM:<a@x.test>").await, 250);
        assert_eq!(client.command("MAIL FROM:<a@x.test>").await, 503);
        assert_eq!(client.command("DATA").await, 503);
        assert_eq!(client.command("RCPT TO:<>").await, 501);
        assert_eq!(client.command("STARTTLS").await, 502);
        assert_eq!(client.command("AUTH PLAIN abc").await, 502);
        assert_eq!(client.command("FROB").await, 500);
        assert_eq!(client.command("").await, 500);
        assert_eq!(client.command(&"X".repeat(MAX_COMMAND + 10)).await, 500);
        assert_eq!(
            client.command("MAIL FROM:<a@x.test> SIZE=99999999").await,
            503
        );
        assert_eq!(client.command("RSET").await, 250);
        let too_big = format!("MAIL FROM:<a@x.test> SIZE={}", MAX_MESSAGE + 1);
        assert_eq!(client.command(&too_big).await, 552);
        assert_eq!(client.command("QUIT").await, 221);
        // QUIT closes the connection.
        let mut rest = Vec::new();
        client.reader.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn fail_next_refuses_that_many_senders_with_451() {
        let sink = SmtpSink::start().await;
        sink.fail_next(2);
        let mut client = Client::connect(&sink).await;
        client.send("MAIL FROM:<a@x.test>\r\n").await;
        assert_eq!(client.reply().await, "451 4.3.0 try again later");
        assert_eq!(client.command("MAIL FROM:<a@x.test>").await, 451);
        assert_eq!(client.mail("Subject: third\r\n\r\nok\r\n").await, 250);
        assert_eq!(sink.wait_for(1, PATIENCE).await.len(), 1);
    }

    #[tokio::test]
    async fn a_message_over_10_mib_is_refused_and_the_connection_goes_on() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(&sink).await;
        let line = "x".repeat(998);
        let body = format!("{line}\r\n").repeat(MAX_MESSAGE / 1000 + 10);
        assert_eq!(client.mail(&body).await, 552);
        assert_eq!(client.mail("Subject: small\r\n\r\nok\r\n").await, 250);
        let messages = sink.wait_for(1, PATIENCE).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].header("Subject").as_deref(), Some("small"));
    }

    #[tokio::test]
    async fn connections_are_served_at_the_same_time() {
        let sink = SmtpSink::start().await;
        let mut first = Client::connect(&sink).await;
        assert_eq!(first.command("MAIL FROM:<first@x.test>").await, 250);
        // The first connection is mid-transaction and stays open while the second one talks.
        let mut second = Client::connect(&sink).await;
        assert_eq!(second.mail("Subject: second\r\n\r\n2\r\n").await, 250);
        assert_eq!(first.command("RCPT TO:<b@x.test>").await, 250);
        assert_eq!(first.command("DATA").await, 354);
        first.send("Subject: first\r\n\r\n1\r\n").await;
        assert_eq!(first.command(".").await, 250);

        let subjects: Vec<_> = sink
            .wait_for(2, PATIENCE)
            .await
            .iter()
            .map(|m| m.header("subject").unwrap())
            .collect();
        assert_eq!(subjects, ["second", "first"]);
    }

    #[tokio::test]
    async fn dropping_the_sink_closes_its_connections() {
        let sink = SmtpSink::start().await;
        let mut client = Client::connect(&sink).await;
        drop(sink);
        let mut rest = Vec::new();
        let read = tokio::time::timeout(PATIENCE, client.reader.read_to_end(&mut rest));
        read.await.expect("the connection closes").unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn wait_for_gives_what_there_is_when_time_runs_out() {
        let sink = SmtpSink::start().await;
        assert_eq!(sink.url(), format!("smtp://127.0.0.1:{}", sink.port()));
        let messages = sink.wait_for(1, Duration::from_millis(20)).await;
        assert!(messages.is_empty());
    }

    #[test]
    fn header_is_case_insensitive_unfolded_and_the_first_one() {
        let m = received(
            "Received: one\r\nSubject: a long\r\n\tsubject\r\n  folded twice\r\n\
             X-Empty:\r\nsubject: second\r\n\r\nSubject: in the body\r\n",
        );
        assert_eq!(
            m.header("SUBJECT").as_deref(),
            Some("a long\tsubject  folded twice")
        );
        assert_eq!(m.header("x-empty").as_deref(), Some(""));
        assert_eq!(m.header("received").as_deref(), Some("one"));
        assert_eq!(m.header("to"), None);
    }

    #[test]
    fn quoted_printable_loses_soft_breaks_and_keeps_hard_ones() {
        let m = received(
            "Content-Transfer-Encoding: Quoted-Printable\r\n\r\n\
             Visit https://example.com/a=3Db&c=3D=\r\nd  \r\nGr=C3=BC=C3=9Fe =\r\nand =ZZ\r\n",
        );
        assert_eq!(
            m.text(),
            "Visit https://example.com/a=b&c=d\r\nGrüße and =ZZ\r\n"
        );
        assert_eq!(
            m.link("https://").as_deref(),
            Some("https://example.com/a=b&c=d")
        );
    }

    #[test]
    fn base64_decodes_across_lines() {
        // "Grüße, 世界!\r\n" in base64, broken over two lines.
        let m =
            received("Content-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSwg5LiW\r\n55WMIQ0K\r\n");
        assert_eq!(m.text(), "Grüße, 世界!\r\n");
        assert_eq!(decode_base64("YQ=="), b"a");
        assert_eq!(decode_base64("YWI="), b"ab");
        assert_eq!(decode_base64("YWJj"), b"abc");
    }

    #[test]
    fn seven_bit_passes_as_is() {
        let m = received("Subject: x\r\n\r\nsee <https://x.test/a?b=1> or \"https://x.test/c\"");
        assert_eq!(
            m.text(),
            "see <https://x.test/a?b=1> or \"https://x.test/c\""
        );
        assert_eq!(
            m.link("https://x.test/").as_deref(),
            Some("https://x.test/a?b=1")
        );
        assert_eq!(
            m.link("https://x.test/c").as_deref(),
            Some("https://x.test/c")
        );
        assert_eq!(m.link("http://"), None);
    }

    #[test]
    fn text_is_the_first_plain_part_of_nested_multiparts() {
        let m = received(
            "Content-Type: multipart/mixed;\r\n boundary=\"outer\"\r\n\r\n\
             preamble\r\n\
             --outer\r\n\
             Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nattached\r\n\
             --outer\r\n\
             Content-Type: multipart/alternative; boundary=inner\r\n\r\n\
             --inner\r\n\
             Content-Type: text/html\r\n\r\n<p>html</p>\r\n\
             --inner\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n\
             plain =\r\ntext\r\n\
             --inner--\r\n\
             --outer--\r\nepilogue\r\n",
        );
        assert_eq!(m.text(), "plain text");
    }

    #[test]
    fn a_multipart_without_plain_text_has_no_text() {
        let m = received(
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/html\r\n\r\n<p>only html</p>\r\n--b--\r\n",
        );
        assert_eq!(m.text(), "");
    }
}
