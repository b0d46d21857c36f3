//! Exponential moving average of a module's weights.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// Moves every parameter of `average` towards the same parameter (by id) of `current`:
/// `average ← decay · average + (1 − decay) · current`.
pub fn update_ema<M: Module>(average: M, current: &M, decay: f64) -> M {
    let mut collector = Collector::default();
    current.visit(&mut collector);
    average.map(&mut Blend {
        values: collector.values,
        decay,
    })
}

#[derive(Default)]
struct Collector {
    values: HashMap<ParamId, Tensor<1>>,
}

impl ModuleVisitor for Collector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().without_autodiff();
        let n = value.shape().num_elements();
        self.values.insert(param.id, value.reshape([n]));
    }
}

struct Blend {
    values: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(current) = self.values.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|average| {
            let shape = average.shape();
            average * decay + current.reshape(shape) * (1.0 - decay)
        })
    }
}
