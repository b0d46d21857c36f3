//! Reconstruction error per step: exact with a perfect denoiser, and the shape the paper reports
//! on the shipped linear model.

use burn::tensor::Device;
use noisescope::data::{IMAGE_SIDE, ProbeData};
use noisescope::diffusion::{
    OracleDenoiser, ReconPoint, ReconProbe, SamplerConfig, SamplerKind, image_batch,
};
use noisescope::model::{load_unet, shipped};
use noisescope::schedule::{Schedule, ScheduleKind, ScheduleSpec, TimestepSpacing};

fn probe_images(data: &ProbeData, n: usize, device: &Device) -> burn::Tensor<4> {
    let images = data.load(n).expect("shipped probe images");
    image_batch(images.pixels, IMAGE_SIDE, device)
}

#[test]
fn oracle_reconstruction_from_t1_is_exact_and_ddim_returns_x0_from_any_t() {
    let device = Device::flex();
    let x0 = probe_images(&ProbeData::FashionMnist, 4, &device);
    for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let schedule = Schedule::new(ScheduleSpec::new(kind)).expect("valid");
        let oracle = OracleDenoiser::new(x0.clone(), &schedule);
        let probe = ReconProbe::new(&oracle, &schedule, SamplerConfig::default(), x0.clone(), 3);
        let first = probe.measure(1).expect("t = 1").point;
        assert!(first.mse_chain < 1e-10, "{kind:?}: {first:?}");
        assert!(first.mse_x0 < 1e-10, "{kind:?}: {first:?}");
        assert!(first.mse_eps < 1e-6, "{kind:?}: {first:?}");

        let ddim = SamplerConfig {
            kind: SamplerKind::Ddim {
                steps: 20,
                eta: 0.0,
                spacing: TimestepSpacing::Trailing,
            },
            clip_x0: false,
        };
        let probe = ReconProbe::new(&oracle, &schedule, ddim, x0.clone(), 3);
        for t in [10, 300, 700] {
            let point = probe.measure(t).expect("in range").point;
            assert!(point.mse_chain < 1e-8, "{kind:?} t = {t}: {point:?}");
        }
    }
}

fn shipped_linear_curve(data: &ProbeData, t_values: &[usize]) -> Vec<ReconPoint> {
    let device = Device::flex();
    let path = shipped::path(shipped::UNET_LINEAR).expect("assets");
    let loaded = load_unet(&path, None, &device).expect("shipped linear U-Net");
    let schedule = Schedule::new(loaded.schedule.clone()).expect("valid");
    let x0 = probe_images(data, 8, &device);
    let probe = ReconProbe::new(&loaded.model, &schedule, SamplerConfig::default(), x0, 0);
    t_values
        .iter()
        .map(|&t| probe.measure(t).expect("in range").point)
        .collect()
}

/// Each point at least 80 % of the one before: rising, up to sampling noise.
fn assert_rising(points: &[ReconPoint], what: &str) {
    for pair in points.windows(2) {
        assert!(
            pair[1].mse_chain >= 0.8 * pair[0].mse_chain,
            "{what}: error fell from t = {} to t = {}: {points:?}",
            pair[0].t,
            pair[1].t
        );
    }
}

#[test]
fn shipped_linear_model_reconstructs_small_t_and_the_error_grows_with_t() {
    let t_values = [1, 5, 10, 25, 50];
    let points = shipped_linear_curve(&ProbeData::FashionMnist, &t_values);
    assert_rising(&points, "Fashion-MNIST");
    assert!(points[0].mse_chain < 1e-3, "{points:?}");
    // Below 5 % of T the chain gives the images back closely (PSNR above 20 dB).
    assert!(points.iter().all(|p| p.mse_chain < 0.04), "{points:?}");
    assert!(points[2].psnr_chain() > 28.0, "{points:?}");
    // Out of distribution: the model still removes small noise from digits it never saw.
    let unseen = shipped_linear_curve(&ProbeData::Mnist, &t_values[..3]);
    assert_rising(&unseen, "MNIST");
    assert!(unseen[2].mse_chain < 0.01, "{unseen:?}");
}
