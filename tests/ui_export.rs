//! Exports from the app, driven as a person drives it: the E key, the panels' export buttons,
//! fresh names instead of replaced files, a cancelled GIF and an unwritable folder.

mod common;

use std::path::Path;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use image::AnimationDecoder;
use noisescope::App;
use noisescope::app::{ModelsShown, SamplerChoice, Tab};

fn harness(models: &Path, exports: &Path) -> Harness<'static, App> {
    let models = models.to_owned();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(move |cc| App::new(cc).with_models_dir(models.clone()));
    let export = &mut harness.state_mut().settings_mut().export;
    export.folder = exports.to_string_lossy().into_owned();
    export.scale = 2;
    export.gif_frames = 7;
    harness
}

fn run_until(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    common::run_until(harness, what, Duration::from_secs(120), done);
}

fn open(harness: &mut Harness<'static, App>, tab: &str) {
    harness.get_by_role_and_label(Role::Button, tab).click();
    harness.run_steps(2);
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn gif_frames(path: &Path) -> Vec<image::RgbaImage> {
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("the GIF"));
    let decoder = image::codecs::gif::GifDecoder::new(file).expect("a GIF");
    let frames = decoder.into_frames().collect_frames().expect("frames");
    frames.into_iter().map(image::Frame::into_buffer).collect()
}

#[test]
fn the_forward_panel_exports_pictures_a_gif_and_curves_without_replacing_anything() {
    let models = common::tiny_models_dir();
    let out = common::temp_dir("exports");
    let mut harness = harness(models.path(), out.path());
    open(&mut harness, "Forward");
    run_until(&mut harness, "the forward frames", App::forward_ready);
    let schedules = harness.state().slots().len();

    // E: x0 and x_t of every schedule at t, 2× per pixel, with "t = 250" under it.
    harness.key_press(egui::Key::E);
    harness.run();
    let picture = image::open(out.path().join("forward-t0250.png")).expect("a PNG");
    let width = 2 * ((schedules as u32 + 1) * 29 + 1);
    assert_eq!(picture.width(), width);
    assert!(
        picture.height() > 2 * 30,
        "a caption strip under the images"
    );
    harness.key_press(egui::Key::E);
    harness.run();
    assert!(
        out.path().join("forward-t0250-2.png").exists(),
        "a fresh name"
    );

    harness.get_by_label("GIF: x0 → x_T, 7 frames").click();
    harness.run_steps(2);
    run_until(&mut harness, "the GIF", |app| !app.exporting());
    let frames = gif_frames(&out.path().join("forward.gif"));
    assert_eq!(frames.len(), 7);
    assert_eq!(frames[0].width(), width);
    assert_ne!(frames[0], frames[6]);

    harness.get_by_label("CSV: frequency view").click();
    harness.run_steps(2);
    let csv =
        std::fs::read_to_string(out.path().join("forward-spectrum-t0250.csv")).expect("the CSV");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("curve,cycles_per_image,power"));
    // x0, then x_t, ᾱ_t·P and the noise level per schedule, at 15 frequencies (0..=14).
    assert_eq!(lines.count(), (1 + 3 * schedules) * 15);
    assert_eq!(
        files(out.path()),
        [
            "forward-spectrum-t0250.csv",
            "forward-t0250-2.png",
            "forward-t0250.png",
            "forward.gif"
        ]
    );
}

#[test]
fn a_cancelled_gif_and_an_unwritable_folder_leave_nothing_behind() {
    let models = common::tiny_models_dir();
    let out = common::temp_dir("exports-cancel");
    let mut harness = harness(models.path(), out.path());
    harness.state_mut().settings_mut().export.gif_frames = 1000;
    harness.state_mut().settings_mut().export.scale = 12;
    open(&mut harness, "Forward");
    run_until(&mut harness, "the forward frames", App::forward_ready);
    harness.get_by_label("GIF: x0 → x_T, 1000 frames").click();
    harness.run_steps(2);
    assert!(harness.state().exporting());
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    harness.run_steps(2);
    run_until(&mut harness, "the GIF thread to stop", App::jobs_idle);
    assert_eq!(
        harness.state().export_message(),
        Some("GIF cancelled: nothing was written")
    );
    assert!(files(out.path()).is_empty(), "{:?}", files(out.path()));

    // A file where the folder should be.
    let blocker = out.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").expect("a file");
    harness.state_mut().settings_mut().export.folder =
        blocker.join("exports").to_string_lossy().into_owned();
    harness.key_press(egui::Key::E);
    harness.run();
    let message = harness.state().export_message().expect("a message");
    assert!(
        message.starts_with("not exported: cannot write"),
        "{message}"
    );
    assert_eq!(files(out.path()), ["not-a-folder"]);

    // A panel of plots is exported as drawn: the window's pixels of the panel.
    let plots = out.path().join("plots");
    harness.state_mut().settings_mut().export.folder = plots.to_string_lossy().into_owned();
    open(&mut harness, "Schedules");
    harness.key_press(egui::Key::E);
    harness.run_steps(3);
    let picture = image::open(plots.join("schedules.png")).expect("the panel as a PNG");
    assert!(
        picture.width() > 1000 && picture.height() > 700,
        "{:?}",
        (picture.width(), picture.height())
    );
    let message = harness.state().export_message().expect("a message");
    assert!(message.starts_with("wrote"), "{message}");
}

#[test]
fn the_reverse_panel_exports_each_models_batch_and_chain() {
    let models = common::tiny_models_dir();
    let out = common::temp_dir("exports-reverse");
    let mut harness = harness(models.path(), out.path());
    {
        let reverse = &mut harness.state_mut().settings_mut().reverse;
        reverse.batch = 4;
        reverse.sampler = SamplerChoice::Ddim;
        reverse.steps = 10;
        reverse.models = ModelsShown::Both;
    }
    open(&mut harness, "Reverse");
    assert_eq!(harness.state().settings().tab, Tab::Reverse);
    common::click(&mut harness, "Sample");
    run_until(&mut harness, "both models", |app| !app.sampling());
    harness
        .get_by_label("GIF: x_T → x0, up to 7 frames")
        .click();
    harness.run_steps(2);
    run_until(&mut harness, "both GIFs", |app| !app.exporting());
    for model in ["linear", "cosine"] {
        let frames = gif_frames(&out.path().join(format!("reverse-{model}.gif")));
        assert_eq!(frames.len(), 7, "{model}");
        // A 2 × 2 grid at 2× per pixel, with the caption strip.
        assert_eq!(frames[0].width(), 2 * (2 * 29 + 1));
    }
    *harness.state_mut().settings_mut().cursor_t = 1;
    harness.run_steps(2);
    harness.key_press(egui::Key::E);
    harness.run();
    // At t = 1 of a finished run: the samples themselves.
    assert!(out.path().join("reverse-linear-t0000.png").exists());
    assert!(out.path().join("reverse-cosine-t0000.png").exists());
}

#[test]
fn the_schedules_panel_exports_its_curves_and_a_diffusers_config_that_reads_back() {
    use noisescope::schedule::DiffusersConfig;
    let models = common::tiny_models_dir();
    let out = common::temp_dir("exports-schedules");
    let mut harness = harness(models.path(), out.path());
    harness.run_steps(2);
    let slots: Vec<_> = harness
        .state()
        .slots()
        .iter()
        .map(|s| s.schedule.clone())
        .collect();
    harness.get_by_label("CSV: these curves").click();
    harness.run_steps(2);
    let csv = std::fs::read_to_string(out.path().join("schedules.csv")).expect("the CSV");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("curve,t,value"));
    let steps: usize = slots.iter().map(|s| s.steps()).sum();
    assert_eq!(
        lines.count(),
        5 * steps,
        "five quantities per step per schedule"
    );

    harness
        .get_all_by_label("Export diffusers config")
        .next()
        .expect("a button per schedule")
        .click();
    harness.run_steps(2);
    let text =
        std::fs::read_to_string(out.path().join("scheduler_config.json")).expect("the config");
    let read_back = DiffusersConfig::from_json(&text)
        .and_then(|c| c.to_schedule())
        .expect("diffusers' format");
    assert_eq!(&read_back.spec, slots[0].spec());
}

/// The app drawn through wgpu (lavapipe in CI), exporting to `exports`.
fn drawn_through_wgpu(exports: &Path) -> Harness<'static, App> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .wgpu_setup(noisescope::gpu::wgpu_configuration().wgpu_setup)
        .build_eframe(|cc| App::with_compute(cc, noisescope::gpu::ComputePreference::Cpu));
    harness.state_mut().settings_mut().export.folder = exports.to_string_lossy().into_owned();
    harness
}

#[test]
fn a_panel_of_plots_is_drawn_anew_at_the_chosen_resolution_whatever_the_zoom() {
    if !common::gpu_adapter_or_fail() {
        return;
    }
    let out = common::temp_dir("exports-offscreen");
    let mut harness = drawn_through_wgpu(out.path());
    open(&mut harness, "Schedules");
    let export = |harness: &mut Harness<'static, App>, scale: f32, name: &str| {
        harness.state_mut().settings_mut().export.panel_scale = scale;
        harness.key_press(egui::Key::E);
        harness.run_steps(2);
        run_until(harness, "the picture", |app| {
            app.export_message().is_some_and(|m| m.starts_with("wrote"))
        });
        let picture = image::open(out.path().join(name)).expect("the panel as a PNG");
        harness.state_mut().settings_mut().export.folder =
            out.path().to_string_lossy().into_owned();
        picture.to_rgb8()
    };
    let size = harness.state().open_panel_rect().size();
    let pixels = |scale: f32| {
        (
            (size.x * scale).round() as u32,
            (size.y * scale).round() as u32,
        )
    };

    // At one pixel per point the picture is the window's own drawing of the panel.
    let once = export(&mut harness, 1.0, "schedules.png");
    assert_eq!(once.dimensions(), pixels(1.0));
    let window = harness.render().expect("the window drawn").to_owned();
    let rect = harness.state().open_panel_rect();
    let mut differing = 0;
    for (x, y, pixel) in once.enumerate_pixels() {
        let drawn = window
            .get_pixel(x + rect.min.x as u32, y + rect.min.y as u32)
            .0;
        if (0..3).any(|c| drawn[c].abs_diff(pixel[c]) > 24) {
            differing += 1;
        }
    }
    let share = f64::from(differing) / f64::from(once.width() * once.height());
    assert!(share < 0.01, "{:.2} % of the pixels differ", 100.0 * share);

    // Three pixels per point: the same layout, three times the pixels.
    let sharp = export(&mut harness, 3.0, "schedules-2.png");
    assert_eq!(sharp.dimensions(), pixels(3.0));

    // Zoomed in, the panel has fewer points; the picture still has three pixels per point.
    harness.ctx.set_zoom_factor(1.5);
    harness.run_steps(3);
    let zoomed = harness.state().open_panel_rect().size();
    assert!(zoomed.x < 0.7 * size.x, "{zoomed:?}");
    let picture = export(&mut harness, 3.0, "schedules-3.png");
    assert_eq!(
        picture.dimensions(),
        (
            (zoomed.x * 3.0).round() as u32,
            (zoomed.y * 3.0).round() as u32
        )
    );
}

#[test]
fn a_right_click_on_a_plot_exports_that_plot_alone() {
    use noisescope::app::plot_export::MENU_ENTRY;
    if !common::gpu_adapter_or_fail() {
        return;
    }
    let out = common::temp_dir("exports-one-plot");
    let mut harness = drawn_through_wgpu(out.path());
    harness.state_mut().settings_mut().export.panel_scale = 2.0;
    open(&mut harness, "Schedules");
    // The ᾱ_t plot: the second of four, under its title.
    let title = harness.get_by_label("ᾱ_t").rect();
    let inside = title.left_bottom() + egui::vec2(300.0, 60.0);
    for pressed in [true, false] {
        harness.input_mut().events.push(egui::Event::PointerButton {
            pos: inside,
            button: egui::PointerButton::Secondary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    harness.run_steps(2);
    harness.get_by_label(MENU_ENTRY).click();
    harness.run_steps(3);
    run_until(&mut harness, "the picture", |app| {
        app.export_message().is_some_and(|m| m.starts_with("wrote"))
    });
    assert_eq!(files(out.path()), ["schedules-alpha-bar.png"]);
    let picture = image::open(out.path().join("schedules-alpha-bar.png")).expect("the plot");
    let panel = harness.state().open_panel_rect();
    // One plot of four: most of the panel's width at two pixels per point, a quarter of its
    // height at most.
    assert!(
        picture.width() as f32 > panel.width() && (picture.width() as f32) < 2.0 * panel.width(),
        "{}",
        picture.width()
    );
    assert!(
        picture.height() > 100 && (picture.height() as f32) < 0.5 * panel.height(),
        "{}",
        picture.height()
    );
}
