//! HTML bodies: [`sanitize_html`] turns a message's HTML into markup that is
//! safe to show in a list item, with `cid:` images pointing at the files
//! they were saved as.
//!
//! This module owns the sanitising policy: `ammonia`'s defaults (no scripts,
//! styles, event handlers, frames, forms or `javascript:` URLs; a whole
//! document's head, title included, dropped), links only to `http`, `https`
//! and `mailto` (with `rel="noopener noreferrer"`), and images only from the
//! message itself (no external loads).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ammonia::Builder;

/// Schemes a link (`href`, `cite`) may have.
const LINK_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// Sanitise an HTML body.
///
/// `inline` maps a Content-ID (without `cid:` and angle brackets) to the
/// relative URL of the file it was saved as (e.g. `3f2a/logo.png`); an
/// image whose `cid:` it does not know, or that points anywhere else, loses
/// its `src`. A URL from `inline` that is not relative is not used.
pub fn sanitize_html(html: &str, inline: &dyn Fn(&str) -> Option<String>) -> String {
    let mut images: HashMap<String, String> = HashMap::new();
    for src in cid_sources(html) {
        if let Some(url) = inline(&content_id(&src)).filter(|url| is_relative(url)) {
            images.insert(src, url);
        }
    }
    let mut builder = Builder::default();
    builder
        .url_schemes(LINK_SCHEMES.into_iter().chain(["cid"]).collect())
        .link_rel(Some("noopener noreferrer"))
        // A whole document's <title> would otherwise leak in as text.
        .add_clean_content_tags(["title"])
        .attribute_filter(
            move |element, attribute, value| match (element, attribute) {
                ("img", "src") => images.get(value).map(|url| Cow::Owned(url.clone())),
                (_, "src") => None,
                (_, "href" | "cite") => has_link_scheme(value).then_some(Cow::Borrowed(value)),
                _ => Some(Cow::Borrowed(value)),
            },
        );
    builder.clean(html).to_string()
}

/// The `src` values of the `cid:` images, as the HTML parser reads them
/// (entities decoded): a first, minimal cleaning pass that only collects.
fn cid_sources(html: &str) -> HashSet<String> {
    let has_cid = html
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"cid:"));
    if !has_cid {
        return HashSet::new();
    }
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let collect = Arc::clone(&seen);
    let mut builder = Builder::empty();
    builder
        .tags(HashSet::from(["img"]))
        .tag_attributes(HashMap::from([("img", HashSet::from(["src"]))]))
        .url_schemes(HashSet::from(["cid"]))
        .attribute_filter(move |_, _, value| {
            if is_cid(value) {
                if let Ok(mut seen) = collect.lock() {
                    seen.insert(value.to_string());
                }
            }
            None
        });
    drop(builder.clean(html));
    drop(builder);
    Arc::try_unwrap(seen)
        .ok()
        .and_then(|seen| seen.into_inner().ok())
        .unwrap_or_default()
}

fn is_cid(url: &str) -> bool {
    url.trim()
        .get(..4)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("cid:"))
}

/// The Content-ID a `cid:` URL names: scheme removed, percent-decoded
/// (RFC 2392), angle brackets removed.
fn content_id(url: &str) -> String {
    let id = url.trim().get(4..).unwrap_or("");
    let decoded = percent_decode(id);
    decoded
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a link has one of [`LINK_SCHEMES`] (relative links lead nowhere
/// in a filed message).
fn has_link_scheme(url: &str) -> bool {
    url.trim().split_once(':').is_some_and(|(scheme, _)| {
        LINK_SCHEMES
            .iter()
            .any(|allowed| scheme.eq_ignore_ascii_case(allowed))
    })
}

/// A URL without a scheme: no `:` before the first `/`, `?` or `#`.
fn is_relative(url: &str) -> bool {
    let head = url.split(['/', '?', '#']).next().unwrap_or("");
    !url.trim().is_empty() && !head.contains(':')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn files(id: &str) -> Option<String> {
        match id {
            "logo@contoso.example" => Some("3f2a/logo.png".to_string()),
            "image001.png@01DA1234.56789AB0" => Some("3f2a/image001.png".to_string()),
            "evil" => Some("javascript:alert(1)".to_string()),
            _ => None,
        }
    }

    fn clean(html: &str) -> String {
        sanitize_html(html, &files)
    }

    #[test]
    fn script_removed() {
        let out =
            clean("<p>hi</p><script>alert('x')</script><SCRIPT src=//evil.example/x.js></SCRIPT>");
        assert_eq!(out, "<p>hi</p>");
    }

    #[test]
    fn event_handlers_removed() {
        let out = clean(r#"<img src="x" onerror="alert(1)"><b onclick="steal()">bold</b>"#);
        assert_eq!(out, "<img><b>bold</b>");
    }

    #[test]
    fn javascript_links_removed() {
        let out = clean(concat!(
            r#"<a href="javascript:alert(1)">a</a>"#,
            r#"<a href=" JaVaScRiPt:alert(1)">b</a>"#,
            r#"<a href="jav&#x09;ascript:alert(1)">c</a>"#,
            r#"<a href="cid:logo@contoso.example">d</a>"#,
            r#"<a href="/relative">e</a>"#,
        ));
        assert!(!out.contains("href"), "{out}");
        assert!(!out.to_ascii_lowercase().contains("javascript"), "{out}");
    }

    #[test]
    fn cid_images_rewritten() {
        let out = clean(concat!(
            r#"<img src="cid:logo@contoso.example" alt="Logo">"#,
            r#"<img src="CID:image001.png%4001DA1234.56789AB0">"#,
            r#"<img src="cid:&lt;logo@contoso.example&gt;">"#,
        ));
        assert_eq!(
            out,
            concat!(
                r#"<img src="3f2a/logo.png" alt="Logo">"#,
                r#"<img src="3f2a/image001.png">"#,
                r#"<img src="3f2a/logo.png">"#,
            )
        );
    }

    #[test]
    fn unknown_cid_and_external_images_dropped() {
        let out = clean(concat!(
            r#"<img src="cid:missing@x" alt="a">"#,
            r#"<img src="https://tracker.example/p.gif" alt="b">"#,
            r#"<img src="data:image/png;base64,AAAA" alt="c">"#,
            r#"<img src="cid:evil" alt="d">"#,
        ));
        assert_eq!(
            out,
            r#"<img alt="a"><img alt="b"><img alt="c"><img alt="d">"#
        );
    }

    #[test]
    fn formatting_and_links_kept() {
        let html = concat!(
            "<p>Hello <b>team</b>, <i>see</i> <a href=\"https://contoso.example/q4?a=1&amp;b=2\">the report</a>",
            " or <a href=\"mailto:anna@contoso.example\">write</a>.</p>",
            "<table><tbody><tr><td colspan=\"2\">cell</td></tr></tbody></table>",
        );
        let out = clean(html);
        assert_eq!(
            out,
            concat!(
                "<p>Hello <b>team</b>, <i>see</i> <a href=\"https://contoso.example/q4?a=1&amp;b=2\" rel=\"noopener noreferrer\">the report</a>",
                " or <a href=\"mailto:anna@contoso.example\" rel=\"noopener noreferrer\">write</a>.</p>",
                "<table><tbody><tr><td colspan=\"2\">cell</td></tr></tbody></table>",
            )
        );
    }

    #[test]
    fn frames_forms_and_styles_removed() {
        let out = clean(concat!(
            "<style>body{background:url(javascript:x)}</style>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<form action=\"https://evil.example\"><input name=p></form>",
            "<div style=\"width: expression(alert(1))\">text</div>",
        ));
        assert_eq!(out, "<div>text</div>");
    }

    #[test]
    fn outlook_document_keeps_only_the_body() {
        let html = concat!(
            "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head>",
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">",
            "<title>Q4 plan</title><style><!-- p.MsoNormal {margin:0cm} --></style>",
            "<!--[if gte mso 9]><xml><o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" /></xml><![endif]-->",
            "</head><body lang=\"EN-US\" link=\"#0563C1\"><div class=\"WordSection1\">",
            "<p class=\"MsoNormal\">Hi all<o:p></o:p></p></div></body></html>",
        );
        assert_eq!(clean(html), "<div><p>Hi all</p></div>");
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = crate::test_rng::Rng(0x4a11_0e5e);
        let pieces = [
            "<img src=\"cid:",
            "logo@contoso.example",
            "\">",
            "<a href=",
            "%4",
            "%",
            "&lt;",
            "<",
            ">",
            "\"",
            "'",
            "cid:evil",
            "<svg><animate href=",
            "<script>",
            "\u{0}",
            "é",
        ];
        for _ in 0..500 {
            let mut html = String::new();
            for _ in 0..rng.below(30) {
                html.push_str(pieces[rng.below(pieces.len())]);
            }
            let _ = clean(&html);
            let _ = clean(&String::from_utf8_lossy(&rng.random_bytes(200)));
        }
    }

    #[test]
    fn relative_check() {
        assert!(is_relative("3f2a/logo.png"));
        assert!(is_relative("a b/c:d.png"));
        assert!(!is_relative("javascript:x"));
        assert!(!is_relative("https://x/y"));
        assert!(!is_relative(""));
    }
}
