//! postroom's own trace header: the `Received:` field a node's SMTP
//! listener puts on top of the stored copy of a message. It is part of the
//! stored copy but not of the message key, so a message re-sent after a lost
//! `250` (with a new `Received:` of ours) keeps its identity.

/// The comment that marks a `Received:` field as written by postroom, right
/// after the `by <host>` clause.
pub const TRACE_MARK: &str = "(postroom)";

/// Split `message` into postroom's leading `Received:` field (folded lines
/// included) and the message as the client sent it. When the message does
/// not start with a `Received:` field carrying [`TRACE_MARK`] in its `by`
/// clause, the first part is empty.
pub fn split_own_trace(message: &[u8]) -> (&[u8], &[u8]) {
    let none = (&message[..0], message);
    let name = b"received:";
    if message.len() < name.len() || !message[..name.len()].eq_ignore_ascii_case(name) {
        return none;
    }
    // The field ends at the first line break not followed by a space or tab.
    let mut end = None;
    let mut i = 0;
    while let Some(nl) = message[i..].iter().position(|&b| b == b'\n') {
        let next = i + nl + 1;
        match message.get(next) {
            Some(b' ' | b'\t') => i = next,
            _ => {
                end = Some(next);
                break;
            }
        }
    }
    let Some(end) = end else {
        return none;
    };
    let field = &message[..end];
    let unfolded: Vec<u8> = field
        .iter()
        .map(|&b| {
            if b == b'\r' || b == b'\n' || b == b'\t' {
                b' '
            } else {
                b
            }
        })
        .collect();
    let text = String::from_utf8_lossy(&unfolded);
    let ours = text
        .split(" by ")
        .skip(1)
        .any(|by| by.split_whitespace().nth(1) == Some(TRACE_MARK));
    if ours {
        (field, &message[end..])
    } else {
        none
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_folded_received_field_is_split_off() {
        let msg = b"Received: from client.test (client.test [127.0.0.1])\r\n\tby node1.test (postroom) with ESMTP id 1-7;\r\n\tMon, 23 Nov 2026 20:00:00 +0000\r\nFrom: a@x\r\n\r\nbody\r\n";
        let (trace, rest) = split_own_trace(msg);
        assert!(trace.starts_with(b"Received: from client.test"));
        assert_eq!(rest, b"From: a@x\r\n\r\nbody\r\n");
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
