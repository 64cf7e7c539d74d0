//! An ONNX model pinned by its SHA-256, run in-process by tract (pure Rust).
//!
//! The core reads no file: the edge (worker, operator, `tradewind-bot features`) loads
//! the artifact's bytes and hands them to [`OnnxModel::load`], which checks the digest,
//! the input's shape against the declared features and the output the Strategy names.
//! Inference runs on the calling thread (tract is single-threaded without its
//! multithreading features), so the same features give the same output every time.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// Largest model accepted, in bytes (a ConfigMap holds at most 1 MiB; a volume more).
pub const MAX_MODEL_BYTES: usize = 256 << 20;

/// Why a model artifact cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The bytes hash to something else than the pinned digest.
    #[error("sha256 of the artifact is {actual}, the Strategy pins {expected}")]
    Digest {
        /// The pinned digest.
        expected: String,
        /// The artifact's digest.
        actual: String,
    },
    /// Not an ONNX model tract can read.
    #[error("not a usable ONNX model: {0}")]
    Parse(String),
    /// The model's input does not match the declared features.
    #[error("input shape mismatch: {0}")]
    Input(String),
    /// The named output is missing or has the wrong shape.
    #[error("output mismatch: {0}")]
    Output(String),
    /// Inference failed.
    #[error("inference failed: {0}")]
    Run(String),
    /// Larger than [`MAX_MODEL_BYTES`].
    #[error("the artifact is {0} bytes, more than the {MAX_MODEL_BYTES} accepted")]
    TooLarge(usize),
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Which of the model's outputs is the decision value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSelector {
    /// Output name; `None` for the model's only float output (or its last one, where a
    /// classifier puts its probabilities after the label).
    pub name: Option<String>,
    /// Column of a `[1, k]` output (a classifier's class); 0 for a `[1]` or `[1, 1]`.
    pub column: usize,
}

type Plan = TypedSimplePlan;

/// A loaded, optimised model with a one-row float input of the declared width.
#[derive(Clone)]
pub struct OnnxModel {
    plan: Arc<Plan>,
    sha256: String,
    inputs: usize,
    output: usize,
    output_name: String,
    column: usize,
    bytes: usize,
}

impl fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxModel")
            .field("sha256", &self.sha256)
            .field("inputs", &self.inputs)
            .field("output", &self.output_name)
            .field("column", &self.column)
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// Two models are the same when their bytes are.
impl PartialEq for OnnxModel {
    fn eq(&self, other: &Self) -> bool {
        self.sha256 == other.sha256
            && self.output == other.output
            && self.column == other.column
            && self.inputs == other.inputs
    }
}

fn elem_name(t: i32) -> &'static str {
    match t {
        1 => "float",
        2 => "uint8",
        6 => "int32",
        7 => "int64",
        8 => "string",
        10 => "float16",
        11 => "double",
        _ => "another type",
    }
}

fn tensor_type(v: &pb::ValueInfoProto) -> Option<&pb::type_proto::Tensor> {
    match v.r#type.as_ref()?.value.as_ref()? {
        pb::type_proto::Value::TensorType(t) => Some(t),
    }
}

fn dims(t: &pb::type_proto::Tensor) -> Vec<Option<i64>> {
    t.shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn show(dims: &[Option<i64>]) -> String {
    let d: Vec<String> = dims
        .iter()
        .map(|d| d.map_or("?".to_owned(), |v| v.to_string()))
        .collect();
    format!("[{}]", d.join(", "))
}

impl OnnxModel {
    /// Checks `bytes` against `sha256` (lowercase hex), then that the model takes one
    /// float input of shape `[batch, features]` and has the selected output; optimises
    /// it for one row.
    pub fn load(
        bytes: &[u8],
        sha256: &str,
        features: usize,
        output: &OutputSelector,
    ) -> Result<Self, ModelError> {
        if bytes.len() > MAX_MODEL_BYTES {
            return Err(ModelError::TooLarge(bytes.len()));
        }
        let actual = sha256_hex(bytes);
        if actual != sha256 {
            return Err(ModelError::Digest {
                expected: sha256.to_owned(),
                actual,
            });
        }
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| ModelError::Parse(format!("{e:#}")))?;
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| ModelError::Parse("the model has no graph".into()))?;
        let initialisers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !initialisers.contains(&i.name.as_str()))
            .collect();
        let [input] = inputs[..] else {
            return Err(ModelError::Input(format!(
                "the model has {} inputs, a Model strategy feeds exactly one (the feature row)",
                inputs.len()
            )));
        };
        let t = tensor_type(input)
            .ok_or_else(|| ModelError::Input(format!("input {:?} is not a tensor", input.name)))?;
        if t.elem_type != 1 {
            return Err(ModelError::Input(format!(
                "input {:?} is {}, features are fed as float (f32)",
                input.name,
                elem_name(t.elem_type)
            )));
        }
        let shape = dims(t);
        match shape[..] {
            [_, Some(n)] if n == features as i64 => {}
            [_, None] => {}
            [_, Some(n)] => {
                return Err(ModelError::Input(format!(
                    "the model's input {:?} takes {n} features, the Strategy declares {features}",
                    input.name
                )));
            }
            _ => {
                return Err(ModelError::Input(format!(
                    "input {:?} has shape {}, expected [batch, {features}]",
                    input.name,
                    show(&shape)
                )));
            }
        }
        // The decision output: by name, else the last float output.
        let outputs = &graph.output;
        let index = match &output.name {
            Some(name) => outputs
                .iter()
                .position(|o| &o.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                    ModelError::Output(format!(
                        "the model has no output {name:?} (it has {names:?})"
                    ))
                })?,
            None => outputs
                .iter()
                .rposition(|o| tensor_type(o).is_some_and(|t| t.elem_type == 1))
                .ok_or_else(|| ModelError::Output("the model has no float output".into()))?,
        };
        let out = &outputs[index];
        let ot = tensor_type(out).ok_or_else(|| {
            ModelError::Output(format!(
                "output {:?} is not a tensor (a classifier's ZipMap? export without it)",
                out.name
            ))
        })?;
        if ot.elem_type != 1 {
            return Err(ModelError::Output(format!(
                "output {:?} is {}, a decision needs float",
                out.name,
                elem_name(ot.elem_type)
            )));
        }
        // tract is not hardened against hostile graphs: a panic while it analyses one is
        // a refusal of that model, not the end of the worker.
        let model = std::panic::catch_unwind(AssertUnwindSafe(|| {
            onnx.model_for_proto_model(&proto)
                .and_then(|m| m.with_input_fact(0, f32::fact([1, features]).into()))
                .and_then(|m| m.into_optimized())
                .and_then(|m| m.into_runnable())
        }))
        .map_err(|_| ModelError::Parse("tract panicked while analysing the graph".into()))?
        .map_err(|e| ModelError::Parse(format!("{e:#}")))?;
        let loaded = Self {
            plan: model,
            sha256: actual,
            inputs: features,
            output: index,
            output_name: out.name.clone(),
            column: output.column,
            bytes: bytes.len(),
        };
        // One run on zeros checks the output's shape and the column now, not at the first
        // decision.
        loaded.predict(&vec![0.0; features])?;
        Ok(loaded)
    }

    /// The artifact's SHA-256 (lowercase hex).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Number of input features.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Name of the decision output.
    pub fn output_name(&self) -> &str {
        &self.output_name
    }

    /// A session for repeated decisions: tract's run state and the input tensor are
    /// made once here and reused by every [`OnnxSession::predict`].
    pub fn session(&self) -> Result<OnnxSession, ModelError> {
        let state =
            TypedSimpleState::new(&self.plan).map_err(|e| ModelError::Run(format!("{e:#}")))?;
        let input = Tensor::zero::<f32>(&[1, self.inputs])
            .map_err(|e| ModelError::Run(format!("{e:#}")))?;
        Ok(OnnxSession {
            model: self.clone(),
            state,
            input: Some(Arc::new(input)),
        })
    }

    /// The decision value for one feature row (cast to `f32`, ONNX `float`), in a
    /// session of its own: for one-off checks; a strategy keeps an [`OnnxSession`].
    pub fn predict(&self, row: &[f64]) -> Result<f32, ModelError> {
        self.session()?.predict(row)
    }

    fn check_row(&self, row: &[f64]) -> Result<(), ModelError> {
        if row.len() != self.inputs {
            return Err(ModelError::Input(format!(
                "{} values given, the model takes {}",
                row.len(),
                self.inputs
            )));
        }
        Ok(())
    }

    /// The selected value of one run's outputs.
    fn select(&self, outputs: &TVec<TValue>) -> Result<f32, ModelError> {
        let out = outputs.get(self.output).ok_or_else(|| {
            ModelError::Output(format!("output {:?} was not produced", self.output_name))
        })?;
        let shape = out.shape();
        let view = out
            .to_plain_array_view::<f32>()
            .map_err(|e| ModelError::Output(format!("{:?}: {e:#}", self.output_name)))?;
        let width = match shape {
            [] | [1] => 1,
            [1, k] => *k,
            _ => {
                return Err(ModelError::Output(format!(
                    "output {:?} has shape {shape:?} for one row; expected [1] or [1, k]",
                    self.output_name
                )));
            }
        };
        if self.column >= width {
            return Err(ModelError::Output(format!(
                "column {} of output {:?} asked for, it has {width}",
                self.column, self.output_name
            )));
        }
        Ok(view
            .iter()
            .copied()
            .nth(self.column)
            .expect("column < width"))
    }
}

/// One strategy's inference state: the optimised plan shared with every other session
/// of the model, tract's run state and the `[1, features]` input tensor, both reused
/// from decision to decision (a decision allocates only the outputs tract returns).
/// Runs on the calling thread.
pub struct OnnxSession {
    model: OnnxModel,
    state: TypedSimpleState,
    /// The input buffer; `None` only while a run holds it.
    input: Option<Arc<Tensor>>,
}

impl fmt::Debug for OnnxSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxSession")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OnnxSession {
    /// The model this session runs.
    pub fn model(&self) -> &OnnxModel {
        &self.model
    }

    /// The decision value for one feature row (cast to `f32`, ONNX `float`).
    pub fn predict(&mut self, row: &[f64]) -> Result<f32, ModelError> {
        self.model.check_row(row)?;
        let mut input = self.input.take().unwrap_or_else(|| {
            Arc::new(Tensor::zero::<f32>(&[1, row.len()]).expect("a [1, n] f32 tensor"))
        });
        // tract drops its references when a run ends, so the buffer is ours again and is
        // overwritten in place; should an op ever keep it, a fresh one is made.
        if Arc::get_mut(&mut input).is_none() {
            input = Arc::new(Tensor::zero::<f32>(&[1, row.len()]).expect("a [1, n] f32 tensor"));
        }
        {
            let tensor = Arc::get_mut(&mut input).expect("unique: just checked or made");
            let mut view = tensor
                .to_plain_array_view_mut::<f32>()
                .map_err(|e| ModelError::Run(format!("{e:#}")))?;
            for (slot, v) in view.iter_mut().zip(row) {
                *slot = *v as f32;
            }
        }
        let model = &self.model;
        let state = &mut self.state;
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
            state.run(tvec!(input.clone().into_tvalue()))
        }));
        self.input = Some(input);
        let outputs = match run {
            Ok(Ok(outputs)) => outputs,
            Ok(Err(e)) => {
                // A failed run leaves its values in the state: clear them (and with them
                // the references to the input).
                let _ = self.state.reset_turn();
                return Err(ModelError::Run(format!("{e:#}")));
            }
            Err(_) => {
                // A panic may leave the state mid-turn: start the next decision afresh.
                if let Ok(fresh) = TypedSimpleState::new(&model.plan) {
                    self.state = fresh;
                }
                return Err(ModelError::Run("tract panicked".into()));
            }
        };
        self.model.select(&outputs)
    }
}
