//! Writing what Noisescope shows to files: pictures as PNG, processes as animated GIFs and
//! curves as CSV. Every file goes through a temporary file beside it, renamed into place once
//! complete, so that a failure or a cancelled export leaves nothing partial behind, and no
//! existing file is replaced unless that was asked for.

pub mod curves;
pub mod gif;
mod label;
pub mod picture;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use curves::{Curve, curves_csv};
pub use gif::{GifSettings, write_gif};
pub use label::stamp_label;
pub use picture::{PictureStyle, Tiles, image_grid, upscale, write_png};

/// Why an export wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file exists and replacing it was not asked for.
    #[error("{} exists: choose another name, or allow replacing it", .0.display())]
    Exists(PathBuf),
    /// The folder or file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The encoder refused the pictures.
    #[error("cannot encode {}: {message}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// What the encoder said.
        message: String,
    },
    /// Stopped before the end; nothing was written.
    #[error("cancelled: {} was not written", .0.display())]
    Cancelled(PathBuf),
    /// Nothing to write, or settings out of range.
    #[error("{0}")]
    Invalid(String),
}

/// Whether an existing file may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse (the default everywhere).
    Refuse,
    /// Replace it.
    Replace,
}

/// Writes `path` through a temporary file beside it: `write` fills the file, which is then
/// renamed into place. Creates missing folders. On any error (including
/// [`ExportError::Cancelled`] returned by `write`) the temporary file is removed and `path` is
/// left as it was.
pub fn write_atomically_with(
    path: &Path,
    overwrite: Overwrite,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    let name = path
        .file_name()
        .ok_or_else(|| ExportError::Invalid(format!("{} names no file", path.display())))?;
    if overwrite == Overwrite::Refuse && path.exists() {
        return Err(ExportError::Exists(path.to_path_buf()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let temporary = path.with_file_name(format!(".{}.noisescope-partial", name.to_string_lossy()));
    let file = fs::File::create(&temporary).map_err(io(path))?;
    let mut writer = BufWriter::new(file);
    let written = write(&mut writer)
        .and_then(|()| writer.flush().map_err(io(path)))
        .and_then(|()| {
            if overwrite == Overwrite::Refuse && path.exists() {
                return Err(ExportError::Exists(path.to_path_buf()));
            }
            fs::rename(&temporary, path).map_err(io(path))
        });
    if written.is_err() {
        drop(writer);
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// Writes `bytes` to `path` through [`write_atomically_with`].
pub fn write_bytes(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), ExportError> {
    write_atomically_with(path, overwrite, |writer| {
        writer.write_all(bytes).map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// `folder/stem.extension`, or `folder/stem-2.extension`, `-3`, … : the first that does not
/// exist, so that exports never replace one another.
pub fn free_path(folder: &Path, stem: &str, extension: &str) -> PathBuf {
    let first = folder.join(format!("{stem}.{extension}"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| folder.join(format!("{stem}-{n}.{extension}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("noisescope-export-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|r| {
                r.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn a_file_is_written_whole_and_an_existing_one_is_refused_unless_asked() {
        let dir = folder("atomic");
        let path = dir.join("a.txt");
        write_bytes(&path, b"one", Overwrite::Refuse).expect("writes");
        let again = write_atomically_with(&path, Overwrite::Refuse, |_| Ok(()));
        assert!(matches!(again, Err(ExportError::Exists(_))), "{again:?}");
        write_bytes(&path, b"two", Overwrite::Replace).expect("replaces");
        assert_eq!(fs::read(&path).expect("reads"), b"two");
        assert_eq!(entries(&dir), ["a.txt"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_write_leaves_nothing_behind_and_the_old_file_untouched() {
        let dir = folder("cancel");
        let path = dir.join("b.gif");
        fs::create_dir_all(&dir).expect("folder");
        fs::write(&path, b"old").expect("old file");
        let cancelled = write_atomically_with(&path, Overwrite::Replace, |w| {
            w.write_all(b"half").map_err(|source| ExportError::Io {
                path: path.clone(),
                source,
            })?;
            Err(ExportError::Cancelled(path.clone()))
        });
        assert!(matches!(cancelled, Err(ExportError::Cancelled(_))));
        assert_eq!(fs::read(&path).expect("reads"), b"old");
        assert_eq!(entries(&dir), ["b.gif"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_folder_is_a_clear_error() {
        let dir = folder("unwritable");
        fs::create_dir_all(&dir).expect("folder");
        // A file where the folder should be.
        let blocker = dir.join("not-a-folder");
        fs::write(&blocker, b"x").expect("file");
        let error = write_atomically_with(&blocker.join("c.png"), Overwrite::Refuse, |_| Ok(()))
            .expect_err("cannot write inside a file");
        assert!(error.to_string().starts_with("cannot write"), "{error}");
        assert_eq!(entries(&dir), ["not-a-folder"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn free_paths_count_up_past_existing_files() {
        let dir = folder("free");
        fs::create_dir_all(&dir).expect("folder");
        assert_eq!(free_path(&dir, "frame", "png"), dir.join("frame.png"));
        fs::write(dir.join("frame.png"), b"").expect("file");
        fs::write(dir.join("frame-2.png"), b"").expect("file");
        assert_eq!(free_path(&dir, "frame", "png"), dir.join("frame-3.png"));
        let _ = fs::remove_dir_all(&dir);
    }
}
