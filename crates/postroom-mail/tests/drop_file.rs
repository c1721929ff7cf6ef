//! Byte-level tests of `parse_drop_file`: envelope line formats, folding,
//! line endings, the null sender, duplicates, fallbacks, errors and garbage.

use postroom_mail::{parse_drop_file, EnvelopeSource, MailError};

const MESSAGE: &str =
    "From: Alice <alice@contoso.com>\r\nTo: docs@sp.example\r\nSubject: hi\r\n\r\nbody\r\n";

fn drop_file(envelope: &str) -> Vec<u8> {
    format!("{envelope}{MESSAGE}").into_bytes()
}

#[test]
fn iis_lowercase_lines() {
    let bytes = drop_file("x-sender: alice@contoso.com\r\nx-receiver: docs@sp.example\r\n");
    let parsed = parse_drop_file(&bytes).unwrap();
    assert_eq!(parsed.envelope.sender, "alice@contoso.com");
    assert_eq!(parsed.envelope.recipients, ["docs@sp.example"]);
    assert_eq!(parsed.source, EnvelopeSource::DropLines);
    assert_eq!(parsed.message, MESSAGE.as_bytes());
}

#[test]
fn mixed_case_names_and_kept_address_case() {
    let bytes = drop_file("X-SENDER: Alice@Contoso.com\r\nX-Receiver: Docs@SP.example\r\n");
    let parsed = parse_drop_file(&bytes).unwrap();
    assert_eq!(parsed.envelope.sender, "Alice@Contoso.com");
    assert_eq!(parsed.envelope.recipients, ["Docs@SP.example"]);
}

#[test]
fn dotnet_display_name_sender() {
    let bytes = drop_file(
        "X-Sender: \"Build Server\" <build@contoso.com>\r\nX-Receiver: team@contoso.com\r\n",
    );
    let parsed = parse_drop_file(&bytes).unwrap();
    assert_eq!(parsed.envelope.sender, "build@contoso.com");
    assert_eq!(parsed.envelope.recipients, ["team@contoso.com"]);
}

#[test]
fn exchange_folded_lines_and_injected_block() {
    let bytes = drop_file(
        "X-Sender: <bob@contoso.com> BODY=8BITMIME\r\n\
         X-Receiver: <docs@sp.example> ORCPT=rfc822;docs@sp.example NOTIFY=NEVER;\r\n\
         \tX-ExtendedProps=BQAVABYAAgAA\r\n \tmore=1\r\n\
         X-Receiver: <other@sp.example> NOTIFY=NEVER\r\n\
         X-CreatedBy: MSExchange15\r\n\
         X-HeloDomain: EX01.contoso.com\r\n\
         X-ExtendedProps: BQBjAAoAjUmml\r\n\
         \tcontinued\r\n\
         X-EndOfInjectedXHeaders: 1874\r\n",
    );
    let parsed = parse_drop_file(&bytes).unwrap();
    assert_eq!(parsed.envelope.sender, "bob@contoso.com");
    assert_eq!(
        parsed.envelope.recipients,
        ["docs@sp.example", "other@sp.example"]
    );
    assert_eq!(parsed.message, MESSAGE.as_bytes());
}

#[test]
fn x_headers_without_end_marker_belong_to_the_message() {
    let bytes =
        drop_file("x-sender: a@contoso.com\r\nx-receiver: docs@sp.example\r\nX-Mailer: foo\r\n");
    let parsed = parse_drop_file(&bytes).unwrap();
    assert!(parsed.message.starts_with(b"X-Mailer: foo\r\nFrom:"));
}

#[test]
fn end_marker_after_a_real_header_is_not_an_injected_block() {
    let bytes = drop_file(
        "x-sender: a@contoso.com\r\nx-receiver: docs@sp.example\r\nReceived: x\r\nX-EndOfInjectedXHeaders: 1\r\n",
    );
    let parsed = parse_drop_file(&bytes).unwrap();
    assert!(parsed.message.starts_with(b"Received: x\r\n"));
}

#[test]
fn bare_lf_line_endings() {
    let text =
        "x-sender: dave@contoso.com\nx-receiver: docs@sp.example\nFrom: dave@contoso.com\n\nbody\n";
    let parsed = parse_drop_file(text.as_bytes()).unwrap();
    assert_eq!(parsed.envelope.sender, "dave@contoso.com");
    assert_eq!(parsed.envelope.recipients, ["docs@sp.example"]);
    assert_eq!(parsed.message, b"From: dave@contoso.com\n\nbody\n");
}

#[test]
fn folded_lf_line() {
    let text = "X-Sender: <a@contoso.com>\nX-Receiver: <b@sp.example>\n ORCPT=rfc822;b@sp.example\nFrom: a@contoso.com\n\nx\n";
    let parsed = parse_drop_file(text.as_bytes()).unwrap();
    assert_eq!(parsed.envelope.recipients, ["b@sp.example"]);
    assert_eq!(parsed.message, b"From: a@contoso.com\n\nx\n");
}

#[test]
fn null_sender() {
    let bytes = drop_file("X-Sender: <>\r\nX-Receiver: <docs@sp.example>\r\n");
    assert_eq!(parse_drop_file(&bytes).unwrap().envelope.sender, "");
    let bytes = drop_file("X-Sender: <> BODY=7BIT\r\nX-Receiver: <docs@sp.example>\r\n");
    assert_eq!(parse_drop_file(&bytes).unwrap().envelope.sender, "");
}

#[test]
fn duplicate_recipients_removed_case_insensitively() {
    let bytes = drop_file(
        "x-sender: a@contoso.com\r\nx-receiver: Docs@SP.example\r\nx-receiver: other@sp.example\r\n\
         x-receiver: docs@sp.example\r\nx-receiver: <DOCS@sp.EXAMPLE> NOTIFY=NEVER\r\n",
    );
    let parsed = parse_drop_file(&bytes).unwrap();
    assert_eq!(
        parsed.envelope.recipients,
        ["Docs@SP.example", "other@sp.example"]
    );
}

#[test]
fn missing_sender_comes_from_the_from_header() {
    let bytes = drop_file("x-receiver: docs@sp.example\r\n");
    let parsed = parse_drop_file(&bytes).unwrap();
    assert_eq!(parsed.envelope.sender, "alice@contoso.com");
    assert_eq!(parsed.source, EnvelopeSource::DropLines);

    let bytes = b"x-receiver: docs@sp.example\r\nSubject: no from\r\n\r\nbody\r\n";
    assert_eq!(parse_drop_file(bytes).unwrap().envelope.sender, "");
}

#[test]
fn first_of_several_senders_wins() {
    let bytes = drop_file(
        "x-sender: a@contoso.com\r\nx-sender: b@contoso.com\r\nx-receiver: docs@sp.example\r\n",
    );
    assert_eq!(
        parse_drop_file(&bytes).unwrap().envelope.sender,
        "a@contoso.com"
    );
}

#[test]
fn utf8_bom_before_envelope_lines() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(drop_file(
        "x-sender: a@contoso.com\r\nx-receiver: docs@sp.example\r\n",
    ));
    let parsed = parse_drop_file(&bytes).unwrap();
    assert_eq!(parsed.source, EnvelopeSource::DropLines);
    assert_eq!(parsed.message, MESSAGE.as_bytes());
}

#[test]
fn header_fallback_uses_to_cc_bcc_and_from() {
    let text = "From: \"Carol\" <carol@contoso.com>\r\nTo: Docs <docs@sp.example>, x@contoso.com\r\n\
                Cc: y@contoso.com, DOCS@sp.example\r\nBcc: hidden@sp.example\r\nSubject: s\r\n\r\nbody\r\n";
    let parsed = parse_drop_file(text.as_bytes()).unwrap();
    assert_eq!(parsed.source, EnvelopeSource::Headers);
    assert_eq!(parsed.envelope.sender, "carol@contoso.com");
    assert_eq!(
        parsed.envelope.recipients,
        [
            "docs@sp.example",
            "x@contoso.com",
            "y@contoso.com",
            "hidden@sp.example"
        ]
    );
    assert_eq!(parsed.message, text.as_bytes());
}

#[test]
fn envelope_lines_must_be_at_the_top() {
    let text = "From: carol@contoso.com\r\nX-Receiver: docs@sp.example\r\nTo: a@contoso.com\r\n\r\nbody\r\n";
    let parsed = parse_drop_file(text.as_bytes()).unwrap();
    assert_eq!(parsed.source, EnvelopeSource::Headers);
    assert_eq!(parsed.envelope.recipients, ["a@contoso.com"]);
}

#[test]
fn empty_file() {
    assert_eq!(parse_drop_file(b""), Err(MailError::Empty { len: 0 }));
    assert_eq!(
        parse_drop_file(b"\r\n \n"),
        Err(MailError::Empty { len: 4 })
    );
}

#[test]
fn no_envelope_and_no_recipients() {
    let err = parse_drop_file(b"From: a@contoso.com\r\nSubject: s\r\n\r\nbody\r\n").unwrap_err();
    assert_eq!(err, MailError::NoEnvelope);
    assert_eq!(
        err.to_string(),
        "no envelope: no x-receiver lines and no to/cc/bcc headers"
    );
    let err = parse_drop_file(b"To: undisclosed-recipients:;\r\n\r\nbody\r\n").unwrap_err();
    assert_eq!(err, MailError::NoEnvelope);
}

#[test]
fn invalid_receiver_names_the_value() {
    let bytes = drop_file("x-sender: a@contoso.com\r\nx-receiver: not an address\r\n");
    let err = parse_drop_file(&bytes).unwrap_err();
    assert_eq!(
        err,
        MailError::InvalidAddress {
            field: "x-receiver",
            value: "not an address".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid x-receiver value \"not an address\": not an email address"
    );

    let bytes = drop_file("x-sender: a@contoso.com\r\nx-receiver: <>\r\n");
    assert!(matches!(
        parse_drop_file(&bytes),
        Err(MailError::InvalidAddress {
            field: "x-receiver",
            ..
        })
    ));
}

#[test]
fn invalid_sender_names_the_value() {
    let bytes = drop_file("x-sender: bogus\r\nx-receiver: docs@sp.example\r\n");
    let err = parse_drop_file(&bytes).unwrap_err();
    assert_eq!(
        err,
        MailError::InvalidAddress {
            field: "x-sender",
            value: "bogus".into()
        }
    );
    assert!(err.to_string().contains("\"bogus\""));
}

#[test]
fn envelope_without_message() {
    let bytes = b"x-sender: a@contoso.com\r\nx-receiver: docs@sp.example\r\n";
    let err = parse_drop_file(bytes).unwrap_err();
    assert_eq!(
        err,
        MailError::NoMessage {
            offset: bytes.len(),
            len: bytes.len()
        }
    );
    assert!(err
        .to_string()
        .starts_with("no message after the envelope lines"));

    let bytes = b"X-Sender: <a@contoso.com>\r\nX-Receiver: <d@sp.example>\r\nX-EndOfInjectedXHeaders: 1\r\n\r\n";
    assert!(matches!(
        parse_drop_file(bytes),
        Err(MailError::NoMessage { .. })
    ));
}

#[test]
fn sender_without_receiver() {
    let bytes = drop_file("x-sender: a@contoso.com\r\n");
    let err = parse_drop_file(&bytes).unwrap_err();
    assert_eq!(
        err,
        MailError::NoReceiver {
            sender: "a@contoso.com".into()
        }
    );
}

#[test]
fn huge_invalid_value_is_shortened_in_the_error() {
    let bytes = drop_file(&format!("x-receiver: {}\r\n", "x".repeat(1_000_000)));
    let err = parse_drop_file(&bytes).unwrap_err();
    assert!(err.to_string().len() < 400);
}

#[test]
fn never_panics_on_garbage() {
    let mut inputs: Vec<Vec<u8>> = vec![
        b"\0\0\0\0".to_vec(),
        b"\xff\xfe\xfd\x80\x81".to_vec(),
        b"x-receiver: \xff\xfe@\x80.example\r\n\r\nbody".to_vec(),
        b"x-receiver: a@b.example\r\n\xff\xfe\0\0".to_vec(),
        b"x-receiver: a@b.example".to_vec(),
        b"x-receiver:".to_vec(),
        b"x-receiver".to_vec(),
        b"x-sender: <".to_vec(),
        b"x-sender: <a@b.example\r".to_vec(),
        b"x-receiver: a@b.example\r\n\t".to_vec(),
        b"x-receiver: a@b.example\r\nX-EndOfInjectedXHeaders".to_vec(),
        b"\r".to_vec(),
        b":".to_vec(),
        b"\t\t\tx".to_vec(),
        b"To: <".to_vec(),
        b"To: \"unterminated <a@b.example>\r\n\r\n".to_vec(),
        b"\xEF\xBB\xBF".to_vec(),
        b"\xEF\xBB".to_vec(),
        vec![b'a'; 2_000_000],
        [
            b"x-receiver: a@b.example\r\n".as_slice(),
            &vec![b' '; 100_000],
        ]
        .concat(),
        [
            b"To: a@b.example\r\nSubject: ".as_slice(),
            &vec![0xC3; 100_001],
        ]
        .concat(),
    ];
    // Every prefix of a real drop file (truncated lines).
    let real = drop_file("X-Sender: <a@contoso.com>\r\nX-Receiver: <d@sp.example> N=1\r\n\tx\r\nX-EndOfInjectedXHeaders: 1\r\n");
    for end in 0..=real.len() {
        inputs.push(real[..end].to_vec());
    }
    // Pseudo-random bytes from a fixed seed.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 7, 64, 513, 4096] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        inputs.push(bytes.clone());
        inputs.push([b"x-receiver: a@b.example\n".as_slice(), &bytes].concat());
    }
    for input in &inputs {
        let _ = parse_drop_file(input);
        let _ = postroom_mail::parse_message(input);
    }
}
