//! Scene lists: named snapshots of what the app shows (panel, schedules, models, sampler, seed,
//! t, switching point — every panel's settings), saved as versioned JSON with the app's version
//! and a fingerprint of each weights file, so that opening one made elsewhere says what differs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::reverse::shipped_file;
use super::settings::Settings;
use crate::model::shipped;

/// The `format` field of a scene list.
pub const SCENE_FORMAT: &str = "noisescope-scenes";
/// The newest version of the format this build reads and the one it writes.
pub const SCENE_VERSION: u32 = 1;

/// The weights files a scene may use, as the assets name them.
const MODEL_FILES: [&str; 6] = [
    shipped::UNET_LINEAR,
    shipped::UNET_COSINE,
    shipped::DAE_LINEAR,
    shipped::DAE_COSINE,
    shipped::DAE_LINEAR_SEPARATE,
    shipped::DAE_COSINE_SEPARATE,
];

/// One named snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// Its name in the list.
    pub name: String,
    /// What every panel was set to (zoom, theme and export settings are not applied).
    pub settings: Settings,
}

/// The fingerprint of a weights file when the list was saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelStamp {
    /// As the assets name it (`models/unet-linear.nsw`).
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// CRC-32 of its contents, in hex.
    pub crc32: String,
}

/// A list of scenes as saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneList {
    /// Always [`SCENE_FORMAT`].
    pub format: String,
    /// The format's version.
    pub version: u32,
    /// The version of Noisescope that wrote it.
    pub app_version: String,
    /// The weights files present when it was saved.
    #[serde(default)]
    pub models: Vec<ModelStamp>,
    /// The scenes, in order.
    pub scenes: Vec<Scene>,
}

/// Why a scene list could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not JSON, or not a scene list.
    #[error("{} is not a Noisescope scene list: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and column.
        message: String,
    },
    /// Written by a newer version of the format.
    #[error(
        "{} is a scene list of format version {version}, written by Noisescope {app_version}; \
         this is Noisescope {} and reads up to version {SCENE_VERSION}",
        path.display(),
        env!("CARGO_PKG_VERSION")
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its format version.
        version: u32,
        /// The app that wrote it.
        app_version: String,
    },
    /// It could not be written.
    #[error(transparent)]
    Write(#[from] crate::export::ExportError),
}

impl SceneList {
    /// A list of `scenes` with the stamps of the weights files found in `models_dir` (the
    /// assets' when `None`).
    pub fn new(scenes: Vec<Scene>, models_dir: Option<&Path>) -> Self {
        Self {
            format: SCENE_FORMAT.to_owned(),
            version: SCENE_VERSION,
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            models: MODEL_FILES
                .iter()
                .filter_map(|file| stamp(file, models_dir))
                .collect(),
            scenes,
        }
    }

    /// Reads a list, refusing what is not one or is of a newer format.
    pub fn read(path: &Path) -> Result<Self, SceneError> {
        let text = std::fs::read_to_string(path).map_err(|source| SceneError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let malformed = |message: String| SceneError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        if value.get("format").and_then(serde_json::Value::as_str) != Some(SCENE_FORMAT) {
            return Err(malformed(format!(
                "its \"format\" is not \"{SCENE_FORMAT}\""
            )));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if let Some(version) = version.filter(|&v| v > u64::from(SCENE_VERSION)) {
            let app_version = value.get("app_version").and_then(serde_json::Value::as_str);
            return Err(SceneError::TooNew {
                path: path.to_path_buf(),
                version: u32::try_from(version).unwrap_or(u32::MAX),
                app_version: app_version.unwrap_or("?").to_owned(),
            });
        }
        serde_json::from_value(value).map_err(|e| malformed(e.to_string()))
    }

    /// Writes the list as pretty JSON, atomically; an existing file is replaced (it is the
    /// list being edited).
    pub fn write(&self, path: &Path) -> Result<(), SceneError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| SceneError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let replace = crate::export::Overwrite::Replace;
        crate::export::write_bytes(path, json.as_bytes(), replace)?;
        Ok(())
    }

    /// What differs here from where the list was saved: the app's version, and weights files
    /// that are missing or not the same (looked for in `models_dir`, the assets' when `None`).
    pub fn differences(&self, models_dir: Option<&Path>) -> Vec<String> {
        let mut notes = Vec::new();
        let here = env!("CARGO_PKG_VERSION");
        if self.app_version != here {
            notes.push(format!(
                "saved with Noisescope {}, this is {here}",
                self.app_version
            ));
        }
        for saved in &self.models {
            match stamp(&saved.file, models_dir) {
                None => notes.push(format!(
                    "{} is missing here: scenes that use it cannot sample",
                    saved.file
                )),
                Some(now) if now != *saved => notes.push(format!(
                    "{} is not the file the scenes were made with: results may differ",
                    saved.file
                )),
                Some(_) => {}
            }
        }
        notes
    }
}

/// The stamp of weights file `file`, if it exists.
fn stamp(file: &str, models_dir: Option<&Path>) -> Option<ModelStamp> {
    let path = shipped_file(file, models_dir).ok()?;
    let (bytes, crc32) = crate::model::fingerprint(&path).ok()?;
    Some(ModelStamp {
        file: file.to_owned(),
        bytes,
        crc32: format!("{crc32:08x}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("noisescope-scenes-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("folder");
        dir
    }

    #[test]
    fn a_list_round_trips_through_its_file() {
        let dir = temp("round-trip");
        let mut settings = Settings {
            cursor_t: 321,
            ..Settings::default()
        };
        settings.reverse.seed = 9;
        let scenes = vec![
            Scene {
                name: "cosine at 321".to_owned(),
                settings,
            },
            Scene {
                name: "defaults".to_owned(),
                settings: Settings::default(),
            },
        ];
        let list = SceneList::new(scenes, Some(&dir));
        let path = dir.join("lecture.json");
        list.write(&path).expect("writes");
        assert_eq!(SceneList::read(&path).expect("reads"), list);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn malformed_foreign_and_newer_files_are_refused_with_reasons() {
        let dir = temp("bad");
        let cases = [
            (
                "{ not json",
                "is not a Noisescope scene list: key must be a string",
            ),
            ("{\"format\": \"something else\"}", "its \"format\" is not"),
            (
                "{\"format\": \"noisescope-scenes\", \"version\": 1}",
                "missing field",
            ),
            (
                "{\"format\": \"noisescope-scenes\", \"version\": 7, \"app_version\": \"9.0.0\"}",
                "format version 7, written by Noisescope 9.0.0",
            ),
        ];
        for (index, (text, expected)) in cases.iter().enumerate() {
            let path = dir.join(format!("{index}.json"));
            std::fs::write(&path, text).expect("writes");
            let error = SceneList::read(&path).expect_err("refused").to_string();
            assert!(error.contains(expected), "{error}");
        }
        let missing = SceneList::read(&dir.join("none.json")).expect_err("refused");
        assert!(missing.to_string().starts_with("cannot read"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_or_changed_weights_and_another_version_are_named() {
        let dir = temp("stamps");
        std::fs::write(dir.join("unet-linear.nsw"), b"weights").expect("writes");
        std::fs::write(dir.join("unet-cosine.nsw"), b"other weights").expect("writes");
        let mut list = SceneList::new(Vec::new(), Some(&dir));
        assert_eq!(list.models.len(), 2);
        assert!(list.differences(Some(&dir)).is_empty());
        std::fs::write(dir.join("unet-linear.nsw"), b"retrained").expect("writes");
        std::fs::remove_file(dir.join("unet-cosine.nsw")).expect("removes");
        list.app_version = "0.0.1".to_owned();
        let notes = list.differences(Some(&dir));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes[0].contains("saved with Noisescope 0.0.1"));
        assert!(notes[1].contains("unet-linear.nsw is not the file"));
        assert!(notes[2].contains("unet-cosine.nsw is missing"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
