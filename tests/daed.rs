//! DAED: the diffusion model to step s, then one call of the autoencoder.

use burn::tensor::{Device, Tensor};
use noisescope::diffusion::{
    CleanImagePredictor, DaedModels, SampleSize, Sampler, SamplerConfig, SamplerKind, frac_saved,
    tensor_to_vec,
};
use noisescope::model::{UNet, UNetConfig};
use noisescope::schedule::{Schedule, ScheduleKind, ScheduleSpec, TimestepSpacing};

fn tiny_unet(device: &Device) -> UNet {
    UNetConfig::new()
        .with_base_channels(8)
        .with_channel_multipliers(vec![1, 2])
        .with_attention_resolutions(vec![])
        .with_norm_groups(4)
        .init(device)
}

/// Ho et al.'s linear schedule over fewer steps, for quick chains.
fn short_linear_schedule(steps: usize) -> Schedule {
    let spec = ScheduleSpec {
        steps,
        ..ScheduleSpec::new(ScheduleKind::Linear)
    };
    Schedule::new(spec).expect("valid")
}

/// Returns x_t scaled by a factor, and records nothing: enough to tell its output apart.
struct Halver;

impl CleanImagePredictor for Halver {
    fn predict_clean(&self, x_t: Tensor<4>, _t: usize) -> Tensor<4> {
        x_t * 0.5
    }
}

fn flat(x: &Tensor<4>) -> Vec<f32> {
    let [b, c, h, w] = x.dims();
    tensor_to_vec(x.clone().reshape([b, c * h * w]))
}

#[test]
fn switching_at_zero_is_the_full_chain_bit_for_bit() {
    let device = Device::flex();
    let unet = tiny_unet(&device);
    let schedule = short_linear_schedule(60);
    let shape = [2, 1, 28, 28];
    let plain = Sampler::from_noise(
        &unet,
        &schedule,
        SamplerConfig::default(),
        shape,
        9,
        &device,
    )
    .expect("sampler")
    .finish();
    let models = DaedModels {
        ddgm: &unet,
        dae: Some(&Halver),
        schedule: &schedule,
        config: SamplerConfig::default(),
    };
    let run = models.run(shape, 9, &device, &[6, 0, 30]).expect("run");
    let at = |s| run.handovers.iter().find(|h| h.s == s).expect("handover");
    assert_eq!(flat(&at(0).daed_x0), flat(&plain));
    assert_eq!(flat(&run.full), flat(&plain));
    assert_eq!(at(0).frac_saved, 0.0);

    let six = at(6);
    assert_eq!(six.t_state, 6);
    assert!((six.frac_saved - 0.1).abs() < 1e-12);
    assert_ne!(flat(&six.daed_x0), flat(&six.ddgm_x0));
    assert_eq!(
        run.handovers.iter().map(|h| h.s).collect::<Vec<_>>(),
        [30, 6, 0]
    );
    assert!(
        models.run(shape, 9, &device, &[60]).is_err(),
        "s must be below T"
    );
}

#[test]
fn ddim_hands_over_at_the_first_step_at_or_below_s() {
    let device = Device::flex();
    let unet = tiny_unet(&device);
    let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
    let config = SamplerConfig {
        kind: SamplerKind::Ddim {
            steps: 10,
            eta: 0.0,
            spacing: TimestepSpacing::Leading,
        },
        clip_x0: true,
    };
    let models = DaedModels::<UNet, Halver> {
        ddgm: &unet,
        dae: None,
        schedule: &schedule,
        config,
    };
    // Leading spacing's ten steps are 901, 801, …, 101, 1; from x_T the chain starts at
    // t = 1000 in place of 901 (ten steps, ten model calls), and 201, 101 and 1 are left to
    // the autoencoder's single call.
    let run = models.run([1, 1, 28, 28], 0, &device, &[250]).expect("run");
    let handover = &run.handovers[0];
    assert_eq!(handover.t_state, 201);
    assert!((handover.frac_saved - 3.0 / 10.0).abs() < 1e-12);
    assert_eq!(frac_saved(&schedule, &config, 250), Ok(3.0 / 10.0));
    // A chain that kept its states for t ≤ 250 serves every s up to 250, also those above
    // its highest kept state (201).
    let chain = models
        .record([1, 1, 28, 28], 0, &device, 250, &mut || true)
        .expect("chain");
    assert!((202..=250).all(|s| chain.serves(s)) && !chain.serves(251));
    let from_chain = models.handover(&chain, 245).expect("served");
    assert_eq!(from_chain.t_state, 201);
    assert_eq!(flat(&from_chain.daed_x0), flat(&handover.daed_x0));
    assert_eq!(
        flat(&handover.daed_x0),
        flat(&handover.ddgm_x0),
        "without an autoencoder the DAED column repeats the one-shot x̂0"
    );
}

/// The shipped autoencoders against their diffusion model's one-shot x̂0 on 32 held-out test
/// images at t = 10, 50, 100 and t_max: the fine-tuned one is a tuned copy of the model, so it
/// must be as good (within 2 %); the separate one, its own network, must at least denoise (beat
/// x_t rescaled, x_t / √ᾱ_t). The errors are printed for the README.
#[test]
fn the_shipped_autoencoders_denoise_and_the_fine_tuned_one_matches_its_model() {
    use noisescope::data::{IMAGE_SIDE, ProbeData};
    use noisescope::diffusion::{Denoiser, ReconProbe, image_batch, predict_x0};
    use noisescope::model::{load_dae, load_unet, shipped};
    use noisescope::schedule::x0_coefficients;

    let device = Device::flex();
    // Held-out images: the models trained on the training split.
    let images = ProbeData::FashionMnist.load(32).expect("test images");
    let x0 = image_batch(images.pixels, IMAGE_SIDE, &device);
    let mse = |x: Tensor<4>| f64::from((x - x0.clone()).square().mean().into_scalar::<f32>());
    for (unet_file, fine_tuned, separate) in [
        (
            shipped::UNET_LINEAR,
            shipped::DAE_LINEAR,
            shipped::DAE_LINEAR_SEPARATE,
        ),
        (
            shipped::UNET_COSINE,
            shipped::DAE_COSINE,
            shipped::DAE_COSINE_SEPARATE,
        ),
    ] {
        let ddgm = load_unet(&shipped::path(unet_file).expect("assets"), None, &device)
            .expect("shipped U-Net");
        let dae = |file: &str| {
            load_dae(
                &shipped::path(file).expect("assets"),
                Some(&ddgm.schedule),
                &device,
            )
            .expect("shipped DAE for the same schedule")
        };
        let (fine_tuned_dae, separate_dae) = (dae(fine_tuned), dae(separate));
        let schedule = Schedule::new(ddgm.schedule.clone()).expect("valid");
        let probe = ReconProbe::new(
            &ddgm.model,
            &schedule,
            SamplerConfig::default(),
            x0.clone(),
            11,
        );
        for t in [10, 50, 100, fine_tuned_dae.t_max] {
            let x_t = probe.noised(t);
            // The diffusion model asked at λ_t: right for a step- and a λ-conditioned U-Net.
            let log_snr = schedule.log_snr()[t - 1];
            let eps = Denoiser::predict_noise_at(&ddgm.model, x_t.clone(), t, log_snr);
            let one_shot = mse(predict_x0(&x_t, &eps, x0_coefficients(&schedule, t), true));
            let tuned = mse(fine_tuned_dae.predict_clean(x_t.clone(), t));
            let own = mse(separate_dae.predict_clean(x_t.clone(), t));
            let rescaled = mse(x_t / schedule.alpha_bar_at(t).sqrt());
            eprintln!(
                "{unet_file} t = {t}: one-shot {one_shot:.5}, fine-tuned DAE {tuned:.5}, \
                 separate DAE {own:.5}, x_t rescaled {rescaled:.5}"
            );
            assert!(
                tuned < 1.02 * one_shot,
                "{fine_tuned} at t = {t}: {tuned:.5} against one-shot {one_shot:.5}"
            );
            assert!(
                own < rescaled,
                "{separate} at t = {t}: {own:.5} against x_t rescaled {rescaled:.5}"
            );
        }
    }
}

#[test]
fn sampling_reports_progress_within_a_chain_and_cancels_mid_chain() {
    let device = Device::flex();
    let unet = tiny_unet(&device);
    let schedule = short_linear_schedule(40);
    let models = DaedModels {
        ddgm: &unet,
        dae: Some(&Halver),
        schedule: &schedule,
        config: SamplerConfig::default(),
    };
    let size = SampleSize {
        images: 6,
        batch: 4,
        seed: 3,
    };
    let mut seen = Vec::new();
    let images = models
        .sample_images(size, &[10], &device, &mut |done, total| {
            seen.push((done, total));
            true
        })
        .expect("sampled");
    assert_eq!(images.full.len(), 6 * 28 * 28);
    // 40 steps per chain, two chains, plus one report after each chain.
    assert_eq!(seen.len(), 2 * 40 + 2);
    assert!(seen.iter().all(|&(_, total)| total == 6));
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    assert!(
        seen.iter().any(|&(done, _)| done > 0 && done < 4),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&(6, 6)));

    let mut calls = 0;
    let cancelled = models.sample_images(size, &[10], &device, &mut |_, _| {
        calls += 1;
        calls < 5
    });
    assert!(cancelled.is_err());
    assert_eq!(calls, 5, "the chain stops at the step that is refused");
}
