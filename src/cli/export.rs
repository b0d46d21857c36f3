//! `noisescope export --scene FILE`: a scene's picture or animation, computed and laid out as
//! the app's panel does it, without opening the window.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::DeviceArg;
use super::gif::FrameOptions;
use crate::app::ExportSettings;
use crate::app::scene_export::{SceneOutput, scene_exports};
use crate::app::scene_file::{Scene, SceneList};
use crate::export::Overwrite;

/// Options of `noisescope export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A scene list saved by the app (Scenes… → Save).
    #[arg(long)]
    pub scene: PathBuf,
    /// The scene, by name (default: the first).
    #[arg(long, conflicts_with = "number")]
    pub name: Option<String>,
    /// The scene, by its number in the list (1 = the first).
    #[arg(long)]
    pub number: Option<usize>,
    /// Write the picture at the scene's t here (one file per model, suffixed, for Reverse
    /// scenes of both models).
    #[arg(long, conflicts_with = "gif", required_unless_present = "gif")]
    pub png: Option<PathBuf>,
    /// Write the scene's process as an animated GIF here.
    #[arg(long)]
    pub gif: Option<PathBuf>,
    /// Frames, speed, size and labels.
    #[command(flatten)]
    pub frames: FrameOptions,
    /// Where the tensors are computed.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
}

/// Runs `noisescope export`.
pub fn run_export(args: &ExportArgs, out: &mut impl Write) -> anyhow::Result<()> {
    args.frames.check()?;
    let list = SceneList::read(&args.scene)?;
    for note in list.differences(None) {
        eprintln!("note: {note}");
    }
    let scene = pick(&list.scenes, args)?;
    let (target, output) = match (&args.png, &args.gif) {
        (Some(png), _) => (png, SceneOutput::Png),
        (None, Some(gif)) => (
            gif,
            SceneOutput::Gif {
                frames: args.frames.frames,
            },
        ),
        (None, None) => bail!("give --png FILE or --gif FILE"),
    };
    let overwrite = if args.force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    };
    let (device, _) = args.device.open()?;
    let requests = scene_exports(scene, output, &device, None).map_err(anyhow::Error::msg)?;
    if requests.is_empty() {
        bail!("scene \"{}\" shows nothing to export yet", scene.name);
    }
    let settings = ExportSettings {
        scale: args.frames.scale,
        fps: args.frames.fps,
        looping: !args.frames.no_loop,
        label: args.frames.label,
        ..ExportSettings::default()
    };
    let several = requests.len() > 1;
    let paths: Vec<PathBuf> = requests
        .iter()
        .map(|r| {
            if several {
                suffixed(target, r.stem())
            } else {
                target.clone()
            }
        })
        .collect();
    if let Some(existing) = paths.iter().find(|p| p.exists() && !args.force) {
        bail!(
            "{} exists: choose another file, or --force to replace it",
            existing.display()
        );
    }
    for (request, path) in requests.iter().zip(&paths) {
        let message = request.write_to(path, &settings, overwrite)?;
        writeln!(out, "{message}")?;
    }
    Ok(())
}

/// The scene `--name` or `--number` picks, the first by default.
fn pick<'a>(scenes: &'a [Scene], args: &ExportArgs) -> anyhow::Result<&'a Scene> {
    let names = || {
        scenes
            .iter()
            .map(|s| format!("\"{}\"", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (&args.name, args.number) {
        (Some(name), _) => scenes
            .iter()
            .find(|s| s.name == *name)
            .with_context(|| format!("no scene is called \"{name}\"; the list has {}", names())),
        (None, Some(number)) => number
            .checked_sub(1)
            .and_then(|i| scenes.get(i))
            .with_context(|| format!("--number {number}: the list has {} scenes", scenes.len())),
        (None, None) => scenes
            .first()
            .with_context(|| format!("{} holds no scenes", args.scene.display())),
    }
}

/// `path` with `-<stem>` before its extension.
fn suffixed(path: &Path, stem: &str) -> PathBuf {
    let base = path.file_stem().unwrap_or_default().to_string_lossy();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()));
    path.with_file_name(format!("{base}-{stem}{}", extension.unwrap_or_default()))
}
