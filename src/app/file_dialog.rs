//! The native Open dialog, kept from freezing the UI.
//!
//! On Linux rfd asks the desktop's file-chooser portal over D-Bus; where no portal runs, that
//! call never returns, so it is made on a thread of its own there. Elsewhere the dialog must be
//! opened from the UI thread, where it is modal and returns when closed.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::{Duration, Instant};

use eframe::egui;

/// Image file extensions offered by the dialog.
const IMAGE_EXTENSIONS: [&str; 11] = [
    "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "pnm", "pgm", "ppm",
];

/// Faster than a person can cancel a dialog: an empty answer this quick means none was shown.
const TOO_QUICK: Duration = Duration::from_millis(400);

/// An Open dialog that has been asked for and not yet answered.
pub struct PendingDialog {
    answer: Receiver<Option<PathBuf>>,
    opened: Instant,
}

/// What became of a pending dialog.
pub enum DialogAnswer {
    /// Still open.
    Waiting,
    /// Closed, with the chosen file or none.
    Closed(Option<PathBuf>),
    /// Answered nothing at once: no dialog could be shown.
    Unavailable,
}

/// What the dialog asks for.
pub struct FileKind {
    /// The dialog's title.
    pub title: &'static str,
    /// The filter's name.
    pub name: &'static str,
    /// The file extensions offered.
    pub extensions: &'static [&'static str],
    /// What to drop on the window when no dialog can be shown.
    pub dropped: &'static str,
}

/// An image to noise (Forward).
pub const IMAGE_FILE: FileKind = FileKind {
    title: "Open an image to noise",
    name: "images",
    extensions: &IMAGE_EXTENSIONS,
    dropped: "image file",
};

/// A CSV file of x,y points (Playground).
pub const POINTS_FILE: FileKind = FileKind {
    title: "Open a CSV file of x,y points",
    name: "CSV",
    extensions: &["csv", "txt"],
    dropped: "CSV file",
};

/// A diffusers scheduler configuration (Schedules).
pub const SCHEDULER_CONFIG_FILE: FileKind = FileKind {
    title: "Open a diffusers scheduler_config.json",
    name: "JSON",
    extensions: &["json"],
    dropped: "scheduler_config.json",
};

impl PendingDialog {
    /// Opens the dialog for a file of `kind`.
    pub fn open(ctx: &egui::Context, kind: &FileKind) -> Self {
        let (sender, receiver) = channel();
        let (title, name, extensions) = (kind.title, kind.name, kind.extensions);
        let ask = move || {
            rfd::FileDialog::new()
                .set_title(title)
                .add_filter(name, extensions)
                .pick_file()
        };
        if cfg!(target_os = "linux") {
            let ctx = ctx.clone();
            let spawned = std::thread::Builder::new()
                .name("noisescope-file-dialog".to_owned())
                .spawn(move || {
                    let _ = sender.send(ask());
                    ctx.request_repaint();
                });
            if let Err(error) = spawned {
                eprintln!("cannot open the file dialog: {error}");
            }
        } else {
            let _ = sender.send(ask());
        }
        Self {
            answer: receiver,
            opened: Instant::now(),
        }
    }

    /// Whether the dialog has been answered.
    pub fn poll(&self) -> DialogAnswer {
        match self.answer.try_recv() {
            Ok(None) if self.opened.elapsed() < TOO_QUICK => DialogAnswer::Unavailable,
            Ok(path) => DialogAnswer::Closed(path),
            Err(TryRecvError::Empty) => DialogAnswer::Waiting,
            Err(TryRecvError::Disconnected) => DialogAnswer::Unavailable,
        }
    }
}

/// Polls the dialog in `slot` (opened for `kind`) and empties the slot once it is answered: the
/// chosen file, the message for a dialog that could not be shown, or nothing yet / none chosen.
pub fn take_answer(
    slot: &mut Option<PendingDialog>,
    kind: &FileKind,
) -> Option<Result<PathBuf, String>> {
    match slot.as_ref()?.poll() {
        DialogAnswer::Waiting => None,
        DialogAnswer::Closed(path) => {
            *slot = None;
            path.map(Ok)
        }
        DialogAnswer::Unavailable => {
            *slot = None;
            Some(Err(format!(
                "no file dialog could be shown (on Linux it needs xdg-desktop-portal): drop the \
                 {} on the window instead",
                kind.dropped
            )))
        }
    }
}
