//! A delivery status notification (RFC 3464) for a message the farm refused
//! by policy: a `multipart/report` with a sentence for people, the
//! machine-readable status per refused recipient, and the original's
//! header (not its body). Sent with the null sender `<>`, so it is never
//! answered by another notification. Pure: the caller sends it.

/// What a notice is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused<'a> {
    /// Our host name (`Reporting-MTA`).
    pub reporting_host: &'a str,
    /// Who the notice is from, e.g. `postmaster@contoso.com`.
    pub postmaster: &'a str,
    /// The original's envelope sender: who gets the notice.
    pub sender: &'a str,
    /// The recipients refused.
    pub recipients: &'a [String],
    /// Why, one sentence.
    pub reason: &'a str,
    /// RFC 5322 date, and a unique id for the notice's Message-ID.
    pub date: &'a str,
    pub id: &'a str,
    /// The original message (its header is quoted).
    pub original: &'a [u8],
}

/// The header of a message: up to and including the empty line (at most
/// 64 KiB).
pub fn header_of(message: &[u8]) -> &[u8] {
    let head = message.get(..64 * 1024).unwrap_or(message);
    let end = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| {
            head.windows(sep.len())
                .position(|w| w == *sep)
                .map(|p| p + sep.len())
        })
        .min()
        .unwrap_or(head.len());
    head.get(..end).unwrap_or(head)
}

/// Text without line breaks or other control characters (it goes into
/// header fields and status lines).
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The notice, CRLF line ends, ready to send.
pub fn refusal_notice(r: &Refused<'_>) -> Vec<u8> {
    let boundary = format!("postroom-dsn-{}", clean(r.id));
    let rcpts = r.recipients.iter().map(|x| clean(x)).collect::<Vec<_>>();
    let reason = clean(r.reason);
    let mut m = format!(
        "From: Mail Delivery System <{postmaster}>\r\n\
         To: <{sender}>\r\n\
         Subject: Undeliverable: your message was not filed\r\n\
         Date: {date}\r\n\
         Message-ID: <dsn-{id}@{host}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Your message to {list} was not filed.\r\n\r\n\
         Reason: {reason}\r\n\r\n\
         The message is kept in quarantine; an administrator can file it once the cause is fixed.\r\n\r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {host}\r\n",
        postmaster = clean(r.postmaster),
        sender = clean(r.sender),
        date = clean(r.date),
        id = clean(r.id),
        host = clean(r.reporting_host),
        list = rcpts.join(", "),
    );
    for rcpt in &rcpts {
        m.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.7.1\r\n\
             Diagnostic-Code: smtp; 550 5.7.1 {reason}\r\n"
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    let mut bytes = m.into_bytes();
    bytes.extend_from_slice(header_of(r.original));
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_notice_is_a_report_with_a_status_per_recipient_and_the_original_header() {
        let rcpts = vec!["board@contoso.com".to_string()];
        let original = b"From: mallory@evil.example\r\nSubject: hi\r\n\r\nsecret body\r\n";
        let notice = refusal_notice(&Refused {
            reporting_host: "postroom.contoso.com",
            postmaster: "postmaster@contoso.com",
            sender: "mallory@evil.example",
            recipients: &rcpts,
            reason: "library \"board\" accepts mail from its members only,\r\nBcc: injected",
            date: "Tue, 24 Nov 2026 03:00:00 +0000",
            id: "1-42",
            original,
        });
        let text = String::from_utf8(notice.clone()).unwrap();
        let parsed = crate::parse_message(&notice).unwrap();
        assert_eq!(
            parsed.headers.subject.as_deref(),
            Some("Undeliverable: your message was not filed")
        );
        assert!(text.contains("report-type=delivery-status"), "{text}");
        assert!(text.contains(
            "Final-Recipient: rfc822; board@contoso.com\r\nAction: failed\r\nStatus: 5.7.1"
        ));
        assert!(text.contains("Subject: hi\r\n"));
        assert!(!text.contains("secret body"));
        // A reason cannot add header fields or lines.
        assert!(!text.contains("\r\nBcc: injected"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-replied"));
    }
}
