//! The admin API through the generated tonic clients (as an application
//! would use it), against a real farm of three `postroom` processes:
//! client-streaming Submit of a multi-megabyte message in chunks, filed
//! once and found by key from another node; Submit refusals; versioned
//! writes (compare-and-set → ABORTED), the status codes of library errors,
//! the config history, and paged activity.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use postroom_api::proto::farm_admin_client::FarmAdminClient;
use postroom_api::proto::get_message_request::Lookup;
use postroom_api::proto::library_admin_client::LibraryAdminClient;
use postroom_api::proto::message_admin_client::MessageAdminClient;
use postroom_api::proto::{
    CreateLibraryRequest, DeleteLibraryRequest, Envelope, FarmSettingsUpdate, GetFarmRequest,
    GetMessageRequest, Library, ListActivityRequest, ListConfigHistoryRequest, SubmitChunk,
    UpdateFarmRequest,
};
use postroom_api::{connect_channel, AdminChannel, Credentials};
use support::cluster::{Cluster, ALIAS};
use support::{base64, DOMAIN};
use tonic::Code;

const TIMINGS: &str = "lease_ttl = \"3s\"\nhandoff_after = \"1s\"";

async fn channel(cluster: &Cluster, i: usize) -> AdminChannel {
    let credentials = Credentials {
        actor: Some("api-test".to_string()),
        ..Credentials::default()
    };
    connect_channel(&cluster.grpc_addr(i), &credentials)
        .await
        .unwrap()
}

/// A message with two attachments of `size` bytes each (base64 in MIME).
fn big_message(size: usize) -> (Vec<u8>, Vec<u8>) {
    use std::fmt::Write;
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let encoded = base64(&payload);
    let mut text = String::from(
        "From: app@fabrikam.example\r\nSubject: nightly export\r\nMessage-ID: <export@fabrikam.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
         Content-Type: text/plain\r\n\r\nexports attached\r\n",
    );
    for name in ["a.bin", "b.bin"] {
        write!(
            text,
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename={name}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
        )
        .unwrap();
    }
    text.push_str("--b--\r\n");
    (text.into_bytes(), payload)
}

fn chunks(envelope: Option<Envelope>, bytes: &[u8], size: usize) -> Vec<SubmitChunk> {
    let mut chunks: Vec<SubmitChunk> = bytes
        .chunks(size)
        .map(|c| SubmitChunk {
            envelope: None,
            data: c.to_vec(),
        })
        .collect();
    chunks[0].envelope = envelope;
    chunks
}

fn envelope(to: &str) -> Option<Envelope> {
    Some(Envelope {
        sender: "app@fabrikam.example".to_string(),
        recipients: vec![to.to_string()],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_submits_streams_and_manages_the_farm_with_the_generated_client() {
    let cluster = Cluster::start(3, TIMINGS);
    let mut messages1 = MessageAdminClient::new(channel(&cluster, 1).await);
    let mut messages2 = MessageAdminClient::new(channel(&cluster, 2).await);
    let mut farm3 = FarmAdminClient::new(channel(&cluster, 3).await);
    let mut libraries2 = LibraryAdminClient::new(channel(&cluster, 2).await);

    // A 3 MB message (two 1.1 MB attachments) in 64 KiB chunks.
    let (message, payload) = big_message(1_100_000);
    assert!(message.len() > 3_000_000);
    let to = format!("{ALIAS}@{DOMAIN}");
    let reply = messages1
        .submit(tokio_stream::iter(chunks(
            envelope(&to),
            &message,
            64 * 1024,
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.message_key.len(), 64);
    // Filed once, and found by key from another node.
    let mut report = None;
    for _ in 0..300 {
        let r = messages2
            .get_message(GetMessageRequest {
                lookup: Some(Lookup::MessageKey(reply.message_key.clone())),
                local: false,
            })
            .await
            .unwrap()
            .into_inner();
        if r.messages[0].state == "filed" && !r.messages[0].items.is_empty() {
            report = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = report.expect("the submitted message filed within 30 s");
    let m = &report.messages[0];
    assert_eq!(
        (m.subject.as_str(), m.libraries.as_slice()),
        ("nightly export", [ALIAS.to_string()].as_slice())
    );
    for name in ["a.bin", "b.bin"] {
        let filed = std::fs::read(cluster.library_dir().join(name)).unwrap();
        assert!(filed == payload, "{name} differs from what was sent");
    }
    assert_eq!(cluster.record_count(), 1);

    // Refusals name what is wrong.
    let no_envelope = messages1
        .submit(tokio_stream::iter(chunks(
            None,
            b"Subject: x\r\n\r\nx",
            1024,
        )))
        .await
        .unwrap_err();
    assert_eq!(no_envelope.code(), Code::InvalidArgument);
    assert!(
        no_envelope.message().starts_with("envelope: "),
        "{no_envelope:?}"
    );
    let unknown = messages1
        .submit(tokio_stream::iter(chunks(
            envelope(&format!("nobody@{DOMAIN}")),
            b"Subject: x\r\n\r\nx",
            1024,
        )))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(
        unknown
            .message()
            .contains("no library has the alias \"nobody\""),
        "{unknown:?}"
    );

    // Versioned writes: a stale expected version is ABORTED and changes nothing.
    let farm = farm3
        .get_farm(GetFarmRequest { local: false })
        .await
        .unwrap()
        .into_inner();
    let smaller = UpdateFarmRequest {
        update: Some(FarmSettingsUpdate {
            max_message_size_bytes: Some(1024 * 1024),
            ..FarmSettingsUpdate::default()
        }),
        expected_version: Some(farm.version),
    };
    let updated = farm3
        .update_farm(smaller.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.version, farm.version + 1);
    let stale = farm3.update_farm(smaller).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    // Submit follows the new limit.
    let too_big = messages1
        .submit(tokio_stream::iter(chunks(
            envelope(&to),
            &message,
            64 * 1024,
        )))
        .await
        .unwrap_err();
    assert_eq!(too_big.code(), Code::InvalidArgument);
    assert!(
        too_big
            .message()
            .starts_with("data: the message is larger than farm.max_message_size"),
        "{too_big:?}"
    );

    // Library errors and their codes.
    let create = |name: &str, alias: &str| CreateLibraryRequest {
        library: Some(Library {
            name: name.to_string(),
            alias: alias.to_string(),
            path: cluster.dir.path().join(alias).display().to_string(),
            ..Library::default()
        }),
        ..CreateLibraryRequest::default()
    };
    let taken = libraries2
        .create_library(create("Again", ALIAS))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert!(
        taken
            .message()
            .contains("used by library \"Shared Documents\""),
        "{taken:?}"
    );
    let invalid = libraries2
        .create_library(create("Spaces", "a b"))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(invalid.message().contains("alias \"a b\""), "{invalid:?}");
    let missing = libraries2
        .delete_library(DeleteLibraryRequest {
            alias: "nope".to_string(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // History: newest first, who and what.
    let history = farm3
        .list_config_history(ListConfigHistoryRequest {
            local: false,
            limit: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.versions.len(), 1);
    assert_eq!(history.versions[0].version, updated.version);
    assert!(
        history.versions[0].changed_by.starts_with("api-test"),
        "{history:?}"
    );
    assert_eq!(
        history.versions[0].changes,
        ["farm.max_message_size: \"50MB\" → \"1MB\""]
    );

    // Activity: one page of one, then the next.
    let small = b"From: app@fabrikam.example\r\nSubject: small\r\n\r\nsmall\r\n";
    messages2
        .submit(tokio_stream::iter(chunks(envelope(&to), small, 1024)))
        .await
        .unwrap();
    let mut pages = Vec::new();
    for _ in 0..300 {
        let first = messages1
            .list_activity(ListActivityRequest {
                page_size: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if first.messages.first().is_some_and(|m| m.subject == "small") {
            pages.push(first);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = pages.pop().expect("the small message in the activity");
    let second = messages1
        .list_activity(ListActivityRequest {
            page_size: 1,
            page_token: first.next_page_token.clone(),
            local: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.messages[0].message_key, reply.message_key);
    assert_eq!(second.next_page_token, "");
}
