//! SVG as every renderer places it: plotters writes text offsets (`dy`) in em/ex, which
//! ImageMagick's renderer ignores; here they are folded into `y` in pixels.

/// plotters places SVG text with `dy` in em/ex, which ImageMagick's renderer ignores (text
/// then sits above its place: the title is cut off). This folds each `<text>`'s `dy` into
/// its `y` in pixels (1ex = 0.5em, as browsers and librsvg take it for want of font data), so
/// every renderer puts the text at the same place. A tag it does not understand stays as is.
pub(super) fn portable_svg(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(at) = rest.find("<text ") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find('>').map_or(rest.len(), |e| e + 1);
        let tag = &rest[..end];
        out.push_str(&fold_dy(tag).unwrap_or_else(|| tag.to_string()));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One `<text …>` tag with `dy` folded into `y`, or None if it lacks a number it needs.
fn fold_dy(tag: &str) -> Option<String> {
    // The value of ` name="…"` in the tag, and the span of the whole attribute.
    let attr = |name: &str| -> Option<(&str, std::ops::Range<usize>)> {
        let key = format!(" {name}=\"");
        let start = tag.find(&key)?;
        let value = start + key.len();
        let end = value + tag[value..].find('"')?;
        Some((&tag[value..end], start..end + 1))
    };
    let (dy, dy_span) = attr("dy")?;
    let (y, y_span) = attr("y")?;
    let size: f64 = attr("font-size")?.0.parse().ok()?;
    let px = match dy.strip_suffix("em") {
        Some(v) => v.parse::<f64>().ok()? * size,
        None => dy.strip_suffix("ex")?.parse::<f64>().ok()? * size * 0.5,
    };
    let y = format!(" y=\"{:.1}\"", y.parse::<f64>().ok()? + px);
    let mut spans = [(y_span, y.as_str()), (dy_span, "")];
    spans.sort_by_key(|(r, _)| r.start);
    let (mut out, mut at) = (String::with_capacity(tag.len()), 0);
    for (span, with) in spans {
        out.push_str(&tag[at..span.start]);
        out.push_str(with);
        at = span.end;
    }
    out.push_str(&tag[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dy_is_folded_into_y_in_pixels() {
        let tag = r##"<text x="5" y="10" dy="0.76em" font-size="20" fill="#000">"##;
        assert_eq!(
            fold_dy(tag).unwrap(),
            r##"<text x="5" y="25.2" font-size="20" fill="#000">"##
        );
        let ex = r#"<text y="100" dy="-0.5ex" font-size="10">"#;
        assert_eq!(fold_dy(ex).unwrap(), r#"<text y="97.5" font-size="10">"#);
    }

    #[test]
    fn a_tag_without_what_is_needed_is_left_as_is() {
        let svg =
            r#"<svg><text x="1" y="2">a</text><text y="3" dy="1in" font-size="9">b</text></svg>"#;
        assert_eq!(portable_svg(svg), svg);
    }
}
