//! The command line, run as a user runs it.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use noisescope::schedule::{Schedule, ScheduleKind, ScheduleSpec, daed_switch};

fn noisescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_noisescope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Asserts that the command failed and said `text` on stderr.
fn assert_fails_with(output: &Output, text: &str) {
    assert!(!output.status.success(), "expected a failure");
    assert!(stderr(output).contains(text), "{}", stderr(output));
}

/// The distance `noisescope fid` printed ("fid 12.3456 (…)").
fn fid_value(output: &Output) -> f64 {
    stdout(output)
        .split_whitespace()
        .nth(1)
        .expect("a number")
        .parse()
        .expect("f64")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn schedule_csv_has_the_exact_header_and_full_precision() {
    let output = noisescope(&["schedule", "linear"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "t,beta,alpha_bar,log_snr,posterior_variance");
    assert_eq!(lines.len(), 1001);
    let first: Vec<f64> = lines[1]
        .split(',')
        .map(|v| v.parse().expect("number"))
        .collect();
    let expected = [1.0, 1e-4, 0.9999, (0.9999f64 / 1e-4).ln(), 0.0];
    for (value, expected) in first.iter().zip(expected) {
        assert!(
            (value - expected).abs() <= 1e-14 * expected.abs(),
            "{first:?}"
        );
    }
    assert!(
        lines[2].split(',').all(|v| v.len() > 12 || v == "2"),
        "{}",
        lines[2]
    );
    let row_488: Vec<f64> = lines[488]
        .split(',')
        .map(|v| v.parse().expect("number"))
        .collect();
    assert_eq!(row_488[0], 488.0);
    assert!((row_488[4] - 0.00979).abs() < 1e-5, "{row_488:?}");
}

#[test]
fn schedule_json_has_the_named_arrays() {
    let output = noisescope(&["schedule", "cosine", "--steps", "50", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("valid JSON");
    assert_eq!(json["kind"], "cosine");
    assert_eq!(json["steps"], 50);
    for key in ["beta", "alpha_bar", "log_snr", "posterior_variance"] {
        assert_eq!(json[key].as_array().expect(key).len(), 50, "{key}");
    }
    assert_eq!(json["beta"][49], 0.999);
}

/// A fixture written the way diffusers writes a scheduler_config.json.
fn diffusers_fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/diffusers/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_diffusers_config_prints_the_schedule_it_names_exactly_as_the_kind_does() {
    let pairs: [(&str, &[&str]); 4] = [
        ("ddpm-cifar10", &["linear"]),
        (
            "stable-diffusion-v1",
            &[
                "scaled-linear",
                "--beta-start",
                "0.00085",
                "--beta-end",
                "0.012",
            ],
        ),
        ("cosine-ddim", &["cosine"]),
        (
            "zero-snr-v-prediction",
            &[
                "scaled-linear",
                "--beta-start",
                "0.00085",
                "--beta-end",
                "0.012",
                "--zero-terminal-snr",
            ],
        ),
    ];
    for (fixture, kind) in pairs {
        let path = diffusers_fixture(fixture);
        let from_config = noisescope(&["schedule", "--from-config", &path]);
        assert!(from_config.status.success(), "{}", stderr(&from_config));
        let own = noisescope(&[&["schedule"], kind].concat());
        assert_eq!(stdout(&from_config), stdout(&own), "{fixture}");
    }
    // Stable Diffusion's terminal signal: √ᾱ_T = 0.068265 (Lin et al. 2023, section 3).
    let sd = noisescope(&[
        "schedule",
        "--from-config",
        &diffusers_fixture("stable-diffusion-v1"),
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&sd)).expect("valid JSON");
    let last = json["alpha_bar"][999].as_f64().expect("ᾱ_T");
    assert!((last.sqrt() - 0.068265).abs() < 5e-7, "{}", last.sqrt());
    // What belongs to a sampler or a network is said, not silently dropped.
    let v = noisescope(&[
        "schedule",
        "--from-config",
        &diffusers_fixture("zero-snr-v-prediction"),
    ]);
    let notes = stderr(&v);
    assert!(
        notes.contains("v_prediction") && notes.contains("trailing"),
        "{notes}"
    );
}

#[test]
fn a_schedule_written_as_a_diffusers_config_reads_back_as_itself() {
    let temp = common::temp_dir("diffusers-config");
    let path = temp.path().join("scheduler_config.json");
    let args = [
        "schedule",
        "sigmoid",
        "--steps",
        "400",
        "--beta-end",
        "0.03",
    ];
    let written = noisescope(&[&args[..], &["--format", "diffusers-config"]].concat());
    assert!(written.status.success(), "{}", stderr(&written));
    std::fs::write(&path, stdout(&written)).expect("write");
    let config: serde_json::Value = serde_json::from_str(&stdout(&written)).expect("JSON");
    assert_eq!(config["beta_schedule"], "sigmoid");
    assert_eq!(config["num_train_timesteps"], 400);
    let path = path.to_string_lossy();
    let read = noisescope(&["schedule", "--from-config", &path]);
    assert_eq!(stdout(&read), stdout(&noisescope(&args)));

    let refused = noisescope(&["schedule", "linear-combine", "--format", "diffusers-config"]);
    assert_fails_with(&refused, "no diffusers beta_schedule");
    std::fs::write(temp.path().join("bad.json"), r#"{"beta_schedule": "exp"}"#).expect("write");
    let bad = temp.path().join("bad.json");
    let bad = noisescope(&["schedule", "--from-config", &bad.to_string_lossy()]);
    assert_fails_with(&bad, "\"exp\" is not supported");
    assert_fails_with(&noisescope(&["schedule"]), "<KIND>");
}

#[test]
fn zero_terminal_snr_prints_minus_infinity_as_null_in_json() {
    let output = noisescope(&[
        "schedule",
        "linear",
        "--zero-terminal-snr",
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("valid JSON");
    assert!(json["log_snr"][999].is_null());
    assert_eq!(json["alpha_bar"][999], 0.0);
}

#[test]
fn daed_switch_prints_the_closest_step() {
    let output = noisescope(&["daed-switch", "--schedule", "linear", "--beta1", "0.02"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("valid JSON");
    let t = json["t"].as_u64().expect("t");
    let alpha_bar = json["alpha_bar"].as_f64().expect("alpha_bar");
    let linear = Schedule::new(ScheduleSpec::new(ScheduleKind::Linear)).expect("valid");
    let expected = daed_switch(&linear, 0.02).expect("valid β1");
    assert_eq!(t, expected.t as u64);
    assert!((alpha_bar - expected.alpha_bar).abs() < 1e-15, "{json}");
    assert!((alpha_bar - 0.98).abs() < 5e-4, "{json}");
    assert_eq!(json["steps_left"].as_u64(), Some(1000 - t));
    // Independently of the library: ᾱ_t = ∏ (1 − β_i) with β linear from 1e-4 to 0.02.
    let mut alpha_bar_t = 1.0f64;
    let by_hand: Vec<f64> = (0..1000)
        .map(|i| {
            alpha_bar_t *= 1.0 - (1e-4 + (0.02 - 1e-4) * f64::from(i) / 999.0);
            alpha_bar_t
        })
        .collect();
    let nearest = (0..1000)
        .min_by(|&a, &b| {
            (by_hand[a] - 0.98)
                .abs()
                .total_cmp(&(by_hand[b] - 0.98).abs())
        })
        .expect("steps");
    assert_eq!(t, nearest as u64 + 1);
    let log_snr = (by_hand[nearest] / (1.0 - by_hand[nearest])).ln();
    let printed = json["log_snr"].as_f64().expect("log_snr");
    assert!((printed - log_snr).abs() < 1e-9, "{printed} vs {log_snr}");
}

#[test]
fn bad_arguments_exit_non_zero_with_one_line() {
    let cases: [&[&str]; 10] = [
        &["sample", "--schedule", "linear"],
        &["schedule", "linear", "--steps", "0"],
        &["schedule", "linear", "--steps", "1"],
        &["schedule", "linear", "--beta-end", "1.5"],
        &["schedule", "linear", "--beta-start", "NaN"],
        &["schedule", "cosine", "--cosine-s", "-0.1"],
        &["schedule", "quad"],
        &["daed-switch", "--schedule", "linear"],
        &[
            "forward",
            "--image",
            "/nonexistent.png",
            "--schedule",
            "linear",
            "--t",
            "1",
            "--out",
            "/tmp",
        ],
        &["schedule", "linear", "--steps", "ten"],
    ];
    for args in cases {
        let output = noisescope(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let message = stderr(&output);
        assert_eq!(
            message.trim_end().lines().count(),
            1,
            "{args:?}: {message:?}"
        );
        assert!(!message.contains("panicked"), "{args:?}: {message}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
    let missing = noisescope(&["sample", "--schedule", "linear"]);
    assert_fails_with(&missing, "not provided: --out <OUT>");
}

#[test]
fn forward_writes_one_png_per_t_and_the_original() {
    let temp = common::temp_dir("forward");
    let dir = temp.path();
    let input = dir.join("input.png");
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 128])
    })
    .save(&input)
    .expect("input image");
    let out = dir.join("out");
    let output = noisescope(&[
        "forward",
        "--image",
        input.to_str().expect("utf-8 path"),
        "--schedule",
        "linear",
        "--t",
        "1,250,500,1000",
        "--seed",
        "3",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("cropped to the centre 30×30"));
    for name in ["original", "t1", "t250", "t500", "t1000"] {
        let image = image::open(out.join(format!("{name}.png")))
            .expect(name)
            .to_luma8();
        assert_eq!(image.dimensions(), (28, 28), "{name}");
    }
    let first = image::open(out.join("t1.png")).expect("t1").to_luma8();
    let original = image::open(out.join("original.png"))
        .expect("original")
        .to_luma8();
    let last = image::open(out.join("t1000.png"))
        .expect("t1000")
        .to_luma8();
    let distance = |a: &image::GrayImage| -> f64 {
        a.pixels()
            .zip(original.pixels())
            .map(|(p, q)| f64::from(p.0[0].abs_diff(q.0[0])))
            .sum::<f64>()
            / 784.0
    };
    assert!(distance(&first) < 5.0, "x_1 is close to x0");
    assert!(distance(&last) > 40.0, "x_T is mostly noise");
    let out_of_range = noisescope(&[
        "forward",
        "--image",
        input.to_str().expect("utf-8"),
        "--schedule",
        "linear",
        "--t",
        "1001",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(!out_of_range.status.success());
    assert!(stderr(&out_of_range).contains("t = 1001 is outside 1..=1000"));
}

/// A small untrained U-Net for the linear schedule with T = 50.
fn tiny_model(dir: &std::path::Path) -> PathBuf {
    tiny_network(dir, "tiny.nsw", ScheduleKind::Linear, None)
}

/// A small untrained network for `kind` with T = 50: a U-Net, or a DAE for t ≤ `dae_t_max`.
fn tiny_network(
    dir: &std::path::Path,
    name: &str,
    kind: ScheduleKind,
    dae_t_max: Option<usize>,
) -> PathBuf {
    let path = dir.join(name);
    let spec = ScheduleSpec {
        steps: 50,
        ..ScheduleSpec::new(kind)
    };
    common::tiny_network(&path, spec, dae_t_max);
    path
}

/// The frames of a GIF file.
fn gif_frames(path: &std::path::Path) -> Vec<image::RgbaImage> {
    use image::AnimationDecoder;
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("the GIF"));
    let decoder = image::codecs::gif::GifDecoder::new(file).expect("a GIF");
    let frames = decoder.into_frames().collect_frames().expect("frames");
    frames.into_iter().map(image::Frame::into_buffer).collect()
}

#[test]
fn gif_forward_writes_exactly_the_frames_asked_from_x0_to_x_t() {
    let temp = common::temp_dir("gif-forward");
    let out = temp.path().join("forward.gif");
    let out_arg = out.to_str().expect("utf-8");
    let args = [
        "gif",
        "forward",
        "--index",
        "3",
        "--schedule",
        "cosine",
        "--frames",
        "5",
        "--scale",
        "2",
        "--out",
        out_arg,
    ];
    let output = noisescope(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let frames = gif_frames(&out);
    assert_eq!(frames.len(), 5);
    assert_eq!((frames[0].width(), frames[0].height()), (2 * 30, 2 * 30));
    // The first frame is the image itself, the last nearly pure noise: they differ.
    assert_ne!(frames[0], frames[4]);
    assert_fails_with(&noisescope(&args), "--force");
    let replaced = noisescope(&[&args[..], &["--force", "--label"]].concat());
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    let labelled = gif_frames(&out);
    // A 7-pixel strip under each frame says its t: the strips of t = 0 and t = 1000 differ.
    assert_eq!(labelled[0].height(), 2 * 30 + 7);
    let strip = |frame: &image::RgbaImage| -> Vec<u8> {
        frame.rows().skip(60).flatten().flat_map(|p| p.0).collect()
    };
    assert_ne!(strip(&labelled[0]), strip(&labelled[4]));
    let picture = image::imageops::crop_imm(&labelled[0], 0, 0, 60, 60).to_image();
    assert_eq!(picture, frames[0]);
    let too_many = [
        "gif",
        "forward",
        "--index",
        "3",
        "--schedule",
        "linear",
        "--steps",
        "10",
        "--frames",
        "12",
        "--out",
        out_arg,
        "--force",
    ];
    assert_fails_with(&noisescope(&too_many), "at most that many --frames");
    let no_image = [
        "gif",
        "forward",
        "--index",
        "99999",
        "--schedule",
        "linear",
        "--out",
        "x.gif",
    ];
    assert_fails_with(&noisescope(&no_image), "--index 99999");
}

#[test]
fn gif_reverse_writes_one_grid_per_frame_from_x_t_to_the_samples() {
    let temp = common::temp_dir("gif-reverse");
    let model = tiny_model(temp.path());
    let out = temp.path().join("reverse.gif");
    let output = noisescope(&[
        "gif",
        "reverse",
        "--model",
        model.to_str().expect("utf-8"),
        "--sampler",
        "ddim",
        "--steps",
        "4",
        "--n",
        "4",
        "--frames",
        "5",
        "--scale",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let frames = gif_frames(&out);
    assert_eq!(frames.len(), 5, "x_T, the three states between, and x0");
    assert_eq!(frames[0].width(), 2 * 29 + 1, "a 2 × 2 grid");
    let six = noisescope(&[
        "gif",
        "reverse",
        "--model",
        model.to_str().expect("utf-8"),
        "--sampler",
        "ddim",
        "--steps",
        "4",
        "--frames",
        "6",
        "--out",
        temp.path().join("six.gif").to_str().expect("utf-8"),
    ]);
    assert_fails_with(&six, "5 states");
    assert!(!temp.path().join("six.gif").exists(), "nothing written");
}

#[test]
fn sample_writes_pngs_and_every_frame() {
    let temp = common::temp_dir("sample");
    let dir = temp.path();
    let model = tiny_model(dir);
    let out = dir.join("out");
    let output = noisescope(&[
        "sample",
        "--model",
        model.to_str().expect("utf-8"),
        "--sampler",
        "ddpm",
        "--n",
        "3",
        "--batch",
        "2",
        "--seed",
        "4",
        "--out",
        out.to_str().expect("utf-8"),
        "--frames",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let samples = std::fs::read_dir(&out).expect("out").filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("sample-"))
    });
    assert_eq!(samples.count(), 3);
    let frames = std::fs::read_dir(out.join("frames"))
        .expect("frames")
        .count();
    assert_eq!(frames, 50, "one grid per step of T = 50");
    for name in ["t0050.png", "t0001.png"] {
        assert!(out.join("frames").join(name).is_file(), "{name}");
    }
    let first = image::open(out.join("sample-00000.png")).expect("png");
    assert_eq!((first.width(), first.height()), (28, 28));

    let ddim = noisescope(&[
        "sample",
        "--model",
        model.to_str().expect("utf-8"),
        "--sampler",
        "ddim",
        "--steps",
        "60",
        "--n",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_fails_with(&ddim, "between 1 and T = 50");
    assert!(
        stderr(&output).contains("sampled 3/3"),
        "progress on stderr"
    );
}

#[test]
fn sample_refuses_before_creating_anything() {
    let temp = common::temp_dir("sample-refusals");
    let dir = temp.path();
    let model = tiny_model(dir);
    let model = model.to_str().expect("utf-8");
    let fresh = dir.join("fresh");
    let fresh_out = fresh.to_str().expect("utf-8");
    let bad_steps = noisescope(&[
        "sample",
        "--model",
        model,
        "--sampler",
        "ddim",
        "--steps",
        "60",
        "--out",
        fresh_out,
    ]);
    assert_fails_with(&bad_steps, "between 1 and T = 50");
    assert!(!fresh.exists(), "no folder is left behind");
    let huge = noisescope(&[
        "sample",
        "--model",
        model,
        "--n",
        "100000000",
        "--frames",
        "--out",
        fresh_out,
    ]);
    assert_fails_with(&huge, "at most 100000");
    assert!(!fresh.exists());
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, b"x").expect("write");
    let under_a_file = a_file.join("out");
    let unwritable = noisescope(&[
        "sample",
        "--model",
        model,
        "--out",
        under_a_file.to_str().expect("utf-8"),
    ]);
    assert_fails_with(&unwritable, "cannot create");
}

#[test]
fn fid_of_a_set_with_itself_is_zero_and_bad_folders_are_named() {
    let temp = common::temp_dir("fid");
    let dir = temp.path();
    let a = dir.join("a");
    std::fs::create_dir_all(&a).expect("dir");
    for i in 0..6u8 {
        let image = image::GrayImage::from_fn(28, 28, |x, y| {
            image::Luma([((x * 9 + y * (u32::from(i) + 1)) % 256) as u8])
        });
        image.save(a.join(format!("{i}.png"))).expect("png");
    }
    let classifier = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/models/classifier.nsw");
    let a_str = a.to_str().expect("utf-8");
    let output = noisescope(&[
        "fid",
        "--a",
        a_str,
        "--b",
        a_str,
        "--classifier",
        classifier,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value = fid_value(&output);
    assert!(value.abs() < 1e-6, "{}", stdout(&output));
    let output = noisescope(&[
        "fid",
        "--a",
        a_str,
        "--b",
        "test-set",
        "--n",
        "200",
        "--classifier",
        classifier,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value = fid_value(&output);
    assert!(
        value > 1.0,
        "patterns are far from clothes: {}",
        stdout(&output)
    );

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    std::fs::write(empty.join("notes.txt"), "not an image").expect("write");
    let output = noisescope(&[
        "fid",
        "--a",
        empty.to_str().expect("utf-8"),
        "--b",
        a_str,
        "--classifier",
        classifier,
    ]);
    assert_fails_with(&output, "no readable images");
}

#[test]
fn train_names_a_missing_data_folder() {
    let temp = common::temp_dir("train-missing");
    let dir = temp.path();
    let output = noisescope(&[
        "train",
        "--data",
        dir.join("nowhere").to_str().expect("utf-8"),
        "--schedule",
        "linear",
        "--steps",
        "1",
        "--out",
        dir.join("m.nsw").to_str().expect("utf-8"),
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("train-images-idx3-ubyte") && message.contains("nowhere"),
        "{message}"
    );
}

#[test]
fn the_shipped_classifier_recognises_the_test_set() {
    use noisescope::data::BuiltinDataset;
    use noisescope::metrics::ClassifierView;
    let device = burn::tensor::Device::flex();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/classifier.nsw");
    let classifier =
        noisescope::model::load_classifier(&path, &device).expect("the shipped classifier loads");
    let data = BuiltinDataset::load_shipped().expect("dataset");
    let indices: Vec<usize> = (0..2000).collect();
    let images: Vec<f32> = indices
        .iter()
        .flat_map(|&i| data.image(i).expect("image"))
        .collect();
    let view = ClassifierView::of(&classifier, &images, &device);
    let correct = indices
        .iter()
        .filter(|&&i| data.label(i) == Some(view.classes[i] as u8))
        .count();
    assert!(
        correct as f64 / 2000.0 >= 0.89,
        "accuracy {}",
        correct as f64 / 2000.0
    );
}

#[test]
fn recon_prints_one_csv_row_per_step_and_checks_the_t_list() {
    let output = noisescope(&["recon", "--model", "cosine", "--n", "2", "--t", "10,3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("sorted"), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "t,t_frac,log_snr,mse_chain,mse_x0,mse_eps");
    assert_eq!(lines.len(), 3, "{text}");
    let rows: Vec<Vec<f64>> = lines[1..]
        .iter()
        .map(|l| l.split(',').map(|v| v.parse().expect("number")).collect())
        .collect();
    assert_eq!((rows[0][0], rows[1][0]), (3.0, 10.0));
    assert!((rows[1][1] - 0.01).abs() < 1e-12);
    assert!(rows[0][2] > rows[1][2], "λ falls with t");
    assert!(
        rows.iter()
            .all(|r| r[3..].iter().all(|v| v.is_finite() && *v >= 0.0))
    );

    assert_fails_with(&noisescope(&["recon", "--t", "0,5"]), "1-based");
    assert_fails_with(&noisescope(&["recon", "--t", "5,2000"]), "outside 1..=1000");
    let temp = common::temp_dir("recon-empty");
    let empty = temp.path();
    let folder = empty.to_str().expect("utf-8");
    assert_fails_with(
        &noisescope(&["recon", "--data", folder]),
        "no readable images",
    );
}

#[test]
fn daed_hands_over_at_the_automatic_switch_and_refuses_a_mismatched_autoencoder() {
    let temp = common::temp_dir("daed");
    let dir = temp.path();
    let model = tiny_model(dir);
    let dae = tiny_network(dir, "dae.nsw", ScheduleKind::Linear, Some(12));
    let other = tiny_network(dir, "dae-cosine.nsw", ScheduleKind::Cosine, Some(12));
    let out = dir.join("out");
    let path = |p: &PathBuf| p.to_str().expect("utf-8").to_owned();
    let daed = |dae: &PathBuf, extra: &[&str]| {
        let mut args = vec![
            "daed".to_owned(),
            "--model".into(),
            path(&model),
            "--dae".into(),
            path(dae),
            "--n".into(),
            "3".into(),
            "--batch".into(),
            "2".into(),
            "--out".into(),
            path(&out),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        noisescope(&args)
    };
    let output = daed(&dae, &["--switch", "auto", "--beta1", "0.01"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(stdout(&output).trim()).expect("json");
    let expected = daed_switch(
        &Schedule::new(ScheduleSpec {
            steps: 50,
            ..ScheduleSpec::new(ScheduleKind::Linear)
        })
        .expect("valid"),
        0.01,
    )
    .expect("switch");
    assert_eq!(report["t_switch"], expected.t);
    assert_eq!(report["auto"], true);
    let written = std::fs::read_dir(out.join("daed"))
        .expect("daed folder")
        .count();
    assert_eq!(written, 3);
    for grid in ["full.png", "ddgm-x0.png", "daed.png"] {
        assert!(out.join(grid).is_file(), "{grid}");
    }

    assert_fails_with(
        &daed(&other, &["--switch", "5"]),
        "was trained for the schedule",
    );
    assert_fails_with(&daed(&dae, &["--switch", "auto"]), "--beta1");
    assert_fails_with(
        &daed(&dae, &["--switch", "soon"]),
        "expected a step or `auto`",
    );
}

#[test]
fn daed_sweep_prints_one_fid_row_per_switch() {
    let temp = common::temp_dir("daed-sweep");
    let dir = temp.path();
    let model = tiny_model(dir);
    let dae = tiny_network(dir, "dae.nsw", ScheduleKind::Linear, Some(12));
    let sweep_args = vec![
        "daed-sweep",
        "--model",
        model.to_str().expect("utf-8"),
        "--dae",
        dae.to_str().expect("utf-8"),
        "--sampler",
        "ddim",
        "--steps",
        "10",
        "--n",
        "6",
    ];
    let sweep = |list: &str| {
        let mut args = sweep_args.clone();
        args.extend(["--switch-list", list]);
        noisescope(&args)
    };
    assert_fails_with(&sweep("0,50"), "must lie in 0..50");
    let output = sweep("10,0,3");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "t_switch,frac_saved,fid_daed,fid_ddgm_x0,fid_full"
    );
    let rows: Vec<Vec<f64>> = lines[1..]
        .iter()
        .map(|l| l.split(',').map(|v| v.parse().expect("number")).collect())
        .collect();
    assert_eq!(
        rows.iter().map(|r| r[0]).collect::<Vec<_>>(),
        [10.0, 0.0, 3.0]
    );
    let zero = &rows[1];
    assert_eq!(zero[1], 0.0);
    assert_eq!(zero[2], zero[4], "DAED at s = 0 is the full chain");
    assert!(rows[0][1] > rows[2][1], "a later switch saves more steps");
    assert!(
        rows.iter()
            .all(|r| r[2..].iter().all(|v| v.is_finite() && *v >= 0.0))
    );
    let mut as_json = sweep_args.clone();
    as_json.extend(["--switch-list", "10,0,3", "--format", "json"]);
    let output = noisescope(&as_json);
    assert!(output.status.success(), "{}", stderr(&output));
    let points: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    let points = points.as_array().expect("an array");
    assert_eq!(points.len(), 3);
    for (point, row) in points.iter().zip(&rows) {
        for (i, key) in [
            "t_switch",
            "frac_saved",
            "fid_daed",
            "fid_ddgm_x0",
            "fid_full",
        ]
        .iter()
        .enumerate()
        {
            let value = point[key].as_f64().expect(key);
            assert!(
                (value - row[i]).abs() <= 1e-4 * (1.0 + row[i].abs()),
                "{key}"
            );
        }
    }
}

#[test]
fn evaluate_measures_its_floor_on_as_many_images_as_it_samples() {
    let temp = common::temp_dir("evaluate");
    let dir = temp.path();
    let model = tiny_model(dir);
    common::tiny_dataset(dir);
    let evaluate = |model: &PathBuf, extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--model",
            model.to_str().expect("utf-8"),
            "--sampler",
            "ddim",
            "--steps",
            "2",
            "--n",
            "12",
            "--batch",
            "12",
            "--data",
            dir.to_str().expect("utf-8"),
        ];
        args.extend(extra);
        noisescope(&args)
    };
    let output = evaluate(&model, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(report["samples"], 12);
    assert_eq!(report["floor_images"], 12);
    assert_eq!(report["model_calls_per_image"], 2);
    assert!(
        report.get("class").is_none(),
        "unconditional: no class report"
    );

    // Asked for a class: how often the classifier agrees, against real images of that class.
    let conditioned = dir.join("conditioned.nsw");
    let spec = ScheduleSpec {
        steps: 50,
        ..ScheduleSpec::new(ScheduleKind::Linear)
    };
    common::tiny_network_of(&conditioned, spec, None, (10, false));
    let for_a_bag = ["--class", "Bag", "--guidance", "1"];
    let output = evaluate(&conditioned, &for_a_bag);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(report["class"], "Bag");
    let share = report["class_share_samples"].as_f64().expect("share");
    assert!((0.0..=1.0).contains(&share));
    let real = report["class_share_test"].as_f64().expect("real share");
    assert!(real > 0.9, "the shipped classifier knows real bags: {real}");
    assert_eq!(report["meets_class_bar"], share >= real.min(0.9));
    assert_fails_with(&evaluate(&model, &for_a_bag), "not class-conditioned");

    // Every class in turn.
    let output = evaluate(&conditioned, &["--per-class", "--guidance", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    let classes = report["classes"].as_array().expect("rows");
    assert_eq!(classes.len(), 10);
    assert_eq!(classes[8]["class"], "Bag");
    assert_eq!(classes[8]["class_share_test"], real, "the same real share");
    assert_eq!(report["guidance"], 2.0);
    let mean = classes
        .iter()
        .map(|c| c["class_share_samples"].as_f64().expect("share"))
        .sum::<f64>()
        / 10.0;
    let reported = report["mean_class_share_samples"].as_f64().expect("mean");
    assert!((mean - reported).abs() < 1e-12);
    let every = classes.iter().all(|c| c["meets_class_bar"] == true);
    assert_eq!(report["meets_class_bar"], every && mean >= 0.9);
    assert_fails_with(
        &evaluate(&conditioned, &["--per-class", "--class", "Bag"]),
        "leave out --class",
    );
}

#[test]
fn schedule_warns_on_stderr_about_a_falling_beta_range() {
    let output = noisescope(&[
        "schedule",
        "linear",
        "--beta-start",
        "0.02",
        "--beta-end",
        "0.0001",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: β_start = 0.02 > β_end"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).starts_with("t,beta,"),
        "the table still goes to stdout"
    );
    let plain = noisescope(&["schedule", "linear"]);
    assert_eq!(stderr(&plain), "");
}

#[test]
#[cfg(unix)]
fn training_stopped_by_ctrl_c_keeps_its_checkpoint_and_exits_130() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let temp = common::temp_dir("train-interrupted");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let out = dir.join("m.nsw");
    let mut child = Command::new(env!("CARGO_BIN_EXE_noisescope"))
        .args([
            "train",
            "--data",
            dir.to_str().expect("utf-8"),
            "--schedule",
            "linear",
            "--channels",
            "8",
            "--multipliers",
            "1,2",
            "--attention",
            "14",
            "--batch",
            "2",
            "--steps",
            "100000",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Wait for the first progress report: the Ctrl-C handler is installed by then.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).split(b'\n');
    let started =
        lines.any(|line| line.is_ok_and(|l| String::from_utf8_lossy(&l).contains("step 1")));
    assert!(started, "training reported progress");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = child.wait_with_output().expect("exits");
    assert_eq!(output.status.code(), Some(130), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("checkpoint saved"),
        "{}",
        stdout(&output)
    );
    assert!(dir.join("m.nsw.checkpoint").join("state.json").is_file());
    assert!(!out.exists(), "an unfinished run writes no weights");
}

/// Trains the tiny test U-Net with dropout on burn's own operations, in a process of its own
/// (its dropout masks come from the device's generator, seeded per step).
fn train_on_burn(dir: &std::path::Path, out: &std::path::Path, steps: &str, resume: bool) {
    let mut args = vec![
        "train",
        "--data",
        dir.to_str().expect("utf-8"),
        "--schedule",
        "linear",
        "--channels",
        "8",
        "--multipliers",
        "1,2",
        "--attention",
        "14",
        "--dropout",
        "0.3",
        "--batch",
        "2",
        "--steps",
        steps,
        "--seed",
        "5",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    if resume {
        args.push("--resume");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_noisescope"))
        .args(&args)
        .env("NOISESCOPE_CPU_KERNELS", "burn")
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_resumed_run_with_dropout_on_burns_operations_ends_where_an_uninterrupted_one_does() {
    let temp = common::temp_dir("train-burn-resume");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let (straight, split) = (dir.join("straight.nsw"), dir.join("split.nsw"));
    train_on_burn(dir, &straight, "4", false);
    train_on_burn(dir, &split, "2", false);
    train_on_burn(dir, &split, "4", true);
    let worst = common::largest_difference(
        &common::unet_outputs(&straight),
        &common::unet_outputs(&split),
    );
    assert!(
        worst < 1e-4,
        "resumed and uninterrupted runs differ by {worst}"
    );
}

#[test]
fn sample_generates_a_class_with_guidance_and_refuses_what_cannot_be_asked() {
    let temp = common::temp_dir("sample-class");
    let dir = temp.path();
    let conditioned = dir.join("conditioned.nsw");
    let spec = ScheduleSpec {
        steps: 50,
        ..ScheduleSpec::new(ScheduleKind::Linear)
    };
    common::tiny_network_of(&conditioned, spec, None, (10, false));
    let plain = tiny_model(dir);
    let out = dir.join("out");
    let sample = |model: &PathBuf, class: &str, guidance: &str| {
        noisescope(&[
            "sample",
            "--model",
            model.to_str().expect("utf-8"),
            "--sampler",
            "ddim",
            "--steps",
            "5",
            "--n",
            "2",
            "--class",
            class,
            "--guidance",
            guidance,
            "--out",
            out.to_str().expect("utf-8"),
        ])
    };
    let by_name = sample(&conditioned, "ankle BOOT", "1.5");
    assert!(by_name.status.success(), "{}", stderr(&by_name));
    let by_index = sample(&conditioned, "9", "1.5");
    assert!(by_index.status.success(), "{}", stderr(&by_index));
    let png = |name: &str| std::fs::read(out.join(name)).expect("png");
    let boot = png("sample-00000.png");
    let bag = sample(&conditioned, "Bag", "1.5");
    assert!(bag.status.success(), "{}", stderr(&bag));
    assert_ne!(
        png("sample-00000.png"),
        boot,
        "another class, another image"
    );
    assert_fails_with(&sample(&conditioned, "12", "1"), "not a class index");
    assert_fails_with(
        &sample(&conditioned, "Hat", "1"),
        "not a Fashion-MNIST class",
    );
    for bad in ["-1", "NaN", "inf", "10.5"] {
        assert_fails_with(&sample(&conditioned, "Bag", bad), "must lie in 0–10");
    }
    assert_fails_with(&sample(&plain, "Bag", "1"), "not class-conditioned");
    let any = sample(&plain, "any", "0");
    assert!(any.status.success(), "{}", stderr(&any));
}

#[test]
fn sample_runs_a_log_snr_model_under_another_schedule_and_refuses_a_step_model() {
    let temp = common::temp_dir("sample-schedule");
    let dir = temp.path();
    let spec = ScheduleSpec {
        steps: 50,
        ..ScheduleSpec::new(ScheduleKind::Linear)
    };
    let log_snr_model = dir.join("logsnr.nsw");
    common::tiny_network_of(&log_snr_model, spec, None, (0, true));
    let step_model = tiny_model(dir);
    let out = dir.join("out");
    let sample = |model: &PathBuf| {
        noisescope(&[
            "sample",
            "--model",
            model.to_str().expect("utf-8"),
            "--sampler",
            "ddim",
            "--steps",
            "5",
            "--n",
            "1",
            "--sampling-schedule",
            "cosine",
            "--out",
            out.to_str().expect("utf-8"),
        ])
    };
    let output = sample(&log_snr_model);
    assert!(output.status.success(), "{}", stderr(&output));
    // The cosine schedule over 50 steps reaches λ far below the linear one's: a note says so.
    assert!(
        stderr(&output).contains("nearest trained λ"),
        "{}",
        stderr(&output)
    );
    assert!(out.join("sample-00000.png").is_file());
    assert_fails_with(&sample(&step_model), "conditioned on the log-SNR");
}

#[test]
fn recon_reconstructs_under_another_schedule_and_daed_generates_a_class() {
    let temp = common::temp_dir("recon-daed-condition");
    let dir = temp.path();
    let spec = ScheduleSpec {
        steps: 50,
        ..ScheduleSpec::new(ScheduleKind::Linear)
    };
    let conditioned = dir.join("conditioned.nsw");
    common::tiny_network_of(&conditioned, spec, None, (10, true));
    let plain = tiny_model(dir);
    let path = |p: &PathBuf| p.to_str().expect("utf-8").to_owned();
    let recon = |model: &PathBuf| {
        noisescope(&[
            "recon",
            "--model",
            &path(model),
            "--n",
            "2",
            "--t",
            "10,50",
            "--steps",
            "5",
            "--sampling-schedule",
            "cosine",
        ])
    };
    let output = recon(&conditioned);
    assert!(output.status.success(), "{}", stderr(&output));
    let cosine = Schedule::new(ScheduleSpec {
        steps: 50,
        ..ScheduleSpec::new(ScheduleKind::Cosine)
    })
    .expect("valid");
    let row = stdout(&output).lines().nth(1).expect("a row").to_owned();
    let log_snr: f64 = row.split(',').nth(2).expect("λ").parse().expect("f64");
    assert!(
        (log_snr - cosine.log_snr()[9]).abs() < 1e-4,
        "t = 10 under the cosine schedule: {row}"
    );
    assert_fails_with(&recon(&plain), "conditioned on the log-SNR");

    let dae = tiny_network(dir, "dae.nsw", ScheduleKind::Linear, Some(12));
    let out = dir.join("daed");
    let daed = |model: &PathBuf, class: &str| {
        noisescope(&[
            "daed",
            "--model",
            &path(model),
            "--dae",
            &path(&dae),
            "--switch",
            "5",
            "--steps",
            "5",
            "--n",
            "2",
            "--class",
            class,
            "--out",
            &path(&out),
        ])
    };
    let output = daed(&conditioned, "Sneaker");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.join("daed.png").is_file());
    assert_fails_with(&daed(&plain, "Sneaker"), "not class-conditioned");
    assert_fails_with(&daed(&conditioned, "Hat"), "not a Fashion-MNIST class");

    // Under the cosine schedule: s counts its steps, the autoencoder serves its nearest λ.
    let under_cosine = |model: &PathBuf| {
        noisescope(&[
            "daed",
            "--model",
            &path(model),
            "--dae",
            &path(&dae),
            "--switch",
            "5",
            "--steps",
            "5",
            "--n",
            "1",
            "--sampling-schedule",
            "cosine",
            "--out",
            &path(&out),
        ])
    };
    let output = under_cosine(&conditioned);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    let log_snr = report["log_snr"].as_f64().expect("λ");
    assert!((log_snr - cosine.log_snr()[4]).abs() < 1e-9, "{report}");
    assert_fails_with(&under_cosine(&plain), "conditioned on the log-SNR");
}

#[test]
fn toy_trains_samples_and_writes_its_files_and_refuses_bad_data() {
    let temp = common::temp_dir("toy");
    let dir = temp.path();
    let out = dir.join("out");
    let toy = |data: &str, extra: &[&str]| {
        let mut args = vec![
            "toy",
            "--data",
            data,
            "--steps",
            "40",
            "--n",
            "30",
            "--sampler",
            "ddim",
            "--sampler-steps",
            "10",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        args.extend(extra);
        noisescope(&args)
    };
    for objective in ["eps", "flow"] {
        let output = toy("moons", &["--objective", objective]);
        assert!(output.status.success(), "{}", stderr(&output));
        let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
        assert_eq!(report["objective"], objective);
        for key in [
            "energy_distance",
            "energy_distance_floor",
            "chamfer_distance_ratio",
        ] {
            assert!(
                report[key].as_f64().is_some_and(|d| d > 0.0),
                "{key}: {report}"
            );
        }
        let lines = |name: &str| {
            let text = std::fs::read_to_string(out.join(name)).expect(name);
            (text.lines().next().map(str::to_owned), text.lines().count())
        };
        assert_eq!(lines("data.csv"), (Some("x,y".into()), 5001));
        assert_eq!(lines("samples.csv"), (Some("x,y".into()), 31));
        assert_eq!(lines("loss.csv"), (Some("step,loss".into()), 41));
        assert!(out.join("data-vs-samples.png").is_file());
    }
    // The written data are read back as a CSV distribution.
    let csv = out.join("data.csv");
    let again = toy(csv.to_str().expect("utf-8"), &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "x,y\n1,2\n3,NaN\n").expect("write");
    assert_fails_with(&toy(bad.to_str().expect("utf-8"), &[]), "line 3");
    std::fs::write(&bad, "x,y\n1,2\n").expect("write");
    assert_fails_with(&toy(bad.to_str().expect("utf-8"), &[]), "at least two");
    assert_fails_with(&toy("spirals", &[]), "neither a built-in distribution");
}

#[test]
fn train_init_starts_from_a_finished_model_and_refuses_another_architecture() {
    let temp = common::temp_dir("train-init");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let train = |out: &str, channels: &str, init: Option<&std::path::Path>| {
        let data = dir.to_str().expect("utf-8");
        let mut args = vec![
            "train",
            "--data",
            data,
            "--schedule",
            "linear",
            "--channels",
            channels,
            "--multipliers",
            "1,2",
            "--attention",
            "14",
            "--batch",
            "2",
            "--steps",
            "2",
            "--lr",
            "1e-4",
            "--out",
            out,
        ];
        if let Some(init) = init {
            args.extend(["--init", init.to_str().expect("utf-8")]);
        }
        noisescope(&args)
    };
    let first = dir.join("first.nsw");
    let output = train(first.to_str().expect("utf-8"), "8", None);
    assert!(output.status.success(), "{}", stderr(&output));
    let further = dir.join("further.nsw");
    let output = train(further.to_str().expect("utf-8"), "8", Some(&first));
    assert!(output.status.success(), "{}", stderr(&output));
    // Its log continues the first model's: 2 steps, then 2 more.
    let log_steps = |path: &std::path::Path| -> Vec<u64> {
        let file = noisescope::model::WeightsFile::read(path).expect("a weights file");
        file.metadata
            .training
            .history
            .log
            .iter()
            .map(|e| e.step)
            .collect()
    };
    assert_eq!(log_steps(&first), [2]);
    assert_eq!(log_steps(&further), [2, 4]);
    let other = dir.join("other.nsw");
    let output = train(other.to_str().expect("utf-8"), "16", Some(&first));
    assert!(!output.status.success(), "another architecture is refused");
    assert!(!stderr(&output).is_empty());
    assert!(!other.exists());
}
