//! `multipart/form-data` bodies, read with multer behind a guard for the parts multer keeps
//! whole in memory while it looks for their end.
//!
//! multer counts the body (`whole_stream`) and each part's data (`per_field`), but the bytes
//! before the first boundary and each part's header block are buffered until their end
//! turns up, and searched again from the start at every read: 300 MiB sent before a first
//! boundary were read, held and scanned with no answer. [`Framing`] follows the same framing
//! as the bytes pass (a boundary search that keeps only the last few bytes between pieces)
//! and stops the body once either runs past 8 KiB, which no browser or HTTP library comes near.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::{Stream, StreamExt};

/// Most bytes before the first boundary (browsers send none).
pub const MAX_PREAMBLE: usize = 8 * 1024;
/// Most bytes of one part's header block (`Content-Disposition`, `Content-Type`).
pub const MAX_PART_HEAD: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first `--boundary`.
    Preamble,
    /// After a boundary, up to the blank line that ends the part's headers.
    Head,
    /// A part's content, up to the next `CRLF--boundary`.
    Data,
}

/// Where a multipart body is in its framing, fed the body piece by piece.
#[derive(Debug)]
pub struct Framing {
    first: Vec<u8>,
    delimiter: Vec<u8>,
    state: State,
    /// The end of the previous piece, which may hold the start of what is searched for.
    carry: Vec<u8>,
    /// Bytes seen in the current preamble or head.
    seen: usize,
}

impl Framing {
    pub fn new(boundary: &str) -> Self {
        Self {
            first: format!("--{boundary}").into_bytes(),
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            state: State::Preamble,
            carry: Vec::new(),
            seen: 0,
        }
    }

    /// Follows `piece`; an error names what ran too long.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), &'static str> {
        let mut buf = std::mem::take(&mut self.carry);
        let carried = buf.len();
        buf.extend_from_slice(piece);
        // Bytes of `buf[from..to]` not already counted with the previous piece.
        let fresh = |from: usize, to: usize| to.saturating_sub(from.max(carried));
        let mut pos = 0;
        loop {
            let (pattern, limit): (&[u8], Option<(usize, &'static str)>) = match self.state {
                State::Preamble => (
                    &self.first,
                    Some((
                        MAX_PREAMBLE,
                        "the body has more than 8 KiB before its first boundary",
                    )),
                ),
                State::Head => (
                    b"\r\n\r\n",
                    Some((MAX_PART_HEAD, "a part's headers are longer than 8 KiB")),
                ),
                State::Data => (&self.delimiter, None),
            };
            match memchr::memmem::find(&buf[pos..], pattern) {
                Some(i) => {
                    let end = pos + i + pattern.len();
                    self.seen += fresh(pos, end);
                    if let Some((max, why)) = limit
                        && self.seen > max + pattern.len()
                    {
                        return Err(why);
                    }
                    self.state = match self.state {
                        State::Preamble | State::Data => State::Head,
                        State::Head => State::Data,
                    };
                    self.seen = 0;
                    pos = end;
                }
                None => {
                    self.seen += fresh(pos, buf.len());
                    if let Some((max, why)) = limit
                        && self.seen > max
                    {
                        return Err(why);
                    }
                    let keep = (pattern.len() - 1).min(buf.len() - pos);
                    self.carry = buf[buf.len() - keep..].to_vec();
                    return Ok(());
                }
            }
        }
    }
}

/// `body` passed through a [`Framing`]; the first framing error ends it, and is kept in
/// `why` for the answer.
pub fn guarded(
    body: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    boundary: &str,
    why: Arc<OnceLock<&'static str>>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let mut framing = Framing::new(boundary);
    let mut failed = false;
    body.map(move |piece| {
        if failed {
            return Err(std::io::Error::other("multipart framing"));
        }
        let piece = piece?;
        if let Err(reason) = framing.feed(&piece) {
            failed = true;
            let _ = why.set(reason);
            return Err(std::io::Error::other(reason));
        }
        Ok(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(boundary: &str, parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in parts {
            out.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                    .as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        out
    }

    fn feed_in(framing: &mut Framing, body: &[u8], piece: usize) -> Result<(), &'static str> {
        body.chunks(piece).try_for_each(|c| framing.feed(c))
    }

    #[test]
    fn ordinary_forms_pass_however_they_are_cut() {
        let big = vec![b'x'; 100_000];
        let body = form(
            "XyZ",
            &[("alt", b"a harbour"), ("file", &big), ("caption", b"")],
        );
        for piece in [1, 2, 3, 7, 64, 4096, body.len()] {
            let mut f = Framing::new("XyZ");
            assert_eq!(feed_in(&mut f, &body, piece), Ok(()), "pieces of {piece}");
            assert_eq!(f.state, State::Head, "ends after the closing boundary");
        }
    }

    #[test]
    fn a_long_preamble_is_stopped_without_reading_on() {
        let mut body = vec![b'p'; MAX_PREAMBLE + 1];
        body.extend(form("b", &[("file", b"data")]));
        for piece in [1, 100, 65536] {
            let mut f = Framing::new("b");
            assert!(feed_in(&mut f, &body, piece).is_err(), "pieces of {piece}");
        }
        // Up to the limit is accepted.
        let mut body = vec![b'p'; MAX_PREAMBLE - 10];
        body.extend(form("b", &[("file", b"data")]));
        assert_eq!(feed_in(&mut Framing::new("b"), &body, 333), Ok(()));
    }

    #[test]
    fn a_long_part_head_is_stopped() {
        let mut body = b"--b\r\nContent-Disposition: form-data; name=\"alt\"\r\nX-Pad: ".to_vec();
        body.extend(vec![b'h'; MAX_PART_HEAD]);
        body.extend_from_slice(b"\r\n\r\nvalue\r\n--b--\r\n");
        assert!(feed_in(&mut Framing::new("b"), &body, 500).is_err());
        // The second part's head counts from its own boundary.
        let mut body = form("b", &[("alt", &vec![b'v'; 50_000])]);
        body.truncate(body.len() - b"--b--\r\n".len());
        body.extend_from_slice(b"--b\r\nX-Pad: ");
        body.extend(vec![b'h'; MAX_PART_HEAD + 10]);
        assert!(feed_in(&mut Framing::new("b"), &body, 1000).is_err());
    }

    #[test]
    fn boundary_lookalikes_in_data_are_data() {
        let data = b"--b is not a delimiter without CRLF before it; \r\n--c neither";
        let body = form("b", &[("file", data), ("alt", b"x")]);
        assert_eq!(feed_in(&mut Framing::new("b"), &body, 5), Ok(()));
    }
}
