//! JUnit XML for CI systems (GitHub, GitLab, Jenkins and nextest read it):
//! one test case per scenario, and one per failing seed of a `hold`
//! scenario with its replay command in the failure text.

use std::fmt::Write as _;

/// One test case.
pub struct Case {
    /// `steadfast.hold` or `steadfast.violate`, or the scenario for a seed.
    pub classname: String,
    /// The scenario, or `<scenario> seed <S>`.
    pub name: String,
    /// Wall seconds.
    pub time_s: f64,
    /// `(message, text)` when it failed.
    pub failure: Option<(String, String)>,
}

/// Failing seeds listed per scenario: a report, not a dump.
pub const SEEDS_PER_SCENARIO_MAX: usize = 100;

/// The whole report.
pub fn render(suite: &str, cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let time: f64 = cases.iter().filter(|c| !c.classname.starts_with("steadfast.seed")).map(|c| c.time_s).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let (n, suite) = (cases.len(), escape(suite));
    let _ = writeln!(out, "<testsuites name=\"steadfast\" tests=\"{n}\" failures=\"{failures}\" time=\"{time:.3}\">");
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">"
    );
    for c in cases {
        let (class, name, t) = (escape(&c.classname), escape(&c.name), c.time_s);
        match &c.failure {
            None => {
                let _ = writeln!(out, "    <testcase classname=\"{class}\" name=\"{name}\" time=\"{t:.3}\"/>");
            }
            Some((message, text)) => {
                let _ = writeln!(out, "    <testcase classname=\"{class}\" name=\"{name}\" time=\"{t:.3}\">");
                let (m, text) = (escape(message), escape(text));
                let _ = writeln!(out, "      <failure message=\"{m}\" type=\"steadfast\">{text}</failure>");
                let _ = writeln!(out, "    </testcase>");
            }
        }
    }
    out + "  </testsuite>\n</testsuites>\n"
}

/// XML text and attribute escaping; control characters XML 1.0 forbids
/// become spaces.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_counts_failures() {
        let cases = [
            Case { classname: "steadfast.hold".into(), name: "a<b".into(), time_s: 1.0, failure: None },
            Case {
                classname: "steadfast.hold".into(),
                name: "t".into(),
                time_s: 0.5,
                failure: Some(("T3 & \"x\"".into(), "line\u{1}".into())),
            },
        ];
        let xml = render("run", &cases);
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(xml.contains("name=\"a&lt;b\"") && xml.contains("T3 &amp; &quot;x&quot;") && xml.contains("line </"));
    }
}
