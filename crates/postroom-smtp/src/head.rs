//! The head of a drop file written by the SMTP listener, from a session's
//! envelope and peer (the layout itself is `postroom_mail::drop_file_head`,
//! next to the parser that reads it back). Pure: the time is passed in.

use postroom_mail::TraceInfo;
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

use crate::{Envelope, PeerInfo};

/// The bytes written before the message. `id` is the transaction id (also
/// in the file name), `now` the time of acceptance.
pub fn drop_file_head(
    envelope: &Envelope,
    peer: &PeerInfo,
    hostname: &str,
    id: &str,
    now: OffsetDateTime,
) -> Vec<u8> {
    let date = now
        .format(&Rfc2822)
        .unwrap_or_else(|_| now.unix_timestamp().to_string());
    let trace = TraceInfo {
        helo: &envelope.helo,
        client_ip: &peer.ip.to_string(),
        by: hostname,
        protocol: &envelope.protocol,
        id,
        for_recipient: match envelope.recipients.as_slice() {
            [one] => Some(one),
            _ => None,
        },
        date: &date,
    };
    postroom_mail::drop_file_head(&envelope.sender, &envelope.recipients, &trace).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use postroom_mail::{parse_drop_file, split_own_trace};

    fn envelope(recipients: &[&str]) -> Envelope {
        Envelope {
            sender: "alice@contoso.com".into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            helo: "client.contoso.com\r\nX-Receiver: <evil@x>".into(),
            protocol: "ESMTPS".into(),
            declared_size: None,
            eight_bit: false,
            smtputf8: false,
        }
    }

    #[test]
    fn the_head_parses_back_and_our_trace_is_not_part_of_the_message() {
        let peer = PeerInfo {
            ip: "192.0.2.7".parse().unwrap(),
            port: 5000,
        };
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let env = envelope(&["docs@farm.test", "team@farm.test"]);
        let mut file = drop_file_head(&env, &peer, "node1.farm.test", "1-42", now);
        let message = b"From: alice@contoso.com\r\nSubject: hi\r\n\r\nbody\r\n";
        file.extend_from_slice(message);
        let drop = parse_drop_file(&file).unwrap();
        assert_eq!(drop.envelope.sender, "alice@contoso.com");
        assert_eq!(
            drop.envelope.recipients,
            vec!["docs@farm.test", "team@farm.test"]
        );
        let (trace, as_sent) = split_own_trace(drop.message);
        assert_eq!(as_sent, message);
        let trace = String::from_utf8_lossy(trace);
        assert!(
            trace.contains("by node1.farm.test (postroom) with ESMTPS id 1-42;"),
            "{trace}"
        );
        assert!(trace.contains("[192.0.2.7]"), "{trace}");
        assert!(
            trace.contains("client.contoso.com??X-Receiver"),
            "helo text must not inject lines: {trace}"
        );
    }

    #[test]
    fn null_sender_and_single_recipient() {
        let peer = PeerInfo {
            ip: "127.0.0.1".parse().unwrap(),
            port: 1,
        };
        let mut env = envelope(&["docs@farm.test"]);
        env.sender = String::new();
        let mut file = drop_file_head(&env, &peer, "n", "1-1", OffsetDateTime::UNIX_EPOCH);
        file.extend_from_slice(b"Subject: x\r\n\r\nb\r\n");
        let drop = parse_drop_file(&file).unwrap();
        assert_eq!(drop.envelope.sender, "");
        assert!(String::from_utf8_lossy(&file).contains("for <docs@farm.test>;"));
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use crate::command::parse_mail;
    use postroom_mail::parse_drop_file;

    /// Every sender the session accepts reads back unchanged from the drop
    /// file it writes, so nothing answered 250 is quarantined for its envelope.
    #[test]
    fn accepted_senders_read_back_from_the_drop_file() {
        let candidates = [
            "FROM:<plain@contoso.com>",
            "FROM:<>",
            "FROM:<\"a>b\"@x.test>",
            "FROM:<\"\"@x.test>",
            "FROM:<\"quoted space\"@x.test>",
            "FROM:<@relay.test:routed@x.test>",
            "FROM:<☃@x.test> SMTPUTF8",
            "FROM:<jörg@bücher.example> SMTPUTF8",
            "FROM:<u@[192.0.2.1]>",
            "FROM:<a.b+tag@sub.x.test>",
            "FROM:<\u{FFFD}@x.test> SMTPUTF8",
        ];
        let peer = PeerInfo {
            ip: "127.0.0.1".parse().unwrap(),
            port: 1,
        };
        let mut accepted = 0;
        for args in candidates {
            let Ok(mail) = parse_mail(args) else { continue };
            accepted += 1;
            let env = Envelope {
                sender: mail.sender.clone(),
                recipients: vec!["docs@farm.test".into()],
                helo: "h".into(),
                protocol: "ESMTP".into(),
                declared_size: None,
                eight_bit: false,
                smtputf8: mail.smtputf8,
            };
            let mut file = drop_file_head(&env, &peer, "n", "1-1", OffsetDateTime::UNIX_EPOCH);
            file.extend_from_slice(b"Subject: x\r\n\r\nb\r\n");
            let drop = parse_drop_file(&file).unwrap_or_else(|e| panic!("{args}: {e}"));
            assert_eq!(drop.envelope.sender, mail.sender, "{args}");
        }
        assert!(accepted >= 6, "only {accepted} accepted");
    }
}
