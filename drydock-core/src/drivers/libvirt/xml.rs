//! The boot order of a libvirt domain's XML (`<domain><os><boot dev='…'/>`):
//! read it, and rewrite it as the original's `set_node_boot` does (every
//! `<boot>` under `<os>` removed, the new ones appended at the end of
//! `<os>`). The rewrite edits the text in place, so everything else in the
//! document (secure data included) is passed back to libvirt byte for byte.

/// Why a domain's XML could not be read or rewritten.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The text is not XML.
    #[error("the domain XML does not parse")]
    Parse(#[source] roxmltree::Error),
    /// The root element is not `<domain>`.
    #[error("the XML's root element is <{0}>, not <domain>")]
    NotADomain(String),
    /// No `<os>` element under `<domain>`.
    #[error("the domain XML has no <os> element")]
    NoOs,
    /// `<os>` is empty (`<os/>`): no place for boot elements.
    #[error("the domain XML's <os> element is empty")]
    EmptyOs,
}

fn os_element<'a>(document: &'a roxmltree::Document<'a>) -> Result<roxmltree::Node<'a, 'a>, XmlError> {
    let root = document.root_element();
    if root.tag_name().name() != "domain" {
        return Err(XmlError::NotADomain(root.tag_name().name().to_owned()));
    }
    root.children().find(|child| child.is_element() && child.tag_name().name() == "os").ok_or(XmlError::NoOs)
}

fn boots<'a>(os: roxmltree::Node<'a, 'a>) -> impl Iterator<Item = roxmltree::Node<'a, 'a>> {
    os.children().filter(|child| child.is_element() && child.tag_name().name() == "boot")
}

/// The `dev` of every `<boot>` under `<os>`, in order (`["network", "hd"]`).
pub fn boot_order(xml: &str) -> Result<Vec<String>, XmlError> {
    let document = roxmltree::Document::parse(xml).map_err(XmlError::Parse)?;
    let os = os_element(&document)?;
    Ok(boots(os).map(|boot| boot.attribute("dev").unwrap_or_default().to_owned()).collect())
}

/// `xml` with every `<boot>` under `<os>` removed and one
/// `<boot dev='…'/>` per entry of `devices` appended to `<os>`, in order.
pub fn with_boot_order(xml: &str, devices: &[&str]) -> Result<String, XmlError> {
    let document = roxmltree::Document::parse(xml).map_err(XmlError::Parse)?;
    let os = os_element(&document)?;
    let os_range = os.range();
    let os_text = &xml[os_range.clone()];
    if os_text.ends_with("/>") {
        return Err(XmlError::EmptyOs);
    }
    // The closing tag `</os>` (roxmltree has checked it is there).
    let closing = os_range.start + os_text.rfind("</").ok_or(XmlError::EmptyOs)?;
    // Indentation: the whitespace before `<os>`'s first child element, else none.
    let indent = os
        .children()
        .find(|child| child.is_element())
        .and_then(|child| child.prev_sibling())
        .filter(|text| text.is_text())
        .and_then(|text| text.text())
        .filter(|text| text.trim().is_empty())
        .map(|text| format!("\n{}", text.rsplit('\n').next().unwrap_or_default()))
        .unwrap_or_default();
    // Edits as (range, replacement); applied from the end so earlier ranges hold.
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for boot in boots(os) {
        let mut range = boot.range();
        // Take the whitespace in front of it along, so no blank line is left.
        if let Some(text) = boot.prev_sibling().filter(|node| node.is_text()).and_then(|node| node.text())
            && text.trim().is_empty()
        {
            range.start -= text.len();
        }
        edits.push((range, String::new()));
    }
    // Insert before the whitespace that precedes `</os>`.
    let insert_at = closing - (xml[..closing].len() - xml[..closing].trim_end().len());
    let insert_at = insert_at.max(os_range.start);
    let added: String = devices.iter().map(|device| format!("{indent}<boot dev='{device}'/>")).collect();
    edits.push((insert_at..insert_at, added));
    edits.sort_by_key(|(range, _)| std::cmp::Reverse((range.start, range.end)));
    let mut out = xml.to_owned();
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "<domain type='kvm'>
  <name>n1</name>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
    <boot dev='cdrom'></boot>
    <bootmenu enable='no'/>
  </os>
  <devices>
    <graphics type='vnc' passwd='s3cret'/>
    <disk type='file'><boot order='1'/></disk>
  </devices>
</domain>
";

    #[test]
    fn reads_the_boot_order() {
        assert_eq!(boot_order(DOMAIN).expect("boot order"), ["hd", "cdrom"]);
        assert_eq!(boot_order("<domain><os><type>hvm</type></os></domain>").expect("none"), Vec::<String>::new());
    }

    #[test]
    fn rewrites_only_the_os_boot_elements() {
        let rewritten = with_boot_order(DOMAIN, &["network", "hd"]).expect("rewrite");
        assert_eq!(boot_order(&rewritten).expect("parses"), ["network", "hd"]);
        assert_eq!(
            rewritten,
            "<domain type='kvm'>
  <name>n1</name>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <bootmenu enable='no'/>
    <boot dev='network'/>
    <boot dev='hd'/>
  </os>
  <devices>
    <graphics type='vnc' passwd='s3cret'/>
    <disk type='file'><boot order='1'/></disk>
  </devices>
</domain>
"
        );
        // Running it again changes nothing more.
        assert_eq!(with_boot_order(&rewritten, &["network", "hd"]).expect("again"), rewritten);
    }

    #[test]
    fn compact_documents_and_bad_input() {
        let compact = "<domain><os><type>hvm</type><boot dev='hd'/></os></domain>";
        assert_eq!(
            with_boot_order(compact, &["network", "hd"]).expect("rewrite"),
            "<domain><os><type>hvm</type><boot dev='network'/><boot dev='hd'/></os></domain>"
        );
        assert!(matches!(with_boot_order("<domain><name>x</name></domain>", &["hd"]), Err(XmlError::NoOs)));
        assert!(matches!(with_boot_order("<domain><os/></domain>", &["hd"]), Err(XmlError::EmptyOs)));
        assert!(matches!(boot_order("<network/>"), Err(XmlError::NotADomain(name)) if name == "network"));
        assert!(matches!(boot_order("<domain><os>"), Err(XmlError::Parse(_))));
    }
}
