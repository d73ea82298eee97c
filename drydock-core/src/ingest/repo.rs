//! Reading a Pegleg site repository (compat: site-design spec §8.2): the
//! site's `site/<site>/site-definition.yaml` names its type, and the site is
//! every `*.yaml` file under `global/`, `type/<type>/` and `site/<site>/`,
//! walked as Pegleg walks them (hidden files and folders and `tools/`
//! folders skipped; symbolic links to folders not followed). Files are read
//! with the same checks and bounds as a design file (regular files only,
//! the [`ReferencePolicy`]'s roots on each file's canonical path, one byte
//! limit for the whole site).
//!
//! This module and `source` are the design path's only I/O. The files
//! travel as [`SiteFiles`], or as one byte string (a bundle,
//! [`SiteFiles::to_bundle`]) where a design's bytes are expected: a design
//! reference `pegleg+file:///repo?site=NAME` reads to a bundle, so the
//! server's design cache and fetch paths carry a site unchanged.

use std::path::{Path, PathBuf};

use super::source::{ReferencePolicy, SourceError, read_file};
use super::value::Value;
use super::yaml::{YamlLimits, parse_stream};
use crate::ids::DesignRef;

/// The scheme of site-repository references.
pub const SITE_SCHEME: &str = "pegleg+file";

/// Most files a site may have.
pub const MAX_FILES: usize = 100_000;

/// Deepest folder nesting walked.
const MAX_FOLDER_DEPTH: usize = 64;

/// What a bundle starts with: a NUL, which no YAML design can contain.
const BUNDLE_MAGIC: &[u8] = b"\0drydock-site-bundle v1\n";

/// The files of one site of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFiles {
    /// The site's name.
    pub site: String,
    /// Its `data.site_type`.
    pub site_type: String,
    /// The repository, as given.
    pub root: String,
    /// Every file of the site, in the order Pegleg lists them (global, type,
    /// site; each folder's entries by name).
    pub files: Vec<SiteFile>,
}

/// One file of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    /// The path findings name (the repository as given, joined with the
    /// file's path in it).
    pub name: String,
    /// Its text.
    pub text: String,
}

/// A `pegleg+file://` reference's repository and site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRef {
    /// The repository's root folder.
    pub root: PathBuf,
    /// The site.
    pub site: String,
}

impl SiteRef {
    /// Parse `pegleg+file://[host]/path/to/repo?site=NAME`.
    pub fn parse(reference: &str) -> Option<Result<SiteRef, SourceError>> {
        let rest = reference.strip_prefix(SITE_SCHEME)?.strip_prefix("://")?;
        let invalid = |detail: &str| SourceError::SiteRepository { reference: reference.to_owned(), detail: detail.to_owned() };
        let Some((location, query)) = rest.split_once('?') else {
            return Some(Err(invalid("the reference names no site: add ?site=NAME")));
        };
        let path = match location.find('/') {
            Some(position) => &location[position..],
            None => return Some(Err(invalid("the reference has no path to the repository"))),
        };
        let site = query.split('&').find_map(|pair| pair.strip_prefix("site="));
        Some(match site {
            Some(site) => Ok(SiteRef { root: PathBuf::from(percent_decode(path)), site: percent_decode(site) }),
            None => Err(invalid("the reference names no site: add ?site=NAME")),
        })
    }

    /// The reference for `root` (made absolute by the caller) and `site`.
    pub fn reference(root: &Path, site: &str) -> DesignRef {
        DesignRef(format!("{SITE_SCHEME}://{}?site={site}", root.display()))
    }
}

/// `%XX` decoding; anything malformed is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        let decoded = (bytes[position] == b'%')
            .then(|| text.get(position + 1..position + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                position += 3;
            }
            None => {
                out.push(bytes[position]);
                position += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a site name can name a folder of `site/`.
fn valid_site_name(site: &str) -> bool {
    !site.is_empty() && site != "." && site != ".." && !site.contains(['/', '\\', '\0'])
}

/// Read the files of `site` in the repository at `root`, under `policy`,
/// at most `max_bytes` together. `reference` names the site in errors.
pub fn read_site(
    root: &Path,
    site: &str,
    reference: &DesignRef,
    policy: &ReferencePolicy,
    max_bytes: usize,
) -> Result<SiteFiles, SourceError> {
    let problem = |detail: String| SourceError::SiteRepository { reference: reference.to_string(), detail };
    if !valid_site_name(site) {
        return Err(problem(format!("{site:?} is not a site name (a folder name under site/)")));
    }
    let definition_path = root.join("site").join(site).join("site-definition.yaml");
    let definition = match read_file(&definition_path, reference, max_bytes, policy) {
        Ok(read) => read,
        Err(SourceError::NotFound { .. }) => {
            let known = list_sites(root);
            let hint = if known.is_empty() {
                format!("{} has no site/ folder with sites in it", root.display())
            } else {
                format!("the sites here are: {}", known.join(", "))
            };
            return Err(problem(format!("no site {site}: {} does not exist ({hint})", definition_path.display())));
        }
        Err(other) => return Err(other),
    };
    let site_type = site_type(&definition.bytes).map_err(|detail| problem(format!("{}: {detail}", definition_path.display())))?;
    let mut remaining = max_bytes;
    let mut files = Vec::new();
    let folders = [root.join("global"), root.join("type").join(&site_type), root.join("site").join(site)];
    for folder in &folders {
        let mut paths = Vec::new();
        walk(folder, 0, &mut paths).map_err(problem)?;
        for path in paths {
            if files.len() >= MAX_FILES {
                return Err(problem(format!("the site has more than {MAX_FILES} files")));
            }
            let read = read_file(&path, reference, remaining, policy).map_err(|error| match error {
                SourceError::TooLarge { .. } => SourceError::TooLarge { reference: reference.to_string(), limit: max_bytes },
                other => other,
            })?;
            remaining -= read.bytes.len().min(remaining);
            let text = String::from_utf8(read.bytes).map_err(|_| problem(format!("{} is not UTF-8 text", path.display())))?;
            files.push(SiteFile { name: path.display().to_string(), text });
        }
    }
    Ok(SiteFiles { site: site.to_owned(), site_type, root: root.display().to_string(), files })
}

/// The site folders of a repository, by name.
fn list_sites(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("site")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.path().join("site-definition.yaml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names.truncate(20);
    names
}

/// `data.site_type` of a site definition.
fn site_type(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let documents = parse_stream(text, &YamlLimits::default()).map_err(|error| format!("not YAML: {error}"))?;
    let definition = documents.iter().find(|document| !document.value.is_null()).ok_or("no document in it")?;
    let site_type =
        definition.value.as_map().and_then(|map| map.get("data")).and_then(Value::as_map).and_then(|data| data.get("site_type"));
    match site_type {
        Some(Value::Str(name)) if valid_site_name(name) => Ok(name.clone()),
        Some(Value::Str(name)) => Err(format!("data.site_type {name:?} is not a folder name under type/")),
        Some(other) => Err(format!("data.site_type must be a string, not a {}", other.py_type_name())),
        None => Err("no data.site_type (the site's type, a folder under type/)".into()),
    }
}

/// The `*.yaml` files under `folder` (if it exists), by name at each level,
/// as Pegleg's search lists them.
fn walk(folder: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if depth > MAX_FOLDER_DEPTH {
        return Err(format!("{} is nested more than {MAX_FOLDER_DEPTH} folders deep", folder.display()));
    }
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if depth == 0 && error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(format!("cannot list {}: {error}", folder.display())),
    };
    let mut listed: Vec<(String, PathBuf, std::fs::FileType)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| format!("cannot list {}: {error}", folder.display()))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().map_err(|error| format!("cannot inspect {}: {error}", entry.path().display()))?;
        listed.push((name, entry.path(), file_type));
        if listed.len() > MAX_FILES {
            return Err(format!("{} has more than {MAX_FILES} entries", folder.display()));
        }
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, path, file_type) in listed {
        if file_type.is_dir() {
            if name != "tools" {
                walk(&path, depth + 1, out)?;
            }
        } else if name.ends_with(".yaml") && (file_type.is_file() || file_type.is_symlink()) {
            if file_type.is_symlink() && path.is_dir() {
                continue;
            }
            out.push(path);
            if out.len() > MAX_FILES {
                return Err(format!("the site has more than {MAX_FILES} files"));
            }
        }
    }
    Ok(())
}

impl SiteFiles {
    /// The files as one byte string (see the module documentation).
    pub fn to_bundle(&self) -> Vec<u8> {
        let size: usize = self.files.iter().map(|file| file.name.len() + file.text.len() + 32).sum();
        let mut out = Vec::with_capacity(size + 128);
        out.extend_from_slice(BUNDLE_MAGIC);
        for (key, value) in [("site", &self.site), ("type", &self.site_type), ("root", &self.root)] {
            out.extend_from_slice(format!("{key} {}\n", value.replace('\n', " ")).as_bytes());
        }
        for file in &self.files {
            out.extend_from_slice(format!("file {} {}\n", file.text.len(), file.name.replace('\n', " ")).as_bytes());
            out.extend_from_slice(file.text.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The files of a bundle; `None` when `bytes` are not a bundle.
    pub fn from_bundle(bytes: &[u8]) -> Option<Result<SiteFiles, String>> {
        let body = bytes.strip_prefix(BUNDLE_MAGIC)?;
        Some(Self::parse_bundle(body))
    }

    fn parse_bundle(mut body: &[u8]) -> Result<SiteFiles, String> {
        let line = |body: &mut &[u8]| -> Result<String, String> {
            let end = body.iter().position(|&byte| byte == b'\n').ok_or("a bundle line has no end")?;
            let text = std::str::from_utf8(&body[..end]).map_err(|_| "a bundle line is not UTF-8")?.to_owned();
            *body = &body[end + 1..];
            Ok(text)
        };
        let header = |key: &str, body: &mut &[u8]| -> Result<String, String> {
            let text = line(body)?;
            text.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| format!("a bundle has no {key}"))
        };
        let site = header("site", &mut body)?;
        let site_type = header("type", &mut body)?;
        let root = header("root", &mut body)?;
        let mut files = Vec::new();
        while !body.is_empty() {
            let entry = line(&mut body)?;
            let (length, name) =
                entry.strip_prefix("file ").and_then(|rest| rest.split_once(' ')).ok_or("a bundle entry is not `file LENGTH NAME`")?;
            let length: usize = length.parse().map_err(|_| "a bundle entry's length is not a number")?;
            if body.len() < length + 1 {
                return Err("a bundle ends inside a file".into());
            }
            let text = std::str::from_utf8(&body[..length]).map_err(|_| format!("{name} is not UTF-8 text"))?.to_owned();
            body = &body[length + 1..];
            files.push(SiteFile { name: name.to_owned(), text });
            if files.len() > MAX_FILES {
                return Err(format!("a bundle has more than {MAX_FILES} files"));
            }
        }
        Ok(SiteFiles { site, site_type, root, files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let parsed = SiteRef::parse("pegleg+file:///srv/designs/treasure%20map?site=seaworthy").expect("ours").expect("valid");
        assert_eq!(parsed, SiteRef { root: "/srv/designs/treasure map".into(), site: "seaworthy".into() });
        let parsed = SiteRef::parse("pegleg+file://host/srv/repo?x=1&site=a").expect("ours").expect("valid");
        assert_eq!(parsed.root, PathBuf::from("/srv/repo"));
        assert!(SiteRef::parse("file:///srv/repo").is_none());
        assert!(SiteRef::parse("pegleg+file:///srv/repo").expect("ours").is_err());
        assert!(SiteRef::parse("pegleg+file://host?site=a").expect("ours").is_err());
        assert_eq!(SiteRef::reference(Path::new("/srv/r"), "s").0, "pegleg+file:///srv/r?site=s");
    }

    #[test]
    fn bundles_round_trip_and_are_never_yaml() {
        let files = SiteFiles {
            site: "s".into(),
            site_type: "t".into(),
            root: "/r".into(),
            files: vec![
                SiteFile { name: "/r/global/a.yaml".into(), text: "a: 1\nfile 3 x\n".into() },
                SiteFile { name: "/r/site/s/b c.yaml".into(), text: String::new() },
            ],
        };
        let bundle = files.to_bundle();
        assert!(std::str::from_utf8(&bundle).is_ok_and(|text| text.starts_with('\0')));
        assert_eq!(SiteFiles::from_bundle(&bundle), Some(Ok(files)));
        assert_eq!(SiteFiles::from_bundle(b"a: 1\n"), None);
        assert!(SiteFiles::from_bundle(&bundle[..bundle.len() - 3]).expect("a bundle").is_err());
    }

    #[test]
    fn a_site_is_its_three_folders_walked_like_pegleg() {
        let repo = tempfile::tempdir().expect("tempdir");
        let write = |path: &str, text: &str| {
            let path = repo.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write("site/one/site-definition.yaml", "schema: pegleg/SiteDefinition/v1\ndata: {site_type: small}\n");
        write("site/two/site-definition.yaml", "data: {site_type: big}\n");
        write("site/two/b.yaml", "x: 1\n");
        write("global/b/z.yaml", "b: 1\n");
        write("global/a.yaml", "a: 1\n");
        write("global/.hidden.yaml", "h: 1\n");
        write("global/.git/x.yaml", "h: 1\n");
        write("global/tools/t.yaml", "t: 1\n");
        write("global/notes.yml", "n: 1\n");
        write("type/small/t.yaml", "t: 1\n");
        write("type/big/u.yaml", "u: 1\n");
        let root = repo.path();
        let reference = SiteRef::reference(root, "one");
        let site = read_site(root, "one", &reference, &ReferencePolicy::default(), 1 << 20).expect("site");
        assert_eq!(site.site_type, "small");
        let names: Vec<String> =
            site.files.iter().map(|file| file.name.strip_prefix(&site.root).unwrap_or(&file.name).to_owned()).collect();
        assert_eq!(names, ["/global/a.yaml", "/global/b/z.yaml", "/type/small/t.yaml", "/site/one/site-definition.yaml"]);

        let error = read_site(root, "three", &reference, &ReferencePolicy::default(), 1 << 20).expect_err("no such site");
        assert!(error.to_string().contains("the sites here are: one, two"), "{error}");
        let error = read_site(root, "../x", &reference, &ReferencePolicy::default(), 1 << 20).expect_err("not a name");
        assert!(error.to_string().contains("is not a site name"), "{error}");
        let error = read_site(root, "one", &reference, &ReferencePolicy::default(), 20).expect_err("too large");
        assert!(matches!(error, SourceError::TooLarge { limit: 20, .. }), "{error}");
        write("site/one/site-definition.yaml", "data: {}\n");
        let error = read_site(root, "one", &reference, &ReferencePolicy::default(), 1 << 20).expect_err("no type");
        assert!(error.to_string().contains("no data.site_type"), "{error}");
    }
}
