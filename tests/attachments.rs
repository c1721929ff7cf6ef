//! End-to-end: what Outlook really sends. A message with a TNEF
//! `winmail.dat` is filed as the files inside it (every sample of the TNEF
//! corpus, names from `EXPECTED.tsv`, bytes as in the stream); a TNEF with
//! no attachments inside stays as it is; a corrupt one quarantines the
//! message with the reason, and the node keeps going.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{base64, corpus, wait_until, Farm, DOMAIN};

/// A library that files each message's attachments in a folder named by its subject.
const MAIL: &str =
    "[[library]]\nname = \"Mail\"\nalias = \"mail\"\nattachment_folders = \"subject\"\n";

fn with_winmail(subject: &str, tnef: &[u8]) -> Vec<u8> {
    format!(
        "X-Sender: <outlook@contoso.example>\r\nX-Receiver: <mail@{DOMAIN}>\r\n\
         From: outlook@contoso.example\r\nSubject: {subject}\r\nMessage-ID: <{subject}@contoso.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n\
         Content-Disposition: attachment; filename=winmail.dat\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64(tnef)
    )
    .into_bytes()
}

#[test]
fn winmail_dat_is_filed_as_the_files_inside_it() {
    let farm = Farm::configured("", "", MAIL);
    let node = farm.start();
    let expected = std::fs::read_to_string(corpus("tnef").join("EXPECTED.tsv")).unwrap();
    let mut samples = Vec::new();
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.split('\t');
        let file = fields.next().unwrap().to_string();
        let names: Vec<String> = fields.filter(|n| !n.is_empty()).map(String::from).collect();
        let tnef = std::fs::read(corpus("tnef").join(&file)).unwrap();
        let subject = file.trim_end_matches(".tnef").to_string();
        farm.drop_file(&format!("{subject}.eml"), &with_winmail(&subject, &tnef));
        samples.push((subject, names, tnef));
    }
    wait_until(Duration::from_secs(30), "every sample filed", || {
        farm.record_count("mail") == samples.len()
    });
    let items = farm.items("mail");
    for (subject, names, tnef) in &samples {
        let item = items
            .iter()
            .find(|i| i["subject"] == subject.as_str())
            .unwrap();
        let files: Vec<String> = item["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        if names.is_empty() {
            // Nothing inside but the formatted body: the stream is kept, byte for byte.
            assert_eq!(files, [format!("{subject}/winmail.dat")], "{subject}");
            let kept = std::fs::read(farm.library_dir("mail").join(&files[0])).unwrap();
            assert_eq!(&kept, tnef, "{subject}");
        } else {
            let want: Vec<String> = names.iter().map(|n| format!("{subject}/{n}")).collect();
            assert_eq!(files, want, "{subject}");
        }
    }
    // The bytes are the file's: AUTHORS from one-file.tnef is the tnef project's.
    let authors = std::fs::read(farm.library_dir("mail").join("one-file/AUTHORS")).unwrap();
    assert!(String::from_utf8_lossy(&authors).contains("Authors of tnef"));
    assert!(farm.quarantine().is_empty(), "{:?}", farm.quarantine());
    drop(node);
}

#[test]
fn a_corrupt_winmail_dat_quarantines_the_message_with_the_reason() {
    let farm = Farm::configured("", "", MAIL);
    let node = farm.start();
    let good = std::fs::read(corpus("tnef").join("two-files.tnef")).unwrap();
    let mut flipped = good.clone();
    let at = good.len() - 300;
    flipped[at] ^= 0x55;
    farm.drop_file(
        "truncated.eml",
        &with_winmail("truncated", &good[..good.len() - 500]),
    );
    farm.drop_file("flipped.eml", &with_winmail("flipped", &flipped));
    farm.drop_file("fine.eml", &with_winmail("fine", &good));
    wait_until(
        Duration::from_secs(30),
        "two quarantined, one filed",
        || farm.quarantine().len() == 2 && farm.record_count("mail") == 1,
    );
    for entry in farm.quarantine() {
        assert_eq!(entry["code"], "corrupt_attachment", "{entry}");
        let reason = entry["reason"].as_str().unwrap();
        assert!(
            reason.contains("attachment \"winmail.dat\": tnef: "),
            "{reason}"
        );
    }
    let reasons: Vec<String> = farm
        .quarantine()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("ends inside an attribute")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("checksum")),
        "{reasons:?}"
    );
    assert_eq!(farm.items("mail")[0]["subject"], "fine");
    drop(node);
}

/// Made with sharutils: `uuencode uu.bin 'report 2024.bin'` (see
/// crates/postroom-mail/src/uuencode_test.rs); the bytes are
/// `(i * i + 7 * i) % 256` for i in 0..100.
const UUENCODED: &str = "begin 644 report 2024.bin\r\n\
M``@2'BP\\3F)XD*K&Y`0F2G\"8PNX<3'ZRZ\"!:EM045IK@*'*^#%RN`EBP\"F;$\r\n\
M)(;J4+@BCOQLWE+(0+HVM#2V.L!(TE[L?`ZB.-!J!J1$YHHPV((NW(P^\\JA@\r\n\
*&M:45!;:H&@R_@``\r\n`\r\nend\r\n";

/// Made with CPython 3.10's `binhex` module (see binhex_test.rs).
const BINHEX: &str = "(This file must be converted with BinHex 4.0)\r\n\r\n:#R0KEA\"XC5jLD@i!2j!)!*!&q`#3\"!Gq5'9XE'mX)%*TENKPH#%+!*!+N!#3!*!\r\n!!!%#!`3&\"JF)#3S,$!d1$j!!HT!'#c\"9HTr%k3ic@(fLaq`40PZ!TFV[&$PHJkM\r\n0mKFmBBDVd28D2f5*VY2i(8*RM,(@qb\"&DSqdfIiM5'f5Yp`\"*NY`PEVI\"#P1FjL\r\npiJFX8ADE`18+,e4jRX2S$6*AI+('ka!e@RqNbHi61&f#Tmca&MYJKDV2p\"NqBiL\r\nYd[FF3@D,X0Ak(d4TMV2Br5*(E*'ff`!P5Qq8ZGi$+%ebPlcK\"LY3GCUrj!NZ8hL\r\nG`ZF--9ClS-AU$c4CIU2)l4)hA)'Qbr!91Pq%UFjCT!!!:\r\n";

fn old_school(subject: &str, binhex: &str) -> Vec<u8> {
    format!(
        "X-Sender: <mac@contoso.example>\r\nX-Receiver: <mail@{DOMAIN}>\r\n\
         From: mac@contoso.example\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nThe report, uuencoded:\r\n\r\n{UUENCODED}\r\nregards\r\n\
         --b\r\nContent-Type: application/mac-binhex40; name=sample.hqx\r\n\r\n{binhex}\r\n--b--\r\n"
    )
    .into_bytes()
}

#[test]
fn uuencoded_blocks_and_binhex_parts_become_their_files() {
    let farm = Farm::configured("", "", MAIL);
    let node = farm.start();
    farm.drop_file("old.eml", &old_school("old school", BINHEX));
    // One character of the BinHex text changed: its CRC no longer matches.
    let corrupt = BINHEX.replacen("#R0KEA", "#R0KEB", 1);
    farm.drop_file("corrupt.eml", &old_school("corrupt", &corrupt));
    wait_until(
        Duration::from_secs(30),
        "one filed, one quarantined",
        || farm.record_count("mail") == 1 && farm.quarantine().len() == 1,
    );
    let item = &farm.items("mail")[0];
    assert_eq!(
        item["files"],
        serde_json::json!(["old school/sample.bin", "old school/report 2024.bin"])
    );
    let report =
        std::fs::read(farm.library_dir("mail").join("old school/report 2024.bin")).unwrap();
    let expected: Vec<u8> = (0u32..100).map(|i| ((i * i + 7 * i) % 256) as u8).collect();
    assert_eq!(report, expected);
    let sample = std::fs::read(farm.library_dir("mail").join("old school/sample.bin")).unwrap();
    assert!(sample.starts_with(b"Hello, BinHex!\n"), "{sample:?}");
    let entry = &farm.quarantine()[0];
    assert_eq!(entry["code"], "corrupt_attachment", "{entry}");
    assert!(
        entry["reason"].as_str().unwrap().contains("binhex: "),
        "{entry}"
    );
    drop(node);
}

#[test]
fn a_library_over_its_limits_gets_a_quarantined_copy_never_a_truncated_file() {
    let limits = format!(
        "{MAIL}[[library]]\nname = \"Small\"\nalias = \"small\"\nmax_attachment_size = \"1KB\"\n\
         [[library]]\nname = \"Tiny\"\nalias = \"tiny\"\nmax_message_size = \"2KB\"\n"
    );
    let farm = Farm::configured("", "", &limits);
    let node = farm.start();
    let payload = vec![b'x'; 5_000];
    let message = format!(
        "X-Sender: <a@contoso.example>\r\nX-Receiver: <mail@{DOMAIN}>\r\nX-Receiver: <small@{DOMAIN}>\r\n\
         X-Receiver: <tiny@{DOMAIN}>\r\nFrom: a@contoso.example\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=data.bin\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64(&payload)
    );
    farm.drop_file("big.eml", message.as_bytes());
    wait_until(
        Duration::from_secs(30),
        "filed once, quarantined once",
        || farm.record_count("mail") == 1 && farm.quarantine().len() == 1,
    );
    let filed = std::fs::read(farm.library_dir("mail").join("big/data.bin")).unwrap();
    assert_eq!(filed, payload);
    assert_eq!(farm.record_count("small") + farm.record_count("tiny"), 0);
    let entry = &farm.quarantine()[0];
    assert_eq!(entry["code"], "attachment_too_large", "{entry}");
    let reason = entry["reason"].as_str().unwrap();
    assert!(
        reason.contains("library \"small\": attachment \"data.bin\" (5000 bytes)"),
        "{reason}"
    );
    assert!(reason.contains("library \"tiny\": the message"), "{reason}");
    assert_eq!(
        entry["refused_recipients"],
        serde_json::json!([format!("small@{DOMAIN}"), format!("tiny@{DOMAIN}")])
    );
    drop(node);
}

#[test]
fn large_attachments_are_decoded_straight_into_their_files() {
    // Large enough to stay in the raw message while parsing: decoded piece
    // by piece into the library, and measured for the limits undecoded.
    let limits = format!(
        "{MAIL}[[library]]\nname = \"Small\"\nalias = \"small\"\nmax_attachment_size = \"500KB\"\n"
    );
    let farm = Farm::configured("", "", &limits);
    let node = farm.start();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut payload = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let files = [("a.bin", payload(300_001)), ("b.bin", payload(600_002))];
    let mut message = format!(
        "X-Sender: <a@contoso.example>\r\nX-Receiver: <mail@{DOMAIN}>\r\nX-Receiver: <small@{DOMAIN}>\r\n\
         From: a@contoso.example\r\nSubject: large\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    );
    for (name, bytes) in &files {
        message.push_str(&format!(
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename={name}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64(bytes)
        ));
    }
    message.push_str("--b--\r\n");
    farm.drop_file("large.eml", message.as_bytes());
    wait_until(
        Duration::from_secs(30),
        "filed once, quarantined once",
        || farm.record_count("mail") == 1 && farm.quarantine().len() == 1,
    );
    for (name, bytes) in &files {
        let filed = std::fs::read(farm.library_dir("mail").join("large").join(name)).unwrap();
        assert!(filed == *bytes, "{name}: {} bytes filed", filed.len());
    }
    let entry = &farm.quarantine()[0];
    assert_eq!(entry["code"], "attachment_too_large", "{entry}");
    let reason = entry["reason"].as_str().unwrap();
    assert!(reason.contains("\"b.bin\" (600002 bytes)"), "{reason}");
    drop(node);
}

#[test]
fn members_only_libraries_take_authenticated_members_not_a_forged_from() {
    let policy = format!(
        "{MAIL}[[library]]\nname = \"Board\"\nalias = \"board\"\naccept_from = \"members\"\n\
         members = [\"alice@contoso.com\", \"@fabrikam.com\"]\n"
    );
    let farm = Farm::configured("trusted_authserv_ids = [\"mx.contoso.com\"]", "", &policy);
    let node = farm.start();
    let message = |name: &str, from: &str, results: &str| {
        let text = format!(
            "X-Sender: <{from}>\r\nX-Receiver: <board@{DOMAIN}>\r\nX-Receiver: <mail@{DOMAIN}>\r\n{results}\
             From: {from}\r\nSubject: {name}\r\n\r\nminutes\r\n"
        );
        farm.drop_file(&format!("{name}.eml"), text.as_bytes());
    };
    // A member, authenticated by the trusted border server's DMARC result.
    message(
        "signed",
        "alice@contoso.com",
        "Authentication-Results: mx.contoso.com; dmarc=pass header.from=contoso.com\r\n",
    );
    // The same From, forged: no result, or one from a server nobody trusts.
    message("forged", "alice@contoso.com", "");
    message(
        "self-signed",
        "alice@contoso.com",
        "Authentication-Results: mx.evil.example; dmarc=pass header.from=contoso.com\r\n",
    );
    // Not a member at all, however authenticated.
    message(
        "outsider",
        "mallory@evil.example",
        "Authentication-Results: mx.contoso.com; dmarc=pass header.from=evil.example\r\n",
    );
    wait_until(Duration::from_secs(30), "all four handled", || {
        farm.record_count("mail") == 4 && farm.quarantine().len() == 3
    });
    let board: Vec<String> = farm
        .items("board")
        .iter()
        .map(|i| i["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(board, ["signed"]);
    let mut codes: Vec<(String, String)> = farm
        .quarantine()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    codes.sort();
    assert_eq!(codes.len(), 3);
    assert_eq!(codes[0].0, "not_a_member");
    assert!(
        codes[0].1.contains("mallory@evil.example is not one"),
        "{codes:?}"
    );
    for (code, reason) in &codes[1..] {
        assert_eq!(code, "not_authenticated");
        assert!(
            reason.contains(
                "alice@contoso.com is a member of library \"board\", but nothing shows that the message is from them"
            ),
            "{reason}"
        );
        // Unsigned, from a drop file (no client for SPF): the farm's own
        // checks say so without a single lookup.
        assert!(
            reason.contains("the farm's checks: nothing in the message can authenticate contoso.com: no DKIM signature; SPF not checked"),
            "{reason}"
        );
    }
    drop(node);
}

#[test]
fn a_picture_library_keeps_images_and_invitations_follow_the_library() {
    let kinds = format!(
        "{MAIL}save_meeting_invitations = false\n\
         [[library]]\nname = \"Photos\"\nalias = \"photos\"\nkind = \"picture_library\"\n"
    );
    let farm = Farm::configured("", "", &kinds);
    let node = farm.start();
    let message = format!(
        "X-Sender: <a@contoso.example>\r\nX-Receiver: <mail@{DOMAIN}>\r\nX-Receiver: <photos@{DOMAIN}>\r\n\
         From: a@contoso.example\r\nSubject: trip\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nphotos\r\n\
         --b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=beach.png\r\n\
         Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=itinerary.pdf\r\n\r\n%PDF-1.4\r\n\
         --b\r\nContent-Type: text/calendar; method=REQUEST\r\nContent-Disposition: attachment; filename=invite.ics\r\n\r\n\
         BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n--b--\r\n"
    );
    farm.drop_file("trip.eml", message.as_bytes());
    wait_until(Duration::from_secs(30), "filed in both", || {
        farm.record_count("mail") == 1 && farm.record_count("photos") == 1
    });
    let photos = &farm.items("photos")[0];
    assert_eq!(photos["files"], serde_json::json!(["beach.png"]));
    // What the library did not file is named in its record, with why.
    assert_eq!(
        photos["not_filed"],
        serde_json::json!([
            "itinerary.pdf: a picture library keeps images only",
            "invite.ics: a picture library keeps images only"
        ])
    );
    assert_eq!(
        farm.items("mail")[0]["files"],
        serde_json::json!(["trip/beach.png", "trip/itinerary.pdf"])
    );
    assert!(farm.quarantine().is_empty());
    drop(node);
}

#[test]
fn attached_messages_are_filed_as_eml_and_optionally_their_attachments() {
    let libraries = format!(
        "{MAIL}[[library]]\nname = \"Expanded\"\nalias = \"expanded\"\nexpand_attached_messages = true\n"
    );
    let farm = Farm::configured("", "", &libraries);
    let node = farm.start();
    let message = format!(
        "X-Sender: <a@contoso.example>\r\nX-Receiver: <mail@{DOMAIN}>\r\nX-Receiver: <expanded@{DOMAIN}>\r\n\
         From: a@contoso.example\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n\
         --b\r\nContent-Type: message/rfc822\r\n\r\n\
         From: c@fabrikam.example\r\nSubject: Q3 numbers\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\ninner\r\n\
         --i\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=q3.pdf\r\n\r\n%PDF-1.4 q3\r\n\
         --i--\r\n--b--\r\n"
    );
    farm.drop_file("fwd.eml", message.as_bytes());
    wait_until(Duration::from_secs(30), "filed in both", || {
        farm.record_count("mail") == 1 && farm.record_count("expanded") == 1
    });
    assert_eq!(
        farm.items("mail")[0]["files"],
        serde_json::json!(["fwd/Q3 numbers.eml"])
    );
    assert_eq!(
        farm.items("expanded")[0]["files"],
        serde_json::json!(["Q3 numbers.eml", "q3.pdf"])
    );
    let pdf = std::fs::read(farm.library_dir("expanded").join("q3.pdf")).unwrap();
    assert_eq!(pdf, b"%PDF-1.4 q3");
    drop(node);
}
