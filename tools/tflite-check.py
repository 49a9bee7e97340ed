#!/usr/bin/env python3
"""tflite-check.py — Arm NN's TFLite parser (Debian's python3-pyarmnn) as fourbit's referee.

    python3 tools/tflite-check.py MODEL.tflite INPUTS.f32 N OUTPUTS.f32

Reads N float32 inputs in fourbit's layout (per image C×H×W for an NHWC model, as
`fourbit logits --inputs` writes them), runs the model on Arm NN's reference backend, and
writes the N outputs (float32, row-major) to OUTPUTS.f32.
"""
import sys

import numpy as np
import pyarmnn as ann


def main():
    model, inputs, n, outputs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(model)
    in_info = parser.GetNetworkInputBindingInfo(0, parser.GetSubgraphInputTensorNames(0)[0])
    out_info = parser.GetNetworkOutputBindingInfo(0, parser.GetSubgraphOutputTensorNames(0)[0])
    runtime = ann.IRuntime(ann.CreationOptions())
    opt, _ = ann.Optimize(net, [ann.BackendId('CpuRef')], runtime.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, _ = runtime.LoadNetwork(opt)
    shape = in_info[1].GetShape()
    dims = [shape[i] for i in range(shape.GetNumDimensions())]
    per = int(np.prod(dims[1:]))
    x = np.fromfile(inputs, dtype=np.float32)
    if x.size != n * per:
        sys.exit(f"{inputs}: {x.size} values for {n} inputs of shape {dims}")
    out = []
    for i in range(n):
        img = x[i * per:(i + 1) * per]
        if len(dims) == 4:  # fourbit's C×H×W to the model's H×W×C
            img = img.reshape(dims[3], dims[1], dims[2]).transpose(1, 2, 0)
        in_tensors = ann.make_input_tensors([in_info], [np.ascontiguousarray(img, dtype=np.float32)])
        out_tensors = ann.make_output_tensors([out_info])
        runtime.EnqueueWorkload(net_id, in_tensors, out_tensors)
        out.append(ann.workload_tensors_to_ndarray(out_tensors)[0].reshape(-1))
    np.array(out, dtype=np.float32).tofile(outputs)


if __name__ == '__main__':
    main()
