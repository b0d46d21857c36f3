//! The project's CPU kernels against burn's reference operations: the same outputs and the same
//! gradients for the same weights, within float32 tolerance.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use noisescope::model::cpu::CpuUNet;
use noisescope::model::{UNet, UNetConfig};

/// The shipped architecture.
fn shipped_config() -> UNetConfig {
    UNetConfig::new()
        .with_base_channels(16)
        .with_channel_multipliers(vec![1, 2, 4])
        .with_dropout(0.0)
}

/// Channel counts that are not multiples of the vector width, two blocks per level, attention
/// at full resolution and a side that is not a power of two.
fn awkward_config() -> UNetConfig {
    UNetConfig::new()
        .with_image_side(12)
        .with_base_channels(12)
        .with_channel_multipliers(vec![1, 3])
        .with_blocks_per_level(2)
        .with_attention_resolutions(vec![12])
        .with_norm_groups(4)
        .with_dropout(0.0)
}

/// Adds noise to every parameter, so GroupNorm's γ and β and every bias take part.
struct Perturb<'a>(&'a Device);

impl ModuleMapper for Perturb<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let device = self.0.clone();
        param.map(move |tensor| {
            let noise = Tensor::random(tensor.shape(), Distribution::Normal(0.0, 0.1), &device);
            tensor + noise
        })
    }
}

/// Makes every parameter a leaf that gradients flow to.
struct Leaves;

impl ModuleMapper for Leaves {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| tensor.detach().require_grad())
    }
}

fn network(config: &UNetConfig, device: &Device, seed: u64) -> UNet {
    device.seed(seed);
    config.init(device).map(&mut Perturb(device))
}

fn values(tensor: Tensor<4>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}

fn random_images(batch: usize, config: &UNetConfig, device: &Device) -> Tensor<4> {
    let side = config.image_side;
    Tensor::random(
        [batch, 1, side, side],
        Distribution::Normal(0.0, 1.0),
        device,
    )
}

/// max |a − b| / (1 + max |b|).
fn relative_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = 1.0 + b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn the_cpu_kernels_compute_burns_forward_pass() {
    let device = Device::flex();
    for (config, seed) in [(shipped_config(), 1), (awkward_config(), 2)] {
        let unet = network(&config, &device, seed);
        let x = random_images(3, &config, &device);
        let t = [1, 417, 1000];
        let expected = values(unet.forward(x.clone(), &t));
        let cpu = CpuUNet::new(&unet, &config);
        let ours = cpu.forward(&values(x.clone()), &t);
        let difference = relative_difference(&ours, &expected);
        assert!(difference < 2e-5, "{config:?}: differs by {difference}");
        let scalar = cpu.scalar().forward(&values(x), &t);
        let difference = relative_difference(&scalar, &ours);
        assert!(
            difference < 2e-5,
            "scalar and vector code differ by {difference}"
        );
    }
}

/// Every float parameter's value, by id.
#[derive(Default)]
struct Ids(Vec<(ParamId, Vec<usize>)>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push((param.id, param.shape().dims::<D>().to_vec()));
    }
}

fn gradient_values(grads: &GradientsParams, id: ParamId, rank: usize) -> Option<Vec<f32>> {
    let flat = |data: TensorData| data.try_into_vec::<f32>().expect("f32 gradient");
    match rank {
        1 => grads.get::<1>(id).map(|g| flat(g.into_data())),
        2 => grads.get::<2>(id).map(|g| flat(g.into_data())),
        4 => grads.get::<4>(id).map(|g| flat(g.into_data())),
        _ => unreachable!("the U-Net has parameters of rank 1, 2 and 4"),
    }
}

#[test]
fn the_cpu_kernels_compute_burns_gradients() {
    let device = Device::flex();
    for (config, seed) in [(shipped_config(), 3), (awkward_config(), 4)] {
        let train_device = device.clone().autodiff();
        let unet = network(&config, &train_device, seed).map(&mut Leaves);
        let batch = 3;
        let x = random_images(batch, &config, &device);
        let weights = random_images(batch, &config, &device);
        let t = [3, 250, 999];
        // L = Σ w ⊙ F(x, t), so ∂L/∂F = w.
        let loss = (unet.forward(x.clone().autodiff(), &t) * weights.clone().autodiff()).sum();
        let expected = GradientsParams::from_grads(loss.backward(), &unet);

        let cpu = CpuUNet::new(&unet, &config);
        let w = values(weights);
        let len = w.len() / batch;
        let image_loss = |i: usize, out: &[f32]| {
            let w = &w[i * len..(i + 1) * len];
            let value = out.iter().zip(w).map(|(o, w)| f64::from(o * w)).sum();
            (value, w.to_vec())
        };
        let (_, grads) = cpu.gradients(&values(x), &t, 0, &image_loss);
        let ours = CpuUNet::gradients_params(&unet, &grads, &device);

        let mut ids = Ids::default();
        unet.visit(&mut ids);
        assert_eq!(ours.len(), ids.0.len(), "a gradient for every parameter");
        let mut worst = HashMap::new();
        for (id, shape) in ids.0 {
            let theirs = gradient_values(&expected, id, shape.len()).expect("burn's gradient");
            let mine = gradient_values(&ours, id, shape.len()).expect("our gradient");
            let difference = relative_difference(&mine, &theirs);
            worst.insert(format!("{shape:?}"), difference);
            assert!(
                difference < 1e-4,
                "{config:?}: the gradient of a {shape:?} parameter differs by {difference}"
            );
        }
        eprintln!("largest differences by shape: {worst:?}");
    }
}

#[test]
fn dropout_in_training_is_seeded_and_off_in_evaluation() {
    let device = Device::flex();
    let config = shipped_config().with_dropout(0.5);
    let unet = network(&config, &device, 5);
    let x = values(random_images(2, &config, &device));
    let t = [10, 600];
    let cpu = CpuUNet::new(&unet, &config);
    let sum_loss = |_: usize, out: &[f32]| {
        (
            out.iter().map(|&v| f64::from(v)).sum(),
            vec![1.0; out.len()],
        )
    };
    let (a, grads_a) = cpu.gradients(&x, &t, 7, &sum_loss);
    let (b, _) = cpu.gradients(&x, &t, 7, &sum_loss);
    let (c, _) = cpu.gradients(&x, &t, 8, &sum_loss);
    assert_eq!(a, b, "the same seed draws the same dropout");
    assert_ne!(a, c, "another seed draws another dropout");
    let evaluation: f64 = cpu.forward(&x, &t).iter().map(|&v| f64::from(v)).sum();
    assert_ne!(a, evaluation, "evaluation runs without dropout");
    let params = CpuUNet::gradients_params(&unet, &grads_a, &device);
    assert!(!params.is_empty());
}

#[test]
fn the_cpu_kernels_compute_burns_class_conditioned_pass_at_real_noise_positions() {
    let device = Device::flex();
    let config = awkward_config().with_classes(10);
    let train_device = device.clone().autodiff();
    let unet = network(&config, &train_device, 6).map(&mut Leaves);
    assert_eq!(unet.classes(), 10);
    let batch = 3;
    let x = random_images(batch, &config, &device);
    let weights = random_images(batch, &config, &device);
    // Positions between the integers (a log-SNR position), a class, "no class", and an out of
    // range class that counts as none.
    let positions = [17.25, 480.5, 903.75];
    let classes = [Some(3), None, Some(12)];
    let out = unet.forward_conditioned(x.clone().autodiff(), &positions, &classes);
    let loss = (out.clone() * weights.clone().autodiff()).sum();
    let expected = GradientsParams::from_grads(loss.backward(), &unet);

    let cpu = CpuUNet::new(&unet, &config);
    let ours = cpu.forward_conditioned(&values(x.clone()), &positions, &classes);
    let difference = relative_difference(&ours, &values(out.inner()));
    assert!(difference < 2e-5, "forward differs by {difference}");
    // The class changes the output; "no class" and an out-of-range class are the same.
    let unconditional = cpu.forward_conditioned(&values(x.clone()), &positions, &[None; 3]);
    let len = ours.len() / batch;
    assert_ne!(
        ours[..len],
        unconditional[..len],
        "class 3 differs from no class"
    );
    assert_eq!(
        ours[len..],
        unconditional[len..],
        "none and out of range are no class"
    );

    let w = values(weights);
    let image_loss = |i: usize, out: &[f32]| {
        let w = &w[i * len..(i + 1) * len];
        let value = out.iter().zip(w).map(|(o, w)| f64::from(o * w)).sum();
        (value, w.to_vec())
    };
    let (_, grads) = cpu.gradients_conditioned(&values(x), (&positions, &classes), 0, &image_loss);
    let ours = CpuUNet::gradients_params(&unet, &grads, &device);
    let mut ids = Ids::default();
    unet.visit(&mut ids);
    assert_eq!(ours.len(), ids.0.len(), "a gradient for every parameter");
    for (id, shape) in ids.0 {
        let theirs = gradient_values(&expected, id, shape.len()).expect("burn's gradient");
        let mine = gradient_values(&ours, id, shape.len()).expect("our gradient");
        let difference = relative_difference(&mine, &theirs);
        assert!(
            difference < 1e-4,
            "the gradient of a {shape:?} parameter differs by {difference}"
        );
    }
}
