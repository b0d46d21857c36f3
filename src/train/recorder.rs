//! Builds a run's history while it trains: a log entry every `log_every` steps and a sample
//! grid every `grid_every` steps and at the last one.

use crate::model::{LogEntry, SampleGrid, TrainingHistory};

/// When to record, and what has been recorded so far (over all sittings).
pub(super) struct HistoryRecorder {
    history: TrainingHistory,
    log_every: u64,
    grid_every: u64,
    loss_sum: f64,
    loss_count: u64,
    /// Steps and seconds of training before this run (a model trained further with
    /// `--init`): its entries continue the log of the model it started from.
    before: (u64, f64),
}

/// What the loop knows about a step when it is logged.
pub(super) struct StepFacts {
    pub step: u64,
    pub learning_rate: f64,
    pub images_per_s: f64,
    pub wall_time_s: f64,
}

impl HistoryRecorder {
    /// Continues `history` (empty for a new run); 0 turns the log or the grids off.
    pub fn new(history: TrainingHistory, log_every: u64, grid_every: u64) -> Self {
        Self {
            history,
            log_every,
            grid_every,
            loss_sum: 0.0,
            loss_count: 0,
            before: (0, 0.0),
        }
    }

    /// Continues the history of a finished model this run starts from: its log and grids come
    /// first, and this run's steps and seconds count on from its last.
    pub fn continuing(mut self, earlier: &TrainingHistory) -> Self {
        let last = earlier.log.last();
        self.before = (
            last.map_or(0, |e| e.step)
                .max(earlier.grids.last().map_or(0, |g| g.step)),
            last.map_or(0.0, |e| e.wall_time_s),
        );
        let mut history = earlier.clone();
        history.log.append(&mut self.history.log);
        history.grids.append(&mut self.history.grids);
        self.history = history;
        self
    }

    /// A resumed run's recorder, whose history (the checkpoint's) already continues
    /// `earlier`, the model the run started from: this run's steps count on from its last.
    pub fn counting_on_from(mut self, earlier: &TrainingHistory) -> Self {
        self.before = Self::new(TrainingHistory::default(), 0, 0)
            .continuing(earlier)
            .before;
        self
    }

    /// Adds a step's loss to the current log window.
    pub fn add_loss(&mut self, loss: f64) {
        self.loss_sum += loss;
        self.loss_count += 1;
    }

    /// Logs the step when one is due (every `log_every` steps and the run's `last`).
    pub fn log_if_due(&mut self, facts: &StepFacts, last: u64) {
        if self.log_every == 0 || (!facts.step.is_multiple_of(self.log_every) && facts.step != last)
        {
            return;
        }
        let loss = if self.loss_count > 0 {
            self.loss_sum / self.loss_count as f64
        } else {
            f64::NAN
        };
        (self.loss_sum, self.loss_count) = (0.0, 0);
        self.history.log.push(LogEntry {
            step: self.before.0 + facts.step,
            loss,
            learning_rate: facts.learning_rate,
            images_per_s: facts.images_per_s,
            wall_time_s: self.before.1 + facts.wall_time_s,
        });
    }

    /// Whether a grid is due after `step` (every `grid_every` steps and the run's `last`,
    /// once each).
    pub fn grid_due(&self, step: u64, last: u64) -> bool {
        let recorded = self
            .history
            .grids
            .last()
            .is_some_and(|g| g.step >= self.before.0 + step);
        self.grid_every > 0 && (step.is_multiple_of(self.grid_every) || step == last) && !recorded
    }

    /// Records a grid drawn after this run's step `grid.step`.
    pub fn add_grid(&mut self, mut grid: SampleGrid) {
        grid.step += self.before.0;
        self.history.grids.push(grid);
    }

    /// Everything recorded so far.
    pub fn history(&self) -> &TrainingHistory {
        &self.history
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(step: u64) -> StepFacts {
        StepFacts {
            step,
            learning_rate: 1e-3,
            images_per_s: 100.0,
            wall_time_s: step as f64,
        }
    }

    #[test]
    fn the_log_averages_the_losses_of_its_window_and_logs_the_last_step() {
        let mut recorder = HistoryRecorder::new(TrainingHistory::default(), 2, 0);
        for (step, loss) in (1..=5).zip([1.0, 3.0, 5.0, 7.0, 9.0]) {
            recorder.add_loss(loss);
            recorder.log_if_due(&facts(step), 5);
        }
        let logged: Vec<(u64, f64)> = recorder
            .history()
            .log
            .iter()
            .map(|e| (e.step, e.loss))
            .collect();
        assert_eq!(logged, vec![(2, 2.0), (4, 6.0), (5, 9.0)]);
    }

    #[test]
    fn grids_are_due_on_their_period_and_at_the_end_once() {
        let mut recorder = HistoryRecorder::new(TrainingHistory::default(), 0, 10);
        assert!(!recorder.grid_due(5, 25));
        assert!(recorder.grid_due(10, 25));
        assert!(recorder.grid_due(25, 25));
        recorder.add_grid(SampleGrid::encode(20, &[0.0; 784]).expect("valid"));
        assert!(!recorder.grid_due(20, 20), "already recorded at 20");
        assert!(recorder.history().log.is_empty());
        let off = HistoryRecorder::new(TrainingHistory::default(), 0, 0);
        assert!(!off.grid_due(10, 10));
    }

    #[test]
    fn a_model_trained_further_continues_the_log_and_grids_it_started_from() {
        let mut earlier = HistoryRecorder::new(TrainingHistory::default(), 10, 10);
        for step in 1..=20 {
            earlier.add_loss(1.0);
            earlier.log_if_due(&facts(step), 20);
        }
        earlier.add_grid(SampleGrid::encode(20, &[0.0; 784]).expect("valid"));
        let mut further =
            HistoryRecorder::new(TrainingHistory::default(), 10, 10).continuing(earlier.history());
        assert!(
            !further.grid_due(0, 10),
            "the earlier model's last grid stands"
        );
        for step in 1..=10 {
            further.add_loss(0.5);
            further.log_if_due(&facts(step), 10);
        }
        assert!(further.grid_due(10, 10));
        further.add_grid(SampleGrid::encode(10, &[0.0; 784]).expect("valid"));
        let history = further.history();
        let steps: Vec<u64> = history.log.iter().map(|e| e.step).collect();
        assert_eq!(steps, [10, 20, 30]);
        assert_eq!(history.log[2].wall_time_s, 20.0 + 10.0);
        let grids: Vec<u64> = history.grids.iter().map(|g| g.step).collect();
        assert_eq!(grids, [20, 30]);
    }
}
