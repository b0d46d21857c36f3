//! The list of scenes a lecturer prepares and steps through: add what is on screen under a
//! name, go to a scene (click, or PageUp/PageDown), save and open lists.

use eframe::egui::{self, Color32, RichText};

use super::scene_file::{Scene, SceneList};

/// What the person asked for in the Scenes window.
#[derive(Debug, PartialEq)]
pub enum SceneAction {
    /// Nothing.
    None,
    /// Go to the scene at this index.
    Go(usize),
    /// Add what is on screen as a scene with this name.
    Add(String),
    /// Remove the scene at this index.
    Remove(usize),
    /// Save the list to the file named in the window.
    Save,
    /// Open the list in the file named in the window.
    Open,
}

/// The scenes and the window that lists them.
#[derive(Default)]
pub struct Scenes {
    /// The scenes, in order.
    pub list: Vec<Scene>,
    /// The scene last gone to.
    pub current: Option<usize>,
    /// Whether the window is open.
    pub window_open: bool,
    /// The name typed for the next scene.
    new_name: String,
    /// What the last save or open did, or why it failed.
    pub message: Option<Result<String, String>>,
    /// What differs here from where the open list was saved.
    pub differences: Vec<String>,
}

impl Scenes {
    /// The scene `delta` places from the current one (the first or the last when none is
    /// current), if any; none for a `delta` of 0.
    pub fn step(&self, delta: isize) -> Option<usize> {
        if delta == 0 {
            return None;
        }
        let target = match self.current {
            Some(current) => current.checked_add_signed(delta)?,
            None if delta > 0 => 0,
            None => self.list.len().checked_sub(1)?,
        };
        (target < self.list.len()).then_some(target)
    }

    /// Takes an opened list: its scenes replace the list, and what differs is kept to show.
    pub fn replace(&mut self, list: SceneList, differences: Vec<String>) {
        self.list = list.scenes;
        self.current = None;
        self.differences = differences;
    }

    /// The window; `file` is the list's file, remembered with the settings.
    pub fn window_ui(&mut self, ctx: &egui::Context, file: &mut String) -> SceneAction {
        let mut action = SceneAction::None;
        let mut open = self.window_open;
        egui::Window::new("Scenes")
            .open(&mut open)
            .default_width(380.0)
            .show(ctx, |ui| action = self.contents_ui(ui, file));
        self.window_open &= open;
        action
    }

    fn contents_ui(&mut self, ui: &mut egui::Ui, file: &mut String) -> SceneAction {
        let mut action = SceneAction::None;
        ui.label(
            RichText::new("PageUp / PageDown go to the previous / next scene.")
                .small()
                .weak(),
        );
        for (index, scene) in self.list.iter().enumerate() {
            ui.horizontal(|ui| {
                let current = self.current == Some(index);
                let label = format!("{}. {}", index + 1, scene.name);
                if ui.selectable_label(current, label).clicked() {
                    action = SceneAction::Go(index);
                }
                if ui.small_button("✕").on_hover_text("remove").clicked() {
                    action = SceneAction::Remove(index);
                }
            });
        }
        if self.list.is_empty() {
            ui.label("No scenes yet: set up a panel, name it below and press Add.");
        }
        ui.horizontal(|ui| {
            let name = ui.add(
                egui::TextEdit::singleline(&mut self.new_name)
                    .hint_text("name of what is on screen")
                    .desired_width(220.0),
            );
            let enter = name.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Add").clicked() || enter {
                let name = self.new_name.trim();
                let name = if name.is_empty() {
                    format!("scene {}", self.list.len() + 1)
                } else {
                    name.to_owned()
                };
                action = SceneAction::Add(name);
                self.new_name.clear();
            }
        });
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("file");
            ui.add(egui::TextEdit::singleline(file).desired_width(220.0));
            if ui.button("Save").clicked() {
                action = SceneAction::Save;
            }
            if ui.button("Open").clicked() {
                action = SceneAction::Open;
            }
        });
        match &self.message {
            Some(Ok(message)) => {
                ui.label(RichText::new(message).small());
            }
            Some(Err(message)) => {
                ui.colored_label(Color32::from_rgb(235, 80, 80), message);
            }
            None => {}
        }
        for note in &self.differences {
            ui.colored_label(Color32::from_rgb(220, 160, 40), format!("note: {note}"));
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Settings;

    fn scenes(count: usize) -> Scenes {
        let list = (0..count)
            .map(|i| Scene {
                name: format!("{i}"),
                settings: Settings::default(),
            })
            .collect();
        Scenes {
            list,
            ..Scenes::default()
        }
    }

    #[test]
    fn stepping_starts_at_either_end_and_stops_at_the_ends() {
        let mut three = scenes(3);
        assert_eq!(three.step(1), Some(0));
        assert_eq!(three.step(-1), Some(2));
        assert_eq!(three.step(0), None);
        three.current = Some(2);
        assert_eq!(three.step(0), None);
        assert_eq!(three.step(1), None);
        assert_eq!(three.step(-1), Some(1));
        three.current = Some(0);
        assert_eq!(three.step(-1), None);
        assert_eq!(scenes(0).step(1), None);
        assert_eq!(scenes(0).step(-1), None);
    }
}
