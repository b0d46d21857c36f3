//! Exports from the app. A panel hands over what it shows (images as [`Tiles`], a process as
//! frames, plotted curves) in an [`ExportRequest`]; the app writes it to the export folder
//! under a fresh name, never replacing a file. GIFs are drawn and encoded on a lane's thread
//! and can be cancelled, leaving nothing behind.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use eframe::egui;

use super::job::{Job, JobContext, Lane, LaneTarget, Update};
use super::settings::ExportSettings;
use super::widgets::busy_indicator;
pub use crate::export::Tiles;
use image::RgbImage;

use crate::export::{
    Curve, ExportError, GifSettings, Overwrite, curves_csv, free_path, write_bytes, write_gif,
    write_png,
};

/// Something a panel asks to export.
#[derive(Clone, Debug, PartialEq)]
pub enum ExportRequest {
    /// One picture, as `<stem>.png`.
    Png {
        /// The file name without extension.
        stem: String,
        /// What it shows.
        tiles: Tiles,
    },
    /// An animation, as `<stem>.gif`, one frame per element.
    Gif {
        /// The file name without extension.
        stem: String,
        /// The frames, in order.
        frames: Vec<Tiles>,
    },
    /// A text file, as `<stem>.<extension>`.
    Text {
        /// The file name without extension.
        stem: String,
        /// Its extension.
        extension: &'static str,
        /// Its contents.
        text: String,
    },
    /// A table with columns of its own (a header line, then one line per row), as
    /// `<stem>.csv`.
    Table {
        /// The file name without extension.
        stem: String,
        /// The CSV text.
        csv: String,
    },
    /// Plotted curves, as `<stem>.csv`.
    Csv {
        /// The file name without extension.
        stem: String,
        /// The x axis's name.
        x_name: String,
        /// The y axis's name.
        y_name: String,
        /// The curves.
        curves: Vec<Curve>,
    },
}

impl ExportRequest {
    /// The file name it asks for, without extension.
    pub fn stem(&self) -> &str {
        match self {
            Self::Png { stem, .. }
            | Self::Gif { stem, .. }
            | Self::Csv { stem, .. }
            | Self::Table { stem, .. }
            | Self::Text { stem, .. } => stem,
        }
    }

    /// Its file's extension.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Png { .. } => "png",
            Self::Gif { .. } => "gif",
            Self::Csv { .. } | Self::Table { .. } => "csv",
            Self::Text { extension, .. } => extension,
        }
    }

    /// Writes it to `path` now, GIFs included, with the scale, labels and GIF settings of
    /// `settings`; says what was written.
    pub fn write_to(
        &self,
        path: &Path,
        settings: &ExportSettings,
        overwrite: Overwrite,
    ) -> Result<String, ExportError> {
        let scale = settings.scale.clamp(1, 32);
        let what = match self {
            Self::Png { tiles, .. } => {
                let picture = tiles.render(scale, settings.label);
                write_png(path, &picture, overwrite)?;
                format!("{}×{}", picture.width(), picture.height())
            }
            Self::Gif { frames, .. } => {
                let pictures: Vec<_> = frames
                    .iter()
                    .map(|f| f.render(scale, settings.label))
                    .collect();
                let gif = GifSettings {
                    fps: settings.fps,
                    looping: settings.looping,
                };
                write_gif(path, &pictures, gif, overwrite, &mut |_| true)?;
                let (width, height) = pictures.first().map_or((0, 0), RgbImage::dimensions);
                format!("{} frames of {width}×{height}", pictures.len())
            }
            Self::Csv {
                x_name,
                y_name,
                curves,
                ..
            } => {
                let csv = curves_csv(x_name, y_name, curves);
                write_table(path, &csv, overwrite)?
            }
            Self::Table { csv, .. } => write_table(path, csv, overwrite)?,
            Self::Text { text, .. } => {
                write_bytes(path, text.as_bytes(), overwrite)?;
                format!("{} bytes", text.len())
            }
        };
        Ok(wrote(path, &what))
    }
}

/// Writes `csv` (a header, then rows) unless it has no rows; "N rows".
fn write_table(path: &Path, csv: &str, overwrite: Overwrite) -> Result<String, ExportError> {
    let rows = csv.lines().count().saturating_sub(1);
    if rows == 0 {
        return Err(ExportError::Invalid("no points yet".to_owned()));
    }
    write_bytes(path, csv.as_bytes(), overwrite)?;
    Ok(format!("{rows} rows"))
}

/// A GIF to draw and encode.
struct GifJob {
    path: PathBuf,
    frames: Vec<Tiles>,
    scale: u32,
    label: bool,
    settings: GifSettings,
}

impl Job for GifJob {
    type Event = String;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, String>, (): &mut ()) -> Result<(), String> {
        let total = 2 * self.frames.len();
        let mut pictures = Vec::with_capacity(self.frames.len());
        for (done, frame) in self.frames.iter().enumerate() {
            if context.cancelled() {
                return Ok(());
            }
            pictures.push(frame.render(self.scale, self.label));
            context.progress(done, total);
        }
        let drawn = pictures.len();
        let mut go_on = |done: usize| {
            context.progress(drawn + done, total);
            !context.cancelled()
        };
        match write_gif(
            &self.path,
            &pictures,
            self.settings,
            Overwrite::Refuse,
            &mut go_on,
        ) {
            Ok(()) => {
                let (width, height) = pictures[0].dimensions();
                let shown = std::path::absolute(&self.path).unwrap_or(self.path);
                context.emit(format!(
                    "wrote {drawn} frames of {width}×{height} to {}",
                    shown.display()
                ));
                Ok(())
            }
            Err(ExportError::Cancelled(_)) => Ok(()),
            Err(error) => Err(format!("GIF not exported: {error}")),
        }
    }
}

/// Writes what the panels ask for and says what happened; GIFs are made one after another.
pub struct Exporter {
    gifs: Lane<GifJob>,
    waiting: VecDeque<GifJob>,
    message: Option<String>,
    /// What a picture written in the background (a screenshot, a panel drawn offscreen) said.
    written: Arc<Mutex<Option<String>>>,
}

impl Exporter {
    /// An exporter whose GIFs are made on their own thread.
    pub fn new(target: &LaneTarget) -> Self {
        Self {
            gifs: Lane::spawn("noisescope-export", target),
            waiting: VecDeque::new(),
            message: None,
            written: Arc::default(),
        }
    }

    /// What the last export did, or why it did not.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Whether a GIF is being made or waits to be.
    pub fn running(&self) -> bool {
        self.gifs.running() || !self.waiting.is_empty()
    }

    /// Whether the GIF thread is between jobs.
    pub fn idle(&self) -> bool {
        self.gifs.idle()
    }

    /// The export folder of `settings`; `None`, saying so, when none is named.
    fn folder(&mut self, settings: &ExportSettings) -> Option<PathBuf> {
        let folder = settings.folder.trim();
        if folder.is_empty() {
            self.message = Some("not exported: choose an export folder first".to_owned());
            return None;
        }
        Some(PathBuf::from(folder))
    }

    /// Writes `request` to the export folder of `settings` (a GIF: starts making it).
    pub fn export(&mut self, request: ExportRequest, settings: &ExportSettings) {
        let Some(folder) = self.folder(settings) else {
            return;
        };
        self.message = match request {
            ExportRequest::Gif { stem, frames } => self.start_gif(&folder, &stem, frames, settings),
            request => {
                let path = free_path(&folder, request.stem(), request.extension());
                Some(
                    request
                        .write_to(&path, settings, Overwrite::Refuse)
                        .unwrap_or_else(|error| format!("not exported: {error}")),
                )
            }
        };
    }

    fn start_gif(
        &mut self,
        folder: &Path,
        stem: &str,
        frames: Vec<Tiles>,
        settings: &ExportSettings,
    ) -> Option<String> {
        if frames.is_empty() {
            return Some("not exported: nothing to animate yet".to_owned());
        }
        let gif = GifSettings {
            fps: settings.fps,
            looping: settings.looping,
        };
        if let Err(error) = gif.check() {
            return Some(format!("not exported: {error}"));
        }
        let job = GifJob {
            path: free_path(folder, stem, "gif"),
            frames,
            scale: settings.scale.clamp(1, 32),
            label: settings.label,
            settings: gif,
        };
        if self.gifs.running() {
            self.waiting.push_back(job);
        } else {
            self.gifs.start(job);
        }
        None
    }

    /// Writes the part `rect` of the window, as drawn (plots crisp at the UI's zoom: zoom in
    /// for a larger picture), as `<stem>.png` once the window's pixels arrive.
    pub fn screenshot(
        &mut self,
        ctx: &egui::Context,
        (rect, stem): (egui::Rect, &str),
        settings: &ExportSettings,
    ) {
        let Some(folder) = self.folder(settings) else {
            return;
        };
        let (stem, mailbox) = (stem.to_owned(), Arc::clone(&self.written));
        let pixels_per_point = ctx.pixels_per_point();
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            let region = image.region(&rect, Some(pixels_per_point));
            let picture =
                RgbImage::from_fn(region.width() as u32, region.height() as u32, |x, y| {
                    let [r, g, b, _] = region[(x as usize, y as usize)].to_array();
                    image::Rgb([r, g, b])
                });
            post(&mailbox, &repaint, write_picture(&folder, &stem, &picture));
        });
    }

    /// Makes a picture with `make` and writes it as `<stem>.png`, on a thread of its own (a
    /// large picture takes a while to draw and encode); says so once it is written.
    pub fn picture(
        &mut self,
        ctx: &egui::Context,
        (stem, settings): (&str, &ExportSettings),
        make: impl FnOnce() -> Result<RgbImage, String> + Send + 'static,
    ) {
        let Some(folder) = self.folder(settings) else {
            return;
        };
        let (stem, mailbox) = (stem.to_owned(), Arc::clone(&self.written));
        let repaint = ctx.clone();
        self.message = Some(format!("drawing {stem}.png…"));
        std::thread::spawn(move || {
            let message = match make() {
                Ok(picture) => write_picture(&folder, &stem, &picture),
                Err(error) => format!("not exported: {error}"),
            };
            post(&mailbox, &repaint, message);
        });
    }

    /// Says why an export could not be made.
    pub fn refused(&mut self, message: &str) {
        self.message = Some(format!("not exported: {message}"));
    }

    /// Takes what the GIF thread and screenshots reported.
    pub fn poll(&mut self) {
        let shot = self
            .written
            .lock()
            .map(|mut m| m.take())
            .unwrap_or_default();
        if let Some(message) = shot {
            self.message = Some(message);
        }
        for update in self.gifs.poll() {
            match update {
                Update::Event(message) | Update::Failed(message) => self.message = Some(message),
                Update::Progress { .. } | Update::Done { .. } => {}
            }
        }
        if !self.gifs.running()
            && let Some(next) = self.waiting.pop_front()
        {
            self.gifs.start(next);
        }
    }

    /// The status bar's part: a GIF's progress with Cancel, or the last message.
    pub fn status_ui(&mut self, ui: &mut egui::Ui) {
        if self.gifs.running() {
            ui.separator();
            busy_indicator(ui);
            let (done, total) = self.gifs.progress().unwrap_or((0, 1));
            let more = match self.waiting.len() {
                0 => String::new(),
                n => format!(" ({n} more waiting)"),
            };
            ui.label(format!(
                "making a GIF: {}%{more}",
                100 * done / total.max(1)
            ));
            if ui.button("Cancel").clicked() {
                self.gifs.cancel();
                self.waiting.clear();
                self.message = Some("GIF cancelled: nothing was written".to_owned());
            }
        } else if let Some(message) = &self.message {
            ui.separator();
            ui.label(egui::RichText::new(message).small());
        }
    }
}

/// The export settings, for the Export window.
pub fn settings_ui(ui: &mut egui::Ui, settings: &mut ExportSettings) {
    egui::Grid::new("export settings")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("folder");
            ui.add(egui::TextEdit::singleline(&mut settings.folder).desired_width(320.0));
            ui.end_row();
            ui.label("scale of pictures");
            ui.add(egui::Slider::new(&mut settings.scale, 1..=16).suffix("× per pixel"))
                .on_hover_text("each pixel of an image becomes N×N pixels");
            ui.end_row();
            ui.label("scale of panels");
            ui.add(
                egui::Slider::new(&mut settings.panel_scale, 1.0..=4.0)
                    .step_by(0.5)
                    .suffix(" pixels per point"),
            )
            .on_hover_text(
                "a panel of plots (E) is drawn anew at this resolution, whatever the zoom",
            );
            ui.end_row();
            ui.label("GIF frames");
            ui.add(egui::Slider::new(&mut settings.gif_frames, 2..=1000).logarithmic(true));
            ui.end_row();
            ui.label("GIF speed");
            ui.add(egui::Slider::new(&mut settings.fps, 1.0..=50.0).suffix(" frames/s"));
            ui.end_row();
            ui.label("");
            ui.horizontal(|ui| {
                ui.checkbox(&mut settings.looping, "loop");
                ui.checkbox(&mut settings.label, "write t under each picture");
            });
            ui.end_row();
        });
    ui.label(
        egui::RichText::new(
            "Files get fresh names (frame.png, frame-2.png, …): nothing is ever replaced.",
        )
        .small()
        .weak(),
    );
}

/// Leaves what a background export said for the next [`Exporter::poll`], and wakes the UI.
fn post(mailbox: &Mutex<Option<String>>, ui: &egui::Context, message: String) {
    *mailbox.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
    ui.request_repaint();
}

/// Writes `picture` as `<stem>.png` (a fresh name) in `folder`; what happened.
fn write_picture(folder: &Path, stem: &str, picture: &RgbImage) -> String {
    let path = free_path(folder, stem, "png");
    match write_png(&path, picture, Overwrite::Refuse) {
        Ok(()) => wrote(&path, &format!("{}×{}", picture.width(), picture.height())),
        Err(error) => format!("not exported: {error}"),
    }
}

fn wrote(path: &Path, what: &str) -> String {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!("wrote {what} to {}", shown.display())
}
