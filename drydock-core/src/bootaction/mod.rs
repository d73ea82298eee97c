//! Boot actions: asset pipelines and rendering, identity keys, tarballs.
