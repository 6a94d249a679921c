//! Progress of a search on the terminal: a bar per phase and per retraining (phase,
//! epoch, losses, entropy of the block weights, best validation accuracy), plain lines
//! for logs, or nothing.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use densenas::search::Event;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars when standard error is a terminal, else nothing.
    Auto,
    /// Bars.
    Bar,
    /// One line per epoch, phase and retraining milestone (for logs).
    Lines,
    /// Nothing.
    None,
}

/// Shows the events of one search.
pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    best: f64,
    entropy: f64,
    epoch: (usize, usize),
    loss: (f64, f64),
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> ")
}

impl Progress {
    /// Progress in `mode` (`Auto` resolved against standard error).
    pub fn new(mode: ProgressMode) -> Progress {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::None,
            m => m,
        };
        Progress { mode, bar: None, best: f64::NAN, entropy: f64::NAN, epoch: (0, 0), loss: (f64::NAN, f64::NAN) }
    }

    fn bar(&mut self, len: usize, prefix: String, template: &str) -> &ProgressBar {
        if let Some(old) = self.bar.take() {
            old.finish();
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        bar.set_style(style(template));
        bar.set_prefix(prefix);
        self.bar.insert(bar)
    }

    fn smooth(old: f64, new: f64) -> f64 {
        if old.is_nan() {
            new
        } else if new.is_nan() {
            old
        } else {
            0.9 * old + 0.1 * new
        }
    }

    /// Shows one event.
    pub fn event(&mut self, event: Event<'_>) {
        match self.mode {
            ProgressMode::None | ProgressMode::Auto => {}
            ProgressMode::Lines => Self::line(event),
            ProgressMode::Bar => self.draw(event),
        }
    }

    /// Ends the last bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }

    fn draw(&mut self, event: Event<'_>) {
        match event {
            Event::Step { phase, step, steps, weight_loss, arch_loss } => {
                if step == 0 {
                    self.loss = (f64::NAN, f64::NAN);
                    self.bar(steps, format!("phase {}", phase + 1), "{prefix:>9} [{bar:30}] {pos:>5}/{len:5} {msg}");
                }
                self.loss = (Self::smooth(self.loss.0, weight_loss), Self::smooth(self.loss.1, arch_loss));
                let msg = format!(
                    "epoch {}/{}  loss {:.4}  arch {:.4}  H(w) {:.3}  best val {}",
                    self.epoch.0 + 1,
                    self.epoch.1.max(1),
                    self.loss.0,
                    self.loss.1,
                    self.entropy,
                    if self.best.is_nan() { "-".to_string() } else { format!("{:.2}%", 100.0 * self.best) }
                );
                if let Some(bar) = &self.bar {
                    bar.set_message(msg);
                    bar.inc(1);
                }
            }
            Event::Epoch { epoch, epochs, weight_entropy, .. } => {
                self.entropy = weight_entropy;
                self.epoch = ((epoch + 1).min(epochs.saturating_sub(1)), epochs);
            }
            Event::Phase(report) => {
                self.best = report.best_val_accuracy;
                self.epoch = (0, self.epoch.1);
                if let Some(bar) = self.bar.take() {
                    bar.finish_with_message(format!(
                        "done: best val {:.2}%{}  density entropy {:.2} bits",
                        100.0 * report.best_val_accuracy,
                        if report.new_best { " (new)" } else { "" },
                        report.density_entropy_bits
                    ));
                }
            }
            Event::Retrain { which, epoch, epochs, loss } => {
                if epoch == 0 {
                    self.bar(epochs, format!("retrain {which}"), "{prefix:>16} [{bar:30}] {pos:>3}/{len:3} {msg}");
                }
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("loss {loss:.4}"));
                    bar.inc(1);
                    if epoch + 1 == epochs {
                        bar.finish();
                    }
                }
            }
        }
    }

    fn line(event: Event<'_>) {
        match event {
            Event::Step { .. } => {}
            Event::Epoch { phase, epoch, epochs, weight_loss, arch_loss, weight_entropy } => eprintln!(
                "phase {} epoch {:>3}/{epochs}  weight loss {weight_loss:.4}  arch loss {arch_loss:.4}  entropy(w) {weight_entropy:.3}",
                phase + 1,
                epoch + 1
            ),
            Event::Phase(r) => {
                let accs: Vec<String> = r.records.iter().map(|x| format!("{:.3}", x.val_accuracy)).collect();
                eprintln!(
                    "phase {} done: block val acc [{}]  best so far {:.4}{}  density entropy {:.2} bits",
                    r.phase + 1,
                    accs.join(" "),
                    r.best_val_accuracy,
                    if r.new_best { " (new)" } else { "" },
                    r.density_entropy_bits
                );
            }
            Event::Retrain { which, epoch, epochs, loss } => {
                if epoch + 1 == epochs || (epoch + 1) % 10 == 0 {
                    eprintln!("retrain {which:<8} epoch {:>3}/{epochs}  loss {loss:.4}", epoch + 1);
                }
            }
        }
    }
}
