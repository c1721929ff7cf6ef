//! Tests of the naming rules, byte by byte.

use super::*;

#[test]
fn attachment_names_keep_only_their_last_component() {
    assert_eq!(safe_file_name("../../../../etc/cron.d/evil", "x"), "evil");
    assert_eq!(safe_file_name("..\\..\\boot.ini", "x"), "boot.ini");
    assert_eq!(
        safe_file_name("C:\\Users\\me\\report.pdf", "x"),
        "report.pdf"
    );
    assert_eq!(safe_file_name("dir/", "fallback.bin"), "fallback.bin");
    assert_eq!(safe_file_name("a/..", "fb"), "fb");
    assert_eq!(safe_file_name("???", "a/b/c.txt"), "___");
    assert_eq!(safe_file_name("", "a/b/c.txt"), "c.txt");
    assert_eq!(safe_file_name("", ""), "attachment");
    assert_eq!(safe_file_name("...", "..."), "attachment");
}

#[test]
fn free_text_separators_become_underscores() {
    for raw in [
        "../../etc/passwd",
        "..",
        ".",
        "/",
        "\\..\\x",
        "a/b",
        " ../ ",
    ] {
        let s = safe_component(raw, "fallback");
        assert!(!s.contains('/') && !s.contains('\\'), "{raw:?} -> {s:?}");
        assert!(
            s != "." && s != ".." && !s.starts_with('.'),
            "{raw:?} -> {s:?}"
        );
    }
    assert_eq!(safe_component("../../etc/passwd", "x"), "_.._etc_passwd");
    assert_eq!(safe_component("Re: Q3/Q4 report", "x"), "Re_ Q3_Q4 report");
    assert_eq!(safe_component("..", "fallback"), "fallback");
    assert_eq!(safe_component("", ""), "_");
    assert_eq!(safe_component(".postroom", "x"), "postroom");
}

#[test]
fn forbidden_control_and_invisible_characters() {
    assert_eq!(
        safe_component("a:b*c?d\"e<f>g|h#i%j&k{l}m~n.txt", "x"),
        "a_b_c_d_e_f_g_h_i_j_k_l_m_n.txt"
    );
    assert_eq!(
        safe_component("a\0b\u{7}c\td\u{85}e.txt", "x"),
        "abc d e.txt"
    );
    assert_eq!(
        safe_component("invoice\u{202E}fdp.exe", "x"),
        "invoicefdp.exe"
    );
    assert_eq!(
        safe_component("zero\u{200b}width\u{feff}.txt", "x"),
        "zerowidth.txt"
    );
    assert_eq!(safe_component("a\r\n\tb   c", "x"), "a b c");
}

#[test]
fn whitespace_and_dots() {
    assert_eq!(
        safe_component("  Quarterly \u{A0}  report .pdf. ", "x"),
        "Quarterly report .pdf"
    );
    assert_eq!(safe_component("...hidden", "x"), "hidden");
    assert_eq!(safe_component(" . . ", "fb"), "fb");
    assert_eq!(safe_component("  name.  ", "x"), "name");
}

#[test]
fn reserved_device_names() {
    assert_eq!(safe_component("CON", "x"), "_CON");
    assert_eq!(safe_component("con.txt", "x"), "_con.txt");
    assert_eq!(safe_component("Lpt9.tar.gz", "x"), "_Lpt9.tar.gz");
    assert_eq!(safe_component("COM0", "x"), "_COM0");
    assert_eq!(safe_component("nul ", "x"), "_nul");
    assert_eq!(safe_component("COM10", "x"), "COM10");
    assert_eq!(safe_component("console.log", "x"), "console.log");
    assert_eq!(safe_component("", "aux"), "_aux");
}

#[test]
fn sharepoint_prefixes() {
    assert_eq!(safe_component("~$budget.xlsx", "x"), "budget.xlsx");
    assert_eq!(safe_component("~$~$budget.xlsx", "x"), "budget.xlsx");
    assert_eq!(safe_component("_vti_cnf", "x"), "vti_cnf");
    assert_eq!(safe_component("a__VTI_b", "x"), "aVTI_b");
    assert_eq!(safe_component("__vti_vti_x", "x"), "vtivti_x");
}

#[test]
fn long_names_keep_their_extension_and_fit_in_chars_and_bytes() {
    let name = format!("{}.pdf", "a".repeat(300));
    let safe = safe_component(&name, "x");
    assert_eq!(safe.chars().count(), 128);
    assert!(safe.ends_with(".pdf") && safe.starts_with("aaaa"));
    assert_eq!(safe_component(&"b".repeat(300), "x"), "b".repeat(128));
    assert_eq!(
        safe_component(&format!("a.{}", "c".repeat(300)), "x")
            .chars()
            .count(),
        128
    );

    let multibyte = format!("{}.docx", "ü€😀".repeat(100));
    let safe = safe_component(&multibyte, "x");
    assert!(
        safe.ends_with(".docx") && safe.len() <= MAX_BYTES,
        "{} bytes",
        safe.len()
    );
    // 4-byte characters: the byte limit (ext4's NAME_MAX is 255) binds before the 128 chars.
    assert_eq!(
        safe_component(&"😀".repeat(200), "x"),
        "😀".repeat(MAX_BYTES / 4)
    );

    let numbered = fit_name(split_ext(&safe).0, 12345, "docx");
    assert!(numbered.ends_with(" (12345).docx") && numbered.len() <= MAX_BYTES);
}

#[test]
fn ordinary_names_are_unchanged_and_rules_are_idempotent() {
    for name in [
        "Quarterly report.pdf",
        "Contract draft v2.pdf",
        "Ünïcödé – 2026.xlsx",
        "a",
        "x (1).pdf",
    ] {
        assert_eq!(safe_component(name, "x"), name);
        assert!(is_safe_component(name));
    }
    for raw in [
        "../../x",
        "RE: hello",
        "CON",
        "~$a",
        "_vti_x",
        &"z".repeat(400),
        &"😀".repeat(99),
    ] {
        let once = safe_component(raw, "f");
        assert_eq!(safe_component(&once, "f"), once, "{raw:?}");
        assert!(is_safe_component(&once));
    }
    assert!(!is_safe_component("../x"));
    assert!(!is_safe_component(""));
}
