//! Threading of a discussion board: the topic of a subject ([`topic`]: reply
//! and forward prefixes and list tags removed), Outlook's conversation id
//! ([`conversation_id`], from `Thread-Index`), and the threads of a board's posts
//! ([`threads`]): by message ids first, then by conversation id, then, for
//! a reply nothing else places, by topic. Pure and independent of the order
//! the posts are given in.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::list_item::Conversation;

/// Prefixes that mark a reply (compared lowercase, followed by `:`).
const REPLY_PREFIXES: &[&str] = &[
    "re", "aw", "sv", "vs", "antw", "réf", "ref", "rif", "r", "odp", "ynt", "res", "回复", "答复",
    "回覆",
];

/// Prefixes that mark a forward (compared lowercase, followed by `:`).
const FORWARD_PREFIXES: &[&str] = &[
    "fwd", "fw", "wg", "tr", "vb", "vl", "rv", "enc", "doorst", "转发", "轉寄",
];

/// Longest list tag (`[team]`) removed from the front of a subject, in
/// characters between the brackets.
const MAX_TAG_CHARS: usize = 64;

/// Length of Outlook's conversation id: the `Thread-Index` header block.
const THREAD_INDEX_HEADER: usize = 22;
/// Length of each child block after the header block.
const THREAD_INDEX_CHILD: usize = 5;

/// The topic of `subject` and whether it is a reply: leading reply and
/// forward prefixes (`Re:`, `AW:`, `Fwd:`, `Re[2]:`, `RE :`, `回复：` ...)
/// and list tags (`[team] `) removed, however many and in any order,
/// whitespace folded, lowercase. The flag is set when a reply prefix (not
/// only forward ones) was removed. A prefix counts only with its colon:
/// `Report` and `Re Budget` are not replies.
pub fn topic(subject: &str) -> (String, bool) {
    let mut rest = subject.trim_start();
    let mut is_reply = false;
    loop {
        if let Some((after, reply)) = strip_prefix(rest) {
            is_reply |= reply;
            rest = after.trim_start();
        } else if let Some(after) = strip_list_tag(rest) {
            rest = after.trim_start();
        } else {
            break;
        }
    }
    let folded = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    (folded.to_lowercase(), is_reply)
}

/// `s` after one leading reply or forward prefix with its optional counter
/// and colon, and whether it was a reply prefix.
fn strip_prefix(s: &str) -> Option<(&str, bool)> {
    let lists = [(REPLY_PREFIXES, true), (FORWARD_PREFIXES, false)];
    lists.iter().find_map(|(words, reply)| {
        words.iter().find_map(|word| {
            let after = strip_word(s, word)?;
            let after = strip_counter(after);
            let after = after.trim_start_matches([' ', '\t']);
            let after = after
                .strip_prefix(':')
                .or_else(|| after.strip_prefix('：'))?;
            Some((after, *reply))
        })
    })
}

/// `s` after `word` (lowercase) matched case-insensitively at its start.
fn strip_word<'s>(s: &'s str, word: &str) -> Option<&'s str> {
    let mut chars = s.char_indices();
    for w in word.chars() {
        let (_, c) = chars.next()?;
        if !c.to_lowercase().eq(std::iter::once(w)) {
            return None;
        }
    }
    Some(chars.as_str())
}

/// `s` after a leading `[n]` or `(n)` reply counter, or `s` unchanged.
fn strip_counter(s: &str) -> &str {
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = s.strip_prefix(open) {
            let digits = inner.len() - inner.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 {
                if let Some(after) = inner[digits..].strip_prefix(close) {
                    return after;
                }
            }
        }
    }
    s
}

/// `s` after a leading list tag (`[team]`) when something follows it.
fn strip_list_tag(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(']')?;
    let tag = &inner[..end];
    let after = &inner[end + 1..];
    let valid = !tag.trim().is_empty()
        && tag.chars().count() <= MAX_TAG_CHARS
        && !tag.contains(['[', '\r', '\n']);
    (valid && !after.trim().is_empty()).then_some(after)
}

/// Outlook's conversation id from a `Thread-Index` header value: the first
/// 22 bytes, lowercase hex, when the value is base64 (whitespace from
/// folding ignored, padding optional) of a 22-byte header block followed by
/// whole 5-byte child blocks; `None` otherwise.
pub fn conversation_id(thread_index_header: &str) -> Option<String> {
    let bytes = base64_decode(thread_index_header)?;
    if bytes.len() < THREAD_INDEX_HEADER
        || !(bytes.len() - THREAD_INDEX_HEADER).is_multiple_of(THREAD_INDEX_CHILD)
    {
        return None;
    }
    bytes.get(..THREAD_INDEX_HEADER).map(hex::encode)
}

/// Standard-alphabet base64, whitespace ignored, padding optional; `None`
/// on any other character, data after padding, or a dangling sixth bit
/// group.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut padded = false;
    for b in s.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            padded = true;
            continue;
        }
        if padded {
            return None;
        }
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // One character alone in its group of four carries no whole byte.
    (bits < 6).then_some(out)
}

/// One post of a board, as [`threads`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostRef<'a> {
    /// The item's id (its message key); unique within a board.
    pub key: &'a str,
    /// When it was received, RFC 3339 (sortable as text).
    pub received: &'a str,
    pub conversation: &'a Conversation,
}

/// A thread of a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The key of its root post: the earliest one.
    pub id: String,
    /// The root's topic.
    pub topic: String,
    /// Its posts, root first, then by received time, then by key.
    pub posts: Vec<ThreadPost>,
    /// When its latest post was received.
    pub last_received: String,
}

/// A post in its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadPost {
    pub key: String,
    /// The key of the post it replies to, when its `In-Reply-To` or
    /// `References` name one on the board (never forming a cycle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// The threads of a board's posts, newest activity first (then by id).
///
/// A post joins, in order of precedence: (a) every post whose Message-ID its
/// `In-Reply-To` or `References` names (posts sharing a Message-ID are one
/// thread); (b) every post with the same Outlook conversation id; (c) when
/// the earliest post of what (a) and (b) gathered is a reply with no parent
/// on the board (a `Re:` subject, or ids naming absent posts), the thread of
/// the earliest non-reply post with the same topic, else of the earliest
/// post with it. Anything else starts a thread: two posts titled `Question`
/// stay apart. The same posts in any order give the same threads.
pub fn threads(posts: &[PostRef<'_>]) -> Vec<Thread> {
    let mut sorted: Vec<&PostRef<'_>> = posts.iter().collect();
    sorted.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let n = sorted.len();
    let mut sets = DisjointSets::new(n);

    // Posts by Message-ID, earliest first; duplicates are one message.
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in sorted.iter().enumerate() {
        if let Some(id) = p.conversation.message_id.as_deref() {
            by_id.entry(id).or_default().push(i);
        }
    }
    for same in by_id.values() {
        for pair in same.windows(2) {
            sets.union(pair[0], pair[1]);
        }
    }
    let others = |id: &str, i: usize| -> Vec<usize> {
        by_id
            .get(id)
            .map(|v| v.iter().copied().filter(|&j| j != i).collect())
            .unwrap_or_default()
    };

    // (a) In-Reply-To and References.
    let mut parent: Vec<Option<usize>> = vec![None; n];
    for (i, p) in sorted.iter().enumerate() {
        let c = p.conversation;
        for id in c.in_reply_to.iter().chain(&c.references) {
            for j in others(id, i) {
                sets.union(i, j);
            }
        }
        parent[i] = c
            .in_reply_to
            .iter()
            .find_map(|id| others(id, i).first().copied())
            .or_else(|| {
                c.references
                    .iter()
                    .rev()
                    .find_map(|id| others(id, i).first().copied())
            });
    }

    // (b) Outlook conversation ids.
    let mut by_conversation: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in sorted.iter().enumerate() {
        if let Some(t) = p.conversation.thread_index.as_deref() {
            if !t.is_empty() {
                by_conversation.entry(t).or_default().push(i);
            }
        }
    }
    for same in by_conversation.values() {
        for pair in same.windows(2) {
            sets.union(pair[0], pair[1]);
        }
    }

    // (c) A reply nothing placed joins its topic's thread.
    let mut anchors: HashMap<&str, usize> = HashMap::new();
    for (i, p) in sorted.iter().enumerate().rev() {
        let c = p.conversation;
        if c.topic.is_empty() {
            continue;
        }
        let better = match anchors.get(c.topic.as_str()) {
            None => true,
            Some(&a) => !c.is_reply || sorted[a].conversation.is_reply,
        };
        if better {
            anchors.insert(c.topic.as_str(), i);
        }
    }
    let roots: Vec<usize> = (0..n).filter(|&i| sets.find(i) == i).collect();
    for r in roots {
        let c = sorted[r].conversation;
        let reply = c.is_reply || !c.in_reply_to.is_empty() || !c.references.is_empty();
        if reply && parent[r].is_none() {
            if let Some(&a) = anchors.get(c.topic.as_str()) {
                sets.union(r, a);
            }
        }
    }

    // Parents, never forming a cycle: an edge is kept unless its post is
    // already an ancestor of its parent.
    let mut kept: Vec<Option<usize>> = vec![None; n];
    for i in 0..n {
        if let Some(p) = parent[i] {
            let mut at = Some(p);
            let mut cycle = false;
            while let Some(j) = at {
                if j == i {
                    cycle = true;
                    break;
                }
                at = kept[j];
            }
            if !cycle {
                kept[i] = Some(p);
            }
        }
    }

    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        members[sets.find(i)].push(i);
    }
    let mut out: Vec<Thread> = members
        .into_iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(root, m)| Thread {
            id: sorted[root].key.to_string(),
            topic: sorted[root].conversation.topic.clone(),
            last_received: m
                .last()
                .map(|&l| sorted[l].received.to_string())
                .unwrap_or_default(),
            posts: m
                .iter()
                .map(|&i| ThreadPost {
                    key: sorted[i].key.to_string(),
                    parent: kept[i].map(|p| sorted[p].key.to_string()),
                })
                .collect(),
        })
        .collect();
    // Stable: equal (time, id) keep the order of their roots.
    out.sort_by(|a, b| {
        b.last_received
            .cmp(&a.last_received)
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// A total order of posts: received, key, then every field, so that even
/// duplicate keys do not depend on the input order.
#[allow(clippy::type_complexity)]
fn sort_key<'p>(
    p: &'p PostRef<'_>,
) -> (
    &'p str,
    &'p str,
    &'p Option<String>,
    &'p [String],
    &'p [String],
    &'p Option<String>,
    &'p str,
    bool,
) {
    let c = p.conversation;
    (
        p.received,
        p.key,
        &c.message_id,
        &c.in_reply_to,
        &c.references,
        &c.thread_index,
        &c.topic,
        c.is_reply,
    )
}

/// Union-find whose representative is the smallest index of its set.
struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
}

#[cfg(test)]
#[path = "discussion_test.rs"]
mod tests;
