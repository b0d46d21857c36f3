//! Scenes driven as a lecturer drives them: add what is on screen, save the list, open it
//! again, and step through it with PageUp/PageDown, landing exactly where each was saved.

mod common;

use std::path::Path;
use std::time::Duration;

use eframe::egui;
use egui_kittest::Harness;
use noisescope::App;
use noisescope::app::{ModelsShown, SamplerChoice, Tab};

fn harness(models: &Path) -> Harness<'static, App> {
    let models = models.to_owned();
    Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(move |cc| App::new(cc).with_models_dir(models.clone()))
}

fn press(harness: &mut Harness<'static, App>, key: egui::Key) {
    harness.key_press(key);
    harness.run_steps(2);
}

#[test]
fn a_scene_list_round_trips_and_page_keys_land_where_each_scene_was_saved() {
    let models = common::tiny_models_dir();
    let folder = common::temp_dir("scenes");
    let file = folder.path().join("lecture.json");
    let mut harness = harness(models.path());
    {
        let settings = harness.state_mut().settings_mut();
        *settings.tab = Tab::Forward;
        *settings.cursor_t = 123;
    }
    harness.run_steps(2);
    harness.state_mut().add_scene("forward at 123");
    {
        let settings = harness.state_mut().settings_mut();
        *settings.tab = Tab::Reverse;
        *settings.cursor_t = 1;
        settings.reverse.batch = 2;
        settings.reverse.seed = 3;
        settings.reverse.sampler = SamplerChoice::Ddim;
        settings.reverse.steps = 5;
        settings.reverse.models = ModelsShown::Linear;
    }
    harness.run_steps(2);
    harness.state_mut().add_scene("five DDIM steps");
    let saved_reverse = harness.state().settings().reverse;
    harness.state_mut().save_scenes(&file);
    let (message, _) = harness.state().scene_messages();
    assert_eq!(
        message,
        Some(Ok(format!("saved 2 scenes to {}", file.display()).as_str()))
    );

    // Another day: a fresh app with other settings opens the list.
    let mut harness = self::harness(models.path());
    *harness.state_mut().settings_mut().cursor_t = 500;
    harness.state_mut().open_scenes(&file);
    let names: Vec<&str> = harness
        .state()
        .scenes()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["forward at 123", "five DDIM steps"]);
    assert!(
        harness.state().scene_messages().1.is_empty(),
        "same weights, same version"
    );

    press(&mut harness, egui::Key::PageDown);
    assert_eq!(harness.state().current_scene(), Some(0));
    assert_eq!(harness.state().settings().tab, Tab::Forward);
    assert_eq!(harness.state().settings().cursor_t, 123);

    press(&mut harness, egui::Key::PageDown);
    assert_eq!(harness.state().settings().tab, Tab::Reverse);
    assert_eq!(harness.state().settings().reverse, saved_reverse);
    assert!(harness.state().sampling(), "the scene's run is computed");
    common::run_until(
        &mut harness,
        "the scene's run",
        Duration::from_secs(120),
        |app| !app.sampling(),
    );
    assert_eq!(harness.state().recorded_steps(), [5]);
    assert_eq!(harness.state().settings().cursor_t, 1);

    // At the end of the list PageDown stays; back and forth reuses the run on screen.
    press(&mut harness, egui::Key::PageDown);
    assert_eq!(harness.state().current_scene(), Some(1));
    press(&mut harness, egui::Key::PageUp);
    assert_eq!(harness.state().settings().cursor_t, 123);
    press(&mut harness, egui::Key::PageDown);
    assert!(!harness.state().sampling(), "nothing to recompute");
    assert_eq!(harness.state().recorded_steps(), [5]);
}

#[test]
fn a_malformed_scene_file_changes_nothing_and_says_why() {
    let models = common::tiny_models_dir();
    let folder = common::temp_dir("scenes-bad");
    let mut harness = harness(models.path());
    harness.run_steps(2);
    harness.state_mut().add_scene("kept");
    let file = folder.path().join("broken.json");
    std::fs::write(
        &file,
        "{\"format\": \"noisescope-scenes\", \"version\": 1, \"scenes\": [",
    )
    .expect("writes");
    harness.state_mut().open_scenes(&file);
    let (message, _) = harness.state().scene_messages();
    let error = message.and_then(Result::err).expect("an error");
    assert!(error.contains("is not a Noisescope scene list"), "{error}");
    assert_eq!(harness.state().scenes().len(), 1, "the list is kept");
    let unwritable = folder.path().join("broken.json").join("list.json");
    harness.state_mut().save_scenes(&unwritable);
    let (message, _) = harness.state().scene_messages();
    let error = message.and_then(Result::err).expect("an error");
    assert!(error.starts_with("not saved: cannot write"), "{error}");
}

/// Runs the noisescope binary.
fn noisescope(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_noisescope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn pixels(path: &Path) -> image::RgbImage {
    image::open(path).expect("a picture").to_rgb8()
}

#[test]
fn export_scene_on_the_command_line_writes_what_the_app_exports() {
    let folder = common::temp_dir("scene-export");
    let (list, app_out) = (folder.path().join("scenes.json"), folder.path().join("app"));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(|cc| App::new(cc));
    {
        let settings = harness.state_mut().settings_mut();
        *settings.tab = Tab::Forward;
        *settings.cursor_t = 300;
        settings.export.folder = app_out.to_string_lossy().into_owned();
        settings.export.scale = 2;
        settings.export.label = true;
    }
    common::run_until(
        &mut harness,
        "the frames",
        Duration::from_secs(60),
        App::forward_ready,
    );
    harness.state_mut().add_scene("forward");
    let ctx = harness.ctx.clone();
    harness.state_mut().export_screen(&ctx);
    {
        let settings = harness.state_mut().settings_mut();
        *settings.tab = Tab::Reverse;
        *settings.cursor_t = 1;
        settings.reverse.batch = 4;
        settings.reverse.sampler = SamplerChoice::Ddim;
        settings.reverse.steps = 4;
        settings.reverse.models = ModelsShown::Linear;
    }
    harness.run_steps(2);
    harness.state_mut().add_scene("reverse");
    *harness.state_mut().settings_mut().tab = Tab::Schedules;
    harness.run_steps(2);
    harness.state_mut().add_scene("schedules");
    harness.state_mut().save_scenes(&list);
    harness.state_mut().go_to_scene(1);
    common::run_until(
        &mut harness,
        "the samples",
        Duration::from_secs(120),
        |app| !app.sampling(),
    );
    let ctx = harness.ctx.clone();
    harness.state_mut().export_screen(&ctx);

    let list_arg = list.to_str().expect("utf-8");
    // `export --scene` with these options must succeed.
    let export = |options: &[&str]| {
        let output = noisescope(&[&["export", "--scene", list_arg], options].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
    };
    let forward = folder.path().join("forward.png");
    let forward_arg = forward.to_str().expect("utf-8");
    export(&["--png", forward_arg, "--scale", "2", "--label"]);
    assert_eq!(pixels(&forward), pixels(&app_out.join("forward-t0300.png")));

    let reverse = folder.path().join("reverse.png");
    let reverse_arg = reverse.to_str().expect("utf-8");
    export(&[
        "--name",
        "reverse",
        "--png",
        reverse_arg,
        "--scale",
        "2",
        "--label",
    ]);
    assert_eq!(
        pixels(&reverse),
        pixels(&app_out.join("reverse-linear-t0000.png"))
    );

    let gif = folder.path().join("reverse.gif");
    export(&[
        "--number",
        "2",
        "--gif",
        gif.to_str().expect("utf-8"),
        "--frames",
        "5",
    ]);
    let file = std::io::BufReader::new(std::fs::File::open(&gif).expect("the GIF"));
    let decoder = image::codecs::gif::GifDecoder::new(file).expect("a GIF");
    use image::AnimationDecoder;
    assert_eq!(decoder.into_frames().count(), 5, "x_T, three steps, x0");

    let again = noisescope(&["export", "--scene", list_arg, "--png", forward_arg]);
    assert!(
        !again.status.success(),
        "an existing file is not replaced without --force"
    );
    let unknown = noisescope(&[
        "export", "--scene", list_arg, "--name", "none", "--png", "x.png",
    ]);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no scene is called \"none\""), "{stderr}");

    // A panel of plots is exported from the app; the command says how, and writes nothing.
    let plots = folder.path().join("schedules.png");
    let refused = noisescope(&[
        "export",
        "--scene",
        list_arg,
        "--name",
        "schedules",
        "--png",
        plots.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("press E") && stderr.contains("right-click a plot"),
        "{stderr}"
    );
    assert!(!plots.exists());
}
