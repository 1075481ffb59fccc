/**
 * A tiny neural network, pure TypeScript: a multi-layer perceptron with deterministic weights, so the same input
 * always gives the same prediction. Stands in for "running ML models in the background".
 */
import { random } from '../random.ts';

export interface Model {
  layers: Array<{ weights: Float64Array; bias: Float64Array; inputs: number; outputs: number }>;
}

export function buildModel(sizes: number[], seed = 42): Model {
  const next = random(seed);
  const layers: Model['layers'] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const inputs = sizes[i]!;
    const outputs = sizes[i + 1]!;
    const scale = Math.sqrt(2 / inputs);
    const weights = Float64Array.from({ length: inputs * outputs }, () => (next() * 2 - 1) * scale);
    layers.push({ weights, bias: new Float64Array(outputs), inputs, outputs });
  }
  return { layers };
}

/** Forward pass: ReLU between layers, softmax at the end. */
export function forward(model: Model, input: ArrayLike<number>): number[] {
  let activations = Float64Array.from(input);
  model.layers.forEach((layer, index) => {
    const out = new Float64Array(layer.outputs);
    for (let o = 0; o < layer.outputs; o++) {
      let sum = layer.bias[o]!;
      const row = o * layer.inputs;
      for (let i = 0; i < layer.inputs; i++) sum += layer.weights[row + i]! * activations[i]!;
      out[o] = index < model.layers.length - 1 ? Math.max(0, sum) : sum;
    }
    activations = out;
  });
  const max = Math.max(...activations);
  const exps = Array.from(activations, (v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / total);
}
