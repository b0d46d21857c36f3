//! Small dense symmetric linear algebra in f64 for the FID: the cyclic Jacobi eigenvalue method.

/// A symmetric n×n matrix, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct SymmetricMatrix {
    /// Side length.
    pub n: usize,
    /// Entries, row-major; `values[i * n + j] == values[j * n + i]`.
    pub values: Vec<f64>,
}

impl SymmetricMatrix {
    /// The entry at row `i`, column `j`.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.n + j]
    }

    /// The sum of the diagonal.
    pub fn trace(&self) -> f64 {
        (0..self.n).map(|i| self.at(i, i)).sum()
    }

    /// Eigenvalues and eigenvectors (columns of the returned row-major matrix), by cyclic Jacobi
    /// rotations until the off-diagonal mass is negligible.
    pub fn eigen(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.n;
        let mut a = self.values.clone();
        let mut v = identity(n);
        let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
        for _sweep in 0..100 {
            let off: f64 = (0..n)
                .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
                .map(|(i, j)| a[i * n + j] * a[i * n + j])
                .sum();
            if off <= 1e-24 * scale {
                break;
            }
            for p in 0..n {
                for q in p + 1..n {
                    rotate(&mut a, &mut v, n, p, q);
                }
            }
        }
        ((0..n).map(|i| a[i * n + i]).collect(), v)
    }

    /// The principal square root of a positive semi-definite matrix (negative eigenvalues from
    /// rounding are treated as zero).
    pub fn sqrt_psd(&self) -> SymmetricMatrix {
        let n = self.n;
        let (values, vectors) = self.eigen();
        let roots: Vec<f64> = values.iter().map(|l| l.max(0.0).sqrt()).collect();
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] = (0..n)
                    .map(|k| vectors[i * n + k] * roots[k] * vectors[j * n + k])
                    .sum();
            }
        }
        SymmetricMatrix { n, values: out }
    }

    /// `self · other · self`, symmetric when both are.
    pub fn sandwich(&self, other: &SymmetricMatrix) -> SymmetricMatrix {
        let product = multiply(
            &multiply(&self.values, &other.values, self.n),
            &self.values,
            self.n,
        );
        let n = self.n;
        let mut values = product.clone();
        for i in 0..n {
            for j in 0..n {
                values[i * n + j] = 0.5 * (product[i * n + j] + product[j * n + i]);
            }
        }
        SymmetricMatrix { n, values }
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

fn multiply(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik != 0.0 {
                for j in 0..n {
                    out[i * n + j] += aik * b[k * n + j];
                }
            }
        }
    }
    out
}

/// One Jacobi rotation zeroing `a[p][q]`, accumulated into the eigenvectors `v`.
fn rotate(a: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = a[p * n + q];
    if apq.abs() < 1e-300 {
        return;
    }
    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let t = if theta == 0.0 { 1.0 } else { t };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..n {
        let (akp, akq) = (a[k * n + p], a[k * n + q]);
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for k in 0..n {
        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
    for k in 0..n {
        let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_symmetric(n: usize, seed: u64) -> SymmetricMatrix {
        let noise = crate::noise::standard_normal(seed, crate::noise::NoiseStream::Epsilon, n * n);
        let mut values = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                values[i * n + j] = f64::from(noise[i * n + j] + noise[j * n + i]);
            }
        }
        SymmetricMatrix { n, values }
    }

    #[test]
    fn eigen_decomposition_reconstructs_the_matrix() {
        let m = random_symmetric(12, 3);
        let (values, vectors) = m.eigen();
        let n = m.n;
        for i in 0..n {
            for j in 0..n {
                let rebuilt: f64 = (0..n)
                    .map(|k| vectors[i * n + k] * values[k] * vectors[j * n + k])
                    .sum();
                assert!(
                    (rebuilt - m.at(i, j)).abs() < 1e-9,
                    "({i},{j}): {rebuilt} vs {}",
                    m.at(i, j)
                );
            }
        }
        let trace: f64 = values.iter().sum();
        assert!((trace - m.trace()).abs() < 1e-9);
    }

    #[test]
    fn square_root_squares_back() {
        let a = random_symmetric(10, 5);
        let psd = a.sandwich(&SymmetricMatrix {
            n: 10,
            values: identity(10),
        });
        let root = psd.sqrt_psd();
        let square = multiply(&root.values, &root.values, 10);
        for (x, y) in square.iter().zip(&psd.values) {
            assert!((x - y).abs() < 1e-8, "{x} vs {y}");
        }
    }
}
