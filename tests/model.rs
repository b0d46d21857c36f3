//! The U-Net and classifier: shapes, parameter counts, weights files, CPU vs wgpu.

mod common;

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use noisescope::diffusion::tensor_to_vec;
use noisescope::model::{
    ClassifierConfig, ModelKind, Network, TrainingRecord, UNet, UNetConfig, WeightsError,
    WeightsMetadata, load_classifier, load_unet, parameter_count, save_module,
};
use noisescope::schedule::{ScheduleKind, ScheduleSpec};

fn tiny_config() -> UNetConfig {
    UNetConfig::new()
        .with_base_channels(8)
        .with_channel_multipliers(vec![1])
        .with_attention_resolutions(vec![])
        .with_norm_groups(4)
        .with_dropout(0.0)
}

fn small_config() -> UNetConfig {
    UNetConfig::new()
        .with_base_channels(8)
        .with_channel_multipliers(vec![1, 2, 2])
        .with_norm_groups(4)
}

fn metadata(config: &UNetConfig, kind: ScheduleKind) -> WeightsMetadata {
    WeightsMetadata {
        kind: ModelKind::Unet,
        architecture: serde_json::to_value(config).expect("config serialises"),
        schedule: Some(ScheduleSpec::new(kind)),
        dae_t_max: None,
        training: TrainingRecord {
            steps: 3,
            seed: 9,
            ..TrainingRecord::default()
        },
        written_by: "test".into(),
    }
}

fn flat(tensor: Tensor<4>) -> Vec<f32> {
    let [b, c, h, w] = tensor.dims();
    tensor_to_vec(tensor.reshape([b, c * h * w]))
}

/// A fresh model saved as `unet.nsw` in `dir`.
fn saved_unet(config: &UNetConfig, kind: ScheduleKind, dir: &Path) -> (UNet, std::path::PathBuf) {
    let model = config.init(&Device::flex());
    let path = dir.join("unet.nsw");
    save_module(&model, &metadata(config, kind), &path).expect("save");
    (model, path)
}

#[test]
fn parameter_count_matches_the_hand_count() {
    // time MLP 288 + 1056, conv_in 80, one down block 1464, middle 2×1464 with self-attention
    // (304) after the first, two up blocks (16 → 8 with a 1×1 skip) 2×2192, output norm 16 and
    // conv 73: 10 593; attention at 28×28 adds 304 after the down block and each up block.
    let model = tiny_config()
        .with_attention_resolutions(vec![28])
        .init(&Device::flex());
    assert_eq!(parameter_count(&model), 10_593 + 3 * 304);
}

#[test]
fn unet_maps_images_to_noise_of_the_same_shape() {
    let device = Device::flex();
    let config = small_config();
    config.validate().expect("valid");
    let model = config.init(&device);
    let x = Tensor::<4>::random([3, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let eps = model.forward(x, &[1, 500, 1000]);
    assert_eq!(eps.dims(), [3, 1, 28, 28]);
    assert!(flat(eps).iter().all(|v| v.is_finite()));
    assert!(config.flops_per_image() > 1_000_000);
}

#[test]
fn invalid_architectures_are_rejected_with_the_reason() {
    let odd = UNetConfig::new().with_channel_multipliers(vec![1, 2, 2, 2]);
    assert!(
        odd.validate()
            .expect_err("invalid")
            .contains("not divisible by 2^3")
    );
    let groups = UNetConfig::new().with_base_channels(12).with_norm_groups(8);
    assert!(
        groups
            .validate()
            .expect_err("invalid")
            .contains("norm groups")
    );
}

#[test]
fn save_and_load_round_trip_is_bit_exact() {
    let config = small_config();
    let dir = common::temp_dir("model");
    let (model, path) = saved_unet(&config, ScheduleKind::Linear, dir.path());
    let device = Device::flex();
    let loaded = load_unet(
        &path,
        Some(&ScheduleSpec::new(ScheduleKind::Linear)),
        &device,
    )
    .expect("load");
    assert_eq!(loaded.config, config);
    assert_eq!(loaded.metadata.training.seed, 9);
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let before = flat(model.valid().forward(x.clone(), &[3, 700]));
    let after = flat(loaded.model.module.forward(x, &[3, 700]));
    assert_eq!(before, after);
}

#[test]
fn a_model_for_another_schedule_is_refused() {
    let dir = common::temp_dir("model");
    let (_, path) = saved_unet(&tiny_config(), ScheduleKind::Cosine, dir.path());
    let linear = ScheduleSpec::new(ScheduleKind::Linear);
    let error = load_unet(&path, Some(&linear), &Device::flex()).expect_err("mismatch");
    assert!(matches!(error, WeightsError::Mismatch { .. }));
    assert!(
        error.to_string().contains("trained for the schedule"),
        "{error}"
    );
}

#[test]
fn truncated_or_corrupt_files_are_refused_with_a_message() {
    let dir = common::temp_dir("model");
    let (_, path) = saved_unet(&tiny_config(), ScheduleKind::Linear, dir.path());
    let bytes = std::fs::read(&path).expect("read");
    let truncated = dir.path().join("truncated.nsw");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).expect("write");
    let error = load_unet(&truncated, None, &Device::flex()).expect_err("truncated");
    assert!(error.to_string().contains("truncated"), "{error}");

    let mut flipped = bytes.clone();
    let last = flipped.len() - 10;
    flipped[last] ^= 0xff;
    let corrupt = dir.path().join("corrupt.nsw");
    std::fs::write(&corrupt, &flipped).expect("write");
    let error = load_unet(&corrupt, None, &Device::flex()).expect_err("corrupt");
    assert!(error.to_string().contains("checksum"), "{error}");

    // Editing the metadata (the schedule linear → cosine here) is refused like damage.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text
        .find("\"Linear\"")
        .expect("the schedule kind in the metadata");
    let mut edited = bytes.clone();
    edited[at + 1..at + 7].copy_from_slice(b"Cosine");
    let edited_path = dir.path().join("edited.nsw");
    std::fs::write(&edited_path, &edited).expect("write");
    let error = load_unet(&edited_path, None, &Device::flex()).expect_err("edited");
    assert!(error.to_string().contains("checksum"), "{error}");

    let garbage = dir.path().join("garbage.nsw");
    std::fs::write(&garbage, b"PNG not weights").expect("write");
    let error = load_unet(&garbage, None, &Device::flex()).expect_err("garbage");
    assert!(error.to_string().contains("header"), "{error}");

    let missing = load_unet(Path::new("/nonexistent/unet.nsw"), None, &Device::flex());
    assert!(matches!(missing, Err(WeightsError::Io { .. })));
}

#[test]
fn a_classifier_file_is_not_a_unet() {
    let device = Device::flex();
    let classifier = ClassifierConfig::new().init(&device);
    let dir = common::temp_dir("model");
    let path = dir.path().join("classifier.nsw");
    let meta = WeightsMetadata {
        kind: ModelKind::Classifier,
        architecture: serde_json::to_value(ClassifierConfig::new()).expect("json"),
        schedule: None,
        dae_t_max: None,
        training: TrainingRecord::default(),
        written_by: "test".into(),
    };
    save_module(&classifier, &meta, &path).expect("save");
    let error = load_unet(&path, None, &device).expect_err("wrong kind");
    assert!(error.to_string().contains("holds a classifier"), "{error}");
    assert!(load_classifier(&path, &device).is_ok());
}

#[test]
fn wgpu_and_cpu_evaluate_the_same_model_alike() {
    let Some(gpu) = common::wgpu_device_or_fail() else {
        return;
    };
    let config = tiny_config().with_attention_resolutions(vec![28]);
    let dir = common::temp_dir("model");
    let (_, path) = saved_unet(&config, ScheduleKind::Linear, dir.path());
    let cpu = Device::flex();
    let on_cpu = load_unet(&path, None, &cpu).expect("cpu load").model;
    let on_gpu = load_unet(&path, None, &gpu).expect("gpu load").model;
    assert!(on_cpu.uses_cpu_kernels() && !on_gpu.uses_cpu_kernels());
    let x: Vec<f32> =
        noisescope::noise::standard_normal(4, noisescope::noise::NoiseStream::SampleStart, 2 * 784);
    let input = |device: &Device| {
        Tensor::<4>::from_data(
            burn::tensor::TensorData::new(x.clone(), [2, 1, 28, 28]),
            device,
        )
    };
    let a = flat(on_cpu.evaluate(input(&cpu), &[10, 900]));
    let b = flat(on_gpu.evaluate(input(&gpu), &[10, 900]));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "largest CPU/wgpu difference {worst}");
}

#[test]
fn a_long_ddpm_loop_on_wgpu_matches_the_cpu() {
    // A long loop of the same kernels, where fused and autotuned wgpu code has gone wrong in the
    // past; 500 steps keep lavapipe's run to a few minutes.
    use noisescope::diffusion::{Sampler, SamplerConfig};
    use noisescope::schedule::Schedule;
    let Some(gpu) = common::wgpu_device_or_fail() else {
        return;
    };
    let config = tiny_config();
    let dir = common::temp_dir("model");
    let (_, path) = saved_unet(&config, ScheduleKind::Cosine, dir.path());
    let spec = ScheduleSpec {
        steps: 500,
        ..ScheduleSpec::new(ScheduleKind::Cosine)
    };
    let schedule = Schedule::new(spec).expect("valid");
    let run = |device: &Device| {
        let model = load_unet(&path, None, device).expect("load").model;
        let sampler = Sampler::from_noise(
            &model,
            &schedule,
            SamplerConfig::default(),
            [2, 1, 28, 28],
            3,
            device,
        )
        .expect("plan");
        assert_eq!(sampler.plan().len(), 500);
        flat(sampler.finish())
    };
    let (cpu, wgpu) = (run(&Device::flex()), run(&gpu));
    let worst = cpu
        .iter()
        .zip(&wgpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(cpu.iter().all(|v| v.is_finite()));
    assert!(
        worst < 1e-2,
        "x_0 after 500 steps differs by {worst} between CPU and wgpu"
    );
}

#[test]
fn version_1_files_whose_checksum_covers_the_tensors_only_still_load() {
    let dir = common::temp_dir("model-v1");
    let (_, path) = saved_unet(&tiny_config(), ScheduleKind::Linear, dir.path());
    let bytes = std::fs::read(&path).expect("read");
    // Header, version, metadata length: rewrite as version 1 with the payload's CRC alone.
    let magic = b"NOISESCOPE-WEIGHTS\n".len();
    let meta_len = u64::from_le_bytes(bytes[magic + 4..magic + 12].try_into().expect("u64"));
    let crc_at = magic + 12 + meta_len as usize + 8;
    let payload = &bytes[crc_at + 4..];
    let mut crc = flate2::Crc::new();
    crc.update(payload);
    let mut v1 = bytes.clone();
    v1[magic..magic + 4].copy_from_slice(&1u32.to_le_bytes());
    v1[crc_at..crc_at + 4].copy_from_slice(&crc.sum().to_le_bytes());
    let v1_path = dir.path().join("v1.nsw");
    std::fs::write(&v1_path, &v1).expect("write");
    assert!(load_unet(&v1_path, None, &Device::flex()).is_ok());
    // The same file as version 2 fails: its checksum must cover the metadata too.
    let mut v2 = v1.clone();
    v2[magic..magic + 4].copy_from_slice(&2u32.to_le_bytes());
    let v2_path = dir.path().join("v2.nsw");
    std::fs::write(&v2_path, &v2).expect("write");
    assert!(load_unet(&v2_path, None, &Device::flex()).is_err());
}

#[test]
fn a_log_snr_conditioned_network_reads_the_log_snr_and_a_step_conditioned_one_the_step() {
    use noisescope::diffusion::Denoiser;
    use noisescope::model::{InferenceUNet, NoiseInput};
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let config = tiny_config().with_noise_input(NoiseInput::LogSnr);
    let model = InferenceUNet::new(config.init(&device), &config, &device);
    // The same λ at another step of another schedule: the same ε̂.
    let at = |t, log_snr| flat(model.predict_noise_at(x.clone(), t, log_snr));
    assert_eq!(at(10, 1.5), at(700, 1.5));
    assert_ne!(at(10, 1.5), at(10, -1.5));
    let config = tiny_config();
    let model = InferenceUNet::new(config.init(&device), &config, &device);
    let at = |t, log_snr| flat(model.predict_noise_at(x.clone(), t, log_snr));
    assert_eq!(
        at(10, 1.5),
        at(10, -7.0),
        "a step-conditioned network ignores λ"
    );
    assert_eq!(at(10, 1.5), flat(model.predict_noise(x.clone(), 10)));
}

#[test]
fn guidance_adds_one_plus_w_times_the_class_direction() {
    use noisescope::diffusion::Denoiser;
    use noisescope::model::{Guided, InferenceUNet};
    let device = Device::flex();
    let config = tiny_config().with_classes(10);
    let model = InferenceUNet::new(config.init(&device), &config, &device);
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let conditional = flat(model.evaluate_conditioned(x.clone(), &[40.0, 40.0], &[Some(7); 2]));
    let unconditional = flat(model.evaluate_conditioned(x.clone(), &[40.0, 40.0], &[None; 2]));
    assert_ne!(
        conditional, unconditional,
        "the class embedding changes the prediction"
    );
    let guided = |class, guidance| {
        let denoiser = Guided::new(&model, class, guidance);
        flat(denoiser.predict_noise(x.clone(), 40))
    };
    // By hand: ε̂ = ε̂_u + (1 + w)(ε̂_c − ε̂_u) with w = 2.
    for ((g, c), u) in guided(Some(7), 2.0)
        .iter()
        .zip(&conditional)
        .zip(&unconditional)
    {
        let by_hand = u + 3.0 * (c - u);
        assert!(
            (g - by_hand).abs() < 1e-4 * (1.0 + by_hand.abs()),
            "{g} vs {by_hand}"
        );
    }
    let plain = guided(Some(7), 0.0);
    let close = plain
        .iter()
        .zip(&conditional)
        .all(|(a, b)| (a - b).abs() < 1e-5);
    assert!(close, "w = 0 is the conditional model");
    assert_eq!(
        guided(None, 5.0),
        unconditional,
        "no class: the unconditional model"
    );
    let denoiser = Guided::new(&model, Some(7), 2.0);
    denoiser.predict_noise(x.clone(), 40);
    assert!(
        denoiser.take_conditional(39).is_none(),
        "kept for its own step"
    );
    denoiser.predict_noise(x.clone(), 40);
    let kept = flat(denoiser.take_conditional(40).expect("kept"));
    assert!(
        kept.iter()
            .zip(&conditional)
            .all(|(a, b)| (a - b).abs() < 1e-5)
    );
    assert!(denoiser.take_conditional(40).is_none(), "taken once");
}

#[test]
fn beyond_the_trained_log_snr_the_network_is_evaluated_at_the_nearest_trained_one() {
    use noisescope::diffusion::Denoiser;
    use noisescope::model::{Guided, InferenceUNet, NoiseInput, WithinTrainedLogSnr};
    let device = Device::flex();
    let config = tiny_config().with_noise_input(NoiseInput::LogSnr);
    let model = InferenceUNet::new(config.init(&device), &config, &device);
    let x = Tensor::<4>::random([1, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let plain = || Guided::new(&model, None, 0.0);
    let within = WithinTrainedLogSnr {
        inner: plain(),
        low: -5.0,
        high: 5.0,
    };
    let at = |d: &dyn Denoiser, log_snr| flat(d.predict_noise_at(x.clone(), 10, log_snr));
    assert_eq!(at(&within, -30.0), at(&plain(), -5.0));
    assert_eq!(at(&within, 9.0), at(&plain(), 5.0));
    assert_eq!(
        at(&within, 1.25),
        at(&plain(), 1.25),
        "inside the range: untouched"
    );
    assert_ne!(at(&within, -30.0), at(&plain(), -30.0));
}
