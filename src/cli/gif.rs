//! `noisescope gif`: the forward or the reverse process as an animated GIF of exactly N frames,
//! evenly spaced in the process's states, the first and the last included.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use image::RgbImage;

use super::sample::{ConditionArgs, ImageCount, ModelChoice, SamplerArgs};
use super::{ScheduleArgs, parse_kind};
use crate::data::{BuiltinDataset, IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{DefaultSampler, ForwardMode, Sampler, forward_all_steps, tensor_to_vec};
use crate::export::{GifSettings, Overwrite, PictureStyle, Tiles, write_gif};
use crate::schedule::ScheduleKind;

/// The most frames a GIF gets.
pub const MAX_FRAMES: usize = 1000;

/// The two processes.
#[derive(Debug, Subcommand)]
pub enum GifCommand {
    /// One image noised from x0 to x_T under a schedule (the closed form, one seeded ε).
    Forward(Box<GifForwardArgs>),
    /// A batch sampled from x_T to x0 with a trained U-Net, as a grid.
    Reverse(Box<GifReverseArgs>),
}

/// How pictures and animations are drawn: `gif` and `export` take these.
#[derive(Debug, Args)]
pub struct FrameOptions {
    /// Frames, evenly spaced over the process, the first and the last included (2–1000).
    #[arg(long, default_value_t = 50)]
    pub frames: usize,
    /// Frames per second (0.1–100).
    #[arg(long, default_value_t = 10.0)]
    pub fps: f64,
    /// Enlarge each pixel to N×N.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub scale: u32,
    /// Write "t = …" under each picture and frame.
    #[arg(long)]
    pub label: bool,
    /// Play once instead of looping.
    #[arg(long)]
    pub no_loop: bool,
}

impl FrameOptions {
    /// Refuses a frame count or rate out of range.
    pub fn check(&self) -> anyhow::Result<()> {
        if !(2..=MAX_FRAMES).contains(&self.frames) {
            bail!("--frames must be between 2 and {MAX_FRAMES}");
        }
        let (slowest, fastest) = crate::export::gif::FPS_RANGE;
        if !(slowest..=fastest).contains(&self.fps) {
            bail!("--fps must be between {slowest} and {fastest}");
        }
        Ok(())
    }
}

/// What every GIF takes.
#[derive(Debug, Args)]
pub struct GifOptions {
    /// Frames, speed, size and labels.
    #[command(flatten)]
    pub frames: FrameOptions,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// The GIF to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `noisescope gif forward`.
#[derive(Debug, Args)]
pub struct GifForwardArgs {
    /// An image file (converted to 28×28 grayscale).
    #[arg(long, conflicts_with = "index", required_unless_present = "index")]
    pub image: Option<PathBuf>,
    /// An image of the shipped Fashion-MNIST test split, by index.
    #[arg(long)]
    pub index: Option<usize>,
    /// The schedule.
    #[arg(long, value_parser = parse_kind)]
    pub schedule: ScheduleKind,
    /// The schedule's parameters.
    #[command(flatten)]
    pub params: ScheduleArgs,
    /// Seed of ε.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frames, speed, size and file.
    #[command(flatten)]
    pub gif: GifOptions,
}

/// Options of `noisescope gif reverse`.
#[derive(Debug, Args)]
pub struct GifReverseArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelChoice,
    /// The sampler (default: the Reverse panel's).
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// The images of the grid (one chain: --n at most --batch).
    #[command(flatten)]
    pub count: ImageCount,
    /// Class, guidance and sampling schedule.
    #[command(flatten)]
    pub condition: ConditionArgs,
    /// Frames, speed, size and file.
    #[command(flatten)]
    pub gif: GifOptions,
}

/// Runs `noisescope gif`.
pub fn run_gif(command: &GifCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let (options, frames) = match command {
        GifCommand::Forward(args) => (&args.gif, forward_frames(args)?),
        GifCommand::Reverse(args) => (&args.gif, reverse_frames(args)?),
    };
    let settings = GifSettings {
        fps: options.frames.fps,
        looping: !options.frames.no_loop,
    };
    let overwrite = if options.force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    };
    write_gif(&options.out, &frames, settings, overwrite, &mut |_| true)?;
    writeln!(
        out,
        "wrote {} frames to {}",
        frames.len(),
        options.out.display()
    )?;
    Ok(())
}

impl GifOptions {
    /// Refuses bad options before any work.
    fn check(&self) -> anyhow::Result<()> {
        self.frames.check()?;
        if self.out.exists() && !self.force {
            bail!(
                "{} exists: choose another --out, or --force to replace it",
                self.out.display()
            );
        }
        Ok(())
    }

    /// The frame of `count` images (a grid), enlarged, with "t = `t`" under it if asked.
    fn frame(&self, images: &[f32], count: usize, t: usize) -> RgbImage {
        let tiles = Tiles {
            images: images
                .chunks(IMAGE_PIXELS)
                .take(count)
                .map(<[f32]>::to_vec)
                .collect(),
            side: (IMAGE_SIDE, IMAGE_SIDE),
            columns: (count as f64).sqrt().ceil() as usize,
            style: PictureStyle::default(),
            t: Some(t),
        };
        tiles.render(self.frames.scale, self.frames.label)
    }
}

/// `frames` indices of `states` states, evenly spaced, the first and the last included; an
/// error when there are fewer states than frames.
pub fn frame_indices(states: usize, frames: usize) -> anyhow::Result<Vec<usize>> {
    crate::export::gif::evenly_spaced(states, frames).with_context(|| {
        format!("the process has {states} states: ask for at most that many --frames")
    })
}

fn forward_frames(args: &GifForwardArgs) -> anyhow::Result<Vec<RgbImage>> {
    args.gif.check()?;
    let schedule = args.params.build(args.schedule)?;
    let pixels = match (&args.image, args.index) {
        (Some(path), _) => super::load_image_noting(path)?,
        (None, Some(index)) => {
            let dataset = BuiltinDataset::load_shipped()?;
            dataset.image(index).with_context(|| {
                format!(
                    "--index {index}: the test split has {} images",
                    dataset.len()
                )
            })?
        }
        (None, None) => bail!("give --image FILE or --index N"),
    };
    let device = burn::tensor::Device::flex();
    let noised = tensor_to_vec(forward_all_steps(
        &pixels,
        &schedule,
        ForwardMode::ClosedForm,
        args.seed,
        &device,
    ));
    // State 0 is x0, state t is x_t.
    let state = |i: usize| -> &[f32] {
        match i {
            0 => &pixels,
            t => &noised[(t - 1) * IMAGE_PIXELS..t * IMAGE_PIXELS],
        }
    };
    let indices = frame_indices(schedule.steps() + 1, args.gif.frames.frames)?;
    Ok(indices
        .into_iter()
        .map(|i| args.gif.frame(state(i), 1, i))
        .collect())
}

fn reverse_frames(args: &GifReverseArgs) -> anyhow::Result<Vec<RgbImage>> {
    args.gif.check()?;
    let size = args.count.size()?;
    if size.images > args.count.batch {
        bail!("a GIF shows one chain: --n may be at most --batch");
    }
    args.condition.condition()?;
    let (loaded, device) = args.model.load()?;
    let conditioned = args.condition.apply(&loaded)?;
    let (denoiser, schedule) = (&conditioned.denoiser, &conditioned.schedule);
    let config = args.sampler.config(DefaultSampler::REVERSE);
    let plan = config
        .plan(schedule, schedule.steps())
        .map_err(anyhow::Error::msg)?;
    let indices = frame_indices(plan.len() + 1, args.gif.frames.frames)?;
    let n = size.images;
    let shape = [n, 1, IMAGE_SIDE, IMAGE_SIDE];
    let mut sampler =
        Sampler::from_noise(denoiser, schedule, config, shape, args.count.seed, &device)
            .map_err(anyhow::Error::msg)?;
    let grid = |x: burn::tensor::Tensor<4>, t: usize| {
        args.gif
            .frame(&tensor_to_vec(x.reshape([n, IMAGE_PIXELS])), n, t)
    };
    let mut frames = Vec::with_capacity(indices.len());
    // State k is the input of step k (x_T first); the last state is x0.
    for (k, step) in sampler.by_ref().enumerate() {
        if indices.contains(&k) {
            frames.push(grid(step.x_t, plan[k].0));
        }
    }
    if indices.contains(&plan.len()) {
        frames.push(grid(sampler.finish(), 0));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_evenly_spaced_with_both_ends_and_never_more_than_the_states() {
        assert_eq!(
            frame_indices(1001, 5).expect("fits"),
            [0, 250, 500, 750, 1000]
        );
        assert_eq!(frame_indices(51, 51).expect("fits").len(), 51);
        let eleven = frame_indices(21, 11).expect("fits");
        assert_eq!(eleven.first(), Some(&0));
        assert_eq!(eleven.last(), Some(&20));
        assert!(eleven.windows(2).all(|w| w[1] == w[0] + 2));
        assert!(frame_indices(21, 22).is_err());
    }
}
