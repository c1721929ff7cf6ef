//! Central Administration with tools nobody here wrote, against a real farm
//! of three `postroom` processes: grpcurl lists the services by reflection
//! and calls them; with an admin token, the CLI and grpcurl are refused
//! without it (exit 5, UNAUTHENTICATED) while reflection stays open.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::admin::{ask, ask_json, grpcurl, shared};
use support::cluster::{Cluster, Membership};

const TIMINGS: &str = "lease_ttl = \"3s\"\nhandoff_after = \"1s\"";

#[test]
fn grpcurl_finds_the_services_by_reflection_and_calls_them() {
    let cluster = Cluster::start(3, TIMINGS);
    let node = cluster.grpc_addr(2);
    let (ok, list) = grpcurl(&["-plaintext", &node, "list"]);
    assert!(ok, "{list}");
    for service in [
        "postroom.admin.v1.ClusterAdmin",
        "postroom.admin.v1.FarmAdmin",
        "postroom.admin.v1.LibraryAdmin",
        "postroom.admin.v1.MessageAdmin",
        "grpc.health.v1.Health",
    ] {
        assert!(list.contains(service), "{service} missing from {list}");
    }
    let (ok, health) = grpcurl(&[
        "-plaintext",
        "-d",
        "{\"service\": \"postroom.admin.v1.ClusterAdmin\"}",
        &node,
        "grpc.health.v1.Health/Check",
    ]);
    assert!(ok && health.contains("SERVING"), "{health}");
    let (ok, library) = grpcurl(&[
        "-plaintext",
        "-d",
        "{\"alias\": \"shared-documents\"}",
        &node,
        "postroom.admin.v1.LibraryAdmin/GetLibrary",
    ]);
    assert!(
        ok && library.contains("\"name\": \"Shared Documents\""),
        "{library}"
    );
    let (ok, refused) = grpcurl(&[
        "-plaintext",
        "-d",
        "{\"library\": {\"name\": \"Bad\", \"alias\": \"a b\", \"path\": \"/srv/x\"}}",
        &node,
        "postroom.admin.v1.LibraryAdmin/CreateLibrary",
    ]);
    assert!(
        !ok && refused.contains("InvalidArgument") && refused.contains("alias \"a b\""),
        "{refused}"
    );
}

#[test]
fn a_farm_with_an_admin_token_refuses_commands_without_it() {
    let mut cluster = Cluster::prepare(3, TIMINGS, Membership::Static);
    let token = cluster.dir.path().join("admin-token");
    std::fs::write(&token, "correct-horse-battery-staple\n").unwrap();
    for i in 1..=3 {
        cluster.append_config(
            i,
            &format!("[admin]\ntoken_file = \"{}\"\n", token.display()),
        );
    }
    for i in 1..=3 {
        cluster.spawn(i);
    }
    for i in 1..=3 {
        cluster.wait_ready(i);
    }
    let path = shared(&cluster, "invoices");
    let add = [
        "library",
        "add",
        "invoices",
        "--name",
        "Invoices",
        "--path",
        path.as_str(),
    ];
    let (code, _, err) = ask(&cluster, 1, &add);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("requires a bearer token")
            && err.contains("hint: pass the farm's admin token"),
        "{err}"
    );
    let wrong = [&add[..], &["--token", "not-the-token-at-all"]].concat();
    let (code, _, err) = ask(&cluster, 2, &wrong);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("not valid for this farm"), "{err}");
    assert_eq!(ask(&cluster, 3, &["library", "list"]).0, 5);
    let right = [&add[..], &["--token-file", token.to_str().unwrap()]].concat();
    let (code, _, err) = ask(&cluster, 2, &right);
    assert_eq!(code, 0, "{err}");
    let listed = ask_json(
        &cluster,
        3,
        &[
            "library",
            "list",
            "--json",
            "--token-file",
            token.to_str().unwrap(),
        ],
    );
    assert!(
        listed["libraries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["alias"] == "invoices"),
        "{listed}"
    );
    // grpcurl: reflection and health are open, the admin services need the header.
    let node = cluster.grpc_addr(1);
    let (ok, list) = grpcurl(&["-plaintext", &node, "list"]);
    assert!(
        ok && list.contains("postroom.admin.v1.LibraryAdmin"),
        "{list}"
    );
    let (ok, refused) = grpcurl(&[
        "-plaintext",
        &node,
        "postroom.admin.v1.LibraryAdmin/ListLibraries",
    ]);
    assert!(!ok && refused.contains("Unauthenticated"), "{refused}");
    let header = "authorization: Bearer correct-horse-battery-staple";
    let (ok, listed) = grpcurl(&[
        "-plaintext",
        "-H",
        header,
        &node,
        "postroom.admin.v1.LibraryAdmin/ListLibraries",
    ]);
    assert!(ok && listed.contains("\"alias\": \"invoices\""), "{listed}");
}
