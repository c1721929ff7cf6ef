//! S/MIME opaque-signed mail made by the `openssl` CLI at test time
//! (`openssl smime` and `openssl cms`, with and without `-stream`, which
//! writes indefinite lengths and a segmented content): the signed entity's
//! files are filed with their names and bytes and `smime.p7m` is kept as
//! the signature, whether the whole message is signed or a `.p7m` is
//! attached; encrypted mail and detached signatures are kept as they are;
//! damaged signed data is a problem naming the attachment, and never a
//! panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/base64.rs"]
mod b64;
use b64::base64;
use std::fs;
use std::path::Path;
use std::process::Command;

use postroom_mail::{
    opaque_signed_content, parse_message, MailError, ParsedMessage, SignedContent,
};
use tempfile::TempDir;

const PDF_NAME: &str = "Q3 report.pdf";
const BODY: &str = "Please find the report attached.";

/// A PDF-like file, long enough to be cut into several segments by
/// `-stream` (openssl writes 1 KiB segments).
fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    pdf.extend((0..6000u32).map(|i| (i * 7 % 256) as u8));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

/// The MIME entity that is signed: a text body and the PDF (plus `extra`
/// parts, each given with its headers).
fn inner_entity(extra: &[String]) -> Vec<u8> {
    let mut e = format!(
        "Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n\
         --inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n\
         --inner\r\nContent-Type: application/pdf; name=\"{PDF_NAME}\"\r\n\
         Content-Disposition: attachment; filename=\"{PDF_NAME}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        base64(&pdf())
    );
    for part in extra {
        e.push_str("--inner\r\n");
        e.push_str(part);
        e.push_str("\r\n");
    }
    e.push_str("--inner--\r\n");
    e.into_bytes()
}

/// A temporary folder with a key and a self-signed certificate, and
/// `openssl` run in it.
struct Openssl {
    dir: TempDir,
}

impl Openssl {
    fn new() -> Self {
        if Command::new("openssl").arg("version").output().is_err() {
            panic!(
                "the openssl CLI is not installed: the S/MIME tests make their fixtures with it \
                 (apt-get install openssl)"
            );
        }
        let openssl = Openssl {
            dir: tempfile::tempdir().unwrap(),
        };
        openssl.run(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-keyout",
            "k.pem", "-out", "c.pem", "-days", "1",
        ]);
        openssl
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Runs `openssl args` in the folder; its standard output.
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Signs `entity` with `tool` (`smime` or `cms`), the content inside
    /// the signature (`-nodetach`), written as `outform`, with `more`
    /// options.
    fn sign(&self, tool: &str, entity: &[u8], outform: &str, more: &[&str]) -> Vec<u8> {
        fs::write(self.path("inner.eml"), entity).unwrap();
        let mut args = vec![
            tool,
            "-sign",
            "-nodetach",
            "-in",
            "inner.eml",
            "-signer",
            "c.pem",
            "-inkey",
            "k.pem",
            "-outform",
            outform,
        ];
        args.extend_from_slice(more);
        self.run(&args)
    }
}

/// The four ways openssl signs: `smime` and `cms`, definite lengths and
/// `-stream` (indefinite).
const SIGNERS: [(&str, &[&str]); 4] = [
    ("smime", &[]),
    ("smime", &["-stream"]),
    ("cms", &[]),
    ("cms", &["-stream"]),
];

fn files<'p>(parsed: &'p ParsedMessage<'_>) -> Vec<(&'p str, Vec<u8>)> {
    parsed
        .attachments
        .iter()
        .map(|a| (a.file_name.as_str(), a.content.to_bytes().into_owned()))
        .collect()
}

/// A message built in the statement that parses it (no bytes left in it).
fn parse_owned(raw: &[u8]) -> Result<ParsedMessage<'static>, MailError> {
    parse_message(raw).map(ParsedMessage::into_owned)
}

fn names<'p>(parsed: &'p ParsedMessage<'_>) -> Vec<&'p str> {
    parsed
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect()
}

/// A message with a text body and `blob` attached under `headers`
/// (Content-Type and more), base64-encoded.
fn with_blob(headers: &str, blob: &[u8]) -> Vec<u8> {
    format!(
        "From: a@contoso.example\r\nTo: docs@contoso.example\r\nSubject: forwarded\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n\
         --outer\r\nContent-Type: text/plain\r\n\r\nSee the signed mail.\r\n\
         --outer\r\n{headers}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--outer--\r\n",
        base64(blob)
    )
    .into_bytes()
}

#[test]
fn the_decoder_returns_the_signed_entity_as_signed() {
    let openssl = Openssl::new();
    let entity = inner_entity(&[]);
    for (tool, more) in SIGNERS {
        let mut options = vec!["-binary"];
        options.extend_from_slice(more);
        let der = openssl.sign(tool, &entity, "DER", &options);
        assert_eq!(
            opaque_signed_content(&der),
            Ok(SignedContent::Content(entity.clone())),
            "{tool} {more:?}"
        );
    }
}

#[test]
fn an_opaque_signed_message_files_the_signed_attachments() {
    let openssl = Openssl::new();
    let entity = inner_entity(&[]);
    for (tool, more) in SIGNERS {
        let mut options = vec![
            "-from",
            "a@contoso.example",
            "-to",
            "docs@contoso.example",
            "-subject",
            "Q3",
        ];
        options.extend_from_slice(more);
        let message = openssl.sign(tool, &entity, "SMIME", &options);
        let parsed = parse_message(&message).unwrap();
        let what = format!("{tool} {more:?}");
        assert_eq!(parsed.problems, Vec::<String>::new(), "{what}");
        assert_eq!(names(&parsed), ["smime.p7m", PDF_NAME], "{what}");
        assert_eq!(
            parsed.attachments[1].content.to_bytes().as_ref(),
            pdf(),
            "{what}"
        );
        assert_eq!(parsed.attachments[1].content_type, "application/pdf");
        // The signature is the blob as sent.
        assert!(
            matches!(
                opaque_signed_content(&parsed.attachments[0].content.to_bytes()),
                Ok(SignedContent::Content(_))
            ),
            "{what}"
        );
        // The bodies are inside the signature too.
        assert_eq!(parsed.body_text.as_deref(), Some(BODY), "{what}");
        assert_eq!(parsed.headers.subject.as_deref(), Some("Q3"));
    }
}

#[test]
fn an_attached_p7m_files_its_content_and_stays() {
    let openssl = Openssl::new();
    let tnef = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/tnef/one-file.tnef"),
    )
    .unwrap();
    let nested = openssl.sign(
        "smime",
        b"Content-Type: text/plain\r\n\r\nnested\r\n",
        "DER",
        &[],
    );
    let entity = inner_entity(&[
        format!(
            "Content-Type: application/ms-tnef\r\nContent-Disposition: attachment; \
             filename=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            base64(&tnef)
        ),
        format!(
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=nested.p7m\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}",
            base64(&nested)
        ),
    ]);
    for (tool, more) in SIGNERS {
        let mut options = vec!["-binary"];
        options.extend_from_slice(more);
        let der = openssl.sign(tool, &entity, "DER", &options);
        let what = format!("{tool} {more:?}");
        for headers in [
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"forwarded.p7m\"",
            "Content-Type: application/x-pkcs7-mime; name=\"forwarded.p7m\"",
            "Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"forwarded.p7m\"",
        ] {
            let parsed = parse_owned(&with_blob(headers, &der)).unwrap();
            assert_eq!(parsed.problems, Vec::<String>::new(), "{what} {headers}");
            // The TNEF inside is unpacked; signed data inside the signed
            // entity is kept as it is (one level is opened).
            assert_eq!(
                names(&parsed),
                ["forwarded.p7m", PDF_NAME, "AUTHORS", "nested.p7m"],
                "{what} {headers}"
            );
            let found = files(&parsed);
            assert_eq!(found[0].1, der);
            assert_eq!(found[1].1, pdf());
            assert!(String::from_utf8_lossy(&found[2].1).contains("Authors of tnef"));
            assert_eq!(found[3].1, nested);
            // The message's own body stays its body.
            assert_eq!(parsed.body_text.as_deref(), Some("See the signed mail."));
        }
    }
}

#[test]
fn signed_text_without_files_keeps_only_the_p7m() {
    let openssl = Openssl::new();
    let entity = b"Content-Type: text/plain; charset=utf-8\r\n\r\nJust a signed note.\r\n";
    let message = openssl.sign("smime", entity, "SMIME", &["-stream"]);
    let parsed = parse_message(&message).unwrap();
    assert_eq!(names(&parsed), ["smime.p7m"]);
    assert_eq!(parsed.problems, Vec::<String>::new());
    assert_eq!(
        parsed.body_text.as_deref().map(str::trim),
        Some("Just a signed note.")
    );
    // A signed PDF (an Italian `.pdf.p7m`): not a MIME entity, kept as it is.
    let der = openssl.sign("cms", &pdf(), "DER", &["-binary"]);
    let parsed = parse_owned(&with_blob(
        "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"invoice.pdf.p7m\"",
        &der,
    ))
    .unwrap();
    assert_eq!(names(&parsed), ["invoice.pdf.p7m"]);
    assert_eq!(parsed.problems, Vec::<String>::new());
}

#[test]
fn encrypted_mail_and_detached_signatures_are_kept_as_they_are() {
    let openssl = Openssl::new();
    let entity = inner_entity(&[]);
    fs::write(openssl.path("inner.eml"), &entity).unwrap();
    let encrypted = openssl.run(&[
        "smime",
        "-encrypt",
        "-aes256",
        "-in",
        "inner.eml",
        "-outform",
        "SMIME",
        "c.pem",
    ]);
    let parsed = parse_message(&encrypted).unwrap();
    assert_eq!(names(&parsed), ["smime.p7m"]);
    assert_eq!(parsed.problems, Vec::<String>::new());
    // A detached signature saved as a .p7m (no content inside).
    let detached = openssl.run(&[
        "smime",
        "-sign",
        "-in",
        "inner.eml",
        "-signer",
        "c.pem",
        "-inkey",
        "k.pem",
        "-outform",
        "DER",
    ]);
    let parsed = parse_owned(&with_blob(
        "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"sig.p7m\"",
        &detached,
    ))
    .unwrap();
    assert_eq!(names(&parsed), ["sig.p7m"]);
    assert_eq!(parsed.problems, Vec::<String>::new());
}

#[test]
fn damaged_signed_data_is_a_problem_naming_the_attachment() {
    let openssl = Openssl::new();
    let entity = inner_entity(&[]);
    let der = openssl.sign("smime", &entity, "DER", &["-binary"]);
    let streamed = openssl.sign("cms", &entity, "DER", &["-binary", "-stream"]);
    let mut flipped = der.clone();
    flipped[0] ^= 0x20; // the ContentInfo SEQUENCE made primitive
    let cases = [
        (
            "half",
            der[..der.len() / 2].to_vec(),
            "pkcs7 data ends inside an element",
        ),
        (
            "streamed, end cut",
            streamed[..streamed.len() - 3].to_vec(),
            "pkcs7 data ends inside an element",
        ),
        ("flipped", flipped, "pkcs7 data malformed at byte 0"),
    ];
    for (what, blob, error) in cases {
        // Attached, its type saying signed data.
        let parsed = parse_owned(&with_blob(
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"signed.p7m\"",
            &blob,
        ))
        .unwrap();
        assert_eq!(parsed.problems.len(), 1, "{what}: {:?}", parsed.problems);
        let problem = &parsed.problems[0];
        assert!(
            problem.starts_with("attachment \"signed.p7m\": "),
            "{what}: {problem}"
        );
        assert!(problem.contains(error), "{what}: {problem}");
        // Kept as it is.
        assert_eq!(files(&parsed), [("signed.p7m", blob.clone())], "{what}");
    }
    // The whole message signed, cut short.
    let message = openssl.sign("smime", &entity, "SMIME", &[]);
    let text = String::from_utf8(message).unwrap();
    let (head, body) = text.split_once("\n\n").unwrap();
    let cut = format!("{head}\n\n{}\n", &body[..body.len() / 2]);
    let parsed = parse_message(cut.as_bytes()).unwrap();
    assert_eq!(names(&parsed), ["smime.p7m"]);
    assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
    assert!(
        parsed.problems[0].starts_with("attachment \"smime.p7m\": pkcs7 data ends inside"),
        "{:?}",
        parsed.problems
    );
    // A cut .p7m whose type does not say signed data, but its content does.
    let parsed = parse_owned(&with_blob(
        "Content-Type: application/octet-stream; name=\"mail.p7m\"",
        &der[..der.len() - 100],
    ))
    .unwrap();
    assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
    // A .p7m that is not PKCS#7 at all and not said to be signed: a file.
    let parsed = parse_owned(&with_blob(
        "Content-Type: application/octet-stream; name=\"notes.p7m\"",
        b"just some bytes",
    ))
    .unwrap();
    assert_eq!(names(&parsed), ["notes.p7m"]);
    assert_eq!(parsed.problems, Vec::<String>::new());
}

#[test]
fn damaged_signed_mail_never_panics() {
    let openssl = Openssl::new();
    let der = openssl.sign("cms", &inner_entity(&[]), "DER", &["-binary", "-stream"]);
    let mut state: u64 = 0x0dd_ba11_5eed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let mut blob = der.clone();
        for _ in 0..1 + next() % 8 {
            let at = (next() % blob.len() as u64) as usize;
            blob[at] = next() as u8;
        }
        if round % 3 == 0 {
            blob.truncate((next() % blob.len() as u64) as usize);
        }
        let _ = parse_owned(&with_blob(
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=x.p7m",
            &blob,
        ));
    }
}
