//! A small SMTP client (RFC 5321): `EHLO`, `STARTTLS` (RFC 3207) or implicit TLS,
//! `AUTH PLAIN` (RFC 4954) only over TLS, one message per connection. What a notification
//! needs and no more; the message is plain text, UTF-8, base64 — so no line of the body
//! can be read as the end of the data.

use std::sync::Arc;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use crate::send::SendError;
use crate::{Notice, Security, Settings, render};

/// A mail to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// `Message-ID` (the delivery's id: a client can see a repeat as one message).
    pub message_id: String,
    /// The subject.
    pub subject: String,
    /// The text.
    pub text: String,
    /// Low priority (a silent notification).
    pub low_priority: bool,
}

impl Mail {
    /// The mail of a notice.
    pub fn of(delivery: &str, n: &Notice, silent: bool) -> Self {
        let r = render(n);
        Mail {
            message_id: delivery.into(),
            subject: r.title,
            text: r.text,
            low_priority: silent,
        }
    }

    /// The message as sent in `DATA` (CRLF lines, without the final `.`).
    pub fn format(&self, from: &str, to: &[String], date: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let subject = if self.subject.is_ascii() && !self.subject.contains(['\r', '\n']) {
            self.subject.clone()
        } else {
            // RFC 2047 encoded-word.
            format!("=?UTF-8?B?{}?=", b64.encode(self.subject.as_bytes()))
        };
        let mut m = String::new();
        m.push_str(&format!("From: {from}\r\n"));
        m.push_str(&format!("To: {}\r\n", to.join(", ")));
        m.push_str(&format!("Subject: {subject}\r\n"));
        m.push_str(&format!("Date: {date}\r\n"));
        m.push_str(&format!("Message-ID: <{}@tradewind>\r\n", self.message_id));
        if self.low_priority {
            m.push_str("X-Priority: 5\r\nImportance: low\r\nPriority: non-urgent\r\n");
        }
        m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        let body = b64.encode(self.text.replace('\n', "\r\n").as_bytes());
        for chunk in body.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            m.push_str("\r\n");
        }
        m
    }
}

/// RFC 5322 date of now.
fn rfc5322_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, mo, d) = tradewind_core::data::time::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize],
        MONTHS[(mo as usize).saturating_sub(1).min(11)],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Conn {
    io: BufReader<Box<dyn Io>>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> SendError {
    SendError {
        message: format!("smtp: {what}: {e}"),
        permanent: false,
    }
}

impl Conn {
    /// Reads a reply (all its lines): the code and the last line's text.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), SendError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .io
                .read_line(&mut line)
                .await
                .map_err(|e| fail("reading", e))?;
            if n == 0 {
                return Err(fail("reading", "the server closed the connection"));
            }
            let line = line.trim_end().to_owned();
            if line.len() < 3 {
                return Err(fail("reading", format!("not a reply: {line:?}")));
            }
            let code: u16 = line[..3]
                .parse()
                .map_err(|_| fail("reading", format!("not a reply: {line:?}")))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if !more {
                return Ok((code, lines));
            }
        }
    }

    /// Sends a command and expects a reply in `ok`; `shown` is what an error says was
    /// sent (never a credential).
    async fn command(
        &mut self,
        line: &str,
        shown: &str,
        ok: &[u16],
    ) -> Result<Vec<String>, SendError> {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| fail("writing", e))?;
        self.io
            .get_mut()
            .flush()
            .await
            .map_err(|e| fail("writing", e))?;
        self.expect(shown, ok).await
    }

    async fn expect(&mut self, shown: &str, ok: &[u16]) -> Result<Vec<String>, SendError> {
        let (code, lines) = self.reply().await?;
        if ok.contains(&code) {
            return Ok(lines);
        }
        Err(SendError {
            message: format!(
                "smtp: {shown}: the server answered {code} {}",
                lines.last().map(String::as_str).unwrap_or("")
            ),
            // 5xx: the server refuses this for good; 4xx: try later.
            permanent: (500..600).contains(&code),
        })
    }
}

async fn tls(
    io: Box<dyn Io>,
    host: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<Box<dyn Io>, SendError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| fail("TLS server name", e))?;
    let stream = TlsConnector::from(config)
        .connect(name, io)
        .await
        .map_err(|e| fail("TLS", e))?;
    Ok(Box::new(stream))
}

/// Sends `mail` through the channel's server (`settings` must be [`Settings::Email`]);
/// `password` is the channel's secret (empty: no login).
pub async fn send_mail(
    settings: &Settings,
    password: &str,
    mail: &Mail,
    ehlo_name: &str,
    tls_config: Arc<rustls::ClientConfig>,
) -> Result<(), SendError> {
    let Settings::Email {
        host,
        port,
        security,
        username,
        from,
        to,
    } = settings
    else {
        return Err(fail("settings", "not an email channel"));
    };
    let tcp = TcpStream::connect((host.as_str(), *port))
        .await
        .map_err(|e| fail(&format!("connecting to {host}:{port}"), e))?;
    let mut io: Box<dyn Io> = Box::new(tcp);
    if *security == Security::Tls {
        io = tls(io, host, tls_config.clone()).await?;
    }
    let mut c = Conn {
        io: BufReader::new(io),
    };
    c.expect("greeting", &[220]).await?;
    let ehlo = format!("EHLO {ehlo_name}");
    let caps = c.command(&ehlo, "EHLO", &[250]).await?;
    if *security == Security::Starttls {
        if !caps.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
            return Err(SendError {
                message: format!(
                    "smtp: {host}:{port} does not offer STARTTLS; the channel requires it (security: none only on a trusted network)"
                ),
                permanent: false,
            });
        }
        c.command("STARTTLS", "STARTTLS", &[220]).await?;
        let inner = c.io.into_inner();
        c = Conn {
            io: BufReader::new(tls(inner, host, tls_config).await?),
        };
        // What the server offers after STARTTLS may differ; nothing below depends on it.
        c.command(&ehlo, "EHLO", &[250]).await?;
    }
    if let Some(user) = username.as_deref().filter(|u| !u.is_empty()) {
        if *security == Security::None {
            return Err(SendError {
                message: "smtp: a login is never sent without TLS (security: none)".into(),
                permanent: true,
            });
        }
        let plain = base64::engine::general_purpose::STANDARD
            .encode(format!("\0{user}\0{password}").as_bytes());
        c.command(
            &format!("AUTH PLAIN {plain}"),
            "AUTH PLAIN (credentials withheld)",
            &[235],
        )
        .await?;
    }
    c.command(&format!("MAIL FROM:<{from}>"), "MAIL FROM", &[250])
        .await?;
    for rcpt in to {
        c.command(&format!("RCPT TO:<{rcpt}>"), "RCPT TO", &[250, 251])
            .await?;
    }
    c.command("DATA", "DATA", &[354]).await?;
    let body = mail.format(from, to, &rfc5322_now());
    c.io.get_mut()
        .write_all(format!("{body}.\r\n").as_bytes())
        .await
        .map_err(|e| fail("writing", e))?;
    c.io.get_mut()
        .flush()
        .await
        .map_err(|e| fail("writing", e))?;
    c.expect("end of DATA", &[250]).await?;
    // The message is accepted; a failing QUIT changes nothing.
    let _ = c.command("QUIT", "QUIT", &[221]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_base64_with_an_encoded_subject_and_a_priority_when_silent() {
        let m = Mail {
            message_id: "abc".into(),
            subject: "Équité".into(),
            text: "line 1\n.\nline 3".into(),
            low_priority: true,
        };
        let s = m.format(
            "a@b.c",
            &["d@e.f".into()],
            "Thu, 01 Jan 1970 00:00:00 +0000",
        );
        assert!(s.contains("Subject: =?UTF-8?B?"), "{s}");
        assert!(s.contains("Message-ID: <abc@tradewind>\r\n"));
        assert!(s.contains("X-Priority: 5\r\n"));
        // No body line is a lone dot.
        assert!(!s.lines().any(|l| l == "."));
        let date = rfc5322_now();
        assert!(date.ends_with(" +0000") && date.len() == 31, "{date}");
    }
}
