//! Formulas drawn as mathematics: sub- and superscripts, square roots with their bar,
//! fractions with their rule — laid out here from egui's text, since egui has no maths.

use std::sync::Arc;

use eframe::egui::{self, Color32, FontId, Galley, Pos2, Vec2};

/// A formula.
#[derive(Clone, Debug, PartialEq)]
pub enum Math {
    /// Upright text: numbers, operators, words.
    Text(String),
    /// An italic variable.
    Var(String),
    /// A base with a subscript and/or a superscript.
    Scripts {
        /// The base.
        base: Box<Math>,
        /// Below right, smaller.
        sub: Option<Box<Math>>,
        /// Above right, smaller.
        sup: Option<Box<Math>>,
    },
    /// √ over its content.
    Sqrt(Box<Math>),
    /// A hat over its content: an estimate, as x̂0 and ε̂ (drawn, since fonts often lack the
    /// combining accent).
    Hat(Box<Math>),
    /// A fraction.
    Frac(Box<Math>, Box<Math>),
    /// Side by side.
    Row(Vec<Math>),
}

/// Upright text.
pub fn text(s: &str) -> Math {
    Math::Text(s.to_owned())
}

/// A variable `name` with subscript `sub` (upright text, e.g. "t", "t−1").
pub fn var_sub(name: &str, sub: &str) -> Math {
    Math::Scripts {
        base: Box::new(Math::Var(name.to_owned())),
        sub: Some(Box::new(Math::Var(sub.to_owned()))),
        sup: None,
    }
}

/// `name` with a hat: an estimate.
pub fn hat(name: &str) -> Math {
    Math::Hat(Box::new(Math::Var(name.to_owned())))
}

/// √`inner`.
pub fn sqrt(inner: Math) -> Math {
    Math::Sqrt(Box::new(inner))
}

/// `top` over `bottom`.
pub fn frac(top: Math, bottom: Math) -> Math {
    Math::Frac(Box::new(top), Box::new(bottom))
}

/// A number with `digits` decimals.
pub fn num(value: f64, digits: usize) -> Math {
    Math::Text(format!("{value:.digits$}"))
}

/// What a laid-out formula paints, relative to its baseline's left end.
enum Item {
    Text(Vec2, Arc<Galley>),
    Line(Vec2, Vec2),
}

/// A laid-out formula: its width, its height above and below the baseline, and its items.
struct Laid {
    width: f32,
    ascent: f32,
    descent: f32,
    items: Vec<Item>,
}

impl Laid {
    fn shifted(self, by: Vec2, into: &mut Vec<Item>) {
        for item in self.items {
            into.push(match item {
                Item::Text(at, galley) => Item::Text(at + by, galley),
                Item::Line(a, b) => Item::Line(a + by, b + by),
            });
        }
    }
}

fn layout(painter: &egui::Painter, math: &Math, size: f32, color: Color32) -> Laid {
    match math {
        Math::Text(s) | Math::Var(s) => {
            let mut job = egui::text::LayoutJob::default();
            let format = egui::TextFormat {
                font_id: FontId::proportional(size),
                color,
                italics: matches!(math, Math::Var(_)),
                ..Default::default()
            };
            job.append(s, 0.0, format);
            let galley = painter.layout_job(job);
            let (width, height) = (galley.size().x, galley.size().y);
            let ascent = 0.78 * height;
            Laid {
                width,
                ascent,
                descent: height - ascent,
                items: vec![Item::Text(Vec2::new(0.0, -ascent), galley)],
            }
        }
        Math::Row(parts) => {
            let mut items = Vec::new();
            let (mut width, mut ascent, mut descent) = (0.0f32, 0.0f32, 0.0f32);
            for part in parts {
                let laid = layout(painter, part, size, color);
                ascent = ascent.max(laid.ascent);
                descent = descent.max(laid.descent);
                let advance = laid.width;
                laid.shifted(Vec2::new(width, 0.0), &mut items);
                width += advance + 0.12 * size;
            }
            Laid {
                width: (width - 0.12 * size).max(0.0),
                ascent,
                descent,
                items,
            }
        }
        Math::Scripts { base, sub, sup } => {
            let base = layout(painter, base, size, color);
            let (mut width, mut ascent, mut descent) = (base.width, base.ascent, base.descent);
            let mut items = Vec::new();
            let x = base.width + 0.05 * size;
            base.shifted(Vec2::ZERO, &mut items);
            let mut scripts_width = 0.0f32;
            if let Some(sub) = sub {
                let laid = layout(painter, sub, 0.7 * size, color);
                let drop = 0.3 * size;
                descent = descent.max(drop + laid.descent);
                scripts_width = scripts_width.max(laid.width);
                laid.shifted(Vec2::new(x, drop), &mut items);
            }
            if let Some(sup) = sup {
                let laid = layout(painter, sup, 0.7 * size, color);
                let rise = 0.45 * size;
                ascent = ascent.max(rise + laid.ascent);
                scripts_width = scripts_width.max(laid.width);
                laid.shifted(Vec2::new(x, -rise), &mut items);
            }
            if scripts_width > 0.0 {
                width = x + scripts_width;
            }
            Laid {
                width,
                ascent,
                descent,
                items,
            }
        }
        Math::Sqrt(inner) => {
            let inner = layout(painter, inner, size, color);
            let sign = 0.55 * size;
            let (top, bottom) = (-(inner.ascent + 0.12 * size), inner.descent);
            let mut items = vec![
                Item::Line(Vec2::new(0.0, 0.45 * top), Vec2::new(0.2 * sign, 0.3 * top)),
                Item::Line(
                    Vec2::new(0.2 * sign, 0.3 * top),
                    Vec2::new(0.5 * sign, bottom),
                ),
                Item::Line(Vec2::new(0.5 * sign, bottom), Vec2::new(sign, top)),
                Item::Line(
                    Vec2::new(sign, top),
                    Vec2::new(sign + inner.width + 0.1 * size, top),
                ),
            ];
            let width = sign + inner.width + 0.1 * size;
            let ascent = -top + 0.05 * size;
            let descent = inner.descent;
            inner.shifted(Vec2::new(sign + 0.05 * size, 0.0), &mut items);
            Laid {
                width,
                ascent,
                descent,
                items,
            }
        }
        Math::Hat(inner) => {
            let inner = layout(painter, inner, size, color);
            let (middle, top) = (
                inner.width / 2.0 + 0.08 * size,
                -(inner.ascent + 0.02 * size),
            );
            let (half, rise) = (0.22 * size, 0.16 * size);
            let mut items = vec![
                Item::Line(Vec2::new(middle - half, top + rise), Vec2::new(middle, top)),
                Item::Line(Vec2::new(middle, top), Vec2::new(middle + half, top + rise)),
            ];
            let (width, ascent, descent) = (inner.width, -top + 0.05 * size, inner.descent);
            inner.shifted(Vec2::ZERO, &mut items);
            Laid {
                width,
                ascent,
                descent,
                items,
            }
        }
        Math::Frac(top, bottom) => {
            let (top, bottom) = (
                layout(painter, top, 0.85 * size, color),
                layout(painter, bottom, 0.85 * size, color),
            );
            let width = top.width.max(bottom.width) + 0.2 * size;
            let axis = -0.3 * size;
            let gap = 0.12 * size;
            let mut items = vec![Item::Line(Vec2::new(0.0, axis), Vec2::new(width, axis))];
            let ascent = -axis + gap + top.descent + top.ascent;
            let descent = axis + gap + bottom.ascent + bottom.descent;
            let top_at = Vec2::new((width - top.width) / 2.0, axis - gap - top.descent);
            let bottom_at = Vec2::new((width - bottom.width) / 2.0, axis + gap + bottom.ascent);
            top.shifted(top_at, &mut items);
            bottom.shifted(bottom_at, &mut items);
            Laid {
                width,
                ascent,
                descent,
                items,
            }
        }
    }
}

/// Draws `math` at font size `size` (at the default text size; it follows the text size
/// setting) as one widget, labelled `name` for screen readers; a formula wider than the room
/// left is drawn smaller to fit (down to 60 % of its size).
pub fn math_ui(ui: &mut egui::Ui, name: &str, math: &Math, size: f32) -> egui::Response {
    let body = |style: &egui::Style| {
        style
            .text_styles
            .get(&egui::TextStyle::Body)
            .map_or(12.5, |f| f.size)
    };
    let mut size = size * body(ui.style()) / body(&egui::Style::default());
    let color = ui.visuals().strong_text_color();
    let mut laid = layout(ui.painter(), math, size, color);
    let room = ui.available_width();
    if laid.width > room && room > 0.0 {
        size = (0.98 * size * room / laid.width).max(0.6 * size);
        laid = layout(ui.painter(), math, size, color);
    }
    let desired = egui::vec2(laid.width, laid.ascent + laid.descent);
    let (rect, response) = ui.allocate_exact_size(desired, egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Label, true, name));
    let origin = Pos2::new(rect.left(), rect.top() + laid.ascent);
    let stroke = egui::Stroke::new((size / 16.0).max(1.0), color);
    for item in laid.items {
        match item {
            Item::Text(at, galley) => ui.painter().galley(origin + at, galley, color),
            Item::Line(a, b) => {
                ui.painter().line_segment([origin + a, origin + b], stroke);
            }
        }
    }
    response
}
