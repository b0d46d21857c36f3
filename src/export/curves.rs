//! Plotted curves as CSV: one row per point, in long form (`curve,x,y`), so that curves with
//! different x values share one file.

use std::fmt::Write;

/// One plotted curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Its name as the legend shows it.
    pub name: String,
    /// Its points (x, y).
    pub points: Vec<[f64; 2]>,
}

impl Curve {
    /// A curve named `name` through `points`.
    pub fn new(name: impl Into<String>, points: Vec<[f64; 2]>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// The curves as CSV with the header `curve,<x_name>,<y_name>` and one row per point; names
/// with commas or quotes are quoted.
pub fn curves_csv(x_name: &str, y_name: &str, curves: &[Curve]) -> String {
    let mut csv = format!("curve,{},{}\n", quoted(x_name), quoted(y_name));
    for curve in curves {
        let name = quoted(&curve.name);
        for [x, y] in &curve.points {
            let _ = writeln!(csv, "{name},{x},{y}");
        }
    }
    csv
}

/// `field` as a CSV field: quoted when it holds a comma, a quote or a line break.
fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_is_one_row_under_one_header() {
        let curves = [
            Curve::new("linear", vec![[1.0, 0.5], [2.0, 0.25]]),
            Curve::new("cosine (s = 0.008), shifted", vec![[1.0, 0.75]]),
        ];
        let csv = curves_csv("t", "alpha_bar", &curves);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "curve,t,alpha_bar");
        assert_eq!(lines.len(), 1 + 3);
        assert_eq!(lines[2], "linear,2,0.25");
        assert_eq!(lines[3], "\"cosine (s = 0.008), shifted\",1,0.75");
    }
}
