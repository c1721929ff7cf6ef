//! Tests against the shared corpus (read in place, never copied): every drop
//! file's envelope matches EXPECTED.tsv, attachments of the drop files, and
//! the python-email messages parse without panicking.

use std::fs;

use postroom_mail::{parse_drop_file, parse_message, EnvelopeSource};
use support::*;

/// Corpus access (test-only helpers).
#[cfg(test)]
mod support {
    use std::fs;
    use std::path::{Path, PathBuf};

    use postroom_mail::{parse_drop_file, parse_message, ParsedMessage};

    pub const DROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/drop");
    pub const PYTHON_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/python-email"
    );

    pub fn read(dir: &str, name: &str) -> Vec<u8> {
        let path = Path::new(dir).join(name);
        fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    pub struct Expected {
        pub file: String,
        pub sender: String,
        pub recipients: Vec<String>,
    }

    pub fn expected() -> Vec<Expected> {
        let tsv = String::from_utf8(read(DROP_DIR, "EXPECTED.tsv")).unwrap();
        tsv.lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                assert!(fields.len() >= 3, "bad EXPECTED.tsv line {line:?}");
                Expected {
                    file: fields[0].to_string(),
                    sender: fields[1].to_string(),
                    recipients: fields[2]
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                        .collect(),
                }
            })
            .collect()
    }

    pub fn files_with_prefix(dir: &str, prefix: &str, suffix: &str) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                name.starts_with(prefix) && name.ends_with(suffix)
            })
            .collect();
        paths.sort();
        paths
    }

    pub fn parsed_drop_message(name: &str) -> ParsedMessage<'static> {
        let bytes = read(DROP_DIR, name);
        let drop = parse_drop_file(&bytes).unwrap();
        parse_message(drop.message).unwrap().into_owned()
    }

    pub fn python(name: &str) -> ParsedMessage<'static> {
        parse_message(&read(PYTHON_DIR, name)).unwrap().into_owned()
    }
}

#[test]
fn every_drop_file_matches_expected_tsv() {
    let expected = expected();
    let on_disk = files_with_prefix(DROP_DIR, "", ".eml");
    assert_eq!(
        expected.len(),
        on_disk.len(),
        "EXPECTED.tsv must list every .eml file"
    );
    for case in &expected {
        let bytes = read(DROP_DIR, &case.file);
        let drop = parse_drop_file(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(drop.envelope.sender, case.sender, "{}: sender", case.file);
        assert_eq!(
            drop.envelope.recipients, case.recipients,
            "{}: recipients",
            case.file
        );
        let expected_source = if case.file == "no-envelope-lines.eml" {
            EnvelopeSource::Headers
        } else {
            EnvelopeSource::DropLines
        };
        assert_eq!(drop.source, expected_source, "{}: source", case.file);
        assert!(!drop.message.is_empty(), "{}: message", case.file);
    }
}

#[test]
fn exchange_message_starts_after_injected_block() {
    let bytes = read(DROP_DIR, "exchange-2016-foreign-connector.eml");
    let drop = parse_drop_file(&bytes).unwrap();
    assert!(drop.message.starts_with(b"Received: "));
    let parsed = parse_message(drop.message).unwrap();
    assert_eq!(parsed.headers.subject.as_deref(), Some("Contract draft"));
    assert_eq!(parsed.attachments.len(), 1);
    assert_eq!(parsed.attachments[0].file_name, "Contract draft v2.pdf");
}

#[test]
fn drop_messages_start_with_the_first_real_header() {
    for name in [
        "iis-smtp.eml",
        "dotnet-pickup-bcc.eml",
        "lf-line-endings.eml",
    ] {
        let bytes = read(DROP_DIR, name);
        let drop = parse_drop_file(&bytes).unwrap();
        assert!(drop.message.starts_with(b"Received: "), "{name}");
        assert!(bytes.ends_with(drop.message), "{name}: message is a suffix");
    }
}

#[test]
fn no_envelope_file_uses_headers_and_whole_file() {
    let bytes = read(DROP_DIR, "no-envelope-lines.eml");
    let drop = parse_drop_file(&bytes).unwrap();
    assert_eq!(drop.source, EnvelopeSource::Headers);
    assert_eq!(drop.message, bytes.as_slice());
}

#[test]
fn iis_smtp_metadata_and_attachment() {
    let parsed = parsed_drop_message("iis-smtp.eml");
    assert_eq!(
        parsed.headers.message_id.as_deref(),
        Some("583618233556@contoso.com")
    );
    assert_eq!(
        parsed.headers.from.as_deref(),
        Some("Alice Example <alice@contoso.com>")
    );
    assert_eq!(
        parsed.headers.from_address.as_deref(),
        Some("alice@contoso.com")
    );
    assert_eq!(
        parsed.headers.to,
        ["shared-documents@sharepoint.contoso.local"]
    );
    assert!(parsed.headers.cc.is_empty());
    assert_eq!(parsed.headers.subject.as_deref(), Some("Invoice 4711"));
    assert_eq!(
        parsed.headers.date.as_deref(),
        Some("2026-03-03T10:15:00+01:00")
    );
    assert_eq!(parsed.attachments.len(), 1);
    let attachment = &parsed.attachments[0];
    assert_eq!(attachment.file_name, "Quarterly report.pdf");
    assert_eq!(attachment.content_type, "application/pdf");
    assert!(attachment.content.to_bytes().starts_with(b"%PDF"));
}

#[test]
fn whole_drop_file_parses_like_its_message() {
    // Envelope lines are harmless extra headers to mail-parser.
    let bytes = read(DROP_DIR, "iis-smtp.eml");
    let whole = parse_message(&bytes).unwrap();
    assert_eq!(whole.attachments.len(), 1);
    assert_eq!(whole.attachments[0].file_name, "Quarterly report.pdf");
}

#[test]
fn traversal_attachment_is_named_evil() {
    let parsed = parsed_drop_message("path-traversal-filename.eml");
    assert_eq!(parsed.attachments.len(), 1);
    assert_eq!(parsed.attachments[0].file_name, "evil");
    assert!(parsed.attachments[0]
        .content
        .to_bytes()
        .starts_with(b"%PDF"));
}

#[test]
fn no_envelope_cc_and_display_name() {
    let parsed = parsed_drop_message("no-envelope-lines.eml");
    assert_eq!(
        parsed.headers.to,
        ["shared-documents@sharepoint.contoso.local"]
    );
    assert_eq!(parsed.headers.cc, ["someone@contoso.com"]);
    assert_eq!(parsed.headers.from.as_deref(), Some("carol@contoso.com"));
}

#[test]
fn every_python_email_message_parses_without_panicking() {
    let paths = files_with_prefix(PYTHON_DIR, "msg_", ".txt");
    assert!(paths.len() >= 40, "corpus has {} messages", paths.len());
    for path in paths {
        let bytes = fs::read(&path).unwrap();
        if let Ok(parsed) = parse_message(&bytes) {
            for attachment in &parsed.attachments {
                assert!(!attachment.file_name.is_empty(), "{}", path.display());
                assert!(attachment.content_type.contains('/'), "{}", path.display());
            }
        }
        let _ = parse_drop_file(&bytes);
    }
}

#[test]
fn python_email_spot_checks() {
    let m = python("msg_01.txt");
    assert_eq!(
        m.headers.message_id.as_deref(),
        Some("15090.61304.110929.45684@aaa.zzz.org")
    );
    assert_eq!(m.headers.from.as_deref(), Some("John X. Doe <bbb@ddd.com>"));
    assert_eq!(m.headers.from_address.as_deref(), Some("bbb@ddd.com"));
    assert_eq!(m.headers.date.as_deref(), Some("2001-05-04T14:05:44-04:00"));
    assert!(m.attachments.is_empty());

    let m = python("msg_07.txt");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].file_name, "dingusfish.gif");
    assert_eq!(m.attachments[0].content_type, "image/gif");
    assert!(m.attachments[0].content.to_bytes().starts_with(b"GIF87a"));

    let m = python("msg_20.txt");
    assert_eq!(m.headers.cc, ["eee@zzz.org"]);

    let m = python("msg_22.txt");
    let names: Vec<&str> = m.attachments.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(names, ["wibble.JPG", "wibble2.JPG"]);
    assert!(m.attachments[0]
        .content
        .to_bytes()
        .starts_with(&[0xFF, 0xD8]));

    // A nested message without a file name is named after its subject.
    let m = python("msg_11.txt");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].file_name, "An enclosed message.eml");
    assert_eq!(m.attachments[0].content_type, "message/rfc822");
    assert!(m.attachments[0]
        .content
        .to_bytes()
        .starts_with(b"Subject: An enclosed message"));

    // Content-Type without subtype.
    let m = python("msg_14.txt");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].content_type, "text/plain");
    assert_eq!(m.attachments[0].file_name, "attachment-1.txt");

    let m = python("msg_44.txt");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].file_name, "msg.txt");
    assert!(m.attachments[0]
        .content
        .to_bytes()
        .starts_with(b"a simple kind of mirror"));

    let m = python("msg_45.txt");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].file_name, "signature.asc");
    assert_eq!(m.attachments[0].content_type, "application/pgp-signature");

    // Duplicate names are kept as they are.
    let m = python("msg_28.txt");
    let names: Vec<&str> = m.attachments.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(names, ["ee.eml", "ee.eml"]);
}
