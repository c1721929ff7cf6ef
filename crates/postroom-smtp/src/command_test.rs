//! Tests of command-line parsing and the MAIL/RCPT argument parsers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn err(result: Result<impl std::fmt::Debug, Reply>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn verbs_are_case_insensitive_and_cr_is_optional() {
    assert_eq!(
        parse_line(b"ehlo client.example\r").unwrap(),
        Command::Ehlo("client.example".into())
    );
    assert_eq!(
        parse_line(b"HeLo client").unwrap(),
        Command::Helo("client".into())
    );
    assert_eq!(parse_line(b"data").unwrap(), Command::Data);
    assert_eq!(parse_line(b"DATA  ").unwrap(), Command::Data);
    assert_eq!(parse_line(b"noop anything").unwrap(), Command::Noop);
    assert_eq!(parse_line(b"StartTLS").unwrap(), Command::StartTls);
    assert_eq!(
        parse_line(b"mail FROM:<a@b>").unwrap(),
        Command::Mail("FROM:<a@b>".into())
    );
    assert_eq!(parse_line(b"EXPN list").unwrap(), Command::Expn);
    assert_eq!(parse_line(b"VRFY x").unwrap(), Command::Vrfy);
    assert_eq!(parse_line(b"HELP").unwrap(), Command::Help);
}

#[test]
fn bad_lines_are_syntax_errors_naming_the_problem() {
    assert_eq!(
        err(parse_line(b"NO\0OP")),
        "500 5.5.2 syntax error: NUL byte at offset 2 in command line"
    );
    assert_eq!(
        err(parse_line(b"NOOP\rx\r")),
        "500 5.5.2 syntax error: bare CR at offset 4 in command line"
    );
    assert_eq!(
        err(parse_line(b"NOOP \xff")),
        "500 5.5.2 syntax error: invalid UTF-8 at offset 5 in command line"
    );
    assert_eq!(
        err(parse_line(b"FROB")),
        "500 5.5.1 command unrecognized: \"FROB\""
    );
    assert_eq!(err(parse_line(b"")), "500 5.5.1 command unrecognized: \"\"");
    assert_eq!(
        err(parse_line(b"DATA x")),
        "501 5.5.4 syntax error: DATA takes no arguments"
    );
    assert_eq!(
        err(parse_line(b"STARTTLS now")),
        "501 5.5.4 syntax error: STARTTLS takes no arguments"
    );
    assert_eq!(err(parse_line(b"EHLO")), "501 5.5.4 syntax: EHLO <domain>");
    assert!(
        err(parse_line(b"HELO a\x01b")).starts_with("501 5.5.4 syntax error: control character")
    );
}

#[test]
fn bdat_sizes() {
    assert_eq!(
        parse_line(b"BDAT 10").unwrap(),
        Command::Bdat {
            size: 10,
            last: false
        }
    );
    assert_eq!(
        parse_line(b"bdat 0 last").unwrap(),
        Command::Bdat {
            size: 0,
            last: true
        }
    );
    for bad in [
        "BDAT",
        "BDAT x",
        "BDAT -1",
        "BDAT +5",
        "BDAT 99999999999999999999999",
        "BDAT 5 LAST x",
        "BDAT 5 FIRST",
    ] {
        let reply = parse_line(bad.as_bytes()).unwrap_err();
        assert_eq!(
            (reply.code(), reply.status()),
            (501, Some("5.5.4")),
            "{bad}"
        );
    }
}

#[test]
fn mail_paths_and_parameters() {
    let m = parse_mail("FROM:<a@b.example>").unwrap();
    assert_eq!(
        (m.sender.as_str(), m.size, m.body, m.smtputf8),
        ("a@b.example", None, Body::SevenBit, false)
    );
    assert_eq!(parse_mail("from: <a@b>").unwrap().sender, "a@b");
    assert_eq!(parse_mail("FROM:<>").unwrap().sender, "");
    assert_eq!(
        parse_mail("FROM:<@r1.example,@r2.example:u@d.example>")
            .unwrap()
            .sender,
        "u@d.example"
    );
    assert_eq!(
        parse_mail("FROM:<\"john >doe\"@d>").unwrap().sender,
        "\"john >doe\"@d"
    );
    assert_eq!(
        parse_mail("FROM:<a@[192.0.2.1]>").unwrap().sender,
        "a@[192.0.2.1]"
    );
    assert_eq!(
        parse_mail("FROM:<a@[IPv6:2001:db8::1]>").unwrap().sender,
        "a@[IPv6:2001:db8::1]"
    );
    let m = parse_mail("FROM:<a@b> size=500 BODY=8bitmime SMTPUTF8").unwrap();
    assert_eq!(
        (m.size, m.body, m.smtputf8),
        (Some(500), Body::EightBitMime, true)
    );
    assert_eq!(
        parse_mail("FROM:<a@b> BODY=BINARYMIME").unwrap().body,
        Body::BinaryMime
    );
    assert_eq!(
        parse_mail("FROM:<a@b> SIZE=99999999999999999999999")
            .unwrap()
            .size,
        Some(u64::MAX)
    );
    assert_eq!(
        parse_mail("FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8")
            .unwrap()
            .sender,
        "δοκιμή@παράδειγμα.δοκιμή"
    );
}

#[test]
fn mail_errors() {
    assert_eq!(
        err(parse_mail("TO:<a@b>")),
        "501 5.5.4 syntax: MAIL FROM:<address> [parameters]"
    );
    assert_eq!(
        err(parse_mail("FROM:<a@b> NOTIFY=NEVER")),
        "555 5.5.4 unsupported parameter NOTIFY"
    );
    assert_eq!(
        err(parse_mail("FROM:<a@b> SIZE=x")),
        "501 5.5.4 syntax error: bad value in parameter \"SIZE=x\""
    );
    assert_eq!(
        err(parse_mail("FROM:<a@b> BODY=9BIT")),
        "501 5.5.4 syntax error: bad value in parameter \"BODY=9BIT\""
    );
    assert_eq!(
        err(parse_mail("FROM:<a@b> SMTPUTF8=yes")),
        "501 5.5.4 syntax error: bad value in parameter \"SMTPUTF8=yes\""
    );
    assert_eq!(
        err(parse_mail("FROM:<a@b> SIZE=1 size=2")),
        "501 5.5.4 duplicate parameter SIZE"
    );
    assert_eq!(
        err(parse_mail("FROM:<é@b>")),
        "553 5.6.7 non-ASCII sender address <?@b> requires SMTPUTF8"
    );
    for bad in [
        "FROM:a@b",
        "FROM:<a@b",
        "FROM:<a@b>x",
        "FROM:<a>",
        "FROM:<@b>",
        "FROM:<a@>",
        "FROM:<a..b@c>",
        "FROM:<.a@c>",
        "FROM:<a b@c>",
        "FROM:<a@b..c>",
        "FROM:<a@-b.c>",
        "FROM:<a@[300.1.1.1]>",
        "FROM:<a@[x]>",
        "FROM:<@r1:>",
        "FROM:<@r1,r2:a@b>",
        "FROM:<\"unterminated@b>",
        "FROM:<a@b\u{1}>",
    ] {
        let reply = parse_mail(bad).unwrap_err();
        assert_eq!(
            (reply.code(), reply.status()),
            (501, Some("5.1.7")),
            "{bad}: {reply}"
        );
    }
    let long_local = format!("FROM:<{}@b>", "x".repeat(65));
    assert_eq!(parse_mail(&long_local).unwrap_err().status(), Some("5.1.7"));
    let long_path = format!("FROM:<a@{}.example>", vec!["x".repeat(60); 5].join("."));
    assert_eq!(parse_mail(&long_path).unwrap_err().status(), Some("5.1.7"));
}

#[test]
fn rcpt_paths() {
    assert_eq!(parse_rcpt("TO:<docs@farm.test>").unwrap(), "docs@farm.test");
    assert_eq!(
        parse_rcpt("to: <docs@farm.test>").unwrap(),
        "docs@farm.test"
    );
    assert_eq!(parse_rcpt("TO:<Postmaster>").unwrap(), "Postmaster");
    assert_eq!(
        parse_rcpt("TO:<@hop.example:docs@farm.test>").unwrap(),
        "docs@farm.test"
    );
    assert_eq!(
        err(parse_rcpt("TO:<docs@farm.test> NOTIFY=NEVER")),
        "555 5.5.4 unsupported parameter NOTIFY"
    );
    assert_eq!(
        err(parse_rcpt("FROM:<a@b>")),
        "501 5.5.4 syntax: RCPT TO:<address>"
    );
    assert_eq!(
        err(parse_rcpt("TO:<>")),
        "501 5.1.3 malformed recipient address: null recipient <>"
    );
    assert_eq!(
        parse_rcpt("TO:<nobody>").unwrap_err().status(),
        Some("5.1.3")
    );
    assert_eq!(
        parse_rcpt("TO:docs@farm.test").unwrap_err().status(),
        Some("5.1.3")
    );
}
