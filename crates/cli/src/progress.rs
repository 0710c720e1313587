//! Progress bars for long work (indicatif), fed by the libraries' observer traits.

use blindspot_models::{EpochReport, TrainObserver};
use indicatif::{ProgressBar, ProgressStyle};

/// Shows one bar per training stage: steps, loss, and the last epoch's errors.
pub struct TrainProgress {
    label: String,
    bar: Option<ProgressBar>,
    last_epoch: String,
    loss: f64,
}

impl TrainProgress {
    /// A bar labelled with the run id.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            bar: None,
            last_epoch: String::new(),
            loss: f64::NAN,
        }
    }

    fn refresh(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("loss {:.4} {}", self.loss, self.last_epoch));
        }
    }
}

impl TrainObserver for TrainProgress {
    fn on_stage(&mut self, stage: &'static str, total_steps: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        let bar = ProgressBar::new(total_steps as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>22} {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .expect("the template is valid"),
        );
        bar.set_prefix(format!("{} {stage}", self.label));
        self.bar = Some(bar);
        self.last_epoch.clear();
    }

    fn on_step(&mut self, loss: Option<f64>) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(l) = loss {
            self.loss = l;
            self.refresh();
        }
    }

    fn on_epoch(&mut self, r: &EpochReport) {
        self.loss = r.loss;
        self.last_epoch = format!("| epoch {}/{}", r.epoch, r.epochs);
        if let (Some(tr), Some(te)) = (r.train_error, r.test_error) {
            self.last_epoch +=
                &format!(" train err {:.2}% test err {:.2}%", 100.0 * tr, 100.0 * te);
        }
        self.refresh();
        if let Some(bar) = &self.bar {
            // Keep a line per epoch in logs (CI has no terminal).
            if bar.is_hidden() {
                eprintln!(
                    "{} {} {}: loss {:.4} {}",
                    self.label, r.stage, r.epoch, r.loss, self.last_epoch
                );
            }
        }
    }
}

impl Drop for TrainProgress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

/// A bar over the attacked problems.
pub struct AttackProgress {
    label: String,
    bar: Option<ProgressBar>,
}

impl AttackProgress {
    /// A bar labelled with the model and goal.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            bar: None,
        }
    }
}

impl blindspot_attack::AttackObserver for AttackProgress {
    fn progress(&mut self, finished: usize, total: usize) {
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>22} {bar:30} {pos}/{len} images [{elapsed_precise}<{eta_precise}]",
                )
                .expect("the template is valid"),
            );
            bar.set_prefix(self.label.clone());
            bar
        });
        bar.set_position(finished as u64);
    }
}

impl Drop for AttackProgress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}
