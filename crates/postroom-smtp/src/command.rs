//! Parsing one SMTP command line (RFC 5321 §4.1): the line's bytes in, a
//! [`Command`] or the error [`Reply`] out; and the argument parsers the
//! session calls once a command is in sequence: `MAIL FROM:` with its
//! SIZE / BODY / SMTPUTF8 parameters (RFC 1870, 6152, 3030, 6531) and
//! `RCPT TO:`, over the path syntax (source routes stripped, quoted local
//! parts, address literals, UTF-8). Pure: knows nothing of session state.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::reply::Reply;

/// Longest local part and domain (RFC 5321 §4.5.3.1), in octets.
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 255;
/// Longest path, brackets included (RFC 5321 §4.5.3.1.3).
const MAX_PATH: usize = 256;

/// One recognized command. `MAIL`/`RCPT` keep their raw arguments: the
/// session checks the sequence first, then parses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Ehlo(String),
    Helo(String),
    Mail(String),
    Rcpt(String),
    Data,
    Bdat { size: u64, last: bool },
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Expn,
}

/// The `BODY=` parameter of `MAIL` (absent counts as 7BIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// A parsed `MAIL FROM:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailArgs {
    /// Without brackets and source route; empty for `<>`.
    pub sender: String,
    /// `SIZE=`; `u64::MAX` when the number does not fit.
    pub size: Option<u64>,
    pub body: Body,
    pub smtputf8: bool,
}

/// Parses one command line: `line` is everything before the LF; one CR
/// before it is stripped, any other CR, a NUL or invalid UTF-8 is refused.
pub(crate) fn parse_line(line: &[u8]) -> Result<Command, Reply> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(at) = line.iter().position(|&b| b == 0) {
        return Err(line_error(&format!("NUL byte at offset {at}")));
    }
    if let Some(at) = line.iter().position(|&b| b == b'\r') {
        return Err(line_error(&format!("bare CR at offset {at}")));
    }
    let text = std::str::from_utf8(line)
        .map_err(|e| line_error(&format!("invalid UTF-8 at offset {}", e.valid_up_to())))?;
    let text = text.trim_end_matches([' ', '\t']);
    let (verb, args) = match text.split_once(' ') {
        Some((verb, args)) => (verb, args.trim_start_matches(' ')),
        None => (text, ""),
    };
    let verb = verb.to_ascii_uppercase();
    let no_args = |command: Command| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(Reply::new(
                501,
                "5.5.4",
                &format!("syntax error: {verb} takes no arguments"),
            ))
        }
    };
    match verb.as_str() {
        "EHLO" => helo_argument(&verb, args).map(Command::Ehlo),
        "HELO" => helo_argument(&verb, args).map(Command::Helo),
        "MAIL" => Ok(Command::Mail(args.to_string())),
        "RCPT" => Ok(Command::Rcpt(args.to_string())),
        "DATA" => no_args(Command::Data),
        "BDAT" => parse_bdat(args),
        "RSET" => no_args(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(Command::StartTls),
        "EXPN" => Ok(Command::Expn),
        _ => {
            // Reply text is sanitised by `Reply`; keep the echo short.
            let shown: String = verb.chars().take(16).collect();
            Err(Reply::new(
                500,
                "5.5.1",
                &format!("command unrecognized: {shown:?}"),
            ))
        }
    }
}

fn line_error(problem: &str) -> Reply {
    Reply::new(
        500,
        "5.5.2",
        &format!("syntax error: {problem} in command line"),
    )
}

/// The EHLO/HELO argument: its first word, required, without control characters.
fn helo_argument(verb: &str, args: &str) -> Result<String, Reply> {
    let name = args.split(' ').next().unwrap_or_default();
    if name.is_empty() {
        return Err(Reply::new(
            501,
            "5.5.4",
            &format!("syntax: {verb} <domain>"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Reply::new(
            501,
            "5.5.4",
            &format!("syntax error: control character in {verb} argument {name:?}"),
        ));
    }
    Ok(name.to_string())
}

/// `BDAT <size> [LAST]`.
fn parse_bdat(args: &str) -> Result<Command, Reply> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let size_word = words.next().unwrap_or_default();
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(w) => {
            return Err(Reply::new(
                501,
                "5.5.4",
                &format!("syntax error: unexpected BDAT argument {w:?}"),
            ))
        }
    };
    if let Some(extra) = words.next() {
        return Err(Reply::new(
            501,
            "5.5.4",
            &format!("syntax error: unexpected BDAT argument {extra:?}"),
        ));
    }
    let size = if !size_word.is_empty() && size_word.bytes().all(|b| b.is_ascii_digit()) {
        size_word.parse::<u64>().ok()
    } else {
        None
    };
    match size {
        Some(size) => Ok(Command::Bdat { size, last }),
        None => Err(Reply::new(
            501,
            "5.5.4",
            &format!("syntax error: BDAT chunk size {size_word:?} is not a number"),
        )),
    }
}

/// The arguments of `MAIL` (after the verb): `FROM:<path> [params]`.
pub(crate) fn parse_mail(args: &str) -> Result<MailArgs, Reply> {
    let rest = strip_prefix_ci(args, "FROM:")
        .ok_or_else(|| Reply::new(501, "5.5.4", "syntax: MAIL FROM:<address> [parameters]"))?;
    let bad = |problem: &str| {
        Reply::new(
            501,
            "5.1.7",
            &format!("malformed sender address: {problem}"),
        )
    };
    let (inner, params) = split_path(rest.trim_start_matches(' ')).map_err(|p| bad(&p))?;
    let sender = if inner.is_empty() {
        String::new()
    } else {
        parse_path(inner).map_err(|p| bad(&format!("{p} in <{inner}>")))?
    };
    let mut mail = MailArgs {
        sender,
        size: None,
        body: Body::SevenBit,
        smtputf8: false,
    };
    let mut seen: Vec<String> = Vec::new();
    for param in params.split(' ').filter(|p| !p.is_empty()) {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (param, None),
        };
        let upper = name.to_ascii_uppercase();
        if seen.contains(&upper) {
            return Err(Reply::new(
                501,
                "5.5.4",
                &format!("duplicate parameter {upper}"),
            ));
        }
        let bad_value = || {
            Reply::new(
                501,
                "5.5.4",
                &format!("syntax error: bad value in parameter {param:?}"),
            )
        };
        match (upper.as_str(), value) {
            ("SIZE", Some(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                mail.size = Some(v.parse::<u64>().unwrap_or(u64::MAX));
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => mail.body = Body::SevenBit,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                mail.body = Body::EightBitMime
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("BINARYMIME") => {
                mail.body = Body::BinaryMime
            }
            ("SMTPUTF8", None) => mail.smtputf8 = true,
            ("SIZE" | "BODY" | "SMTPUTF8", _) => return Err(bad_value()),
            _ => {
                return Err(Reply::new(
                    555,
                    "5.5.4",
                    &format!("unsupported parameter {name}"),
                ))
            }
        }
        seen.push(upper);
    }
    if !mail.smtputf8 && !mail.sender.is_ascii() {
        return Err(Reply::new(
            553,
            "5.6.7",
            &format!(
                "non-ASCII sender address <{}> requires SMTPUTF8",
                mail.sender
            ),
        ));
    }
    Ok(mail)
}

/// The arguments of `RCPT` (after the verb): `TO:<path>`; no parameters
/// are supported. `<postmaster>` without a domain is accepted (RFC 5321 §4.5.1).
pub(crate) fn parse_rcpt(args: &str) -> Result<String, Reply> {
    let rest = strip_prefix_ci(args, "TO:")
        .ok_or_else(|| Reply::new(501, "5.5.4", "syntax: RCPT TO:<address>"))?;
    let bad = |problem: &str| {
        Reply::new(
            501,
            "5.1.3",
            &format!("malformed recipient address: {problem}"),
        )
    };
    let (inner, params) = split_path(rest.trim_start_matches(' ')).map_err(|p| bad(&p))?;
    let address = if inner.eq_ignore_ascii_case("postmaster") {
        inner.to_string()
    } else if inner.is_empty() {
        return Err(bad("null recipient <>"));
    } else {
        parse_path(inner).map_err(|p| bad(&format!("{p} in <{inner}>")))?
    };
    if let Some(param) = params.split(' ').find(|p| !p.is_empty()) {
        let name = param.split('=').next().unwrap_or(param);
        return Err(Reply::new(
            555,
            "5.5.4",
            &format!("unsupported parameter {name}"),
        ));
    }
    Ok(address)
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// Splits `<path> rest` into the text between the brackets and what
/// follows; a `>` inside a quoted local part does not close the path.
fn split_path(text: &str) -> Result<(&str, &str), String> {
    let Some(body) = text.strip_prefix('<') else {
        return Err(format!("{:?} does not start with '<'", first_word(text)));
    };
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == '>' && !quoted {
            let inner = body.get(..i).unwrap_or_default();
            let rest = body.get(i + 1..).unwrap_or_default();
            if !rest.is_empty() && !rest.starts_with(' ') {
                return Err(format!("unexpected {:?} after '>'", first_word(rest)));
            }
            if inner.len() + 2 > MAX_PATH {
                return Err(format!("path longer than {MAX_PATH} octets"));
            }
            return Ok((inner, rest));
        }
    }
    Err(format!("{:?} has no closing '>'", first_word(text)))
}

fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or_default()
}

/// Checks a path between its brackets and returns the mailbox, with any
/// source route (`@a,@b:`) stripped.
fn parse_path(inner: &str) -> Result<String, String> {
    let mailbox = match inner.strip_prefix('@') {
        Some(route) => {
            let colon = route_end(route).ok_or("source route without ':'")?;
            let (hops, mailbox) = (
                route.get(..colon).unwrap_or_default(),
                route.get(colon + 1..).unwrap_or_default(),
            );
            for (i, hop) in hops.split(',').enumerate() {
                let domain = if i == 0 {
                    Some(hop)
                } else {
                    hop.strip_prefix('@')
                };
                let domain = domain.ok_or_else(|| format!("malformed source route hop {hop:?}"))?;
                check_domain(domain)?;
            }
            mailbox
        }
        None => inner,
    };
    let (local, domain) = split_mailbox(mailbox)?;
    check_local(local)?;
    check_domain(domain)?;
    // What is accepted here must read back from the drop file's envelope lines.
    if !postroom_mail::is_valid_address(mailbox) {
        return Err(format!("address {mailbox:?} is not accepted here"));
    }
    Ok(mailbox.to_string())
}

/// The offset of the `:` ending a source route (a `:` inside an address literal does not count).
fn route_end(route: &str) -> Option<usize> {
    let mut in_literal = false;
    for (i, c) in route.char_indices() {
        match c {
            '[' => in_literal = true,
            ']' => in_literal = false,
            ':' if !in_literal => return Some(i),
            _ => {}
        }
    }
    None
}

/// `local@domain`, where a quoted local part may itself contain `@`.
fn split_mailbox(mailbox: &str) -> Result<(&str, &str), String> {
    let at = if mailbox.starts_with('"') {
        let bytes = mailbox.as_bytes();
        let mut i = 1;
        loop {
            match bytes.get(i) {
                None => return Err("unterminated quoted local part".to_string()),
                Some(b'\\') => i += 2,
                Some(b'"') => break i + 1,
                Some(_) => i += 1,
            }
        }
    } else {
        mailbox.find('@').ok_or("missing '@'")?
    };
    let local = mailbox.get(..at).ok_or("malformed quoted local part")?;
    let domain = mailbox
        .get(at..)
        .and_then(|rest| rest.strip_prefix('@'))
        .ok_or("missing '@' after the local part")?;
    Ok((local, domain))
}

/// RFC 5321 `atext` (plus any non-control UTF-8 character, RFC 6531).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || is_utf8_text(c)
}

fn is_utf8_text(c: char) -> bool {
    !c.is_ascii() && !c.is_control()
}

fn check_local(local: &str) -> Result<(), String> {
    if local.is_empty() {
        return Err("empty local part".to_string());
    }
    if local.len() > MAX_LOCAL {
        return Err(format!("local part longer than {MAX_LOCAL} octets"));
    }
    if let Some(quoted) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            let ok = match c {
                '\\' => chars.next().is_some_and(|e| (' '..='~').contains(&e)),
                '"' => false,
                c => (' '..='~').contains(&c) || is_utf8_text(c),
            };
            if !ok {
                return Err(format!("bad character {c:?} in quoted local part"));
            }
        }
        return Ok(());
    }
    for atom in local.split('.') {
        if atom.is_empty() {
            return Err("empty atom in local part (leading, trailing or double dot)".to_string());
        }
        if let Some(c) = atom.chars().find(|&c| !is_atext(c)) {
            return Err(format!("bad character {c:?} in local part"));
        }
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("empty domain".to_string());
    }
    if let Some(literal) = domain.strip_prefix('[') {
        let literal = literal
            .strip_suffix(']')
            .ok_or("unterminated address literal")?;
        let ok = match literal.get(..5) {
            Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => literal
                .get(5..)
                .is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok()),
            _ => literal.parse::<Ipv4Addr>().is_ok(),
        };
        return if ok {
            Ok(())
        } else {
            Err(format!("bad address literal [{literal}]"))
        };
    }
    if domain.len() > MAX_DOMAIN {
        return Err(format!("domain longer than {MAX_DOMAIN} octets"));
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("bad label {label:?} in domain"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || is_utf8_text(c);
        if let Some(c) = label.chars().find(|&c| !ok(c)) {
            return Err(format!("bad character {c:?} in domain"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "command_test.rs"]
mod tests;
