//! The shipped weights: they load, and what they generate is recognised by the shipped
//! classifier far more often than noise is.

use burn::tensor::Device;
use noisescope::diffusion::{Sampler, SamplerConfig, SamplerKind, tensor_to_vec};
use noisescope::metrics::{ClassifierView, FeatureStats, frechet_distance};
use noisescope::model::{Classifier, load_classifier, load_unet, shipped};
use noisescope::noise::{NoiseStream, standard_normal};
use noisescope::schedule::{Schedule, TimestepSpacing};

const IMAGES: usize = 48;

fn classifier(device: &Device) -> Classifier {
    let path = shipped::path(shipped::CLASSIFIER).expect("assets");
    load_classifier(&path, device).expect("shipped classifier")
}

fn short_ddim_samples(file: &str, device: &Device) -> Vec<f32> {
    let path = shipped::path(file).expect("assets");
    let loaded = load_unet(&path, None, device).expect("shipped U-Net");
    let schedule = Schedule::new(loaded.schedule.clone()).expect("valid");
    let config = SamplerConfig {
        kind: SamplerKind::Ddim {
            steps: 20,
            eta: 0.0,
            spacing: TimestepSpacing::Trailing,
        },
        clip_x0: true,
    };
    let sampler = Sampler::from_noise(
        &loaded.model,
        &schedule,
        config,
        [IMAGES, 1, 28, 28],
        3,
        device,
    )
    .expect("sampler");
    tensor_to_vec(sampler.finish().reshape([IMAGES, 784]))
}

fn fid_to_test(classifier: &Classifier, images: &[f32], device: &Device) -> f64 {
    let test = noisescope::data::ProbeData::FashionMnist
        .load(2000)
        .expect("test set");
    let stats = |x: &[f32]| {
        FeatureStats::fit(&ClassifierView::of(classifier, x, device).features).expect("stats")
    };
    frechet_distance(&stats(images), &stats(&test.pixels))
}

#[test]
fn shipped_models_generate_images_the_classifier_recognises() {
    let device = Device::flex();
    let classifier = classifier(&device);
    let noise: Vec<f32> = standard_normal(1, NoiseStream::Epsilon, IMAGES * 784)
        .into_iter()
        .map(|v| v.clamp(-1.0, 1.0))
        .collect();
    let noise_view = ClassifierView::of(&classifier, &noise, &device);
    let noise_fid = fid_to_test(&classifier, &noise, &device);
    for file in [shipped::UNET_LINEAR, shipped::UNET_COSINE] {
        let samples = short_ddim_samples(file, &device);
        let view = ClassifierView::of(&classifier, &samples, &device);
        let share = view.confident_share(0.9);
        let fid = fid_to_test(&classifier, &samples, &device);
        let classes = {
            let mut c = view.classes.clone();
            c.sort_unstable();
            c.dedup();
            c.len()
        };
        eprintln!(
            "{file}: confident {share:.3} (noise {:.3}), FID {fid:.1} (noise {noise_fid:.1}), {classes} classes",
            noise_view.confident_share(0.9)
        );
        assert!(
            share >= 0.2,
            "{file}: only {share:.2} of samples recognised with p ≥ 0.9"
        );
        assert!(
            fid < 0.5 * noise_fid,
            "{file}: FID {fid:.1} against noise's {noise_fid:.1}"
        );
        assert!(
            classes >= 5,
            "{file}: samples fall in only {classes} classes"
        );
    }
}

/// The figures the README gives for the shipped U-Nets: 687 473 parameters (686 769 and the
/// embedding of ten classes and "any class") and 146.9 MFLOP per image and evaluation.
#[test]
fn the_shipped_unets_have_the_readme_s_size_and_cost() {
    use noisescope::model::parameter_count;
    let device = Device::flex();
    for file in [shipped::UNET_LINEAR, shipped::UNET_COSINE] {
        let loaded =
            load_unet(&shipped::path(file).expect("assets"), None, &device).expect("U-Net");
        assert_eq!(parameter_count(&loaded.model.module), 687_473, "{file}");
        let mflop = loaded.config.flops_per_image() as f64 / 1e6;
        assert_eq!(format!("{mflop:.1}"), "146.9", "{file}");
        // The cost is dominated by the 3×3 convolutions: 2·9·C_in·C_out per output pixel.
        // At 28×28 with 16 channels one such convolution costs 2·9·16·16·784 FLOP.
        let one_conv = 2.0 * 9.0 * 16.0 * 16.0 * 784.0 / 1e6;
        assert!(mflop > 10.0 * one_conv && mflop < 100.0 * one_conv);
    }
}
