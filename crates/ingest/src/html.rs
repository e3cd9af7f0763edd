//! Plain text from the HTML fragments sources put in descriptions.
//!
//! Apps render text, not markup, and the search index must not see tag
//! names, so tags are dropped, the few entities sources use are decoded and
//! whitespace is collapsed to single spaces.

/// Strips tags (and the content of `script`/`style`), decodes entities and
/// collapses whitespace.
pub(crate) fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let is_tag = after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!');
        if !is_tag {
            out.push('<');
            rest = after;
            continue;
        }
        let Some(close) = after.find('>') else {
            // An unclosed tag swallows the rest, as a browser would.
            rest = "";
            break;
        };
        let name: String =
            after.trim_start_matches('/').chars().take_while(char::is_ascii_alphanumeric).collect();
        let name = name.to_ascii_lowercase();
        rest = &after[close + 1..];
        if (name == "script" || name == "style") && !after.starts_with('/') {
            let end = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&end) {
                Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => "",
            };
        }
        // Tags separate words ("a<br>b" is two words).
        out.push(' ');
    }
    out.push_str(rest);
    collapse_whitespace(&decode_entities(&out))
}

/// Decodes named entities sources use and numeric ones; unknown entities
/// are kept as written.
pub(crate) fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let entity = &after[..semi];
            decode_entity(entity).map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(entity: &str) -> Option<char> {
    if let Some(num) = entity.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| !c.is_control() || c.is_whitespace());
    }
    let c = match entity {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "rsquo" | "lsquo" => '\'',
        "rdquo" | "ldquo" => '"',
        "reg" => '®',
        "trade" => '™',
        "copy" => '©',
        "deg" => '°',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        _ => return None,
    };
    Some(c)
}

pub(crate) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_word_breaks_and_entities_are_decoded() {
        assert_eq!(
            to_text("<p>Crib&nbsp;slats can <b>detach</b>.</p><p>Tom&#39;s &amp; Co&#x2019;s<br/>cribs</p>"),
            "Crib slats can detach . Tom's & Co’s cribs"
        );
    }

    #[test]
    fn script_and_style_content_is_dropped() {
        assert_eq!(to_text("a<script>alert(1)</script>b<STYLE>p{}</STYLE>c"), "a b c");
    }

    #[test]
    fn escaped_markup_stays_text_and_lone_brackets_survive() {
        assert_eq!(to_text("&lt;b&gt; 3 < 4 &bogus; AT&T"), "<b> 3 < 4 &bogus; AT&T");
        assert_eq!(to_text("cut <b"), "cut");
    }
}
