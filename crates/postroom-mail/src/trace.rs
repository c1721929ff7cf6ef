//! What postroom writes on top of a message it accepted over SMTP: the
//! drop-file envelope lines and its own trace header. The trace header: the `Received:` field a node's SMTP
//! listener puts on top of the stored copy of a message. It is part of the
//! stored copy but not of the message key, so a message re-sent after a lost
//! `250` (with a new `Received:` of ours) keeps its identity.

/// The comment that marks a `Received:` field as written by postroom, right
/// after the `by <host>` clause.
pub const TRACE_MARK: &str = "(postroom)";

/// The HELO name in our trace of a message that came from no SMTP client
/// (the admin API's Submit, or a replay of a message that had none).
pub const ADMIN_HELO: &str = "postroom-admin";

/// What our `Received:` field says about one SMTP transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceInfo<'a> {
    /// The client's EHLO/HELO name and IP address.
    pub helo: &'a str,
    pub client_ip: &'a str,
    /// Our host name.
    pub by: &'a str,
    /// `ESMTP`, `ESMTPS`, `UTF8SMTPS`, ...
    pub protocol: &'a str,
    /// The transaction id.
    pub id: &'a str,
    /// The one recipient, when there is exactly one.
    pub for_recipient: Option<&'a str>,
    /// RFC 5322 date of acceptance.
    pub date: &'a str,
}

/// Our `Received:` field, folded over lines that start with a tab, ending
/// with the date line (the line after the one that ends in `;`).
/// Client-supplied text loses its control characters.
pub fn own_trace_field(info: &TraceInfo<'_>) -> String {
    let for_clause = info
        .for_recipient
        .map(|r| format!("\r\n\tfor <{}>", clean(r)))
        .unwrap_or_default();
    format!(
        "Received: from {helo} ([{ip}])\r\n\tby {by} {TRACE_MARK} with {proto} id {id}{for_clause};\r\n\t{date}\r\n",
        helo = clean(info.helo),
        ip = clean(info.client_ip),
        by = clean(info.by),
        proto = clean(info.protocol),
        id = clean(info.id),
        date = clean(info.date),
    )
}

/// The head of a drop file postroom writes for a message it accepted: the
/// IIS envelope lines (`X-Sender`, one `X-Receiver` per recipient) that
/// [`crate::parse_drop_file`] reads back, then [`own_trace_field`].
pub fn drop_file_head(sender: &str, recipients: &[String], trace: &TraceInfo<'_>) -> String {
    let mut head = format!("X-Sender: <{}>\r\n", clean(sender));
    for rcpt in recipients {
        head.push_str(&format!("X-Receiver: <{}>\r\n", clean(rcpt)));
    }
    head.push_str(&own_trace_field(trace));
    head
}

/// Client-supplied text never carries line breaks or control characters into a head.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Split `message` into postroom's leading `Received:` field and the
/// message as the client sent it. Only the layout [`own_trace_field`]
/// writes is recognised: a `Received:` line, tab-folded lines with
/// [`TRACE_MARK`] in the `by` clause, and the date line after the line that
/// ends in `;` — so lines the client sent, even ones starting with a space
/// or tab, are never taken for ours. Otherwise the first part is empty.
pub fn split_own_trace(message: &[u8]) -> (&[u8], &[u8]) {
    let none = (&message[..0], message);
    let name = b"received: from ";
    if message.len() < name.len() || !message[..name.len()].eq_ignore_ascii_case(name) {
        return none;
    }
    let mut start = 0;
    let mut marked = false;
    let mut after_semicolon = false;
    while let Some(nl) = message[start..].iter().position(|&b| b == b'\n') {
        let line = &message[start..start + nl];
        let end = start + nl + 1;
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        if start > 0 && !text.starts_with('\t') {
            return none;
        }
        if after_semicolon {
            return if marked {
                (&message[..end], &message[end..])
            } else {
                none
            };
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words
            .windows(3)
            .any(|w| w.first() == Some(&"by") && w.get(2) == Some(&TRACE_MARK))
        {
            marked = true;
        }
        after_semicolon = text.ends_with(';');
        start = end;
    }
    none
}

/// Where our own `Received:` field says a message came from: the client's
/// address and the protocol (`ESMTP`, `GRPC` for the admin API's Submit,
/// `REPLAY` for a quarantine replay). `None` for any other text.
pub fn own_trace_origin(trace: &[u8]) -> Option<(std::net::IpAddr, String)> {
    let text = String::from_utf8_lossy(trace);
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words
        .windows(3)
        .any(|w| w.first() == Some(&"by") && w.get(2) == Some(&TRACE_MARK))
    {
        return None;
    }
    let ip = words
        .iter()
        .find_map(|w| w.strip_prefix("([")?.strip_suffix("])"))?
        .parse()
        .ok()?;
    let protocol = words
        .windows(2)
        .find(|w| w.first() == Some(&"with"))
        .and_then(|w| w.get(1))?
        .to_string();
    Some((ip, protocol))
}

/// The HELO name in our own `Received:` field (`from <helo> ([ip]) by ...`).
pub fn own_trace_helo(trace: &[u8]) -> Option<String> {
    own_trace_origin(trace)?;
    let text = String::from_utf8_lossy(trace);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "from")?;
    words
        .next()
        .filter(|w| !w.starts_with('('))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(for_recipient: Option<&str>) -> String {
        own_trace_field(&TraceInfo {
            helo: "client.test",
            client_ip: "127.0.0.1",
            by: "node1.test",
            protocol: "ESMTPS",
            id: "1-7",
            for_recipient,
            date: "Mon, 23 Nov 2026 20:00:00 +0000",
        })
    }

    #[test]
    fn our_field_is_split_off_exactly_with_or_without_a_for_clause() {
        for f in [field(None), field(Some("docs@farm.test"))] {
            for client in [
                &b"From: a@x\r\n\r\nbody\r\n"[..],
                b" starts with a space\r\n\tand a tab\r\n\r\nbody",
                b"\tfolded-looking first line\r\n",
                b"",
            ] {
                let mut msg = f.clone().into_bytes();
                msg.extend_from_slice(client);
                let (trace, rest) = split_own_trace(&msg);
                assert_eq!(trace, f.as_bytes());
                assert_eq!(rest, client, "{}", String::from_utf8_lossy(client));
            }
        }
        assert!(field(None).contains("by node1.test (postroom) with ESMTPS id 1-7;\r\n\tMon, 23"));
    }

    #[test]
    fn our_field_says_where_the_message_came_from() {
        let origin = own_trace_origin(field(Some("docs@farm.test")).as_bytes());
        assert_eq!(
            origin,
            Some(("127.0.0.1".parse().unwrap(), "ESMTPS".to_string()))
        );
        // A client's own Received field is not ours.
        let theirs =
            b"Received: from x ([10.0.0.1])\r\n\tby mx.example with ESMTP id 9;\r\n\tMon\r\n";
        assert_eq!(own_trace_origin(theirs), None);
        assert_eq!(own_trace_origin(b""), None);
        assert_eq!(
            own_trace_helo(field(None).as_bytes()).as_deref(),
            Some("client.test")
        );
        assert_eq!(own_trace_helo(theirs), None);
    }

    #[test]
    fn the_drop_file_head_reads_back_with_its_envelope() {
        let rcpts = vec!["docs@farm.test".to_string(), "team@farm.test".to_string()];
        let mut file = drop_file_head(
            "a@x.test",
            &rcpts,
            &TraceInfo {
                helo: "h",
                client_ip: "127.0.0.1",
                by: "n",
                protocol: "ESMTP",
                id: "1-1",
                for_recipient: None,
                date: "d",
            },
        )
        .into_bytes();
        file.extend_from_slice(b"Subject: s\r\n\r\nb\r\n");
        let drop = crate::parse_drop_file(&file).unwrap();
        assert_eq!(drop.envelope.sender, "a@x.test");
        assert_eq!(drop.envelope.recipients, rcpts);
        assert_eq!(split_own_trace(drop.message).1, b"Subject: s\r\n\r\nb\r\n");
    }

    #[test]
    fn client_text_cannot_break_the_field() {
        let f = own_trace_field(&TraceInfo {
            helo: "evil\r\nX-Receiver: <x@y>",
            client_ip: "192.0.2.1",
            by: "n",
            protocol: "ESMTP",
            id: "1",
            for_recipient: None,
            date: "d",
        });
        assert!(f.contains("evil??X-Receiver"), "{f}");
        assert_eq!(split_own_trace(f.as_bytes()).0, f.as_bytes());
    }

    #[test]
    fn other_received_fields_and_plain_messages_are_untouched() {
        for msg in [
            &b"Received: from a by mx.example (Postfix) with ESMTP id X;\r\n\tdate\r\nFrom: a@x\r\n\r\nb"[..],
            b"From: a@x\r\nReceived: from a by n (postroom) with ESMTP;\r\n d\r\n\r\nb",
            b"Received: from a (postroom) by mx with SMTP\r\n\r\nb",
            b"Received: from a by n (postroom) with ESMTP; no end of line",
            b"",
            b"Rec",
        ] {
            let (trace, rest) = split_own_trace(msg);
            assert!(trace.is_empty(), "{}", String::from_utf8_lossy(msg));
            assert_eq!(rest, msg);
        }
    }

    #[test]
    fn only_the_first_of_two_of_ours_is_split() {
        let inner =
            b"Received: from b by n2 (postroom) with ESMTP id 2;\r\n\td\r\nFrom: a@x\r\n\r\nb";
        let mut msg = b"Received: from c by n1 (postroom) with ESMTPS id 1;\r\n\td\r\n".to_vec();
        msg.extend_from_slice(inner);
        assert_eq!(split_own_trace(&msg).1, inner);
    }
}
