//! What mail clients really send as attachment names and wrappers, checked
//! on hand-written messages: RFC 2231 names (with charsets and
//! continuations), encoded-word names in several charsets, signed mail
//! (S/MIME and PGP: the signed content's files are filed, the signature is
//! kept as a file), inline `cid:` images and attached messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use postroom_mail::parse_message;

fn names(raw: &str) -> Vec<String> {
    parse_message(raw.as_bytes())
        .unwrap()
        .attachments
        .into_iter()
        .map(|a| a.file_name)
        .collect()
}

fn with_parts(parts: &[&str]) -> String {
    let mut m = String::from(
        "From: a@contoso.example\r\nSubject: names\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n",
    );
    for p in parts {
        m.push_str("--b\r\n");
        m.push_str(p);
        m.push_str("\r\n");
    }
    m.push_str("--b--\r\n");
    m
}

#[test]
fn rfc2231_names_with_charsets_and_continuations() {
    let raw = with_parts(&[
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf\r\n\r\n%PDF",
        "Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n filename*0*=ISO-8859-1''Gr%FC%DFe%20;\r\n filename*1*=aus%20;\r\n filename*2*=M%FCnchen.pdf\r\n\r\n%PDF",
    ]);
    assert_eq!(names(&raw), ["€ rates.pdf", "Grüße aus München.pdf"]);
}

#[test]
fn encoded_word_names_in_several_charsets() {
    let raw = with_parts(&[
        "Content-Type: text/plain; name=\"=?ISO-8859-1?Q?M=FCller.txt?=\"\r\nContent-Disposition: attachment\r\n\r\nx",
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?UTF-8?B?0J7RgtGH0LXRgi5kb2N4?=\"\r\n\r\nx",
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?windows-1251?B?zvL35fIuZG9jeA==?=\"\r\n\r\nx",
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhCLnR4dA==?=\"\r\n\r\nx",
    ]);
    assert_eq!(
        names(&raw),
        ["Müller.txt", "Отчет.docx", "Отчет.docx", "日本語.txt"]
    );
}

#[test]
fn signed_mail_files_the_content_and_keeps_the_signature() {
    let smime = "From: a@contoso.example\r\nSubject: signed\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=s\r\n\r\n\
        --s\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n\
        --m\r\nContent-Type: text/plain\r\n\r\nsigned body\r\n\
        --m\r\nContent-Type: application/pdf; name=report.pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--m--\r\n\
        --s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\
        Content-Disposition: attachment; filename=smime.p7s\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--s--\r\n";
    let parsed = parse_message(smime.as_bytes()).unwrap();
    let files: Vec<(&str, Vec<u8>)> = parsed
        .attachments
        .iter()
        .map(|a| (a.file_name.as_str(), a.content.to_bytes().into_owned()))
        .collect();
    assert_eq!(files[0], ("report.pdf", b"%PDF-1.4".to_vec()));
    assert_eq!(files[1].0, "smime.p7s");
    assert_eq!(files.len(), 2);
    let pgp = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/python-email/msg_45.txt"
    ))
    .unwrap();
    let parsed = parse_message(&pgp).unwrap();
    let names: Vec<&str> = parsed
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect();
    assert_eq!(names, ["signature.asc"]);
    assert!(parsed.attachments[0]
        .content
        .to_bytes()
        .starts_with(b"-----BEGIN PGP SIGNATURE-----"));
}

#[test]
fn inline_cid_images_and_attached_messages_are_files() {
    let raw = "From: a@contoso.example\r\nSubject: newsletter\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/related; boundary=r\r\n\r\n\
        --r\r\nContent-Type: text/html\r\n\r\n<p>logo: <img src=\"cid:logo@x\"></p>\r\n\
        --r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline; filename=logo.png\r\n\
        Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
        --r\r\nContent-Type: image/gif\r\nContent-ID: <spacer@x>\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n\
        --r\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@x\r\nSubject: the original\r\n\r\nforwarded\r\n--r--\r\n";
    let parsed = parse_message(raw.as_bytes()).unwrap();
    let names: Vec<&str> = parsed
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect();
    assert_eq!(names, ["logo.png", "attachment-2.gif", "the original.eml"]);
    assert!(parsed.attachments[0]
        .content
        .to_bytes()
        .starts_with(b"\x89PNG"));
    assert!(parsed.attachments[2]
        .content
        .to_bytes()
        .starts_with(b"From: b@x"));
}
