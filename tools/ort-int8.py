#!/usr/bin/python3
"""ort-int8 makes the plain int8 contender of the speed benchmarks: the QDQ model ONNX Runtime's
own quantizer would write, which ORT fuses into its integer kernels (QLinearConv, QLinearAdd, ...).

    /usr/bin/python3 tools/ort-int8.py IN.onnx OUT.onnx

IN is fourbit's QDQ export with 8-bit per-tensor activations (`fourbit export --wbits 8
--abits 8 --a-per-tensor --pcba none --bias-correct off --clip none --carry-bits 8 ...`): its
activation scales are kept; its weights are re-quantized symmetrically to int8 per output
channel (zero point 0, what ORT's U8S8 kernels take), each conv's float bias becomes an int32
bias dequantized at input scale × weight scale, the clipping Max/Min before each 8-bit
QuantizeLinear is dropped (QuantizeLinear saturates to the same range), and the network input
gets a QuantizeLinear/DequantizeLinear pair over the range its preprocessing can produce. A test
tool (Debian's python3-onnx), not part of fourbit.
"""
import json
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

src, dst = sys.argv[1], sys.argv[2]
m = onnx.load(src)
g = m.graph
inits = {t.name: t for t in g.initializer}
arr = lambda name: numpy_helper.to_array(inits[name])
producer = {o: n for n in g.node for o in n.output}
consumers = {}
for n in g.node:
    for i in n.input:
        consumers.setdefault(i, []).append(n)

def add_init(name, a):
    t = numpy_helper.from_array(a, name)
    g.initializer.append(t)
    inits[name] = t
    return name

drop = set()
# 1. Max/Min clamps in front of 8-bit QuantizeLinear: QuantizeLinear saturates to the same range.
for n in g.node:
    if n.op_type != 'QuantizeLinear':
        continue
    mn = producer.get(n.input[0])
    if mn is None or mn.op_type != 'Min':
        continue
    mx = producer.get(mn.input[0])
    if mx is None or mx.op_type != 'Max':
        continue
    scale, zero = arr(n.input[1]), arr(n.input[2])
    lo, hi = arr(mx.input[1]), arr(mn.input[1])
    full_lo, full_hi = (0.0 - zero.astype(np.float64)) * scale, (255.0 - zero.astype(np.float64)) * scale
    if np.allclose(lo, full_lo, rtol=1e-5, atol=1e-7) and np.allclose(hi, full_hi, rtol=1e-5, atol=1e-7):
        n.input[0] = mx.input[0]
        drop.update([mx.name, mn.name])

# 2. The network input: QuantizeLinear/DequantizeLinear over the preprocessed range.
meta = {p.key: p.value for p in m.metadata_props}
pre = json.loads(meta.get('fourbit.preprocess', '{}') or '{}')
mean = np.array(pre.get('Mean') or pre.get('mean') or [0.0], dtype=np.float64)
std = np.array(pre.get('Std') or pre.get('std') or [1.0], dtype=np.float64)
lo, hi = float(np.min(-mean / std)), float(np.max((1 - mean) / std))
lo, hi = min(lo, 0.0), max(hi, 0.0)
in_scale = (hi - lo) / 255.0
in_zero = int(round(-lo / in_scale))
inp = g.input[0].name
add_init('input.qscale', np.array(in_scale, dtype=np.float32))
add_init('input.qzero', np.array(in_zero, dtype=np.uint8))
newnodes = [helper.make_node('QuantizeLinear', [inp, 'input.qscale', 'input.qzero'], ['input.q'], name='input.q'),
            helper.make_node('DequantizeLinear', ['input.q', 'input.qscale', 'input.qzero'], ['input.dq'], name='input.dq')]
for n in g.node:
    for k, i in enumerate(n.input):
        if i == inp:
            n.input[k] = 'input.dq'

def input_scale(name):
    d = producer.get(name)
    if name == 'input.dq':
        return in_scale
    if d is None or d.op_type != 'DequantizeLinear':
        return None
    return float(arr(d.input[1]))

# 3. Conv/Gemm weights: symmetric int8 per output channel; conv biases: int32 at sx·sw.
for n in g.node:
    if n.op_type not in ('Conv', 'Gemm') or n.name in drop:
        continue
    wdq = producer.get(n.input[1])
    if wdq is None or wdq.op_type != 'DequantizeLinear':
        continue
    codes, scale, zero = arr(wdq.input[0]), arr(wdq.input[1]), arr(wdq.input[2])
    shape = (-1,) + (1,) * (codes.ndim - 1)
    w = (codes.astype(np.float64) - zero.astype(np.float64).reshape(shape)) * scale.astype(np.float64).reshape(shape)
    top = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    sw = np.where(top > 0, top / 127.0, 1.0)
    q = np.clip(np.round(w / sw.reshape(shape)), -127, 127).astype(np.int8)
    base = n.name + '.i8'
    add_init(base + '.w', q)
    add_init(base + '.ws', sw.astype(np.float32))
    add_init(base + '.wz', np.zeros(len(sw), dtype=np.int8))
    wdq.input[0], wdq.input[1], wdq.input[2] = base + '.w', base + '.ws', base + '.wz'
    sx = input_scale(n.input[0])
    if n.op_type == 'Conv' and len(n.input) > 2 and n.input[2] in inits and sx is not None:
        b = arr(n.input[2]).astype(np.float64)
        bs = (sx * sw).astype(np.float32)
        bq = np.round(b / bs.astype(np.float64)).astype(np.int32)
        add_init(base + '.b', bq)
        add_init(base + '.bs', bs)
        add_init(base + '.bz', np.zeros(len(bq), dtype=np.int32))
        newnodes.append(helper.make_node('DequantizeLinear', [base + '.b', base + '.bs', base + '.bz'], [base + '.bdq'], name=base + '.bdq', axis=0))
        n.input[2] = base + '.bdq'

nodes = newnodes + [n for n in g.node if n.name not in drop]
del g.node[:]
g.node.extend(nodes)
# Topological order: bias DequantizeLinear nodes first (they read only initializers).
used = {i for n in g.node for i in n.input}
keep = [t for t in g.initializer if t.name in used]
del g.initializer[:]
g.initializer.extend(keep)
onnx.checker.check_model(m)
onnx.save(m, dst)
print(f"wrote {dst}: {len(g.node)} nodes, input range [{lo:.3f}, {hi:.3f}]")
