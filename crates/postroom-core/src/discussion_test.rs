//! Tests of subjects, Thread-Index values, message ids and threading.

use super::*;

// ---- topic ----

#[test]
fn topic_strips_reply_and_forward_prefixes() {
    assert_eq!(topic("RE: Budget"), ("budget".to_string(), true));
    assert_eq!(topic("Re: AW: Fwd: Budget"), ("budget".to_string(), true));
    assert_eq!(topic("Fwd: Budget"), ("budget".to_string(), false));
    assert_eq!(topic("FW: fwd: Budget"), ("budget".to_string(), false));
    assert_eq!(topic("Fwd: Re: Budget"), ("budget".to_string(), true));
    assert_eq!(topic("Re[2]: Budget"), ("budget".to_string(), true));
    assert_eq!(topic("Re(3): Budget"), ("budget".to_string(), true));
    assert_eq!(topic("RE : Budget"), ("budget".to_string(), true));
    assert_eq!(topic("TR : Budget"), ("budget".to_string(), false));
    assert_eq!(topic("回复：预算"), ("预算".to_string(), true));
    assert_eq!(topic("转发: 预算"), ("预算".to_string(), false));
    assert_eq!(topic("Re：Budget"), ("budget".to_string(), true));
    assert_eq!(topic("RÉF: Budget"), ("budget".to_string(), true));
    for p in [
        "AW", "SV", "VS", "Antw", "Réf", "Ref", "RIF", "R", "Odp", "YNT", "答复",
    ] {
        assert_eq!(
            topic(&format!("{p}: Budget")),
            ("budget".to_string(), true),
            "{p}"
        );
    }
    for p in ["Fw", "WG", "Tr", "转发"] {
        assert_eq!(
            topic(&format!("{p}: Budget")),
            ("budget".to_string(), false),
            "{p}"
        );
    }
}

#[test]
fn topic_needs_the_colon() {
    assert_eq!(topic("Report"), ("report".to_string(), false));
    assert_eq!(topic("Re Budget"), ("re budget".to_string(), false));
    assert_eq!(
        topic("Reply needed: Budget"),
        ("reply needed: budget".to_string(), false)
    );
    assert_eq!(topic("Rex: x"), ("rex: x".to_string(), false));
    assert_eq!(topic("Re[x]: Budget"), ("re[x]: budget".to_string(), false));
}

#[test]
fn topic_strips_list_tags_and_folds_whitespace() {
    assert_eq!(topic("[team] Re: Budget"), ("budget".to_string(), true));
    assert_eq!(topic("Re: [team] Budget"), ("budget".to_string(), true));
    assert_eq!(
        topic("  [a] [b]  Q3\t\n Budget  "),
        ("q3 budget".to_string(), false)
    );
    // A tag alone is the topic.
    assert_eq!(topic("[team]"), ("[team]".to_string(), false));
    assert_eq!(topic(""), (String::new(), false));
    assert_eq!(topic("Re:"), (String::new(), true));
}

// ---- Thread-Index ----

/// Test-only standard base64 with padding.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An Outlook-like Thread-Index: a 22-byte header block (6 bytes of time,
/// a 16-byte GUID made from `seed`) and `children` 5-byte reply blocks.
fn thread_index(seed: u8, children: usize) -> (String, String) {
    let mut bytes = vec![0x01, 0xdb, 0x7a, 0x3c, 0x12, 0x34];
    bytes.extend((0..16).map(|i| seed.wrapping_mul(31).wrapping_add(i)));
    let id = hex::encode(&bytes);
    for c in 0..children {
        bytes.extend([0x00, 0x00, 0x10, 0x20, u8::try_from(c).unwrap_or(0)]);
    }
    (b64(&bytes), id)
}

#[test]
fn conversation_id_of_header_and_children() {
    for children in 0..4 {
        let (value, id) = thread_index(7, children);
        assert_eq!(conversation_id(&value), Some(id.clone()), "{children}");
        assert_eq!(id.len(), 44);
    }
    let (a, id_a) = thread_index(1, 2);
    let (b, _) = thread_index(2, 0);
    assert_ne!(conversation_id(&a), conversation_id(&b));
    assert_eq!(conversation_id(&a), Some(id_a));
}

#[test]
fn conversation_id_tolerates_folding_and_missing_padding() {
    // 22 bytes end in `==`, 32 bytes in `=`, 27 bytes in no padding.
    for (children, padding) in [(0, 2), (2, 1), (1, 0)] {
        let (value, id) = thread_index(3, children);
        let pads = value.len() - value.trim_end_matches('=').len();
        assert_eq!(pads, padding, "{children}");
        let folded = format!(
            "{}\r\n\t{}\n {}",
            &value[..10],
            &value[10..20],
            &value[20..]
        );
        assert_eq!(conversation_id(&folded), Some(id.clone()));
        assert_eq!(
            conversation_id(value.trim_end_matches('=')),
            Some(id.clone())
        );
        assert_eq!(conversation_id(&format!("  {value}  ")), Some(id));
    }
}

#[test]
fn conversation_id_refuses_invalid_values() {
    let (value, _) = thread_index(3, 1);
    assert_eq!(conversation_id(""), None);
    assert_eq!(conversation_id("not base64!"), None);
    assert_eq!(conversation_id(&value.replace('A', "*")), None);
    // Data after padding.
    assert_eq!(conversation_id(&format!("{value}AAAA")), None);
    // Too short, or not whole child blocks.
    assert_eq!(conversation_id(&b64(&[1; 21])), None);
    assert_eq!(conversation_id(&b64(&[1; 25])), None);
    assert!(conversation_id(&b64(&[1; 22])).is_some());
    // A dangling sixth-bit group.
    assert_eq!(base64_decode("QUJDR"), None);
    assert_eq!(base64_decode("QUJD").as_deref(), Some(&b"ABC"[..]));
    assert_eq!(base64_decode("QUI").as_deref(), Some(&b"AB"[..]));
}

// ---- threads ----

struct P {
    key: String,
    received: String,
    conversation: Conversation,
}

fn post(key: &str, received: &str, subject: &str) -> P {
    let (topic, is_reply) = topic(subject);
    P {
        key: key.to_string(),
        received: received.to_string(),
        conversation: Conversation {
            message_id: Some(format!("{key}@example.com")),
            topic,
            is_reply,
            ..Conversation::default()
        },
    }
}

fn replying(mut p: P, in_reply_to: &[&str], references: &[&str]) -> P {
    let id = |k: &&str| format!("{k}@example.com");
    p.conversation.in_reply_to = in_reply_to.iter().map(id).collect();
    p.conversation.references = references.iter().map(id).collect();
    p
}

fn refs(posts: &[P]) -> Vec<PostRef<'_>> {
    posts
        .iter()
        .map(|p| PostRef {
            key: &p.key,
            received: &p.received,
            conversation: &p.conversation,
        })
        .collect()
}

/// Threads of `posts`, checked to be the same for the reversed input.
fn run(posts: &[P]) -> Vec<Thread> {
    let forward = threads(&refs(posts));
    let mut backward = refs(posts);
    backward.reverse();
    assert_eq!(threads(&backward), forward);
    let mut rotated = refs(posts);
    rotated.rotate_left(posts.len() / 2);
    assert_eq!(threads(&rotated), forward);
    forward
}

/// Each thread as `id: key<parent ...`.
fn shape(threads: &[Thread]) -> Vec<String> {
    threads
        .iter()
        .map(|t| {
            let posts: Vec<String> = t
                .posts
                .iter()
                .map(|p| match &p.parent {
                    Some(parent) => format!("{}<{parent}", p.key),
                    None => p.key.clone(),
                })
                .collect();
            format!("{}: {}", t.id, posts.join(" "))
        })
        .collect()
}

const T1: &str = "2026-03-01T10:00:00Z";
const T2: &str = "2026-03-01T11:00:00Z";
const T3: &str = "2026-03-01T12:00:00Z";
const T4: &str = "2026-03-01T13:00:00Z";

#[test]
fn reply_by_in_reply_to() {
    let posts = [
        post("a", T1, "Budget"),
        replying(post("b", T2, "Re: Budget"), &["a"], &["a"]),
        replying(post("c", T3, "Re: Budget"), &["b"], &["a", "b"]),
        post("d", T4, "Lunch"),
    ];
    let t = run(&posts);
    assert_eq!(shape(&t), ["d: d", "a: a b<a c<b"]);
    assert_eq!(t[1].topic, "budget");
    assert_eq!(t[1].last_received, T3);
}

#[test]
fn reply_by_references_only() {
    let posts = [
        post("a", T1, "Budget"),
        post("x", T2, "Other"),
        // Changed subject, References only: the last present id is the parent.
        replying(post("b", T3, "New subject"), &[], &["a", "gone"]),
        replying(post("c", T4, "Still new"), &[], &["a", "b", "gone2"]),
    ];
    assert_eq!(shape(&run(&posts)), ["a: a b<a c<b", "x: x"]);
}

#[test]
fn reply_arriving_before_its_parent() {
    // The reply was received first; the same threads in every input order.
    let posts = [
        replying(post("b", T1, "Re: Budget"), &["a"], &[]),
        post("a", T2, "Budget"),
    ];
    let t = run(&posts);
    assert_eq!(shape(&t), ["b: b<a a"]);
    assert_eq!(t[0].topic, "budget");
}

#[test]
fn thread_index_links_posts_without_message_ids() {
    let (first, id) = thread_index(9, 0);
    let (second, _) = thread_index(9, 1);
    let (third, _) = thread_index(9, 2);
    let (other, _) = thread_index(10, 0);
    let mk = |key: &str, at: &str, subject: &str, header: &str| {
        let mut p = post(key, at, subject);
        p.conversation.message_id = None;
        p.conversation.thread_index = conversation_id(header);
        p
    };
    let posts = [
        mk("a", T1, "Budget", &first),
        mk("b", T2, "Changed", &second),
        mk("c", T3, "Budget", &other),
        mk("d", T4, "Whatever", &third),
    ];
    assert_eq!(posts[0].conversation.thread_index.as_deref(), Some(&*id));
    assert_eq!(shape(&run(&posts)), ["a: a b d", "c: c"]);
}

#[test]
fn subject_fallback_joins_the_original() {
    let mut reply = post("b", T2, "RE: Budget");
    reply.conversation.message_id = None;
    let posts = [post("a", T1, "Budget"), reply, post("c", T3, "Lunch")];
    assert_eq!(shape(&run(&posts)), ["c: c", "a: a b"]);
}

#[test]
fn subject_fallback_for_ids_naming_absent_posts() {
    let posts = [
        post("a", T1, "Budget"),
        replying(post("b", T2, "Budget"), &["gone"], &[]),
    ];
    assert_eq!(shape(&run(&posts)), ["a: a b"]);
}

#[test]
fn subject_fallback_prefers_the_non_reply_even_when_later() {
    let posts = [
        post("r", T1, "Re: Budget"),
        post("a", T2, "Budget"),
        post("s", T3, "Re: Budget"),
    ];
    assert_eq!(shape(&run(&posts)), ["r: r a s"]);
}

#[test]
fn subject_fallback_joins_the_earliest_of_equal_topics() {
    let posts = [
        post("a", T1, "Budget"),
        post("b", T2, "Budget"),
        post("c", T3, "Re: Budget"),
    ];
    assert_eq!(shape(&run(&posts)), ["a: a c", "b: b"]);
}

#[test]
fn same_subject_twice_stays_apart() {
    let posts = [post("a", T1, "Budget"), post("b", T2, "Budget")];
    assert_eq!(shape(&run(&posts)), ["b: b", "a: a"]);
    let questions = [post("q1", T1, "Question"), post("q2", T1, "Question")];
    assert_eq!(shape(&run(&questions)), ["q1: q1", "q2: q2"]);
}

#[test]
fn report_is_not_a_reply_to_re() {
    // Read as `Re` + `port` it would join `Port`.
    let posts = [post("a", T1, "Port"), post("b", T2, "Report")];
    assert_eq!(shape(&run(&posts)), ["b: b", "a: a"]);
}

#[test]
fn nested_prefixes_and_list_tags_join_by_topic() {
    let mut nested = post("b", T2, "Re: AW: Fwd: Budget");
    nested.conversation.message_id = None;
    let mut tagged = post("c", T3, "[team] Re: Budget");
    tagged.conversation.message_id = None;
    let posts = [post("a", T1, "[team] Budget"), nested, tagged];
    assert_eq!(shape(&run(&posts)), ["a: a b c"]);
}

#[test]
fn forward_alone_starts_a_thread() {
    let posts = [post("a", T1, "Budget"), post("b", T2, "Fwd: Budget")];
    assert_eq!(shape(&run(&posts)), ["b: b", "a: a"]);
}

#[test]
fn message_ids_beat_thread_index_and_topic() {
    let (one, _) = thread_index(1, 0);
    let (two, _) = thread_index(2, 0);
    let mut a = post("a", T1, "Budget");
    a.conversation.thread_index = conversation_id(&one);
    let mut b = post("b", T2, "Budget");
    b.conversation.thread_index = conversation_id(&two);
    // c is in b's Outlook conversation; it must not also join a by topic.
    let mut c = post("c", T3, "Re: Budget");
    c.conversation.thread_index = conversation_id(&two);
    // d replies to a by id although its subject says nothing.
    let d = replying(post("d", T4, "Lunch"), &["a"], &[]);
    assert_eq!(shape(&run(&[a, b, c, d])), ["a: a d<a", "b: b c"]);
}

#[test]
fn duplicate_message_ids_are_linked() {
    let mut copy = post("a2", T2, "Budget");
    copy.conversation.message_id = Some("a@example.com".to_string());
    let posts = [
        post("a", T1, "Budget"),
        copy,
        replying(post("b", T3, "Re: Budget"), &["a"], &[]),
    ];
    assert_eq!(shape(&run(&posts)), ["a: a a2 b<a"]);
}

#[test]
fn cycles_end_and_leave_a_forest() {
    let posts = [
        replying(post("a", T1, "One"), &["c"], &[]),
        replying(post("b", T2, "Two"), &["a"], &[]),
        replying(post("c", T3, "Three"), &["b"], &[]),
        // Names itself: no parent, not a thread of its own with others.
        replying(post("s", T4, "Self"), &["s"], &["s"]),
    ];
    let t = run(&posts);
    assert_eq!(shape(&t), ["s: s", "a: a<c b<a c"]);
}

#[test]
fn no_posts_no_threads() {
    assert!(threads(&[]).is_empty());
}
