//! The boot-action tarball (compat: site-design spec §5.6): gzip-compressed
//! GNU tar, one regular file per asset, member names exactly the asset paths
//! (absolute), mode from the asset (0o600 default), uid/gid 0, mtime 0.

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

use super::BootActionError;
use super::render::RenderedAsset;

/// Build the `.tar.gz` of `assets` (each must have a path).
pub fn tarball(assets: &[RenderedAsset]) -> Result<Vec<u8>, BootActionError> {
    let encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for asset in assets {
        let path = asset.path.as_bytes();
        if path.len() >= 100 {
            // GNU long name: a `././@LongLink` entry holding the name.
            let mut long = Header::new_gnu();
            long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            long.set_entry_type(EntryType::GNULongName);
            long.set_mode(0o644);
            long.set_uid(0);
            long.set_gid(0);
            long.set_mtime(0);
            let mut name = path.to_vec();
            name.push(0);
            long.set_size(name.len() as u64);
            long.set_cksum();
            builder.append(&long, name.as_slice()).map_err(BootActionError::Tarball)?;
        }
        let mut header = Header::new_gnu();
        let cut = path.len().min(99);
        header.as_old_mut().name[..cut].copy_from_slice(&path[..cut]);
        header.set_entry_type(EntryType::Regular);
        header.set_mode(asset.permissions);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(asset.bytes.len() as u64);
        header.set_cksum();
        builder.append(&header, asset.bytes.as_slice()).map_err(BootActionError::Tarball)?;
    }
    let encoder = builder.into_inner().map_err(BootActionError::Tarball)?;
    encoder.finish().map_err(BootActionError::Tarball)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::model::AssetType;

    #[test]
    fn members_keep_absolute_paths_modes_and_zero_times() {
        let long_path = format!("/opt/{}/unit.service", "d".repeat(120));
        let assets = vec![
            RenderedAsset {
                asset_type: AssetType::File,
                path: "/var/tmp/hello.sh".into(),
                permissions: 0o555,
                bytes: b"#!/bin/sh\n".to_vec(),
            },
            RenderedAsset { asset_type: AssetType::Unit, path: long_path.clone(), permissions: 0o600, bytes: b"[Unit]\n".to_vec() },
        ];
        let bytes = tarball(&assets).expect("tarball");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let header = entry.header().clone();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).expect("read");
            let name = String::from_utf8(entry.path_bytes().into_owned()).expect("utf8");
            seen.push((name, header.mode().expect("mode"), header.mtime().expect("mtime"), header.uid().expect("uid"), content));
        }
        assert_eq!(seen[0], ("/var/tmp/hello.sh".into(), 0o555, 0, 0, b"#!/bin/sh\n".to_vec()));
        assert_eq!(seen[1].0, long_path);
        assert_eq!(seen[1].1, 0o600);
    }
}
