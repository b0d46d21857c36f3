//! `noisescope evaluate --per-class`: does the model generate the class it is asked for?

use std::io::Write;

use anyhow::bail;
use serde_json::json;

use super::quality::{EvaluateArgs, classifier, image_set, sample_many};
use super::sample::{apply_noting, checked_size};
use crate::data::{BuiltinDataset, FASHION_CLASSES};
use crate::diffusion::DefaultSampler;
use crate::metrics::ClassifierView;
use crate::model::{Condition, DEFAULT_GUIDANCE};

/// The share of real test images of each class that the classifier assigns to it.
pub fn real_class_shares(test_view: &ClassifierView) -> anyhow::Result<Vec<f64>> {
    let labels = BuiltinDataset::load_shipped()?;
    if labels.len() != test_view.classes.len() {
        bail!("the test labels do not match the test images");
    }
    let mut hits = vec![0usize; FASHION_CLASSES.len()];
    let mut totals = vec![0usize; FASHION_CLASSES.len()];
    for (i, &predicted) in test_view.classes.iter().enumerate() {
        if let Some(label) = labels.label(i).map(usize::from) {
            totals[label] += 1;
            hits[label] += usize::from(predicted == label);
        }
    }
    Ok(hits
        .iter()
        .zip(&totals)
        .map(|(&h, &n)| h as f64 / n.max(1) as f64)
        .collect())
}

/// The share of `view`'s images classified as `class`.
pub fn class_share(view: &ClassifierView, class: usize) -> f64 {
    let n = view.classes.len().max(1);
    view.classes.iter().filter(|&&c| c == class).count() as f64 / n as f64
}

/// The bar for one class: at least as often as real images of it, capped at 90 %.
fn meets_bar(share: f64, real_share: f64) -> bool {
    share >= real_share.min(0.9)
}

/// Samples `--n` images of every class and reports the shares recognised as asked.
pub fn run_per_class(args: &EvaluateArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let size = checked_size(args.n, args.batch, args.seed)?;
    if args.condition.class.class.trim() != "any" {
        bail!("--per-class asks for every class in turn; leave out --class");
    }
    let guidance = args.condition.class.guidance.unwrap_or(DEFAULT_GUIDANCE);
    let (loaded, device) = args.model.load()?;
    let classifier = classifier(args.classifier.as_deref(), &device)?;
    let test = image_set("test-set", None, None)?;
    let real = real_class_shares(&ClassifierView::of(&classifier, &test, &device))?;
    let config = args.sampler.config(DefaultSampler::REVERSE);
    let mut rows = Vec::new();
    for (class, name) in FASHION_CLASSES.iter().enumerate() {
        let condition = Condition {
            class: Some(class),
            guidance,
            sampling: args.condition.sampling.spec(&loaded),
        };
        condition.check().map_err(anyhow::Error::msg)?;
        let conditioned = apply_noting(&condition, &loaded)?;
        let samples = sample_many(
            &conditioned.denoiser,
            &conditioned.schedule,
            config,
            size,
            &device,
        )?;
        let share = class_share(&ClassifierView::of(&classifier, &samples, &device), class);
        eprintln!(
            "{name}: {:.1} % recognised (real images {:.1} %)",
            100.0 * share,
            100.0 * real[class]
        );
        rows.push((class, share));
    }
    let mean = rows.iter().map(|(_, s)| s).sum::<f64>() / rows.len() as f64;
    let every = rows.iter().all(|&(c, s)| meets_bar(s, real[c]));
    let report = json!({
        "samples_per_class": args.n,
        "guidance": guidance,
        "sampler": config,
        "classes": rows.iter().map(|&(c, s)| json!({
            "class": FASHION_CLASSES[c],
            "class_share_samples": s,
            "class_share_test": real[c],
            "meets_class_bar": meets_bar(s, real[c]),
        })).collect::<Vec<_>>(),
        "mean_class_share_samples": mean,
        "meets_class_bar": every && mean >= 0.9,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_bar_is_the_real_share_capped_at_ninety_percent() {
        assert!(meets_bar(0.9, 0.97), "capped at 90 %");
        assert!(!meets_bar(0.89, 0.97));
        assert!(meets_bar(0.6, 0.6));
        assert!(!meets_bar(0.59, 0.6));
        let view = ClassifierView {
            features: Vec::new(),
            classes: vec![3, 3, 1, 3],
            confidence: Vec::new(),
        };
        assert_eq!(class_share(&view, 3), 0.75);
    }
}
