//! The Forward panel's jobs: x_1..x_T of one image under every compared schedule, and reading
//! the person's image file.

use std::path::PathBuf;

use crate::app::job::{Job, JobContext};
use crate::data::{IMAGE_SIDE, LoadedImage, load_user_image};
use crate::diffusion::{ForwardMode, forward_all_steps, tensor_to_vec};
use crate::gpu::gpu_values;
use crate::render::ImageStack;
use crate::schedule::Schedule;

/// x_1..x_T of one image under each schedule.
pub struct ForwardJob {
    /// The image, in [−1, 1].
    pub x0: ImageStack,
    /// The schedules, in slot order.
    pub schedules: Vec<Schedule>,
    /// Closed form or chain.
    pub mode: ForwardMode,
    /// Seed of the noise.
    pub seed: u64,
}

/// What a forward job reports: one stack per schedule, at the end.
pub type ForwardEvent = Vec<ImageStack>;

impl Job for ForwardJob {
    type Event = ForwardEvent;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, ForwardEvent>, (): &mut ()) -> Result<(), String> {
        let total = self.schedules.len();
        let mut stacks = Vec::with_capacity(total);
        for (done, schedule) in self.schedules.iter().enumerate() {
            if context.cancelled() {
                return Ok(());
            }
            let stack = forward_stack(self.x0.row(0), schedule, self.mode, self.seed, context)
                .ok_or_else(|| {
                    format!(
                        "the frames of {} could not be built",
                        schedule.spec().label()
                    )
                })?;
            stacks.push(stack);
            context.progress(done + 1, total);
        }
        context.emit(stacks);
        Ok(())
    }
}

/// x_1..x_T as a stack: read back for the CPU side (histogram, exports), and drawn from the
/// tensor's own buffer when the UI shares burn's GPU.
fn forward_stack(
    x0: &[f32],
    schedule: &Schedule,
    mode: ForwardMode,
    seed: u64,
    context: &JobContext<'_, ForwardEvent>,
) -> Option<ImageStack> {
    let frames = forward_all_steps(x0, schedule, mode, seed, context.device);
    let gpu = if context.shared_with_ui {
        gpu_values(frames.clone())
            .inspect_err(|reason| eprintln!("drawing x_t from a read-back: {reason}"))
            .ok()
    } else {
        None
    };
    let stack = ImageStack::new(tensor_to_vec(frames), IMAGE_SIDE, IMAGE_SIDE)?;
    Some(match gpu {
        Some(gpu) => stack.with_gpu_values(gpu),
        None => stack,
    })
}

/// Reads and converts an image file.
pub struct LoadImageJob(pub PathBuf);

impl Job for LoadImageJob {
    type Event = LoadedImage;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, LoadedImage>, (): &mut ()) -> Result<(), String> {
        let loaded = load_user_image(&self.0).map_err(|e| e.to_string())?;
        context.emit(loaded);
        Ok(())
    }
}
