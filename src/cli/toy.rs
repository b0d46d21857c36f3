//! `noisescope toy`: train the playground's MLP on 2D points, sample, and measure how close the
//! samples are to the data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::sample::SamplerArg;
use crate::diffusion::SamplerFamily;
use crate::schedule::{Schedule, ScheduleKind, ScheduleSpec};
use crate::toy::{
    DEFAULT_TOY_BATCH, DEFAULT_TOY_LR, DEFAULT_TOY_STEPS, Objective, Point, Standardiser, ToyData,
    ToyNetConfig, ToySampler, ToyTraining, chamfer_distance, energy_distance, read_csv, sample_toy,
    train_toy,
};

/// Points drawn from a built-in distribution to train on.
pub const TRAINING_POINTS: usize = 5000;

/// Objectives on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveArg {
    /// The noise ε.
    Eps,
    /// The clean point x0.
    X0,
    /// v = √ᾱ ε − √(1 − ᾱ) x0.
    V,
    /// Flow matching's velocity ε − x0 on the straight path.
    Flow,
}

/// Options of `noisescope toy`.
#[derive(Debug, Args)]
pub struct ToyArgs {
    /// moons, swiss-roll, gaussians, checkerboard, circles, smiley, or a CSV file of x,y points.
    #[arg(long)]
    pub data: String,
    /// What the network learns: eps, x0, v, or flow (flow matching).
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Eps)]
    pub objective: ObjectiveArg,
    /// The diffusion schedule (its default parameters; not used by flow matching).
    #[arg(long, value_parser = super::parse_kind, default_value = "linear")]
    pub schedule: ScheduleKind,
    /// T, the schedule's number of steps.
    #[arg(long, default_value_t = 1000)]
    pub timesteps: usize,
    /// Training steps.
    #[arg(long, default_value_t = DEFAULT_TOY_STEPS)]
    pub steps: u64,
    /// Points per training step.
    #[arg(long, default_value_t = DEFAULT_TOY_BATCH)]
    pub batch: usize,
    /// Adam's learning rate at the start (it falls along half a cosine to zero).
    #[arg(long, default_value_t = DEFAULT_TOY_LR)]
    pub lr: f64,
    /// Width of the MLP's hidden layers.
    #[arg(long, default_value_t = ToyNetConfig::new().hidden)]
    pub width: usize,
    /// Hidden layers of the MLP.
    #[arg(long, default_value_t = ToyNetConfig::new().depth)]
    pub depth: usize,
    /// Frequencies of the sine and cosine features of each coordinate (0: the raw point only).
    #[arg(long, default_value_t = ToyNetConfig::new().frequencies)]
    pub frequencies: usize,
    /// Seed of the data, the weights, the batches and the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// ddpm, ddim, dpmpp-2m, dpmpp-2m-sde, euler or heun (diffusion objectives; flow matching
    /// always takes Euler steps along its velocity).
    #[arg(long, value_enum, default_value_t = SamplerArg::Ddpm)]
    pub sampler: SamplerArg,
    /// Steps of the sampler (all but ddpm, which visits every t; flow matching's Euler steps).
    #[arg(long, default_value_t = 100)]
    pub sampler_steps: usize,
    /// Points to sample.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Output folder: data.csv, samples.csv, loss.csv and data-vs-samples.png.
    #[arg(long)]
    pub out: PathBuf,
}

impl ToyArgs {
    fn objective(&self) -> Objective {
        match self.objective {
            ObjectiveArg::Eps => Objective::Eps,
            ObjectiveArg::X0 => Objective::X0,
            ObjectiveArg::V => Objective::V,
            ObjectiveArg::Flow => Objective::Flow,
        }
    }

    fn sampler(&self) -> ToySampler {
        if self.objective() == Objective::Flow {
            return ToySampler::FlowEuler {
                steps: self.sampler_steps,
            };
        }
        let family = match self.sampler {
            SamplerArg::Ddpm => SamplerFamily::Ddpm,
            SamplerArg::Ddim => SamplerFamily::Ddim,
            SamplerArg::DpmSolver => SamplerFamily::DpmSolver,
            SamplerArg::DpmSolverSde => SamplerFamily::DpmSolverSde,
            SamplerArg::Euler => SamplerFamily::Euler,
            SamplerArg::Heun => SamplerFamily::Heun,
        };
        // Points are not images: nothing to clip x̂0 to.
        let mut config = family.chain(self.sampler_steps);
        config.clip_x0 = false;
        ToySampler::Diffusion(config)
    }

    /// The training points, and the floor's pair: points of the same distribution the model
    /// never saw against the data — fresh points against the training ones for a built-in
    /// distribution, a file's second half against its first.
    fn points(&self) -> anyhow::Result<(Vec<Point>, [Vec<Point>; 2])> {
        if let Some(data) = ToyData::parse(&self.data) {
            let points = data.sample(TRAINING_POINTS, self.seed);
            let fresh = data.sample(TRAINING_POINTS, self.seed.wrapping_add(1));
            return Ok((points.clone(), [fresh, points]));
        }
        let path = Path::new(&self.data);
        if !path.is_file() {
            let names: Vec<&str> = ToyData::ALL.iter().map(|d| d.name()).collect();
            bail!(
                "--data {}: neither a built-in distribution ({}) nor a CSV file",
                self.data,
                names.join(", ")
            );
        }
        let points = read_csv(path).map_err(anyhow::Error::msg)?;
        let half = points.len() / 2;
        let pair = [points[half..].to_vec(), points[..half].to_vec()];
        Ok((points, pair))
    }
}

/// Runs `noisescope toy`.
pub fn run_toy(args: &ToyArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.n == 0 || args.n > crate::toy::MAX_POINTS {
        bail!("--n must be between 1 and {}", crate::toy::MAX_POINTS);
    }
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let spec = ScheduleSpec {
        steps: args.timesteps,
        ..ScheduleSpec::new(args.schedule)
    };
    let schedule = Schedule::new(spec)?;
    let (points, [unseen, reference]) = args.points()?;
    let standardiser = Standardiser::fit(&points);
    let standard: Vec<Point> = points.iter().map(|&p| standardiser.apply(p)).collect();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let options = ToyTraining {
        steps: args.steps,
        seed: args.seed,
        batch: args.batch,
        learning_rate: args.lr,
        net: ToyNetConfig::new()
            .with_hidden(args.width)
            .with_depth(args.depth)
            .with_frequencies(args.frequencies),
        ..ToyTraining::new(args.objective(), schedule.clone())
    };
    let device = burn::tensor::Device::flex();
    let started = Instant::now();
    let mut losses = Vec::with_capacity(args.steps as usize);
    let net = train_toy(&standard, &options, &device, &mut |step, loss, _| {
        losses.push((step, loss));
        true
    })
    .map_err(anyhow::Error::msg)?;
    let training_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let samples = sample_toy(
        &net,
        args.objective(),
        &schedule,
        args.sampler(),
        (args.n, args.seed),
        &device,
    )
    .map_err(anyhow::Error::msg)?;
    let sampling_s = started.elapsed().as_secs_f64();
    let sampled: Vec<Point> = samples
        .points
        .iter()
        .map(|&p| standardiser.invert(p))
        .collect();
    write_points(&args.out.join("data.csv"), &points)?;
    write_points(&args.out.join("samples.csv"), &sampled)?;
    write_losses(&args.out.join("loss.csv"), &losses)?;
    let standardise =
        |set: &[Point]| -> Vec<Point> { set.iter().map(|&p| standardiser.apply(p)).collect() };
    let (unseen, reference) = (standardise(&unseen), standardise(&reference));
    super::toy_plot::save_scatter(
        &args.out.join("data-vs-samples.png"),
        &standard,
        &samples.points,
    )?;
    let distance = energy_distance(&samples.points, &standard);
    let unseen = &unseen[..args.n.min(unseen.len())];
    let floor = energy_distance(unseen, &reference);
    let chamfer = chamfer_distance(&samples.points, &standard);
    let chamfer_floor = chamfer_distance(unseen, &reference);
    let report = json!({
        "data": args.data,
        "objective": args.objective().name(),
        "schedule": schedule.spec().label(),
        "training_steps": args.steps,
        "training_seconds": training_s,
        "sampling_seconds": sampling_s,
        "points": points.len(),
        "samples": args.n,
        "standardisation": {"mean": standardiser.mean, "scale": standardiser.scale},
        "energy_distance": distance,
        "energy_distance_floor": floor,
        "energy_distance_ratio": distance / floor.max(1e-12),
        "chamfer_distance": chamfer,
        "chamfer_distance_floor": chamfer_floor,
        "chamfer_distance_ratio": chamfer / chamfer_floor.max(1e-12),
        "final_loss": losses.last().map(|l| l.1),
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

fn write_points(path: &Path, points: &[Point]) -> anyhow::Result<()> {
    let mut text = String::from("x,y\n");
    for p in points {
        text.push_str(&format!("{},{}\n", p[0], p[1]));
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn write_losses(path: &Path, losses: &[(u64, f64)]) -> anyhow::Result<()> {
    let mut text = String::from("step,loss\n");
    for (step, loss) in losses {
        text.push_str(&format!("{step},{loss}\n"));
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
