//! The IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest file this reader inflates, to refuse runaway archives.
const MAX_BYTES: u64 = 512 * 1024 * 1024;

/// Why an IDX file could not be read; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not what the IDX format says they should be.
    #[error("{path} is not a valid IDX {expected} file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// "images (magic 0x00000803, u8, N×rows×cols)" or the labels equivalent.
        expected: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// A stack of 8-bit grayscale images from an IDX file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// All pixels, image after image, row-major.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// The pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let size = self.rows * self.cols;
        self.pixels.get(index * size..(index + 1) * size)
    }
}

const IMAGES_EXPECTED: &str = "images file (magic 0x00000803, unsigned bytes, count×rows×cols)";
const LABELS_EXPECTED: &str = "labels file (magic 0x00000801, unsigned bytes, count)";

/// Reads an images file (`*-images-idx3-ubyte`, optionally `.gz`).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, IdxError> {
    let bytes = read_maybe_gzip(path)?;
    let format = |reason: String| IdxError::Format {
        path: path.to_owned(),
        expected: IMAGES_EXPECTED,
        reason,
    };
    let header = parse_header(&bytes, IMAGES_MAGIC, 3).map_err(format)?;
    let (count, rows, cols) = (header[0], header[1], header[2]);
    let body = &bytes[16..];
    let expected = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .ok_or_else(|| format(format!("dimensions {count}×{rows}×{cols} overflow")))?;
    if body.len() != expected {
        return Err(format(format!(
            "header promises {count}×{rows}×{cols} = {expected} pixel bytes but {} follow",
            body.len()
        )));
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: body.to_vec(),
    })
}

/// Reads a labels file (`*-labels-idx1-ubyte`, optionally `.gz`).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    let bytes = read_maybe_gzip(path)?;
    let format = |reason: String| IdxError::Format {
        path: path.to_owned(),
        expected: LABELS_EXPECTED,
        reason,
    };
    let count = parse_header(&bytes, LABELS_MAGIC, 1).map_err(format)?[0];
    let body = &bytes[8..];
    if body.len() != count {
        return Err(format(format!(
            "header promises {count} labels but {} bytes follow",
            body.len()
        )));
    }
    Ok(body.to_vec())
}

/// Checks the magic number and returns the `dims` big-endian dimension sizes.
fn parse_header(bytes: &[u8], magic: u32, dims: usize) -> Result<Vec<usize>, String> {
    let header_len = 4 + 4 * dims;
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if bytes.len() >= 4 && word(0) != magic {
        return Err(format!(
            "magic number is {:#010x}, expected {magic:#010x}",
            word(0)
        ));
    }
    if bytes.len() < header_len {
        return Err(format!(
            "only {} bytes, shorter than the {header_len}-byte header",
            bytes.len()
        ));
    }
    Ok((0..dims).map(|d| word(4 + 4 * d) as usize).collect())
}

/// Reads a file, inflating it when it starts with the gzip signature.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, IdxError> {
    let io = |source| IdxError::Io {
        path: path.to_owned(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .take(MAX_BYTES)
        .read_to_end(&mut inflated)
        .map_err(io)?;
    Ok(inflated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("temp file");
        path
    }

    fn images_bytes(count: u32, rows: u32, cols: u32, body: &[u8]) -> Vec<u8> {
        let mut bytes = IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [count, rows, cols] {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(body);
        bytes
    }

    #[test]
    fn reads_plain_and_gzip_images() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = dir.path();
        let bytes = images_bytes(2, 2, 3, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let plain = read_idx_images(&write(dir, "plain", &bytes)).expect("plain");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &bytes).expect("gzip");
        let gz = encoder.finish().expect("gzip");
        let zipped = read_idx_images(&write(dir, "zipped.gz", &gz)).expect("gz");
        assert_eq!(plain, zipped);
        assert_eq!(plain.image(1), Some(&[6, 7, 8, 9, 10, 11][..]));
        assert_eq!(plain.image(2), None);
    }

    #[test]
    fn truncated_images_name_the_file_and_the_format() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = dir.path();
        let path = write(dir, "short-images", &images_bytes(2, 2, 3, &[0; 11]));
        let message = read_idx_images(&path).expect_err("truncated").to_string();
        assert!(message.contains("short-images"), "{message}");
        assert!(message.contains("0x00000803"), "{message}");
        assert!(message.contains("12 pixel bytes but 11"), "{message}");
    }

    #[test]
    fn labels_file_is_not_an_images_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = dir.path();
        let mut labels = LABELS_MAGIC.to_be_bytes().to_vec();
        labels.extend(3u32.to_be_bytes());
        labels.extend([1, 2, 3]);
        let path = write(dir, "labels", &labels);
        assert_eq!(read_idx_labels(&path).expect("labels"), vec![1, 2, 3]);
        let message = read_idx_images(&path).expect_err("wrong magic").to_string();
        assert!(message.contains("magic number is 0x00000801"), "{message}");
        let empty = write(dir, "empty", &[]);
        assert!(
            read_idx_labels(&empty)
                .expect_err("empty")
                .to_string()
                .contains("header")
        );
    }
}
