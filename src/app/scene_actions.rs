//! The app's side of scenes: adding what is on screen, saving and opening lists, and landing
//! where a scene was saved.

use super::panel::Panel;
use super::settings::Tab;
use super::{App, lend, scene_file, scenes};

impl App {
    /// The scenes, in order.
    pub fn scenes(&self) -> &[scene_file::Scene] {
        &self.scenes.list
    }

    /// The scene last gone to.
    pub fn current_scene(&self) -> Option<usize> {
        self.scenes.current
    }

    /// What the last save or open of the scene list did (Ok) or why it failed (Err), and what
    /// differs from where the open list was saved.
    pub fn scene_messages(&self) -> (Option<Result<&str, &str>>, &[String]) {
        let message = self.scenes.message.as_ref().map(|m| match m {
            Ok(text) => Ok(text.as_str()),
            Err(text) => Err(text.as_str()),
        });
        (message, &self.scenes.differences)
    }

    /// Adds what is on screen as the scene `name`.
    pub fn add_scene(&mut self, name: &str) {
        self.scene_action(scenes::SceneAction::Add(name.to_owned()));
    }

    /// Saves the scene list to `path` (remembered as the list's file).
    pub fn save_scenes(&mut self, path: &std::path::Path) {
        self.scene_file = path.to_string_lossy().into_owned();
        self.scene_action(scenes::SceneAction::Save);
    }

    /// Opens the scene list in `path` (remembered as the list's file); a file that cannot be
    /// read leaves the list as it was and says why.
    pub fn open_scenes(&mut self, path: &std::path::Path) {
        self.scene_file = path.to_string_lossy().into_owned();
        self.scene_action(scenes::SceneAction::Open);
    }

    pub(super) fn with_scene_file_opened(mut self) -> Self {
        let file = self.scene_file.trim();
        if !file.is_empty() && std::path::Path::new(file).is_file() {
            self.scene_action(scenes::SceneAction::Open);
        }
        self
    }

    pub(super) fn scene_action(&mut self, action: scenes::SceneAction) {
        use scenes::SceneAction;
        let path = std::path::PathBuf::from(self.scene_file.trim());
        match action {
            SceneAction::None => {}
            SceneAction::Go(index) => self.go_to_scene(index),
            SceneAction::Add(name) => {
                let settings = self.settings();
                self.scenes.list.push(scene_file::Scene { name, settings });
                self.scenes.current = Some(self.scenes.list.len() - 1);
            }
            SceneAction::Remove(index) if index < self.scenes.list.len() => {
                self.scenes.list.remove(index);
                self.scenes.current = None;
            }
            SceneAction::Remove(_) => {}
            SceneAction::Save if self.scene_file.trim().is_empty() => {
                self.scenes.message = Some(Err("name a file to save the scenes to".to_owned()));
            }
            SceneAction::Save => {
                let models = self.around.models_dir.as_deref();
                let list = scene_file::SceneList::new(self.scenes.list.clone(), models);
                self.scenes.message = Some(match list.write(&path) {
                    Ok(()) => Ok(format!(
                        "saved {} scenes to {}",
                        list.scenes.len(),
                        path.display()
                    )),
                    Err(error) => Err(format!("not saved: {error}")),
                });
            }
            SceneAction::Open => match scene_file::SceneList::read(&path) {
                Ok(list) => {
                    let differences = list.differences(self.around.models_dir.as_deref());
                    let count = list.scenes.len();
                    self.scenes.replace(list, differences);
                    self.scenes.message =
                        Some(Ok(format!("opened {count} scenes from {}", path.display())));
                }
                Err(error) => self.scenes.message = Some(Err(error.to_string())),
            },
        }
    }

    /// Lands exactly where scene `index` was saved: every panel's settings, the panel, t and
    /// s; the panel it opens computes what it shows unless its results are already there.
    pub fn go_to_scene(&mut self, index: usize) {
        let Some(scene) = self.scenes.list.get(index) else {
            return;
        };
        let settings = scene.settings.clone();
        self.scenes.current = Some(index);
        self.shared.tab = settings.tab;
        self.shared.cursor_t = settings.cursor_t;
        self.shared.switch_t = settings.switch_t;
        self.shared.beta1 = settings.beta1;
        let lent = lend(&self.shared, &self.around);
        self.panels.schedules.restore(&settings, &lent, false);
        self.shared.schedules = self.panels.schedules.schedules();
        let lent = lend(&self.shared, &self.around);
        for panel in self.panels.all_mut() {
            if panel.tab() != Tab::Schedules {
                let shown = panel.tab() == settings.tab;
                panel.restore(&settings, &lent, shown);
            }
        }
    }
}
