//! The Playground panel driven through egui_kittest: train and sample, cancel, a missing slot.

mod common;

use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::App;
use noisescope::app::{SamplerChoice, Tab};

use common::click;

fn harness() -> Harness<'static, App> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(|cc| App::new(cc));
    harness
        .get_by_role_and_label(Role::Button, "Playground")
        .click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings().tab, Tab::Playground);
    let settings = harness.state_mut().settings_mut().playground;
    settings.steps = 200;
    settings.n = 100;
    settings.sampler = SamplerChoice::Ddim;
    settings.sampler_steps = 20;
    harness
}

/// Whether model `index` of the last run has its samples.
fn sampled(app: &App, index: usize) -> bool {
    let models = &app.playground().models;
    models.get(index).is_some_and(|m| m.samples.is_some())
}

fn run_until(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    common::run_until(harness, what, Duration::from_secs(120), done);
}

#[test]
fn training_streams_the_loss_and_sampling_keeps_every_state_of_the_path() {
    let mut harness = harness();
    click(&mut harness, "Train and sample");
    run_until(&mut harness, "the samples", |app| {
        !app.playground_running() && sampled(app, 0)
    });
    let state = harness.state().playground();
    assert!(state.error.is_none(), "{:?}", state.error);
    assert_eq!(state.data.len(), 5000);
    assert_eq!(state.models.len(), 1);
    let model = &state.models[0];
    assert_eq!(model.losses.len(), 200);
    let samples = model.samples.as_ref().expect("samples");
    assert_eq!(samples.points.len(), 100);
    assert_eq!(samples.path.len(), 21, "x_T and the 20 DDIM states");
    assert_eq!(state.shown_points(0), Some(samples.points.as_slice()));
    let field = model.field.as_ref().expect("the learned field");
    assert_eq!(field.grid.len(), 21 * 21);
    assert_eq!(field.levels.len(), 40);
    assert!(field.levels.iter().all(|(share, d)| *share > 0.0
        && *share <= 1.0
        && d.len() == 441
        && d.iter().flatten().all(|v| v.is_finite())));
    // At much noise the score at the grid's corner points back towards the data's centre.
    let (_, far) = field.levels.last().expect("a level");
    let n = state.data.len() as f64;
    let centre = [0, 1].map(|a| state.data.iter().map(|p| p[a]).sum::<f64>() / n);
    let (corner, arrow) = (field.grid[0], far[0]);
    let inward = arrow[0] * (centre[0] - corner[0]) + arrow[1] * (centre[1] - corner[1]);
    assert!(inward > 0.0, "{arrow:?} at {corner:?}");
    harness.get_by_label_contains("show the learned field");
    // The marginal densities under the plot, as CSV: data and samples, x and y, 32 bins of two
    // points each.
    let out = common::temp_dir("playground-csv");
    harness.state_mut().settings_mut().export.folder = out.path().to_string_lossy().into_owned();
    click(&mut harness, "CSV: marginal densities");
    let csv =
        std::fs::read_to_string(out.path().join("playground-marginals-1.csv")).expect("the CSV");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("curve,standardised_coordinate,density"));
    assert_eq!(lines.count(), 4 * 2 * 32);
}

#[test]
fn training_shows_previews_cancel_stops_it_and_a_missing_schedule_slot_is_named() {
    let mut harness = harness();
    harness.state_mut().settings_mut().playground.steps = 100_000;
    click(&mut harness, "Train and sample");
    // A quick sample of the model so far arrives every two seconds.
    run_until(&mut harness, "a preview and its field", |app| {
        let model = &app.playground().models[0];
        model.preview.is_some() && model.field.is_some()
    });
    let model = &harness.state().playground().models[0];
    let (step, preview) = model.preview.clone().expect("preview");
    assert!(step > 0 && step < 100_000);
    assert_eq!(
        preview.points.len(),
        100,
        "as many points as asked, at most 500"
    );
    // Paused, the training stands still; resumed, it goes on.
    click(&mut harness, "Pause");
    harness.get_by_label_contains("paused at step");
    std::thread::sleep(Duration::from_millis(300));
    harness.run_steps(2);
    let losses = |app: &App| app.playground().models[0].losses.len();
    let at_pause = losses(harness.state());
    std::thread::sleep(Duration::from_millis(800));
    harness.run_steps(2);
    assert_eq!(losses(harness.state()), at_pause, "no step while paused");
    click(&mut harness, "Resume");
    run_until(&mut harness, "more steps", |app| losses(app) > at_pause);
    click(&mut harness, "Stop");
    assert!(!harness.state().playground_running());
    assert!(!sampled(harness.state(), 0));
    assert!(losses(harness.state()) > 0, "what it showed stays");
    click(&mut harness, "Reset");
    assert!(
        harness.state().playground().models.is_empty(),
        "reset forgets it"
    );

    harness.state_mut().settings_mut().playground.schedule_slot = 3;
    click(&mut harness, "Train and sample");
    let error = harness
        .state()
        .playground()
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.contains("compares 2 schedules, not 4"), "{error}");
}

#[test]
fn drawn_points_are_learned_in_their_own_units_and_a_drawing_on_one_spot_is_refused() {
    use noisescope::app::PlaygroundSource;
    let mut harness = harness();
    {
        let settings = harness.state_mut().settings_mut().playground;
        settings.source = PlaygroundSource::Drawn;
        // Two blobs far from the origin, as a person might paint them.
        settings.drawn = (0..200)
            .map(|i| {
                let a = f64::from(i) * 2.4;
                let centre = if i % 2 == 0 { 10.0 } else { 14.0 };
                [centre + 0.3 * a.cos(), 5.0 + 0.3 * a.sin()]
            })
            .collect();
        settings.strokes = vec![0];
    }
    click(&mut harness, "Train and sample");
    run_until(&mut harness, "the samples", |app| {
        !app.playground_running() && sampled(app, 0)
    });
    let state = harness.state().playground();
    assert!(state.error.is_none(), "{:?}", state.error);
    assert_eq!(state.data.len(), 200, "the drawn points, as drawn");
    let samples = &state.models[0].samples.as_ref().expect("samples").points;
    let mean_x = samples.iter().map(|p| p[0]).sum::<f64>() / samples.len() as f64;
    assert!(
        (mean_x - 12.0).abs() < 2.0,
        "samples in the drawing's units: {mean_x}"
    );

    harness.state_mut().settings_mut().playground.drawn = vec![[1.0, 1.0]; 30];
    click(&mut harness, "Train and sample");
    run_until(&mut harness, "the refusal", |app| !app.playground_running());
    let error = harness
        .state()
        .playground()
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.contains("one spot"), "{error}");
}

#[test]
fn two_models_train_side_by_side_on_the_same_points_and_seed() {
    use noisescope::app::ToyModelChoice;
    use noisescope::toy::Objective;
    let mut harness = harness();
    {
        let settings = harness.state_mut().settings_mut().playground;
        settings.compare = true;
        settings.second = ToyModelChoice {
            objective: Objective::Flow,
            schedule_slot: 0,
        };
    }
    harness.run_steps(2);
    harness.get_by_label("second objective");
    click(&mut harness, "Train and sample");
    run_until(&mut harness, "both models' samples", |app| {
        !app.playground_running() && sampled(app, 0) && sampled(app, 1)
    });
    let state = harness.state().playground();
    assert!(state.error.is_none(), "{:?}", state.error);
    let [diffusion, flow] = [&state.models[0], &state.models[1]];
    assert!(
        diffusion.label.contains("ε-prediction"),
        "{}",
        diffusion.label
    );
    assert_eq!(flow.label, "flow matching");
    assert_eq!((diffusion.losses.len(), flow.losses.len()), (200, 200));
    let paths = [diffusion, flow].map(|m| m.samples.as_ref().map_or(0, |s| s.path.len()));
    assert_eq!(paths, [21, 21], "DDIM-20 and 20 Euler steps");
    // The same seed: both start from the same noise.
    assert_eq!(state.shown_fraction, 1.0);
    let start = |m: &noisescope::app::ModelResults| m.samples.as_ref().map(|s| s.path[0].clone());
    assert_eq!(start(diffusion), start(flow));
    harness.get_by_label_contains("data and samples: flow matching");

    // Played, the path runs from the noise to the samples.
    click(&mut harness, "▶ Play");
    assert!(harness.state().playground().shown_fraction < 0.5);
    run_until(&mut harness, "the end of the path", |app| {
        !app.playground().playing
    });
    assert_eq!(harness.state().playground().shown_fraction, 1.0);
}

#[test]
fn the_forward_view_noises_the_cloud_to_the_shared_cursor_under_each_schedule() {
    let mut harness = harness();
    harness
        .get_by_label_contains("Forward: the data diffusing")
        .click();
    harness.run_steps(2);
    *harness.state_mut().settings_mut().cursor_t = 400;
    harness.run_steps(2);
    harness.get_by_label_contains("linear T=1000 at t = 400");
    harness.get_by_label_contains("cosine T=1000 at t = 400");
    // As CSV: per schedule the cloud (one row per point) and the densities of x and y (32 bins
    // of two corners), then N(0, 1) at 161 points.
    let out = common::temp_dir("playground-forward-csv");
    harness.state_mut().settings_mut().export.folder = out.path().to_string_lossy().into_owned();
    click(&mut harness, "CSV: clouds and marginals at t");
    let csv =
        std::fs::read_to_string(out.path().join("playground-forward-t400.csv")).expect("the CSV");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("curve,x,y"));
    let rows: Vec<&str> = lines.collect();
    // The built-in data's 5000 points (before training, their preview).
    let points = 5000;
    let schedules = harness.state().settings().schedules.specs.len();
    assert_eq!(rows.len(), schedules * (points + 2 * 2 * 32) + 161);
    let count = |prefix: &str| rows.iter().filter(|r| r.starts_with(prefix)).count();
    assert_eq!(count("linear T=1000 t=400 x_t,"), points);
    assert_eq!(count("cosine T=1000 t=400 y density,"), 64);
    assert_eq!(count("standard normal density,"), 161);
}

#[test]
fn a_csv_file_becomes_the_persons_points_and_a_bad_one_changes_nothing() {
    use noisescope::app::PlaygroundSource;
    let temp = common::temp_dir("playground-csv");
    let good = temp.path().join("points.csv");
    std::fs::write(&good, "x,y\n0,0\n1,2\n3,1\n").expect("write");
    let bad = temp.path().join("bad.csv");
    std::fs::write(&bad, "x,y\n0,0\n1,inf\n").expect("write");
    let mut harness = harness();
    harness.state_mut().load_points_file(&good);
    harness.run_steps(2);
    let settings = harness.state().settings().playground;
    assert_eq!(settings.source, PlaygroundSource::Drawn);
    assert_eq!(settings.drawn, vec![[0.0, 0.0], [1.0, 2.0], [3.0, 1.0]]);
    harness.state_mut().load_points_file(&bad);
    harness.run_steps(2);
    let error = harness
        .state()
        .playground()
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.contains("line 3"), "{error}");
    assert_eq!(
        harness.state().settings().playground.drawn.len(),
        3,
        "nothing lost"
    );
}
