//! A small SMTP client: hands one message to a smarthost (the relay that
//! delivers the farm's own mail, e.g. notices to refused senders). EHLO
//! (HELO if refused), MAIL, RCPT per recipient, DATA with dot-stuffing,
//! QUIT; every step bounded by a timeout. No TLS, no AUTH: a smarthost on
//! the farm's own network.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::SmtpError;

/// One message to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Our name in EHLO.
    pub hello: &'a str,
    /// The envelope sender (empty: the null sender `<>`).
    pub from: &'a str,
    pub to: &'a [String],
    /// The message, any line ends (sent as CRLF, dot-stuffed).
    pub message: &'a [u8],
}

struct Conversation<'a> {
    server: &'a str,
    stream: BufReader<TcpStream>,
    timeout: Duration,
}

impl Conversation<'_> {
    fn fail(&self, step: &'static str, detail: impl Into<String>) -> SmtpError {
        SmtpError::Client {
            server: self.server.to_string(),
            step,
            detail: detail.into(),
        }
    }

    /// The reply's code and its lines (multi-line replies joined).
    async fn reply(&mut self, step: &'static str) -> Result<(u16, String), SmtpError> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(self.timeout, self.stream.read_line(&mut line)).await;
            match read {
                Err(_) => return Err(self.fail(step, "no reply in time")),
                Ok(Err(e)) => return Err(self.fail(step, e.to_string())),
                Ok(Ok(0)) => return Err(self.fail(step, "the connection closed")),
                Ok(Ok(_)) => {}
            }
            let line = line.trim_end();
            text.push_str(line);
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let last = line.as_bytes().get(3) != Some(&b'-');
            match code {
                Some(code) if last => return Ok((code, text)),
                Some(_) => text.push(' '),
                None => return Err(self.fail(step, format!("not an SMTP reply: {line:?}"))),
            }
        }
    }

    async fn send(&mut self, step: &'static str, bytes: &[u8]) -> Result<(), SmtpError> {
        let write = self.stream.get_mut().write_all(bytes);
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.fail(step, e.to_string())),
            Err(_) => Err(self.fail(step, "could not send in time")),
        }
    }

    /// Send `command` and expect a reply in `ok`.
    async fn step(
        &mut self,
        step: &'static str,
        command: &str,
        ok: &[u16],
    ) -> Result<(), SmtpError> {
        self.send(step, format!("{command}\r\n").as_bytes()).await?;
        let (code, text) = self.reply(step).await?;
        if ok.contains(&code) {
            Ok(())
        } else {
            Err(self.fail(step, text))
        }
    }
}

/// `message` with CRLF line ends, leading dots doubled, ending in CRLF.
pub fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    for line in message.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    // `split` yields an empty last piece after a final line end.
    if message.ends_with(b"\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// Hand `mail` to the smarthost at `server` (`host:port`).
pub async fn send_mail(
    server: &str,
    mail: Outgoing<'_>,
    timeout: Duration,
) -> Result<(), SmtpError> {
    let connect = tokio::time::timeout(timeout, TcpStream::connect(server)).await;
    let stream = match connect {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return Err(SmtpError::Client {
                server: server.to_string(),
                step: "connect",
                detail: e.to_string(),
            })
        }
        Err(_) => {
            return Err(SmtpError::Client {
                server: server.to_string(),
                step: "connect",
                detail: "no connection in time".to_string(),
            })
        }
    };
    let mut c = Conversation {
        server,
        stream: BufReader::new(stream),
        timeout,
    };
    let (code, text) = c.reply("greeting").await?;
    if code != 220 {
        return Err(c.fail("greeting", text));
    }
    if c.step("ehlo", &format!("EHLO {}", mail.hello), &[250])
        .await
        .is_err()
    {
        c.step("helo", &format!("HELO {}", mail.hello), &[250])
            .await?;
    }
    c.step("mail", &format!("MAIL FROM:<{}>", mail.from), &[250])
        .await?;
    for rcpt in mail.to {
        c.step("rcpt", &format!("RCPT TO:<{rcpt}>"), &[250, 251])
            .await?;
    }
    c.step("data", "DATA", &[354]).await?;
    let mut body = dot_stuffed(mail.message);
    body.extend_from_slice(b".\r\n");
    c.send("data", &body).await?;
    let (code, text) = c.reply("end of data").await?;
    if code != 250 {
        return Err(c.fail("end of data", text));
    }
    let _ = c.step("quit", "QUIT", &[221]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn lines_are_crlf_and_leading_dots_doubled() {
        assert_eq!(
            dot_stuffed(b"a\n.b\r\n..c\r\nd"),
            b"a\r\n..b\r\n...c\r\nd\r\n"
        );
        assert_eq!(dot_stuffed(b"x\r\n"), b"x\r\n");
        assert_eq!(dot_stuffed(b""), b"\r\n");
    }

    #[tokio::test]
    async fn a_message_is_handed_over_step_by_step() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut s = BufReader::new(socket);
            let mut seen = Vec::new();
            s.get_mut().write_all(b"220 hi\r\n").await.unwrap();
            let mut data = false;
            loop {
                let mut line = String::new();
                if s.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                seen.push(line.clone());
                let reply: &[u8] = if data {
                    if line == ".\r\n" {
                        data = false;
                        b"250 ok\r\n"
                    } else {
                        continue;
                    }
                } else if line.starts_with("EHLO") {
                    b"250-hi\r\n250 SIZE 100\r\n"
                } else if line.starts_with("DATA") {
                    data = true;
                    b"354 go\r\n"
                } else if line.starts_with("QUIT") {
                    s.get_mut().write_all(b"221 bye\r\n").await.unwrap();
                    break;
                } else {
                    b"250 ok\r\n"
                };
                s.get_mut().write_all(reply).await.unwrap();
            }
            seen
        });
        let to = vec!["bob@example.com".to_string()];
        let mail = Outgoing {
            hello: "node1.test",
            from: "",
            to: &to,
            message: b"Subject: x\n\n.hidden\n",
        };
        send_mail(&addr, mail, Duration::from_secs(5))
            .await
            .unwrap();
        let seen = server.await.unwrap();
        assert_eq!(
            seen,
            [
                "EHLO node1.test\r\n",
                "MAIL FROM:<>\r\n",
                "RCPT TO:<bob@example.com>\r\n",
                "DATA\r\n",
                "Subject: x\r\n",
                "\r\n",
                "..hidden\r\n",
                ".\r\n",
                "QUIT\r\n"
            ]
        );
        let refused = send_mail("127.0.0.1:1", mail, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("smarthost 127.0.0.1:1: connect: "),
            "{refused}"
        );
    }
}
